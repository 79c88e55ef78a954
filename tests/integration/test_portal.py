"""The web portal driven page by page while the three APIs run for real in-process
(the portal's API clients are TestClients of the service apps, so no ports): each
demo user logs in, sees their role's pages in Chinese, posts the forms and reads
the results; refusals come back as Chinese banners, never JSON."""

import html
import io
import re
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from services.common.config import get_settings
from services.demo import load_demo

pytestmark = pytest.mark.integration

PASSWORD = "xianjie-demo"
YAOAN = "532325000000"
NOW = datetime.now(UTC)
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
    rows = re.findall(r'<tr class="(\w+)">\s*<td>.*?</td>\s*<td><a href="/steps/(\d+)">', r.text, re.DOTALL)
    assert len(rows) == 20, "a page of 20"
    assert rows[0] == ("overdue", str(overdue)) and rows[1] == ("due_soon", str(soon)) and rows[2][0] == "normal"
    assert "共 24 条,第 1–20 条" in r.text and "下一页" in r.text
    r2 = portal.get("/inbox?offset=20")
    assert "第 21–24 条" in r2.text and "上一页" in r2.text and "下一页" not in r2.text
    assert portal.get("/inbox?overdue=true").text.count('<tr class="overdue">') == 1
    xlsx = portal.get("/files/tasks/api/inbox?status=&overdue=")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    assert "attachment" in xlsx.headers["content-disposition"]
    for path in ("/files/tasks/api/regions", "/files/tasks/api/me", "/files/tasks/api/steps/1", "/files/nowhere/api/inbox"):
        assert portal.get(path).status_code == 404, f"only the download routes pass: {path}"

    login(portal, "yaoan_nync")
    r = portal.get("/inbox")
    assert "没有符合条件的待办" in r.text and "/steps/" not in r.text


def test_the_office_finds_what_waits_for_its_review(portal, db):
    rsj = unit(db, "县人社局")
    task = published_task(db, rsj)
    waiting = step(db, task, rsj, "2023-03", -DAY, status="submitted")
    step(db, task, rsj, "2023-04", 10 * DAY)
    login(portal, "yaoan_office")
    assert "待审核" in portal.get("/").text
    r = portal.get("/reviews")
    assert r.status_code == 200
    assert re.findall(r'<a href="/steps/(\d+)">', r.text) == [str(waiting)]
    assert "县人力资源和社会保障局" in r.text and "审核报送材料" in r.text
    assert 'href="/files/tasks/api/reviews"' in r.text
    xlsx = portal.get("/files/tasks/api/reviews")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    ws = load_workbook(io.BytesIO(xlsx.content)).active
    assert ws.max_row == 2 + 1 and ws["B3"].value == "县人力资源和社会保障局"
    login(portal, "yaoan_nync")
    r = portal.get("/reviews")
    assert r.status_code == 403 and "无权" in r.text
    assert_no_json(r)


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
    assert 'href="/files/tasks/api/notifications?unread="' in r.text
    xlsx = portal.get("/files/tasks/api/notifications?unread=")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    assert load_workbook(io.BytesIO(xlsx.content)).active["C3"].value == "月报即将到期"
    r = portal.post(f"/notifications/{nid}/read")
    assert notice(r) == "已标记为已读" and "未读 0 条" in r.text
    assert 'href="/files/tasks/api/notifications?unread=true"' in portal.get("/notifications?unread=true").text
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
    parsed_targets = html.unescape(re.search(r'<textarea name="targets">([^<]*)</textarea>', r.text).group(1)).strip()
    assert parsed_targets.startswith("开发公益岗位 >= 500"), "the parsed target shown as a line"
    edit = {"title": "开发乡村公益岗位", "text": "", "lead_units": "县人社局", "responsible_units": "县人社局、县新设就业服务中心",
            "targets": parsed_targets + "\n培训岗位人员", "deadlines": "2023-12-31"}
    r = p.post(f"/policies/{doc_id}/measures/{measure}", data=edit)
    assert r.status_code == 422 and banner(r).startswith("目标第 2 行“培训岗位人员”看不懂")
    r = p.post(f"/policies/{doc_id}/measures/{measure}", data={**edit, "targets": parsed_targets + "\n培训岗位人员 ≥ 100 人"})
    assert notice(r) == "措施已保存" and "开发乡村公益岗位" in r.text and "已修改" in r.text
    shown = html.unescape(re.search(r'<textarea name="targets">([^<]*)</textarea>', r.text).group(1)).split("\n")
    assert [line for line in shown if line] == [parsed_targets, "培训岗位人员 >= 100 人"]
    assert re.search(r'<textarea name="deadlines">2023-12-31\n</textarea>', r.text)
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
    due = db.execute("SELECT (due_at AT TIME ZONE 'Asia/Shanghai')::date AS d FROM tasks.steps WHERE id = %s",
                     (monthly,)).fetchone()["d"]
    later = (due + timedelta(days=10)).isoformat()
    r = p.post(f"/steps/{monthly}/request-extension", data={"text": "数据汇总需要时间", "new_due_date": later,
                                                            "idempotency_key": "k-ext"})
    assert notice(r) == "延期申请已提交" and "已申请延期,等待办公室审核" in r.text
    login(p, "yaoan_office")
    r = p.post(f"/steps/{monthly}/grant-extension", data={"new_due_date": "", "idempotency_key": "k-grant"})
    assert notice(r) == "已同意延期" and later in r.text and "已申请延期" not in r.text
    login(p, "yaoan_rsj")
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


