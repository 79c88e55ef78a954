"""Inbox, step detail, escalations and 批示, progress and notifications against a real
PostgreSQL. The workflows' read model (tasks.steps and friends) is written directly
with SQL here, the way the workflow activities mirror it."""

import io
from datetime import date, datetime, timedelta, timezone

import psycopg
import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from services.common.auth import issue_token
from services.common.config import get_settings
from services.common.excel import XLSX_MEDIA_TYPE
from services.common.http import create_app
from services.demo import load_demo
from services.tasks import api, inbox_api, inbox_repository
from services.tasks.inbox_schemas import MAX_LIMIT, STATUS_LABELS, InboxItem, InboxPage

pytestmark = pytest.mark.integration

PASSWORD = "xianjie-demo"
YAOAN = "532325000000"
QINGYANG = "621000000000"
NOW = datetime.now(timezone.utc)
DAY = timedelta(days=1)


@pytest.fixture
def client(database_url, monkeypatch):
    monkeypatch.setenv("XIANJIE_DEMO_PASSWORD", PASSWORD)
    get_settings.cache_clear()
    load_demo(database_url, with_policies=False)
    app = create_app(service="tasks", title="t", routers=[api.router, inbox_api.router], readiness=())
    with TestClient(app) as c:
        c.tokens = {}
        yield c


@pytest.fixture
def db(database_url):
    with psycopg.connect(database_url, row_factory=dict_row, autocommit=True) as conn:
        yield conn


def login(client, username) -> dict:
    if username not in client.tokens:
        r = client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
        assert r.status_code == 200, r.text
        client.tokens[username] = {"Authorization": f"Bearer {r.json()['access_token']}"}
    return client.tokens[username]


def unit(db, name, region=YAOAN) -> int:
    return db.execute("SELECT id FROM common.units WHERE region_code = %s AND (name = %s OR %s = ANY(aliases))",
                      (region, name, name)).fetchone()["id"]


def user(db, username) -> int:
    return db.execute("SELECT id FROM common.users WHERE username = %s", (username,)).fetchone()["id"]


def publish(db, *, title="开展技能培训", ref="一.(一)", region=YAOAN, lead=(), responsible=(),
            doc_title="姚安县2023年巩固脱贫成果工作要点", targets=None) -> tuple[int, int]:
    """A published document with one measure and its task: (document id, task id)."""
    doc = db.execute(
        """INSERT INTO tasks.policy_documents (region_code, title, filename, content_type, content, content_sha256,
                                               parsed, status, published_at)
           VALUES (%s, %s, 'a.txt', 'text/plain', '\\x00', 'x', '{}', 'published', now()) RETURNING id""",
        (region, doc_title),
    ).fetchone()["id"]
    measure = db.execute(
        """INSERT INTO tasks.draft_measures (document_id, position, ref, title, text, lead_units, responsible_units)
           VALUES (%s, 0, %s, %s, %s, '{}', '{}') RETURNING id""",
        (doc, ref, title, f"{title}。正文"),
    ).fetchone()["id"]
    task = db.execute(
        """INSERT INTO tasks.tasks (document_id, measure_id, region_code, ref, title, text, lead_units,
                                    responsible_units, lead_unit_ids, responsible_unit_ids, targets, deadlines)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, '[]') RETURNING id""",
        (doc, measure, region, ref, title, f"{title}。全年培训脱贫劳动力1000人次以上。", ["as written"], ["as written"],
         list(lead), list(responsible), Jsonb(targets or [])),
    ).fetchone()["id"]
    return doc, task


_keys = iter(range(1, 10**6))


def step(db, task, unit_id, *, kind="monthly_report", period="2023-05", label=None, due=7 * DAY, opened=-10 * DAY,
         status="open", overdue=False, level=0, submitted=None, approved=None) -> int:
    """A step due `due` from now (negative: in the past); submitted/approved likewise relative to now."""
    return db.execute(
        """INSERT INTO tasks.steps (step_key, task_id, unit_id, kind, period, label, opened_at, due_at, status,
                                    overdue, escalation_level, submitted_at, approved_at)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id""",
        (f"{task}:{unit_id}:{kind}:{period}:{next(_keys)}", task, unit_id, kind, period,
         label or f"月报 ({period})", NOW + opened, NOW + due, status, overdue, level,
         None if submitted is None else NOW + submitted, None if approved is None else NOW + approved),
    ).fetchone()["id"]


def escalate(db, step_id, level, to_role, *, region=YAOAN, at=-DAY) -> int:
    return db.execute(
        """INSERT INTO tasks.escalations (step_id, level, to_role, region_code, at) VALUES (%s, %s, %s, %s, %s)
           RETURNING id""",
        (step_id, level, to_role, region, NOW + at),
    ).fetchone()["id"]


def notify(db, *, unit_id=None, user_id=None, title="提醒", at=-DAY, step_id=None, read=False) -> int:
    return db.execute(
        """INSERT INTO tasks.notifications (unit_id, user_id, kind, title, body, at, step_id, read_at)
           VALUES (%s, %s, 'reminder', %s, '请按时报送', %s, %s, %s) RETURNING id""",
        (unit_id, user_id, title, NOW + at, step_id, NOW if read else None),
    ).fetchone()["id"]


def errors(r) -> dict:
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["detail"]
    return {e["field"]: e["reason"] for e in body.get("errors", [])}


