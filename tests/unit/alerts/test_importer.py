"""Reading household import files: the header found by its names under title rows,
the cells read as officials write them, every bad row reported with its Excel row
number, column and a Chinese reason, CSV in UTF-8 and GBK, the error copy and the
template. Pure: workbooks are built here, villages given as a list."""

import csv
import io
from datetime import datetime

import pytest
from openpyxl import Workbook, load_workbook

from services.alerts.importer import (
    ERROR_HEADER, TEMPLATE_COLUMNS, ImportFileError, Village, Villages, error_workbook, header_key, parse_table,
    read_table,
)
from services.alerts.template import DATA_SHEET, template_xlsx

HEAD_ID = "11010519491231002X"
OTHER_ID = "110105195203150021"
VILLAGES = Villages([
    Village("532325100201", "栋川东村", "532325100000", "栋川镇", "532325000000", "姚安县"),
    Village("532325100202", "栋川西村", "532325100000", "栋川镇", "532325000000", "姚安县"),
    Village("532325101201", "光禄东村", "532325101000", "光禄镇", "532325000000", "姚安县"),
    Village("532325100205", "新村", "532325100000", "栋川镇", "532325000000", "姚安县"),
    Village("532325101205", "新村", "532325101000", "光禄镇", "532325000000", "姚安县"),
], outside={"532399100201"})

GOOD = {
    "户编号": "5323251002010001", "县": "姚安县", "乡(镇)": "栋川镇", "村": "栋川东村", "村代码": "532325100201",
    "户主姓名": "张三", "户主证件号码": HEAD_ID, "联系电话": "13812345678", "户类型": "脱贫户", "家庭人口数": 4,
    "劳动力人数": 2, "整户无劳动能力": "否", "期间": "2023", "人均纯收入（元）": 7900, "工资性收入": 20000,
    "生产经营性收入": -500, "财产性收入": 0, "转移性收入": 3600, "合规自付医疗支出": 1200.5, "教育支出": 0,
    "因灾损失": None, "意外事故损失": None, "务工就业人数": 1, "义务教育有保障": "是", "基本医疗有保障": "是",
    "住房安全有保障": "是", "饮水安全有保障": "否",
}
HEADERS = [c.header for c in TEMPLATE_COLUMNS]
TITLES = (["2023年度姚安县农户收支情况统计表"], ["填报单位:栋川镇人民政府", None, None, "填报日期:2024年1月5日"])


def household(n: int, **change) -> dict:
    return {**GOOD, "户编号": f"53232510020100{n:02d}", **change}


def workbook(rows: list[dict], *, headers: dict | None = None, titles=TITLES, extra_columns=()) -> bytes:
    """A sheet with title rows, a header (template names, some renamed by `headers`) and the rows."""
    names = [*extra_columns, *HEADERS]
    wb = Workbook()
    ws = wb.active
    for t in titles:
        ws.append(list(t))
    ws.append([(headers or {}).get(h, h) for h in names])
    for r in rows:
        ws.append([r.get(h) for h in names])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def parse(content: bytes, filename: str = "农户.xlsx"):
    return parse_table(read_table(content, filename), VILLAGES)


def test_the_header_is_found_under_title_rows_and_rows_become_the_schema_dicts():
    parsed = parse(workbook([household(1), household(2, 期间="2023-05", 饮水安全有保障=None)]))
    table = parsed.table
    assert table.header_row == 3 and len(table.columns) == len(HEADERS)
    assert parsed.errors == [] and parsed.row_numbers == [4, 5]
    first = parsed.valid[4]
    assert first.household == {
        "household_no": "5323251002010001", "village_code": "532325100201", "head_name": "张三",
        "head_id_number": HEAD_ID, "phone": "13812345678", "category": "脱贫户", "members": 4, "labourers": 2,
        "no_labour_capacity": False,
    }
    assert first.record == {
        "period": "2023", "per_capita_income": 7900.0, "wage_income": 20000.0, "business_income": -500.0,
        "property_income": 0.0, "transfer_income": 3600.0, "medical_expense": 1200.5, "education_expense": 0.0,
        "labourers": 2, "employed": 1, "compulsory_education_ok": True, "basic_medical_ok": True,
        "housing_ok": True, "drinking_water_ok": False,
    }
    second = parsed.valid[5].record
    assert second["period"] == "2023-05" and "drinking_water_ok" not in second, "a blank cell is not given"