# ---------------------------------------------------------------- leader

def test_leader_instructs_on_an_escalation_and_the_unit_sees_the_instruction(portal, db):
    rsj = unit(db, "县人社局")
    task = published_task(db, rsj)
    late = step(db, task, rsj, "2023-04", -3 * DAY, overdue=True)
    db.execute("""INSERT INTO tasks.escalations (step_id, level, to_role, region_code, at)
                  VALUES (%s, 2, 'leader', %s, now() - interval '1 day')""", (late, YAOAN))
    login(portal, "yaoan_leader")
    assert re.search(r'督办批示</b><span class="count">1</span>', portal.get("/").text)
    r = portal.get("/escalations")
    assert re.search(r"县人力资源和社会保障局:<a href=\"/steps/\d+\">月报 \(2023-04\)</a>", r.text) and "2 级督办" in r.text
    esc = int(re.search(r'action="/escalations/(\d+)/instruction"', r.text).group(1))
    r = portal.post(f"/escalations/{esc}/instruction", data={"text": "  "})
    assert r.status_code == 422 and banner(r) == "请填写批示内容"
    r = portal.post(f"/escalations/{esc}/instruction", data={"text": "请三日内补报并说明原因"})
    assert notice(r) == "批示已送达责任单位" and "请三日内补报并说明原因" in r.text
    assert "没有督办事项" in portal.get("/escalations?pending=true").text
    assert portal.get("/files/tasks/api/escalations?pending_instruction=").content[:2] == b"PK"

    login(portal, "yaoan_rsj")
    r = portal.get(f"/steps/{late}")
    assert "督办与批示" in r.text and "请三日内补报并说明原因" in r.text


def test_rankings_red_flags_and_the_score_explanation(portal, db):
    import uuid

    rsj, czj = unit(db, "县人力资源和社会保障局"), unit(db, "县财政局")
    rows = [(rsj, "step_due", s) for s in range(5)] + [(rsj, "step_on_time", s) for s in range(5)]
    rows += [(czj, "step_due", 20), (czj, "step_overdue", 20), (czj, "step_escalated", 20)]
    with db.cursor() as cur:
        cur.executemany(
            """INSERT INTO assessment.facts (unit_id, region_code, period, kind, value, event_ids, task_id, step_id,
                                             ref, occurred_at) VALUES (%s, %s, '2023-03', %s, 1, %s, 1, %s, %s, now())""",
            [(u, YAOAN, kind, [uuid.uuid4()], s, f"任务1 · 步骤{s}") for u, kind, s in rows])
    login(portal, "yaoan_leader")
    assert "本年度还没有考核数据" in portal.get("/overview?year=2022").text
    r = portal.get("/overview?year=2023")
    assert "2023 年考核排名与红旗" in r.text
    flags = r.text.split("红旗单位", 1)[1].split("排名", 1)[0]
    assert "县财政局" in flags and "被督办" in flags and "县人力资源和社会保障局" not in flags
    ranking = r.text.split("<h2>排名</h2>", 1)[1]
    assert ranking.index("县人力资源和社会保障局") < ranking.index("县财政局")
    assert 'id="trend"' in r.text
    r = portal.get(f"/scores/{rsj}/2023")
    assert "得分说明 · 2023" in r.text and "总分" in r.text and "<td>" in r.text
    r = portal.get(f"/scores/{rsj}/2023-05")
    assert r.status_code == 404 and "没有考核记录" in banner(r) and "no facts" not in r.text
    assert portal.get(f"/scores/{rsj}/20x9").status_code == 422


