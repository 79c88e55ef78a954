"""Batch import of households and their period records from Excel (.xlsx) or CSV.

Two halves:

- reading (pure: bytes in, plain data out): `read_table` finds the header row by its
  names — title rows above it are allowed, columns may come in any order, full- and
  half-width brackets and the usual variants of each name are accepted, unknown
  columns (序号, 备注, an earlier 错误说明) are ignored — and `parse_table` turns each
  data row into the dicts `HouseholdIn` and `RecordIn` validate, or into errors
  naming the Excel row a person would look at, the column as written and the reason
  in Chinese. The villages are found by code or by name within the uploader's
  jurisdiction (`Villages`); 是/否 flags, amounts written as text, periods written
  2023年5月 and numbers Excel stored for ID numbers are read here, every other
  check is the schema's own.
- importing (`import_rows`, `run_import`): the valid rows are saved through
  `register.save_household` / `save_record` in chunks of `CHUNK_SIZE` rows, each
  chunk ONE transaction together with the job's progress, so a crash never leaves
  half a chunk and the job says how far the committed part goes. The natural key
  is 户编号 + 期间 and the saves skip unchanged data, so importing the same file
  twice changes nothing and a re-run after a crash continues where it stopped.

A blank cell never erases what the register holds: it means "not given" (a new
household or record gets the default, an existing one keeps its value).

`error_workbook` gives the uploaded file back with a 错误说明 column and the bad
rows highlighted.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import re
import unicodedata
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, get_args

import psycopg
from psycopg.types.json import Jsonb
from pydantic import ValidationError

from services.alerts import register
from services.alerts import repository as repo
from services.alerts.schemas import Category, HouseholdIn, RecordIn
from services.common.auth import Principal
from services.common.http import ERROR_WORDS
from services.common.units import jurisdiction_prefix

log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
CHUNK_SIZE = 500
HEADER_SCAN_ROWS = 20
XLSX_SUFFIXES = (".xlsx", ".xlsm")
CSV_SUFFIXES = (".csv",)
ERROR_HEADER = "错误说明"
MAX_SUMMARY_ERRORS = 1000

Connect = Callable[[], AbstractContextManager[psycopg.Connection]]


# ---------------------------------------------------------------- columns

@dataclass(frozen=True)
class Col:
    """One column of the import file."""

    key: str  # the field of HouseholdIn / RecordIn, or a place name (county, township, village)
    header: str  # as in the template
    kind: str  # text code id phone int money flag period category place
    target: str  # household, record, both (劳动力人数), place
    aliases: tuple[str, ...] = ()
    required: bool = False
    note: str = ""  # how to fill it in (the template's instructions)
    example: str = ""

    @property
    def name(self) -> str:
        """The header without its bracketed unit: 人均纯收入（元） → 人均纯收入."""
        if self.key == "township":
            return self.header
        return re.sub(r"\(.*?\)", "", unicodedata.normalize("NFKC", self.header))


def _money(key: str, header: str, aliases: tuple[str, ...], note: str, example: str = "") -> Col:
    return Col(key, header, "money", "record", aliases, note=note, example=example)


def _flag(key: str, header: str, target: str, aliases: tuple[str, ...], note: str, example: str = "是") -> Col:
    return Col(key, header, "flag", target, aliases, note=note + " 填“是”或“否”", example=example)


COLUMNS: tuple[Col, ...] = (
    Col("household_no", "户编号", "code", "household", ("户码", "户号", "农户编号", "家庭编号", "户编码", "农户户编号"),
        True, "全县唯一的户编号(设为文本格式,避免 Excel 改成科学计数法);同一户不同期间各占一行", "5323251002010001"),
    Col("county", "县", "place", "place", ("县(市、区)", "县(市区)", "县区", "县市区", "所在县", "县名称", "县(区)",
                                          "县(市)", "县名"), note="按村名查找村时用于区分同名村,可不填", example="姚安县"),
    Col("township", "乡(镇)", "place", "place", ("乡镇", "乡", "镇", "乡(镇、街道)", "乡镇(街道)", "所在乡镇", "乡镇名称",
                                                 "乡(镇)名称", "乡镇名"), note="按村名查找村时用于区分同名村,可不填", example="栋川镇"),
    Col("village", "村", "place", "place", ("村名", "村名称", "行政村", "所在村", "村(社区)", "村委会", "村民委员会",
                                          "行政村名称", "村(居)委会"), note="村名;与村代码二者至少填一个", example="栋川东村"),
    Col("village_code", "村代码", "code", "household", ("村区划代码", "区划代码", "村(区划代码)", "行政区划代码",
                                                     "村级区划代码", "村编码", "村编号", "村代码(12位)", "村级代码"),
        note="12位统计用区划代码;填了村代码就按代码找村", example="532325100201"),
    Col("head_name", "户主姓名", "text", "household", ("户主", "户主名", "户主名称", "姓名(户主)"), True, example="张三"),
    Col("head_id_number", "户主证件号码", "id", "household", ("户主身份证号", "户主身份证号码", "户主身份证", "身份证号码",
                                                         "身份证号", "证件号码", "户主证件号", "户主公民身份号码",
                                                         "公民身份号码"),
        note="18位居民身份证号码,设为文本格式", example="11010519491231002X"),
    Col("phone", "联系电话", "phone", "household", ("电话", "手机", "手机号", "手机号码", "联系方式", "电话号码",
                                                 "户主联系电话"), example="13812345678"),
    Col("category", "户类型", "category", "household", ("农户类型", "户类别", "户属性", "监测对象类型", "人口类型", "类型",
                                                    "农户属性", "户别"),
        True, "、".join(get_args(Category)) + " 之一", "脱贫户"),
    Col("members", "家庭人口数", "int", "household", ("家庭人口", "人口数", "家庭人数", "户人口数", "人口", "家庭成员数",
                                                  "家庭总人口", "家庭人口(人)"), True, "1到30", "4"),
    Col("labourers", "劳动力人数", "int", "both", ("劳动力", "劳动力数", "劳力人数", "劳动力人口", "家庭劳动力人数",
                                               "劳动力(人)"), note="不超过家庭人口数", example="2"),
    _flag("no_labour_capacity", "整户无劳动能力", "household", ("是否整户无劳动能力", "整户无劳动力", "是否整户无劳动力"),
          "整户都没有劳动能力的填“是”,劳动力人数应为0;", "否"),
    Col("period", "期间", "period", "record", ("年度", "年份", "期别", "统计期间", "期数", "所属期间", "月份", "数据期间",
                                             "统计年度", "统计期", "所属年度", "收入年度"),
        True, "年度数据写 2023,月度数据写 2023-05;只登记户信息时可空", "2023"),
    _money("per_capita_income", "人均纯收入（元）", ("人均纯收入", "家庭人均纯收入", "人均收入", "年人均纯收入",
                                                "家庭年人均纯收入"), "元,不能为负数", "7900"),
    _money("wage_income", "工资性收入", ("工资收入", "务工收入", "工资性收入(元)"), "元,不能为负数", "20000"),
    _money("business_income", "生产经营性收入", ("经营性收入", "生产经营收入", "家庭经营性收入", "生产经营性收入(元)",
                                             "经营收入"), "元,亏损可填负数", "6000"),
    _money("property_income", "财产性收入", ("财产收入", "财产性收入(元)"), "元,不能为负数", "0"),
    _money("transfer_income", "转移性收入", ("转移收入", "转移性收入(元)", "政策性收入"), "元,不能为负数", "3600"),
    _money("medical_expense", "合规自付医疗支出", ("医疗支出", "合规自付医疗费用", "自付医疗费用", "医疗费用支出",
                                              "合规自付医疗支出(元)", "自付医疗支出"), "元,不能为负数", "0"),
    _money("education_expense", "教育支出", ("教育费用", "教育支出(元)", "子女教育支出"), "元,不能为负数", "0"),
    _money("disaster_loss", "因灾损失", ("受灾损失", "自然灾害损失", "因灾损失(元)"), "元,不能为负数", "0"),
    _money("accident_loss", "意外事故损失", ("意外损失", "意外事故损失(元)", "事故损失"), "元,不能为负数", "0"),
    Col("employed", "务工就业人数", "int", "record", ("务工人数", "就业人数", "务工就业", "外出务工人数", "务工就业人数(人)"),
        note="不超过劳动力人数", example="1"),
    _flag("compulsory_education_ok", "义务教育有保障", "record", ("义务教育保障", "是否义务教育有保障", "义务教育"), ""),
    _flag("basic_medical_ok", "基本医疗有保障", "record", ("基本医疗保障", "是否基本医疗有保障", "基本医疗"), ""),
    _flag("housing_ok", "住房安全有保障", "record", ("住房安全保障", "是否住房安全有保障", "住房安全"), ""),
    _flag("drinking_water_ok", "饮水安全有保障", "record", ("饮水安全保障", "是否饮水安全有保障", "饮水安全"), ""),
    # not in the template, read when present
    _flag("under_assistance", "有在实施的帮扶计划", "household", ("是否有帮扶计划", "有帮扶计划", "帮扶计划",
                                                          "是否有在实施的帮扶计划"), "", "否"),
)
BY_KEY = {c.key: c for c in COLUMNS}
TEMPLATE_COLUMNS = tuple(c for c in COLUMNS if c.key != "under_assistance")
REQUIRED = tuple(c.key for c in COLUMNS if c.required)
RECORD_ONLY = tuple(c.key for c in COLUMNS if c.target == "record" and c.key != "period")
HOUSEHOLD_KEYS = ("household_no", "village_code", "head_name", "head_id_number", "phone", "category", "members",
                  "labourers", "no_labour_capacity", "under_assistance")


def normalize_header(text: str) -> str:
    """A header as compared: full-width folded (（）→ ()), whitespace, marks of required columns and colons dropped."""
    return re.sub(r"[\s::*※★]", "", unicodedata.normalize("NFKC", text))


def _build_names() -> tuple[dict[str, str], dict[str, str]]:
    exact, stripped = {}, {}
    for c in COLUMNS:
        for name in (c.header, c.name, *c.aliases):
            exact.setdefault(normalize_header(name), c.key)
    for c in COLUMNS:
        for name in (c.header, *c.aliases):
            stripped.setdefault(re.sub(r"\(.*?\)", "", normalize_header(name)), c.key)
    return exact, stripped


_EXACT, _STRIPPED = _build_names()


def header_key(text: Any) -> str | None:
    """The column a header names, or None: exact names and variants first (村(区划代码) is the code),
    then without bracketed parts (人均纯收入（元） → 人均纯收入, 家庭人口数(人) → 家庭人口数)."""
    if not isinstance(text, str):
        return None
    h = normalize_header(text)
    if not h:
        return None
    if h in _EXACT:
        return _EXACT[h]
    bare = re.sub(r"\(.*?\)|【.*?】|\[.*?\]", "", h)
    return _EXACT.get(bare) or _STRIPPED.get(bare)


def _header_map(values: Iterable[Any]) -> dict[str, int]:
    found: dict[str, int] = {}
    for i, v in enumerate(values):
        key = header_key(v)
        if key and key not in found:
            found[key] = i
    return found


def missing_columns(columns: dict[str, int]) -> list[str]:
    """The required columns a header lacks, as their template names."""
    missing = [BY_KEY[k].header for k in REQUIRED if k not in columns]
    if "village_code" not in columns and "village" not in columns:
        missing.insert(1, "村 或 村代码")
    return missing


# ---------------------------------------------------------------- errors

class ImportFileError(ValueError):
    """The file as a whole cannot be imported (415: not a workbook or CSV; 422: no usable header)."""

    def __init__(self, message: str, status: int = 422, missing: list[str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.missing = missing or []


@dataclass(frozen=True)
class RowError:
    """One problem: the Excel row number, the column as written in the file, the reason."""

    row: int
    column: str
    reason: str
    key: str | None = field(default=None, compare=False)  # the column's key, to mark the cell

    def as_dict(self) -> dict:
        return {"row": self.row, "column": self.column, "reason": self.reason}


class CellError(ValueError):
    pass


# ---------------------------------------------------------------- reading the file

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
                code = _code(values[i] if i < len(values) else None)
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


def _csv_rows(text: str) -> Iterable[tuple[int, tuple]]:
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
    ws.reset_dimensions()  # some writers record a wrong size; read every row there is
    for n, values in enumerate(ws.iter_rows(values_only=True), start=1):
        yield n, tuple(values)


def _is_blank(v: Any) -> bool:
    return v is None or (isinstance(v, str) and not v.strip())


FOOTER = re.compile(r"^(填表人|制表人|填报人|审核人|负责人|联系人|填表日期|填报日期|注[::]|备注[::]|说明[::])")
TOTALS = re.compile(r"^(合\s*计|总\s*计|小\s*计)$")


def _find_header(rows: Iterable[tuple[int, tuple]]) -> tuple[int, dict[str, int], tuple] | None:
    best = None
    for n, values in rows:
        found = _header_map(values)
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
    header_texts = {normalize_header(str(v)) for v in header_values if not _is_blank(v)}
    for n, values in [*(r for r in head if r[0] > header_row), *rows]:
        present = [v for v in values if not _is_blank(v)]
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
        t = _table("csv", None, _csv_rows(text), header_only, encoding)
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


# ---------------------------------------------------------------- cells

_BLANKS = {"", "-", "—", "--", "/", "\\", "无", "空", "null", "none", "nan", "#n/a"}
_TRUE = {"是", "y", "yes", "true", "1", "√", "✓", "✔", "是的"}
_FALSE = {"否", "n", "no", "false", "0", "×", "✗", "✘", "x"}


def _fold(v: Any) -> str:
    return re.sub(r"\s", "", unicodedata.normalize("NFKC", str(v)))


def _text(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    s = re.sub(r"[\s\u3000]+", " ", str(v)).strip()
    return s or None


def _code(v: Any, what: str = "编号") -> str | None:
    """户编号, 村代码: digits kept exactly; a number Excel rounded is refused."""
    if v is None:
        return None
    if isinstance(v, bool):
        raise CellError(f"应为{what},不是“是/否”")
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if v.is_integer() and abs(v) < 2**53:
            return str(int(v))
        raise CellError(f"被 Excel 存成了数字,后几位已丢失:请将该列设为文本格式后重新填写 ({v!r})")
    s = _fold(v).lstrip("'")
    if re.fullmatch(r"\d(\.\d+)?[eE]\+?\d+", s):
        raise CellError(f"被存成了科学计数法({s}),后几位已丢失:请将该列设为文本格式后重新填写")
    return s or None


def _id(v: Any) -> str | None:
    if isinstance(v, float) and abs(v) >= 1e15:
        raise CellError("被 Excel 存成了数字,后几位已丢失:请将该列设为文本格式后重新填写证件号码")
    return _code(v, "证件号码")


def _int(v: Any) -> int | None:
    if v is None or isinstance(v, bool):
        if isinstance(v, bool):
            raise CellError("应为整数")
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        if v.is_integer():
            return int(v)
        raise CellError(f"应为整数,不能是 {v:g}")
    s = _fold(v)
    if s.lower() in _BLANKS:
        return None
    s = re.sub(r"(人|个)$", "", s)
    if re.fullmatch(r"[+-]?\d+(\.0+)?", s):
        return int(float(s))
    raise CellError(f"应为整数,不能是“{v}”")


def _money_value(v: Any) -> float | None:
    if v is None:
        return None
    if isinstance(v, bool):
        raise CellError("应为金额(元)")
    if isinstance(v, (int, float, Decimal)):
        f = float(v)
    else:
        s = _fold(v).replace(",", "")
        if s.lower() in _BLANKS:
            return None
        s = re.sub(r"^[¥¥]|(元|块)$", "", s)
        try:
            f = float(s)
        except ValueError:
            raise CellError(f"应为金额(元),不能是“{v}”") from None
    if not math.isfinite(f):
        raise CellError(f"应为金额(元),不能是“{v}”")
    return round(f, 2)


def _flag_value(v: Any) -> bool | None:
    if v is None:
        return None
    if isinstance(v, bool):
        return v
    if isinstance(v, (int, float)) and v in (0, 1):
        return bool(v)
    s = _fold(v).lower()
    if not s:
        return None
    if s in _TRUE:
        return True
    if s in _FALSE:
        return False
    raise CellError(f"应填“是”或“否”,不能是“{v}”")


def _period(v: Any) -> str | None:
    """2023, 2023-05 as written in the forms in use: 2023年, 2023年5月, 2023.5, 2023/05, 202305, an Excel date."""
    if v is None:
        return None
    if isinstance(v, datetime | date):
        return f"{v.year}-{v.month:02d}"
    if isinstance(v, float):
        if not v.is_integer():
            return repr(v)  # 2023.1 as a number may be October: the schema refuses it, the person rewrites it
        v = int(v)
    s = _fold(v)
    if not s:
        return None
    m = re.fullmatch(r"(\d{4})年?度?", s)
    if m:
        return m[1]
    m = re.fullmatch(r"(\d{4})(?:[-/.年])(\d{1,2})(?:月份?)?", s) or re.fullmatch(r"(\d{4})(\d{2})", s)
    if m:
        return f"{m[1]}-{int(m[2]):02d}"
    return s  # the schema says what is wrong with it


def _category(v: Any) -> str | None:
    s = _text(v)
    return _fold(s) if s else None


CONVERT: dict[str, Callable[[Any], Any]] = {
    "text": _text, "place": _text, "code": _code, "id": _id, "phone": lambda v: _code(v, "电话号码"),
    "int": _int, "money": _money_value, "flag": _flag_value, "period": _period, "category": _category,
}


# ---------------------------------------------------------------- villages

_PLACE_SUFFIXES = ("村民委员会", "居民委员会", "村委会", "居委会", "街道办事处", "街道", "社区", "村", "镇", "乡", "县", "区", "市")


def _stem(name: str) -> str:
    s = re.sub(r"[\s\u3000]", "", unicodedata.normalize("NFKC", name))
    for suffix in _PLACE_SUFFIXES:
        if s.endswith(suffix) and len(s) > len(suffix) + 1:
            return s[: -len(suffix)]
    return s


def same_place(written: str, name: str) -> bool:
    return _stem(written) == _stem(name)


@dataclass(frozen=True)
class Village:
    code: str
    name: str
    township_code: str
    township: str
    county_code: str
    county: str


class PlaceError(ValueError):
    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


class Villages:
    """The villages a file may name: those of the uploader's jurisdiction, found by
    code or by name (with the township and county telling namesakes apart).
    `outside` holds codes known to exist outside the jurisdiction."""

    def __init__(self, villages: Iterable[Village], outside: Iterable[str] = ()) -> None:
        self.by_code = {v.code: v for v in villages}
        self.by_stem: dict[str, list[Village]] = defaultdict(list)
        for v in self.by_code.values():
            self.by_stem[_stem(v.name)].append(v)
        self.outside = set(outside)

    def __len__(self) -> int:
        return len(self.by_code)

    def __iter__(self):
        return iter(sorted(self.by_code.values(), key=lambda v: v.code))

    def resolve(self, code: str | None, name: str | None, township: str | None, county: str | None) -> str:
        if code:
            if not (len(code) == 12 and code.isdigit()):
                return code  # HouseholdIn says what is wrong with it
            v = self.by_code.get(code)
            if v is None:
                if code in self.outside:
                    raise PlaceError("village_code", f"村 {code} 不在您的辖区内 (outside your jurisdiction)")
                raise PlaceError("village_code", f"村区划代码 {code} 不存在 (unknown village)")
            if name and not same_place(name, v.name):
                raise PlaceError("village", f"村“{name}”与村代码 {code}({v.name})不符")
            if township and not same_place(township, v.township):
                raise PlaceError("township", f"乡(镇)“{township}”与村代码 {code} 所在的{v.township}不符")
            if county and not same_place(county, v.county):
                raise PlaceError("county", f"县“{county}”与村代码 {code} 所在的{v.county}不符")
            return code
        if not name:
            raise PlaceError("village", "村和村代码都没有填写 (village missing)")
        found = self.by_stem.get(_stem(name), [])
        if not found:
            raise PlaceError("village", f"在您的辖区内找不到村“{name}”,请核对村名或填写村代码 (unknown village)")
        narrowed = [v for v in found if (not township or same_place(township, v.township))
                    and (not county or same_place(county, v.county))]
        if not narrowed:
            where = "、".join(f"{v.township}{v.name}" for v in found[:5])
            raise PlaceError("township" if township else "county",
                             f"{county or ''}{township or ''}没有村“{name}”(辖区内的同名村:{where})")
        if len(narrowed) > 1:
            where = "、".join(f"{v.county}{v.township}" for v in narrowed[:5])
            raise PlaceError("village", f"有 {len(narrowed)} 个村叫“{name}”({where}),请填写乡(镇)或村代码")
        return narrowed[0].code


def load_villages(conn: psycopg.Connection, prefix: str, mentioned: Iterable[str] = ()) -> Villages:
    """The villages under a jurisdiction prefix ("" for all), and which of the codes
    `mentioned` exist elsewhere (so the error can say "not yours" rather than "unknown")."""
    rows = conn.execute(
        """SELECT v.code, v.name, coalesce(t.code, '') AS township_code, coalesce(t.name, '') AS township,
                  coalesce(c.code, '') AS county_code, coalesce(c.name, '') AS county
           FROM common.regions v LEFT JOIN common.regions t ON t.code = v.parent_code
           LEFT JOIN common.regions c ON c.code = substr(v.code, 1, 6) || '000000'
           WHERE v.level = 'village' AND v.code LIKE %s ORDER BY v.code""",
        (prefix + "%",),
    ).fetchall()
    mentioned = [c for c in mentioned if not c.startswith(prefix)]
    outside = [r["code"] for r in conn.execute(
        "SELECT code FROM common.regions WHERE level = 'village' AND code = ANY(%s)", (mentioned,))] if mentioned else []
    return Villages((Village(**r) for r in rows), outside)


# ---------------------------------------------------------------- rows

@dataclass
class ParsedRow:
    """A valid row: the household as given (only the cells filled in) and its record (None: household only)."""

    row: int
    household_no: str
    household: dict
    record: dict | None


@dataclass
class Parsed:
    table: Table
    row_numbers: list[int]  # every data row, in file order
    valid: dict[int, ParsedRow]  # by row number
    errors: list[RowError]

    @property
    def error_rows(self) -> set[int]:
        return {e.row for e in self.errors}


def _period_key(p: str | None) -> tuple[int, int]:
    if not p:
        return (0, 0)
    return (int(p[:4]), int(p[5:7]) if len(p) > 4 else 13)


def schema_errors(e: ValidationError, row: int, table: Table, keys: Iterable[str]) -> list[RowError]:
    """The schema's complaints as row errors, each on the column it is about."""
    keys = tuple(keys)
    out = []
    for err in e.errors():
        loc = [p for p in err.get("loc", ()) if isinstance(p, str)]
        kind, msg = err.get("type", ""), err.get("msg", "")
        if kind.startswith("zh_") or kind == "value_error":
            text = msg.removeprefix("Value error, ")
            for part in ([text] if loc else [p for p in text.split(";") if p]):
                key = loc[0] if loc else _mentioned(part, keys)
                out.append(RowError(row, table.header(key), part, key))
            continue
        key = loc[0] if loc else None
        name = BY_KEY[key].name if key in BY_KEY else table.header(key)
        if kind == "literal_error" and key == "category":
            reason = f"户类型应为 {'、'.join(get_args(Category))} 之一"
        elif kind == "missing":
            reason = f"{name}必须填写"
        else:
            reason = f"{name}{ERROR_WORDS.get(kind, msg)}"
        out.append(RowError(row, table.header(key), reason, key))
    return out


