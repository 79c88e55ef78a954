"""Reading and writing rectification ledgers (整改台账) as Excel, pure: every workbook is
built here with openpyxl, read back, and checked cell by cell."""

import io
from datetime import date, datetime

import pytest
from openpyxl import Workbook, load_workbook

from services.tasks.ledger_excel import (
    DeadlineError,
    LedgerFileError,
    header_field,
    parse_deadline,
    read_ledger,
    to_ledger_xlsx,
)

HEADER = ["序号", "问题", "整改措施", "责任单位", "责任人", "完成时限", "任务清单", "整改进展"]


def workbook(rows, merges=(), sheet_title="Sheet1", extra_sheets=()) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = sheet_title
    for row in rows:
        ws.append(list(row))
    for rng in merges:
        ws.merge_cells(rng)
    for name, more in extra_sheets:
        other = wb.create_sheet(name)
        for row in more:
            other.append(list(row))
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def test_plain_ledger_reads_every_column():
    data = workbook([
        HEADER,
        [1, "防返贫监测不及时", "每月开展一次排查", "县乡村振兴局", "张三", "2023-06-30", "制定排查方案", "已排查3个乡镇"],
        [2, "产业帮扶项目收益不高", "完善利益联结机制", "县农业农村局", "", date(2023, 9, 30), "", ""],
    ])
    ledger = read_ledger(data, fallback_year=2023)
    assert ledger.errors == []
    assert ledger.title is None
    first, second = ledger.items
    assert (first.row, first.ref, first.problem, first.measure, first.unit, first.person) == (
        2, "1", "防返贫监测不及时", "每月开展一次排查", "县乡村振兴局", "张三")
    assert (first.deadline, first.task_list, first.progress) == (date(2023, 6, 30), "制定排查方案", "已排查3个乡镇")
    assert (second.row, second.deadline, second.person, second.task_list) == (3, date(2023, 9, 30), "", "")


def test_title_rows_header_variants_and_year_from_the_title():
    data = workbook([
        ["附件2"],
        ["姚安县2024年巡视反馈问题整改台账"],
        ["填报单位:县乡村振兴局", None, None, None, "填报时间:2025年1月"],
        ["编号", "存在问题", "整改举措", "责任部门", "责任领导", "整改时限", "具体任务", "进展情况", "备注"],
        ["一", "问题一", "措施一", "县人社局", "李四", "6月底", "任务一", "", "无"],
        ["二", "问题二", "措施二", "县财政局", "王五", "2024年12月31日前", "", "", ""],
        ["三", "问题三", "措施三", "县财政局", "", "9月30日", "", "", ""],
        ["四", "问题四", "措施四", "县财政局", "", "年底前完成", "", "", ""],
    ])
    ledger = read_ledger(data, fallback_year=2030)
    assert ledger.errors == []
    assert ledger.title == "姚安县2024年巡视反馈问题整改台账"
    assert ledger.year == 2024
    assert ledger.headers["problem"] == "存在问题" and ledger.headers["deadline"] == "整改时限"
    assert [i.row for i in ledger.items] == [5, 6, 7, 8]
    assert [i.ref for i in ledger.items] == ["一", "二", "三", "四"]
    assert [i.deadline for i in ledger.items] == [date(2024, 6, 30), date(2024, 12, 31), date(2024, 9, 30),
                                                 date(2024, 12, 31)]
    assert ledger.items[0].unit == "县人社局" and ledger.items[0].person == "李四"


def test_an_explicit_year_wins_over_the_title():
    data = workbook([["2024年整改台账"], ["问题描述", "整改措施", "责任单位", "完成时间"], ["问题", "措施", "县财政局", "3月底"]])
    assert read_ledger(data, year=2025).items[0].deadline == date(2025, 3, 31)


def test_columns_in_another_order_and_multiline_headers():
    data = workbook([
        ["责任\n单位", "完成时限\n(年月日)", "问 题", "整改措施(任务清单)"],
        ["县民政局", datetime(2023, 7, 15), "低保动态调整不及时", "开展专项清理"],
    ])
    ledger = read_ledger(data, fallback_year=2023)
    assert ledger.errors == []
    item = ledger.items[0]
    assert (item.unit, item.deadline, item.problem, item.measure, item.ref) == (
        "县民政局", date(2023, 7, 15), "低保动态调整不及时", "开展专项清理", "1")


