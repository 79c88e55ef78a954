"""The alert case API on the Temporal dev server with a real worker and PostgreSQL:
cases listed by jurisdiction, status, SLA colour and township; a case's page with its
timeline; actions going through the workflow's Update, and refusals — wrong unit 403,
wrong stage 409, missing or wrong content 422 — each with its Chinese reason; the
公示 as printable HTML and as a download; counts per township for leaders."""

import asyncio
import io
import re
import time
from datetime import datetime, timedelta

import psycopg
import pytest
from alert_cases import COUNTY, HEAD_ID, PHONE, raise_alert, start_cases
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from psycopg.rows import dict_row

from services.alerts.case_deadlines import TZ
from services.common.excel import XLSX_MEDIA_TYPE

pytestmark = pytest.mark.integration

PASSWORD = "xianjie-demo"
DONGCHUAN = "532325100000"  # 栋川镇


def rows(dsn, sql, *params):
    with psycopg.connect(dsn, row_factory=dict_row) as conn:
        return conn.execute(sql, params).fetchall()


def wait_for(dsn, sql, *params, timeout=30):
    deadline = time.monotonic() + timeout
    while not (found := rows(dsn, sql, *params)):
        assert time.monotonic() < deadline, sql
        time.sleep(0.3)
    return found


@pytest.fixture
def alerts(worker):
    from services.alerts.api import app

    with TestClient(app) as c:
        yield c


@pytest.fixture
def login(worker):
    from services.tasks.api import app

    with TestClient(app) as c:
        def token(username):
            r = c.post("/api/auth/login", json={"username": username, "password": PASSWORD})
            return {"Authorization": f"Bearer {r.json()['access_token']}"}
        yield token


def unit_id(dsn, name):
    return rows(dsn, "SELECT id FROM common.units WHERE name = %s AND region_code = %s", name, COUNTY)[0]["id"]