# Valid stand-ins for required fields already found wrong, so that the schema's checks
# across fields (劳动力人数 ≤ 家庭人口数, amounts not negative) still run and every
# problem of a row is reported at once.
_STAND_INS = {"household_no": "0", "village_code": "000000000000", "head_name": "某", "category": "一般农户",
              "members": 30, "period": "2000"}


def check(model, data: dict, bad: set, row: int, table: Table, keys: Iterable[str]) -> list[RowError]:
    """Every complaint of `model` about `data`, leaving out the fields in `bad` (already reported)."""
    keys, bad, found = tuple(keys), set(bad), []
    for _ in range(len(model.model_fields) + 1):
        attempt = {k: v for k, v in data.items() if k not in bad}
        attempt |= {k: v for k, v in _STAND_INS.items() if k in bad and k in model.model_fields}
        try:
            model.model_validate(attempt)
            return found
        except ValidationError as e:
            found += [x for x in schema_errors(e, row, table, keys) if x.key not in bad]
            fields = {str(err["loc"][0]) for err in e.errors() if err.get("loc")}
            if not fields - bad:
                return found  # only checks across fields are left: they come last
            bad |= fields
    return found


def _mentioned(text: str, keys: tuple[str, ...]) -> str | None:
    """The column a message is about: the one whose name comes first in it."""
    best = None
    for key in keys:
        col = BY_KEY.get(key)
        if col is None:
            continue
        i = text.find(col.name)
        if i >= 0 and (best is None or i < best[0]):
            best = (i, key)
    return best[1] if best else None


