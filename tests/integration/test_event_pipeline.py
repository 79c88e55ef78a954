"""Outbox → relay → broker → consumer against real PostgreSQL and tansu:
every event applied exactly once, malformed ones dead-lettered with their reason,
and events accepted before a broker restart still applied after it."""

import time
import uuid

import orjson
import psycopg
import pytest
from kafka.structs import TopicPartition

from services.common import relay
from services.common.config import get_settings
from services.common.consumer_base import BatchSizer, EventConsumer, poll_and_apply
from services.common.events import new_envelope, write_outbox
from services.common.kafka import EpochProbe, ensure_topics, make_consumer, make_producer, write_epoch

pytestmark = pytest.mark.integration

TOPIC = "tasks.events"


@pytest.fixture
def env(database_url, broker, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", broker.bootstrap)
    get_settings.cache_clear()
    ensure_topics()
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE assessment.test_applied (event_id uuid, entity_id text, type text)")
    yield database_url
    get_settings.cache_clear()


def record_applied(conn, events) -> None:
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO assessment.test_applied VALUES (%s, %s, %s)", [(e.event_id, e.entity_id, e.type) for e in events]
        )


def recording_consumer() -> EventConsumer:
    return EventConsumer(name="test", schema="assessment", handlers={"task.step.opened": record_applied})


def queue_events(dsn: str, prefix: str, n: int) -> list:
    envelopes = [
        new_envelope("task.step.opened", source="tasks", entity_id=f"{prefix}-{i}", payload={"i": i}) for i in range(n)
    ]
    with psycopg.connect(dsn) as conn:
        for env in envelopes:
            write_outbox(conn, "tasks", TOPIC, env)
    return envelopes


def applied(dsn: str, prefix: str) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT event_id, entity_id FROM assessment.test_applied WHERE entity_id LIKE %s ORDER BY entity_id",
            (prefix + "%",),
        ).fetchall()


def consume_until(dsn: str, done, group: str, timeout_s: float = 60) -> int:
    """Poll and apply until `done(duplicates_seen)` holds; returns the duplicates seen."""
    consumer = make_consumer(group, TOPIC)
    producer = make_producer()
    ec = recording_consumer()
    duplicates = 0
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            deadline = time.monotonic() + timeout_s
            while not done(duplicates):
                assert time.monotonic() < deadline, "consumer did not catch up in time"
                result = poll_and_apply(consumer, producer, conn, ec, timeout_ms=500)
                if result:
                    duplicates += result.duplicates
    finally:
        consumer.close()
        producer.close()
    return duplicates


def dead_letters(marker: bytes) -> list[dict]:
    probe = make_consumer(None)
    try:
        tps = [TopicPartition(TOPIC + ".dlq", p) for p in probe.partitions_for_topic(TOPIC + ".dlq") or ()]
        probe.assign(tps)
        probe.seek_to_beginning(*tps)
        found, deadline = [], time.monotonic() + 10
        while time.monotonic() < deadline:
            for records in probe.poll(timeout_ms=500).values():
                found += [orjson.loads(r.value) for r in records if marker in r.value]
            if len(found) >= 2:
                break
        return found
    finally:
        probe.close()