def sheet(r):
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == XLSX_MEDIA_TYPE
    assert "attachment" in r.headers["content-disposition"]
    return load_workbook(io.BytesIO(r.content)).active


# ---------------------------------------------------------------- inbox

@pytest.fixture
def inbox_data(db):
    rsj, nync = unit(db, "县人社局"), unit(db, "县农业农村局")
    doc, task = publish(db, lead=[rsj], responsible=[rsj, nync])
    doc2, task2 = publish(db, title="开发公益岗位", ref="一.(二)", doc_title="另一个文件", lead=[rsj], responsible=[rsj])
    s = {
        "normal": step(db, task, rsj, period="2023-06", due=10 * DAY),
        "overdue_flag": step(db, task, rsj, period="2023-04", due=-2 * DAY, overdue=True, level=2),
        "overdue_late": step(db, task, rsj, period="2023-03", due=-3600 * timedelta(seconds=1)),  # flag not yet set
        "due_soon": step(db, task, rsj, kind="acknowledge", period="", label="签收", due=DAY),
        "submitted": step(db, task, rsj, kind="quarterly_analysis", period="2023-Q1", label="季度分析 (2023年第1季度)",
                          due=-5 * DAY, status="submitted", submitted=-6 * DAY),
        "approved": step(db, task2, rsj, period="2023-02", due=-20 * DAY, status="approved", submitted=-21 * DAY,
                         approved=-19 * DAY),
        "returned": step(db, task2, rsj, period="2023-01", due=2 * DAY, status="returned"),
        "future": step(db, task, rsj, period="2023-07", opened=5 * DAY, due=40 * DAY),
        "other_unit": step(db, task, nync, period="2023-05", due=DAY),
    }
    return {"doc": doc, "doc2": doc2, "task": task, "task2": task2, "rsj": rsj, "nync": nync, "steps": s}


def test_inbox_lists_own_unit_opened_steps_by_due_date_with_urgency(client, inbox_data):
    s = inbox_data["steps"]
    r = client.get("/api/inbox", headers=login(client, "yaoan_rsj"))
    assert r.status_code == 200, r.text
    page = r.json()
    ids = [i["id"] for i in page["items"]]
    assert ids == [s["approved"], s["submitted"], s["overdue_flag"], s["overdue_late"], s["due_soon"], s["returned"],
                   s["normal"]]
    assert page["total"] == 7 and page["limit"] == 20 and page["offset"] == 0
    by_id = {i["id"]: i for i in page["items"]}
    assert {k: by_id[s[k]]["urgency"] for k in ("approved", "submitted", "overdue_flag", "overdue_late", "due_soon",
                                                   "returned", "normal")} == {
        "approved": "done", "submitted": "done", "overdue_flag": "overdue", "overdue_late": "overdue",
        "due_soon": "due_soon", "returned": "due_soon", "normal": "normal"}
    item = by_id[s["overdue_flag"]]
    assert item["task_title"] == "开展技能培训" and item["task_ref"] == "一.(一)"
    assert item["document_title"] == "姚安县2023年巩固脱贫成果工作要点" and item["document_id"] == inbox_data["doc"]
    assert item["label"] == "月报 (2023-04)" and item["kind"] == "monthly_report" and item["period"] == "2023-04"
    assert item["status"] == "open" and item["status_label"] == "待办理"
    assert item["overdue"] is True and item["escalation_level"] == 2 and item["due_at"]
    assert by_id[s["overdue_late"]]["overdue"] is True  # deadline passed before the workflow flagged it
    assert by_id[s["normal"]]["overdue"] is False

    # the unit head of the same unit sees the same inbox; another unit sees only its own
    head = client.get("/api/inbox", headers=login(client, "yaoan_rsj_head")).json()
    assert [i["id"] for i in head["items"]] == ids
    nync = client.get("/api/inbox", headers=login(client, "yaoan_nync")).json()
    assert [i["id"] for i in nync["items"]] == [s["other_unit"]]
    assert client.get("/api/inbox", headers=login(client, "yaoan_office")).json()["total"] == 0


def test_inbox_filters_and_pagination(client, inbox_data):
    s, h = inbox_data["steps"], login(client, "yaoan_rsj")

    def ids(**params):
        r = client.get("/api/inbox", headers=h, params=params)
        assert r.status_code == 200, r.text
        return [i["id"] for i in r.json()["items"]]

    assert ids(status="open") == [s["overdue_flag"], s["overdue_late"], s["due_soon"], s["normal"]]
    assert ids(status="returned") == [s["returned"]]
    assert ids(overdue="true") == [s["overdue_flag"], s["overdue_late"]]
    assert ids(overdue="false") == [s["approved"], s["submitted"], s["due_soon"], s["returned"], s["normal"]]
    assert ids(task_id=inbox_data["task2"]) == [s["approved"], s["returned"]]
    assert ids(document_id=inbox_data["doc2"]) == [s["approved"], s["returned"]]
    assert ids(period="2023-Q1") == [s["submitted"]]
    assert ids(kind="acknowledge") == [s["due_soon"]]
    assert ids(kind="monthly_report", status="open", overdue="false") == [s["normal"]]
    assert ids(task_id=999999) == []
    r = client.get("/api/inbox", headers=h, params={"limit": 2, "offset": 1}).json()
    assert [i["id"] for i in r["items"]] == [s["submitted"], s["overdue_flag"]]
    assert r["total"] == 7 and r["limit"] == 2 and r["offset"] == 1
    assert client.get("/api/inbox", headers=h, params={"offset": 50}).json()["items"] == []