def _cells(table: Table, row: int, values: tuple) -> tuple[dict, list[RowError]]:
    given, errors = {}, []
    for key, i in table.columns.items():
        col = BY_KEY[key]
        raw = values[i] if i < len(values) else None
        try:
            value = CONVERT[col.kind](raw)
        except CellError as e:
            errors.append(RowError(row, table.header(key), f"{col.name}{e}", key))
            continue
        if value is not None:
            given[key] = value
    return given, errors


def parse_row(table: Table, row: int, values: tuple, villages: Villages) -> ParsedRow | list[RowError]:
    """One data row as the dicts the schemas validate, or its errors."""
    given, errors = _cells(table, row, values)
    household = {k: v for k, v in given.items() if BY_KEY[k].target in ("household", "both")}
    record = {k: v for k, v in given.items() if BY_KEY[k].target in ("record", "both")}
    place_failed = any(e.key in ("village_code", "village") for e in errors)
    if not place_failed:
        try:
            household["village_code"] = villages.resolve(given.get("village_code"), given.get("village"),
                                                         given.get("township"), given.get("county"))
        except PlaceError as e:
            errors.append(RowError(row, table.header(e.key), str(e), e.key))
            place_failed = True
    if any(k in record for k in RECORD_ONLY) and "period" not in record and not any(e.key == "period" for e in errors):
        errors.append(RowError(row, table.header("period"), "期间必须填写:填了收支或保障情况的行要写明是哪一期", "period"))
    household_keys = [k for k in HOUSEHOLD_KEYS if k in table.columns or k == "village_code"]
    bad = {e.key for e in errors} | ({"village_code"} if place_failed else set())
    found = check(HouseholdIn, household, bad, row, table, household_keys)
    errors += found
    bad |= {x.key for x in found}  # 劳动力人数 wrong for the household is not said again for the record
    if "period" in record:
        errors += check(RecordIn, record, bad, row, table, ["period", *RECORD_ONLY, "labourers"])
    if errors:
        return errors
    return ParsedRow(row, household["household_no"], household, record if "period" in record else None)