# ---------------------------------------------------------------- data entry

def test_households_are_listed_masked_and_paged(database_url, monkeypatch):
    for p in _portal(True, database_url, monkeypatch):
        login(p, "dongchuan_entry")
        r = p.get("/households")
        assert "共 170 条,第 1–20 条" in r.text and "下一页" in r.text
        assert r.text.count('<a href="/households/') >= 20
        r = p.get("/households?q=蔡文")
        hid = int(re.search(r'<a href="/households/(\d+)">', r.text).group(1))
        page = p.get(f"/households/{hid}")
        assert "蔡文 户" in page.text and "各期数据" in page.text and "栋川东村" in page.text
        assert "没有找到农户" in p.get("/households?q=不存在的人").text
        assert p.get("/files/alerts/api/households/export.xlsx").content[:2] == b"PK"


def test_import_with_one_bad_row_shows_progress_and_the_error_file(portal, db):
    import io

    from openpyxl import Workbook, load_workbook

    headers = ["户编号", "村代码", "户主姓名", "户主证件号码", "户类型", "家庭人口数", "期间", "人均纯收入（元）"]
    wb = Workbook()
    ws = wb.active
    ws.append(headers)
    ws.append(["5323251002019001", "532325100201", "张三", "11010519491231002X", "脱贫户", 4, "2023", 8000])
    ws.append(["5323251002019002", "532325100201", "李四", "11010519491231002X", "脱贫户", 3, "2023", -5])
    out = io.BytesIO()
    wb.save(out)

    login(portal, "dongchuan_entry")
    r = portal.get("/households/import")
    assert "下载导入模板" in r.text
    template = portal.get("/files/alerts/api/households/template.xlsx")
    assert template.status_code == 200 and template.content[:2] == b"PK"
    r = portal.post("/households/import", data={})
    assert r.status_code == 422 and banner(r) == "请选择要导入的文件(.xlsx .xls .csv)"
    r = portal.post("/households/import", files={"file": ("农户.txt", b"not a workbook", "text/plain")})
    assert r.status_code >= 400 and banner(r) and "{" not in banner(r)
    r = portal.post("/households/import", files={"file": ("农户.xlsx", out.getvalue(), "application/octet-stream")})
    assert r.status_code == 200 and r.url.path.startswith("/import-jobs/")
    assert "已完成" in r.text and "已导入 1 行,有错误 1 行" in r.text and "不能为负数" in r.text
    error_file = re.search(r'href="(/files/alerts/api/import-jobs/\d+/errors\.xlsx)"', r.text).group(1)
    sheet = load_workbook(io.BytesIO(portal.get(error_file).content)).active
    assert any("不能为负数" in str(c.value) for row in sheet.iter_rows() for c in row if c.value)
    assert "张三" in portal.get("/households?q=张三").text

    login(portal, "yaoan_rsj")
    r = portal.get("/files/alerts/api/households/template.xlsx")
    assert r.status_code == 403 and banner(r) == "无权操作:需要角色 数据录入员、领导小组办公室管理员"


