"""A consumer's connection lives for days; PostgreSQL keeps the first generic plan of each
foreign-key check for its life. Written to while nearly empty, alert_groups got a sequential
scan for the check of every new alert's group, and kept it as it grew. The consumer drops
its cached plans now and then (`EventConsumer.replan`), so the checks probe the index again."""

from types import SimpleNamespace

import psycopg
import pytest
from psycopg.rows import dict_row

from services.alerts.consumer import build_consumer
from services.alerts.register import facts_payload
from services.common.events import new_envelope

pytestmark = pytest.mark.integration

VILLAGE, TOWNSHIP, COUNTY = "532325100201", "532325100000", "532325000000"


def households(conn, n: int) -> list[dict]:
    return conn.execute(
        """INSERT INTO alerts.households (household_no, county_code, township_code, village_code, head_name,
                                          category, members, labourers)
           SELECT '5323251002019' || lpad(i::text, 3, '0'), %s, %s, %s, '王五', '一般农户', 3, 2
           FROM generate_series(1, %s) i RETURNING *""", (COUNTY, TOWNSHIP, VILLAGE, n)).fetchall()


def records(rows: list[dict]) -> list[SimpleNamespace]:
    """Kafka records of one risky record each (income far below the monitoring line)."""
    out = []
    for offset, h in enumerate(rows):
        payload = facts_payload(h, {"period": "2023", "per_capita_income": 1000.0}, None)
        env = new_envelope("household.record.saved", source="alerts", entity_id=str(h["id"]), key=VILLAGE,
                           regions={"county": COUNTY, "township": TOWNSHIP, "village": VILLAGE}, payload=payload)
        out.append(SimpleNamespace(topic="household.events", partition=0, offset=offset, key=VILLAGE.encode(),
                                   value=env.to_bytes()))
    return out


def seq_scans(conn, table: str) -> int:
    conn.execute("SELECT pg_stat_force_next_flush()")
    conn.execute("SELECT pg_stat_clear_snapshot()")
    return conn.execute("SELECT seq_scan FROM pg_stat_user_tables WHERE relid = %s::regclass",
                        (table,)).fetchone()["seq_scan"]


def test_foreign_key_checks_probe_the_index_once_the_table_has_grown(database_url):
    ec = build_consumer()
    ec.replan_every_s = 0  # before every batch (every second in service)
    with psycopg.connect(database_url, autocommit=True, row_factory=dict_row) as conn:
        conn.execute("VACUUM ANALYZE alerts.alert_groups")  # empty, and known to be
        rows = households(conn, 20)
        first, second = rows[:10], rows[10:]
        result = ec.apply(conn, records(first))  # ten new groups: the checks' plans are made on a tiny table
        assert len(result.applied) == 10 and not result.dead_letters
        conn.execute(
            """INSERT INTO alerts.alert_groups (subject_key, village_code, township_code, county_code, period, severity)
               SELECT 'grown-' || i, %s, %s, %s, '2023', 'info' FROM generate_series(1, 20000) i""",
            (VILLAGE, TOWNSHIP, COUNTY))
        before = seq_scans(conn, "alerts.alert_groups")
        result = ec.apply(conn, records(second))
        assert len(result.applied) == 10 and not result.dead_letters
        new_alerts = conn.execute("SELECT count(*) AS n FROM alerts.alerts a JOIN alerts.households h "
                                  "ON h.household_no = a.subject_key WHERE h.id = ANY(%s)",
                                  ([h["id"] for h in second],)).fetchone()["n"]
        assert new_alerts >= 10
        assert seq_scans(conn, "alerts.alert_groups") - before == 0