def test_inbox_bad_input_gets_field_and_reason(client, inbox_data):
    h = login(client, "yaoan_rsj")
    for params, field in [({"status": "done"}, "status"), ({"overdue": "maybe"}, "overdue"),
                          ({"task_id": "abc"}, "task_id"), ({"task_id": 0}, "task_id"),
                          ({"document_id": 2**64}, "document_id"), ({"period": "2023-13"}, "period"),
                          ({"period": "x' OR 1=1 --"}, "period"), ({"kind": "weekly"}, "kind"),
                          ({"limit": 0}, "limit"), ({"limit": 5000}, "limit"), ({"offset": -1}, "offset"),
                          ({"format": "pdf"}, "format")]:
        errs = errors(client.get("/api/inbox", headers=h, params=params))
        assert field in errs and errs[field], (params, errs)
    for params in ({}, {"limit": 0}):  # no token: refused before the query string is read
        r = client.get("/api/inbox", params=params)
        assert r.status_code == 401 and "令牌" in r.json()["detail"]
    r = client.get("/api/inbox", headers={"Authorization": "Bearer nonsense"})
    assert r.status_code == 401


def test_inbox_as_excel(client, inbox_data):
    h = login(client, "yaoan_rsj")
    ws = sheet(client.get("/api/inbox", headers=h, params={"format": "xlsx", "limit": 1}))
    assert "县人力资源和社会保障局待办事项" in ws["A1"].value
    assert [c.value for c in ws[2]] == ["序号", "任务", "步骤", "期间", "截止时间", "状态", "是否逾期", "督办级别"]
    rows = [[c.value for c in row] for row in ws.iter_rows(min_row=3)]
    assert len(rows) == 7  # every matching row, not one page
    assert [r[0] for r in rows] == list(range(1, 8))
    overdue_row = rows[2]
    assert overdue_row[1] == "一.(一) 开展技能培训" and overdue_row[2] == "月报 (2023-04)" and overdue_row[3] == "2023-04"
    assert overdue_row[5] == "待办理" and overdue_row[6] == "是" and overdue_row[7] == "二级(分管领导)"
    assert isinstance(overdue_row[4], datetime)
    assert ws.freeze_panes == "A3"
    filtered = sheet(client.get("/api/inbox", headers=h, params={"format": "xlsx", "status": "returned"}))
    assert filtered.max_row == 3 and filtered["F3"].value == "已退回"


# ---------------------------------------------------------------- one step


def _same_value(sent, read) -> bool:
    """A value of the JSON the database built against the same column read by psycopg."""
    if isinstance(read, datetime):
        return datetime.fromisoformat(sent) == read
    if isinstance(read, date):
        return sent == read.isoformat()
    return sent == read


def test_inbox_sent_as_the_database_builds_it_is_the_response_model_exactly(client, db, inbox_data):
    """The inbox body is built by PostgreSQL, not by the response model: it must still be an
    `InboxPage` key for key, and say what the usual read of the same steps says."""
    s, rsj = inbox_data["steps"], inbox_data["rsj"]
    db.execute("UPDATE tasks.steps SET extension_requested = true WHERE id = %s", (s["returned"],))
    h = login(client, "yaoan_rsj")
    several = {"kind": "monthly_report", "status": "open", "overdue": False, "task_id": inbox_data["task"],
               "document_id": inbox_data["doc"], "period": "2023-06", "limit": 5}
    for params in ({}, {"limit": 3, "offset": 2}, {"status": "approved"}, {"document_id": inbox_data["doc2"]},
                   {"overdue": True, "limit": 1, "offset": 1}, several):
        r = client.get("/api/inbox", headers=h, params={k: str(v).lower() if isinstance(v, bool) else v
                                                         for k, v in params.items()})
        assert r.status_code == 200 and r.headers["content-type"] == "application/json", r.text
        assert r.headers["cache-control"] == "no-store"
        page = InboxPage.model_validate_json(r.content)
        body = r.json()
        assert set(body) == set(InboxPage.model_fields)
        filters = {"status": None, "overdue": None, "task_id": None, "document_id": None, "period": None, "kind": None}
        filters.update({k: v for k, v in params.items() if k in filters})
        read = inbox_repository.list_inbox(db, rsj, limit=params.get("limit", 20), offset=params.get("offset", 0),
                                           **filters)
        assert page.total == inbox_repository.count_inbox(db, rsj, **filters) and len(body["items"]) == len(read)
        assert page.limit == params.get("limit", 20) and page.offset == params.get("offset", 0)
        if params is several:
            assert [i["id"] for i in body["items"]] == [s["normal"]] and page.total == 1
        for item, row in zip(body["items"], read, strict=True):
            assert set(item) == set(InboxItem.model_fields), set(item) ^ set(InboxItem.model_fields)
            assert item["status_label"] == STATUS_LABELS[row["status"]]
            wrong = {k: (item[k], row[k]) for k in row if not _same_value(item[k], row[k])}
            assert not wrong, wrong
    returned = next(i for i in client.get("/api/inbox", headers=h).json()["items"] if i["id"] == s["returned"])
    assert returned["extension_requested"] is True and returned["status_label"] == "已退回"
    empty = client.get("/api/inbox", headers=h, params={"offset": 100}).json()
    assert empty == {"total": 7, "limit": 20, "offset": 100, "items": []}


