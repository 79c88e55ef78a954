"""Rectification ledgers (整改台账) as Excel workbooks: reading the ledgers offices
keep, and writing one back out with its current progress.

Pure: bytes in, plain data out (and the other way round); unit names stay as
written here and are resolved against the registry by `services.tasks.ledgers`.

Reading is tolerant of how ledgers are actually laid out:

- title rows above the header (their text gives the title, and a year written in
  it, 2023年…, completes dates written without one);
- the header row is found by its names, with the variants in use (存在问题, 问题描述,
  整改举措, 责任部门, 整改时限, 完成时间, …); columns may come in any order and
  unknown columns are ignored;
- merged cells (a unit or deadline spanning several problems) count for every row
  they cover; heading rows (一、…方面, merged across the row), repeated headers and
  footer notes (填表人:…) are skipped;
- deadlines as Excel dates, 2023-06-30, 2023/6/30, 2023.6.30, 2023年6月30日(前),
  2023年6月(底), 6月底, 6月30日, 年底, 上半年, 三季度末 (the ledger's year where none
  is written).

Every problem is reported with its Excel row number and column; the caller imports
nothing unless there is none (all or nothing).
"""

from __future__ import annotations

import calendar as _calendar
import io
import re
import unicodedata
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Any

from services.common import excel

FIELDS = ("ref", "problem", "measure", "unit", "person", "deadline", "task_list", "progress")
LABELS = {
    "ref": "序号",
    "problem": "问题",
    "measure": "整改措施",
    "unit": "责任单位",
    "person": "责任人",
    "deadline": "完成时限",
    "task_list": "任务清单",
    "progress": "整改进展",
}
REQUIRED = ("problem", "measure", "unit", "deadline")
ALIASES: dict[str, set[str]] = {
    "ref": {"序号", "编号", "序", "问题序号", "问题编号"},
    "problem": {"问题", "存在问题", "存在的问题", "问题描述", "问题清单", "反馈问题", "反馈的问题", "具体问题",
                "问题内容", "问题表现", "主要问题", "问题名称", "问题具体表现", "发现问题", "发现的问题"},
    "measure": {"整改措施", "整改举措", "措施", "具体措施", "整改措施清单", "整改方案", "具体整改措施", "整改目标及措施"},
    "unit": {"责任单位", "责任部门", "牵头单位", "整改责任单位", "责任清单", "牵头责任单位", "责任主体",
             "主体责任单位", "牵头部门", "承办单位"},
    "person": {"责任人", "责任领导", "具体责任人", "整改责任人", "分管领导", "牵头领导", "负责人", "责任领导及责任人"},
    "deadline": {"完成时限", "整改时限", "完成时间", "时限", "整改期限", "完成期限", "时限清单", "整改时间",
                 "办结时限", "整改完成时限", "整改完成时间"},
    "task_list": {"任务清单", "具体任务", "工作任务", "整改任务", "任务"},
    "progress": {"整改进展", "进展情况", "整改进度", "整改情况", "完成情况", "整改完成情况", "进展", "整改落实情况",
                 "整改进展情况", "目前进展"},
}
# Headers not in the lists above are recognised by a keyword, in this order, when short.
KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("ref", ("序号", "编号")),
    ("progress", ("进展", "进度", "完成情况", "落实情况")),
    ("deadline", ("时限", "时间", "期限")),
    ("person", ("责任人", "领导", "负责人")),
    ("unit", ("单位", "部门")),
    ("measure", ("措施", "举措")),
    ("task_list", ("任务",)),
    ("problem", ("问题",)),
)
HEADER_SCAN_ROWS = 20
MAX_HEADER_LENGTH = 16
FOOTER = re.compile(r"^(填表人|制表人|填报人|审核人|联系人|联系电话|负责人签字|注[::]|备注[::]|说明[::])")
HEADING = re.compile(r"^([一二三四五六七八九十]+[、.．]|[((][一二三四五六七八九十]+[))])")
ANNEX = re.compile(r"^(附件|附表)\s*\d*[::]?$|^(填报单位|填报时间|填报日期|单位|日期)[::]")
XLSX_SUFFIXES = (".xlsx", ".xlsm")


class LedgerFileError(ValueError):
    """The bytes are not a workbook that can be read."""