def test_outbox_to_consumer_exactly_once_with_dead_letters(env):
    prefix = uuid.uuid4().hex
    envelopes = queue_events(env, prefix, 5)
    producer = make_producer()
    with psycopg.connect(env, autocommit=True) as conn:
        assert relay.publish_batch(conn, producer, "tasks", 100) == 5
        assert relay.publish_batch(conn, producer, "tasks", 100) == 0
        unpublished = conn.execute("SELECT count(*) FROM tasks.outbox WHERE published_at IS NULL").fetchone()[0]
        assert unpublished == 0
    marker = prefix.encode()
    producer.send(TOPIC, key=b"x", value=envelopes[0].to_bytes())  # a duplicate
    producer.send(TOPIC, key=b"x", value=b"{broken json " + marker)  # malformed
    unknown = new_envelope("task.exploded", source="tasks", entity_id=f"{prefix}-unknown", payload={})
    producer.send(TOPIC, key=b"x", value=unknown.to_bytes())
    last = new_envelope("task.step.opened", source="tasks", entity_id=f"{prefix}-last", payload={})
    producer.send(TOPIC, key=b"x", value=last.to_bytes())  # after the bad ones: the consumer keeps going
    producer.flush()
    producer.close()

    consume_until(env, lambda _: len(applied(env, prefix)) >= 6, group=f"g-{prefix}")
    time.sleep(1)
    rows = applied(env, prefix)
    assert len(rows) == 6
    assert len({r[0] for r in rows}) == 6, "an event was applied twice"
    assert {r[1] for r in rows} == {f"{prefix}-{i}" for i in range(5)} | {f"{prefix}-last"}

    letters = dead_letters(marker)
    reasons = sorted(d["reason"] for d in letters)
    assert any(r.startswith("not JSON") for r in reasons), reasons
    unknown_letters = dead_letters(f"{prefix}-unknown".encode())
    assert any("unknown event type 'task.exploded'" in d["reason"] for d in unknown_letters)


def test_events_accepted_before_a_broker_restart_are_applied_after_it(env, broker):
    prefix = uuid.uuid4().hex
    queue_events(env, prefix, 4)
    producer = make_producer()
    epochs_in_broker = EpochProbe()  # one probe throughout, as the relay keeps it across a broker restart
    with psycopg.connect(env, autocommit=True) as conn:
        assert relay.requeue_lost(conn, epochs_in_broker, write_epoch) == [], "the first run only writes its epoch"
        assert relay.publish_batch(conn, producer, "tasks", 100) == 4
        assert relay.requeue_lost(conn, epochs_in_broker, write_epoch) == [], "a busy broker has lost nothing"
    producer.close()
    consume_until(env, lambda _: len(applied(env, prefix)) >= 1, group=f"g-{prefix}")  # some applied before the crash

    broker.restart()  # tansu keeps topics in memory: everything published is gone

    with psycopg.connect(env, autocommit=True) as conn:
        assert relay.requeue_lost(conn, epochs_in_broker, write_epoch) == [TOPIC]
        assert relay.requeue_lost(conn, epochs_in_broker, write_epoch) == [], "nothing to requeue twice"
        epochs_in_broker.close()
        producer = make_producer()
        assert relay.publish_batch(conn, producer, "tasks", 100) >= 4
        producer.close()
    duplicates = consume_until(env, lambda dups: dups >= 1 and len(applied(env, prefix)) >= 4, group=f"g-{prefix}")
    time.sleep(1)
    rows = applied(env, prefix)
    assert len(rows) == 4 and len({r[0] for r in rows}) == 4
    assert duplicates >= 1, "events applied before the restart must be skipped, not applied again"


def test_a_sized_poll_applies_at_most_the_sizers_batch_and_grows_it(env):
    prefix = uuid.uuid4().hex
    queue_events(env, prefix, 30)
    producer = make_producer()
    with psycopg.connect(env, autocommit=True) as conn:
        assert relay.publish_batch(conn, producer, "tasks", 100) == 30
    consumer = make_consumer(f"g-{prefix}", TOPIC)
    sizer, ec = BatchSizer(ceiling=50, interval_s=60.0, size=4), recording_consumer()
    batches = []
    try:
        with psycopg.connect(env, autocommit=True) as conn:
            deadline = time.monotonic() + 60
            while len(applied(env, prefix)) < 30:
                assert time.monotonic() < deadline, "consumer did not catch up in time"
                size = sizer.size
                result = poll_and_apply(consumer, producer, conn, ec, timeout_ms=500, sizer=sizer)
                if result:
                    held = len(result.applied) + result.duplicates + len(result.dead_letters)
                    assert held <= size
                    batches.append(held)
    finally:
        consumer.close()
        producer.close()
    assert max(batches) > 4, f"quick full batches should have grown the size: {batches}"
