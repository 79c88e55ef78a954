"""The portal's pages for alert cases (预警个案) driven page by page while the three APIs
run in-process and the case workflows on the Temporal dev server with a real worker:
the list with SLA colours, a case's page with the forms the API allows the viewer,
each refusal (the portal's own check, the API's 403/409/422) shown in Chinese beside
its form and never as JSON, the printable 公示, and the leaders' counts by township."""

import asyncio
import re
from datetime import datetime, timedelta

import psycopg
import pytest
from alert_cases import HEAD_ID, PHONE, raise_alert, start_cases
from fastapi.testclient import TestClient
from psycopg.rows import dict_row

from services.alerts.case_deadlines import TZ
from services.common.config import get_settings
from services.common.excel import XLSX_MEDIA_TYPE

pytestmark = pytest.mark.integration

PASSWORD = "xianjie-demo"
DONGCHUAN = "532325100000"  # 栋川镇


def _portal(database_url, monkeypatch):
    monkeypatch.setenv("XIANJIE_DEMO_PASSWORD", PASSWORD)
    get_settings.cache_clear()
    from services.alerts.api import app as alerts_app
    from services.assessment.api import app as assessment_app
    from services.portal.app import create_portal
    from services.tasks.api import app as tasks_app

    with (TestClient(tasks_app) as t, TestClient(alerts_app) as a, TestClient(assessment_app) as s,
          TestClient(create_portal({"tasks": t, "alerts": a, "assessment": s})) as c):
        yield c


@pytest.fixture
def portal(database_url, monkeypatch):
    yield from _portal(database_url, monkeypatch)


@pytest.fixture
def live_portal(worker, database_url, monkeypatch):
    yield from _portal(database_url, monkeypatch)


@pytest.fixture
def db(database_url):
    with psycopg.connect(database_url, row_factory=dict_row, autocommit=True) as conn:
        yield conn


def login(client, username):
    client.cookies.clear()
    r = client.post("/login", data={"username": username, "password": PASSWORD})
    assert r.status_code == 200 and "退出" in r.text, r.text
    return r


def banner(r) -> str:
    found = re.search(r'class="banner error"[^>]*>([^<]*)<', r.text)
    return found.group(1) if found else ""


def notice(r) -> str:
    found = re.search(r'class="banner notice"[^>]*>([^<]*)<', r.text)
    return found.group(1) if found else ""


def refusal(r) -> str:
    """The reason shown beside the refused form."""
    found = re.search(r'class="refusal"[^>]*>未能办理:([^<]*)<', r.text)
    return found.group(1) if found else ""


def assert_no_json(r):
    assert "application/json" not in r.headers.get("content-type", "")
    assert '{"detail"' not in r.text and '"errors"' not in r.text and "Traceback" not in r.text


def list_rows(r) -> list[tuple[str, str, str]]:
    """(row class, case id, SLA label) of each row of the case list."""
    return re.findall(r'<tr class="(\w*)">\s*<td>(?:<span class="tag sla-\w+">(\S+)</span>)?.*?<a href="/cases/(\d+)">',
                      r.text, re.DOTALL)


def wait_until(db, sql, *params, timeout=30):
    import time

    deadline = time.monotonic() + timeout
    while not db.execute(sql, params).fetchone():
        assert time.monotonic() < deadline, sql
        time.sleep(0.3)


# ---------------------------------------------------------------- how the pages word things (no servers)

def test_deadlines_amounts_and_timeline_lines_as_people_read_them():
    from services.portal.case_pages import amount, event_summary
    from services.portal.views import deadline

    assert deadline("2026-12-24T16:00:00+00:00") == "2026-12-24 24:00", "the midnight after the due day"
    assert deadline("2026-12-24T03:30:00+00:00") == "2026-12-24 11:30" and deadline(None) == ""
    assert (amount(9600.0), amount(9600.5), amount(0), amount(None)) == ("9600", "9600.5", "0", "—")
    assert event_summary({"visited_on": "2026-11-20", "visitors": ["张三", "李四"], "proposed": False,
                          "text": "收入下降", "attachments": ["7"]}) == (
        "日期 2026-11-20;人员:张三、李四;不拟公示,直接报县级认定;收入下降")
    assert event_summary({"level": 2, "to": "leader", "at": "2026-11-20T00:00:00+08:00"}) == "2 级督办至县分管领导"
    assert event_summary({"period": "2023", "severity": "critical", "group_id": 3}) == "预警期间 2023(严重)"


