"""Data rows of our own template as the dicts `HouseholdIn` and `RecordIn` validate, or
as errors naming the Excel row a person would look at, the column as written and the
reason in Chinese; several rows of one household are merged (later periods win)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import get_args

from pydantic import ValidationError

from services.alerts.import_cells import CONVERT, CellError
from services.alerts.import_columns import BY_KEY, COLUMNS, HOUSEHOLD_KEYS, RECORD_ONLY
from services.alerts.import_places import PlaceError, Villages
from services.alerts.import_reader import Table
from services.alerts.schemas import Category, HouseholdIn, RecordIn
from services.common.http import ERROR_WORDS


@dataclass(frozen=True)
class RowError:
    """One problem: the Excel row number, the column as written in the file, the reason."""

    row: int
    column: str
    reason: str
    key: str | None = field(default=None, compare=False)  # the column's key, to mark the cell

    def as_dict(self) -> dict:
        return {"row": self.row, "column": self.column, "reason": self.reason}


@dataclass
class ParsedRow:
    """A valid row: the household as given (only the cells filled in) and its record (None: household only).
    A household of the national export also has its members (in `household["member_list"]`), its
    monitoring record and the number of person rows it came from."""

    row: int
    household_no: str
    household: dict
    record: dict | None
    monitoring: dict | None = None
    persons: int = 0


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