def test_cases_through_the_api(alerts, login, database_url):
    dsn = database_url
    other_township = rows(dsn, "SELECT code FROM common.regions WHERE level = 'township' AND code LIKE '532325%%' "
                               "AND code <> %s ORDER BY code LIMIT 1", DONGCHUAN)[0]["code"]
    with psycopg.connect(dsn, row_factory=dict_row, autocommit=True) as conn:
        first = raise_alert(conn, DONGCHUAN, "张晓明")
        second = raise_alert(conn, DONGCHUAN, "李秀英", cause="income")
        raise_alert(conn, other_township, "王大山", days_ago=10)
    assert asyncio.run(start_cases(dsn)) == 3
    cases = {r["household_id"]: r["id"] for r in rows(dsn, "SELECT id, household_id FROM alerts.cases")}
    case_a, case_b = cases[first], cases[second]
    late = next(c for h, c in cases.items() if h not in (first, second))
    wait_for(dsn, "SELECT 1 FROM alerts.cases WHERE id = %s AND overdue", late)  # past its 核查 deadline at once

    township, office, rsj = login("dongchuan"), login("yaoan_office"), login("yaoan_rsj")
    leader, ops = login("yaoan_leader"), login("ops")

    # ---- lists
    mine = alerts.get("/api/cases", headers=township).json()
    assert mine["total"] == 2 and mine["limit"] == 20, "the township sees its own township's cases"
    assert {i["id"] for i in mine["items"]} == {case_a, case_b}
    assert {(i["stage_label"], i["status_label"], i["sla_label"]) for i in mine["items"]} == {("核查", "办理中", "正常")}
    county = alerts.get("/api/cases", headers=office).json()
    assert county["total"] == 3 and county["items"][0]["id"] == late, "red cases first"
    assert county["items"][0]["sla"] == "red" and county["items"][0]["sla_label"] == "逾期"
    red = alerts.get("/api/cases", params={"sla": "red"}, headers=office).json()
    assert [i["id"] for i in red["items"]] == [late]
    by_township = alerts.get("/api/cases", params={"township": DONGCHUAN, "limit": 1}, headers=office).json()
    assert by_township["total"] == 2 and len(by_township["items"]) == 1
    assert alerts.get("/api/cases", params={"region": other_township}, headers=township).json()["total"] == 0
    assert alerts.get("/api/cases", params={"status": "eliminated"}, headers=office).json()["total"] == 0
    assert alerts.get("/api/cases", params={"sla": "purple"}, headers=office).status_code == 422
    assert alerts.get("/api/cases", headers=ops).status_code == 403, "operations staff see no household data"

    # ---- the list as an Excel 台账: every row of the filter, not a page, with Chinese headers
    export = alerts.get("/api/cases", params={"format": "xlsx", "limit": 1}, headers=township)
    assert export.status_code == 200 and export.headers["content-type"] == XLSX_MEDIA_TYPE
    assert "filename*=UTF-8''" in export.headers["content-disposition"]
    sheet = load_workbook(io.BytesIO(export.content)).active
    header = [c.value for c in sheet[2]]
    assert header[:4] == ["序号", "案件编号", "户编号", "户主"] and "办理阶段" in header and "时限" in header
    assert sorted(r[1] for r in sheet.iter_rows(min_row=3, values_only=True)) == sorted([case_a, case_b])
    assert {r[header.index("办理阶段")] for r in sheet.iter_rows(min_row=3, values_only=True)} == {"核查"}
    red_sheet = load_workbook(io.BytesIO(alerts.get("/api/cases", params={"format": "xlsx", "sla": "red"},
                                                    headers=office).content)).active
    assert [r[1] for r in red_sheet.iter_rows(min_row=3, values_only=True)] == [late]
    assert alerts.get("/api/cases", params={"format": "pdf"}, headers=office).status_code == 422

    # ---- refusals before and by the workflow
    assert alerts.get(f"/api/cases/{late}", headers=township).status_code == 404, "another township's case is unseen"
    local_today = datetime.now(TZ).date()  # the cases' days are Asia/Shanghai days
    today = local_today.isoformat()
    visit = {"visited_on": today, "visitors": ["张三", "村支书李四"], "findings": "入户核实:医疗支出大,收入下降"}
    r = alerts.post(f"/api/cases/{case_a}/verify", headers=rsj, json=visit)
    assert r.status_code == 403 and "乡镇" in r.json()["detail"], "a department is not the household's township"
    r = alerts.post(f"/api/cases/{case_a}/verify", headers=township, json={**visit, "findings": ""})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "findings"
    tomorrow = (local_today + timedelta(days=1)).isoformat()
    r = alerts.post(f"/api/cases/{case_a}/verify", headers=township, json={**visit, "visited_on": tomorrow})
    assert r.status_code == 422
    assert r.json()["errors"] == [{"field": "visited_on", "reason": "入户日期不能晚于今天 (visited_on is in the future)",
                                   "message": "入户日期不能晚于今天 (visited_on is in the future)"}]
    r = alerts.post(f"/api/cases/{case_a}/confirm", headers=office, json={"monitoring_kind": "脱贫不稳定户"})
    assert r.status_code == 409 and "核查" in r.json()["detail"], "认定 before 核查 is the wrong stage"
    assert alerts.post(f"/api/cases/{case_a}/confirm", headers=township,
                       json={"monitoring_kind": "脱贫不稳定户"}).status_code == 403, "认定 is the county office's"
    assert alerts.get(f"/api/cases/{case_a}/notice", headers=township).status_code == 409, "no notice before 核查"

    # ---- 核查 with the notice, repeated with its idempotency key
    key = {"Idempotency-Key": f"verify-{case_a}"}
    r = alerts.post(f"/api/cases/{case_a}/verify", headers={**township, **key}, json=visit)
    assert r.status_code == 200, r.text
    assert r.json()["stage"] == "notice" and r.json()["events"] == ["verified", "notice_published"]
    again = alerts.post(f"/api/cases/{case_a}/verify", headers={**township, **key}, json=visit)
    assert again.status_code == 200 and again.json()["repeated"] is True
    r = alerts.post(f"/api/cases/{case_a}/confirm", headers=office, json={"monitoring_kind": "脱贫不稳定户"})
    assert r.status_code == 409 and "公示期未满" in r.json()["detail"]

    # ---- the notice
    r = alerts.get(f"/api/cases/{case_a}/notice", headers=township)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    assert "张*明" in html and "拟纳入" in html and "因病" in html and "@media print" in html
    assert HEAD_ID not in html and PHONE not in html and "患大病" not in html and "张晓明" not in html
    assert not re.search(r"(?<!\d)\d{17}[\dX](?!\d)|(?<!\d)1\d{10}(?!\d)", html)
    download = alerts.get(f"/api/cases/{case_a}/notice", params={"download": "true"}, headers=office)
    assert download.status_code == 200 and download.text == html
    assert download.headers["content-disposition"].startswith("attachment;")

    # ---- the page
    page = alerts.get(f"/api/cases/{case_a}", headers=township).json()
    assert page["case"]["stage"] == "notice" and page["case"]["stage_label"] == "公示"
    assert [e["kind"] for e in page["timeline"]] == ["opened", "verified", "notice_published"]
    assert page["timeline"][1]["detail"]["visitors"] == ["张三", "村支书李四"]
    assert page["timeline"][1]["actor_name"] == "栋川镇经办人"
    assert page["household"]["head_id_number"] == "5323**********002X" and page["household"]["phone"] == "139****2345"
    assert page["members"][0]["id_number"] == "5323**********002X"
    assert page["deadlines"]["notice_ends_at"] is not None and page["deadlines"]["confirm_by"] > page["deadlines"]["verify_by"]
    assert page["available_actions"] == [], "during the notice the township has nothing to do"
    assert [a["action"] for a in alerts.get(f"/api/cases/{case_b}", headers=township).json()["available_actions"]] == [
        "verify"]

    # ---- the second case straight to 认定, then a plan whose units are checked
    r = alerts.post(f"/api/cases/{case_b}/verify", headers=township, json={**visit, "proposed": False})
    assert r.status_code == 200 and r.json()["stage"] == "confirm"
    assert alerts.get(f"/api/cases/{case_b}/notice", headers=township).status_code == 409, "not proposed: no notice"
    r = alerts.post(f"/api/cases/{case_b}/confirm", headers=office, json={"monitoring_kind": "贫困户"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "monitoring_kind"
    r = alerts.post(f"/api/cases/{case_b}/confirm", headers=office, json={"monitoring_kind": "脱贫不稳定户"})
    assert r.status_code == 200 and r.json()["stage"] == "plan"
    far = rows(dsn, "SELECT id FROM common.units WHERE region_code NOT LIKE '532325%%' AND kind = 'department' "
                    "ORDER BY id LIMIT 1")[0]["id"]
    measure = {"kind": "employment", "unit_id": unit_id(dsn, "县人力资源和社会保障局"),
               "due_date": (local_today + timedelta(days=30)).isoformat(), "content": "安排公益性岗位一个"}
    r = alerts.post(f"/api/cases/{case_b}/plan", headers=township, json={"measures": [{**measure, "unit_id": far}]})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "measures.0.unit_id"
    r = alerts.post(f"/api/cases/{case_b}/plan", headers=township, json={"measures": [{**measure, "kind": "lottery"}]})
    assert r.status_code == 422 and "帮扶措施目录" in r.json()["errors"][0]["message"]
    assert alerts.post(f"/api/cases/{case_b}/plan", headers=township, json={"measures": []}).status_code == 422
    r = alerts.post(f"/api/cases/{case_b}/plan", headers=township, json={"measures": [measure]})
    assert r.status_code == 200 and r.json()["stage"] == "follow_up", r.text
    r = alerts.post(f"/api/cases/{case_b}/visit", headers=township,
                    json={"visited_on": today, "income": 9600, "compulsory_education_ok": True, "basic_medical_ok": True,
                          "housing_ok": True, "drinking_water_ok": True, "note": "收入恢复"})
    assert r.status_code == 200 and r.json()["events"] == ["visited"]
    r = alerts.post(f"/api/cases/{case_b}/eliminate", headers=office, json={})
    assert r.status_code == 409 and "不符合风险消除条件" in r.json()["detail"]
    page = alerts.get(f"/api/cases/{case_b}", headers=office).json()
    assert [(m["label"], m["unit_name"]) for m in page["measures"]] == [("就业帮扶", "县人力资源和社会保障局")]
    assert [v["income"] for v in page["visits"]] == [9600]
    assert [d["kind"] for d in page["decisions"]] == ["confirmed"]
    assert {a["action"] for a in page["available_actions"]} == {"visit", "eliminate"}
    wait_for(dsn, "SELECT 1 FROM tasks.steps s JOIN tasks.tasks t ON t.id = s.task_id WHERE %s = ANY(t.lead_unit_ids)",
             measure["unit_id"])

    # ---- a closed case takes no more actions
    r = alerts.post(f"/api/cases/{late}/verify", headers=office, json={**visit, "proposed": False})
    assert r.status_code == 200, r.text
    assert alerts.post(f"/api/cases/{late}/reject", headers=office, json={"reason": ""}).status_code == 422
    r = alerts.post(f"/api/cases/{late}/reject", headers=office, json={"reason": "家庭收入稳定,不符合纳入条件"})
    assert r.status_code == 200 and r.json()["status"] == "rejected"
    r = alerts.post(f"/api/cases/{late}/verify", headers=office, json=visit)
    assert r.status_code == 409 and "已结案" in r.json()["detail"]

    # ---- counts for leaders
    counts = alerts.get("/api/cases/counts", params={"by": "township"}, headers=leader).json()
    by_code = {t["township_code"]: t for t in counts["townships"]}
    assert by_code[DONGCHUAN]["open"] == 2 and by_code[DONGCHUAN]["identifying"] == 1
    assert by_code[DONGCHUAN]["monitored"] == 1 and by_code[DONGCHUAN]["overdue"] == 0
    assert by_code[other_township]["rejected"] == 1 and by_code[other_township]["open"] == 0
    assert counts["total"]["open"] == 2 and counts["total"]["rejected"] == 1
    assert alerts.get("/api/cases/counts", params={"by": "village"}, headers=leader).status_code == 422
    assert [t["township_code"] for t in alerts.get("/api/cases/counts", headers=township).json()["townships"]] == [
        DONGCHUAN]
    with psycopg.connect(dsn, row_factory=dict_row) as conn:
        audits = [r["action"] for r in conn.execute("SELECT action FROM common.audit_log WHERE entity = 'case' ORDER BY id")]
    assert audits == ["case.verify", "case.verify", "case.confirm", "case.plan", "case.visit", "case.verify",
                      "case.reject"]
