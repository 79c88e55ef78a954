"""The national monitoring system's exports imported for real (PostgreSQL of the test
fixtures): `xianjie households import` on a 监测对象信息 export with good and bad rows,
the same file twice changing nothing, a newer export changing two households writing
exactly their events, a dry run writing nothing, a missing column importing nothing,
regions created on request, the 行政村信息 export's populations feeding the village
rule, the upload through the API, and the lists exported back with the national names."""

import io
import json

import psycopg
import pytest
from fastapi.testclient import TestClient
from national_exports import HEADERS, NOT_READ, export, family, resident_id
from openpyxl import load_workbook
from typer.testing import CliRunner

pytestmark = pytest.mark.integration

PASSWORD = "xianjie-demo"
NO = "53232510020100{:02d}".format


def households_export(changes: dict[int, dict] | None = None) -> list[dict]:
    """Four good households in 栋川镇 and one (no. 5) whose second member's ID fails its checksum."""
    rows = [*family(1, 3), *family(2, 2, 村="栋川西村"), *family(3, 1, 监测对象类别=None, 风险是否已消除=None),
            *family(4, 4, 户类型="一般农户")]
    bad = family(5, 2)
    bad[1] = {**bad[1], "证件号码": "110105194912310021"}
    rows += bad
    for no, change in (changes or {}).items():
        rows = [{**r, **change} if r["户编号"] == NO(no) else r for r in rows]
    return rows


def cli(tmp_path, rows, *args, name="监测对象信息.xlsx", content: bytes | None = None):
    from services.cli import app

    path = tmp_path / name
    path.write_bytes(content if content is not None else export(rows))
    result = CliRunner().invoke(app, ["households", "import", str(path), *args])
    return result, (json.loads(result.stdout.strip().splitlines()[-1]) if "--format" in args else None)


def snapshot(dsn) -> dict:
    with psycopg.connect(dsn) as conn:
        q = lambda sql: conn.execute(sql).fetchall()  # noqa: E731
        return {
            "households": q("SELECT household_no, village_code, category, members, labourers, under_assistance, "
                            "updated_at FROM alerts.households ORDER BY household_no"),
            "members": q("SELECT id, household_id, name, id_number, id_type, relation FROM alerts.household_members "
                         "ORDER BY id"),
            "monitoring": q("SELECT household_id, monitoring_category, identified_month, risks, measures, updated_at "
                            "FROM alerts.household_monitoring ORDER BY household_id"),
            "records": q("SELECT household_id, period, wage_income, entered_at FROM alerts.household_records "
                         "ORDER BY household_id, period"),
            "outbox": q("SELECT envelope->>'type', envelope->'payload'->>'household_no' FROM alerts.outbox ORDER BY id"),
        }


def test_an_export_twice_then_a_newer_one_writes_events_only_for_the_two_changed_households(database_url, tmp_path):
    result, summary = cli(tmp_path, households_export(), "--format", "json", "--user", "yaoan_office")
    assert result.exit_code == 1, result.output  # some rows have errors
    assert {k: summary[k] for k in ("rows", "households", "persons", "rows_with_errors")} == \
        {"rows": 12, "households": 4, "persons": 10, "rows_with_errors": 2}
    assert summary["errors"] == [
        {"row": 14, "column": "户编号", "reason": f"户编号 {NO(5)} 第 15 行有错误,整户未导入"},
        {"row": 15, "column": "证件号码", "reason": "身份证号码校验位不正确"}]
    assert summary["ignored_columns"] == NOT_READ
    first = snapshot(database_url)
    assert [h[0] for h in first["households"]] == [NO(n) for n in (1, 2, 3, 4)]
    assert [h[1] for h in first["households"]] == ["532325100201", "532325100202", "532325100201", "532325100201"]
    assert [(h[2], h[3], h[4]) for h in first["households"]] == [
        ("边缘易致贫户", 3, 3), ("边缘易致贫户", 2, 2), ("脱贫户", 1, 1), ("边缘易致贫户", 4, 4)]
    assert len(first["members"]) == 10 and len(first["monitoring"]) == 4 and len(first["records"]) == 4
    assert first["monitoring"][0][1:5] == ("边缘易致贫户", "2022-03", ["因病", "因学"],
                                           {"产业帮扶": ["其他", "技能培训"], "就业帮扶": ["务工补助"]})
    assert sorted(first["outbox"]) == sorted([("household.updated", NO(n)) for n in (1, 2, 3, 4)]
                                             + [("household.record.saved", NO(n)) for n in (1, 2, 3, 4)])

    _, again = cli(tmp_path, households_export(), "--format", "json", "--user", "yaoan_office")
    assert (again["households_changed"], again["records_changed"]) == (0, 0)
    assert snapshot(database_url) == first, "the same export twice changes nothing"

    newer = households_export({1: {"工资性收入": 26000}, 2: {"监测对象类别": "突发严重困难户"}})
    _, third = cli(tmp_path, newer, "--format", "json", "--user", "yaoan_office")
    assert (third["households_changed"], third["records_changed"]) == (1, 1)
    after = snapshot(database_url)
    assert sorted(after["outbox"][len(first["outbox"]):]) == [("household.record.saved", NO(1)),
                                                                ("household.updated", NO(2))]
    assert after["households"][2:] == first["households"][2:] and after["members"] == first["members"]
    assert after["monitoring"][1][1] == "突发严重困难户" and after["monitoring"][0] == first["monitoring"][0]


