"""Batch import of households through the API and the command line: the template,
an upload imported in a background job with its progress, the error copy of the
file, the same file twice changing nothing, a crash in the middle of a chunk
leaving that chunk out entirely, and `xianjie households import`."""

import io
import json

import psycopg
import pytest
from fastapi.testclient import TestClient
from openpyxl import Workbook, load_workbook
from typer.testing import CliRunner

pytestmark = pytest.mark.integration

PASSWORD = "xianjie-demo"
HEAD_ID = "11010519491231002X"
HEADERS = ["户编号", "县", "乡(镇)", "村", "村代码", "户主姓名", "户主证件号码", "联系电话", "户类型", "家庭人口数",
           "劳动力人数", "整户无劳动能力", "期间", "人均纯收入（元）", "工资性收入", "生产经营性收入", "财产性收入",
           "转移性收入", "合规自付医疗支出", "教育支出", "因灾损失", "意外事故损失", "务工就业人数", "义务教育有保障",
           "基本医疗有保障", "住房安全有保障", "饮水安全有保障"]


def row(n: int, **change) -> dict:
    return {"户编号": f"532325100201{n:04d}", "县": "姚安县", "乡(镇)": "栋川镇", "村": "栋川东村", "村代码": "532325100201",
            "户主姓名": f"户主{n}", "户主证件号码": HEAD_ID, "联系电话": "13812345678", "户类型": "脱贫户",
            "家庭人口数": 4, "劳动力人数": 2, "整户无劳动能力": "否", "期间": "2023", "人均纯收入（元）": 7000 + n,
            "工资性收入": 20000, "生产经营性收入": 1000, "财产性收入": 0, "转移性收入": 3600, "合规自付医疗支出": 0,
            "教育支出": 0, "因灾损失": 0, "意外事故损失": 0, "务工就业人数": 1, "义务教育有保障": "是",
            "基本医疗有保障": "是", "住房安全有保障": "是", "饮水安全有保障": "是", **change}


def workbook(rows: list[dict]) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.append(["2023年度栋川镇农户收支情况统计表"])
    ws.append(["填报单位:栋川镇人民政府"])
    ws.append(HEADERS)
    for r in rows:
        ws.append([r.get(h) for h in HEADERS])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


MIXED = [
    row(1, 期间="2022", **{"人均纯收入（元）": 6500}),               # Excel row 4
    row(1),                                                            # 5: the same household, 2023
    row(2, 村代码=None, 村="栋川西村"),                                # 6: village by name
    row(3, **{"人均纯收入（元）": -5}),                                 # 7: negative income
    row(4, 户主证件号码="110105194912310021"),                         # 8: bad ID checksum
    row(5, 村代码="532325101201", 村=None, **{"乡(镇)": None}),        # 9: a village of 光禄镇
    row(6, 住房安全有保障="shi"),                                      # 10: 是/否 typo
    {"户编号": "5323251002010007", "村代码": "532325100201", "户主姓名": "户主7", "户类型": "一般农户", "家庭人口数": 3},  # 11
]


@pytest.fixture
def client(database_url):
    from services.alerts import api, import_api
    from services.common.http import create_app

    # the import router first: /households/template.xlsx is otherwise taken by /households/{household_id}
    app = create_app(service="alerts", title="t", routers=[import_api.router, api.router])
    with TestClient(app) as c:
        yield c


def login(username: str) -> dict:
    from services.tasks.api import app as tasks_app

    with TestClient(tasks_app) as t:
        r = t.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def upload(client, headers, content: bytes, filename: str = "农户收支.xlsx"):
    return client.post("/api/households/import", headers=headers,
                       files={"file": (filename, content, "application/octet-stream")})


def snapshot(dsn) -> dict:
    """Everything an import could change."""
    with psycopg.connect(dsn) as conn:
        q = lambda sql: conn.execute(sql).fetchall()  # noqa: E731
        return {
            "households": q("SELECT household_no, village_code, category, members, labourers, phone, updated_at, "
                            "entered_by FROM alerts.households ORDER BY household_no"),
            "records": q("SELECT h.household_no, r.period, r.per_capita_income, r.entered_at, r.source "
                         "FROM alerts.household_records r JOIN alerts.households h ON h.id = r.household_id "
                         "ORDER BY 1, 2"),
            "outbox": q("SELECT envelope->>'type', envelope->'payload'->>'household_no' FROM alerts.outbox ORDER BY id"),
            "audit": q("SELECT action, entity_id FROM common.audit_log WHERE service = 'alerts' ORDER BY id"),
        }