@dataclass(frozen=True)
class RowError:
    """One problem in the workbook: its Excel row (None for the sheet as a whole), column and reason."""

    row: int | None
    column: str
    reason: str

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ImportedItem:
    row: int  # the Excel row number
    ref: str
    problem: str
    measure: str
    unit: str  # as written
    person: str
    deadline: date
    task_list: str
    progress: str


@dataclass(frozen=True)
class ImportedLedger:
    title: str | None
    year: int
    sheet: str
    items: list[ImportedItem]
    errors: list[RowError]
    headers: dict[str, str]  # field → its header as written in the sheet


# ---------------------------------------------------------------- cells and headers

def _text(value: Any) -> str:
    """A cell as text: numbers without a trailing .0, dates as ISO, whitespace trimmed."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value).replace("\r\n", "\n").strip()


def normalize_header(text: str) -> str:
    """A header as compared: full-width folded, whitespace and trailing colons dropped."""
    folded = unicodedata.normalize("NFKC", text)
    return re.sub(r"[\s::*※]", "", folded)


def header_field(text: str) -> str | None:
    """The field a header names, or None."""
    h = normalize_header(text)
    if not h:
        return None
    candidates = [h, re.sub(r"\(.*?\)|【.*?】|\[.*?\]", "", h)]
    candidates += re.findall(r"\((.*?)\)", h)  # 整改时限(时限清单)
    for c in candidates:
        for field, names in ALIASES.items():
            if c in names:
                return field
    short = candidates[1] or h
    if len(short) > MAX_HEADER_LENGTH:
        return None
    for field, words in KEYWORDS:
        if any(w in short for w in words):
            return field
    return None


def _header_map(values: list[Any]) -> dict[str, int]:
    """Field → column index of a row read as a header (the first column naming a field wins)."""
    found: dict[str, int] = {}
    for i, v in enumerate(values):
        if not isinstance(v, str):
            continue
        field = header_field(v)
        if field and field not in found:
            found[field] = i
    return found


def _is_header(found: dict[str, int]) -> bool:
    return "problem" in found and sum(f in found for f in REQUIRED) >= 3


# ---------------------------------------------------------------- deadlines

_CN_QUARTER = {"一": 1, "二": 2, "三": 3, "四": 4, "1": 1, "2": 2, "3": 3, "4": 4}
_EXCEL_EPOCH = date(1899, 12, 30)
_TRAILING = re.compile(r"(之前|以前|前|为止|止)?(全面)?(完成|办结|整改到位|整改完成|销号)?$")


class DeadlineError(ValueError):
    pass


def _month_end(year: int, month: int) -> date:
    return date(year, month, _calendar.monthrange(year, month)[1])


def _checked(year: int | None, month: int, day: int | None, written: str) -> date:
    if year is None:
        raise DeadlineError(f"“{written}”没有写明年份,请填写年份或在导入时指定台账年度 (year missing)")
    if not 2000 <= year <= 2100:
        raise DeadlineError(f"年份 {year} 不在 2000–2100 之间 (year out of range)")
    if not 1 <= month <= 12:
        raise DeadlineError(f"“{written}”中的月份不存在 (no such month)")
    if day is None:
        return _month_end(year, month)
    try:
        return date(year, month, day)
    except ValueError:
        raise DeadlineError(f"日期“{written}”不存在 (no such date)") from None


def parse_deadline(value: Any, year: int | None) -> date:
    """A 完成时限 cell as a date; `year` completes dates written without one.

    Raises DeadlineError with the reason for the office."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        n = int(value)
        if 20000101 <= n <= 21001231:
            return _checked(n // 10000, n // 100 % 100, n % 100, str(n))
        if 36526 <= n <= 73415 and value == n:  # an Excel serial date (2000–2100) in a cell without a date format
            return _EXCEL_EPOCH + timedelta(days=n)
        raise DeadlineError(f"无法识别的完成时限“{_text(value)}” (not a date)")
    written = _text(value)
    if not written:
        raise DeadlineError("完成时限为空 (deadline missing)")
    s = re.sub(r"\s", "", unicodedata.normalize("NFKC", written))
    s = re.sub(r"^(于|在|截至|截止|截止到|到)", "", s)
    s = _TRAILING.sub("", s) or s
    m = re.fullmatch(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})[日号]?", s)
    if m:
        return _checked(int(m[1]), int(m[2]), int(m[3]), written)
    m = re.fullmatch(r"(\d{4})(\d{2})(\d{2})", s)
    if m:
        return _checked(int(m[1]), int(m[2]), int(m[3]), written)
    m = re.fullmatch(r"(\d{4})[-/.年](\d{1,2})月?(底|末|份)?", s)
    if m:
        return _checked(int(m[1]), int(m[2]), None, written)
    m = re.fullmatch(r"(\d{1,2})月(\d{1,2})[日号]", s)
    if m:
        return _checked(year, int(m[1]), int(m[2]), written)
    m = re.fullmatch(r"(\d{1,2})月(底|末|份)?", s)
    if m:
        return _checked(year, int(m[1]), None, written)
    m = re.fullmatch(r"(?:(\d{4})年)?(底|末|年底|年末|全年|年内|下半年)", s)
    if m:
        return _checked(int(m[1]) if m[1] else year, 12, 31, written)
    m = re.fullmatch(r"(?:(\d{4})年)?上半年(底|末)?", s)
    if m:
        return _checked(int(m[1]) if m[1] else year, 6, 30, written)
    m = re.fullmatch(r"(?:(\d{4})年)?第?([一二三四1-4])季度(底|末)?", s)
    if m:
        return _checked(int(m[1]) if m[1] else year, 3 * _CN_QUARTER[m[2]], None, written)
    if re.search(r"长期|持续|立行立改|常态|经常", s):
        raise DeadlineError(f"“{written}”不是具体时限:请写明完成日期(如 2023年6月30日 或 6月底),"
                            "长期坚持的事项写明阶段性时限 (a date is required)")
    raise DeadlineError(f"无法识别的完成时限“{written}”,请写成 2023年6月30日、2023-06-30 或 6月底 (not a date)")


