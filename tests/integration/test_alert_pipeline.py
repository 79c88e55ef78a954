"""The early-warning pipeline end to end through tansu: a record entered through the
API becomes a household event, the consumer evaluates the rules and writes one
alert group with its alerts, routed to the township and the department, exactly
once — a repeated event and a re-entered record change nothing; silences apply."""

import time
from collections import Counter

import psycopg
import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from psycopg.rows import dict_row

from services.alerts.consumer import build_consumer
from services.common import relay
from services.common.config import get_settings
from services.common.consumer_base import poll_and_apply
from services.common.kafka import ensure_topics, make_consumer, make_producer

pytestmark = pytest.mark.integration

PASSWORD = "xianjie-demo"
VILLAGE = "532325100201"
HOUSEHOLD = {"household_no": "5323251002010009", "village_code": VILLAGE, "head_name": "王五", "category": "脱贫户",
             "members": 3, "labourers": 2}


@pytest.fixture
def clients(database_url, broker):
    get_settings.cache_clear()
    ensure_topics()
    from services.alerts.api import app as alerts_app
    from services.tasks.api import app as tasks_app

    with TestClient(tasks_app) as t, TestClient(alerts_app) as a:
        yield t, a


def login(tasks, username):
    r = tasks.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def pump(dsn, until, timeout=120):
    """Relay the outbox, consume household events, until `until(conn)` holds."""
    producer = make_producer()
    consumer = make_consumer("xianjie-alerts-test", "household.events")
    ec = build_consumer()
    deadline = time.monotonic() + timeout
    try:
        with psycopg.connect(dsn, autocommit=True) as relay_conn, \
                psycopg.connect(dsn, autocommit=True, row_factory=dict_row) as conn:
            while True:
                relay.publish_batch(relay_conn, producer, "alerts", 500)
                poll_and_apply(consumer, producer, conn, ec, timeout_ms=500)
                if until(conn):
                    return
                assert time.monotonic() < deadline, "the pipeline did not get there in time"
    finally:
        consumer.close()
        producer.close()


def evaluations() -> Counter:
    """xianjie_rule_evaluations_total as (rule, outcome) -> count, from this process's registry."""
    return Counter({(s.labels["rule"], s.labels["outcome"]): s.value for m in REGISTRY.collect()
                    if m.name == "xianjie_rule_evaluations" for s in m.samples if s.name.endswith("_total")})


def groups(conn):
    return conn.execute("SELECT * FROM alerts.alert_groups ORDER BY id").fetchall()