def test_template_download_with_the_villages_of_the_jurisdiction(client):
    r = client.get("/api/households/template.xlsx", headers=login("dongchuan_entry"))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats")
    wb = load_workbook(io.BytesIO(r.content))
    assert [c.value for c in wb.worksheets[0][3]] == HEADERS
    codes = [row[3].value for row in wb["村代码"].iter_rows(min_row=2)]
    assert codes and all(c.startswith("532325100") for c in codes), "only the villages of 栋川镇"
    assert client.get("/api/households/template.xlsx", headers=login("yaoan_rsj")).status_code == 403


def test_an_upload_imports_the_valid_rows_reports_the_others_and_twice_changes_nothing(client, database_url):
    entry = login("dongchuan_entry")
    content = workbook(MIXED)
    r = upload(client, entry, content)
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]

    progress = client.get(f"/api/import-jobs/{job_id}", headers=entry).json()
    assert progress["status"] == "done", progress
    assert (progress["total_rows"], progress["processed_rows"], progress["imported_rows"], progress["error_rows"]) \
        == (8, 8, 4, 4)
    assert progress["percent"] == 100 and progress["households"] == 3 and progress["records"] == 3
    assert progress["households_changed"] == 3 and progress["records_changed"] == 3
    by_row = {e["row"]: e for e in progress["errors"]}
    assert sorted(by_row) == [7, 8, 9, 10]
    assert by_row[7]["column"] == "人均纯收入（元）" and "不能为负数" in by_row[7]["reason"]
    assert by_row[8]["column"] == "户主证件号码" and "校验位" in by_row[8]["reason"]
    assert by_row[9]["column"] == "村代码" and "不在您的辖区内" in by_row[9]["reason"]
    assert by_row[10]["column"] == "住房安全有保障" and "shi" in by_row[10]["reason"]

    first = snapshot(database_url)
    assert [h[0] for h in first["households"]] == ["5323251002010001", "5323251002010002", "5323251002010007"]
    assert [(r[0][-4:], r[1]) for r in first["records"]] == [("0001", "2022"), ("0001", "2023"), ("0002", "2023")]
    assert {r[4] for r in first["records"]} == {f"import:{job_id}"}
    assert first["households"][1][1] == "532325100202", "栋川西村 found by its name"
    assert sorted(t for t, _ in first["outbox"]) == ["household.record.saved"] * 3 + ["household.updated"] * 3
    with psycopg.connect(database_url) as conn:
        entered_by = conn.execute("SELECT id FROM common.users WHERE username = 'dongchuan_entry'").fetchone()[0]
    assert {h[7] for h in first["households"]} == {entered_by}

    errors = client.get(f"/api/import-jobs/{job_id}/errors.xlsx", headers=entry)
    assert errors.status_code == 200
    ws = load_workbook(io.BytesIO(errors.content)).active
    header = [c.value for c in ws[3]]
    assert header[:len(HEADERS)] == HEADERS and header[len(HEADERS)] == "错误说明"
    reason = {n: ws.cell(n, len(HEADERS) + 1).value for n in range(4, 12)}
    assert [n for n, v in reason.items() if v] == [7, 8, 9, 10]
    assert "不能为负数" in reason[7] and "校验位" in reason[8] and "辖区" in reason[9] and "shi" in reason[10]
    assert ws.cell(7, 1).fill.fgColor.rgb.endswith("FFE5E5") and ws["A1"].value == "2023年度栋川镇农户收支情况统计表"

    again = upload(client, entry, content).json()["id"]
    progress = client.get(f"/api/import-jobs/{again}", headers=entry).json()
    assert progress["status"] == "done" and progress["imported_rows"] == 4
    assert progress["households_changed"] == 0 and progress["records_changed"] == 0
    assert snapshot(database_url) == first, "the same file twice changes nothing"

    # one figure corrected: one record changes, one event
    changed = [dict(r) for r in MIXED]
    changed[1]["人均纯收入（元）"] = 9000
    third = upload(client, entry, workbook(changed)).json()["id"]
    progress = client.get(f"/api/import-jobs/{third}", headers=entry).json()
    assert (progress["households_changed"], progress["records_changed"]) == (0, 1)
    after = snapshot(database_url)
    assert after["outbox"][len(first["outbox"]):] == [("household.record.saved", "5323251002010001")]
    assert after["households"] == first["households"]


def test_a_blank_cell_keeps_what_the_register_holds(client, database_url):
    entry = login("dongchuan_entry")
    upload(client, entry, workbook([row(1)]))
    upload(client, entry, workbook([row(1, 联系电话=None, 饮水安全有保障=None, 因灾损失=None, 工资性收入=21000)]))
    with psycopg.connect(database_url) as conn:
        phone, water, loss, wage = conn.execute(
            """SELECT h.phone, r.drinking_water_ok, r.disaster_loss, r.wage_income FROM alerts.households h
               JOIN alerts.household_records r ON r.household_id = h.id""").fetchone()
    assert (phone, water, float(loss), float(wage)) == ("13812345678", True, 0.0, 21000.0)