def test_a_dry_run_writes_nothing(database_url, tmp_path):
    result, summary = cli(tmp_path, households_export(), "--dry-run", "--format", "json")
    assert result.exit_code == 1
    assert (summary["households"], summary["persons"], summary["households_changed"]) == (4, 10, 4)
    assert summary["dry_run"] is True and len(summary["errors"]) == 2
    state = snapshot(database_url)
    assert state["households"] == [] and state["outbox"] == [] and state["members"] == []
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM alerts.import_jobs").fetchone()[0] == 0


def test_the_missing_columns_are_named(database_url, tmp_path):
    headers = [h for h in HEADERS if h not in ("乡", "村")]
    result, _ = cli(tmp_path, [], content=export(households_export(), headers=headers))
    assert result.exit_code == 2 and "缺少必需的列:乡、村" in result.stderr
    assert snapshot(database_url)["households"] == []


def test_regions_created_on_request_under_the_county_of_the_file(database_url, tmp_path):
    rows = [*family(1, 1, 乡="新建乡", 村="新建村"), *family(2, 1, 村="栋川新村")]
    result, summary = cli(tmp_path, rows, "--format", "json")
    assert result.exit_code == 1 and summary["households"] == 0
    result, summary = cli(tmp_path, rows, "--format", "json", "--create-regions", "--user", "yaoan_office")
    assert result.exit_code == 0, result.output
    assert summary["regions_created"] == ["新建乡(532325901000)", "新建村(532325901901)", "栋川新村(532325100901)"]
    with psycopg.connect(database_url) as conn:
        made = conn.execute("SELECT code, level, parent_code FROM common.regions WHERE code IN "
                            "('532325100901', '532325901000', '532325901901') ORDER BY code").fetchall()
        villages = conn.execute("SELECT village_code FROM alerts.households ORDER BY household_no").fetchall()
    assert made == [("532325100901", "village", "532325100000"), ("532325901000", "township", "532325000000"),
                    ("532325901901", "village", "532325901000")]
    assert [v[0] for v in villages] == ["532325901901", "532325100901"]


def test_village_populations_feed_the_village_rule(database_url, tmp_path):
    from openpyxl import Workbook

    from services.alerts.model import VillageFacts
    from services.alerts.rules import evaluate_village, load_rule_set

    wb = Workbook()
    ws = wb.active
    ws.append(["2022年行政村信息"])
    ws.append([])
    ws.append(["县", "乡", "村", "总户数", "总人口数", "低保户数", "农民人均纯收入（元）"])
    ws.append(["姚安县", "栋川镇", "栋川东村", 25, 80, 2, 14500])
    ws.append(["姚安县", "栋川镇", "无此村", 40, 150, 2, 14500])
    out = io.BytesIO()
    wb.save(out)
    with psycopg.connect(database_url) as conn:
        before = conn.execute("SELECT rural_population FROM common.regions WHERE code = '532325100201'").fetchone()[0]
    result, summary = cli(tmp_path, [], "--format", "json", name="行政村信息.xlsx", content=out.getvalue())
    assert result.exit_code == 1 and (summary["villages"], summary["villages_changed"]) == (1, 1)
    assert [(e["row"], e["column"]) for e in summary["errors"]] == [(5, "村")]
    rows = [r for r in households_export() if r["户编号"] in (NO(1), NO(2))]
    cli(tmp_path, rows, "--format", "json", "--period", "2022")
    with psycopg.connect(database_url) as conn:
        population = conn.execute("SELECT rural_population FROM common.regions WHERE code = '532325100201'"
                                  ).fetchone()[0]
        monitored = conn.execute(
            "SELECT sum(members) FROM alerts.households WHERE village_code = '532325100201' AND category IN "
            "('脱贫不稳定户', '边缘易致贫户', '突发严重困难户')").fetchone()[0]
    assert (population, monitored) == (80, 3) and before > 100
    rules = load_rule_set("532325100201", 2022)

    def tripped(rural_population: int) -> list[str]:
        facts = VillageFacts("532325100201", "532325000000", "532325100000", rural_population, 1, monitored, 0)
        return [f.rule_id for f in evaluate_village(facts, rules)]

    assert tripped(population) == ["village_monitored_share"], "3 of 80 people: over 3%"
    assert tripped(before) == [], "with the population the register had before, the village was not flagged"


