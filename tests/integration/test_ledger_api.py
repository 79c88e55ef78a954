"""Rectification ledgers (整改台账) through the API against a real PostgreSQL and, for
the item lifecycle, the Temporal dev server with a worker and starter: create and
import, bad input that stores nothing, publishing (idempotent) into tasks with the
rectification calendar, steps opened by the task workflow, the completion report
with evidence submitted and approved, 销号; and every refusal."""

import io
import time
from datetime import datetime, timedelta

import psycopg
import pytest
from fastapi.testclient import TestClient
from openpyxl import Workbook, load_workbook
from psycopg.rows import dict_row

from services.common.config import get_settings
from services.demo import load_demo
from services.common.excel import TZ
from services.tasks.inbox_repository import list_inbox
from services.tasks.ledgers import task_sign_off_refusal

pytestmark = pytest.mark.integration

PASSWORD = "xianjie-demo"
YAOAN = "532325000000"


def build_app():
    from services.common.http import create_app
    from services.tasks import api, attachment_api, ledger_api, step_api

    return create_app(service="tasks", title="t",
                      routers=[api.router, step_api.router, attachment_api.router, ledger_api.router])


@pytest.fixture
def live(worker):
    with TestClient(build_app()) as c:
        yield c


@pytest.fixture
def client(database_url, monkeypatch):
    """The API without Temporal: creating, importing, publishing and reading need none."""
    monkeypatch.setenv("XIANJIE_DEMO_PASSWORD", PASSWORD)
    get_settings.cache_clear()
    load_demo(database_url, with_policies=False)
    with TestClient(build_app()) as c:
        yield c


def login(client, username) -> dict:
    r = client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def count(dsn, sql, *params) -> int:
    with psycopg.connect(dsn) as conn:
        return conn.execute(sql, params).fetchone()[0]


def counts(dsn) -> tuple[int, ...]:
    return tuple(count(dsn, f"SELECT count(*) FROM {t}") for t in (
        "tasks.ledgers", "tasks.ledger_items", "tasks.tasks", "tasks.policy_documents", "tasks.draft_measures"))


def future(days: int) -> str:
    return (datetime.now(TZ).date() + timedelta(days=days)).isoformat()


def ledger_body(**overrides) -> dict:
    return {
        "title": "姚安县巡视反馈问题整改台账",
        "source": "巡视反馈",
        "items": [
            {"problem": "公益性岗位开发不足,部分脱贫劳动力未实现就业", "measure": "新开发公益性岗位50个",
             "responsible_unit": "县人社局", "responsible_person": "张局长", "deadline": future(40),
             "task_list": "1.摸底;2.开发岗位;3.上岗培训"},
            {"problem": "防返贫监测对象识别不及时", "measure": "每月开展一次集中排查",
             "responsible_unit": "栋川镇人民政府", "deadline": future(60)},
        ],
        **overrides,
    }


def workbook(rows, merges=()) -> bytes:
    wb = Workbook()
    ws = wb.active
    for row in rows:
        ws.append(list(row))
    for rng in merges:
        ws.merge_cells(rng)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
GOOD_ROWS = [
    ["2026年成效考核反馈问题整改台账"],
    ["序号", "存在问题", "整改举措", "责任单位", "责任人", "整改时限", "任务清单", "整改进展"],
    [1, "产业帮扶项目联农带农机制不健全", "完善利益联结机制", "县农业农村局", "李四", "2026年12月31日", "制定办法", "已起草"],
    [2, "小额信贷逾期率偏高", "开展逾期贷款清收", "县财政局", "王五", "12月底", "", ""],
]


def import_xlsx(client, headers, data: bytes, name="台账.xlsx", **form):
    return client.post("/api/ledgers/import", headers=headers, data=form, files={"file": (name, data, XLSX)})


def wait_for_steps(dsn, n, timeout=30) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        with psycopg.connect(dsn, row_factory=dict_row) as conn:
            steps = conn.execute("SELECT * FROM tasks.steps ORDER BY id").fetchall()
        if len(steps) >= n:
            return steps
        assert time.monotonic() < deadline, f"only {len(steps)} steps opened"
        time.sleep(0.3)


