"""Reading the national system's exports as officials download or re-save them:
`.xlsx` streamed row by row (python-calamine-plus decodes rows straight from the
compressed sheet, so a 100,000-person export never sits in memory), `.xls` and CSV.

`detect` looks at the first rows of every visible sheet for a header row of the
监测对象信息 export (persons) or of the 行政村信息 export (villages); None means the
file is something else (our own template). `data_rows` then streams the rows under
that header with their Excel row numbers, blank rows left out.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from services.alerts import national_columns as nc
from services.alerts.import_reader import (
    CSV_SUFFIXES, HEADER_SCAN_ROWS, XLSX_SUFFIXES, ImportFileError, csv_rows, decode_csv,
)

XLS_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
YEAR_OF_DATA = re.compile(r"((?:19|20)\d{2})\s*年度")
YEAR_IN_TITLE = re.compile(r"((?:19|20)\d{2})\s*年")


@dataclass
class Sheet:
    """Where the data of a national export is: its kind, the header row and the columns."""

    kind: str  # persons | villages
    file_kind: str  # xlsx | xls | csv
    sheet: str | None
    header_row: int  # Excel row number
    columns: dict[str, int]  # key → 0-based index
    headers: dict[str, str]  # key → the header as written
    ignored: list[str] = field(default_factory=list)  # headers the importer does not read
    title: str = ""  # the text of the rows above the header
    encoding: str | None = None

    @property
    def title_year(self) -> str | None:
        """The year a title row names (2023年度…, else the first 2023年), which the export's
        income figures are for."""
        m = YEAR_OF_DATA.search(self.title) or YEAR_IN_TITLE.search(self.title)
        return m[1] if m else None

    def header(self, key: str | None) -> str:
        if not key:
            return ""
        key = nc.REGISTER_TO_EXPORT.get(key, key) if self.kind == "persons" else key
        if key in self.headers:
            return self.headers[key]
        col = (nc.PERSON_BY_KEY if self.kind == "persons" else nc.VILLAGE_BY_KEY).get(key)
        return col.header if col else key


def file_kind(filename: str, content: bytes) -> str:
    suffix = ("." + filename.rsplit(".", 1)[-1].lower()) if "." in filename else ""
    if content[:8] == XLS_MAGIC:
        return "xls"
    if content[:4] == b"PK\x03\x04":
        return "xlsx"
    if suffix in CSV_SUFFIXES or (not suffix and b"\x00" not in content[:4096]):
        return "csv"
    if suffix in XLSX_SUFFIXES:
        raise ImportFileError(f"文件扩展名为 {suffix},但内容不是 Excel 工作簿 (not an xlsx workbook)", 415)
    raise ImportFileError(f"不支持的文件类型 {suffix or '(无扩展名)'}:请上传 .xlsx、.xls 或 .csv 文件 (unsupported type)",
                          415)


def _workbook(content: bytes):
    from python_calamine_plus import CalamineWorkbook

    try:
        return CalamineWorkbook.from_filelike(io.BytesIO(content))
    except Exception as e:  # noqa: BLE001 (calamine raises several kinds for a damaged file)
        raise ImportFileError(f"无法读取 Excel 文件:{type(e).__name__} (unreadable workbook)", 415) from None


def _sheet_rows(wb, name: str, kind: str, max_row: int | None = None) -> Iterator[tuple[int, list]]:
    """The rows of a sheet; a sheet damaged further in (calamine decodes it as it streams) is an
    ImportFileError naming the last row read, not an exception out of the reader."""
    from python_calamine_plus import CalamineError

    n = 0
    try:
        if kind == "xlsx":
            rows = wb.stream_sheet_by_name(name, max_row=max_row) if max_row is not None \
                else wb.stream_sheet_by_name(name)
        else:
            rows = wb.get_sheet_by_name(name).iter_rows()
        for n, values in enumerate(rows, start=1):
            yield n, values
            if max_row is not None and n > max_row:
                return
    except CalamineError as e:
        raise ImportFileError(f"工作表“{name}”第 {n} 行之后的内容已损坏,无法读取:{type(e).__name__} "
                              "(damaged worksheet)", 415) from None


def _visible_sheets(wb) -> list[str]:
    return [m.name for m in wb.sheets_metadata if str(m.visible).endswith("Visible")]


def _blank(v: Any) -> bool:
    return v is None or v == "" or (isinstance(v, str) and not v.strip())


def _find(rows: Iterator[tuple[int, Any]]) -> tuple[str, int, dict[str, int], Any, str] | None:
    title: list[str] = []
    for n, values in rows:
        persons = nc.person_header(values)
        if nc.is_person_header(persons):
            return "persons", n, persons, values, " ".join(title)
        villages = nc.village_header(values)
        if nc.is_village_header(villages) and not persons.get("household_no"):
            return "villages", n, villages, values, " ".join(title)
        title += [str(v) for v in values if not _blank(v)]
        if n >= HEADER_SCAN_ROWS:
            return None
    return None


def _sheet(kind: str, file_kind_: str, name: str | None, found, encoding: str | None = None) -> Sheet:
    what, n, columns, values, title = found
    headers = {k: str(values[i]).strip() for k, i in columns.items()}
    used = set(columns.values())
    ignored = [str(v).strip() for i, v in enumerate(values) if i not in used and not _blank(v)]
    sheet = Sheet(what, file_kind_, name, n, columns, headers, ignored, title, encoding)
    missing = nc.missing_person_columns(columns) if what == "persons" else nc.missing_village_columns(columns)
    if missing:
        export = "监测对象信息" if what == "persons" else "行政村信息"
        raise ImportFileError(f"{export}表缺少必需的列:{'、'.join(missing)} (missing required columns)", 422, missing)
    return sheet


def detect(content: bytes, filename: str) -> Sheet | None:
    """The national export in the file, or None when it is not one (then it is read as our
    template); ImportFileError when it is one but lacks required columns, naming them all."""
    kind = file_kind(filename, content)
    if kind == "csv":
        text, encoding = decode_csv(content)
        found = _find(iter(csv_rows(text)))
        return _sheet(kind, kind, None, found, encoding) if found else None
    wb = _workbook(content)
    for name in _visible_sheets(wb):
        found = _find(_sheet_rows(wb, name, kind, HEADER_SCAN_ROWS))
        if found:
            return _sheet(kind, kind, name, found)
    return None


def data_rows(content: bytes, sheet: Sheet) -> Iterator[tuple[int, Any]]:
    """The non-blank rows under the header, with their Excel row numbers, streamed."""
    if sheet.file_kind == "csv":
        rows = csv_rows(decode_csv(content)[0])
    else:
        rows = _sheet_rows(_workbook(content), sheet.sheet, sheet.file_kind)
    start = sheet.header_row
    for n, values in rows:
        if n > start and any(v != "" and v is not None for v in values):
            yield n, values


def all_rows(content: bytes, sheet: Sheet) -> Iterator[tuple[int, Any]]:
    """Every row of the sheet, from the first (for the error copy)."""
    if sheet.file_kind == "csv":
        yield from csv_rows(decode_csv(content)[0])
    else:
        yield from _sheet_rows(_workbook(content), sheet.sheet, sheet.file_kind)
