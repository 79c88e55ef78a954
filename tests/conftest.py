"""Shared fixtures: one real PostgreSQL, tansu and Temporal per session, each
started only when a test asks for it (unit tests ask for none).

- `pg_server` (session): the embedded PostgreSQL on a free port, or the server
  of DATABASE_URL when that is set; `.dsn_for(name)`, `.stop()`, `.start()`.
- `database_url` (function): a fresh database copied from a template that has
  every migration applied; dropped afterwards. Sets DATABASE_URL.
- `kafka_bootstrap` (session) and `broker` (function, `.bootstrap`,
  `.restart()`): tansu with the project's topics.
- `temporal_address` (session): a Temporal dev server with the project's search
  attributes; `time_skipping_env` (function, async): the time-skipping server.
- `stack_env` (function): all of the above in the environment at once.

Function-scoped fixtures set the environment variables the settings read and
clear the settings cache; session-scoped ones only return addresses.
Async tests run on asyncio through anyio's pytest plugin (auto mode, set in pyproject.toml).
"""

from __future__ import annotations

import itertools
import os
import tempfile
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest

from services.common.config import get_settings

EXTERNAL_DSN = os.environ.get("DATABASE_URL")


def pytest_configure(config: pytest.Config) -> None:
    # Cheap password hashes: the tests log in hundreds of times (production keeps the defaults).
    os.environ.setdefault("XIANJIE_ARGON2_TIME_COST", "1")
    os.environ.setdefault("XIANJIE_ARGON2_MEMORY_KIB", "8192")


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def _fresh_settings():
    """Settings are read again in every test, after the fixtures' environment is undone."""
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def servers_dir():
    with tempfile.TemporaryDirectory(prefix="xianjie-test-") as d:
        yield Path(d)


class ExternalPostgres:
    """The server behind DATABASE_URL: databases are created in it; it cannot be stopped."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn

    def dsn_for(self, dbname: str = "postgres") -> str:
        if "://" in self.dsn:
            return urlsplit(self.dsn)._replace(path="/" + dbname).geturl()
        from psycopg.conninfo import make_conninfo

        return make_conninfo(self.dsn, dbname=dbname)

    def stop(self) -> None:
        pytest.skip("cannot stop the PostgreSQL of DATABASE_URL")

    start = restart = stop


@pytest.fixture(scope="session")
def pg_server(servers_dir):
    if EXTERNAL_DSN:
        yield ExternalPostgres(EXTERNAL_DSN)
        return
    from services.common.devstack import EmbeddedPostgres, free_port

    server = EmbeddedPostgres(servers_dir / "postgres", free_port(), durable=False)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def database_names(pg_server):
    """Builds the template once — migrated, with the demo registry and users (no policies),
    since hashing the demo passwords is the slow part — and yields a factory of fresh
    database names."""
    from services.common.db import migrate
    from services.common.devstack import create_database, drop_database
    from services.demo import load_demo

    suffix = f"_{os.getpid()}" if EXTERNAL_DSN else ""  # a shared server may run other sessions
    template = f"xianjie_template{suffix}"
    admin = pg_server.dsn_for("postgres")
    drop_database(admin, template)
    create_database(admin, template)
    migrate(pg_server.dsn_for(template))
    load_demo(pg_server.dsn_for(template), with_policies=False)
    counter = itertools.count(1)
    yield SimpleNamespace(template=template, next=lambda: f"t{suffix}_{next(counter)}")
    drop_database(admin, template)


@pytest.fixture
def database_url(pg_server, database_names, monkeypatch):
    from services.common.devstack import create_database, drop_database

    name = database_names.next()
    admin = pg_server.dsn_for("postgres")
    create_database(admin, name, template=database_names.template)
    url = pg_server.dsn_for(name)
    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()
    yield url
    drop_database(admin, name)


def _broker(log_path: Path):
    from services.common.devstack import EmbeddedBroker, free_port

    server = EmbeddedBroker(log_path, free_port())
    server.start()
    return server


@pytest.fixture(scope="session")
def kafka_bootstrap(servers_dir):
    server = _broker(servers_dir / "broker.log")
    yield server.bootstrap
    server.stop()


@pytest.fixture
def broker(tmp_path, monkeypatch):
    """A broker of this test's own, so it can `.restart()` it (tansu then forgets everything;
    the project's topics are created again before any client can auto-create them)."""
    server = _broker(tmp_path / "broker.log")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", server.bootstrap)
    get_settings.cache_clear()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def temporal_address(servers_dir):
    from services.common.devstack import EmbeddedTemporal, free_port

    server = EmbeddedTemporal(servers_dir / "temporal.log", free_port())
    server.start()
    yield server.address
    server.stop()


@pytest.fixture
async def time_skipping_env():
    from temporalio.testing import WorkflowEnvironment

    from services.common.devstack import venv_binary

    env = await WorkflowEnvironment.start_time_skipping(test_server_existing_path=venv_binary("temporal-test-server"))
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture
def stack_env(database_url, kafka_bootstrap, temporal_address, monkeypatch):
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka_bootstrap)
    monkeypatch.setenv("TEMPORAL_ADDRESS", temporal_address)
    get_settings.cache_clear()
    return SimpleNamespace(database_url=database_url, kafka_bootstrap=kafka_bootstrap, temporal_address=temporal_address)