def test_refused_uploads_import_nothing(client, database_url):
    entry = login("dongchuan_entry")
    from services.alerts.importer import MAX_UPLOAD_BYTES

    too_big = upload(client, entry, b"a" * (MAX_UPLOAD_BYTES + 1), "大.csv")
    assert too_big.status_code == 413
    assert upload(client, entry, b"%PDF-1.4", "a.pdf").status_code == 415
    legacy = upload(client, entry, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 512, "a.xls")
    assert legacy.status_code == 415 and "无法读取 Excel 文件" in legacy.json()["detail"], "a damaged .xls"
    wb = Workbook()
    wb.active.append([h for h in HEADERS if h not in ("期间", "户类型")])
    wb.active.append([row(1)[h] for h in HEADERS if h not in ("期间", "户类型")])
    out = io.BytesIO()
    wb.save(out)
    missing = upload(client, entry, out.getvalue())
    assert missing.status_code == 422
    assert missing.json()["detail"]["missing"] == ["户类型", "期间"] and "户类型、期间" in missing.json()["detail"]["message"]
    assert upload(client, login("yaoan_rsj"), workbook([row(1)])).status_code == 403
    assert client.post("/api/households/import", files={"file": ("a.xlsx", workbook([row(1)]))}).status_code == 401
    empty = snapshot(database_url)
    assert empty["households"] == [] and empty["outbox"] == []
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM alerts.import_jobs").fetchone()[0] == 0


def test_who_sees_a_job(client):
    entry = login("dongchuan_entry")
    job_id = upload(client, entry, workbook([row(1, 期间="2023-13")])).json()["id"]
    assert client.get(f"/api/import-jobs/{job_id}", headers=login("yaoan_office")).status_code == 200
    assert client.get(f"/api/import-jobs/{job_id}", headers=login("qingyang_office")).status_code == 404
    assert client.get(f"/api/import-jobs/{job_id}/errors.xlsx", headers=login("qingyang_office")).status_code == 404
    assert client.get("/api/import-jobs/999999", headers=entry).status_code == 404
    clean = upload(client, entry, workbook([row(1)])).json()["id"]
    r = client.get(f"/api/import-jobs/{clean}/errors.xlsx", headers=entry)
    assert r.status_code == 404 and "没有错误" in r.json()["detail"]


def test_a_job_whose_process_died_shows_as_stalled(client, database_url):
    entry = login("dongchuan_entry")
    with psycopg.connect(database_url) as conn:
        job_id = conn.execute(
            """INSERT INTO alerts.import_jobs (filename, uploaded_by, status, total_rows, processed_rows, updated_at)
               SELECT 'x.xlsx', id, 'running', 1000, 500, now() - interval '1 hour' FROM common.users
               WHERE username = 'dongchuan_entry' RETURNING id""").fetchone()[0]
    job = client.get(f"/api/import-jobs/{job_id}", headers=entry).json()
    assert job["stalled"] is True and job["percent"] == 50.0
    done = upload(client, entry, workbook([row(1)])).json()["id"]
    assert client.get(f"/api/import-jobs/{done}", headers=entry).json()["stalled"] is False


