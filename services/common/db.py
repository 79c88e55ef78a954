"""Database access: the connection pool and the migrations runner.

Each service owns one PostgreSQL schema and keeps its migrations as ordered
`.sql` files in its own `migrations/` folder. The runner applies each file in
its own transaction and records it in `common.schema_migrations`, so applying
twice changes nothing.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from services.common.config import REPO_ROOT, get_settings

log = logging.getLogger(__name__)

# Order matters: `common` holds units and users that the others refer to by id.
SCHEMAS: tuple[tuple[str, Path], ...] = (
    ("common", REPO_ROOT / "services" / "common" / "migrations"),
    ("tasks", REPO_ROOT / "services" / "tasks" / "migrations"),
    ("alerts", REPO_ROOT / "services" / "alerts" / "migrations"),
    ("assessment", REPO_ROOT / "services" / "assessment" / "migrations"),
)


@dataclass(frozen=True)
class Migration:
    schema: str
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def discover_migrations() -> list[Migration]:
    """Every migration file of every schema, in the order they must run."""
    found = []
    for schema, folder in SCHEMAS:
        for path in sorted(folder.glob("*.sql")):
            found.append(Migration(schema, path.name, path.read_text(encoding="utf-8")))
    return found


def migrate(dsn: str | None = None) -> list[str]:
    """Apply the migrations not yet recorded; returns the names applied now.

    An advisory lock keeps two processes that start together from racing.
    """
    dsn = dsn or get_settings().dsn
    applied_now: list[str] = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(7233001)")
        try:
            conn.execute("CREATE SCHEMA IF NOT EXISTS common")
            conn.execute(
                """CREATE TABLE IF NOT EXISTS common.schema_migrations (
                       schema_name text NOT NULL,
                       name text NOT NULL,
                       checksum text NOT NULL,
                       applied_at timestamptz NOT NULL DEFAULT now(),
                       PRIMARY KEY (schema_name, name))"""
            )
            done = {
                (r[0], r[1]): r[2]
                for r in conn.execute("SELECT schema_name, name, checksum FROM common.schema_migrations")
            }
            for m in discover_migrations():
                key = (m.schema, m.name)
                if key in done:
                    if done[key] != m.checksum:
                        log.warning("migration %s/%s changed after it was applied", m.schema, m.name)
                    continue
                with conn.transaction():
                    conn.execute(f"CREATE SCHEMA IF NOT EXISTS {m.schema}")
                    conn.execute(m.sql)
                    conn.execute(
                        "INSERT INTO common.schema_migrations (schema_name, name, checksum) VALUES (%s, %s, %s)",
                        (m.schema, m.name, m.checksum),
                    )
                applied_now.append(f"{m.schema}/{m.name}")
        finally:
            conn.execute("SELECT pg_advisory_unlock(7233001)")
    return applied_now


def pending_migrations(conn: psycopg.Connection) -> list[str]:
    """Names of migrations the database has not applied yet (readiness waits on this). The
    table's existence is asked first: querying a missing table is an error PostgreSQL logs,
    once per waiting process at every fresh start."""
    done: set[tuple[str, str]] = set()
    if conn.execute("SELECT to_regclass('common.schema_migrations')").fetchone()[0] is not None:
        done = {(r[0], r[1]) for r in conn.execute("SELECT schema_name, name FROM common.schema_migrations")}
    return [f"{m.schema}/{m.name}" for m in discover_migrations() if (m.schema, m.name) not in done]


def create_pool(dsn: str | None = None, *, min_size: int | None = None, max_size: int | None = None) -> ConnectionPool:
    """A pool whose connections return rows as dicts; the caller opens and closes it."""
    s = get_settings()
    return ConnectionPool(
        dsn or s.dsn,
        min_size=min_size or s.pg_pool_min,
        max_size=max_size or s.pg_pool_max,
        kwargs={"row_factory": dict_row},
        open=False,
        name="xianjie",
    )


def create_read_pool(dsn: str | None = None) -> AsyncConnectionPool:
    """The API's pool for the reads of every page view (the caller's permissions, an inbox),
    awaited on the event loop: a sync route costs a trip through the thread pool, and
    under 50 clients those trips, not the queries, set the p99. Autocommit: reads only."""
    s = get_settings()
    return AsyncConnectionPool(
        dsn or s.dsn,
        min_size=1,
        max_size=s.pg_read_pool_max,
        kwargs={"row_factory": dict_row, "autocommit": True},
        open=False,
        name="xianjie-read",
    )


@contextmanager
def reading(pool: ConnectionPool) -> Iterator[psycopg.Connection]:
    """A pooled connection for reads only, in autocommit: no BEGIN and COMMIT round trips
    (the reads of every page view go through `create_read_pool` instead); a block that
    writes takes `pool.connection()`, whose transaction commits at its end."""
    with pool.connection() as conn:
        conn.autocommit = True
        try:
            yield conn
        finally:
            if not conn.closed:
                conn.autocommit = False  # back to the pool as the others are