def test_header_variants_full_and_half_width_brackets_and_unknown_columns():
    renamed = {"人均纯收入（元）": "人均纯收入(元)", "乡(镇)": "乡（镇）", "户主证件号码": "身份证号码",
               "户编号": "*户编号", "村代码": "村（区划代码）", "家庭人口数": "家庭人口数（人）", "期间": "年度",
               "联系电话": "联系 电话", "户类型": "农户类型"}
    content = workbook([household(1)], headers=renamed, extra_columns=("序号",))
    table = read_table(content, "x.xlsx")
    assert {"per_capita_income", "township", "head_id_number", "household_no", "village_code", "members",
            "period", "phone", "category"} <= set(table.columns)
    assert table.columns["household_no"] == 1, "序号 comes first and is ignored"
    assert table.headers["per_capita_income"] == "人均纯收入(元)"
    parsed = parse_table(table, VILLAGES)
    assert parsed.errors == [] and parsed.valid[4].record["per_capita_income"] == 7900
    assert header_key("人均纯收入（元）") == header_key("人均纯收入") == "per_capita_income"
    assert header_key("村") == "village" and header_key("村(区划代码)") == "village_code"
    assert header_key("证件类型") is None and header_key(ERROR_HEADER) is None


def test_missing_required_columns_are_named():
    content = workbook([household(1)], headers={"期间": "备注", "户类型": "说明"})
    with pytest.raises(ImportFileError) as e:
        read_table(content, "x.xlsx")
    assert e.value.status == 422 and e.value.missing == ["户类型", "期间"]
    assert "户类型、期间" in str(e.value)
    only_names = workbook([household(1)], headers={"村代码": "代码?", "村": "地址"})
    with pytest.raises(ImportFileError) as e:
        read_table(only_names, "x.xlsx")
    assert e.value.missing == ["村 或 村代码"]
    with pytest.raises(ImportFileError) as e:
        read_table(workbook([], titles=(), headers={h: f"列{i}" for i, h in enumerate(HEADERS)}), "x.xlsx")
    assert "未找到表头" in str(e.value) and "户编号" in e.value.missing


@pytest.mark.parametrize("change, column, words", [
    ({"人均纯收入（元）": -5}, "人均纯收入（元）", "人均纯收入不能为负数"),
    ({"工资性收入": -1, "教育支出": -2}, "教育支出", "教育支出不能为负数"),
    ({"转移性收入": "三千"}, "转移性收入", "应为金额"),
    ({"户主证件号码": "110105194912310021"}, "户主证件号码", "校验位"),
    ({"户主证件号码": 1.10105194912310e17}, "户主证件号码", "文本格式"),
    ({"户主证件号码": "1.10105E+17"}, "户主证件号码", "科学计数法"),
    ({"村代码": "532325100299"}, "村代码", "不存在"),
    ({"村代码": "532399100201", "村": None, "乡(镇)": None, "县": None}, "村代码", "不在您的辖区内"),
    ({"村代码": "53232510020"}, "村代码", "12位"),
    ({"村代码": None, "村": "无名村"}, "村", "找不到村“无名村”"),
    ({"村代码": "532325101201"}, "村", "与村代码"),
    ({"家庭人口数": 2, "劳动力人数": 3, "务工就业人数": 0}, "劳动力人数", "不能超过家庭人口数"),
    ({"家庭人口数": 0}, "家庭人口数", "1到30"),
    ({"家庭人口数": 2.5}, "家庭人口数", "应为整数"),
    ({"整户无劳动能力": "是"}, "整户无劳动能力", "劳动力人数应为0"),
    ({"务工就业人数": 3}, "务工就业人数", "不能超过劳动力人数"),
    ({"期间": "2023-13"}, "期间", "期间应写作 2023 或 2023-05"),
    ({"期间": "23年"}, "期间", "期间应写作"),
    ({"期间": None}, "期间", "期间必须填写"),
    ({"住房安全有保障": "shi"}, "住房安全有保障", "应填“是”或“否”,不能是“shi”"),
    ({"饮水安全有保障": "否否"}, "饮水安全有保障", "不能是“否否”"),
    ({"义务教育有保障": "有"}, "义务教育有保障", "应填“是”或“否”"),
    ({"户类型": "富裕户"}, "户类型", "户类型应为 脱贫户"),
    ({"户主姓名": None}, "户主姓名", "户主姓名必须填写"),
    ({"联系电话": "12ab"}, "联系电话", "7到15位"),
])
def test_each_kind_of_bad_row_is_reported_on_its_excel_row_and_column(change, column, words):
    parsed = parse(workbook([household(1), household(2, **change), household(3)]))
    assert sorted(parsed.valid) == [4, 6], "the other rows stay valid"
    assert {e.row for e in parsed.errors} == {5}
    matching = [e for e in parsed.errors if e.column == column and words in e.reason]
    assert matching, parsed.errors


