"""The step actions through the tasks API, on the Temporal dev server with a real
worker and starter: published tasks get their workflows, a unit acknowledges and
reports, the office reviews, and every refusal comes back with its reason."""

import time

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg.rows import dict_row


pytestmark = pytest.mark.integration

PASSWORD = "xianjie-demo"
DOC = """姚安县就业帮扶工作要点
一、稳定就业
(一)开发公益岗位。(牵头单位:县人社局;责任单位:县人社局、县财政局)
"""


@pytest.fixture
def client(worker):
    from services.tasks.api import app

    with TestClient(app) as c:
        yield c


def login(client, username):
    r = client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def wait_for_steps(dsn, n, timeout=30) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        with psycopg.connect(dsn, row_factory=dict_row) as conn:
            steps = conn.execute("SELECT s.*, u.name AS unit_name FROM tasks.steps s JOIN common.units u ON u.id = s.unit_id "
                                 "ORDER BY s.id").fetchall()
        if len(steps) >= n:
            return steps
        assert time.monotonic() < deadline, f"only {len(steps)} steps opened"
        time.sleep(0.3)


def test_publish_starts_workflows_and_actions_go_through_updates(client, database_url):
    office = login(client, "yaoan_office")
    draft = client.post("/api/policies", headers=office, files={"file": ("d.txt", DOC.encode(), "text/plain")}).json()
    assert client.post(f"/api/policies/{draft['id']}/publish", headers=office).status_code == 201
    steps = wait_for_steps(database_url, 2)
    ack = next(s for s in steps if s["kind"] == "acknowledge" and s["unit_name"] == "县人力资源和社会保障局")
    other_ack = next(s for s in steps if s["kind"] == "acknowledge" and s["unit_name"] == "县财政局")
    monthly = next(s for s in wait_for_steps(database_url, 4) if s["kind"] == "monthly_report"
                   and s["unit_name"] == "县人力资源和社会保障局")

    staff = login(client, "yaoan_rsj")
    r = client.post(f"/api/steps/{other_ack['id']}/acknowledge", headers=staff)
    assert r.status_code == 404, "another unit's step is not even visible"
    r = client.post(f"/api/steps/{ack['id']}/acknowledge", headers={**staff, "Idempotency-Key": "ack-1"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "approved"
    again = client.post(f"/api/steps/{ack['id']}/acknowledge", headers={**staff, "Idempotency-Key": "ack-1"})
    assert again.status_code == 200 and again.json()["repeated"] is True
    stale = client.post(f"/api/steps/{monthly['id']}/submit", headers={**staff, "Idempotency-Key": "ack-1"},
                        json={"text": "x"})
    assert stale.status_code == 409 and "幂等键" in stale.json()["detail"]

    r = client.post(f"/api/steps/{monthly['id']}/submit", headers=staff, json={"text": ""})
    assert r.status_code == 409 and "报送内容" in r.json()["detail"]
    r = client.post(f"/api/steps/{monthly['id']}/submit", headers=staff, json={"text": "本月开发岗位50个", "progress": 150})
    assert r.status_code == 422, "progress over 100 is refused by the schema"
    evidence = client.post("/api/attachments", headers=staff, files={"file": ("台账.xlsx", b"PK-bytes", "application/octet-stream")})
    assert evidence.status_code == 201
    foreign = client.post("/api/attachments", headers=login(client, "yaoan_nync"), files={"file": ("x.txt", b"x", "text/plain")})
    r = client.post(f"/api/steps/{monthly['id']}/submit", headers=staff,
                    json={"text": "本月开发岗位50个", "attachments": [foreign.json()["id"]]})
    assert r.status_code == 422, "another unit's attachment cannot be named"
    r = client.post(f"/api/steps/{monthly['id']}/submit", headers=staff,
                    json={"text": "本月开发岗位50个", "progress": 40, "attachments": [evidence.json()["id"]]})
    assert r.status_code == 200 and r.json()["status"] == "submitted"
    assert client.get(f"/api/attachments/{evidence.json()['id']}", headers=office).content == b"PK-bytes"
    assert client.get(f"/api/attachments/{evidence.json()['id']}", headers=login(client, "qingyang_office")).status_code == 404

    assert client.post(f"/api/steps/{monthly['id']}/approve", headers=staff).status_code == 403
    r = client.post(f"/api/steps/{monthly['id']}/return", headers=office, json={"text": ""})
    assert r.status_code == 409 and "意见" in r.json()["detail"]
    r = client.post(f"/api/steps/{monthly['id']}/approve", headers=office)
    assert r.status_code == 200 and r.json()["status"] == "approved"

    with psycopg.connect(database_url, row_factory=dict_row) as conn:
        row = conn.execute("SELECT status, submission FROM tasks.steps WHERE id = %s", (monthly["id"],)).fetchone()
        audits = conn.execute("SELECT action FROM common.audit_log WHERE entity = 'step' ORDER BY id").fetchall()
    assert row["status"] == "approved" and row["submission"]["progress"] == 40
    assert row["submission"]["attachments"] == [str(evidence.json()["id"])]
    assert [a["action"] for a in audits] == ["step.acknowledge", "step.submit", "step.approve"]

    other = login(client, "qingyang_office")
    assert client.post(f"/api/tasks/{ack['task_id']}/sign-off", headers=other, json={"text": "完成"}).status_code == 404
    r = client.post(f"/api/tasks/{ack['task_id']}/sign-off", headers=office, json={"text": "全部完成"})
    assert r.status_code == 200 and r.json()["status"] == "closed"
    r = client.post(f"/api/steps/{other_ack['id']}/acknowledge", headers=login(client, "admin"))
    assert r.status_code == 409, "a closed task's workflow takes no more actions"
