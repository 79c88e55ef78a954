"""Task-division tables in Excel workbooks (.xlsx).

Every sheet whose first rows hold a task header is read: title rows above the
header give the document title (and the year that completes ``10月底``), merged
cells (a category or a lead unit spanning several rows, a heading merged across
the row) count for every row they cover, percentages formatted as such read
``2%`` and dates ``2023年6月30日``.
"""

from __future__ import annotations

import io
import zipfile
from datetime import date, datetime, time

from .model import Document, ParseError
from .tables import Row, Table, build_document, table_from_grid

MAX_ROWS, MAX_COLUMNS = 20_000, 200  # formatting can make a sheet look a million rows long


def is_xlsx(data: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            return "xl/workbook.xml" in z.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return False


def read_xlsx(data: bytes, known_units: set[str] | None = None) -> Document:
    try:
        from openpyxl import load_workbook

        wb = load_workbook(io.BytesIO(data), data_only=True)
    except Exception as exc:  # openpyxl raises many kinds of error for a damaged file
        raise ParseError(f"无法读取 Excel 工作簿 (unreadable .xlsx): {type(exc).__name__}") from exc
    found: list[tuple[str, Table]] = []
    before: list[str] = []
    for ws in wb.worksheets:
        cells, own = _grid(ws)
        table, above = table_from_grid(cells, own, scan=20)
        if table is None:
            continue
        found.append((ws.title, table))
        before.extend(t for t in above if t not in before)
    if not found:
        raise ParseError("工作簿中没有找到任务分工表的表头(需要任务/措施列和牵头单位/责任单位列) (no task table header found)")
    if len(found) > 1:
        for title, table in found:
            if not (table.rows and table.rows[0].heading is not None):
                table.rows.insert(0, Row(heading=title))
    return build_document([t for _, t in found], before, [], known_units)


def _grid(ws) -> tuple[list[list[str]], list[list[bool]]]:
    """Cell texts with merged ranges filled in; ``own`` is False where a vertical merge continues."""
    rows = ws.iter_rows(max_row=min(ws.max_row or 0, MAX_ROWS), max_col=min(ws.max_column or 0, MAX_COLUMNS))
    cells = [[_text(c) for c in row] for row in rows]
    while cells and not any(cells[-1]):
        cells.pop()
    own = [[True] * len(r) for r in cells]
    for rng in ws.merged_cells.ranges:
        if rng.min_row > len(cells):
            continue
        value = cells[rng.min_row - 1][rng.min_col - 1] if rng.min_col <= len(cells[rng.min_row - 1]) else ""
        for r in range(rng.min_row, min(rng.max_row, len(cells)) + 1):
            row = cells[r - 1]
            for c in range(rng.min_col, min(rng.max_col, len(row)) + 1):
                row[c - 1] = value
                own[r - 1][c - 1] = r == rng.min_row
    return cells, own


def _number(v: float | int) -> str:
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() else f"{v:.10g}"
    return str(v)


def _text(cell) -> str:
    v = cell.value
    if v is None:
        return ""
    if isinstance(v, bool):
        return "是" if v else "否"
    if isinstance(v, (int, float)):
        return f"{_number(v * 100)}%" if "%" in (cell.number_format or "") else _number(v)
    if isinstance(v, datetime | date):
        return f"{v.year}年{v.month}月{v.day}日"
    if isinstance(v, time):
        return v.isoformat()
    return str(v)