def test_a_measure_line_half_filled_is_refused_and_blank_lines_skipped():
    from starlette.datastructures import FormData

    from services.portal.backend import ApiError
    from services.portal.case_form import plan_body, visit_body

    def lines(*rows):
        return FormData([(k, v) for row in rows for k, v in zip(("kind", "unit_id", "due_date", "content"), row)])

    assert plan_body(lines(("employment", "12", "2026-12-24", "公益岗位"), ("", "", "", ""))) == {
        "measures": [{"kind": "employment", "unit_id": 12, "due_date": "2026-12-24", "content": "公益岗位"}]}
    for rows, message in ((lines(("", "", "", "")), "请至少填写一项帮扶措施"),
                          (lines(("", "", "", ""), ("", "12", "", "")), "第2项措施请选择措施类型"),
                          (lines(("water", "县水务局", "2026-12-24", "改水")), "第1项措施请从列表中选择责任单位")):
        with pytest.raises(ApiError) as refused:
            plan_body(rows)
        assert refused.value.status == 422 and refused.value.message == message
    with pytest.raises(ApiError) as refused:
        visit_body({"visited_on": "2026-11-20", "income": "九千"})
    assert refused.value.fields == {"income": "家庭人均纯收入请填写数字(元)"}


# ---------------------------------------------------------------- without cases

def test_empty_lists_say_what_to_do_and_only_the_notice_of_a_case_downloads(portal):
    login(portal, "yaoan_rsj")
    home = portal.get("/")
    assert 'href="/cases"' in home.text and "预警个案" in home.text and 'href="/cases/townships"' not in home.text
    r = portal.get("/cases")
    assert r.status_code == 200 and "本单位没有承办中的预警个案" in r.text and "「待办」" in r.text
    assert 'href="/files/alerts/api/cases?mine=true"' in r.text, "a unit exports the cases it handles"
    assert "没有符合条件的预警个案" in portal.get("/cases?mine=false").text
    login(portal, "yaoan_leader")
    r = portal.get("/cases/townships")
    assert r.status_code == 200 and "辖区内还没有预警个案" in r.text
    rows = re.findall(r'<a href="/cases\?township=(\d{12})&amp;mine=false">([^<]+)</a>', r.text)
    assert len(rows) >= 9 and ("532325100000", "栋川镇") in rows, "every township, none left out for having no case"
    assert re.search(r'<tr class="total"><td><b>合计</b></td>\s*<td class="inline" data-label="办理中">0</td>', r.text)
    assert 'href="/files/alerts/api/cases?"' in portal.get("/cases").text, "the leader exports the whole list"
    export = portal.get("/files/alerts/api/cases")
    assert export.status_code == 200 and export.headers["content-type"] == XLSX_MEDIA_TYPE, "the list as Excel"
    for path in ("/files/alerts/api/cases/1", "/files/alerts/api/cases/1/verify"):
        assert portal.get(path).status_code == 404, path
    r = portal.get("/cases/999999")
    assert r.status_code == 404 and "不存在" in banner(r)
    assert_no_json(r)
    r = portal.post("/cases/999999/launch", data={})
    assert r.status_code == 404 and banner(r) == "没有这项操作"


