"""Fuzz targets (atheris): the readers of what people upload. Each takes raw bytes; its first
byte chooses how the rest is presented (the file name the upload would carry, and for the
import readers whether the body is CSV text written into a workbook cell by cell), so a seed
is that byte followed by a real file (see corpus.py).

A target returns when the reader accepted the input or refused it with the module's own
clear error; anything else raised — another exception, or the module's error saying nothing
readable — escapes and is a crash. What counts as clear is what the hypothesis property
tests of the parser (tests/unit/policy_parser/test_policy_parser_properties.py) accept:
a ``ParseError`` whose reason is one non-empty line; for the imports an ``ImportFileError``
with a one-line message in Chinese and the 415/422 status the API answers with, and row
errors that each name a reason."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable

from openpyxl import Workbook

from services.alerts.import_error_copy import error_workbook, streamed_error_workbook
from services.alerts.import_places import Village, Villages
from services.alerts.import_reader import ImportFileError
from services.alerts.import_rows import RowError, parse_table
from services.alerts.importer import read_file
from services.alerts.national_import import Places
from services.alerts.national_persons import PersonRows
from services.alerts.national_reader import Sheet, all_rows, data_rows, detect
from services.tasks.policy_parser import ParseError, document_to_dict, parse_bytes


class UnclearError(AssertionError):
    """The reader refused the input with its own error type, but not in a way a person can act on."""


CJK = re.compile(r"[\u4e00-\u9fff]")
POLICY_NAMES = ("政策.txt", "政策.docx", "任务分工表.xlsx", "政策.html", "政策")
KNOWN_UNITS = {"县财政局", "县人力资源和社会保障局", "县农业农村局", "县乡村振兴局", "各乡镇人民政府"}
IMPORT_NAMES = ("农户.xlsx", "农户.csv", "农户", "农户.xlsm", "农户.CSV")
NATIONAL_NAMES = ("监测对象信息.xlsx", "监测对象信息.csv", "监测对象信息", "行政村信息.xls", "行政村信息.CSV")
WITH_KNOWN_UNITS = 0x80  # policy selector bit: the region's unit names are given to the parser
CELLS_AS_WORKBOOK = 0x80  # import selector bit: the body is CSV text, written into an .xlsx cell by cell
CREATE_REGIONS = 0x40  # import selector bit: unknown townships and villages are planned (--create-regions)

VILLAGES = [
    Village("532325100201", "栋川东村", "532325100000", "栋川镇", "532325000000", "姚安县"),
    Village("532325100202", "栋川西村", "532325100000", "栋川镇", "532325000000", "姚安县"),
    Village("532325101201", "光禄东村", "532325101000", "光禄镇", "532325000000", "姚安县"),
    Village("532325101205", "新村", "532325101000", "光禄镇", "532325000000", "姚安县"),
]
REGIONS = [{"code": "532325000000", "name": "姚安县", "level": "county", "parent_code": "532300000000"},
           {"code": "532325100000", "name": "栋川镇", "level": "township", "parent_code": "532325000000"},
           {"code": "532325101000", "name": "光禄镇", "level": "township", "parent_code": "532325000000"}]


def split(data: bytes, names: tuple[str, ...]) -> tuple[int, str, bytes]:
    """(selector, file name, body) of a fuzz input."""
    selector = data[0] if data else 0
    return selector, names[selector % len(names)], data[1:]


def check_parse_error(e: ParseError) -> None:
    if not e.reason or not e.reason.strip() or "\n" in e.reason:
        raise UnclearError(f"ParseError without a one-line reason: {e.reason!r}") from e


def check_import_error(e: ImportFileError) -> None:
    message = str(e)
    if not message.strip() or "\n" in message or not CJK.search(message) or e.status not in (415, 422):
        raise UnclearError(f"ImportFileError not one Chinese line with 415/422: {e.status} {message!r}") from e


def check_row_errors(errors: list[RowError]) -> None:
    for err in errors:
        if err.row < 1 or not err.reason.strip():
            raise UnclearError(f"row error without a row or a reason: {err!r}")


def policy_document(data: bytes) -> None:
    """An uploaded policy document (text in any encoding, Word, Excel task table, web page) → its task list."""
    selector, name, body = split(data, POLICY_NAMES)
    try:
        doc = parse_bytes(body, name, KNOWN_UNITS if selector & WITH_KNOWN_UNITS else None)
    except ParseError as e:
        check_parse_error(e)
        return
    if not doc.measures:
        raise AssertionError("a document accepted without a single measure")
    document_to_dict(doc)


def cells_to_xlsx(body: bytes) -> bytes:
    """The body read as CSV text, written into a workbook: numbers as numbers, the rest as text."""
    wb = Workbook()
    ws = wb.active
    for row in csv.reader(io.StringIO(body.decode("utf-8", "replace").replace("\0", ""), newline="")):
        ws.append([_cell(v) for v in row[:60]])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _cell(text: str):
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return "".join(ch for ch in text if ch >= " " or ch in "\t\n\r") or None


def _upload(data: bytes, names: tuple[str, ...]) -> tuple[int, str, bytes]:
    selector, name, body = split(data, names)
    if selector & CELLS_AS_WORKBOOK:
        return selector, name.rsplit(".", 1)[0] + ".xlsx", cells_to_xlsx(body)
    return selector, name, body


def household_import(data: bytes) -> None:
    """An uploaded household file as the import reads it: a national export, else our template,
    its rows checked against a jurisdiction's villages, and the error copy written."""
    selector, name, content = _upload(data, IMPORT_NAMES)
    try:
        table = read_file(content, name)
        if isinstance(table, Sheet):
            _national(content, table, create_regions=bool(selector & CREATE_REGIONS))
            return
        parsed = parse_table(table, Villages(VILLAGES, outside={"532399100201"}))
    except ImportFileError as e:
        check_import_error(e)
        return
    check_row_errors(parsed.errors)
    if parsed.errors:
        error_workbook(content, table, parsed.errors)


def national_export(data: bytes) -> None:
    """An export of the national monitoring system (监测对象信息 or 行政村信息): found, streamed, assembled."""
    selector, name, content = _upload(data, NATIONAL_NAMES)
    try:
        sheet = detect(content, name)
        if sheet is not None:
            _national(content, sheet, create_regions=bool(selector & CREATE_REGIONS))
    except ImportFileError as e:
        check_import_error(e)


def _national(content: bytes, sheet: Sheet, *, create_regions: bool) -> None:
    if sheet.kind == "villages":
        for _ in data_rows(content, sheet):
            pass
        return
    rows = PersonRows(sheet)
    for n, values in data_rows(content, sheet):
        rows.add(n, values)
    parsed = rows.households(Places(Villages(VILLAGES), REGIONS, create_regions), sheet.title_year or "2023")
    check_row_errors(parsed.errors)
    if parsed.errors:
        streamed_error_workbook(all_rows(content, sheet), sheet.header_row, sheet.columns, parsed.errors)


def canary(data: bytes) -> None:
    """A tiny reader with a planted crash (input starting ``xj``), for the test proving that a
    crash is found and reported; every other input is refused with a clear ParseError."""
    try:
        if data[:2] == b"xj":
            {}[data]  # the planted bug: a KeyError escapes
        raise ParseError("不是政策文件 (not a policy document)")
    except ParseError as e:
        check_parse_error(e)


TARGETS: dict[str, Callable[[bytes], None]] = {
    "policy": policy_document,
    "household_import": household_import,
    "national_export": national_export,
    "canary": canary,
}