def test_merged_cells_heading_rows_and_footer_notes():
    data = workbook([
        ["2023年成效考核反馈问题整改台账"],
        HEADER,
        ["一、政策落实方面"],
        [1, "问题甲", "措施甲", "县农业农村局", "赵六", "2023/6/30", "", ""],
        [2, "问题乙", "措施乙", None, None, None, "", ""],
        [None] * 8,
        [3, "问题丙", "措施丙", "县水务局", "", "20231031", "", ""],
        ["填表人:钱七", None, None, "审核人:孙八"],
    ], merges=["A1:H1", "A3:H3", "D4:D5", "E4:E5", "F4:F5"])
    ledger = read_ledger(data)
    assert ledger.errors == []
    assert ledger.title == "2023年成效考核反馈问题整改台账"
    assert [(i.row, i.problem, i.unit, i.person, i.deadline) for i in ledger.items] == [
        (4, "问题甲", "县农业农村局", "赵六", date(2023, 6, 30)),
        (5, "问题乙", "县农业农村局", "赵六", date(2023, 6, 30)),
        (7, "问题丙", "县水务局", "", date(2023, 10, 31)),
    ]


def test_bad_rows_are_reported_with_their_excel_row_and_column():
    data = workbook([
        ["某县整改台账"],
        ["序号", "存在问题", "整改措施", "责任单位", "完成时限"],
        [1, "问题一", "措施一", "县财政局", "2023-02-30"],
        [2, "", "措施二", "县财政局", "2023-06-30"],
        [3, "问题三", "措施三", "", "长期坚持"],
        [4, "问题四", "措施四", "县财政局", "尽快"],
        [5, "问题五", "措施五", "县财政局", "6月底"],
        [6, "问题六", "措施六", "县财政局", "2023-06-30"],
    ])
    ledger = read_ledger(data)  # no year anywhere: 6月底 cannot be completed
    found = {(e.row, e.column): e.reason for e in ledger.errors}
    assert set(found) == {(3, "完成时限"), (4, "存在问题"), (5, "责任单位"), (5, "完成时限"), (6, "完成时限"),
                          (7, "完成时限")}
    assert "不存在" in found[(3, "完成时限")]
    assert "为空" in found[(4, "存在问题")]
    assert "具体" in found[(5, "完成时限")]
    assert "无法识别" in found[(6, "完成时限")]
    assert "年份" in found[(7, "完成时限")]
    assert [i.row for i in ledger.items] == [8], "good rows are read; the caller imports nothing while errors remain"
    assert all(e.as_dict().keys() == {"row", "column", "reason"} for e in ledger.errors)


def test_a_sheet_without_the_needed_columns_is_one_error():
    ledger = read_ledger(workbook([["姓名", "电话"], ["张三", "123"]]))
    assert ledger.items == []
    assert len(ledger.errors) == 1
    assert ledger.errors[0].row is None and "表头" in ledger.errors[0].reason
    only_problem = read_ledger(workbook([["问题", "说明"], ["x", "y"]]))
    assert "责任单位" in only_problem.errors[0].column and "完成时限" in only_problem.errors[0].column


def test_the_first_sheet_with_a_header_is_read():
    data = workbook([["说明"], ["本表由各单位填报"]], sheet_title="填报说明",
                    extra_sheets=[("台账", [HEADER, [1, "问题", "措施", "县财政局", "", "2023-12-31", "", ""]])])
    ledger = read_ledger(data)
    assert ledger.sheet == "台账" and len(ledger.items) == 1 and ledger.errors == []


def test_a_header_without_rows_is_an_error():
    ledger = read_ledger(workbook([HEADER]))
    assert ledger.items == [] and ledger.errors[0].row == 1


def test_not_a_workbook():
    with pytest.raises(LedgerFileError, match="xlsx"):
        read_ledger(b"just some text")
    with pytest.raises(LedgerFileError):
        read_ledger(b"PK\x03\x04 broken zip")