def parse_table(table: Table, villages: Villages) -> Parsed:
    """Every row checked; the valid ones with the household as given across all its rows
    (later periods win), each 户编号 + 期间 once (a repeat is an error on the later row)."""
    valid: dict[int, ParsedRow] = {}
    errors: list[RowError] = []
    seen: dict[tuple[str, str], int] = {}
    groups: dict[str, list[ParsedRow]] = defaultdict(list)
    for n, values in table.rows:
        parsed = parse_row(table, n, values, villages)
        if isinstance(parsed, list):
            errors += parsed
            continue
        if parsed.record is not None:
            key = (parsed.household_no, parsed.record["period"])
            if key in seen:
                errors.append(RowError(n, table.header("period"),
                                       f"户编号 {key[0]} 期间 {key[1]} 与第 {seen[key]} 行重复 (duplicate)", "period"))
                continue
            seen[key] = n
        valid[n] = parsed
        groups[parsed.household_no].append(parsed)
    for no, rows in groups.items():
        if len(rows) < 2:
            continue
        merged: dict = {}
        for p in sorted(rows, key=lambda p: (_period_key(p.record and p.record["period"]), p.row)):
            merged.update(p.household)
        try:
            HouseholdIn.model_validate(merged)
        except ValidationError as e:
            reasons = "、".join(x.reason for x in schema_errors(e, rows[-1].row, table, HOUSEHOLD_KEYS))
            for p in rows:
                errors.append(RowError(p.row, table.header("household_no"),
                                       f"户编号 {no} 各行的户信息合在一起不成立:{reasons}", "household_no"))
                del valid[p.row]
            continue
        for p in rows:
            p.household = merged
    errors.sort(key=lambda e: (e.row, table.columns.get(e.key, len(COLUMNS)) if e.key else len(COLUMNS)))
    return Parsed(table, [n for n, _ in table.rows], valid, errors)


