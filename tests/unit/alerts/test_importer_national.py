"""Reading the national monitoring system's exports (全国防止返贫监测信息系统): the
监测对象信息 export built here in its real shape — two title rows, the header on row 3,
one row per person, household fields repeated on every member's row, columns the
importer does not read — with good households and each kind of bad row; header
variants; missing required columns; certificates; the 行政村信息 export; places
created on request. Pure: villages are given as a list."""

import io

import pytest
from national_exports import (
    HEADERS,
    NOT_READ,
    TITLES,
    export,
    family,
    person,
    resident_id,
)
from openpyxl import Workbook

from services.alerts.import_places import Village, Villages
from services.alerts.import_reader import ImportFileError
from services.alerts.national_import import Places
from services.alerts.national_persons import PersonRows
from services.alerts.national_reader import data_rows, detect

VILLAGES = [
    Village("532325100201", "栋川东村", "532325100000", "栋川镇", "532325000000", "姚安县"),
    Village("532325100202", "栋川西村", "532325100000", "栋川镇", "532325000000", "姚安县"),
    Village("532325101201", "光禄东村", "532325101000", "光禄镇", "532325000000", "姚安县"),
]
REGIONS = [{"code": "532325000000", "name": "姚安县", "level": "county", "parent_code": "532300000000"},
           {"code": "532325100000", "name": "栋川镇", "level": "township", "parent_code": "532325000000"},
           {"code": "532325101000", "name": "光禄镇", "level": "township", "parent_code": "532325000000"}]
def parse(content: bytes, *, period: str | None = "2023", create: bool = False, filename: str = "监测对象信息.xlsx"):
    sheet = detect(content, filename)
    rows = PersonRows(sheet)
    for n, values in data_rows(content, sheet):
        rows.add(n, values)
    places = Places(Villages(VILLAGES), REGIONS, create)
    return sheet, rows.households(places, period), places


def test_the_header_on_row_3_under_title_rows_and_households_from_their_members_rows():
    content = export([*family(1, 3), *family(2, 1, 劳动技能="丧失劳动力", 务工所在地=None)])
    sheet, parsed, _ = parse(content)
    assert (sheet.kind, sheet.header_row, sheet.title_year) == ("persons", 3, "2023")
    assert sheet.ignored == NOT_READ, "columns not read are listed"
    assert parsed.errors == [] and parsed.row_numbers == [4, 5, 6, 7]
    assert sorted(parsed.valid) == [4, 7], "a household is keyed by its first row"
    first = parsed.valid[4]
    assert first.persons == 3 and first.household_no == "5323251002010001"
    h = first.household
    assert {k: h[k] for k in ("village_code", "head_name", "head_id_number", "phone", "category", "members",
                              "labourers", "no_labour_capacity", "under_assistance")} == {
        "village_code": "532325100201", "head_name": "成员1-1", "head_id_number": resident_id(11),
        "phone": "13812345678", "category": "边缘易致贫户", "members": 3, "labourers": 3,
        "no_labour_capacity": False, "under_assistance": True}
    assert [(m["name"], m["relation"], m["id_type"], m["labour_skill"]) for m in h["member_list"]] == [
        ("成员1-1", "户主", "居民身份证", "普通劳动力"), ("成员1-2", "配偶", "居民身份证", "普通劳动力"),
        ("成员1-3", "之子", "居民身份证", "普通劳动力")]
    assert first.record == {
        "period": "2023", "wage_income": 18000, "business_income": -500, "property_income": 0, "transfer_income": 3600,
        "per_capita_income": 6900, "medical_expense": 12000, "compulsory_education_ok": True, "housing_ok": True,
        "drinking_water_ok": True, "basic_medical_ok": True, "labourers": 3, "employed": 1}
    assert first.monitoring == {
        "monitoring_category": "边缘易致贫户", "identified_month": "2022-03", "risks": ["因病", "因学"],
        "no_labour_support": False, "risk_eliminated": False, "elimination_method": None, "eliminated_month": None,
        "measures": {"产业帮扶": ["其他", "技能培训"], "就业帮扶": ["务工补助"]}}
    alone = parsed.valid[7]
    assert alone.household["labourers"] == 0 and alone.record["employed"] == 0 and alone.persons == 1


