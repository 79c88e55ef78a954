"""Task and alert events become facts through tansu, once each, whatever their order."""

import time
from datetime import datetime, timezone

import psycopg
import pytest

from services.assessment.consumer import build_consumer
from services.common.config import get_settings
from services.common.consumer_base import BatchResult, poll_and_apply
from services.common.events import new_envelope
from services.common.kafka import ensure_topics, make_consumer, make_producer

pytestmark = pytest.mark.integration


def step_event(type_, day, **extra):
    return new_envelope(type_, source="tasks", entity_id="7", key="task-1",
                        occurred_at=datetime(2023, 3, day, 4, tzinfo=timezone.utc), payload={
                            "task_id": 1, "region_code": "532325000000", "step_id": 7, "unit_id": 60,
                            "step_key": "1:60:monthly_report:2023-02", "kind": "monthly_report", "period": "2023-02",
                            "due_at": "2023-03-06T15:59:59+00:00", **extra})


def test_duplicated_and_out_of_order_events_make_each_fact_once(database_url, broker):
    get_settings.cache_clear()
    ensure_topics()
    opened = step_event("task.step.opened", 1)
    overdue = step_event("task.step.overdue", 7)
    escalated = step_event("task.step.escalated", 8, level=1, to="unit_head")
    submitted = step_event("task.step.submitted", 9, on_time=False)
    producer = make_producer()
    for env in (submitted, escalated, opened, overdue, submitted, opened):  # out of order, two repeated
        producer.send("tasks.events", key=b"task-1", value=env.to_bytes())
    producer.send("tasks.events", key=b"task-1", value=new_envelope(
        "task.published", source="tasks", entity_id="1", payload={}).to_bytes())
    producer.flush()
    consumer = make_consumer("assessment-test", "tasks.events")
    ec = build_consumer()
    deadline = time.monotonic() + 60
    with psycopg.connect(database_url, autocommit=True) as conn:
        while True:
            poll_and_apply(consumer, producer, conn, ec, timeout_ms=500)
            n = conn.execute("SELECT count(*) FROM assessment.facts").fetchone()[0]
            if n >= 4:
                break
            assert time.monotonic() < deadline
        time.sleep(1)
        poll_and_apply(consumer, producer, conn, ec, timeout_ms=500)
        facts = conn.execute("SELECT kind, period, value, unit_id, region_code FROM assessment.facts ORDER BY kind").fetchall()
    consumer.close()
    producer.close()
    assert [(k, p, float(v)) for k, p, v, _, _ in facts] == [
        ("step_due", "2023-03", 1.0), ("step_escalated", "2023-03", 1.0), ("step_late", "2023-03", 3.0),
        ("step_overdue", "2023-03", 1.0)]
    assert {(u, r) for *_, u, r in facts} == {(60, "532325000000")}


class RecordingCursor(psycopg.Cursor):
    """A real cursor that also keeps the text of what it executes, for the test to read."""

    def execute(self, query, params=None, **kwargs):
        self.connection.statements.append(str(query))
        return super().execute(query, params, **kwargs)


def processed_inserts(conn) -> list[str]:
    """How the last batch recorded its event ids: 'plain', 'on conflict' or both, in order."""
    kinds = ["on conflict" if "ON CONFLICT" in q else "plain" for q in conn.statements if "processed_events" in q]
    conn.statements.clear()
    return kinds


def test_a_batch_applies_only_the_events_not_seen_before(database_url):
    """The first batch may be a replay and goes in with ON CONFLICT; so does every batch while
    batches repeat events. A batch mixing seen and new events (and one repeated inside the
    batch) fails the plain insert and applies the new ones once through ON CONFLICT, in the
    same transaction; an all-seen batch applies nothing; once a batch is all new, the next
    goes in with the plain insert alone."""
    ec = build_consumer()
    first, second, third, fourth, fifth = (step_event("task.step.opened", d) for d in (1, 2, 3, 4, 5))
    with psycopg.connect(database_url, autocommit=True, cursor_factory=RecordingCursor) as conn:
        conn.statements = []
        with conn.transaction():
            conn.execute("DELETE FROM assessment.processed_events WHERE consumer = 'assessment'")
            conn.execute("DELETE FROM assessment.facts")
            result = BatchResult()
            processed_inserts(conn)
            assert ec._apply_new(conn, [first], result) == [first]
            assert processed_inserts(conn) == ["on conflict"]
            assert ec._apply_new(conn, [fourth], result) == [fourth]
            assert processed_inserts(conn) == ["plain"]
            assert ec._apply_new(conn, [first, second, third, second], result) == [second, third]
            assert processed_inserts(conn) == ["plain", "on conflict"]
            assert ec._apply_new(conn, [third, first], result) == []
            assert processed_inserts(conn) == ["on conflict"]
            assert ec._apply_new(conn, [fifth], result) == [fifth]
            assert processed_inserts(conn) == ["on conflict"]
            assert ec._apply_new(conn, [fifth, first], result) == []
            assert processed_inserts(conn) == ["plain", "on conflict"]
            assert result.duplicates == 2 + 2 + 2  # (first, second again), (third, first), (fifth, first)
            ids = conn.execute("SELECT event_ids FROM assessment.facts ORDER BY id").fetchall()
            assert [row[0] for row in ids] == [[e.event_id] for e in (first, fourth, second, third, fifth)]
            raise psycopg.Rollback()