# ---------------------------------------------------------------- importing

@dataclass
class Outcome:
    """What an import did (or, dry, would do)."""

    rows: int = 0
    processed_rows: int = 0
    imported_rows: int = 0
    error_rows: int = 0  # among the processed rows
    households: set = field(default_factory=set)  # 户编号 of the imported rows
    records: int = 0
    households_changed: int = 0
    records_changed: int = 0
    errors: list[RowError] = field(default_factory=list)
    dry_run: bool = False
    job_id: int | None = None

    @property
    def rows_with_errors(self) -> int:
        return len({e.row for e in self.errors})

    def summary(self, max_errors: int | None = None) -> dict:
        errors = self.errors if max_errors is None else self.errors[:max_errors]
        return {
            "rows": self.rows, "households": len(self.households), "records": self.records,
            "rows_with_errors": self.rows_with_errors, "households_changed": self.households_changed,
            "records_changed": self.records_changed, "dry_run": self.dry_run, "job_id": self.job_id,
            "errors": [e.as_dict() for e in errors],
        }


def _household_view(h: dict) -> dict:
    return {k: h[k] for k in HOUSEHOLD_KEYS}


def _record_view(r: dict) -> dict:
    return {f: (float(r[f]) if isinstance(r[f], Decimal) else r[f]) for f in repo.RECORD_FIELDS}


