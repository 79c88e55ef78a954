"""Any list as an Excel workbook (.xlsx): a title row, a bold header row with Chinese
column names, a 序号 column, column widths fitted to the content, and the header
frozen so it stays in view while scrolling.

Pure: rows in, bytes out. Values are written as what they are (numbers stay
numbers, dates stay dates) except that

- times with a time zone are shown in Asia/Shanghai (Excel has no time zones);
- booleans are written 是 / 否;
- text is always text: a title beginning with "=" is not turned into a formula, and
  control characters that the xlsx format cannot hold are dropped, not fatal;
- text longer than Excel holds in a cell (32,767 characters) is cut there and says so:
  Excel would otherwise call the whole file damaged and "repair" it.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
TZ = ZoneInfo("Asia/Shanghai")
MAX_CELL_TEXT = 32_767  # characters Excel holds in one cell
CUT_MARK = "……(超出 Excel 单元格长度,已截断)"
INDEX_HEADER = "序号"
MIN_WIDTH, MAX_WIDTH = 6, 60
_SHEET_NAME_BAD = re.compile(r"[\[\]:*?/\\]")
_THIN = Side(style="thin", color="999999")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)


@dataclass(frozen=True)
class Column:
    """One column: where its value comes from, its header, and optionally its width
    (in Excel character units; fitted to the content when not given) and number format."""

    key: str | Callable[[Any], Any]
    header: str
    width: float | None = None
    number_format: str | None = None

    def value(self, row: Any) -> Any:
        if callable(self.key):
            return self.key(row)
        if isinstance(row, Mapping):
            return row.get(self.key)
        return getattr(row, self.key, None)


def display_width(text: str) -> int:
    """Width of text in Excel character units: a CJK (full-width) character counts twice."""
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)


def cell_value(value: Any) -> Any:
    """A value as it is written into a cell."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, datetime):
        return value.astimezone(TZ).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, (int, float, date)):
        return value
    text = ILLEGAL_CHARACTERS_RE.sub("", value if isinstance(value, str) else str(value))
    return text if len(text) <= MAX_CELL_TEXT else text[:MAX_CELL_TEXT - len(CUT_MARK)] + CUT_MARK


def _shown(value: Any, number_format: str | None) -> str:
    """Roughly how a value looks in the sheet, to fit the column width."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return "0000-00-00 00:00"
    if isinstance(value, date):
        return "0000-00-00"
    if isinstance(value, float) and number_format and "%" in number_format:
        return "100.00%"
    return str(value)


def _put(ws, row: int, column: int, value: Any):
    """Write one cell; text beginning with "=" stays text, never becomes a formula."""
    cell = ws.cell(row=row, column=column, value=value)
    if isinstance(value, str) and cell.data_type == "f":
        cell.data_type = "s"
    return cell


def _sheet_name(name: str) -> str:
    cleaned = _SHEET_NAME_BAD.sub("_", ILLEGAL_CHARACTERS_RE.sub("", name)).strip("'") or "Sheet1"
    return cleaned[:31]


def to_xlsx(
    title: str,
    columns: Sequence[Column],
    rows: Iterable[Any],
    *,
    sheet_name: str | None = None,
    index_header: str = INDEX_HEADER,
) -> bytes:
    """The workbook of `rows` (mappings or objects with attributes) as bytes.

    Row 1 is the title (merged across the columns), row 2 the headers, data from row 3;
    column A numbers the rows from 1.
    """
    if not columns:
        raise ValueError("at least one column is needed")
    wb = Workbook()
    ws = wb.active
    ws.title = _sheet_name(sheet_name or title)
    ncols = len(columns) + 1

    _put(ws, 1, 1, cell_value(title)).font = Font(bold=True, size=14)
    ws.cell(row=1, column=1).alignment = Alignment(horizontal="center", vertical="center")
    if ncols > 1:
        ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=ncols)
    ws.row_dimensions[1].height = 28

    headers = [index_header, *(c.header for c in columns)]
    header_fill = PatternFill("solid", fgColor="DDEBF7")
    for i, header in enumerate(headers, start=1):
        cell = _put(ws, 2, i, cell_value(header))
        cell.font = Font(bold=True)
        cell.fill = header_fill
        cell.border = _BORDER
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    widths = [display_width(h) for h in headers]

    n = 0
    for n, row in enumerate(rows, start=1):
        r = n + 2
        index_cell = ws.cell(row=r, column=1, value=n)
        index_cell.border = _BORDER
        index_cell.alignment = Alignment(horizontal="center")
        for i, column in enumerate(columns, start=2):
            raw = column.value(row)
            value = cell_value(raw)
            cell = _put(ws, r, i, value)
            if column.number_format:
                cell.number_format = column.number_format
            elif isinstance(value, datetime):
                cell.number_format = "yyyy-mm-dd hh:mm"
            elif isinstance(value, date):
                cell.number_format = "yyyy-mm-dd"
            cell.border = _BORDER
            cell.alignment = Alignment(vertical="top", wrap_text=True)
            longest = max((display_width(line) for line in _shown(value, column.number_format).splitlines()),
                          default=0)
            widths[i - 1] = max(widths[i - 1], longest)
    widths[0] = max(widths[0], len(str(n)))

    for i, width in enumerate(widths, start=1):
        fixed = columns[i - 2].width if i > 1 else None
        ws.column_dimensions[get_column_letter(i)].width = fixed or min(max(width + 2, MIN_WIDTH), MAX_WIDTH)
    ws.freeze_panes = "A3"
    if n:
        ws.auto_filter.ref = f"A2:{get_column_letter(ncols)}{n + 2}"

    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