def test_a_long_list_is_paged_red_first_and_filtered(portal, db, temporal_address, monkeypatch):
    """Cases as the read model holds them (no workflow behind them: an action is refused, in Chinese)."""
    monkeypatch.setenv("TEMPORAL_ADDRESS", temporal_address)
    get_settings.cache_clear()
    township_unit = db.execute("SELECT id FROM common.units WHERE region_code = %s AND kind = 'township'",
                               (DONGCHUAN,)).fetchone()["id"]
    due = {"red": "now() - interval '1 day'", "amber": "now() + interval '1 day'", "green": "now() + interval '9 days'"}
    ids = {}
    for n, (colour, status) in enumerate([("green", "open")] * 21 + [("amber", "open"), ("red", "open"),
                                                                    ("green", "eliminated")]):
        household = raise_alert(db, DONGCHUAN, f"农户{n:02d}")
        ids[n] = db.execute(
            f"""INSERT INTO alerts.cases (id, household_id, village_code, township_code, county_code, township_unit_id,
                                          alerted_at, due_at, overdue, status, stage)
                SELECT 1000 + %s, id, village_code, township_code, county_code, %s, now() - interval '3 days',
                       {due[colour]}, %s, %s, %s FROM alerts.households WHERE id = %s RETURNING id""",
            (n, township_unit, colour == "red", status, "closed" if status != "open" else "verify", household),
        ).fetchone()["id"]
    login(portal, "yaoan_leader")
    r = portal.get("/cases")
    rows = list_rows(r)
    assert "共 24 条,第 1–20 条" in r.text and "下一页" in r.text and len(rows) == 20
    assert rows[0] == ("overdue", "逾期", str(ids[22])) and rows[1] == ("due_soon", "临期", str(ids[21])), "red first"
    assert all(row[:2] == ("", "正常") for row in rows[2:])
    r = portal.get("/cases?offset=20")
    assert "第 21–24 条" in r.text and "上一页" in r.text and "下一页" not in r.text
    assert ("done", "", str(ids[23])) in list_rows(r) and '<span class="tag done">风险已消除</span>' in r.text
    r = portal.get("/cases?sla=green&status=open")
    assert "共 21 条" in r.text and 'href="/cases?sla=green&amp;status=open&amp;offset=20"' in r.text, "filters kept"
    assert [c for _, _, c in list_rows(portal.get("/cases?sla=amber"))] == [str(ids[21])]
    assert "没有符合条件的预警个案" in portal.get("/cases?stage=plan").text
    login(portal, "yaoan_office")
    r = portal.get(f"/cases/{ids[0]}")
    assert f'action="/cases/{ids[0]}/verify"' in r.text, "the office may verify for the township"
    r = portal.post(f"/cases/{ids[0]}/verify", data={"visited_on": "2020-01-01", "visitors": "王五", "findings": "x"})
    assert r.status_code == 409 and refusal(r) == "案件的工作流尚未启动,请稍后再试"
    assert_no_json(r)


# ---------------------------------------------------------------- the journey of three cases