@dataclass
class Known:
    """What the register holds for the rows of one chunk, read in two queries
    (and kept up to date as the chunk saves), so each row costs only its writes."""

    households: dict[str, dict]  # 户编号 → household
    records: dict[tuple[str, str], dict]  # (户编号, 期间) → record

    @classmethod
    def load(cls, conn: psycopg.Connection, rows: list[ParsedRow]) -> Known:
        numbers = sorted({p.household_no for p in rows})
        keys = sorted({(p.household_no, p.record["period"]) for p in rows if p.record is not None})
        households = {h["household_no"]: h for h in conn.execute(
            f"SELECT {repo.HOUSEHOLD_COLUMNS} FROM alerts.households h WHERE h.household_no = ANY(%s)", (numbers,))}
        records = {}
        if keys:
            for r in conn.execute(
                """SELECT h.household_no AS _no, r.* FROM alerts.household_records r
                   JOIN alerts.households h ON h.id = r.household_id
                   WHERE (h.household_no, r.period) IN (SELECT * FROM unnest(%s::text[], %s::text[]))""",
                ([k[0] for k in keys], [k[1] for k in keys]),
            ):
                records[(r.pop("_no"), r["period"])] = r
        return cls(households, records)


@dataclass
class Plan:
    """One row checked against the register, before anything is written."""

    row: ParsedRow
    existing: dict | None
    household: dict | None  # to save; None when unchanged
    record: dict | None  # to save; None when unchanged or none given


def plan_row(p: ParsedRow, known: Known, actor: Principal | None) -> Plan:
    """The row merged with what the register holds (blank cells keep it) and checked
    again by the schemas; raises RegisterError or ValidationError, writing nothing."""
    existing = known.households.get(p.household_no)
    if existing is not None and actor is not None and not actor.covers_region(existing["village_code"]):
        raise register.RegisterError(f"户编号 {p.household_no} 属于其他辖区 (household outside your jurisdiction)", 403)
    data = {**_household_view(existing), **p.household} if existing else dict(p.household)
    data = HouseholdIn.model_validate(data).model_dump()
    unchanged = existing is not None and all(existing[k] == data[k] for k in HOUSEHOLD_KEYS)
    record = None
    if p.record is not None:
        before = known.records.get((p.household_no, p.record["period"]))
        record = {**_record_view(before), **p.record} if before else dict(p.record)
        record = RecordIn.model_validate(record).model_dump()
        if before is not None and all(register.same_value(before.get(f), record.get(f)) for f in repo.RECORD_FIELDS):
            record = None
    return Plan(p, existing, None if unchanged else data, record)