def test_a_risky_record_raises_one_routed_group(clients, database_url):
    tasks, alerts = clients
    entry = login(tasks, "dongchuan_entry")
    h = alerts.post("/api/households", headers=entry, json=HOUSEHOLD).json()
    record = {"period": "2023", "per_capita_income": 6000, "medical_expense": 9000, "labourers": 2, "employed": 0,
              "housing_ok": True, "drinking_water_ok": False}
    assert alerts.post(f"/api/households/{h['id']}/records", headers=entry, json=record).status_code == 200
    before = evaluations()
    pump(database_url, lambda conn: groups(conn))
    counted = evaluations() - before
    with psycopg.connect(database_url, row_factory=dict_row) as conn:
        [group] = groups(conn)
        rules = {a["rule_id"]: a for a in conn.execute("SELECT * FROM alerts.alerts WHERE group_id = %s", (group["id"],))}
        units = {u["id"]: u["name"] for u in conn.execute(
            "SELECT id, name FROM common.units WHERE id = ANY(%s)", (group["routed_unit_ids"],))}
        raised = conn.execute("SELECT envelope FROM alerts.outbox WHERE envelope->>'type' = 'alert.raised'").fetchall()
    assert group["subject_key"] == HOUSEHOLD["household_no"] and group["severity"] == "critical"
    causes = {a["cause"] for a in rules.values()}
    assert {"income", "medical", "water", "employment"} <= causes, rules.keys()
    assert "栋川镇人民政府" in units.values()
    assert any("医疗保障局" in n for n in units.values()) and any("水务局" in n for n in units.values())
    assert len(raised) == 1
    assert counted[("zero_employment", "raised")] == 1 and counted[("drinking_water_unsafe", "raised")] == 1
    assert sum(n for (_, outcome), n in counted.items() if outcome == "clear") > 0

    # the same record again: no new event, nothing repeated; the page shows the alerts
    alerts.post(f"/api/households/{h['id']}/records", headers=entry, json=record)
    page = alerts.get(f"/api/households/{h['id']}/alerts", headers=entry).json()
    assert {a["rule_id"] for a in page} == set(rules)
    mine = alerts.get("/api/alerts", headers=login(tasks, "dongchuan"), params={"mine": True}).json()
    assert mine["total"] == 1 and mine["items"][0]["subject_key"] == HOUSEHOLD["household_no"]
    assert alerts.get("/api/alerts", headers=login(tasks, "qingyang_office")).json()["total"] == 0
    office = login(tasks, "yaoan_office")
    by_township = {code: alerts.get("/api/alerts", headers=office, params={"region": code}).json()["total"]
                   for code in ("532325100000", "532325101000")}  # 栋川镇; 光禄镇, whose code also starts 5323251
    assert by_township == {"532325100000": 1, "532325101000": 0}

    # income recovers: the income alerts resolve, the group keeps the others
    better = {**record, "per_capita_income": 30000}
    alerts.post(f"/api/households/{h['id']}/records", headers=entry, json=better)
    pump(database_url, lambda conn: conn.execute(
        "SELECT count(*) AS n FROM alerts.alerts WHERE cause = 'income' AND status = 'resolved'").fetchone()["n"] > 0)
    with psycopg.connect(database_url, row_factory=dict_row) as conn:
        assert len(groups(conn)) == 1, "one group per household and period"
        times = conn.execute("SELECT max(times_seen) AS n FROM alerts.alerts").fetchone()["n"]
    assert times == 2, "an alert seen again is updated, not repeated"


def test_a_silence_keeps_a_rule_quiet(clients, database_url):
    tasks, alerts = clients
    office = login(tasks, "yaoan_office")
    r = alerts.post("/api/silences", headers=office, json={"region_code": "532325000000", "rule_id": "zero_employment",
                                                            "reason": "农忙季节,已核实", "days": 30})
    assert r.status_code == 201, r.text
    assert alerts.post("/api/silences", headers=office, json={"region_code": "532325000000", "reason": "x"}).status_code == 422
    assert alerts.post("/api/silences", headers=login(tasks, "dongchuan_entry"), json={
        "region_code": "532325000000", "rule_id": "x", "reason": "不行"}).status_code == 403
    entry = login(tasks, "dongchuan_entry")
    h = alerts.post("/api/households", headers=entry, json=HOUSEHOLD).json()
    alerts.post(f"/api/households/{h['id']}/records", headers=entry,
                json={"period": "2023", "per_capita_income": 30000, "labourers": 2, "employed": 0})
    pump(database_url, lambda conn: conn.execute("SELECT count(*) AS n FROM alerts.alerts").fetchone()["n"] > 0)
    with psycopg.connect(database_url, row_factory=dict_row) as conn:
        statuses = {a["rule_id"]: a["status"] for a in conn.execute("SELECT rule_id, status FROM alerts.alerts")}
        raised = conn.execute("SELECT count(*) AS n FROM alerts.outbox WHERE envelope->>'type' = 'alert.raised'").fetchone()
    assert statuses.get("zero_employment") == "silenced", statuses
    assert raised["n"] == 0, "nothing fires, so no alert.raised"