def upload_attachment(client, headers, name="整改佐证.pdf") -> int:
    r = client.post("/api/attachments", headers=headers, files={"file": (name, b"%PDF-1.4 evidence", "application/pdf")})
    assert r.status_code == 201, r.text
    return r.json()["id"]


# ---------------------------------------------------------------- create, import, refusals (no Temporal)

def test_create_read_and_publish_twice(client, database_url):
    office = login(client, "yaoan_office")
    r = client.post("/api/ledgers", headers=office, json=ledger_body())
    assert r.status_code == 201, r.text
    ledger = r.json()
    assert ledger["status"] == "draft" and ledger["region_code"] == YAOAN and ledger["item_count"] == 2
    first, second = ledger["items"]
    assert first["unit_name"] == "县人力资源和社会保障局" and first["responsible_unit_written"] == "县人社局"
    assert second["unit_name"] == "栋川镇人民政府", "a township government resolves inside the county"
    assert first["state"] == "draft" and first["steps"] == [] and first["completion_label"] == "未发布"
    assert count(database_url, "SELECT count(*) FROM common.audit_log WHERE action = 'ledger.create'") == 1
    assert count(database_url, "SELECT count(*) FROM tasks.policy_documents") == 0, "nothing published yet"

    r = client.post(f"/api/ledgers/{ledger['id']}/publish", headers=office)
    assert r.status_code == 201, r.text
    result = r.json()
    assert result["tasks_created"] == 2 and result["ledger"]["status"] == "published"
    again = client.post(f"/api/ledgers/{ledger['id']}/publish", headers=office)
    assert again.status_code == 200 and again.json()["tasks_created"] == 0
    assert counts(database_url)[2:] == (2, 1, 2)
    assert count(database_url, "SELECT count(*) FROM tasks.outbox WHERE envelope->>'type' = 'task.published' "
                               "AND envelope->'payload'->>'kind' = 'rectification'") == 2
    assert count(database_url, "SELECT count(*) FROM common.audit_log WHERE action = 'ledger.publish'") == 1
    with psycopg.connect(database_url, row_factory=dict_row) as conn:
        doc = conn.execute("SELECT kind, status, title, content_type FROM tasks.policy_documents").fetchone()
        tasks = conn.execute("SELECT t.*, i.id AS item_id FROM tasks.tasks t JOIN tasks.ledger_items i "
                             "ON i.task_id = t.id ORDER BY i.position").fetchall()
    assert doc == {"kind": "ledger", "status": "published", "title": "姚安县巡视反馈问题整改台账",
                   "content_type": "application/json"}
    assert [s["kind"] for s in tasks[0]["reporting_calendar"]["steps"]] == [
        "acknowledge", "monthly_report", "completion_report"]
    assert tasks[0]["reporting_calendar"]["kind"] == "rectification"
    assert tasks[0]["due_at"].isoformat() == future(40)
    assert tasks[0]["lead_unit_ids"] == tasks[0]["responsible_unit_ids"] == [first["responsible_unit_id"]]
    assert "整改措施:新开发公益性岗位50个" in tasks[0]["text"]

    r = client.patch(f"/api/policies/{result['document_id']}/measures/1", headers=office, json={"title": "x"})
    assert r.status_code in (404, 409), "the policy review cannot edit a published ledger"

    listing = client.get("/api/ledgers", headers=office).json()
    assert listing["total"] == 1
    assert listing["items"][0]["item_count"] == 2 and listing["items"][0]["published_count"] == 2
    leader = login(client, "yaoan_leader")
    assert client.get(f"/api/ledgers/{ledger['id']}", headers=leader).status_code == 200
    assert client.get("/api/ledgers", headers=leader).json()["total"] == 1


