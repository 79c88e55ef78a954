"""Reading an import file (pure: bytes in, plain data out): the file's kind from its
name and first bytes, CSV in UTF-8 or GBK, and the sheet whose header row — found by
its names among the first rows, under any title rows — has the required columns."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from services.alerts.import_cells import CellError, cell_code
from services.alerts.import_columns import BY_KEY, header_map, missing_columns, normalize_header


HEADER_SCAN_ROWS = 20
XLSX_SUFFIXES = (".xlsx", ".xlsm")
CSV_SUFFIXES = (".csv",)


class ImportFileError(ValueError):
    """The file as a whole cannot be imported (415: not a workbook or CSV; 422: no usable header)."""

    def __init__(self, message: str, status: int = 422, missing: list[str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.missing = missing or []


@dataclass
class Table:
    """The data of one sheet under its header row."""

    kind: str  # xlsx | csv
    sheet: str | None
    header_row: int  # Excel row number of the header
    columns: dict[str, int]  # column key → 0-based index
    headers: dict[str, str]  # column key → header as written
    rows: list[tuple[int, tuple]]  # (Excel row number, values) of the non-empty rows under the header
    encoding: str | None = None

    def header(self, key: str | None) -> str:
        if key is None:
            return ""
        if key == "village_code" and key not in self.headers:
            key = "village"
        return self.headers.get(key) or BY_KEY[key].header

    def mentioned_codes(self) -> set[str]:
        i = self.columns.get("village_code")
        if i is None:
            return set()
        out = set()
        for _, values in self.rows:
            try:
                code = cell_code(values[i] if i < len(values) else None)
            except CellError:
                continue
            if code and len(code) == 12 and code.isdigit():
                out.add(code)
        return out


def file_kind(filename: str, content: bytes) -> str:
    """xlsx or csv, from the file's name and its first bytes; ImportFileError(415) otherwise."""
    suffix = ("." + filename.rsplit(".", 1)[-1].lower()) if "." in filename else ""
    if content[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise ImportFileError("旧版 .xls 文件不能直接导入,请在 Excel 中另存为 .xlsx 后再上传 (legacy .xls)", 415)
    is_zip = zipfile.is_zipfile(io.BytesIO(content))
    if suffix in XLSX_SUFFIXES:
        if not is_zip:
            raise ImportFileError(f"文件扩展名为 {suffix},但内容不是 Excel 工作簿 (not an xlsx workbook)", 415)
        return "xlsx"
    if suffix in CSV_SUFFIXES or (not suffix and not is_zip):
        if is_zip or b"\x00" in content[:4096]:
            raise ImportFileError("文件扩展名为 .csv,但内容不是文本 (not a text CSV)", 415)
        return "csv"
    if not suffix and is_zip:
        return "xlsx"
    raise ImportFileError(f"不支持的文件类型 {suffix or '(无扩展名)'}:请上传 Excel 工作簿 .xlsx 或 .csv 文件 "
                          "(unsupported type)", 415)


def decode_csv(content: bytes) -> tuple[str, str]:
    """The text of a CSV and its encoding: UTF-8 (with or without BOM), else GB18030 (which covers GBK)."""
    try:
        return content.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return content.decode("gb18030"), "gb18030"
    except UnicodeDecodeError:
        raise ImportFileError("无法识别 CSV 文件的编码:请另存为 UTF-8 或 GBK 编码 (unknown encoding)", 415) from None


def csv_rows(text: str) -> Iterable[tuple[int, tuple]]:
    sample = text[:8192]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",\t;")
    except csv.Error:
        dialect = csv.excel
    for n, row in enumerate(csv.reader(io.StringIO(text, newline=""), dialect), start=1):
        yield n, tuple(row)


def _xlsx_sheets(content: bytes):
    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as e:  # noqa: BLE001 (openpyxl raises many kinds for a damaged file)
        raise ImportFileError(f"无法读取 Excel 文件:{type(e).__name__} (unreadable workbook)", 415) from None
    return wb


