"""The assessment consumer: turns `tasks.events` and `alerts.events` into facts in
the ledger, one transaction per batch (written with COPY), idempotent on event_id
(the consumer base records every applied event)."""

from __future__ import annotations

import psycopg

from services.assessment.facts import CASE_FACTS, IGNORED_TYPES, TASK_EVENT_TYPES, facts_of
from services.common.consumer_base import EventConsumer
from services.common.events import Envelope

TOPICS = ["tasks.events", "alerts.events"]
GROUP_ID = "xianjie-assessment"


def record_facts(conn: psycopg.Connection, events: list[Envelope]) -> None:
    rows = []
    for env in events:
        region = env.payload.get("region_code") or env.regions.county or ""
        for f in facts_of(env):
            # event ids are UUIDs, so their array literal needs no quoting; it spares
            # psycopg's per-row list dumping, the dearest part of the COPY
            rows.append((f.unit_id, region, f.period, f.kind, f.value, "{" + ",".join(f.event_ids) + "}",
                         f.task_id, f.step_id, f.ref, f.source, env.occurred_at))
    if rows:
        with conn.cursor() as cur, cur.copy(
            """COPY assessment.facts (unit_id, region_code, period, kind, value, event_ids, task_id, step_id, ref, source,
                                      occurred_at) FROM STDIN""") as copy:
            for row in rows:
                copy.write_row(row)


def build_consumer() -> EventConsumer:
    handlers = {t: record_facts for t in (*TASK_EVENT_TYPES, "alert.raised", *CASE_FACTS)}
    return EventConsumer(name="assessment", schema="assessment", handlers=handlers,
                         ignored_types=frozenset(IGNORED_TYPES))