def test_refusals_for_other_roles_and_jurisdictions(client, database_url):
    office = login(client, "yaoan_office")
    ledger = client.post("/api/ledgers", headers=office, json=ledger_body()).json()
    staff, leader, other = login(client, "yaoan_rsj"), login(client, "yaoan_leader"), login(client, "qingyang_office")

    assert client.post("/api/ledgers", headers=staff, json=ledger_body()).status_code == 403
    assert client.get(f"/api/ledgers/{ledger['id']}", headers=staff).status_code == 403
    assert client.get("/api/ledgers", headers=staff).status_code == 403
    assert client.post(f"/api/ledgers/{ledger['id']}/publish", headers=leader).status_code == 403
    assert import_xlsx(client, leader, workbook(GOOD_ROWS)).status_code == 403

    assert client.get(f"/api/ledgers/{ledger['id']}", headers=other).status_code == 404
    assert client.get(f"/api/ledgers/{ledger['id']}/export", headers=other).status_code == 404
    assert client.post(f"/api/ledgers/{ledger['id']}/publish", headers=other).status_code == 404
    item = ledger["items"][0]["id"]
    r = client.post(f"/api/ledgers/{ledger['id']}/items/{item}/sign-off", headers=other, json={"text": "完成"})
    assert r.status_code == 404
    assert client.get("/api/ledgers", headers=other).json()["total"] == 0
    r = client.post("/api/ledgers", headers=other, json=ledger_body(region_code=YAOAN))
    assert r.status_code == 403
    assert count(database_url, "SELECT count(*) FROM tasks.ledgers") == 1
    assert count(database_url, "SELECT count(*) FROM tasks.tasks") == 0

    r = client.post(f"/api/ledgers/{ledger['id']}/items/{item}/sign-off", headers=office, json={"text": "完成"})
    assert r.status_code == 409 and "尚未发布" in r.json()["detail"]


def test_json_with_unknown_units_stores_nothing(client, database_url):
    office = login(client, "yaoan_office")
    body = ledger_body()
    body["items"][0]["responsible_unit"] = "县火星局"
    body["items"][1]["responsible_unit"] = "各乡镇党委、政府"
    body["items"].append({"problem": "p", "measure": "m", "responsible_unit_id": 999999, "deadline": future(10)})
    r = client.post("/api/ledgers", headers=office, json=body)
    assert r.status_code == 422, r.text
    errors = r.json()["detail"]["errors"]
    assert [(e["row"], e["column"]) for e in errors] == [(1, "责任单位"), (2, "责任单位"), (3, "责任单位")]
    assert "县火星局" in errors[0]["reason"] and "一组单位" in errors[1]["reason"]
    r = client.post("/api/ledgers", headers=office, json={**ledger_body(), "items": [{"problem": "p", "measure": "m",
                                                                                     "deadline": future(5)}]})
    assert r.status_code == 422 and "责任单位" in str(r.json())
    assert client.post("/api/ledgers", headers=office, json={**ledger_body(), "items": []}).status_code == 422
    assert counts(database_url)[:2] == (0, 0)


def test_import_good_workbook_then_export_with_progress(client, database_url):
    office = login(client, "yaoan_office")
    r = import_xlsx(client, office, workbook(GOOD_ROWS), source="成效考核反馈")
    assert r.status_code == 201, r.text
    ledger = r.json()
    assert ledger["title"] == "2026年成效考核反馈问题整改台账" and ledger["year"] == 2026
    assert ledger["source"] == "成效考核反馈"
    assert [(i["ref"], i["unit_name"], i["deadline"], i["source_row"]) for i in ledger["items"]] == [
        ("1", "县农业农村局", "2026-12-31", 3), ("2", "县财政局", "2026-12-31", 4)]
    assert count(database_url, "SELECT count(*) FROM common.audit_log WHERE action = 'ledger.import'") == 1

    r = client.get(f"/api/ledgers/{ledger['id']}/export", headers=login(client, "yaoan_leader"))
    assert r.status_code == 200 and r.headers["content-type"] == XLSX
    ws = load_workbook(io.BytesIO(r.content)).active
    assert [c.value for c in ws[2]][:8] == ["序号", "问题", "整改措施", "责任单位", "责任人", "完成时限", "任务清单", "整改进展"]
    assert [c.value for c in ws[3]][3:] == ["县农业农村局", "李四", datetime(2026, 12, 31), "制定办法", "已起草",
                                           "未发布", "未销号"]

    published = client.post(f"/api/ledgers/{ledger['id']}/publish", headers=office).json()
    with psycopg.connect(database_url) as conn:
        doc = conn.execute("SELECT kind, filename, content_type, length(content) FROM tasks.policy_documents "
                           "WHERE id = %s", (published["document_id"],)).fetchone()
    assert doc[:3] == ("ledger", "台账.xlsx", XLSX) and doc[3] > 0, "the imported workbook is the document's original"