@pytest.mark.parametrize("where, change, column, words", [
    (1, {"证件号码": "110105194912310021"}, "证件号码", "校验位"),
    (1, {"证件号码": "532325198002300011"}, "证件号码", "出生日期不存在"),
    (1, {"证件号码": 5.32325198001011e17}, "证件号码", "文本格式"),
    (1, {"劳动技能": "壮劳力"}, "劳动技能", "普通劳动力、技能劳动力、弱劳动力或半劳动力、丧失劳动力、无劳动力"),
    (1, {"健康状况": "健康,很好"}, "健康状况", "应为 健康、长期慢性病、患大病、残疾 之一"),
    (1, {"与户主关系": "邻居"}, "与户主关系", "不能是“邻居”"),
    (1, {"与户主关系": None}, "与户主关系", "与户主关系必须填写"),
    (0, {"监测对象类别": "贫困户"}, "监测对象类别", "脱贫不稳定户、边缘易致贫户、突发严重困难户"),
    (0, {"致贫/返贫风险1": "因懒"}, "致贫/返贫风险1", "因病、因残"),
    (0, {"风险消除方式": "自动消除"}, "风险消除方式", "帮扶消除、自然消除"),
    (0, {"识别监测时间": "2022-13"}, "识别监测时间", "如 202203"),
    (0, {"风险是否已消除": "也许"}, "风险是否已消除", "应填“是”或“否”"),
    (0, {"工资性收入": -1}, "工资性收入", "不能为负数"),
    (0, {"人均纯收入（元）": "六千"}, "人均纯收入（元）", "应为金额"),
    (1, {"户类型": "一般农户"}, "户类型", "与户主行(第 4 行)的“脱贫户”不一致"),
    (1, {"与户主关系": "户主"}, "与户主关系", "已有户主(第 4 行)"),
    (2, {"证件号码": resident_id(11)}, "证件号码", "与第 4 行重复"),
])
def test_each_kind_of_bad_row_is_reported_on_its_row_and_the_household_is_left_out(where, change, column, words):
    members = family(1, 3)
    members[where] = {**members[where], **change}
    _, parsed, _ = parse(export([*members, *family(2, 2)]))
    bad_row = 4 + where
    matching = [e for e in parsed.errors if e.row == bad_row and e.column == column and words in e.reason]
    assert matching, parsed.errors
    assert sorted(parsed.valid) == [7], "the other household is imported"
    others = {4, 5, 6} - {bad_row}
    assert {e.row for e in parsed.errors} == {4, 5, 6}
    for r in others:
        assert [e.reason for e in parsed.errors if e.row == r] == [f"户编号 5323251002010001 第 {bad_row} 行有错误,整户未导入"]


def test_a_household_without_its_head_and_places_the_register_does_not_know():
    no_head = [person(1, 1, "配偶"), person(1, 2, "之子")]
    unknown = family(2, 1, 村="无名村")
    _, parsed, _ = parse(export([*no_head, *unknown]))
    assert parsed.valid == {}
    by_row = {e.row: e for e in parsed.errors}
    assert by_row[4].column == "与户主关系" and "没有户主" in by_row[4].reason
    assert "整户未导入" in by_row[5].reason
    assert by_row[6].column == "村" and "找不到村“无名村”" in by_row[6].reason


def test_header_variants_and_free_column_order():
    headers = [*reversed(HEADERS[:20]), *HEADERS[20:]]
    renamed = {"人均纯收入（元）": "人均纯收入(元)", "乡": "乡(镇)", "消除监测时间": "风险消除时间",
               "致贫/返贫风险1": "致贫返贫风险1", "村": "行政村", "与户主关系": " 与户主关系 "}
    members = family(1, 2, 风险是否已消除="是", 风险消除方式="帮扶消除", 消除监测时间="2023年9月")
    sheet, parsed, _ = parse(export(members, headers=headers, renamed=renamed))
    assert parsed.errors == []
    assert sheet.headers["per_capita_income"] == "人均纯收入(元)" and sheet.headers["eliminated_month"] == "风险消除时间"
    p = parsed.valid[4]
    assert p.record["per_capita_income"] == 6900 and p.monitoring["eliminated_month"] == "2023-09"
    assert p.monitoring["risk_eliminated"] is True and p.household["under_assistance"] is False, \
        "measures of an eliminated risk are not an active plan"


def test_missing_required_columns_are_all_named_and_nothing_is_read():
    headers = [h for h in HEADERS if h not in ("乡", "户类型", "监测对象类别")]
    with pytest.raises(ImportFileError) as e:
        detect(export(family(1), headers=headers), "监测对象信息.xlsx")
    assert e.value.status == 422 and e.value.missing == ["乡", "户类型 或 监测对象类别"]
    assert "监测对象信息表缺少必需的列:乡、户类型 或 监测对象类别" in str(e.value)
    assert detect(export(family(1), headers=[h for h in HEADERS if h != "与户主关系"]), "x.xlsx") is None, \
        "without 与户主关系 it is not the national export (then it is read as our template)"


