"""The outbox relay: publishes each service's outbox rows to the broker in batches.

Rows are marked published (with partition and offset) only after the broker
acknowledged them. tansu keeps topics in memory: when it restarts, everything
published but not yet consumed is gone. The relay keeps an epoch marker both in
the broker (topic `xianjie.relay.epoch`) and in PostgreSQL; when the broker no
longer holds the marker, it has lost its data, and the relay queues the recently
published rows again. Consumers skip what they had already applied, because they
are idempotent on event_id.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timezone

import orjson
import psycopg
from kafka import KafkaProducer
from psycopg.rows import tuple_row

from services.common.events import OUTBOX_SCHEMAS
from services.common.metrics import OUTBOX_BACKLOG, OUTBOX_PUBLISH_LAG, OUTBOX_PUBLISHED, OUTBOX_REPLAYED

log = logging.getLogger(__name__)

# How far back the relay re-publishes when the broker has lost its data.
REPLAY_WINDOW = "7 days"


def publish_batch(conn: psycopg.Connection, producer: KafkaProducer, schema: str, limit: int) -> int:
    """Publish up to `limit` unpublished rows of one schema's outbox; returns how many.

    `conn` is in autocommit mode, so each batch is its own transaction.
    """
    with conn.transaction():
        rows = conn.cursor(row_factory=tuple_row).execute(
            f"""SELECT id, topic, key, envelope, created_at FROM {schema}.outbox
                WHERE published_at IS NULL ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED""",
            (limit,),
        ).fetchall()
        if not rows:
            return 0
        futures = [
            producer.send(r[1], key=r[2].encode(), value=orjson.dumps(r[3])) for r in rows
        ]
        producer.flush()
        metas = [f.get(timeout=30) for f in futures]
        conn.execute(
            f"""UPDATE {schema}.outbox AS o
                SET published_at = now(), kafka_partition = v.p, kafka_offset = v.o
                FROM unnest(%s::bigint[], %s::int[], %s::bigint[]) AS v(id, p, o)
                WHERE o.id = v.id""",
            ([r[0] for r in rows], [m.partition for m in metas], [m.offset for m in metas]),
        )
    now = datetime.now(timezone.utc)
    for r in rows:
        OUTBOX_PUBLISHED.labels(schema, r[1]).inc()
        OUTBOX_PUBLISH_LAG.labels(schema).observe(max(0.0, (now - r[4]).total_seconds()))
    return len(rows)


def requeue_lost(conn: psycopg.Connection, epochs_in_broker: Callable[[], set[str]],
                 write_epoch: Callable[[str], None]) -> list[str]:
    """Queue again the recent events of every topic when the broker lost its data;
    returns the topics queued again (none on the first run, when there is no epoch yet)."""
    cur = conn.cursor(row_factory=tuple_row)
    stored = cur.execute("SELECT epoch, written_at < now() - interval '1 hour' FROM common.relay_epoch").fetchone()
    if stored is not None and stored[0] in epochs_in_broker():
        if stored[1]:  # write it again now and then, so the broker's retention never drops it
            write_epoch(stored[0])
            conn.execute("UPDATE common.relay_epoch SET written_at = now()")
        return []
    lost: list[str] = []
    with conn.transaction():
        if stored is not None:
            for schema in OUTBOX_SCHEMAS:
                rows = cur.execute(
                    f"""UPDATE {schema}.outbox SET published_at = NULL, kafka_partition = NULL, kafka_offset = NULL
                        WHERE published_at > now() - interval '{REPLAY_WINDOW}' RETURNING topic"""
                ).fetchall()
                for (topic,) in rows:
                    OUTBOX_REPLAYED.labels(topic).inc()
                lost += [t for (t,) in rows]
        epoch = uuid.uuid4().hex
        write_epoch(epoch)
        conn.execute(
            """INSERT INTO common.relay_epoch (epoch) VALUES (%s)
               ON CONFLICT (id) DO UPDATE SET epoch = EXCLUDED.epoch, written_at = now()""",
            (epoch,),
        )
    if lost:
        log.warning("the broker lost its data: %d recent events queued again", len(lost))
    return sorted(set(lost))


def update_backlog_gauges(conn: psycopg.Connection) -> dict[str, int]:
    backlog = {}
    for schema in OUTBOX_SCHEMAS:
        cur = conn.cursor(row_factory=tuple_row)
        n = cur.execute(f"SELECT count(*) FROM {schema}.outbox WHERE published_at IS NULL").fetchone()[0]
        OUTBOX_BACKLOG.labels(schema).set(n)
        backlog[schema] = n
    return backlog


def run(
    conn: psycopg.Connection,
    producer: KafkaProducer,
    epochs_in_broker: Callable[[], set[str]],
    write_epoch: Callable[[str], None],
    *,
    batch_size: int,
    idle_sleep_s: float,
    should_stop: Callable[[], bool],
    on_cycle: Callable[[], None] = lambda: None,
    check_every_s: float = 5.0,
) -> None:
    """Publish until told to stop, checking now and then whether the broker lost data."""
    last_check = 0.0
    while not should_stop():
        if time.monotonic() - last_check >= check_every_s:
            requeue_lost(conn, epochs_in_broker, write_epoch)
            update_backlog_gauges(conn)
            last_check = time.monotonic()
        published = sum(publish_batch(conn, producer, schema, batch_size) for schema in OUTBOX_SCHEMAS)
        on_cycle()
        if not published:
            time.sleep(idle_sleep_s)
