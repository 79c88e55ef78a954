"""The web portal driven page by page while the three APIs run for real in-process
(the portal's API clients are TestClients of the service apps, so no ports): each
demo user logs in, sees their role's pages in Chinese, posts the forms and reads
the results; refusals come back as Chinese banners, never JSON."""

import re
from datetime import datetime, timedelta, timezone

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from services.common.config import get_settings
from services.demo import load_demo

pytestmark = pytest.mark.integration

PASSWORD = "xianjie-demo"
YAOAN = "532325000000"
NOW = datetime.now(timezone.utc)
DAY = timedelta(days=1)


def _portal(with_policies: bool, database_url, monkeypatch):
    monkeypatch.setenv("XIANJIE_DEMO_PASSWORD", PASSWORD)
    get_settings.cache_clear()
    load_demo(database_url, with_policies=with_policies)
    from services.alerts.api import app as alerts_app
    from services.assessment.api import app as assessment_app
    from services.portal.app import create_portal
    from services.tasks.api import app as tasks_app

    with TestClient(tasks_app) as t, TestClient(alerts_app) as a, TestClient(assessment_app) as s:
        portal = create_portal({"tasks": t, "alerts": a, "assessment": s})
        with TestClient(portal) as c:
            yield c


@pytest.fixture
def portal(database_url, monkeypatch):
    yield from _portal(False, database_url, monkeypatch)


@pytest.fixture
def db(database_url):
    with psycopg.connect(database_url, row_factory=dict_row, autocommit=True) as conn:
        yield conn