def test_a_crash_in_the_middle_of_a_chunk_leaves_that_chunk_out(client, database_url, monkeypatch):
    from services.alerts import import_writer, register

    monkeypatch.setattr(import_writer, "CHUNK_SIZE", 10)
    real_save = register.save_record
    calls = {"n": 0}

    def failing_save(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 25:  # the 5th row of the third chunk
            raise RuntimeError("disk full")
        return real_save(*args, **kwargs)

    monkeypatch.setattr(register, "save_record", failing_save)
    entry = login("dongchuan_entry")
    content = workbook([row(n) for n in range(1, 36)])  # Excel rows 4..38
    job_id = upload(client, entry, content).json()["id"]
    job = client.get(f"/api/import-jobs/{job_id}", headers=entry).json()
    assert job["status"] == "failed" and job["finished_at"]
    assert (job["total_rows"], job["processed_rows"], job["imported_rows"]) == (35, 20, 20)
    assert "前 20 行" in job["message"] and "重新上传" in job["message"]

    state = snapshot(database_url)
    numbers = [int(h[0][-4:]) for h in state["households"]]
    assert numbers == list(range(1, 21)), "the first two chunks are in, nothing of the third"
    assert len(state["records"]) == 20 and len(state["outbox"]) == 40 and len(state["audit"]) == 40

    monkeypatch.setattr(register, "save_record", real_save)
    rerun = upload(client, entry, content).json()["id"]
    job = client.get(f"/api/import-jobs/{rerun}", headers=entry).json()
    assert job["status"] == "done" and job["imported_rows"] == 35
    assert (job["households_changed"], job["records_changed"]) == (15, 15), "the re-run continues where it stopped"
    assert len(snapshot(database_url)["outbox"]) == 70


def test_a_row_the_database_refuses_is_left_out_alone(client, database_url, monkeypatch):
    from services.alerts import import_writer, register

    monkeypatch.setattr(import_writer, "CHUNK_SIZE", 5)
    real_save = register.save_record

    def refusing_save(conn, *, household_id, **kwargs):
        if conn.execute("SELECT household_no FROM alerts.households WHERE id = %s",
                        (household_id,)).fetchone()["household_no"].endswith("0007"):
            conn.execute("SELECT 1 / 0")  # a real error: the transaction is aborted
        return real_save(conn, household_id=household_id, **kwargs)

    monkeypatch.setattr(register, "save_record", refusing_save)
    entry = login("dongchuan_entry")
    job_id = upload(client, entry, workbook([row(n) for n in range(1, 13)])).json()["id"]
    job = client.get(f"/api/import-jobs/{job_id}", headers=entry).json()
    assert job["status"] == "done" and (job["imported_rows"], job["error_rows"]) == (11, 1)
    assert job["errors"] == [{"row": 10, "column": "", "reason": "数据库拒绝了这一行:DivisionByZero (rejected by the database)"}]
    state = snapshot(database_url)
    assert [int(h[0][-4:]) for h in state["households"]] == [n for n in range(1, 13) if n != 7]
    assert len(state["outbox"]) == 22


def test_progress_is_committed_chunk_by_chunk(database_url):
    from psycopg.rows import dict_row

    from services.alerts import importer

    seen = []
    with psycopg.connect(database_url, autocommit=True, row_factory=dict_row) as conn:
        job_id = importer.create_job(conn, "x.xlsx", None)

        def watch(outcome):
            with psycopg.connect(database_url) as other:  # what another connection (the progress page) sees
                seen.append(other.execute("SELECT processed_rows FROM alerts.import_jobs WHERE id = %s",
                                          (job_id,)).fetchone()[0])

        from contextlib import nullcontext
        outcome, _ = importer.run_import(lambda: nullcontext(conn), workbook([row(n) for n in range(1, 26)]), "x.xlsx",
                                         actor=None, job_id=job_id, chunk_size=10, on_progress=watch)
    assert seen == [0, 10, 20, 25] and outcome.imported_rows == 25


def _cli(args, tmp_path, rows):
    from services.cli import app

    path = tmp_path / "农户.xlsx"
    path.write_bytes(workbook(rows))
    return CliRunner().invoke(app, ["households", "import", str(path), *args])


def test_cli_dry_run_validates_everything_and_writes_nothing(database_url, tmp_path):
    result = _cli(["--dry-run", "--format", "json", "--user", "dongchuan_entry"], tmp_path, MIXED)
    assert result.exit_code == 1, result.output  # some rows have errors
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert {k: summary[k] for k in ("rows", "households", "records", "rows_with_errors")} == \
        {"rows": 8, "households": 3, "records": 3, "rows_with_errors": 4}
    assert [e["row"] for e in summary["errors"]] == [7, 8, 9, 10]
    assert set(summary["errors"][0]) == {"row", "column", "reason"}
    state = snapshot(database_url)
    assert state["households"] == [] and state["outbox"] == [] and state["audit"] == []
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM alerts.import_jobs").fetchone()[0] == 0


def test_cli_import_in_json_twice(database_url, tmp_path):
    valid = [r for i, r in enumerate(MIXED) if i not in (3, 4, 5, 6)]
    result = _cli(["--format", "json"], tmp_path, valid)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["rows"] == 4 and summary["households"] == 3 and summary["records"] == 3
    assert summary["rows_with_errors"] == 0 and summary["errors"] == [] and summary["records_changed"] == 3
    with psycopg.connect(database_url) as conn:
        status, processed = conn.execute("SELECT status, processed_rows FROM alerts.import_jobs").fetchone()
        assert (status, processed) == ("done", 4)
    before = snapshot(database_url)
    again = json.loads(_cli(["--format", "json"], tmp_path, valid).stdout.strip().splitlines()[-1])
    assert again["households_changed"] == 0 and again["records_changed"] == 0
    assert snapshot(database_url) == before

    table = _cli(["--user", "dongchuan_entry", "--errors-xlsx", str(tmp_path / "错误.xlsx")], tmp_path, MIXED)
    assert table.exit_code == 1 and "有错误 4 行" in table.stdout and "校验位" in table.stdout
    ws = load_workbook(tmp_path / "错误.xlsx").active
    assert "不能为负数" in ws.cell(7, len(HEADERS) + 1).value


def test_cli_refuses_a_file_without_the_required_columns(database_url, tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("户编号,户主姓名\n1,张三\n", encoding="utf-8")
    from services.cli import app

    result = CliRunner().invoke(app, ["households", "import", str(path)])
    assert result.exit_code == 2 and "户类型" in result.stderr
