"""The import template (农户基本信息及收支情况导入模板): the sheet officials fill in,
with the columns the importer reads, and two sheets to help them — how to fill in
each column, and the villages of their jurisdiction with their codes.

The data sheet comes first (the importer reads the first sheet with a header), has
a title row above the header, the required columns in red, text format for the
numbers Excel would otherwise round (户编号, 证件号码, 村代码, 电话), and drop-down
lists for 户类型 and the 是/否 columns. It reads back through `importer.read_table`
with every column found and no rows.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import get_args

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from services.alerts.importer import TEMPLATE_COLUMNS, Village
from services.alerts.schemas import Category

TITLE = "农户基本信息及收支情况导入表"
DATA_SHEET = "农户数据"
HEADER_ROW = 3
FILL_ROWS = 5000  # rows with text format and drop-downs prepared
_THIN = Side(style="thin", color="999999")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_TEXT_KINDS = ("code", "id", "phone")
_WIDTHS = {"code": 20, "id": 22, "phone": 15, "period": 10, "category": 14, "place": 12, "text": 12}


def template_xlsx(villages: Iterable[Village] = ()) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = DATA_SHEET
    n = len(TEMPLATE_COLUMNS)
    last = get_column_letter(n)

    ws.append([TITLE])
    ws.merge_cells(f"A1:{last}1")
    ws["A1"].font = Font(bold=True, size=16)
    ws["A1"].alignment = Alignment(horizontal="center", vertical="center")
    ws.row_dimensions[1].height = 30
    ws.append(["填报单位:                    填报日期:        年    月    日"
               "        (红色列必填;是/否列填“是”或“否”;金额单位为元;期间写 2023 或 2023-05;填写说明见第二个工作表)"])
    ws.merge_cells(f"A2:{last}2")
    ws["A2"].font = Font(size=10, color="666666")

    head_fill = PatternFill("solid", fgColor="DDEBF7")
    for i, col in enumerate(TEMPLATE_COLUMNS, start=1):
        cell = ws.cell(HEADER_ROW, i, col.header)
        cell.font = Font(bold=True, color="C00000" if col.required else "000000")
        cell.fill = head_fill
        cell.border = _BORDER
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        letter = get_column_letter(i)
        ws.column_dimensions[letter].width = _WIDTHS.get(col.kind, max(10, 2 * len(col.header) + 2))
        if col.kind in _TEXT_KINDS:
            for r in range(HEADER_ROW + 1, HEADER_ROW + 1 + FILL_ROWS):
                ws.cell(r, i).number_format = "@"
    ws.row_dimensions[HEADER_ROW].height = 32
    ws.freeze_panes = ws.cell(HEADER_ROW + 1, 3)

    def dropdown(options: str, kinds: tuple[str, ...] = (), keys: tuple[str, ...] = (), error: str = "") -> None:
        dv = DataValidation(type="list", formula1=f'"{options}"', allow_blank=True, showErrorMessage=True,
                            errorTitle="取值不对", error=error)
        ws.add_data_validation(dv)
        for i, col in enumerate(TEMPLATE_COLUMNS, start=1):
            if col.kind in kinds or col.key in keys:
                letter = get_column_letter(i)
                dv.add(f"{letter}{HEADER_ROW + 1}:{letter}{HEADER_ROW + FILL_ROWS}")

    dropdown("是,否", kinds=("flag",), error="请填“是”或“否”")
    dropdown(",".join(get_args(Category)), keys=("category",), error="请从下拉列表中选择户类型")

    guide = wb.create_sheet("填写说明")
    guide.append(["列名", "是否必填", "填写要求", "示例"])
    for col in TEMPLATE_COLUMNS:
        required = "必填" if col.required else ("村、村代码至少填一个" if col.key in ("village", "village_code") else "")
        guide.append([col.header, required, col.note, col.example])
    guide.append([])
    for line in (
        "1. 每户每个期间一行;同一户有多个期间时分行填写,户信息以最新一期为准。",
        "2. 按“户编号 + 期间”导入:重复上传同一文件不会重复登记,改过的行会更新。",
        "3. 留空的单元格不会清除系统中已有的数据。",
        "4. 有错误的行不导入,其余行照常导入;错误说明文件标出每一行的问题,改正后可整份重新上传。",
        "5. 表头上方可以保留标题行;列的顺序可以调整,不认识的列(如 序号、备注)会被忽略。",
        "6. 也可以上传 CSV 文件(UTF-8 或 GBK 编码),列名相同。",
    ):
        guide.append([line])
    for cell in guide[1]:
        cell.font = Font(bold=True)
        cell.fill = head_fill
    for letter, width in zip("ABCD", (20, 22, 60, 22)):
        guide.column_dimensions[letter].width = width

    villages = list(villages)
    if villages:
        sheet = wb.create_sheet("村代码")
        sheet.append(["县", "乡(镇)", "村", "村代码"])
        for cell in sheet[1]:
            cell.font = Font(bold=True)
            cell.fill = head_fill
        for v in villages:
            sheet.append([v.county, v.township, v.name, v.code])
            sheet.cell(sheet.max_row, 4).number_format = "@"
        for letter, width in zip("ABCD", (14, 14, 16, 16)):
            sheet.column_dimensions[letter].width = width
        sheet.freeze_panes = "A2"

    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
