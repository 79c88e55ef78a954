"""Scores, explanations and bulletins through the assessment API, from facts in the ledger."""

import io
import time
import uuid

import psycopg
import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from psycopg.rows import dict_row

pytestmark = pytest.mark.integration

PASSWORD = "xianjie-demo"
REGION = "532325000000"


def add_facts(dsn):
    """县人社局 reports everything on time in March 2023; 县财政局 misses one and is escalated."""
    with psycopg.connect(dsn) as conn:
        units = dict(conn.execute("SELECT name, id FROM common.units WHERE region_code = %s AND name IN "
                                  "('县人力资源和社会保障局', '县财政局')", (REGION,)).fetchall())
        rows = []
        for step in range(5):
            rows += [(units["县人力资源和社会保障局"], "step_due", 1, step), (units["县人力资源和社会保障局"], "step_on_time", 1, step)]
        for step in range(10, 14):
            rows += [(units["县财政局"], "step_due", 1, step), (units["县财政局"], "step_on_time", 1, step)]
        rows += [(units["县财政局"], "step_due", 1, 20), (units["县财政局"], "step_overdue", 1, 20),
                 (units["县财政局"], "step_escalated", 1, 20)]
        with conn.cursor() as cur:
            cur.executemany(
                """INSERT INTO assessment.facts (unit_id, region_code, period, kind, value, event_ids, task_id, step_id,
                                                 ref, occurred_at) VALUES (%s, %s, '2023-03', %s, %s, %s, 1, %s, %s, now())""",
                [(u, REGION, kind, value, [uuid.uuid4()], step, f"任务1 · 步骤{step}") for u, kind, value, step in rows],
            )
    return units


def wait_for_notices(dsn, count, timeout=30):
    """The bulletin notifications once `count` have been written by the worker."""
    deadline = time.monotonic() + timeout
    while True:
        with psycopg.connect(dsn, row_factory=dict_row) as conn:
            rows = conn.execute("""SELECT u.name AS unit, n.title, n.body FROM tasks.notifications n
                                   JOIN common.units u ON u.id = n.unit_id WHERE n.kind = 'bulletin'""").fetchall()
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        time.sleep(0.2)


@pytest.fixture
def client(database_url, worker):
    from services.assessment.api import app

    with TestClient(app) as c:
        yield c


def login(username):
    from services.tasks.api import app

    with TestClient(app) as t:
        r = t.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_scores_rank_and_explain_sums_exactly(client, database_url):
    units = add_facts(database_url)
    office = login("yaoan_office")
    r = client.get("/api/scores", headers=office, params={"period": "2023-03"})
    assert r.status_code == 200, r.text
    ranking = r.json()
    assert [s["unit"] for s in ranking] == ["县人力资源和社会保障局", "县财政局"]
    assert ranking[0]["rank"] == 1 and ranking[0]["total"] > ranking[1]["total"]
    explained = client.get(f"/api/scores/{units['县财政局']}/2023-03/explain", headers=office).json()
    assert explained["sum_of_lines"] == explained["total"]
    assert any(line["facts"] for line in explained["lines"]), "points trace back to facts and their events"
    assert all(line["source"] for line in explained["lines"])
    again = client.get("/api/scores", headers=office, params={"period": "2023-03"}).json()
    assert again == ranking, "the same ledger scores the same"
    assert client.get("/api/scores", headers=login("yaoan_rsj"), params={"period": "2023-03"}).status_code == 403
    assert client.get("/api/scores", headers=office, params={"period": "2023-13"}).status_code == 422
    assert client.get("/api/scores", headers=login("qingyang_office"),
                      params={"period": "2023-03", "region": REGION}).status_code == 403


def test_bulletin_on_demand_html_and_xlsx(client, database_url):
    add_facts(database_url)
    office = login("yaoan_office")
    r = client.post("/api/bulletins", headers=office, json={"kind": "monthly", "period": "2023-03"})
    assert r.status_code == 201, r.text
    bulletin_id = r.json()["id"]
    listed = client.get("/api/bulletins", headers=office).json()
    assert [b["id"] for b in listed] == [bulletin_id] and "月通报(2023年3月)" in listed[0]["title"]
    html = client.get(f"/api/bulletins/{bulletin_id}/html", headers=office).text
    assert "县财政局" in html and "逾期未报" in html
    ws = load_workbook(io.BytesIO(client.get(f"/api/bulletins/{bulletin_id}/xlsx", headers=office).content)).active
    assert ws["A1"].value.startswith("姚安县") and ws.cell(row=3, column=2).value == "县人力资源和社会保障局"
    assert client.post("/api/bulletins", headers=office, json={"kind": "monthly", "period": "2023-Q1"}).status_code == 422
    notified = wait_for_notices(database_url, 2)
    assert {n["unit"] for n in notified} == {"县人力资源和社会保障局", "县财政局"}
    finance = next(n for n in notified if n["unit"] == "县财政局")
    assert "逾期未报1项" in finance["body"] and finance["title"].endswith("月通报(2023年3月)已印发")
    again = client.post("/api/bulletins", headers=office, json={"kind": "monthly", "period": "2023-03"})
    assert again.json()["id"] == bulletin_id
    assert len(wait_for_notices(database_url, 4)) == 4, "a regenerated bulletin is announced again"
    assert client.get(f"/api/bulletins/{bulletin_id}", headers=login("qingyang_office")).status_code == 404
    overview = client.get("/api/leaders/overview", headers=login("yaoan_leader"), params={"year": 2023}).json()
    assert any(flag["unit"] == "县财政局" and flag["escalated"] for flag in overview["red_flags"])
