"""The error copy of an uploaded file: the file itself with a 错误说明 column, the bad
rows highlighted and their bad cells marked, so officials correct it and upload it again."""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Iterable, Sequence

from services.alerts.import_columns import BY_KEY, normalize_header
from services.alerts.import_reader import Table, csv_rows, decode_csv
from services.alerts.import_rows import RowError

ERROR_HEADER = "错误说明"


def writable(v):
    """A value a worksheet can hold: control characters (which a CSV, or a reason quoting its
    cell, may carry) dropped from text, since openpyxl refuses them and the copy would be lost."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    return ILLEGAL_CHARACTERS_RE.sub("", v) if isinstance(v, str) else v


def error_workbook(content: bytes, table: Table, errors: list[RowError]) -> bytes:
    """The uploaded file with a 错误说明 column: each bad row highlighted, its bad cells
    marked, the reasons written out. A CSV comes back as a workbook with its cells as text.
    A 错误说明 column from an earlier round is reused and cleared."""
    from openpyxl import Workbook, load_workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    if table.kind == "xlsx":
        wb = load_workbook(io.BytesIO(content))
        ws = wb[table.sheet] if table.sheet in wb.sheetnames else wb.worksheets[0]
    else:
        wb = Workbook()
        ws = wb.active
        ws.title = "导入数据"
        text, _ = decode_csv(content)
        for n, values in csv_rows(text):
            for i, v in enumerate(values, start=1):
                if v != "":
                    ws.cell(n, i).value = writable(v)
                    ws.cell(n, i).number_format = "@"
    header_row = table.header_row
    error_col = None
    for cell in ws[header_row]:
        if isinstance(cell.value, str) and normalize_header(cell.value) == ERROR_HEADER:
            error_col = cell.column
    if error_col is None:
        error_col = max(ws.max_column, max(table.columns.values()) + 1) + 1
    else:
        for r in range(header_row + 1, ws.max_row + 1):
            ws.cell(r, error_col).value = None
    last_col = max(error_col - 1, max(table.columns.values()) + 1)
    head = ws.cell(header_row, error_col, ERROR_HEADER)
    head.font = Font(bold=True, color="FFFFFF")
    head.fill = PatternFill("solid", fgColor="C00000")
    head.alignment = Alignment(horizontal="center", vertical="center")
    ws.column_dimensions[get_column_letter(error_col)].width = 60
    row_fill = PatternFill("solid", fgColor="FFE5E5")
    cell_fill = PatternFill("solid", fgColor="FF9999")
    by_row: dict[int, list[RowError]] = defaultdict(list)
    for e in errors:
        by_row[e.row].append(e)
    for n, row_errors in sorted(by_row.items()):
        for c in range(1, last_col + 1):
            ws.cell(n, c).fill = row_fill
        for e in row_errors:
            i = table.columns.get(e.key) if e.key else None
            if i is None and e.key == "village_code":
                i = table.columns.get("village")
            if i is not None:
                ws.cell(n, i + 1).fill = cell_fill
        reasons = []
        for e in row_errors:
            name = BY_KEY[e.key].name if e.key in BY_KEY else ""
            reason = e.reason if not e.column or (name and name in e.reason) or e.column in e.reason \
                else f"【{e.column}】{e.reason}"
            if reason not in reasons:
                reasons.append(reason)
        cell = ws.cell(n, error_col, writable(";".join(reasons)))
        cell.font = Font(color="C00000")
        cell.fill = row_fill
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    if ws.freeze_panes is None:
        ws.freeze_panes = ws.cell(header_row + 1, 1)
    wb.active = wb.worksheets.index(ws)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def streamed_error_workbook(rows: Iterable[tuple[int, Sequence]], header_row: int, columns: dict[str, int],
                            errors: list[RowError]) -> bytes:
    """The error copy of a large file (a national export of 100,000 persons): the rows are
    copied as they stream in to a write-only workbook, so neither file is ever whole in
    memory; the cell values are kept, the original's formatting is not."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font, PatternFill

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("导入数据")
    row_fill = PatternFill("solid", fgColor="FFE5E5")
    cell_fill = PatternFill("solid", fgColor="FF9999")
    red = Font(color="C00000")
    by_row: dict[int, list[RowError]] = defaultdict(list)
    for e in errors:
        by_row[e.row].append(e)
    width = max(columns.values()) + 1
    for n, values in rows:
        values = [writable(v) for v in values]
        if n == header_row:
            width = max(width, len(values))
            head = WriteOnlyCell(ws, ERROR_HEADER)
            head.font = Font(bold=True, color="FFFFFF")
            head.fill = PatternFill("solid", fgColor="C00000")
            ws.append([*values, *[None] * (width - len(values)), head])
            continue
        row_errors = by_row.get(n)
        if not row_errors:
            ws.append([None if v == "" else v for v in values])
            continue
        marked = {columns[e.key] for e in row_errors if e.key in columns}
        cells = []
        for i in range(width):
            cell = WriteOnlyCell(ws, None if i >= len(values) or values[i] == "" else values[i])
            cell.fill = cell_fill if i in marked else row_fill
            cells.append(cell)
        reasons = list(dict.fromkeys(e.reason if not e.column or e.column in e.reason else f"【{e.column}】{e.reason}"
                                     for e in row_errors))
        note = WriteOnlyCell(ws, writable(";".join(reasons)))
        note.font, note.fill = red, row_fill
        ws.append([*cells, note])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