def test_inbox_refuses_a_disabled_or_unknown_caller(client, db, inbox_data):
    h = login(client, "yaoan_rsj")
    assert client.get("/api/inbox", headers=h).status_code == 200
    db.execute("UPDATE common.users SET disabled = true WHERE username = 'yaoan_rsj'")
    for params in ({}, {"format": "xlsx"}):
        r = client.get("/api/inbox", headers=h, params=params)
        assert r.status_code == 401 and "停用" in r.json()["detail"], r.text
    unknown, _ = issue_token(2**31, "nobody")
    r = client.get("/api/inbox", headers={"Authorization": f"Bearer {unknown}"})
    assert r.status_code == 401 and "不存在" in r.json()["detail"]

def test_step_detail_with_task_history_and_escalations(client, db, inbox_data):
    rsj = inbox_data["rsj"]
    step_id = inbox_data["steps"]["overdue_flag"]
    db.execute("UPDATE tasks.tasks SET targets = %s WHERE id = %s",
               (Jsonb([{"indicator": "培训脱贫劳动力", "comparator": ">=", "value": 1000, "unit": "人次"}]),
                inbox_data["task"]))
    office = user(db, "yaoan_office")
    # history written out of id order: the detail is ordered by time
    db.execute("""INSERT INTO tasks.step_history (step_id, at, action, actor_user_id, detail) VALUES
                  (%s, %s, 'overdue', NULL, '{}'), (%s, %s, 'opened', NULL, '{"by": "workflow"}'),
                  (%s, %s, 'reminded', %s, '{}'), (%s, %s, 'strange_new_action', NULL, '{}')""",
               (step_id, NOW - 2 * DAY, step_id, NOW - 10 * DAY, step_id, NOW - 4 * DAY, office, step_id, NOW))
    e1 = escalate(db, step_id, 1, "unit_head", at=-DAY)
    e2 = escalate(db, step_id, 2, "leader", at=-DAY / 2)
    leader = user(db, "yaoan_leader")
    db.execute("UPDATE tasks.escalations SET instruction = '抓紧落实', instructed_by = %s, instructed_at = now() "
               "WHERE id = %s", (leader, e2))

    for who in ("yaoan_rsj", "yaoan_rsj_head", "yaoan_office", "yaoan_leader", "admin"):
        r = client.get(f"/api/steps/{step_id}", headers=login(client, who))
        assert r.status_code == 200, (who, r.text)
    d = r.json()
    assert d["id"] == step_id and d["unit_id"] == rsj and d["unit_name"] == "县人力资源和社会保障局"
    assert d["overdue"] is True and d["urgency"] == "overdue" and d["escalation_level"] == 2
    t = d["task"]
    assert t["title"] == "开展技能培训" and "1000人次" in t["text"] and t["region_code"] == YAOAN
    assert t["targets"][0]["value"] == 1000
    assert t["lead_units"] == [{"id": rsj, "name": "县人力资源和社会保障局"}]
    assert [u["name"] for u in t["responsible_units"]] == ["县人力资源和社会保障局", "县农业农村局"]
    assert t["document_title"] == "姚安县2023年巩固脱贫成果工作要点"
    assert [h["action"] for h in d["history"]] == ["opened", "reminded", "overdue", "strange_new_action"]
    assert [h["action_label"] for h in d["history"]] == ["开启", "提醒", "逾期", "strange_new_action"]
    assert d["history"][1]["actor_name"] == "姚安县乡村振兴局管理员"
    assert d["history"][0]["detail"] == {"by": "workflow"}
    assert [(e["id"], e["level"], e["to_role_label"]) for e in d["escalations"]] == [
        (e1, 1, "单位负责人"), (e2, 2, "分管领导")]
    assert d["escalations"][1]["instruction"] == "抓紧落实"
    assert d["escalations"][1]["instructed_by_name"] == "姚安县分管副县长"
    assert d["escalations"][0]["instruction"] is None

    # another unit, another jurisdiction, a data-entry user of a township: not found
    for who in ("yaoan_nync", "qingyang_office", "dongchuan"):
        r = client.get(f"/api/steps/{step_id}", headers=login(client, who))
        assert r.status_code == 404 and "不存在" in r.json()["detail"], who
    nync_step = inbox_data["steps"]["other_unit"]
    assert client.get(f"/api/steps/{nync_step}", headers=login(client, "yaoan_nync")).status_code == 200
    assert client.get(f"/api/steps/{nync_step}", headers=login(client, "yaoan_rsj")).status_code == 404
    assert client.get("/api/steps/999999", headers=login(client, "admin")).status_code == 404
    assert "step_id" in errors(client.get("/api/steps/abc", headers=login(client, "admin")))
    assert "step_id" in errors(client.get("/api/steps/0", headers=login(client, "admin")))


# ---------------------------------------------------------------- escalations