def test_every_problem_of_a_row_is_listed_in_column_order():
    parsed = parse(workbook([household(1, **{"人均纯收入（元）": -5, "合规自付医疗支出": -1, "户主证件号码": "110105194912310021",
                                             "住房安全有保障": "对", "期间": "2023-13", "家庭人口数": 2, "劳动力人数": 3})]))
    assert [e.column for e in parsed.errors] == ["户主证件号码", "劳动力人数", "期间", "人均纯收入（元）", "合规自付医疗支出",
                                                 "住房安全有保障"], "a wrong field does not hide the checks across fields"
    assert all(e.row == 4 for e in parsed.errors)


def test_row_numbers_are_the_ones_excel_shows_and_blank_and_total_rows_are_skipped():
    wb = Workbook()
    ws = wb.active
    ws.append(["农户收支情况表"])
    ws.append([])
    ws.append(HEADERS)
    ws.append([household(1).get(h) for h in HEADERS])  # row 4
    ws.append([])  # row 5, blank
    ws.append(HEADERS)  # row 6, the header repeated
    ws.append([household(2, 期间="2023-99").get(h) for h in HEADERS])  # row 7
    ws.append(["合计", None, None, None, None, None, None, None, None, 8])  # row 8
    ws.append(["填表人:李四", None, "审核人:王五"])  # row 9
    out = io.BytesIO()
    wb.save(out)
    parsed = parse(out.getvalue())
    assert parsed.row_numbers == [4, 7]
    assert [e.row for e in parsed.errors] == [7]


def test_villages_by_name_within_the_jurisdiction():
    by_name = parse(workbook([household(1, 村代码=None, 村="栋川东")]))
    assert by_name.valid[4].household["village_code"] == "532325100201"
    ambiguous = parse(workbook([household(1, 村代码=None, 村="新村", **{"乡(镇)": None})]))
    assert "请填写乡(镇)或村代码" in ambiguous.errors[0].reason and ambiguous.errors[0].column == "村"
    told = parse(workbook([household(1, 村代码=None, 村="新村", **{"乡(镇)": "光禄"})]))
    assert told.valid[4].household["village_code"] == "532325101205"
    wrong_town = parse(workbook([household(1, 村代码=None, 村="栋川东村", **{"乡(镇)": "光禄镇"})]))
    assert wrong_town.errors[0].column == "乡(镇)" and "没有村“栋川东村”" in wrong_town.errors[0].reason