def test_household_form_shows_field_errors_beside_the_field_and_saves(portal):
    login(portal, "dongchuan_entry")
    r = portal.get("/households/new")
    assert "栋川东村(532325100201)" in r.text
    form = {"household_no": "5323251002018001", "village_code": "532325100201", "head_name": "王五",
            "head_id_number": "110105194912310021", "category": "脱贫户", "members": "3", "labourers": "x"}
    r = portal.post("/households/new", data=form)
    assert r.status_code == 422 and banner(r) == "请按提示改正标红的项目"
    assert re.search(r'name="labourers"[^>]*>\s*<div class="field-error">请填写整数</div>', r.text)
    assert 'value="王五"' in r.text, "what was typed is kept"
    r = portal.post("/households/new", data={**form, "labourers": "1"})
    assert r.status_code == 422 and "校验位" in banner(r)
    assert re.search(r'name="head_id_number"[^>]*>\s*<div class="field-error">[^<]*校验位', r.text)
    r = portal.post("/households/new", data={**form, "labourers": "1", "head_id_number": "11010519491231002X",
                                             "no_labour_capacity": "是"})
    assert banner(r) == "填写的内容有误:整户无劳动能力的家庭劳动力人数应为0"
    r = portal.post("/households/new", data={**form, "labourers": "0", "head_id_number": "11010519491231002X",
                                             "no_labour_capacity": "是"})
    assert notice(r) == "已保存", (r.status_code, banner(r), r.url)
    assert "王五 户" in r.text and "11010519491231002X" not in r.text, "masked"
    household = r.url.path
    r = portal.post(f"{household}/records", data={"period": "2023-13", "per_capita_income": "6500"})
    assert r.status_code == 422 and re.search(r'name="period"[^>]*>\s*<div class="field-error">期间应写作', r.text)
    r = portal.post(f"{household}/records", data={"period": "2023", "per_capita_income": "六千"})
    assert re.search(r'name="per_capita_income"[^>]*>\s*<div class="field-error">请填写数字', r.text)
    r = portal.post(f"{household}/records", data={"period": "2023", "per_capita_income": "6500", "housing_ok": "否"})
    assert notice(r) == "2023 的数据已保存" and "<td>6500.0</td>" in r.text

    login(portal, "yaoan_rsj")
    r = portal.post("/households/new", data={**form, "labourers": "1", "head_id_number": ""})
    assert r.status_code == 403 and "无权操作" in banner(r)


# ---------------------------------------------------------------- the office's registers

def test_ledger_import_view_and_export_users_units_and_audit(portal):
    from openpyxl import Workbook

    def xlsx(rows):
        wb = Workbook()
        for row in rows:
            wb.active.append(row)
        out = io.BytesIO()
        wb.save(out)
        return out.getvalue()

    header = ["序号", "存在问题", "整改举措", "责任单位", "责任人", "整改时限", "任务清单", "整改进展"]
    login(portal, "yaoan_office")
    assert "还没有整改台账" in portal.get("/ledgers").text
    bad = xlsx([["2026年成效考核反馈问题整改台账"], header, [1, "", "完善利益联结机制", "县农业农村局", "李四", "2026年12月31日"]])
    r = portal.post("/ledgers", files={"file": ("台账.xlsx", bad, "application/octet-stream")}, data={"source": "考核反馈"})
    assert r.status_code == 422 and banner(r).startswith("台账有 1 处错误,未导入任何内容。第 3 行“存在问题”")
    good = xlsx([["2026年成效考核反馈问题整改台账"], header,
                 [1, "产业帮扶项目联农带农机制不健全", "完善利益联结机制", "县农业农村局", "李四", "2026年12月31日", "制定办法", "已起草"]])
    r = portal.post("/ledgers", files={"file": ("台账.xlsx", good, "application/octet-stream")}, data={"source": "考核反馈"})
    assert notice(r) == "台账已导入,核对后发布" and "产业帮扶项目联农带农机制不健全" in r.text and "县农业农村局" in r.text
    export = re.search(r'href="(/files/tasks/api/ledgers/\d+/export)"', r.text).group(1)
    assert portal.get(export).content[:2] == b"PK"
    assert "考核反馈" in portal.get("/ledgers").text

    r = portal.get("/users")
    assert "yaoan_rsj" in r.text and "县人力资源和社会保障局" in r.text and "第 1–" in r.text
    rsj = re.search(r'<option value="(\d+)" >县人力资源和社会保障局</option>', r.text).group(1)
    new_user = {"username": "rsj_clerk2", "full_name": "李会计", "unit_id": rsj, "roles": ["unit_staff"],
                "password": "short"}
    r = portal.post("/users", data=new_user)
    assert r.status_code == 422 and re.search(r'name="password"[^>]*>\s*<div class="field-error">', r.text)
    assert 'value="rsj_clerk2"' in r.text and 'value="unit_staff" checked' in r.text
    r = portal.post("/users", data={**new_user, "password": "a-long-password"})
    assert notice(r) == "已新增用户 rsj_clerk2"
    clerk = re.search(r'<td>rsj_clerk2</td>.*?action="/users/(\d+)/disabled"', r.text, re.DOTALL).group(1)
    r = portal.post(f"/users/{clerk}/disabled", data={"disabled": "true"})
    assert notice(r) == "已停用" and re.search(r'<td>rsj_clerk2</td>.*?<td>已停用</td>', r.text, re.DOTALL)
    r = portal.post("/login", data={"username": "rsj_clerk2", "password": "a-long-password"})
    assert banner(r), "a disabled user cannot log in"
    login(portal, "yaoan_office")
    r = portal.get("/units?q=县扶贫办")
    assert "县乡村振兴局" in r.text
    assert 'href="/files/tasks/api/units?q=%E5%8E%BF%E6%89%B6%E8%B4%AB%E5%8A%9E"' in r.text
    units = load_workbook(io.BytesIO(portal.get("/files/tasks/api/units?q=县扶贫办").content)).active
    assert [row[2] for row in units.iter_rows(min_row=3, values_only=True)] == ["县乡村振兴局"]
    r = portal.get("/audit?username=yaoan_office")
    assert "auth.login" in r.text and "ledger" in r.text
    link = html.unescape(re.search(r'href="(/files/tasks/api/audit\?[^"]*)"', r.text).group(1))
    assert link == "/files/tasks/api/audit?username=yaoan_office&action="
    ws = load_workbook(io.BytesIO(portal.get(link).content)).active
    assert {row[2] for row in ws.iter_rows(min_row=3, values_only=True)} == {"yaoan_office"}
    users = load_workbook(io.BytesIO(portal.get("/files/tasks/api/users").content)).active
    assert "rsj_clerk2" in {row[1] for row in users.iter_rows(min_row=3, values_only=True)}

    login(portal, "yaoan_rsj")
    r = portal.get("/audit")
    assert r.status_code == 403 and "无权操作" in banner(r)


