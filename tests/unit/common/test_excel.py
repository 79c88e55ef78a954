"""The Excel export as a pure function: write a list, open the bytes again, read the cells."""

import io
from datetime import date, datetime, timezone

import pytest
from openpyxl import load_workbook

from services.common.excel import CUT_MARK, MAX_CELL_TEXT, Column, cell_value, display_width, to_xlsx

COLUMNS = [
    Column("task", "任务"),
    Column("label", "步骤"),
    Column("due", "截止时间"),
    Column("overdue", "是否逾期"),
    Column("level", "督办级别"),
]
ROWS = [
    {"task": "一.(一) 开展技能培训", "label": "月报 (2023年5月)", "due": date(2023, 6, 5), "overdue": True, "level": 2},
    {"task": "一.(二) 开发公益岗位", "label": "签收", "due": date(2023, 6, 9), "overdue": False, "level": 0},
]


def sheet(data: bytes):
    return load_workbook(io.BytesIO(data)).active


def test_title_header_index_and_values():
    ws = sheet(to_xlsx("县人社局 待办事项", COLUMNS, ROWS))
    assert ws["A1"].value == "县人社局 待办事项"
    assert ws["A1"].font.bold
    assert "A1:F1" in {str(r) for r in ws.merged_cells.ranges}
    assert [c.value for c in ws[2]] == ["序号", "任务", "步骤", "截止时间", "是否逾期", "督办级别"]
    assert all(c.font.bold for c in ws[2])
    assert [c.value for c in ws[3]] == [1, "一.(一) 开展技能培训", "月报 (2023年5月)", datetime(2023, 6, 5), "是", 2]
    assert [c.value for c in ws[4]][0] == 2
    assert ws["D3"].number_format == "yyyy-mm-dd"
    assert ws.max_row == 4
    assert ws.freeze_panes == "A3"
    assert ws.auto_filter.ref == "A2:F4"


def test_widths_fit_chinese_text_within_bounds():
    long_row = {**ROWS[0], "task": "很长的任务名称" * 20}
    ws = sheet(to_xlsx("t", COLUMNS, [long_row]))
    assert ws.column_dimensions["B"].width == 60  # capped
    assert ws.column_dimensions["C"].width >= display_width("月报 (2023年5月)")
    assert ws.column_dimensions["F"].width >= display_width("督办级别")  # header wider than the value
    fixed = sheet(to_xlsx("t", [Column("task", "任务", width=33)], ROWS))
    assert fixed.column_dimensions["B"].width == 33


def test_objects_callables_and_number_formats():
    class Row:
        def __init__(self, name, rate):
            self.name, self.rate = name, rate

    cols = [Column("name", "单位"), Column(lambda r: r.name[:1], "首字"), Column("rate", "按时率", number_format="0.0%")]
    ws = sheet(to_xlsx("进度", cols, [Row("县财政局", 0.5), Row("县民政局", None)]))
    assert [c.value for c in ws[3]] == [1, "县财政局", "县", 0.5]
    assert ws["D3"].number_format == "0.0%"
    assert ws["D4"].value is None


def test_times_are_shown_in_shanghai():
    at = datetime(2023, 6, 5, 16, 0, tzinfo=timezone.utc)
    ws = sheet(to_xlsx("t", [Column("at", "时间")], [{"at": at}]))
    assert ws["B3"].value == datetime(2023, 6, 6, 0, 0)
    assert ws["B3"].number_format == "yyyy-mm-dd hh:mm"


def test_user_text_is_never_a_formula_and_control_characters_are_dropped():
    rows = [{"task": "=HYPERLINK(\"http://x\",\"点我\")", "label": "批示\x00\x07内容", "due": None, "overdue": None,
             "level": None}]
    data = to_xlsx("=1+1", COLUMNS, rows, sheet_name="a/b:c*?[d]")
    wb = load_workbook(io.BytesIO(data))
    ws = wb.active
    assert ws.title == "a_b_c___d_"
    assert ws["A1"].value == "=1+1" and ws["A1"].data_type == "s"
    assert ws["B3"].value == "=HYPERLINK(\"http://x\",\"点我\")" and ws["B3"].data_type == "s"
    assert ws["C3"].value == "批示内容"
    assert ws["D3"].value is None


def test_empty_list_still_has_title_and_headers():
    ws = sheet(to_xlsx("空", COLUMNS, []))
    assert ws["A1"].value == "空"
    assert ws["A2"].value == "序号" and ws.max_row == 2
    assert ws.freeze_panes == "A3"


def test_no_columns_is_a_programming_error():
    with pytest.raises(ValueError):
        to_xlsx("t", [], ROWS)


def test_cell_value_conversions():
    assert cell_value(True) == "是" and cell_value(False) == "否"
    assert cell_value(3) == 3 and cell_value(None) is None
    assert cell_value(["a"]) == "['a']"
    assert cell_value("a\x1bb") == "ab"


def test_text_longer_than_a_cell_holds_is_cut_and_says_so():
    assert cell_value("审" * MAX_CELL_TEXT) == "审" * MAX_CELL_TEXT
    long = cell_value("审" * (MAX_CELL_TEXT + 1))
    assert len(long) == MAX_CELL_TEXT and long.endswith(CUT_MARK) and long.startswith("审")
    ws = load_workbook(io.BytesIO(to_xlsx("审计", [Column("after", "修改后")], [{"after": "x" * 100_000}]))).active
    assert len(ws["B3"].value) == MAX_CELL_TEXT and ws["B3"].value.endswith(CUT_MARK)
