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