def login(username: str) -> dict:
    from services.tasks.api import app as tasks_app

    with TestClient(tasks_app) as t:
        r = t.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_the_api_takes_the_same_export_and_gives_the_lists_back_with_national_names(database_url):
    from services.alerts import api, import_api
    from services.common.http import create_app

    app = create_app(service="alerts", title="t", routers=[import_api.router, api.router])
    entry = login("dongchuan_entry")
    with TestClient(app) as client:
        r = client.post("/api/households/import", headers=entry,
                        files={"file": ("监测对象信息.xlsx", export(households_export()), "application/octet-stream")})
        assert r.status_code == 202, r.text
        job = client.get(f"/api/import-jobs/{r.json()['id']}", headers=entry).json()
        assert job["status"] == "done" and (job["imported_rows"], job["error_rows"]) == (10, 2)
        assert (job["households"], job["persons"], job["ignored_columns"]) == (4, 10, NOT_READ)
        errors = client.get(f"/api/import-jobs/{r.json()['id']}/errors.xlsx", headers=entry)
        ws = load_workbook(io.BytesIO(errors.content)).active
        header = [c.value for c in ws[3]]
        assert header[:len(HEADERS)] == HEADERS and header[-1] == "错误说明"
        assert "校验位" in ws.cell(15, len(header)).value and ws.cell(4, len(header)).value is None
        assert ws["A1"].value.startswith("全国防止返贫监测信息系统")
        refused = client.post("/api/households/import", headers=entry, data={"create_regions": "true"},
                              files={"file": ("a.xlsx", export(family(1)), "application/octet-stream")})
        assert refused.status_code == 403

        listed = client.get("/api/households/export.xlsx", headers=entry)
        assert listed.status_code == 200, listed.text
        sheet = load_workbook(io.BytesIO(listed.content)).active
        assert sheet["A1"].value == "监测对象信息" and "已脱敏" in sheet["A2"].value
        names = [c.value for c in sheet[3]]
        for name in ("县", "乡", "村", "户编号", "姓名", "证件号码", "与户主关系", "户类型", "监测对象类别", "识别监测时间",
                     "致贫/返贫风险1", "劳动技能", "工资性收入", "人均纯收入（元）", "产业帮扶"):
            assert name in names
        rows = [dict(zip(names, (c.value for c in r), strict=True)) for r in sheet.iter_rows(min_row=4)]
        assert len(rows) == 10 and rows[0]["户编号"] == NO(1) and rows[0]["与户主关系"] == "户主"
        assert rows[0]["证件号码"] == resident_id(11)[:4] + "*" * 10 + resident_id(11)[-4:], "masked"
        assert rows[0]["产业帮扶"] == "其他,技能培训" and rows[0]["识别监测时间"] == "202203"
        alerts = client.get("/api/alerts/export.xlsx", headers=entry)
        assert alerts.status_code == 200
        assert [c.value for c in load_workbook(io.BytesIO(alerts.content)).active[3]][:4] == ["县", "乡", "村", "户编号"]
        assert client.get("/api/households/export.xlsx?unmasked=true", headers=entry).status_code == 403

        office = login("yaoan_office")
        full = client.get("/api/households/export.xlsx?unmasked=true", headers=office)
        back = client.post("/api/households/import", headers=office,
                           files={"file": ("监测对象信息-导出.xlsx", full.content, "application/octet-stream")})
        job = client.get(f"/api/import-jobs/{back.json()['id']}", headers=office).json()
        assert job["status"] == "done" and job["error_rows"] == 0, job
        assert (job["households"], job["households_changed"], job["records_changed"]) == (4, 0, 0), \
            "the list exported with the national names reads back as the same households"


def test_the_terminal_report_and_the_error_copy(database_url, tmp_path):
    out = tmp_path / "错误.xlsx"
    result, _ = cli(tmp_path, households_export(), "--errors-xlsx", str(out))
    assert result.exit_code == 1
    text = "".join(result.stdout.split())  # rich wraps long lines
    assert "4户、10人、4期数据" in text and "有错误2行" in text
    assert f"未读取的列({len(NOT_READ)})" in text and "校验位" in text
    ws = load_workbook(out).active
    assert [c.value for c in ws[3]][-1] == "错误说明" and "校验位" in ws.cell(15, len(HEADERS) + 1).value
    assert ws.cell(15, HEADERS.index("证件号码") + 1).fill.fgColor.rgb.endswith("FF9999"), "the bad cell is marked"