def login(client, username):
    client.cookies.clear()
    r = client.post("/login", data={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    assert "退出" in r.text
    return r


def banner(r) -> str:
    found = re.search(r'class="banner error"[^>]*>([^<]*)<', r.text)
    return found.group(1) if found else ""


def notice(r) -> str:
    found = re.search(r'class="banner notice"[^>]*>([^<]*)<', r.text)
    return found.group(1) if found else ""


def assert_no_json(r):
    assert "application/json" not in r.headers.get("content-type", "")
    assert '{"detail"' not in r.text and "Traceback" not in r.text


def unit(db, name) -> int:
    return db.execute("SELECT id FROM common.units WHERE region_code = %s AND (name = %s OR %s = ANY(aliases))",
                      (YAOAN, name, name)).fetchone()["id"]


def published_task(db, lead, *, title="开展技能培训", targets=None) -> int:
    doc = db.execute(
        """INSERT INTO tasks.policy_documents (region_code, title, filename, content_type, content, content_sha256,
                                               parsed, status, published_at)
           VALUES (%s, '姚安县2023年巩固脱贫成果工作要点', 'a.txt', 'text/plain', '\\x00', 'x', '{}', 'published', now())
           RETURNING id""", (YAOAN,)).fetchone()["id"]
    measure = db.execute(
        """INSERT INTO tasks.draft_measures (document_id, position, ref, title, text, lead_units, responsible_units)
           VALUES (%s, 0, '一.(一)', %s, %s, '{}', '{}') RETURNING id""", (doc, title, title)).fetchone()["id"]
    return db.execute(
        """INSERT INTO tasks.tasks (document_id, measure_id, region_code, ref, title, text, lead_units,
                                    responsible_units, lead_unit_ids, responsible_unit_ids, targets, deadlines)
           VALUES (%s, %s, %s, '一.(一)', %s, %s, '{}', '{}', %s, %s, %s, '[]') RETURNING id""",
        (doc, measure, YAOAN, title, f"{title}。全年培训脱贫劳动力1000人次以上。", [lead], [lead],
         Jsonb(targets or [])),
    ).fetchone()["id"]


def step(db, task, unit_id, period, due, *, status="open", overdue=False, label=None) -> int:
    return db.execute(
        """INSERT INTO tasks.steps (step_key, task_id, unit_id, kind, period, label, opened_at, due_at, status, overdue)
           VALUES (%s, %s, %s, 'monthly_report', %s, %s, %s, %s, %s, %s) RETURNING id""",
        (f"{task}:{unit_id}:{period}", task, unit_id, period, label or f"月报 ({period})", NOW - 10 * DAY,
         NOW + due, status, overdue),
    ).fetchone()["id"]


# ---------------------------------------------------------------- login, home, navigation

def test_login_refusals_are_chinese_banners_and_pages_need_a_login(portal):
    r = portal.get("/inbox", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/inbox"
    r = portal.post("/login", data={"username": "yaoan_rsj", "password": "wrong"})
    assert r.status_code == 401 and banner(r) == "用户名或密码不正确"
    assert_no_json(r)
    r = portal.post("/login", data={"username": "", "password": ""})
    assert banner(r) == "请输入用户名和密码"
    r = portal.post("/login", data={"username": "yaoan_rsj", "password": PASSWORD, "next": "//evil.example/x"},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"
    cookie = r.headers["set-cookie"]
    assert "xianjie_token=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    r = portal.post("/logout")
    assert notice(r) == "已退出登录"
    assert portal.get("/inbox", follow_redirects=False).status_code == 303


@pytest.mark.parametrize("username, sees, not_sees", [
    ("yaoan_rsj", ["待办", "县人力资源和社会保障局", "单位经办人"], ["政策文件", "批量导入"]),
    ("yaoan_office", ["政策文件", "办理进度", "通报", "县乡村振兴局"], ['href="/inbox"']),
    ("yaoan_leader", ["督办批示", "排名与红旗", "县领导/分管领导"], ["政策文件", 'href="/inbox"']),
    ("dongchuan_entry", ["农户", "批量导入", "数据录入员"], ["政策文件", "督办批示"]),
])
def test_home_page_and_navigation_follow_the_role(portal, username, sees, not_sees):
    r = login(portal, username)
    assert r.url.path == "/"
    for text in sees:
        assert text in r.text, text
    for text in not_sees:
        assert text not in r.text, text


# ---------------------------------------------------------------- 待办

def test_inbox_colours_urgency_pages_and_exports(portal, db):
    rsj = unit(db, "县人社局")
    task = published_task(db, rsj)
    overdue = step(db, task, rsj, "2023-01", -2 * DAY, overdue=True)
    soon = step(db, task, rsj, "2023-02", DAY)
    for month in range(3, 13):
        step(db, task, rsj, f"2023-{month:02d}", (30 + month) * DAY)
    for month in range(1, 13):
        step(db, task, rsj, f"2024-{month:02d}", (100 + month) * DAY)
    login(portal, "yaoan_rsj")
    r = portal.get("/inbox")
    assert r.status_code == 200
    rows = re.findall(r'<tr class="(\w+)">\s*<td>.*?</td>\s*<td><a href="/steps/(\d+)">', r.text, re.S)
    assert len(rows) == 20, "a page of 20"
    assert rows[0] == ("overdue", str(overdue)) and rows[1] == ("due_soon", str(soon)) and rows[2][0] == "normal"
    assert "共 24 条,第 1–20 条" in r.text and "下一页" in r.text
    r2 = portal.get("/inbox?offset=20")
    assert "第 21–24 条" in r2.text and "上一页" in r2.text and "下一页" not in r2.text
    assert portal.get("/inbox?overdue=true").text.count('<tr class="overdue">') == 1
    xlsx = portal.get("/files/tasks/api/inbox?status=&overdue=")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    assert "attachment" in xlsx.headers["content-disposition"]
    assert portal.get("/files/tasks/api/users").status_code == 404, "only the download routes pass"

    login(portal, "yaoan_nync")
    r = portal.get("/inbox")
    assert "没有符合条件的待办" in r.text and "/steps/" not in r.text


def test_step_page_shows_task_targets_and_refuses_another_units_step_in_chinese(portal, db):
    rsj = unit(db, "县人社局")
    task = published_task(db, rsj, targets=[{"indicator": "培训脱贫劳动力", "value": 1000, "unit": "人次",
                                             "comparator": ">=", "text": "全年培训1000人次"}])
    s = step(db, task, rsj, "2023-05", 5 * DAY)
    login(portal, "yaoan_rsj")
    r = portal.get(f"/steps/{s}")
    assert r.status_code == 200
    for text in ("月报 (2023-05)", "全年培训脱贫劳动力1000人次以上", "培训脱贫劳动力", "1000", "报送内容",
                 "申请延期", "还没有办理记录", "县人力资源和社会保障局"):
        assert text in r.text, text
    login(portal, "yaoan_nync")
    r = portal.get(f"/steps/{s}")
    assert r.status_code == 404 and banner(r).startswith("步骤") and "不存在" in banner(r)
    assert_no_json(r)
    assert "not found" not in r.text


def test_notifications_list_and_mark_read(portal, db):
    rsj = unit(db, "县人社局")
    nid = db.execute(
        """INSERT INTO tasks.notifications (unit_id, kind, title, body, at) VALUES (%s, 'reminder', '月报即将到期',
           '请于5日前报送', now()) RETURNING id""", (rsj,)).fetchone()["id"]
    login(portal, "yaoan_rsj")
    home = portal.get("/")
    assert re.search(r'通知</b><span class="count">1</span>', home.text)
    r = portal.get("/notifications")
    assert "月报即将到期" in r.text and "请于5日前报送" in r.text and "未读 1 条" in r.text
    r = portal.post(f"/notifications/{nid}/read")
    assert notice(r) == "已标记为已读" and "未读 0 条" in r.text
    login(portal, "yaoan_nync")
    assert "暂时没有通知" in portal.get("/notifications").text


# ---------------------------------------------------------------- office → department journey (real Temporal)

DOC = """姚安县就业帮扶工作要点
一、稳定就业
(一)开发公益岗位。全年开发公益岗位500个以上。(牵头单位:县人社局;责任单位:县人社局、县新设就业服务中心)
"""


@pytest.fixture
def live_portal(worker, database_url, monkeypatch):
    yield from _portal(False, database_url, monkeypatch)


def wait_for_step(db, kind, unit_id, timeout=30) -> int:
    import time

    deadline = time.monotonic() + timeout
    while True:
        row = db.execute("SELECT id FROM tasks.steps WHERE kind = %s AND unit_id = %s ORDER BY id LIMIT 1",
                         (kind, unit_id)).fetchone()
        if row:
            return row["id"]
        assert time.monotonic() < deadline, f"no {kind} step opened"
        time.sleep(0.3)


def test_office_publishes_a_policy_and_the_department_acknowledges_submits_and_resubmits(live_portal, db):
    p = live_portal
    login(p, "yaoan_office")
    assert "还没有政策文件" in p.get("/policies").text
    r = p.post("/policies", files={"file": ("要点.txt", b"", "text/plain")})
    assert banner(r) and "{" not in banner(r)
    r = p.post("/policies", files={"file": ("要点.txt", DOC.encode(), "text/plain")})
    assert r.status_code == 200 and "已解析出 1 条措施" in notice(r)
    doc_id = int(r.url.path.rsplit("/", 1)[1])
    assert "开发公益岗位" in r.text and "县新设就业服务中心" in r.text and "待确认的单位" in r.text
    assert "(牵头单位:县人社局" in r.text, "the original beside the measures"
    r = p.post(f"/policies/{doc_id}/units/confirm", data={"name": "县新设就业服务中心", "unit_id": "", "kind": "department"})
    assert "已确认单位" in notice(r) and "待确认的单位" not in r.text
    measure = int(re.search(r'id="m(\d+)"', r.text).group(1))
    r = p.post(f"/policies/{doc_id}/measures/{measure}", data={"title": "开发乡村公益岗位", "text": "", "lead_units": "县人社局",
                                                               "responsible_units": "县人社局、县新设就业服务中心"})
    assert notice(r) == "措施已保存" and "开发乡村公益岗位" in r.text and "已修改" in r.text
    r = p.post(f"/policies/{doc_id}/publish")
    assert "已发布,生成 1 项任务" in notice(r) and "已发布" in r.text
    r = p.post(f"/policies/{doc_id}/publish")
    assert "生成 0 项任务" in notice(r) or banner(r), "publishing twice creates nothing new"

    rsj = unit(db, "县人社局")
    ack = wait_for_step(db, "acknowledge", rsj)
    login(p, "yaoan_rsj")
    r = p.get(f"/steps/{ack}")
    assert "确认本单位已收到此任务" in r.text
    r = p.post(f"/steps/{ack}/acknowledge", data={"idempotency_key": "k-ack"})
    assert notice(r) == "已签收" and "已通过" in r.text and "签收" in r.text

    monthly = wait_for_step(db, "monthly_report", rsj)
    r = p.post(f"/steps/{monthly}/submit", data={"text": "", "idempotency_key": "k-empty"})
    assert r.status_code == 409 and "报送内容" in banner(r)
    assert_no_json(r)
    r = p.post(f"/steps/{monthly}/submit", data={"text": "本月开发岗位50个", "progress": "abc", "idempotency_key": "k-bad"})
    assert banner(r) == "进度请填写 0 到 100 之间的整数"
    r = p.post(f"/steps/{monthly}/submit", data={"text": "本月开发岗位50个", "progress": "40", "idempotency_key": "k-1"},
               files={"attachment": ("台账.txt", "岗位台账".encode(), "text/plain")})
    assert notice(r) == "已报送,等待审核" and "本月开发岗位50个" in r.text and "进度:40%" in r.text
    attachment = re.search(r'href="(/files/tasks/api/attachments/\d+)"', r.text).group(1)
    assert p.get(attachment).content == "岗位台账".encode()

    login(p, "yaoan_office")
    r = p.post(f"/steps/{monthly}/return", data={"text": "", "idempotency_key": "k-r0"})
    assert "意见" in banner(r)
    r = p.post(f"/steps/{monthly}/return", data={"text": "请补充岗位名单", "idempotency_key": "k-r1"})
    assert notice(r).startswith("已退回")
    r = p.get("/progress")
    assert "县人力资源和社会保障局" in r.text and 'id="chart"' in r.text and "/static/vendor/echarts.min.js" in r.text

    login(p, "yaoan_rsj")
    r = p.get(f"/steps/{monthly}")
    assert "已退回" in r.text and "请补充岗位名单" in r.text and "报送内容" in r.text, "the form is offered again"
    r = p.post(f"/steps/{monthly}/submit", data={"text": "补充岗位名单:保洁30个、护林20个", "idempotency_key": "k-2"})
    assert notice(r) == "已报送,等待审核" and "补充岗位名单" in r.text
    history = r.text.split("办理记录", 1)[1]
    assert "请补充岗位名单" in history and history.count("<tr>") >= 4
