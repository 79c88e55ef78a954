"""Readiness checks for PostgreSQL, Temporal, the broker and HTTP endpoints.

Each check answers `None` when the part is usable, otherwise a short reason,
so the same functions drive start-up waits (`wait_for_stack`), the dev stack's
readiness watch and test fixtures. A check is more than an open port: it runs
`SELECT 1` (and looks for pending migrations), describes the Temporal
namespace, or reads the broker's metadata.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta

import psycopg

from services.common.config import get_settings

log = logging.getLogger(__name__)

Check = Callable[[], "str | None"]


def split_address(address: str) -> tuple[str, int]:
    """`host:port` (the first of a comma-separated bootstrap list) as a pair."""
    host, _, port = address.split(",")[0].strip().rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port)


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]


def postgres_problem(dsn: str, *, migrations: bool = False) -> str | None:
    """Why `dsn` cannot serve queries yet (with `migrations`: also while any migration is pending)."""
    from services.common.db import pending_migrations

    try:
        with psycopg.connect(dsn, connect_timeout=3, autocommit=True) as conn:
            conn.execute("SELECT 1")
            pending = pending_migrations(conn) if migrations else []
    except psycopg.Error as e:
        return _first_line(e)
    if pending:
        return f"{len(pending)} migration(s) pending, first {pending[0]}"
    return None


async def _describe_namespace(address: str, namespace: str) -> None:
    from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
    from temporalio.client import Client

    client = await asyncio.wait_for(Client.connect(address, namespace=namespace), 5)
    request = DescribeNamespaceRequest(namespace=namespace)
    await client.workflow_service.describe_namespace(request, timeout=timedelta(seconds=5))


def temporal_problem(address: str, namespace: str = "default") -> str | None:
    """Why Temporal at `address` cannot take work for `namespace` yet.

    Runs its coroutine on a private thread, so it works whether or not the caller
    already has an event loop running.
    """
    host, port = split_address(address)
    if not port_open(host, port):
        return f"nothing listening on {address}"
    try:
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, _describe_namespace(address, namespace)).result()
    except Exception as e:  # the SDK raises RPCError, TimeoutError or RuntimeError
        return _first_line(e)
    return None


@contextmanager
def _kafka_admin(bootstrap: str) -> Iterator:
    """An admin client whose INFO chatter (a dozen lines per connection) stays out of the caller's log."""
    from kafka import KafkaAdminClient

    logger = logging.getLogger("kafka")
    level = logger.level
    if logger.getEffectiveLevel() < logging.WARNING:
        logger.setLevel(logging.WARNING)
    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000, client_id="xianjie-devstack")
        try:
            yield admin
        finally:
            admin.close()
    finally:
        logger.setLevel(level)


def broker_problem(bootstrap: str, topics: Iterable[str] = ()) -> str | None:
    """Why the broker cannot be used yet: unreachable, or some of `topics` missing from its metadata."""
    host, port = split_address(bootstrap)
    if not port_open(host, port):
        return f"nothing listening on {bootstrap}"
    try:
        with _kafka_admin(bootstrap) as admin:
            existing = set(admin.list_topics())
    except Exception as e:  # kafka-python raises KafkaError subclasses and OSError
        return _first_line(e)
    missing = sorted(set(topics) - existing)
    return f"topics missing: {', '.join(missing)}" if missing else None


def create_topics(bootstrap: str, topics: dict[str, int] | None = None) -> list[str]:
    """Create the missing topics (default: every topic of `services.common.events`); returns those created.

    tansu creates a topic with 4 partitions whenever any client asks for its
    metadata, and it cannot add partitions later, so call this right after the
    broker starts, before any client; a wrong count is logged, not fixed.
    """
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    from services.common.events import all_topics

    wanted = topics if topics is not None else all_topics()
    with _kafka_admin(bootstrap) as admin:
        existing = set(admin.list_topics())
        missing = [NewTopic(name, n, 1) for name, n in wanted.items() if name not in existing]
        if missing:
            try:
                admin.create_topics(missing)
            except TopicAlreadyExistsError:
                log.info("a client created some topics before us")
        for meta in admin.describe_topics(list(wanted)):
            if len(meta["partitions"]) != wanted[meta["name"]]:
                log.warning(
                    "topic %s has %d partitions, not %d (auto-created by a client?)",
                    meta["name"], len(meta["partitions"]), wanted[meta["name"]],
                )
    return [t.name for t in missing]


def http_problem(url: str) -> str | None:
    """Why GET `url` does not answer 200."""
    import httpx

    try:
        status = httpx.get(url, timeout=3).status_code
    except httpx.HTTPError as e:
        return _first_line(e)
    return None if status == 200 else f"HTTP {status}"


def wait_for(checks: dict[str, Check], timeout: float = 120.0, interval: float = 0.25) -> None:
    """Poll every check until each has passed once; TimeoutError names those still failing."""
    waiting = dict(checks)
    reasons: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    next_report = time.monotonic() + 5
    while waiting:
        for name, check in list(waiting.items()):
            reason = check()
            if reason is None:
                del waiting[name]
                reasons.pop(name, None)
            else:
                reasons[name] = reason
        if not waiting:
            return
        now = time.monotonic()
        if now >= deadline:
            raise TimeoutError("not ready after %.0f s: %s" % (timeout, "; ".join(f"{n}: {r}" for n, r in reasons.items())))
        if now >= next_report:
            log.info("waiting for %s", "; ".join(f"{n}: {r}" for n, r in reasons.items()))
            next_report = now + 5
        time.sleep(interval)


def wait_for_stack(
    need_db: bool = True, need_broker: bool = True, need_temporal: bool = True, timeout: float = 120.0
) -> None:
    """Block until the parts a process needs are usable (the serve commands call this first).

    The database counts as ready once every migration is applied, the broker once
    every topic exists, Temporal once the namespace answers. Addresses come from
    the settings.
    """
    from services.common.events import all_topics

    s = get_settings()
    checks: dict[str, Check] = {}
    if need_db:
        checks["database"] = lambda: postgres_problem(s.dsn, migrations=True)
    if need_broker:
        checks["broker"] = lambda: broker_problem(s.kafka_bootstrap, all_topics())
    if need_temporal:
        checks["temporal"] = lambda: temporal_problem(s.temporal_address, s.temporal_namespace)
    wait_for(checks, timeout)