def year_in(text: str) -> int | None:
    m = re.search(r"(20\d{2})\s*年", unicodedata.normalize("NFKC", text or ""))
    return int(m[1]) if m else None


# ---------------------------------------------------------------- reading

def _grid(ws) -> tuple[list[list[Any]], list[list[Any]]]:
    """The sheet's values as rows, as written and with merged cells filled over their range."""
    raw = [list(r) for r in ws.iter_rows(values_only=True)]
    filled = [list(r) for r in raw]
    for rng in ws.merged_cells.ranges:
        value = raw[rng.min_row - 1][rng.min_col - 1] if rng.min_row <= len(raw) else None
        for r in range(rng.min_row, min(rng.max_row, len(filled)) + 1):
            row = filled[r - 1]
            for c in range(rng.min_col, rng.max_col + 1):
                if c <= len(row):
                    row[c - 1] = value
    return raw, filled


def _find_header(raw: list[list[Any]]) -> tuple[int, dict[str, int]] | None:
    best: tuple[int, dict[str, int]] | None = None
    for i, row in enumerate(raw[:HEADER_SCAN_ROWS]):
        found = _header_map(row)
        if _is_header(found):
            return i, found
        if "problem" in found and (best is None or len(found) > len(best[1])):
            best = (i, found)
    return best


def _skipped(raw: list[Any], filled: list[Any], header_names: set[str]) -> bool:
    """Empty rows, heading rows (一、…方面), repeated headers and footer notes."""
    texts = [_text(v) for v in filled]
    present = [t for t in texts if t]
    if not present:
        return True
    if FOOTER.match(present[0]):
        return True
    written = [t for t in map(_text, raw) if t]
    if len(written) == 1 and len(set(present)) == 1 and (len(present) > 1 or HEADING.match(present[0])):
        return True  # a heading (一、…方面), alone or merged across the row
    return all(normalize_header(t) in header_names for t in present)


def open_workbook(content: bytes):
    from openpyxl import load_workbook

    if not zipfile.is_zipfile(io.BytesIO(content)):
        raise LedgerFileError("文件不是 Excel 工作簿(.xlsx);旧版 .xls 请另存为 .xlsx 后再导入 (not an xlsx workbook)")
    try:
        return load_workbook(io.BytesIO(content), data_only=True)
    except Exception as e:  # noqa: BLE001 (openpyxl raises many kinds for a damaged file)
        raise LedgerFileError(f"无法读取 Excel 文件:{type(e).__name__} (unreadable workbook)") from None