def _numbered(ws) -> Iterable[tuple[int, tuple]]:
    """The rows of a sheet, read as they stream from the file: a sheet damaged further in is an
    ImportFileError naming the last row read."""
    ws.reset_dimensions()  # some writers record a wrong size; read every row there is
    n = 0
    try:
        for n, values in enumerate(ws.iter_rows(values_only=True), start=1):
            yield n, tuple(values)
    except Exception as e:  # noqa: BLE001 (zipfile, XML and openpyxl errors alike for a damaged sheet)
        raise ImportFileError(f"工作表“{ws.title}”第 {n} 行之后的内容已损坏,无法读取:{type(e).__name__} "
                              "(damaged worksheet)", 415) from None


def is_blank(v: Any) -> bool:
    return v is None or (isinstance(v, str) and not v.strip())


FOOTER = re.compile(r"^(填表人|制表人|填报人|审核人|负责人|联系人|填表日期|填报日期|注[::]|备注[::]|说明[::])")
TOTALS = re.compile(r"^(合\s*计|总\s*计|小\s*计)$")


def _find_header(rows: Iterable[tuple[int, tuple]]) -> tuple[int, dict[str, int], tuple] | None:
    best = None
    for n, values in rows:
        found = header_map(values)
        if len(found) >= 3 and (best is None or len(found) > len(best[1])):
            best = (n, found, values)
        if best and "household_no" in best[1] and not missing_columns(best[1]):
            return best
        if n >= HEADER_SCAN_ROWS:
            break
    return best


def _table(kind: str, sheet: str | None, rows: Iterable[tuple[int, tuple]], header_only: bool,
           encoding: str | None = None) -> Table | None:
    rows = iter(rows)
    head: list[tuple[int, tuple]] = []
    for n, values in rows:
        head.append((n, values))
        if n >= HEADER_SCAN_ROWS:
            break
    found = _find_header(head)
    if found is None:
        return None
    header_row, columns, header_values = found
    headers = {k: str(header_values[i]).strip() for k, i in columns.items()}
    table = Table(kind, sheet, header_row, columns, headers, [], encoding)
    if header_only:
        return table
    header_texts = {normalize_header(str(v)) for v in header_values if not is_blank(v)}
    for n, values in [*(r for r in head if r[0] > header_row), *rows]:
        present = [v for v in values if not is_blank(v)]
        if not present:
            continue
        first = present[0].strip() if isinstance(present[0], str) else ""
        if TOTALS.match(first) or (FOOTER.match(first) and len(present) <= 4):
            continue  # a totals row, or the signatures under the table
        if all(isinstance(v, str) and normalize_header(v) in header_texts for v in present):
            continue  # the header repeated (a print title, or two files pasted together)
        table.rows.append((n, values))
    return table


def read_table(content: bytes, filename: str, *, header_only: bool = False) -> Table:
    """The data rows of the file under their header; ImportFileError when the file
    cannot be read or no sheet has the required columns (naming them)."""
    kind = file_kind(filename, content)
    candidates: list[Table] = []
    if kind == "csv":
        text, encoding = decode_csv(content)
        t = _table("csv", None, csv_rows(text), header_only, encoding)
        if t:
            candidates.append(t)
    else:
        wb = _xlsx_sheets(content)
        try:
            for ws in wb.worksheets:
                if getattr(ws, "sheet_state", "visible") != "visible":
                    continue
                t = _table("xlsx", ws.title, _numbered(ws), header_only)
                if t is None:
                    continue
                if not missing_columns(t.columns):
                    candidates.insert(0, t)
                    break
                candidates.append(t)
        finally:
            wb.close()
    if not candidates:
        raise ImportFileError(
            "未找到表头:表格前 20 行中应有一行列名,包括 " + "、".join(missing_columns({}))
            + " (header row not found)", 422, missing_columns({}))
    table = candidates[0]
    missing = missing_columns(table.columns)
    if missing:
        raise ImportFileError(f"缺少必需的列:{'、'.join(missing)} (missing required columns)", 422, missing)
    return table
