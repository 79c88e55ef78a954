"""The consumer's read of what is open for a batch's subjects (`open_state_of`): right for
every kind of key, and one index probe per key however large the alert tables grow."""

import psycopg
import pytest
from psycopg.rows import dict_row

from services.alerts import alert_repository as repo
from services.alerts.alert_batch import BatchPlan, StoredState

pytestmark = pytest.mark.integration

VILLAGE, TOWNSHIP, COUNTY = "532325100201", "532325100000", "532325000000"


def add_group(conn, subject_key: str, period: str, status: str, alerts: dict[str, str]) -> None:
    """A group with alerts given as rule id -> alert status."""
    group_id = conn.execute(
        """INSERT INTO alerts.alert_groups (subject_key, village_code, township_code, county_code, period,
                                            severity, status)
           VALUES (%s, %s, %s, %s, %s, 'warning', %s) RETURNING id""",
        (subject_key, VILLAGE, TOWNSHIP, COUNTY, period, status)).fetchone()["id"]
    for rule_id, alert_status in alerts.items():
        conn.execute(
            """INSERT INTO alerts.alerts (group_id, subject_key, rule_id, rule_name, cause, severity, period, status)
               VALUES (%s, %s, %s, %s, 'income', 'warning', %s, %s)""",
            (group_id, subject_key, rule_id, rule_id, period, alert_status))


@pytest.fixture
def conn(database_url):
    with psycopg.connect(database_url, row_factory=dict_row) as c:
        yield c
        c.rollback()


def test_open_rules_and_group_statuses_per_key(conn):
    add_group(conn, "H1", "2023", "open", {"income_low": "firing", "medical": "inhibited", "water": "resolved"})
    add_group(conn, "H1", "2024", "resolved", {"income_low": "resolved"})
    add_group(conn, "H2", "2023-05", "open", {"zero_employment": "silenced"})
    stored = repo.open_state_of(
        conn, [("H1", "2023"), ("H1", "2024"), ("H2", "2023-05"), ("H2", "2023"), ("H3", "2023")])
    assert stored.open_rules == {("H1", "2023"): {"income_low", "medical"}, ("H2", "2023-05"): {"zero_employment"}}
    assert stored.group_status == {("H1", "2023"): "open", ("H1", "2024"): "resolved", ("H2", "2023-05"): "open"}
    assert stored.group_ids == {(r["subject_key"], r["period"]): r["id"] for r in conn.execute(
        "SELECT id, subject_key, period FROM alerts.alert_groups")}
    alert_ids = {(r["subject_key"], r["rule_id"], r["period"]): r["id"] for r in conn.execute(
        "SELECT id, subject_key, rule_id, period FROM alerts.alerts WHERE status <> 'resolved'")}
    assert stored.alert_ids == alert_ids and len(alert_ids) == 3
    assert repo.open_state_of(conn, []) == StoredState()


def test_a_large_batch_probes_the_indexes_instead_of_scanning_the_tables(conn):
    """As a plain join, a batch of a few thousand keys against tables of a few thousand rows was
    planned as a hash of the whole tables: the consumer then slowed as alerts accumulated."""
    conn.execute(
        """WITH g AS (
               INSERT INTO alerts.alert_groups (subject_key, village_code, township_code, county_code, period,
                                                severity)
               SELECT 'H' || i, %s, %s, %s, '2023', 'warning' FROM generate_series(1, 5000) i RETURNING id, subject_key)
           INSERT INTO alerts.alerts (group_id, subject_key, rule_id, rule_name, cause, severity, period, status)
           SELECT id, subject_key, 'income_low', '收入低', 'income', 'warning', '2023', 'firing' FROM g""",
        (VILLAGE, TOWNSHIP, COUNTY))
    conn.execute("ANALYZE alerts.alert_groups")
    conn.execute("ANALYZE alerts.alerts")
    keys = [(f"H{i}", "2023") for i in range(1, 4001, 2)]
    document = repo.rows_document([{"subject_key": s, "period": p} for s, p in keys])
    plan = "\n".join(r["QUERY PLAN"] for r in conn.execute("EXPLAIN " + repo.OPEN_STATE_SQL, (document,)))
    assert "Seq Scan" not in plan and "Hash" not in plan, plan
    assert "alert_groups_subject_key_period_key" in plan and "alerts_group_idx" in plan, plan
    stored = repo.open_state_of(conn, keys)
    assert len(stored.group_status) == 2000 and all(r == {"income_low"} for r in stored.open_rules.values())


def test_write_plan_resolves_and_closes_exactly_the_rows_read(conn):
    """What a batch only resolves or closes is updated by the ids `open_state_of` read."""
    add_group(conn, "H1", "2023", "open", {"income_low": "firing", "medical": "firing"})
    add_group(conn, "H2", "2023", "open", {"water": "firing"})
    add_group(conn, "H3", "2023", "open", {"water": "firing"})  # not in the batch
    stored = repo.open_state_of(conn, [("H1", "2023"), ("H2", "2023")])
    plan = BatchPlan(closed_groups={("H2", "2023")},
                     resolved_alerts={("H1", "medical", "2023"), ("H2", "water", "2023")})
    repo.write_plan(conn, plan, stored)
    groups = {r["subject_key"]: r["status"] for r in conn.execute("SELECT subject_key, status FROM alerts.alert_groups")}
    alerts = {(r["subject_key"], r["rule_id"]): r["status"]
              for r in conn.execute("SELECT subject_key, rule_id, status FROM alerts.alerts")}
    assert groups == {"H1": "open", "H2": "resolved", "H3": "open"}
    assert alerts == {("H1", "income_low"): "firing", ("H1", "medical"): "resolved", ("H2", "water"): "resolved",
                      ("H3", "water"): "firing"}