def read_ledger(content: bytes, *, year: int | None = None, fallback_year: int | None = None) -> ImportedLedger:
    """The ledger in a workbook: its title, year, items and every problem found.

    The first sheet with a recognisable header row is read. The year that completes
    dates like 6月底 is `year` when given, else one written in the title rows, else
    `fallback_year`."""
    wb = open_workbook(content)
    for ws in wb.worksheets:
        raw, filled = _grid(ws)
        found = _find_header(raw)
        if found and _is_header(found[1]):
            break
    else:
        ws = wb.worksheets[0]
        raw, filled = _grid(ws)
        found = _find_header(raw)
        missing = [LABELS[f] for f in REQUIRED if not found or f not in found[1]]
        return ImportedLedger(None, year or fallback_year or date.today().year, ws.title, [], headers=dict(LABELS),
                              errors=[RowError(
            found[0] + 1 if found else None, "、".join(missing),
            "未找到表头:需要包含 问题、整改措施、责任单位、完成时限 等列 (header row not found; missing: "
            + "、".join(missing) + ")")])

    header_row, columns = found
    above = [_text(v) for r in raw[:header_row] for v in r if _text(v)]
    titles = [t for t in above if not ANNEX.match(t)]
    title = next((t for t in titles if "台账" in t or "清单" in t), titles[0] if titles else None)
    ledger_year = year or next((y for y in map(year_in, [title or "", *above]) if y), None) or fallback_year
    header_texts = {normalize_header(_text(v)) for v in raw[header_row] if _text(v)}
    written = {f: _text(raw[header_row][i]) for f, i in columns.items()}

    items: list[ImportedItem] = []
    errors: list[RowError] = []
    for offset, (row_raw, row) in enumerate(zip(raw[header_row + 1:], filled[header_row + 1:])):
        excel_row = header_row + 2 + offset
        if _skipped(row_raw, row, header_texts):
            continue

        def cell(field: str) -> Any:
            i = columns.get(field)
            return row[i] if i is not None and i < len(row) else None

        row_errors = []
        for field in ("problem", "measure", "unit"):
            if not _text(cell(field)):
                row_errors.append(RowError(excel_row, written[field], f"{LABELS[field]}为空 (empty)"))
        deadline = None
        if not _text(cell("deadline")):
            row_errors.append(RowError(excel_row, written["deadline"], "完成时限为空 (empty)"))
        else:
            try:
                deadline = parse_deadline(cell("deadline"), ledger_year)
            except DeadlineError as e:
                row_errors.append(RowError(excel_row, written["deadline"], str(e)))
        if row_errors:
            errors += row_errors
            continue
        items.append(ImportedItem(
            row=excel_row,
            ref=_text(cell("ref")) or str(len(items) + 1),
            problem=_text(cell("problem")),
            measure=_text(cell("measure")),
            unit=_text(cell("unit")),
            person=_text(cell("person")),
            deadline=deadline,
            task_list=_text(cell("task_list")),
            progress=_text(cell("progress")),
        ))
    if not items and not errors:
        errors.append(RowError(header_row + 1, "", "表头下没有任何问题 (no rows under the header)"))
    return ImportedLedger(title, ledger_year or date.today().year, ws.title, items, errors,
                          headers={**LABELS, **written})


# ---------------------------------------------------------------- writing

EXPORT_COLUMNS = [
    excel.Column("problem", LABELS["problem"], width=40),
    excel.Column("measure", LABELS["measure"], width=40),
    excel.Column("unit_name", LABELS["unit"], width=20),
    excel.Column("responsible_person", LABELS["person"]),
    excel.Column("deadline", LABELS["deadline"]),
    excel.Column("task_list", LABELS["task_list"], width=30),
    excel.Column("current_progress", LABELS["progress"], width=40),
    excel.Column("completion_label", "完成情况报告"),
    excel.Column(lambda r: "已销号" if r.get("signed_off") else "未销号", "销号状态"),
]


def to_ledger_xlsx(title: str, items: Iterable[Mapping[str, Any]]) -> bytes:
    """The ledger in the usual columns (序号/问题/整改措施/责任单位/责任人/完成时限/任务清单/整改进展)
    followed by the completion report's state and 销号; it reads back with `read_ledger`."""
    return excel.to_xlsx(title, EXPORT_COLUMNS, items, sheet_name="整改台账")
