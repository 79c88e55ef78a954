"""Cells of the national export read into plain values, each column by its kind; values
outside the system's vocabularies are errors that list the allowed values.

The same text comes back thousands of times in an export (村 names, 是/否, 因病,
普通劳动力), so each column keeps what it has read: a repeated value costs one dict
look-up and every copy of it is the same string object.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from services.alerts import national_columns as nc
from services.alerts.import_cells import (
    CellError, cell_code, flag_value, fold, id_value, int_value, money_value, period_value, text_value,
)
from services.alerts.validation import certificate_problem

_SPLIT = re.compile(r"[,，、;；/]+")
MONEY_MAY_BE_NEGATIVE = ("business_income",)  # 生产经营性收入: a loss


def month_value(v: Any) -> str | None:
    """识别监测时间 / 消除监测时间 as YYYY-MM: 202203, 2022-03, 2022年3月, an Excel date."""
    if v is None or v == "":
        return None
    if isinstance(v, datetime | date):
        return f"{v.year}-{v.month:02d}"
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    s = fold(v)
    if not s:
        return None
    m = re.fullmatch(r"((?:19|20)\d{2})(\d{2})(?:\d{2})?", s) \
        or re.fullmatch(r"((?:19|20)\d{2})[-/.年](\d{1,2})(?:月|[-/.]\d{1,2}日?)?", s)
    if m and 1 <= int(m[2]) <= 12:
        return f"{m[1]}-{int(m[2]):02d}"
    raise CellError(f"应写作年月,如 202203,不能是“{v}”")


def _vocab(allowed: tuple[str, ...], prefixes: tuple[str, ...] = ()) -> Callable[[Any], str | None]:
    words = {w: w for w in allowed}

    def read(v: Any) -> str | None:
        s = text_value(v)
        if s is None:
            return None
        s = fold(s)
        if s in words:
            return words[s]
        if any(s.startswith(p) for p in prefixes):
            return s
        raise CellError(f"不能是“{s}”,应为 {'、'.join(allowed)} 之一")
    return read


def _vocabs(allowed: tuple[str, ...]) -> Callable[[Any], tuple[str, ...] | None]:
    one = _vocab(allowed)

    def read(v: Any) -> tuple[str, ...] | None:
        s = text_value(v)
        if s is None:
            return None
        return tuple(one(part) for part in _SPLIT.split(s) if part.strip()) or None
    return read


def _items(v: Any) -> tuple[str, ...] | None:
    """A 帮扶 cell: several comma-joined items (其他,技能培训)."""
    s = text_value(v)
    if s is None:
        return None
    return tuple(fold(p) for p in _SPLIT.split(s) if p.strip()) or None


def _money(negative_allowed: bool) -> Callable[[Any], float | None]:
    def read(v: Any) -> float | None:
        f = money_value(None if v == "" else v)
        if f is not None and f < 0 and not negative_allowed:
            raise CellError("不能为负数")
        if f is not None and abs(f) > 10_000_000:
            raise CellError("数值过大,请核对单位(元)")
        return f
    return read


def id_cell(v: Any) -> str | None:
    """证件号码 as text (upper-case X); its check needs the 证件类型 of the row (`certificate`)."""
    s = id_value(None if v == "" else v)
    return s.upper() if s else None


def certificate(number: str, id_type: str | None) -> tuple[str, str | None]:
    """The register's id_type for a 证件号码 and what is wrong with it: an 18-digit resident ID
    must pass its checksum and birth date; 20/22 characters are a disability certificate."""
    kind = nc.ID_TYPES.get(id_type or "", "居民身份证")
    if len(number) in (20, 22) and kind == "居民身份证":
        kind = "残疾人证"
    if kind == "其他":
        return kind, None
    return kind, certificate_problem(number, kind)


def reader(col: nc.NCol) -> Callable[[Any], Any]:
    """How a column's cells are read; cached for the kinds whose values repeat."""
    kind = col.kind
    if kind == "money":
        return _money(col.key in MONEY_MAY_BE_NEGATIVE)
    if kind == "id":
        return id_cell
    if kind == "code":
        return lambda v: cell_code(None if v == "" else v)
    if kind == "int":
        return lambda v: int_value(None if v == "" else v)
    read: Callable[[Any], Any] = {
        "text": text_value, "place": text_value, "flag": lambda v: flag_value(None if v == "" else v),
        "month": month_value, "items": _items, "period": period_value,
        "vocab": _vocab(col.vocab, ("因自然灾害",) if col.key.startswith("risk") else ()),
        "vocabs": _vocabs(col.vocab),
    }[kind]
    return _cached(read)


def _cached(read: Callable[[Any], Any]) -> Callable[[Any], Any]:
    seen: dict[Any, Any] = {}

    def cached(v: Any) -> Any:
        if v.__class__ is not str:
            return read(v)
        try:
            return seen[v]
        except KeyError:
            pass
        value = read(v)  # a CellError is raised again for every copy of a bad value: it is not kept
        if len(seen) < 50_000:
            seen[v] = value
        return value
    return cached