@pytest.fixture
def escalation_data(db, inbox_data):
    s = inbox_data["steps"]
    q_unit = unit(db, "市人社局", QINGYANG)
    _, q_task = publish(db, title="庆阳任务", ref="1", region=QINGYANG, doc_title="庆阳文件", lead=[q_unit])
    q_step = step(db, q_task, q_unit, due=-10 * DAY, overdue=True, level=2)
    e = {
        "rsj_1": escalate(db, s["overdue_flag"], 1, "unit_head", at=-5 * DAY),
        "rsj_2": escalate(db, s["overdue_flag"], 2, "leader", at=-3 * DAY),
        "late_1": escalate(db, s["overdue_late"], 1, "unit_head", at=-2 * DAY),
        "rsj_3": escalate(db, s["overdue_flag"], 3, "office", at=-DAY),
        "nync_1": escalate(db, s["other_unit"], 1, "unit_head", at=-4 * DAY),
        "nync_2": escalate(db, s["other_unit"], 2, "leader", at=-DAY / 2),
        "q_1": escalate(db, q_step, 1, "unit_head", region=QINGYANG, at=-6 * DAY),
        "q_2": escalate(db, q_step, 2, "leader", region=QINGYANG, at=-2.5 * DAY),
    }
    return {**inbox_data, "esc": e, "q_step": q_step}


def test_escalations_reach_each_role_within_jurisdiction_oldest_first(client, escalation_data):
    e = escalation_data["esc"]

    def ids(who, **params):
        r = client.get("/api/escalations", headers=login(client, who), params=params)
        assert r.status_code == 200, r.text
        return [i["id"] for i in r.json()["items"]]

    assert ids("yaoan_leader") == [e["rsj_2"], e["nync_2"]]
    assert ids("yaoan_office") == [e["rsj_1"], e["nync_1"], e["rsj_2"], e["late_1"], e["rsj_3"], e["nync_2"]]
    assert ids("yaoan_rsj_head") == [e["rsj_1"], e["late_1"]]
    assert ids("qingyang_office") == [e["q_1"], e["q_2"]]
    assert ids("admin") == [e["q_1"], e["rsj_1"], e["nync_1"], e["rsj_2"], e["q_2"], e["late_1"], e["rsj_3"],
                            e["nync_2"]]
    assert ids("yaoan_office", level=1) == [e["rsj_1"], e["nync_1"], e["late_1"]]
    assert ids("yaoan_office", level=3) == [e["rsj_3"]]
    assert ids("yaoan_office", limit=2, offset=1) == [e["nync_1"], e["rsj_2"]]

    item = client.get("/api/escalations", headers=login(client, "yaoan_leader")).json()["items"][0]
    assert item["unit_name"] == "县人力资源和社会保障局" and item["task_title"] == "开展技能培训"
    assert item["step_label"] == "月报 (2023-04)" and item["to_role"] == "leader" and item["to_role_label"] == "分管领导"
    assert item["overdue"] is True and item["status_label"] == "待办理" and item["instruction"] is None

    for who in ("yaoan_rsj", "dongchuan_entry", "ops"):
        r = client.get("/api/escalations", headers=login(client, who))
        assert r.status_code == 403 and "无权" in r.json()["detail"], who
    h = login(client, "yaoan_office")
    for params, field in [({"level": 0}, "level"), ({"level": "high"}, "level"),
                          ({"pending_instruction": "perhaps"}, "pending_instruction"), ({"format": "csv"}, "format")]:
        assert field in errors(client.get("/api/escalations", headers=h, params=params))


def test_instruction_attaches_notifies_audits_and_replaces(client, db, escalation_data):
    e, rsj = escalation_data["esc"], escalation_data["rsj"]
    step_id = escalation_data["steps"]["overdue_flag"]
    leader = login(client, "yaoan_leader")
    r = client.post(f"/api/escalations/{e['rsj_2']}/instruction", headers=leader, json={"text": "  请县人社局三日内报送。 "})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["instruction"] == "请县人社局三日内报送。" and body["instructed_by_name"] == "姚安县分管副县长"
    assert body["instructed_at"] and body["id"] == e["rsj_2"] and body["step_id"] == step_id

    hist = db.execute("SELECT action, actor_user_id, detail FROM tasks.step_history WHERE step_id = %s ORDER BY id",
                      (step_id,)).fetchall()
    assert [(h["action"], h["actor_user_id"]) for h in hist] == [("instruction", user(db, "yaoan_leader"))]
    assert hist[0]["detail"]["text"] == "请县人社局三日内报送。" and hist[0]["detail"]["level"] == 2
    notes = db.execute("SELECT unit_id, user_id, kind, title, body, step_id FROM tasks.notifications").fetchall()
    assert notes == [{"unit_id": rsj, "user_id": None, "kind": "instruction", "title": "领导批示",
                      "body": "请县人社局三日内报送。", "step_id": step_id}]
    audit = db.execute("SELECT action, entity, entity_id, username, before, after FROM common.audit_log "
                       "WHERE action = 'escalation.instruction'").fetchall()
    assert len(audit) == 1 and audit[0]["before"] is None and audit[0]["entity_id"] == str(e["rsj_2"])
    assert audit[0]["after"]["instruction"] == "请县人社局三日内报送。" and audit[0]["username"] == "yaoan_leader"

    # the unit sees it in its notifications and on the step
    staff = login(client, "yaoan_rsj")
    n = client.get("/api/notifications", headers=staff).json()
    assert n["items"][0]["title"] == "领导批示" and n["items"][0]["step_id"] == step_id
    assert n["items"][0]["task_title"] == "开展技能培训" and n["items"][0]["step_label"] == "月报 (2023-04)"
    detail = client.get(f"/api/steps/{step_id}", headers=staff).json()
    assert detail["escalations"][1]["instruction"] == "请县人社局三日内报送。"
    assert detail["history"][-1]["action_label"] == "领导批示"
    pending = client.get("/api/escalations", headers=leader, params={"pending_instruction": "true"}).json()
    assert [i["id"] for i in pending["items"]] == [e["nync_2"]]
    done = client.get("/api/escalations", headers=leader, params={"pending_instruction": "false"}).json()
    assert [i["id"] for i in done["items"]] == [e["rsj_2"]]

    # the same text again (a double click) changes nothing; a new text replaces it with before/after in the audit
    assert client.post(f"/api/escalations/{e['rsj_2']}/instruction", headers=leader,
                       json={"text": "请县人社局三日内报送。"}).status_code == 200
    assert db.execute("SELECT count(*) AS n FROM tasks.notifications").fetchone()["n"] == 1
    r = client.post(f"/api/escalations/{e['rsj_2']}/instruction", headers=leader, json={"text": "本周内报送"})
    assert r.status_code == 200 and r.json()["instruction"] == "本周内报送"
    audit = db.execute("SELECT before, after FROM common.audit_log WHERE action = 'escalation.instruction' "
                       "ORDER BY id").fetchall()
    assert len(audit) == 2
    assert audit[1]["before"]["instruction"] == "请县人社局三日内报送。" and audit[1]["after"]["instruction"] == "本周内报送"
    hist = db.execute("SELECT detail FROM tasks.step_history WHERE step_id = %s AND action = 'instruction' ORDER BY id",
                      (step_id,)).fetchall()
    assert len(hist) == 2 and hist[1]["detail"]["replaces"] == "请县人社局三日内报送。"
    assert db.execute("SELECT count(*) AS n FROM tasks.notifications").fetchone()["n"] == 2
    assert db.execute("SELECT instruction FROM tasks.escalations WHERE id = %s",
                      (e["rsj_2"],)).fetchone()["instruction"] == "本周内报送"