def test_the_office_edits_a_rule_set_and_the_consumer_uses_it(clients, database_url):
    tasks, alerts = clients
    office = login(tasks, "yaoan_office")
    new_file = {
        "region": "532325000000", "name": "姚安县", "year": 2023, "extends": "530000000000",
        "source": "姚安县2023年公布的2022年全县平均收入 (test)",
        "rules": [{"id": "income_below_county_average", "name": "人均纯收入低于全县平均水平",
                   "condition": {"kind": "income_below", "amounts": {"脱贫户": 20000, "监测对象": 12000}},
                   "severity": "warning", "cause": "income", "route_to": ["rural_revitalization"],
                   "source": "test clause"}],
    }
    bad = {**new_file, "rules": [{**new_file["rules"][0], "condition": {"kind": "income_under", "amount": 1}}]}
    r = alerts.put("/api/rules/532325000000/2023", headers=office, json=bad)
    assert r.status_code == 422 and any("income_under" in e for e in r.json()["detail"]["errors"])
    assert alerts.put("/api/rules/532325000000/2023", headers=login(tasks, "dongchuan_entry"), json=new_file).status_code == 403
    r = alerts.put("/api/rules/532325000000/2023", headers=office, json=new_file)
    assert r.status_code == 200, r.text
    shown = alerts.get("/api/rules", headers=office, params={"region": VILLAGE, "year": 2023}).json()
    rule = next(x for x in shown["rules"] if x["id"] == "income_below_county_average")
    assert rule["condition"]["amounts"]["脱贫户"] == 20000

    entry = login(tasks, "dongchuan_entry")
    h = alerts.post("/api/households", headers=entry, json=HOUSEHOLD).json()
    alerts.post(f"/api/households/{h['id']}/records", headers=entry,
                json={"period": "2023", "per_capita_income": 15000, "labourers": 2, "employed": 2})
    pump(database_url, lambda conn: conn.execute("SELECT count(*) AS n FROM alerts.alerts").fetchone()["n"] > 0)
    with psycopg.connect(database_url, row_factory=dict_row) as conn:
        fired = {a["rule_id"]: a["rule_set"] for a in conn.execute("SELECT rule_id, rule_set FROM alerts.alerts")}
    assert "income_below_county_average" in fired, "15000 is below the edited average of 20000"
    assert fired["income_below_county_average"].startswith("532325000000/2023.yaml")


def test_duplicated_and_malformed_household_events(clients, database_url):
    tasks, alerts = clients
    entry = login(tasks, "dongchuan_entry")
    h = alerts.post("/api/households", headers=entry, json=HOUSEHOLD).json()
    alerts.post(f"/api/households/{h['id']}/records", headers=entry,
                json={"period": "2023", "per_capita_income": 5000, "labourers": 2, "employed": 1})
    pump(database_url, lambda conn: groups(conn))
    with psycopg.connect(database_url, row_factory=dict_row) as conn:
        envelope = conn.execute("SELECT envelope FROM alerts.outbox WHERE envelope->>'type' = 'household.record.saved'"
                                ).fetchone()["envelope"]
        seen_before = conn.execute("SELECT max(times_seen) AS n FROM alerts.alerts").fetchone()["n"]
    import orjson

    producer = make_producer()
    producer.send("household.events", key=b"x", value=orjson.dumps(envelope))  # the same event again
    producer.send("household.events", key=b"x", value=b'{"type": "household.record.saved"')  # malformed
    producer.flush()
    producer.close()
    deadline = time.monotonic() + 60  # a group join on tansu waits out the rebalance timeout; slow under load
    consumer = make_consumer("xianjie-alerts-test", "household.events")
    producer = make_producer()
    with psycopg.connect(database_url, autocommit=True, row_factory=dict_row) as conn:
        dead = 0
        while time.monotonic() < deadline and not dead:
            result = poll_and_apply(consumer, producer, conn, build_consumer(), timeout_ms=500)
            dead += len(result.dead_letters) if result else 0
        seen_after = conn.execute("SELECT max(times_seen) AS n FROM alerts.alerts").fetchone()["n"]
    consumer.close()
    producer.close()
    assert dead == 1, "the malformed event went to the dead letters"
    assert seen_after == seen_before, "the repeated event changed nothing"