def test_bad_imports_store_nothing(client, database_url):
    office = login(client, "yaoan_office")
    bad = workbook([
        ["某某整改台账"],
        ["序号", "问题描述", "整改措施", "责任单位", "完成时间"],
        [1, "问题一", "措施一", "县财政局", "2026-06-30"],
        [2, "问题二", "措施二", "县火星局", "2026-06-30"],
        [3, "问题三", "", "县财政局", "2026-02-30"],
        [4, "问题四", "措施四", "县民政局", "长期坚持"],
        [5, "问题五", "措施五", "县民政局", "6月底"],
    ])
    r = import_xlsx(client, office, bad)
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert "未导入任何内容" in detail["message"]
    found = {(e["row"], e["column"]) for e in detail["errors"]}
    assert found == {(4, "责任单位"), (5, "整改措施"), (5, "完成时间"), (6, "完成时间")}
    assert all(e["reason"] for e in detail["errors"])

    assert import_xlsx(client, office, b"a,b\n1,2\n", name="台账.csv").status_code == 415
    assert import_xlsx(client, office, b"\xd0\xcf\x11\xe0 old xls", name="台账.xls").status_code == 415
    r = import_xlsx(client, office, b"not a zip at all", name="台账.xlsx")
    assert r.status_code == 422 and r.json()["detail"]["errors"][0]["row"] is None
    assert import_xlsx(client, office, b"", name="台账.xlsx").status_code == 422
    big = b"PK" + b"\0" * (5 * 1024 * 1024)
    assert import_xlsx(client, office, big).status_code == 413
    r = import_xlsx(client, office, workbook([["姓名", "电话"], ["张三", "1"]]))
    assert r.status_code == 422 and "表头" in r.json()["detail"]["errors"][0]["reason"]
    r = import_xlsx(client, office, workbook(GOOD_ROWS), region_code="621000000000")
    assert r.status_code == 403
    assert counts(database_url) == (0, 0, 0, 0, 0)
    assert count(database_url, "SELECT count(*) FROM common.audit_log WHERE action LIKE 'ledger.%%'") == 0


# ---------------------------------------------------------------- the item lifecycle on Temporal

