"""Faults under load: while household records arrive through the alerts API and a
published policy's task workflows run, the alerts consumer, the outbox relay, the broker
(tansu in memory: it comes back empty), the Temporal worker and the Temporal dev server are
killed with SIGKILL in turn and started again. Afterwards PostgreSQL must show every
accepted record audited and its event applied exactly once (0 lost, 0 applied twice, one
group per household and period), and every task workflow still running and answering.

Run alone with `make test-faults`; `make test` runs it too (about two minutes)."""

import json
import os
import signal
import threading
import time
import urllib.request
import uuid

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg.rows import dict_row

from services.common.config import get_settings
from services.common.devstack import EmbeddedBroker, EmbeddedTemporal, free_port, venv_binary
from services.common.devstack.servers import ServerProcess

pytestmark = [pytest.mark.integration, pytest.mark.faults]

PASSWORD = "xianjie-demo"
VILLAGE = "532325100201"
HOUSEHOLDS = 40
POLICY = """姚安县就业帮扶工作要点
一、稳定就业
(一)开发公益岗位。(牵头单位:县人社局;责任单位:县人社局、县财政局)
(二)开展技能培训。(牵头单位:县人社局;责任单位:县农业农村局)
"""
# seconds after the load starts: what is killed (and started again two seconds later)
KILLS = [(4, "alerts-consumer"), (10, "relay"), (16, "broker"), (24, "worker"), (30, "temporal")]
LOAD_SECONDS = 38
SETTLE_TIMEOUT_S = 150


class App(ServerProcess):
    """One of the project's background processes (`xianjie serve NAME`), ready when its /healthz answers."""

    def __init__(self, name: str, port: int, log_path) -> None:
        super().__init__(log_path)
        self.name, self.port = name, port

    def command(self) -> list[str]:
        return [venv_binary("xianjie"), "serve", self.name]

    def problem(self) -> str | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1) as r:
                return None if r.status == 200 else f"/healthz {r.status}"
        except OSError as e:
            return str(e)


def kill9(server: ServerProcess) -> None:
    os.killpg(server.proc.pid, signal.SIGKILL)
    server.proc.wait()
    server.proc = None


@pytest.fixture
def stack(database_url, tmp_path, monkeypatch):
    broker = EmbeddedBroker(tmp_path / "broker.log", free_port())
    temporal = EmbeddedTemporal(tmp_path / "temporal.log", free_port(), db_file=tmp_path / "temporal.db")
    broker.start()
    temporal.start()
    ports = {"relay": free_port(), "alerts-consumer": free_port(), "worker": free_port()}
    env = {"KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap, "TEMPORAL_ADDRESS": temporal.address,
           "XIANJIE_TEMPORAL_TASK_QUEUE": f"faults-{uuid.uuid4().hex[:8]}",
           "XIANJIE_RELAY_METRICS_PORT": str(ports["relay"]),
           "XIANJIE_ALERTS_CONSUMER_METRICS_PORT": str(ports["alerts-consumer"]),
           "XIANJIE_WORKER_METRICS_PORT": str(ports["worker"]),
           "XIANJIE_TEMPORAL_SDK_METRICS_PORT": str(free_port())}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    get_settings.cache_clear()
    apps = {name: App(name, port, tmp_path / f"{name}.log") for name, port in ports.items()}
    servers = {"broker": broker, "temporal": temporal, **apps}
    try:
        for app in apps.values():
            app.start(90)
        yield servers
    finally:
        for server in servers.values():
            server.stop()


def login(client, username: str) -> dict:
    r = client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