def write_row(conn: psycopg.Connection, plan: Plan, known: Known, *, actor: Principal | None,
              request_id: str | None, source: str) -> tuple[bool, bool]:
    """Save what `plan_row` found changed, through the register (outbox event and audit row
    in this transaction); returns (household changed, record changed)."""
    household = plan.existing
    if plan.household is not None:
        household = register.save_household(conn, actor=actor, data=plan.household, request_id=request_id,
                                            source=source)
    record_changed = False
    if plan.record is not None:
        saved, record_changed = register.save_record(conn, actor=actor, household_id=household["id"],
                                                     record=plan.record, request_id=request_id, source=source)
    known.households[plan.row.household_no] = household
    if plan.record is not None:
        known.records[(plan.row.household_no, plan.record["period"])] = saved
    return plan.household is not None, record_changed


def apply_row(conn: psycopg.Connection, p: ParsedRow, *, actor: Principal | None, request_id: str | None,
              source: str) -> tuple[bool, bool]:
    """Save one row's household and record; returns (household changed, record changed)."""
    known = Known.load(conn, [p])
    return write_row(conn, plan_row(p, known, actor), known, actor=actor, request_id=request_id, source=source)


ROW_FAILURES = (register.RegisterError, ValidationError, psycopg.errors.IntegrityError, psycopg.errors.DataError)


class _RetryWithSavepoints(Exception):
    """The database refused a row in a chunk run without savepoints: run the chunk again, row by row."""


def _row_failure(e: Exception, p: ParsedRow, table: Table) -> list[RowError]:
    if isinstance(e, ValidationError):
        return schema_errors(e, p.row, table, [*HOUSEHOLD_KEYS, "period", *RECORD_ONLY])
    if isinstance(e, register.RegisterError):
        key = "household_no" if "户编号" in str(e) else "village_code"
        return [RowError(p.row, table.header(key), str(e), key)]
    return [RowError(p.row, "", f"数据库拒绝了这一行:{type(e).__name__} (rejected by the database)")]


def chunks(items: list, size: int) -> Iterable[list]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def import_rows(connect: Connect, parsed: Parsed, *, actor: Principal | None, outcome: Outcome | None = None,
                job_id: int | None = None, chunk_size: int | None = None, dry_run: bool = False,
                request_id: str | None = None, on_progress: Callable[[Outcome], None] | None = None) -> Outcome:
    """Save the valid rows in chunks, each chunk one transaction with the job's progress.

    Every row is first checked against what the register holds (a household of
    another jurisdiction, figures that no longer add up with the cells left blank):
    such a row becomes a row error and writes nothing. Unchanged rows write nothing
    either. A row the database itself refuses makes the chunk run again with a
    savepoint per row, so that row alone is left out. Any other failure aborts the
    chunk and propagates, leaving the earlier chunks committed and recorded in the job.
    Dry: everything runs in one transaction that is rolled back, so the counts say
    what would change."""
    size = chunk_size or CHUNK_SIZE
    outcome = outcome or Outcome()
    outcome.rows, outcome.dry_run, outcome.job_id = len(parsed.row_numbers), dry_run, job_id
    source = f"import:{job_id}" if job_id else "import"
    request_id = request_id or (f"import-{job_id}" if job_id else None)
    parse_errors: dict[int, list[RowError]] = defaultdict(list)
    for e in parsed.errors:
        parse_errors[e.row].append(e)

    def process(conn: psycopg.Connection, rows: list[int], savepoints: bool) -> Outcome:
        done = Outcome(processed_rows=len(rows))
        known = Known.load(conn, [parsed.valid[n] for n in rows if n not in parse_errors])
        for n in rows:
            if n in parse_errors:
                done.errors += parse_errors[n]
                done.error_rows += 1
                continue
            p = parsed.valid[n]
            try:
                plan = plan_row(p, known, actor)
                if savepoints:
                    with conn.transaction():
                        h_changed, r_changed = write_row(conn, plan, known, actor=actor, request_id=request_id,
                                                         source=source)
                else:
                    try:
                        h_changed, r_changed = write_row(conn, plan, known, actor=actor, request_id=request_id,
                                                         source=source)
                    except ROW_FAILURES as e:
                        raise _RetryWithSavepoints() from e
            except ROW_FAILURES as e:
                done.errors += _row_failure(e, p, parsed.table)
                done.error_rows += 1
                continue
            done.imported_rows += 1
            done.households.add(p.household_no)
            done.records += p.record is not None
            done.households_changed += h_changed
            done.records_changed += r_changed
        return done

    def run_chunk(conn: psycopg.Connection, rows: list[int]) -> Outcome:
        """The chunk in one transaction (a savepoint when dry), with the job's progress."""
        for savepoints in (False, True):
            try:
                with conn.transaction():
                    done = process(conn, rows, savepoints)
                    if job_id is not None and not dry_run:
                        conn.execute(
                            """UPDATE alerts.import_jobs SET processed_rows = processed_rows + %s,
                                   imported_rows = imported_rows + %s, error_rows = error_rows + %s,
                                   updated_at = now()
                               WHERE id = %s""",
                            (done.processed_rows, done.imported_rows, done.error_rows, job_id),
                        )
                return done
            except _RetryWithSavepoints:
                log.info("a row of rows %s–%s was refused by the database: again with savepoints", rows[0], rows[-1])
        raise AssertionError("unreachable")

    def add(done: Outcome) -> None:
        outcome.processed_rows += done.processed_rows
        outcome.imported_rows += done.imported_rows
        outcome.error_rows += done.error_rows
        outcome.households |= done.households
        outcome.records += done.records
        outcome.households_changed += done.households_changed
        outcome.records_changed += done.records_changed
        outcome.errors += done.errors
        if on_progress:
            on_progress(outcome)

    if dry_run:
        with connect() as conn:
            with conn.transaction():
                for rows in chunks(parsed.row_numbers, size):
                    add(run_chunk(conn, rows))
                raise psycopg.Rollback()
        return outcome
    for rows in chunks(parsed.row_numbers, size):
        with connect() as conn:
            done = run_chunk(conn, rows)
        add(done)
    return outcome