def test_cells_as_officials_write_them():
    parsed = parse(workbook([
        household(1, 期间="2023年", 工资性收入="20,000元", 整户无劳动能力="N", 家庭人口数="4人", 联系电话=13812345678),
        household(2, 期间="2023年5月", 义务教育有保障="√", 住房安全有保障="×", 户类型=" 边缘易致贫户 "),
        household(3, 期间=datetime(2023, 6, 1), 户编号=5323251002010003, 因灾损失="/", 户主证件号码="11010519491231002x"),
        household(4, 期间=202307, 意外事故损失="—"),
        household(5, 期间=2022.0, 户主证件号码=None),
    ]))
    assert parsed.errors == []
    r1, r2, r3, r4, r5 = (parsed.valid[n] for n in (4, 5, 6, 7, 8))
    assert r1.record["period"] == "2023" and r1.record["wage_income"] == 20000 and r1.household["members"] == 4
    assert r1.household["no_labour_capacity"] is False and r1.household["phone"] == "13812345678"
    assert r2.record["period"] == "2023-05" and r2.record["compulsory_education_ok"] is True
    assert r2.record["housing_ok"] is False and r2.household["category"] == "边缘易致贫户"
    assert r3.record["period"] == "2023-06" and r3.household_no == "5323251002010003"
    assert "disaster_loss" not in r3.record and r3.household["head_id_number"] == "11010519491231002x"
    assert r4.record["period"] == "2023-07" and "accident_loss" not in r4.record
    assert r5.record["period"] == "2022" and "head_id_number" not in r5.household


def test_a_household_row_without_figures_needs_no_period():
    only = {h: v for h, v in household(1).items() if h in ("户编号", "村代码", "户主姓名", "户类型", "家庭人口数", "劳动力人数")}
    parsed = parse(workbook([only]))
    assert parsed.errors == [] and parsed.valid[4].record is None


def test_one_household_over_several_periods_and_repeated_periods():
    parsed = parse(workbook([
        household(1, 期间="2023", 户类型="一般农户", 联系电话=None),
        household(1, 期间="2022", 户类型="脱贫户", 联系电话="13900000000"),
        household(1, 期间="2023"),
    ]))
    assert [e.row for e in parsed.errors] == [6] and "与第 4 行重复" in parsed.errors[0].reason
    assert parsed.valid[4].household is parsed.valid[5].household
    merged = parsed.valid[4].household
    assert merged["category"] == "一般农户", "the latest period's household wins"
    assert merged["phone"] == "13900000000", "a blank cell in the latest row keeps the earlier one"


def test_rows_of_one_household_that_contradict_each_other_are_refused_together():
    parsed = parse(workbook([
        household(1, 期间="2022", 家庭人口数=5, 劳动力人数=4, 务工就业人数=0),
        household(1, 期间="2023", 家庭人口数=3, 劳动力人数=None, 务工就业人数=None),
    ]))
    assert sorted(parsed.valid) == [] and {e.row for e in parsed.errors} == {4, 5}
    assert "劳动力人数" in parsed.errors[0].reason


def _csv(rows: list[dict], encoding: str) -> bytes:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["农户收支情况"])
    w.writerow(HEADERS)
    for r in rows:
        w.writerow(["" if r.get(h) is None else r.get(h) for h in HEADERS])
    return out.getvalue().encode(encoding)


@pytest.mark.parametrize("encoding, expected", [("utf-8-sig", "utf-8"), ("gbk", "gb18030"), ("utf-8", "utf-8")])
def test_csv_in_utf8_with_bom_and_gbk(encoding, expected):
    rows = [household(1), household(2, **{"人均纯收入（元）": -1}), household(3, 村代码="", 村="光禄东村", **{"乡(镇)": "光禄镇"})]
    table = read_table(_csv(rows, encoding), "农户.csv")
    assert table.kind == "csv" and table.encoding == expected and table.header_row == 2
    parsed = parse_table(table, VILLAGES)
    assert sorted(parsed.valid) == [3, 5] and [(e.row, e.column) for e in parsed.errors] == [(4, "人均纯收入（元）")]
    assert parsed.valid[3].household["head_name"] == "张三" and parsed.valid[3].household["members"] == 4
    assert parsed.valid[5].household["village_code"] == "532325101201"