class Load(threading.Thread):
    """Monthly records for HOUSEHOLDS households, round robin, until stopped; counts what was accepted."""

    def __init__(self, client, headers, household_ids: list[int]) -> None:
        super().__init__(daemon=True)
        self.client, self.headers, self.ids = client, headers, household_ids
        self.accepted, self.refused, self.stop = 0, [], threading.Event()

    def run(self) -> None:
        n = 0
        while not self.stop.is_set():
            household, month = self.ids[n % len(self.ids)], 1 + (n // len(self.ids)) % 12
            year = 2023 + n // (12 * len(self.ids))  # years the rule files cover
            record = {"period": f"{year}-{month:02d}", "per_capita_income": 4000 + 500 * (n % 7),
                      "medical_expense": 9000 if n % 5 == 0 else 100, "labourers": 2, "employed": n % 2,
                      "housing_ok": True, "drinking_water_ok": n % 3 != 0}
            r = self.client.post(f"/api/households/{household}/records", headers=self.headers, json=record)
            if r.status_code == 200:
                self.accepted += 1
            else:
                self.refused.append((r.status_code, r.text[:200]))
            n += 1
            time.sleep(0.05)


def settled(dsn: str) -> dict:
    with psycopg.connect(dsn, row_factory=dict_row) as conn:
        return conn.execute(
            """SELECT (SELECT count(*) FROM alerts.outbox WHERE topic = 'household.events') AS events,
                      (SELECT count(*) FROM alerts.outbox WHERE published_at IS NULL) AS unpublished,
                      (SELECT count(*) FROM alerts.processed_events p JOIN alerts.outbox o USING (event_id)
                       WHERE p.consumer = 'alerts') AS applied,
                      (SELECT count(*) FROM tasks.outbox WHERE published_at IS NULL) AS tasks_unpublished""").fetchone()


def test_nothing_lost_nothing_twice_nothing_stuck(stack, database_url):
    from services.alerts.api import app as alerts_app
    from services.tasks.api import app as tasks_app

    with TestClient(tasks_app) as tasks, TestClient(alerts_app) as alerts:
        office, entry = login(tasks, "yaoan_office"), login(tasks, "dongchuan_entry")
        draft = tasks.post("/api/policies", headers=office,
                           files={"file": ("p.txt", POLICY.encode(), "text/plain")}).json()
        assert tasks.post(f"/api/policies/{draft['id']}/publish", headers=office).status_code == 201
        ids = []
        for i in range(HOUSEHOLDS):
            h = alerts.post("/api/households", headers=entry, json={
                "household_no": f"53232510020190{i:02d}", "village_code": VILLAGE, "head_name": f"户主{i}",
                "category": "脱贫户" if i % 2 else "边缘易致贫户", "members": 3, "labourers": 2})
            assert h.status_code in (200, 201), h.text
            ids.append(h.json()["id"])

        load = Load(alerts, entry, ids)
        started = time.monotonic()
        load.start()
        kills = []
        for at, name in KILLS:
            time.sleep(max(0.0, at - (time.monotonic() - started)))
            server = stack[name]
            kill9(server)
            time.sleep(2)
            server.start(90)
            kills.append({"killed": name, "at_s": round(time.monotonic() - started, 1)})
            print(f"\n{time.strftime('%H:%M:%S')} killed and restarted {name}", flush=True)
        time.sleep(max(0.0, LOAD_SECONDS - (time.monotonic() - started)))
        load.stop.set()
        load.join(30)

    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while (state := settled(database_url))["applied"] < state["events"] or state["unpublished"]:
        assert time.monotonic() < deadline, f"not settled after {SETTLE_TIMEOUT_S} s: {state}"
        time.sleep(1)

    with psycopg.connect(database_url, row_factory=dict_row) as conn:
        audited = conn.execute("SELECT count(*) AS n FROM common.audit_log WHERE action = 'household.record.save'"
                               ).fetchone()["n"]
        twice = conn.execute(
            """SELECT count(*) AS n FROM alerts.alerts a JOIN alerts.alert_groups g ON g.id = a.group_id
               WHERE g.household_id IS NOT NULL AND a.times_seen > (
                   SELECT count(*) FROM alerts.outbox o WHERE o.topic = 'household.events'
                   AND o.envelope->'payload'->>'household_no' = a.subject_key
                   AND o.envelope->'payload'->'record'->>'period' = a.period)""").fetchone()["n"]
        groups_twice = conn.execute("SELECT count(*) AS n FROM (SELECT 1 FROM alerts.alert_groups "
                                    "GROUP BY subject_key, period HAVING count(*) > 1) x").fetchone()["n"]
        raised = conn.execute("SELECT count(*) AS n FROM alerts.alert_groups WHERE household_id IS NOT NULL"
                              ).fetchone()["n"]
        task_ids = [r["id"] for r in conn.execute("SELECT id FROM tasks.tasks")]

    stuck = asyncio_run_stuck(stack["temporal"].address, task_ids)
    figures = {"accepted": load.accepted, "refused": len(load.refused), "events": state["events"],
               "lost": state["events"] - state["applied"], "applied_twice": twice, "duplicated_groups": groups_twice,
               "alert_groups": raised, "audited": audited, "workflows": len(task_ids), "stuck": stuck, "kills": kills}
    print("\nfaults:", json.dumps(figures, ensure_ascii=False))
    assert load.accepted > 100 and not load.refused, load.refused[:3]
    assert audited == load.accepted, "every accepted record audited"
    assert state["events"] >= load.accepted
    assert figures["lost"] == 0 and twice == 0 and groups_twice == 0
    assert raised > 0, "the load trips rules"
    assert task_ids and stuck == 0


def asyncio_run_stuck(address: str, task_ids: list[int]) -> int:
    """Task workflows that are not running or do not answer a query within 10 s."""
    import asyncio

    from temporalio.client import Client, WorkflowExecutionStatus

    from workflows.task_starter import task_workflow_id

    async def check() -> int:
        client = await Client.connect(address)
        stuck = 0
        for task_id in task_ids:
            handle = client.get_workflow_handle(task_workflow_id(task_id))
            try:
                described = await asyncio.wait_for(handle.describe(), 10)
                await asyncio.wait_for(handle.query("state"), 10)
            except Exception:  # noqa: BLE001 (any failure to answer is what we count)
                stuck += 1
                continue
            stuck += described.status != WorkflowExecutionStatus.RUNNING
        return stuck

    deadline = time.monotonic() + 60  # the restarted worker may need a moment to pick the queries up
    while (stuck := asyncio.run(check())) and time.monotonic() < deadline:
        time.sleep(2)
    return stuck