# ---------------------------------------------------------------- jobs

def create_job(conn: psycopg.Connection, filename: str, uploaded_by: int | None) -> int:
    return conn.execute(
        "INSERT INTO alerts.import_jobs (filename, uploaded_by) VALUES (%s, %s) RETURNING id",
        (filename[:255], uploaded_by),
    ).fetchone()["id"]


def get_job(conn: psycopg.Connection, job_id: int) -> dict | None:
    return conn.execute(
        """SELECT j.id, j.filename, j.uploaded_by, j.status, j.total_rows, j.processed_rows, j.imported_rows,
                  j.error_rows, j.error_file IS NOT NULL AS has_error_file, j.summary, j.message, j.created_at,
                  j.updated_at, j.finished_at, r.code AS uploader_region, now() AS now
           FROM alerts.import_jobs j LEFT JOIN common.users u ON u.id = j.uploaded_by
           LEFT JOIN common.units n ON n.id = u.unit_id LEFT JOIN common.regions r ON r.code = n.region_code
           WHERE j.id = %s""",
        (job_id,),
    ).fetchone()


def _set_job(connect: Connect, job_id: int, sql: str, params: tuple) -> None:
    with connect() as conn:
        with conn.transaction():
            conn.execute(f"UPDATE alerts.import_jobs SET {sql}, updated_at = now() WHERE id = %s", (*params, job_id))


def run_import(connect: Connect, content: bytes, filename: str, *, actor: Principal | None,
               job_id: int | None = None, dry_run: bool = False, chunk_size: int | None = None,
               request_id: str | None = None, on_progress: Callable[[Outcome], None] | None = None,
               table: Table | None = None) -> tuple[Outcome, bytes | None]:
    """Read, check and import a file; with a job, record every step of it there.
    Returns what happened and the error copy of the file (None without errors).
    A failure marks the job failed (with the error copy of what was found so far) and propagates."""
    outcome = Outcome(dry_run=dry_run, job_id=job_id)
    parsed = None
    try:
        if job_id is not None:
            _set_job(connect, job_id, "status = 'running'", ())
        table = table or read_table(content, filename)
        prefix = jurisdiction_prefix(actor.region_code, actor.region_level) if actor else ""
        with connect() as conn:
            villages = load_villages(conn, prefix, table.mentioned_codes())
        parsed = parse_table(table, villages)
        outcome.rows = len(parsed.row_numbers)
        if job_id is not None:
            _set_job(connect, job_id, "total_rows = %s", (outcome.rows,))
        if on_progress:
            on_progress(outcome)
        import_rows(connect, parsed, actor=actor, outcome=outcome, job_id=job_id, chunk_size=chunk_size,
                    dry_run=dry_run, request_id=request_id, on_progress=on_progress)
    except Exception as e:
        if job_id is not None:
            log.exception("import job %s failed after %s rows", job_id, outcome.processed_rows)
            if isinstance(e, ImportFileError):
                message = str(e)
            else:
                message = (f"导入在第 {outcome.processed_rows + 1} 行之后的一批数据中中断 ({type(e).__name__}),"
                           f"前 {outcome.processed_rows} 行已处理并保存;重新上传同一文件即可继续,已导入的数据不会重复")
            errors = sorted({*outcome.errors, *(parsed.errors if parsed else [])}, key=lambda x: x.row)
            error_file = _safe_error_workbook(content, table, errors)
            _set_job(connect, job_id, "status = 'failed', message = %s, error_file = %s, summary = %s, "
                     "finished_at = now()",
                     (message, error_file, Jsonb({**outcome.summary(MAX_SUMMARY_ERRORS), "errors": [
                         x.as_dict() for x in errors[:MAX_SUMMARY_ERRORS]]})))
        raise
    error_file = _safe_error_workbook(content, table, outcome.errors) if outcome.errors else None
    if job_id is not None:
        _set_job(connect, job_id, "status = 'done', error_file = %s, summary = %s, finished_at = now()",
                 (error_file, Jsonb(outcome.summary(MAX_SUMMARY_ERRORS))))
    return outcome, error_file


def _safe_error_workbook(content: bytes, table: Table | None, errors: list[RowError]) -> bytes | None:
    if table is None or not errors:
        return None
    try:
        return error_workbook(content, table, errors)
    except Exception:  # noqa: BLE001 (the import's result matters more than its error copy)
        log.exception("could not write the error copy of an import file")
        return None


# ---------------------------------------------------------------- the error copy

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
        for n, values in _csv_rows(text):
            for i, v in enumerate(values, start=1):
                if v != "":
                    ws.cell(n, i).value = v
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
        cell = ws.cell(n, error_col, ";".join(reasons))
        cell.font = Font(color="C00000")
        cell.fill = row_fill
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    if ws.freeze_panes is None:
        ws.freeze_panes = ws.cell(header_row + 1, 1)
    wb.active = wb.worksheets.index(ws)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