def test_instruction_refusals_and_bad_input_change_nothing(client, db, escalation_data):
    e = escalation_data["esc"]
    leader = login(client, "yaoan_leader")
    url = f"/api/escalations/{e['rsj_2']}/instruction"
    for who in ("yaoan_office", "yaoan_rsj", "yaoan_rsj_head"):
        r = client.post(url, headers=login(client, who), json={"text": "批示"})
        assert r.status_code == 403 and "县领导" in r.json()["detail"], who
    r = client.post(f"/api/escalations/{e['q_2']}/instruction", headers=leader, json={"text": "批示"})
    assert r.status_code == 404 and "不存在" in r.json()["detail"]
    assert client.post("/api/escalations/999999/instruction", headers=leader, json={"text": "批示"}).status_code == 404
    assert "escalation_id" in errors(client.post("/api/escalations/x/instruction", headers=leader, json={"text": "a"}))
    for payload, field in [({"text": ""}, "text"), ({"text": "   "}, "text"), ({"text": "批" * 2001}, "text"),
                           ({}, "text"), ({"text": 5}, "text"), ({"text": "好", "urgent": True}, "urgent")]:
        assert field in errors(client.post(url, headers=leader, json=payload)), payload
    assert errors(client.post(url, headers={**leader, "content-type": "application/json"}, content=b"{not json"))
    assert client.post(url, json={"text": "批示"}).status_code == 401
    r = client.post(url, headers=leader, json={"text": "批" * 2000})
    assert r.status_code == 200 and len(r.json()["instruction"]) == 2000
    assert db.execute("SELECT count(*) AS n FROM common.audit_log WHERE action = 'escalation.instruction'"
                      ).fetchone()["n"] == 1
    assert db.execute("SELECT count(*) AS n FROM tasks.escalations WHERE instruction IS NOT NULL").fetchone()["n"] == 1


def test_escalations_as_excel(client, db, escalation_data):
    e = escalation_data["esc"]
    client.post(f"/api/escalations/{e['rsj_2']}/instruction", headers=login(client, "yaoan_leader"),
                json={"text": "=抓紧"})
    ws = sheet(client.get("/api/escalations", headers=login(client, "yaoan_office"), params={"format": "xlsx"}))
    assert [c.value for c in ws[2]] == ["序号", "升级时间", "督办级别", "单位", "任务", "步骤", "截止时间", "状态", "批示",
                                        "批示人", "批示时间"]
    assert ws.max_row == 2 + 6
    row = [c.value for c in ws[5]]  # rsj_2: the third oldest
    assert row[2] == "二级(分管领导)" and row[3] == "县人力资源和社会保障局" and row[8] == "=抓紧"
    assert ws["I5"].data_type == "s" and row[9] == "姚安县分管副县长" and isinstance(row[10], datetime)


# ---------------------------------------------------------------- progress