def test_unknown_pages_wrong_methods_and_expired_logins_never_show_json(portal):
    login(portal, "yaoan_rsj")
    for path in ("/no-such-page", "/steps/abc", "/steps/1/acknowledge"):
        r = portal.get(path)
        assert r.status_code in (404, 405) and banner(r) in ("没有这个页面,请从导航进入", "这个页面不能这样打开,请从导航进入")
        assert_no_json(r)
    portal.cookies.set("xianjie_token", "expired-or-forged", domain="testserver.local")
    r = portal.post("/steps/1/submit", data={"text": "x"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/"
    r = portal.get("/inbox?status=open", follow_redirects=False)
    assert r.headers["location"] == "/login?next=/inbox%3Fstatus%3Dopen"
    r = portal.post("/login", data={"username": "yaoan_rsj", "password": PASSWORD, "next": "/inbox?status=open"})
    assert r.url.path == "/inbox" and "本单位待办" in r.text


# ---------------------------------------------------------------- over real HTTP, as `xianjie dev` runs it

def test_the_portal_calls_the_apis_over_http_and_says_when_one_is_down(database_url, monkeypatch):
    import socket
    import threading
    import time

    import uvicorn

    monkeypatch.setenv("XIANJIE_DEMO_PASSWORD", PASSWORD)
    get_settings.cache_clear()
    load_demo(database_url, with_policies=False)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    from services.tasks.api import app as tasks_app

    server = uvicorn.Server(uvicorn.Config(tasks_app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "tasks API did not start"
        time.sleep(0.05)
    monkeypatch.setenv("XIANJIE_PORTAL_TASKS_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("XIANJIE_PORTAL_ALERTS_URL", "http://127.0.0.1:9")  # nothing listens there
    get_settings.cache_clear()
    try:
        from services.portal.app import create_portal

        with TestClient(create_portal()) as p:
            login(p, "yaoan_rsj")
            assert "本单位待办" in p.get("/inbox").text
            r = p.get("/alerts")
            assert r.status_code == 503 and banner(r) == "系统暂时无法连接,请稍后再试;如一直如此,请联系管理员"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_rules_in_force_and_silences(portal):
    login(portal, "yaoan_office")
    r = portal.get("/rules?year=2023")
    assert "2023 年预警规则" in r.text and "防止返贫监测线" in r.text and "<td>严重</td>" in r.text
    assert "当前没有生效的静默" in portal.get("/silences").text
    r = portal.post("/silences", data={"rule_id": "", "subject_key": "", "reason": "核实中", "days": "30"})
    assert r.status_code == 422 and banner(r) == "填写的内容有误:请指定规则或户编号"
    assert 'value="30"' in r.text and "核实中" in r.text
    r = portal.post("/silences", data={"rule_id": "", "subject_key": "5323251002010000", "reason": "已核实为误报",
                                       "days": "30"})
    assert notice(r) == "静默已生效" and "5323251002010000" in r.text and "已核实为误报" in r.text
    silence = re.search(r'action="/silences/(\d+)/expire"', r.text).group(1)
    r = portal.post(f"/silences/{silence}/expire")
    assert notice(r) == "静默已结束"  # the API keeps a silence at least one second: no listing check here


def test_alerts_list_and_counts_by_township(portal, db):
    def group(no, village, severity, status):
        g = db.execute(
            """INSERT INTO alerts.alert_groups (subject_key, village_code, township_code, county_code, period, severity,
                                                status) VALUES (%s, %s, %s, %s, '2023', %s, %s) RETURNING id""",
            (no, village, village[:9] + "000", YAOAN, severity, status)).fetchone()["id"]
        db.execute("""INSERT INTO alerts.alerts (group_id, subject_key, rule_id, rule_name, cause, severity, period, status)
                      VALUES (%s, %s, 'income_below_line', '人均纯收入低于监测线', '因病', %s, '2023', 'firing')""",
                   (g, no, severity))

    group("5323251002010001", "532325100201", "critical", "open")
    group("5323251002010002", "532325100201", "warning", "resolved")
    group("5323251012010001", "532325101201", "warning", "open")
    login(portal, "yaoan_leader")
    r = portal.get("/alerts")
    assert "人均纯收入低于监测线(因病)" in r.text and "共 3 条" in r.text and "<td>严重</td>" in r.text
    assert "共 2 条" in portal.get("/alerts?status=open").text
    r = portal.get("/alerts/townships")
    rows = re.findall(r"<tr[^>]*><td>([^<]+)</td><td>(\d+)</td><td>(\d+)</td><td>(\d+)</td></tr>", r.text)
    assert rows[:2] == [("栋川镇", "1", "1", "2"), ("光禄镇", "1", "0", "1")]
    assert all(row[1:] == ("0", "0", "0") for row in rows[2:]) and len(rows) >= 9
    assert portal.get("/files/alerts/api/alerts/export.xlsx").content[:2] == b"PK"
    login(portal, "yaoan_nync")
    assert "没有预警" in portal.get("/alerts").text, "a unit sees the alerts routed to it"


def test_office_generates_views_and_downloads_a_bulletin(live_portal, db):
    import uuid

    rsj, czj = unit(db, "县人力资源和社会保障局"), unit(db, "县财政局")
    rows = [(rsj, "step_due", s) for s in range(3)] + [(rsj, "step_on_time", s) for s in range(3)]
    rows += [(czj, "step_due", 20), (czj, "step_overdue", 20)]
    with db.cursor() as cur:
        cur.executemany(
            """INSERT INTO assessment.facts (unit_id, region_code, period, kind, value, event_ids, task_id, step_id,
                                             ref, occurred_at) VALUES (%s, %s, '2023-03', %s, 1, %s, 1, %s, %s, now())""",
            [(u, YAOAN, kind, [uuid.uuid4()], s, f"任务1 · 步骤{s}") for u, kind, s in rows])
    p = live_portal
    login(p, "yaoan_office")
    assert "还没有通报" in p.get("/bulletins").text
    r = p.post("/bulletins", data={"kind": "quarterly", "period": "2023-03"})
    assert r.status_code == 422 and "不符" in banner(r)
    r = p.post("/bulletins", data={"kind": "monthly", "period": "2023-03"})
    assert notice(r) == "通报已生成,点到的单位将收到通知"
    assert "县人力资源和社会保障局" in r.text and "县财政局" in r.text and "月通报" in r.text
    xlsx = re.search(r'href="(/files/assessment/api/bulletins/\d+/xlsx)"', r.text).group(1)
    assert p.get(xlsx).content[:2] == b"PK"
    printable = p.get(xlsx.replace("/xlsx", "/html"))
    assert printable.status_code == 200 and "县财政局" in printable.text
    assert "2023-03" in p.get("/bulletins").text
    login(p, "yaoan_leader")
    assert "2023-03" in p.get("/bulletins").text and 'action="/bulletins"' not in p.get("/bulletins").text


def test_xianjie_dev_starts_the_portal_and_prints_its_address():
    from services.common.config import Settings
    from services.common.devstack.dev import _status_checks, dev_processes, summary

    s = Settings()
    procs = dev_processes(s=s)
    assert procs["portal"].endswith("-m services.portal")
    assert "portal" not in dev_processes(infra_only=True, s=s)
    assert f"http://{s.bind_host}:{s.portal_port}" in summary(s, 1.0, infra_only=False)
    assert "portal" in _status_checks(s, infra_only=False)