def test_disability_certificates_of_20_and_22_characters():
    head_id = resident_id(11)
    members = [person(1, 1), person(1, 2, "之子", 证件号码=resident_id(12) + "12", 证件类型="残疾人证", 健康状况="残疾"),
               person(1, 3, "之女", 证件号码=resident_id(13) + "41B2", 证件类型="居民身份证", 健康状况="残疾,长期慢性病"),
               person(1, 4, "之孙子", 证件号码=resident_id(14) + "4", 证件类型="残疾人证")]
    _, parsed, _ = parse(export(members))
    bad = [e for e in parsed.errors if "整户未导入" not in e.reason]
    assert [(e.row, e.column) for e in bad] == [(7, "证件号码")] and "残疾人证号应为20或22位" in bad[0].reason
    _, parsed, _ = parse(export(members[:3]))
    assert parsed.errors == []
    listed = parsed.valid[4].household["member_list"]
    assert [(m["id_number"], m["id_type"], m["health"]) for m in listed] == [
        (head_id, "居民身份证", "健康"), (resident_id(12) + "12", "残疾人证", "残疾"),
        (resident_id(13) + "41B2", "残疾人证", "残疾、长期慢性病")]


def test_the_period_comes_from_the_title_or_is_given():
    sheet, parsed, _ = parse(export(family(1), titles=(["监测对象信息"], ["导出时间:2024-01-05"])), period=None)
    assert sheet.title_year is None and parsed.valid[4].record is None
    _, parsed, _ = parse(export(family(1)), period="2024")
    assert parsed.valid[4].record["period"] == "2024"
    sheet, _, _ = parse(export(family(1), titles=(["截至2024年1月5日"], ["2023年度监测对象信息"])))
    assert sheet.title_year == "2023", "the year of the data (年度) before any other year"


def test_create_regions_plans_townships_and_villages_under_the_named_county():
    members = [*family(1, 1, 乡="新建乡", 村="新建村"), *family(2, 1, 乡="栋川镇", 村="栋川新村"),
               *family(3, 1, 乡="新建乡", 村="新建村"), *family(4, 1, 县="外县", 乡="某乡", 村="某村")]
    _, parsed, places = parse(export(members), create=True)
    assert places.new == [
        {"code": "532325901000", "name": "新建乡", "level": "township", "parent_code": "532325000000"},
        {"code": "532325901901", "name": "新建村", "level": "village", "parent_code": "532325901000"},
        {"code": "532325100901", "name": "栋川新村", "level": "village", "parent_code": "532325100000"}]
    assert [parsed.valid[n].household["village_code"] for n in (4, 5, 6)] == \
        ["532325901901", "532325100901", "532325901901"]
    assert [(e.row, e.column) for e in parsed.errors] == [(7, "县")] and "外县" in parsed.errors[0].reason
    _, without, _ = parse(export(members))
    assert sorted(without.valid) == [] and all(e.column == "村" for e in without.errors)


def test_the_village_export_and_csv():
    wb = Workbook()
    ws = wb.active
    ws.title = "行政村信息"
    ws.append(["行政村信息"])
    ws.append([])
    ws.append(["序号", "县", "乡", "村", "总户数", "总人口数", "低保户数", "农民人均纯收入（元）"])
    ws.append([1, "姚安县", "栋川镇", "栋川东村", 420, 1530, 12, 14500])
    out = io.BytesIO()
    wb.save(out)
    sheet = detect(out.getvalue(), "行政村信息.xlsx")
    assert (sheet.kind, sheet.header_row, sheet.ignored) == ("villages", 3, ["序号", "低保户数", "农民人均纯收入（元）"])
    assert [v for _, v in data_rows(out.getvalue(), sheet)][0][5] == 1530
    text = "\n".join(",".join("" if v is None else str(v) for v in r) for r in (
        TITLES[0], HEADERS, [person(1, 1).get(h, "") for h in HEADERS]))
    content = text.encode("gbk")
    sheet, parsed, _ = parse(content, filename="监测对象信息.csv")
    assert (sheet.file_kind, sheet.header_row) == ("csv", 2) and parsed.errors == [] and list(parsed.valid) == [3]