def test_cases_from_the_list_through_verification_decision_plan_and_visit(live_portal, db, database_url):
    p = live_portal
    other = db.execute("SELECT code, name FROM common.regions WHERE level = 'township' AND code LIKE '532325%%' "
                       "AND code <> %s ORDER BY code LIMIT 1", (DONGCHUAN,)).fetchone()
    first = raise_alert(db, DONGCHUAN, "张晓明")
    second = raise_alert(db, DONGCHUAN, "李秀英")
    raise_alert(db, other["code"], "王大山", days_ago=10)
    assert asyncio.run(start_cases(database_url)) == 3
    ids = {r["household_id"]: r["id"] for r in db.execute("SELECT id, household_id FROM alerts.cases")}
    a, b = ids[first], ids[second]
    late = next(c for h, c in ids.items() if h not in (first, second))
    wait_until(db, "SELECT 1 FROM alerts.cases WHERE id = %s AND overdue", late)
    today = datetime.now(TZ).date()  # the cases' days are Asia/Shanghai days

    # ---- the list: a township sees the cases it handles, SLA colour and deadline on each row, a card a row on a phone
    login(p, "dongchuan")
    assert re.search(r'预警个案</b><span class="count">2</span>', p.get("/").text)
    r = p.get("/cases")
    assert r.status_code == 200 and '<meta name="viewport" content="width=device-width, initial-scale=1">' in r.text
    assert '<table class="stack">' in r.text and 'data-label="环节"' in r.text and 'data-label="预警日期"' in r.text
    assert sorted(case for _, _, case in list_rows(r)) == sorted([str(a), str(b)])
    assert {(cls, sla) for cls, sla, _ in list_rows(r)} == {("", "正常")} and "共 2 条" in r.text
    assert "张晓明 户" in r.text and "核查" in r.text and " 24:00" in r.text, "the due day, not the next midnight"
    assert_no_json(r)

    # ---- the leader: red first, filters, counts by township linked from the home page
    login(p, "yaoan_leader")
    home = p.get("/")
    assert re.search(r'个案分布</b><span class="count">1</span>', home.text), "the overdue case on the leader's home"
    r = p.get("/cases")
    rows = list_rows(r)
    assert len(rows) == 3 and rows[0] == ("overdue", "逾期", str(late)), "red first"
    assert [c for _, _, c in list_rows(p.get("/cases?sla=red"))] == [str(late)]
    assert len(list_rows(p.get(f"/cases?township={DONGCHUAN}"))) == 2
    assert "没有符合条件的预警个案" in p.get("/cases?status=eliminated").text
    r = p.get("/cases/townships")
    assert r.status_code == 200 and '<table class="stack">' in r.text
    cells = re.findall(r'<tr class="(\w*)"><td><a href="/cases\?township=(\d+)&amp;mine=false">([^<]+)</a></td>\s*'
                       r'<td class="inline" data-label="办理中">(\d+)</td>'
                       r'<td class="inline" data-label="正常">(\d+)</td><td class="inline" data-label="临期">(\d+)</td>'
                       r'<td class="inline" data-label="逾期">(\d+)</td>', r.text)
    assert cells[0] == ("overdue", other["code"], other["name"], "1", "0", "0", "1"), "the most overdue first"
    assert cells[1] == ("", DONGCHUAN, "栋川镇", "2", "2", "0", "0")
    assert re.search(r'<tr class="total"><td><b>合计</b></td>\s*<td class="inline" data-label="办理中">3</td>', r.text)

    # ---- the case page: household masked, deadlines, the 核查 form only
    login(p, "dongchuan")
    r = p.get(f"/cases/{a}")
    assert r.status_code == 200
    for text in ("张晓明 户", "5323**********002X", "139****2345", "核查期限", "认定期限", "入户核查记录", "立案"):
        assert text in r.text, text
    assert HEAD_ID not in r.text and PHONE not in r.text
    assert f'action="/cases/{a}/verify"' in r.text and f'action="/cases/{a}/confirm"' not in r.text
    assert "/notice" not in r.text, "no 公示 before 核查"

    # ---- refusals beside the form: the portal's check, then the API's 422 naming the field
    r = p.post(f"/cases/{a}/verify", data={"visited_on": today.isoformat(), "visitors": "张三", "findings": " "})
    assert r.status_code == 422 and refusal(r) == "请填写核查情况" and banner(r) == "请填写核查情况"
    tomorrow = (today + timedelta(days=1)).isoformat()
    typed = {"visited_on": tomorrow, "visitors": "张三、村支书李四", "findings": "医疗支出大"}
    r = p.post(f"/cases/{a}/verify", data=typed)
    assert r.status_code == 422 and "入户日期不能晚于今天" in refusal(r)
    assert '<div class="field-error">入户日期不能晚于今天</div>' in r.text, "beside the date field"
    assert 'value="张三、村支书李四"' in r.text and "医疗支出大</textarea>" in r.text, "what was typed is kept"
    assert_no_json(r)
    r = p.post(f"/cases/{b}/confirm", data={"monitoring_kind": "脱贫不稳定户"})
    assert r.status_code == 403 and "无权" in banner(r), "认定 is the county office's"
    assert_no_json(r)

    # ---- 核查 with a photo; the 公示 opens in a new tab and downloads
    r = p.post(f"/cases/{a}/verify", data={"visited_on": today.isoformat(), "visitors": "张三、村支书李四",
                                           "findings": "入户核实:医疗支出大,收入下降", "proposed": "yes",
                                           "idempotency_key": f"v-{a}"},
               files={"photos": ("门口.jpg", b"\xff\xd8\xff photo", "image/jpeg")})
    assert notice(r) == "核查记录已登记" and r.url.path == f"/cases/{a}"
    assert "完成入户核查" in r.text and "人员:张三、村支书李四" in r.text and "村级公示" in r.text
    photo = re.search(r'href="(/files/tasks/api/attachments/\d+)"', r.text).group(1)
    assert p.get(photo).content == b"\xff\xd8\xff photo"
    link = re.search(rf'href="(/files/alerts/api/cases/{a}/notice)" target="_blank"', r.text).group(1)
    printable = p.get(link)
    assert printable.status_code == 200 and printable.headers["content-type"].startswith("text/html")
    assert "张*明" in printable.text and HEAD_ID not in printable.text and PHONE not in printable.text
    download = p.get(link + "?download=true")
    assert download.headers["content-disposition"].startswith("attachment;") and download.text == printable.text
    assert "公示期间无需操作" in r.text and "<form class=\"box\"" not in r.text, "nothing for the township to do now"

    # ---- the office during the notice: the API's 409 in Chinese, no form offered
    login(p, "yaoan_office")
    r = p.get(f"/cases/{a}")
    assert f'action="/cases/{a}/confirm"' not in r.text and "公示期间无需操作" in r.text
    r = p.post(f"/cases/{a}/confirm", data={"monitoring_kind": "脱贫不稳定户"})
    assert r.status_code == 409 and refusal(r).startswith("公示期未满") and banner(r).startswith("公示期未满")
    assert "(notice not ended)" not in r.text
    assert_no_json(r)

    # ---- the second case straight to 认定: kinds from the configuration, the choice required
    login(p, "dongchuan")
    r = p.post(f"/cases/{b}/verify", data={"visited_on": today.isoformat(), "visitors": "张三",
                                           "findings": "收入下降", "proposed": "no"})
    assert notice(r) == "核查记录已登记" and "不拟公示,直接报县级认定" in r.text
    login(p, "yaoan_office")
    r = p.get(f"/cases/{b}")
    assert f'action="/cases/{b}/confirm"' in r.text and f'action="/cases/{b}/reject"' in r.text
    assert "<option>边缘易致贫户</option>" in r.text
    r = p.post(f"/cases/{b}/confirm", data={"monitoring_kind": ""})
    assert r.status_code == 422 and refusal(r) == "请选择监测对象类型"
    r = p.post(f"/cases/{b}/confirm", data={"monitoring_kind": "脱贫不稳定户"})
    assert notice(r) == "已认定纳入监测" and "认定纳入监测" in r.text.split("认定与决定", 1)[1]

    # ---- 帮扶计划 by the township: the catalogue and the county's units to choose from
    login(p, "dongchuan")
    r = p.get(f"/cases/{b}")
    assert f'action="/cases/{b}/plan"' in r.text and '<option value="employment">就业帮扶</option>' in r.text
    rsj = re.search(r'<option value="(\d+)">县人力资源和社会保障局</option>', r.text).group(1)
    assert 'id="kind2"' in r.text and 'id="kind3"' not in r.text, "three lines to begin with"
    more = re.search(rf'href="/cases/{b}\?lines=4#plan" hx-get="(/cases/{b}/measure-line\?n=3)"', r.text).group(1)
    line = p.get(more, headers={"HX-Request": "true"})
    assert 'id="kind3"' in line.text and "<html" not in line.text and ">县人力资源和社会保障局</option>" in line.text
    assert f'hx-get="/cases/{b}/measure-line?n=4"' in line.text, "and the link to add the next"
    six = p.get(f"/cases/{b}?lines=6").text
    assert 'id="kind5"' in six and 'id="kind6"' not in six, "the same without script: the page with more lines"
    due = (today + timedelta(days=30)).isoformat()
    blank = {"kind": ["", ""], "unit_id": ["", ""], "due_date": ["", ""], "content": ["", ""]}
    r = p.post(f"/cases/{b}/plan", data={**blank, "kind": ["employment", ""]})
    assert r.status_code == 422 and refusal(r) == "第1项措施请选择责任单位"
    assert '<option value="employment" selected>就业帮扶</option>' in r.text, "the line typed is kept"
    far = db.execute("SELECT id FROM common.units WHERE region_code NOT LIKE '532325%%' AND kind = 'department' "
                     "ORDER BY id LIMIT 1").fetchone()["id"]
    r = p.post(f"/cases/{b}/plan", data={"kind": ["employment"], "unit_id": [str(far)], "due_date": [due],
                                         "content": ["安排公益性岗位一个"]})
    assert r.status_code == 422 and "第1项措施的责任单位" in refusal(r) and "(unknown unit)" not in r.text
    r = p.post(f"/cases/{b}/plan", data={"kind": ["employment", ""], "unit_id": [rsj, ""], "due_date": [due, ""],
                                         "content": ["安排公益性岗位一个", ""]})
    assert notice(r).startswith("帮扶计划已制定")
    measures = r.text.split("<h2>帮扶措施</h2>", 1)[1].split("<h2>", 1)[0]
    assert "就业帮扶" in measures and "县人力资源和社会保障局" in measures and due in measures

    # ---- 回访: every 三保障 answer required, then recorded
    visit = {"visited_on": today.isoformat(), "income": "9600", "compulsory_education_ok": "是",
             "basic_medical_ok": "是", "housing_ok": "是", "drinking_water_ok": ""}
    r = p.post(f"/cases/{b}/visit", data=visit)
    assert r.status_code == 422 and refusal(r) == "请选择饮水安全是否有保障"
    assert '<div class="field-error">请选择饮水安全是否有保障</div>' in r.text and 'value="9600"' in r.text
    r = p.post(f"/cases/{b}/visit", data={**visit, "drinking_water_ok": "是", "note": "收入恢复"})
    assert notice(r) == "回访已登记"
    visits = r.text.split("<h2>回访记录</h2>", 1)[1].split("<h2>", 1)[0]
    assert '<td data-label="人均纯收入(元)">9600</td>' in visits and "收入恢复" in visits
    assert '<td data-label="饮水安全">是</td>' in visits

    # ---- 风险消除 too early: the workflow's reason beside the form
    login(p, "yaoan_office")
    r = p.get(f"/cases/{b}")
    assert f'action="/cases/{b}/eliminate"' in r.text and f'action="/cases/{b}/visit"' in r.text
    r = p.post(f"/cases/{b}/eliminate", data={"note": ""})
    assert r.status_code == 409 and refusal(r).startswith("不符合风险消除条件") and "eliminate" not in refusal(r)
    assert_no_json(r)

    # ---- the overdue case rejected by the office: closed, no more forms
    r = p.post(f"/cases/{late}/verify", data={"visited_on": today.isoformat(), "visitors": "县办王五",
                                              "findings": "收入稳定", "proposed": "no"})
    assert notice(r) == "核查记录已登记"
    r = p.post(f"/cases/{late}/reject", data={"reason": ""})
    assert r.status_code == 422 and refusal(r) == "请写明理由"
    r = p.post(f"/cases/{late}/reject", data={"reason": "家庭收入稳定,不符合纳入条件"})
    assert notice(r) == "已不予认定,个案结案" and "个案已结案(不予认定)" in r.text and '<form class="box"' not in r.text
    assert "家庭收入稳定,不符合纳入条件" in r.text.split("认定与决定", 1)[1]
    r = p.get("/cases/townships")
    total = r.text.split('<tr class="total">', 1)[1].split("</tr>", 1)[0]
    assert '<td class="inline" data-label="办理中">2</td>' in total
    assert '<td class="inline" data-label="不予认定">1</td>' in total