@pytest.mark.parametrize("filename, content, words", [
    ("a.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "另存为 .xlsx"),
    ("a.xlsx", b"not a zip", "不是 Excel"),
    ("a.pdf", b"%PDF-1.4", "不支持的文件类型"),
    ("a.csv", b"PK\x03\x04" + b"\0" * 100, "不是文本"),
])
def test_wrong_file_types(filename, content, words):
    with pytest.raises(ImportFileError) as e:
        read_table(content, filename)
    assert e.value.status == 415 and words in str(e.value)


def test_the_error_copy_is_the_original_with_a_reason_column_and_the_bad_rows_marked():
    content = workbook([household(1), household(2, **{"人均纯收入（元）": -5, "住房安全有保障": "shi"}), household(3)])
    table = read_table(content, "x.xlsx")
    parsed = parse_table(table, VILLAGES)
    wb = load_workbook(io.BytesIO(error_workbook(content, table, parsed.errors)))
    ws = wb.active
    assert ws["A1"].value == TITLES[0][0], "the title rows are kept"
    header = [c.value for c in ws[3]]
    col = header.index(ERROR_HEADER) + 1
    assert col == len(HEADERS) + 1
    assert ws.cell(4, col).value is None and ws.cell(6, col).value is None
    message = ws.cell(5, col).value
    assert "人均纯收入不能为负数" in message and "不能是“shi”" in message
    assert ws.cell(5, 1).fill.fgColor.rgb.endswith("FFE5E5")
    income = HEADERS.index("人均纯收入（元）") + 1
    assert ws.cell(5, income).fill.fgColor.rgb.endswith("FF9999") and ws.cell(5, income).value == -5
    assert ws.cell(4, 1).fill.fgColor.rgb in ("00000000", None)

    # corrected in the copy and uploaded again: the old 错误说明 column is ignored, then reused
    ws.cell(5, income).value = 5000
    ws.cell(5, HEADERS.index("住房安全有保障") + 1).value = "是"
    ws.cell(6, HEADERS.index("期间") + 1).value = "2023-13"
    fixed = io.BytesIO()
    wb.save(fixed)
    table = read_table(fixed.getvalue(), "x.xlsx")
    parsed = parse_table(table, VILLAGES)
    assert [e.row for e in parsed.errors] == [6]
    again = load_workbook(io.BytesIO(error_workbook(fixed.getvalue(), table, parsed.errors))).active
    assert [c.value for c in again[3]].count(ERROR_HEADER) == 1
    assert again.cell(5, col).value is None and "期间" in again.cell(6, col).value


def test_the_error_copy_of_a_csv_is_a_workbook_keeping_the_digits():
    content = _csv([household(1, 户主证件号码="110105194912310021")], "gbk")
    table = read_table(content, "x.csv")
    parsed = parse_table(table, VILLAGES)
    ws = load_workbook(io.BytesIO(error_workbook(content, table, parsed.errors))).active
    assert ws.cell(3, HEADERS.index("户主证件号码") + 1).value == "110105194912310021"
    assert ws.cell(2, len(HEADERS) + 1).value == ERROR_HEADER and "校验位" in ws.cell(3, len(HEADERS) + 1).value


def test_the_template_reads_back_with_every_column():
    content = template_xlsx(VILLAGES)
    wb = load_workbook(io.BytesIO(content))
    assert wb.sheetnames[0] == DATA_SHEET and "填写说明" in wb.sheetnames
    assert [r[3].value for r in wb["村代码"].iter_rows(min_row=2)] == sorted(v.code for v in VILLAGES)
    table = read_table(content, "模板.xlsx")
    assert table.sheet == DATA_SHEET and table.rows == []
    assert set(table.columns) == {c.key for c in TEMPLATE_COLUMNS}
    assert [table.headers[c.key] for c in TEMPLATE_COLUMNS] == HEADERS
    ws = wb[DATA_SHEET]
    for i, h in enumerate(HEADERS, start=1):  # the first row under the header (the cells below are formatted)
        ws.cell(table.header_row + 1, i, household(1).get(h))
    filled = io.BytesIO()
    wb.save(filled)
    parsed = parse(filled.getvalue())
    assert parsed.errors == [] and list(parsed.valid) == [table.header_row + 1]