def test_items_run_the_task_lifecycle_and_sign_off_needs_approved_evidence(live, database_url):
    client = live
    office = login(client, "yaoan_office")
    ledger = client.post("/api/ledgers", headers=office, json=ledger_body()).json()
    first, second = ledger["items"]
    assert client.post(f"/api/ledgers/{ledger['id']}/publish", headers=office).status_code == 201
    steps = wait_for_steps(database_url, 6)  # per item: 签收, this month's 整改进展月报, 整改完成情况报告
    with psycopg.connect(database_url, row_factory=dict_row) as conn:
        task_of = {r["id"]: r["task_id"] for r in conn.execute("SELECT id, task_id FROM tasks.ledger_items")}

    def step(item, kind):
        return next(s for s in steps if s["task_id"] == task_of[item["id"]] and s["kind"] == kind)

    completion = step(first, "completion_report")
    assert completion["label"] == "整改完成情况报告"
    assert completion["due_at"].astimezone(TZ).date().isoformat() >= future(40)
    monthly = step(first, "monthly_report")
    assert monthly["label"].startswith("整改进展月报")

    sign_off = f"/api/ledgers/{ledger['id']}/items/{first['id']}/sign-off"
    r = client.post(sign_off, headers=office, json={"text": "整改完成"})
    assert r.status_code == 409 and "尚未审核通过" in r.json()["detail"]

    staff = login(client, "yaoan_rsj")
    nync = login(client, "yaoan_nync")
    assert client.post(f"/api/steps/{completion['id']}/submit", headers=nync,
                       json={"text": "不是我的"}).status_code == 404, "another unit's item is not even visible"
    assert client.post(f"/api/steps/{step(first, 'acknowledge')['id']}/acknowledge", headers=staff).status_code == 200
    r = client.post(f"/api/steps/{monthly['id']}/submit", headers=staff, json={"text": "已开发岗位20个", "progress": 40})
    assert r.status_code == 200, r.text
    evidence = upload_attachment(client, staff)
    r = client.post(f"/api/steps/{completion['id']}/submit", headers=staff,
                    json={"text": "已开发公益性岗位52个,全部上岗", "progress": 100, "attachments": [evidence]})
    assert r.status_code == 200 and r.json()["status"] == "submitted", r.text

    r = client.post(sign_off, headers=office, json={"text": "整改完成"})
    assert r.status_code == 409 and "已提交" in r.json()["detail"], "submitted is not approved"
    assert client.post(sign_off, headers=staff, json={"text": "整改完成"}).status_code == 403
    assert client.post(sign_off, headers=login(client, "yaoan_leader"), json={"text": "x"}).status_code == 403

    detail = client.get(f"/api/ledgers/{ledger['id']}", headers=office).json()["items"][0]
    assert detail["state"] == "under_review" and detail["completion_status"] == "submitted"
    assert detail["current_progress"] == "已开发公益性岗位52个,全部上岗"
    assert {s["kind"] for s in detail["steps"]} == {"acknowledge", "monthly_report", "completion_report"}

    assert client.post(f"/api/steps/{completion['id']}/approve", headers=office).status_code == 200
    assert client.get(f"/api/ledgers/{ledger['id']}", headers=office).json()["items"][0]["state"] == \
        "ready_for_sign_off"
    assert client.post(sign_off, headers=office, json={"text": ""}).status_code == 422
    r = client.post(sign_off, headers=office, json={"text": "经核查,整改到位,同意销号"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "closed" and r.json()["ledger_status"] == "published"
    r = client.post(sign_off, headers=office, json={"text": "再次销号"})
    assert r.status_code == 409 and "已销号" in r.json()["detail"]

    # the second item: the report is approved but carries no evidence, so 销号 is refused
    dongchuan = login(client, "dongchuan")
    r = client.post(f"/api/steps/{step(second, 'completion_report')['id']}/submit", headers=dongchuan,
                    json={"text": "已完成排查"})
    assert r.status_code == 200, r.text
    assert client.post(f"/api/steps/{step(second, 'completion_report')['id']}/approve", headers=office).status_code == 200
    r = client.post(f"/api/ledgers/{ledger['id']}/items/{second['id']}/sign-off", headers=office, json={"text": "完成"})
    assert r.status_code == 409 and "佐证" in r.json()["detail"]

    with psycopg.connect(database_url, row_factory=dict_row) as conn:
        inbox = list_inbox(conn, second["responsible_unit_id"], limit=10, offset=0, status=None, overdue=None,
                           task_id=None, document_id=None, period=None, kind=None)
        assert {(r["task_title"], r["document_title"]) for r in inbox} == {
            ("防返贫监测对象识别不及时", "姚安县巡视反馈问题整改台账")}, "the items are in the units' inboxes"
        assert "佐证" in task_sign_off_refusal(conn, task_of[second["id"]])
        assert task_sign_off_refusal(conn, 10**9) is None, "tasks that are no ledger item are not ledgers' business"
        task = conn.execute("SELECT status FROM tasks.tasks WHERE id = %s", (task_of[first["id"]],)).fetchone()
        open_left = conn.execute("SELECT count(*) AS n FROM tasks.steps WHERE task_id = %s AND status IN "
                                 "('open', 'returned', 'submitted')", (task_of[first["id"]],)).fetchone()["n"]
        audits = [a["action"] for a in conn.execute(
            "SELECT action FROM common.audit_log WHERE action LIKE 'ledger.%' OR action = 'task.sign_off' ORDER BY id")]
    assert task["status"] == "closed" and open_left == 0
    assert audits == ["ledger.create", "ledger.publish", "task.sign_off"]

    final = client.get(f"/api/ledgers/{ledger['id']}", headers=office).json()
    assert final["signed_off_count"] == 1 and final["status"] == "published"
    assert [i["state"] for i in final["items"]] == ["signed_off", "ready_for_sign_off"]
    assert final["items"][0]["evidence"] == [str(evidence)]
    ws = load_workbook(io.BytesIO(client.get(f"/api/ledgers/{ledger['id']}/export", headers=office).content)).active
    assert [c.value for c in ws[3]][7:] == ["已开发公益性岗位52个,全部上岗", "已通过", "已销号"]
    assert [c.value for c in ws[4]][7:] == ["已完成排查", "已通过", "未销号"]