@pytest.mark.parametrize("written, expected", [
    ("2023年6月30日", date(2023, 6, 30)),
    ("2023年6月30日前", date(2023, 6, 30)),
    ("2023年6月30日前完成", date(2023, 6, 30)),
    ("2023-06-30", date(2023, 6, 30)),
    ("2023/6/30", date(2023, 6, 30)),
    ("2023.6.30", date(2023, 6, 30)),
    ("２０２３年６月３０日", date(2023, 6, 30)),
    ("20230630", date(2023, 6, 30)),
    ("2023年6月", date(2023, 6, 30)),
    ("2023年2月底", date(2023, 2, 28)),
    ("6月底", date(2024, 6, 30)),
    ("6月底前", date(2024, 6, 30)),
    ("2月底", date(2024, 2, 29)),
    ("9月30日", date(2024, 9, 30)),
    ("年底", date(2024, 12, 31)),
    ("2023年底", date(2023, 12, 31)),
    ("上半年", date(2024, 6, 30)),
    ("三季度末", date(2024, 9, 30)),
    ("2023年第一季度", date(2023, 3, 31)),
    ("于2023年5月10日前", date(2023, 5, 10)),
    (date(2023, 6, 30), date(2023, 6, 30)),
    (datetime(2023, 6, 30, 0, 0), date(2023, 6, 30)),
    (45107, date(2023, 6, 30)),  # an Excel serial date in a cell without a date format
    (20230630, date(2023, 6, 30)),
])
def test_deadlines(written, expected):
    assert parse_deadline(written, 2024) == expected


@pytest.mark.parametrize("written, reason", [
    ("长期坚持", "具体"),
    ("立行立改", "具体"),
    ("2023-13-01", "不存在"),
    ("2023年2月30日", "不存在"),
    ("13月底", "月份"),
    ("下个月", "无法识别"),
    (3.5, "无法识别"),
    ("", "为空"),
])
def test_deadlines_refused(written, reason):
    with pytest.raises(DeadlineError, match=reason):
        parse_deadline(written, 2024)


def test_month_without_a_year_needs_one():
    with pytest.raises(DeadlineError, match="年份"):
        parse_deadline("6月底", None)


@pytest.mark.parametrize("header, field", [
    ("存在问题", "problem"), ("问题描述", "problem"), ("反馈问题", "problem"), ("问题清单", "problem"),
    ("整改时限", "deadline"), ("完成时间", "deadline"), ("时限清单", "deadline"), ("整改完成时限", "deadline"),
    ("责任单位", "unit"), ("牵头单位", "unit"), ("责任部门", "unit"), ("责任清单", "unit"),
    ("整改措施", "measure"), ("整改举措", "measure"), ("责任人", "person"), ("责任领导", "person"),
    ("任务清单", "task_list"), ("整改进展", "progress"), ("进展情况", "progress"), ("整改完成情况", "progress"),
    ("序号", "ref"), ("备注", None), ("销号状态", None),
])
def test_header_names(header, field):
    assert header_field(header) == field


def test_export_reads_back_with_progress_and_sign_off():
    items = [
        {"problem": "问题甲", "measure": "措施甲", "unit_name": "县农业农村局", "responsible_person": "赵六",
         "deadline": date(2023, 6, 30), "task_list": "任务甲", "current_progress": "已完成整改",
         "completion_label": "已通过", "signed_off": True},
        {"problem": "=问题乙", "measure": "措施乙", "unit_name": "县水务局", "responsible_person": "",
         "deadline": date(2023, 10, 31), "task_list": "", "current_progress": None,
         "completion_label": "待办理", "signed_off": False},
    ]
    data = to_ledger_xlsx("2023年整改台账(导出时间 2023-07-01 10:00)", items)
    ws = load_workbook(io.BytesIO(data)).active
    assert [c.value for c in ws[2]] == ["序号", "问题", "整改措施", "责任单位", "责任人", "完成时限", "任务清单",
                                        "整改进展", "完成情况报告", "销号状态"]
    assert [c.value for c in ws[3]][-2:] == ["已通过", "已销号"]
    assert ws["B4"].value == "=问题乙" and ws["B4"].data_type == "s", "text is never a formula"
    back = read_ledger(data)
    assert back.errors == [] and back.year == 2023 and back.title.startswith("2023年整改台账")
    assert [(i.ref, i.problem, i.unit, i.person, i.deadline, i.progress) for i in back.items] == [
        ("1", "问题甲", "县农业农村局", "赵六", date(2023, 6, 30), "已完成整改"),
        ("2", "=问题乙", "县水务局", "", date(2023, 10, 31), ""),
    ]