def test_progress_per_document_and_unit(client, db):
    rsj, nync = unit(db, "县人社局"), unit(db, "县农业农村局")
    doc, task = publish(db, lead=[rsj], responsible=[rsj, nync])
    step(db, task, rsj, period="p1", due=-5 * DAY, status="approved", submitted=-6 * DAY, approved=-4 * DAY)  # on time
    step(db, task, rsj, period="p2", due=-2 * DAY, status="submitted", submitted=-DAY, overdue=True)  # late
    step(db, task, rsj, period="p3", due=-DAY)  # overdue, not yet flagged
    step(db, task, rsj, period="p4", due=5 * DAY)  # not due
    step(db, task, rsj, period="p5", due=10 * DAY, status="approved", submitted=-DAY, approved=-DAY / 2)  # early
    step(db, task, rsj, period="p6", due=-10 * DAY, status="approved", submitted=-8 * DAY, approved=-7 * DAY,
         overdue=True)  # late but approved
    step(db, task, rsj, kind="acknowledge", period="", label="签收", due=-9 * DAY, status="approved",
         approved=-9.5 * DAY)  # approved without a submission: on time by approval
    step(db, task, nync, period="p1", due=3 * DAY)
    doc2, task2 = publish(db, title="第二项", doc_title="第二个文件", lead=[nync])
    step(db, task2, nync, period="p1", due=-DAY, status="returned", submitted=-3 * DAY, overdue=True)
    q_unit = unit(db, "市人社局", QINGYANG)
    _, q_task = publish(db, region=QINGYANG, doc_title="庆阳文件", lead=[q_unit])
    step(db, q_task, q_unit, due=-DAY, overdue=True)

    office = login(client, "yaoan_office")
    r = client.get("/api/progress", headers=office)
    assert r.status_code == 200, r.text
    page = r.json()
    assert page["total"] == 3
    rows = {(i["document_id"], i["unit_name"]): i for i in page["items"]}
    assert set(rows) == {(doc, "县人力资源和社会保障局"), (doc, "县农业农村局"), (doc2, "县农业农村局")}
    a = rows[(doc, "县人力资源和社会保障局")]
    assert {k: a[k] for k in ("steps", "done", "submitted", "due", "overdue", "on_time", "on_time_rate")} == {
        "steps": 7, "done": 4, "submitted": 1, "due": 5, "overdue": 2, "on_time": 2, "on_time_rate": 0.4}
    assert a["document_title"] == "姚安县2023年巩固脱贫成果工作要点" and a["unit_id"] == rsj
    b = rows[(doc, "县农业农村局")]
    assert (b["steps"], b["due"], b["on_time_rate"]) == (1, 0, None)
    c = rows[(doc2, "县农业农村局")]
    assert (c["due"], c["overdue"], c["on_time"], c["on_time_rate"]) == (1, 1, 0, 0.0)

    leader = login(client, "yaoan_leader")
    assert client.get("/api/progress", headers=leader).json()["total"] == 3
    assert [i["unit_id"] for i in client.get("/api/progress", headers=leader,
                                             params={"unit_id": nync}).json()["items"]] == [nync, nync]
    only = client.get("/api/progress", headers=office, params={"document_id": doc2}).json()["items"]
    assert [(i["document_id"], i["unit_id"]) for i in only] == [(doc2, nync)]
    assert client.get("/api/progress", headers=office, params={"limit": 1, "offset": 2}).json()["items"][0][
        "document_id"] == doc2
    q = client.get("/api/progress", headers=login(client, "qingyang_office")).json()
    assert [i["unit_id"] for i in q["items"]] == [q_unit]
    assert client.get("/api/progress", headers=login(client, "admin")).json()["total"] == 4

    for who in ("yaoan_rsj", "yaoan_rsj_head", "dongchuan_entry"):
        r = client.get("/api/progress", headers=login(client, who))
        assert r.status_code == 403 and "无权" in r.json()["detail"], who
    for params, field in [({"document_id": "x"}, "document_id"), ({"unit_id": -1}, "unit_id"),
                          ({"format": "xls"}, "format"), ({"limit": 1001}, "limit")]:
        assert field in errors(client.get("/api/progress", headers=office, params=params))

    ws = sheet(client.get("/api/progress", headers=office, params={"format": "xlsx"}))
    assert [c.value for c in ws[2]] == ["序号", "政策文件", "单位", "步骤总数", "已完成", "已提交", "已到期", "逾期",
                                        "按时率"]
    assert ws.max_row == 5
    values = {(row[1].value, row[2].value): [c.value for c in row[3:]] for row in ws.iter_rows(min_row=3)}
    assert values[("姚安县2023年巩固脱贫成果工作要点", "县人力资源和社会保障局")] == [7, 4, 1, 5, 2, 0.4]
    assert values[("姚安县2023年巩固脱贫成果工作要点", "县农业农村局")][-1] is None
    assert ws["I3"].number_format == "0.0%"


# ---------------------------------------------------------------- notifications

def test_notifications_own_and_unit_newest_first_and_read(client, db):
    rsj, nync = unit(db, "县人社局"), unit(db, "县农业农村局")
    me, head = user(db, "yaoan_rsj"), user(db, "yaoan_rsj_head")
    unit_note = notify(db, unit_id=rsj, title="单位提醒", at=-3 * DAY)
    mine = notify(db, user_id=me, title="个人提醒", at=-DAY)
    mine_in_unit = notify(db, user_id=me, unit_id=rsj, title="个人(单位内)", at=-2 * DAY, read=True)
    heads = notify(db, user_id=head, unit_id=rsj, title="给局长", at=-DAY / 2)
    other = notify(db, unit_id=nync, title="农业农村局", at=-DAY / 4)

    staff = login(client, "yaoan_rsj")
    r = client.get("/api/notifications", headers=staff)
    assert r.status_code == 200, r.text
    page = r.json()
    assert [i["id"] for i in page["items"]] == [mine, mine_in_unit, unit_note]
    assert page["total"] == 3 and page["unread"] == 2
    assert page["items"][1]["read"] is True and page["items"][0]["read"] is False
    assert page["items"][0]["title"] == "个人提醒" and page["items"][0]["body"] == "请按时报送"
    unread = client.get("/api/notifications", headers=staff, params={"unread": "true"}).json()
    assert [i["id"] for i in unread["items"]] == [mine, unit_note] and unread["unread"] == 2
    read = client.get("/api/notifications", headers=staff, params={"unread": "false"}).json()
    assert [i["id"] for i in read["items"]] == [mine_in_unit] and read["unread"] == 2
    assert [i["id"] for i in client.get("/api/notifications", headers=login(client, "yaoan_rsj_head")).json()["items"]
            ] == [heads, unit_note]

    r = client.post(f"/api/notifications/{unit_note}/read", headers=staff)
    assert r.status_code == 200 and r.json()["read"] is True and r.json()["id"] == unit_note
    first = r.json()["read_at"]
    again = client.post(f"/api/notifications/{unit_note}/read", headers=staff)
    assert again.status_code == 200 and again.json()["read_at"] == first  # the first reading counts
    assert client.get("/api/notifications", headers=staff).json()["unread"] == 1

    for nid in (heads, other, 999999):
        r = client.post(f"/api/notifications/{nid}/read", headers=staff)
        assert r.status_code == 404 and "不存在" in r.json()["detail"], nid
    assert db.execute("SELECT read_at FROM tasks.notifications WHERE id = %s", (heads,)).fetchone()["read_at"] is None
    assert "notification_id" in errors(client.post("/api/notifications/abc/read", headers=staff))
    assert "unread" in errors(client.get("/api/notifications", headers=staff, params={"unread": "sometimes"}))
    assert "limit" in errors(client.get("/api/notifications", headers=staff, params={"limit": -5}))
    assert client.get("/api/notifications").status_code == 401

    ws = sheet(client.get("/api/notifications", headers=staff, params={"format": "xlsx"}))
    assert [c.value for c in ws[2]] == ["序号", "时间", "标题", "内容", "任务", "步骤", "状态", "阅读时间"]
    assert [ws.cell(row=r, column=3).value for r in range(3, ws.max_row + 1)] == ["个人提醒", "个人(单位内)", "单位提醒"]
    assert [ws.cell(row=r, column=7).value for r in range(3, 6)] == ["未读", "已读", "已读"]
    ws = sheet(client.get("/api/notifications", headers=staff, params={"format": "xlsx", "unread": "true"}))
    assert ws.max_row == 2 + 1 and ws["C3"].value == "个人提醒"


def test_openapi_documents_every_route_with_schemas(client):
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for path, method, model in [("/api/inbox", "get", "InboxPage"), ("/api/steps/{step_id}", "get", "StepDetail"),
                                ("/api/escalations", "get", "EscalationPage"),
                                ("/api/escalations/{escalation_id}/instruction", "post", "EscalationItem"),
                                ("/api/progress", "get", "ProgressPage"),
                                ("/api/notifications", "get", "NotificationPage"),
                                ("/api/notifications/{notification_id}/read", "post", "Notification")]:
        content = paths[path][method]["responses"]["200"]["content"]
        assert content["application/json"]["schema"]["$ref"].endswith("/" + model), path
    assert XLSX_MEDIA_TYPE in paths["/api/inbox"]["get"]["responses"]["200"]["content"]
    inbox_params = {p["name"]: p for p in paths["/api/inbox"]["get"]["parameters"]}
    assert set(inbox_params) == {"status", "overdue", "task_id", "document_id", "period", "kind", "limit", "offset",
                                 "format"}
    assert all(p["in"] == "query" and not p["required"] for p in inbox_params.values())
    assert inbox_params["limit"]["schema"]["maximum"] == MAX_LIMIT and inbox_params["period"]["description"]
    assert "InstructionRequest" in spec["components"]["schemas"]


def test_the_office_reviews_what_units_submitted_and_extensions_asked(client, inbox_data, db):
    s = inbox_data["steps"]
    db.execute("UPDATE tasks.steps SET extension_requested = true WHERE id = %s", (s["normal"],))
    db.commit()
    r = client.get("/api/reviews", headers=login(client, "yaoan_office"))
    assert r.status_code == 200, r.text
    page = r.json()
    assert [i["id"] for i in page["items"]] == [s["submitted"], s["normal"]], "the longest waiting first"
    assert page["total"] == 2 and page["items"][0]["unit_name"] == "县人力资源和社会保障局"
    assert page["items"][0]["status_label"] and page["items"][1]["extension_requested"] is True
    assert client.get("/api/reviews", headers=login(client, "yaoan_rsj")).status_code == 403
    assert client.get("/api/reviews", headers=login(client, "qingyang_office")).json()["total"] == 0

    ws = sheet(client.get("/api/reviews", headers=login(client, "yaoan_office"), params={"format": "xlsx"}))
    assert [c.value for c in ws[2]] == ["序号", "单位", "任务", "步骤", "期间", "截止时间", "状态", "报送时间", "申请延期"]
    assert ws.max_row == 2 + 2
    first, second = [c.value for c in ws[3]], [c.value for c in ws[4]]
    assert first[1] == "县人力资源和社会保障局" and first[6] == STATUS_LABELS["submitted"] and isinstance(first[7], datetime)
    assert first[8] in ("", None) and second[8] == "是"
    assert "format" in errors(client.get("/api/reviews", headers=login(client, "yaoan_office"), params={"format": "csv"}))
