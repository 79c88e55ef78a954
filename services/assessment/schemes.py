"""Scoring schemes as data: YAML files `schemes/<region code | default>/<year>.yaml`.

Why files: weights, deductions, grade lines and the praise / criticism rules are
set by the county's assessment notice each year and must change without code,
each indicator naming the clause it comes from (DESIGN.md, "Rules are data").

Lookup for a period: the most specific region that has a file in force (village →
township → county → city → province → default); there, the latest year ≤ the
period's year whose `effective_from` is on or before the period's first day. A
scheme adopted mid-year (say effective 2024-07-01) therefore scores July onwards,
while 2024-03, 2024-Q1, 2024-H1 and the year 2024 keep the older scheme: a period is
scored by the rules in force when it began.

A scheme: an indicator tree out of 100 points (groups of leaf indicators; `rate` and
`deduction` leaves carry the weights, `bonus` leaves add on top up to their caps,
`veto` leaves zero the total), the process / year-end split, grade lines, and the
rules for 通报表扬 and 通报批评、约谈. See `default/2021.yaml` for every field.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from services.assessment.model import FACT_KINDS
from services.common import units

SCHEMES_ROOT = Path(__file__).with_name("schemes")
FORMULAS = ("rate", "deduction", "bonus", "veto")
TOP_KEYS = ("region", "year", "effective_from", "name", "source", "split", "grades", "no_facts", "bonus_cap",
            "praise", "criticism", "indicators")
LEAF_KEYS = {
    "rate": ("numerator", "denominator", "weight", "empty"),
    "deduction": ("kind", "per", "unit", "points", "weight"),
    "bonus": ("kind", "per", "unit", "points", "cap"),
    "veto": ("kind",),
}
COMMON_KEYS = ("id", "name", "formula", "source")
GROUP_KEYS = ("id", "name", "weight", "source", "children")
NO_FACTS = ("zero", "full")  # what rates give a unit with no facts at all in the period
WITHIN = ("month", "quarter", "period")
_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_REGION = re.compile(r"^(default|\d{12})$")
_PERIOD = re.compile(r"^(\d{4})(?:-(0[1-9]|1[0-2])|-Q([1-4])|-H([12]))?$")


class SchemeError(ValueError):
    """A scheme file that cannot be used; the message names the file, the indicator and the field."""


@dataclass(frozen=True)
class Indicator:
    """A leaf of the tree. `weight` is its points out of 100 (rate, deduction); bonus and
    veto leaves have weight 0 and sit outside the 100."""

    id: str
    name: str
    formula: str  # rate | deduction | bonus | veto
    source: str
    group: str = ""  # the enclosing groups' names, "报送 · 时效"
    weight: float = 0.0
    numerator: tuple[str, ...] = ()  # rate: fact kinds counted above the line
    denominator: tuple[str, ...] = ()  # rate: fact kinds counted below the line
    kinds: tuple[str, ...] = ()  # deduction / bonus / veto: the fact kinds that count
    per: str = "occurrence"  # deduction / bonus: per fact, or per unit of its value ("value")
    unit: str = ""  # what one unit of value is (天, 级), for the explanation
    points: float = 0.0  # deduction / bonus: points per occurrence or per unit of value
    cap: float = 0.0  # bonus: at most this many points
    empty: str | float = "full"  # rate with nothing in the denominator: full | zero | points


@dataclass(frozen=True)
class Praise:
    top: int  # the first `top` ranks (ties included) ...
    min_grade: str  # ... whose grade is at least this one
    source: str


@dataclass(frozen=True)
class CountRule:
    kind: str
    at_least: int
    within: str  # month | quarter | period
    source: str


@dataclass(frozen=True)
class Criticism:
    grades: tuple[str, ...]  # these grades are criticised
    bottom: int  # and the last `bottom` ranks (考核结果靠后); 0: none
    vetoed: bool  # and every vetoed unit
    counts: tuple[CountRule, ...]  # and e.g. three or more escalations within a quarter
    source: str


@dataclass(frozen=True)
class Scheme:
    region: str
    year: int
    effective_from: date
    name: str
    source: str
    process_share: float  # percent of the annual score from the process assessment
    year_end_share: float  # percent from the year-end assessment
    process_over: str  # month | quarter: the sub-periods averaged for the process share
    grades: tuple[tuple[str, float], ...]  # (grade, minimum total), highest first
    no_facts: str  # zero | full
    bonus_cap: float | None  # all bonus leaves together at most this (None: only their own caps)
    praise: Praise
    criticism: Criticism
    indicators: tuple[Indicator, ...]  # the leaves, in the file's order
    version: str = ""  # "<region>/<year>.yaml#<hash>", stored with the scores it produced

    def indicator(self, indicator_id: str) -> Indicator:
        for ind in self.indicators:
            if ind.id == indicator_id:
                return ind
        raise KeyError(indicator_id)


# ---------------------------------------------------------------------------
# Periods (shared with scoring: a scheme is chosen by the period's first day).


def period_months(period: str) -> tuple[str, ...]:
    """The months (YYYY-MM) of a period YYYY-MM, YYYY-Qn, YYYY-Hn or YYYY."""
    m = _PERIOD.match(str(period))
    if not m:
        raise ValueError(f"考核期 {period!r} 应为 YYYY-MM、YYYY-Qn、YYYY-H1/H2 或 YYYY")
    year, month, quarter, half = m.groups()
    if month:
        first, count = int(month), 1
    elif quarter:
        first, count = 3 * int(quarter) - 2, 3
    elif half:
        first, count = 6 * int(half) - 5, 6
    else:
        first, count = 1, 12
    return tuple(f"{year}-{k:02d}" for k in range(first, first + count))


def period_start(period: str) -> date:
    first = period_months(period)[0]
    return date(int(first[:4]), int(first[5:]), 1)


# ---------------------------------------------------------------------------
# Validation.


def _text(value: Any) -> bool:
    return isinstance(value, str) and value.strip() != ""


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _kinds(value: Any) -> tuple[str, ...] | None:
    """A fact kind or a list of them, as a tuple; None if not that shape."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(k, str) for k in items):
        return None
    return tuple(items)


def _check_kinds(raw: dict, key: str, errors: list[str]) -> None:
    kinds = _kinds(raw.get(key))
    if kinds is None:
        errors.append(f"{key}: 应为事实类型或其列表, 实为 {raw.get(key)!r}")
        return
    for k in kinds:
        if k not in FACT_KINDS:
            errors.append(f"{key}: 未知事实类型 {k!r} (可用: {', '.join(FACT_KINDS)})")


def _leaf_errors(raw: dict) -> list[str]:
    formula = raw.get("formula")
    if formula not in FORMULAS:
        return [f"formula: 应为 {'|'.join(FORMULAS)}, 实为 {formula!r}"]
    errors = [f"{key}: 公式 {formula} 不用此字段 (可用: {', '.join(COMMON_KEYS + LEAF_KEYS[formula])})"
              for key in raw if key not in COMMON_KEYS + LEAF_KEYS[formula]]
    if formula == "rate":
        _check_kinds(raw, "numerator", errors)
        _check_kinds(raw, "denominator", errors)
        empty = raw.get("empty", "full")
        weight = raw.get("weight") if _number(raw.get("weight")) else 0
        if not (empty in ("full", "zero") or (_number(empty) and 0 <= empty <= weight)):
            errors.append(f"empty: 应为 full、zero 或不超过 weight 的分数, 实为 {empty!r}")
    else:
        _check_kinds(raw, "kind", errors)
    if formula in ("rate", "deduction") and not (_number(raw.get("weight")) and raw["weight"] > 0):
        errors.append(f"weight: 应为正数 (本项分值), 实为 {raw.get('weight')!r}")
    if formula in ("deduction", "bonus"):
        if not (_number(raw.get("points")) and raw["points"] > 0):
            errors.append(f"points: 应为正数 (每次或每单位的分数), 实为 {raw.get('points')!r}")
        if raw.get("per", "occurrence") not in ("occurrence", "value"):
            errors.append(f"per: 应为 occurrence (按次) 或 value (按数值, 如天数), 实为 {raw.get('per')!r}")
        if "unit" in raw and not _text(raw["unit"]):
            errors.append("unit: 应为非空文字 (如 天、级)")
    if formula == "bonus" and not (_number(raw.get("cap")) and raw["cap"] > 0):
        errors.append(f"cap: 应为正数 (本项加分上限), 实为 {raw.get('cap')!r}")
    return errors


def _tree_errors(nodes: Any, where: str, seen: set[str], errors: list[str]) -> float:
    """Check a list of groups / leaves; returns the weight they add up to."""
    if not isinstance(nodes, list) or not nodes:
        errors.append(f"{where}: 应为非空列表")
        return 0.0
    total = 0.0
    for index, raw in enumerate(nodes):
        if not isinstance(raw, dict):
            errors.append(f"{where} #{index + 1}: 应为映射")
            continue
        rid = raw.get("id")
        label = f"指标 {rid}" if isinstance(rid, str) and rid else f"{where} #{index + 1}"
        problems: list[str] = []
        if not (isinstance(rid, str) and _ID.match(rid)):
            problems.append(f"id: 应为小写字母、数字和下划线, 实为 {rid!r}")
        elif rid in seen:
            problems.append("id: 重复")
        seen.add(rid if isinstance(rid, str) else "")
        if not _text(raw.get("name")):
            problems.append("name: 缺少 (中文指标名称)")
        if "children" in raw:
            label = f"指标组 {rid}" if isinstance(rid, str) and rid else label
            problems += [f"{k}: 指标组不用此字段 (可用: {', '.join(GROUP_KEYS)})" for k in raw if k not in GROUP_KEYS]
            weight = _tree_errors(raw["children"], label, seen, errors)
            if "weight" in raw and not (_number(raw["weight"]) and abs(raw["weight"] - weight) < 1e-9):
                problems.append(f"weight: {raw['weight']!r} 与下级指标分值合计 {weight:g} 不符")
            if "source" in raw and not _text(raw["source"]):
                problems.append("source: 应为非空文字")
        else:
            if not _text(raw.get("source")):
                problems.append("source: 缺少 (指标依据的文件及条款)")
            problems += _leaf_errors(raw)
            weight = raw.get("weight", 0) if raw.get("formula") in ("rate", "deduction") else 0
            weight = weight if _number(weight) else 0
        errors.extend(f"{label}: {p}" for p in problems)
        total += weight
    return total


def validate_scheme(data: Any) -> list[str]:
    """Problems of one scheme file's content, each naming the indicator and field; [] if usable."""
    if not isinstance(data, dict):
        return ["方案: 应为映射"]
    errors = [f"{key}: 未知字段 (可用: {', '.join(TOP_KEYS)})" for key in data if key not in TOP_KEYS]
    if not (isinstance(data.get("region"), str) and _REGION.match(data["region"])):
        errors.append(f"region: 应为 default 或12位区划代码, 实为 {data.get('region')!r}")
    year = data.get("year")
    if not (isinstance(year, int) and not isinstance(year, bool) and 2000 <= year <= 2100):
        errors.append(f"year: 应为年份, 实为 {year!r}")
        year = None
    eff = _date(data.get("effective_from", f"{year}-01-01" if year else None))
    if eff is None:
        errors.append(f"effective_from: 应为日期 YYYY-MM-DD, 实为 {data.get('effective_from')!r}")
    elif year and eff.year != year:
        errors.append(f"effective_from: {eff} 不在方案年度 {year} 内")
    for key in ("name", "source"):
        if not _text(data.get(key)):
            errors.append(f"{key}: 缺少")
    split = data.get("split", {})
    if not isinstance(split, dict):
        errors.append("split: 应为 {process, year_end, process_over, source}")
        split = {}
    shares = [split.get(k, d) for k, d in (("process", 40), ("year_end", 60))]
    if not all(_number(s) and s >= 0 for s in shares) or abs(sum(shares) - 100) > 1e-9:
        errors.append(f"split: process 与 year_end 应为非负数且合计100, 实为 {shares[0]!r} + {shares[1]!r}")
    if split.get("process_over", "month") not in ("month", "quarter"):
        errors.append(f"split.process_over: 应为 month 或 quarter, 实为 {split.get('process_over')!r}")
    grades = data.get("grades", [])
    names: list[str] = []
    if not isinstance(grades, list) or not grades:
        errors.append("grades: 应为 [{name, min}, …] 的非空列表, 从高到低")
    else:
        mins = []
        for g in grades:
            if not (isinstance(g, dict) and _text(g.get("name")) and _number(g.get("min")) and set(g) <= {"name", "min"}):
                errors.append(f"grades: 每项应为 {{name, min}}, 实为 {g!r}")
                continue
            names.append(g["name"])
            mins.append(g["min"])
        if mins != sorted(mins, reverse=True) or len(set(mins)) != len(mins):
            errors.append(f"grades: min 应从高到低且不重复, 实为 {mins}")
        if mins and mins[-1] != 0:
            errors.append(f"grades: 最低等次的 min 应为 0, 实为 {mins[-1]!r}")
        if len(set(names)) != len(names):
            errors.append("grades: 等次名称重复")
    if data.get("no_facts", "zero") not in NO_FACTS:
        errors.append(f"no_facts: 应为 {'|'.join(NO_FACTS)}, 实为 {data.get('no_facts')!r}")
    if "bonus_cap" in data and not (data["bonus_cap"] is None or (_number(data["bonus_cap"]) and data["bonus_cap"] >= 0)):
        errors.append(f"bonus_cap: 应为非负数, 实为 {data['bonus_cap']!r}")
    errors += _praise_errors(data.get("praise"), names) + _criticism_errors(data.get("criticism"), names)
    total = _tree_errors(data.get("indicators"), "indicators", set(), errors)
    if abs(total - 100) > 1e-9:
        errors.append(f"indicators: rate 与 deduction 指标的分值 (weight) 合计应为100, 实为 {total:g}")
    return errors


def _praise_errors(raw: Any, grades: list[str]) -> list[str]:
    if not isinstance(raw, dict):
        return ["praise: 应为 {top, min_grade, source}"]
    errors = [f"praise.{k}: 未知字段" for k in raw if k not in ("top", "min_grade", "source")]
    if not (isinstance(raw.get("top"), int) and not isinstance(raw.get("top"), bool) and raw["top"] >= 0):
        errors.append(f"praise.top: 应为非负整数, 实为 {raw.get('top')!r}")
    if raw.get("min_grade") not in grades:
        errors.append(f"praise.min_grade: 应为 grades 中的等次, 实为 {raw.get('min_grade')!r}")
    if not _text(raw.get("source")):
        errors.append("praise.source: 缺少")
    return errors


def _criticism_errors(raw: Any, grades: list[str]) -> list[str]:
    if not isinstance(raw, dict):
        return ["criticism: 应为 {grades, bottom, vetoed, counts, source}"]
    errors = [f"criticism.{k}: 未知字段" for k in raw if k not in ("grades", "bottom", "vetoed", "counts", "source")]
    if not (isinstance(raw.get("grades", []), list) and all(g in grades for g in raw.get("grades", []))):
        errors.append(f"criticism.grades: 应为 grades 中的等次列表, 实为 {raw.get('grades')!r}")
    bottom = raw.get("bottom", 0)
    if not (isinstance(bottom, int) and not isinstance(bottom, bool) and bottom >= 0):
        errors.append(f"criticism.bottom: 应为非负整数, 实为 {bottom!r}")
    if not isinstance(raw.get("vetoed", True), bool):
        errors.append("criticism.vetoed: 应为 true/false")
    if not _text(raw.get("source")):
        errors.append("criticism.source: 缺少")
    counts = raw.get("counts", [])
    if not isinstance(counts, list):
        return errors + ["criticism.counts: 应为列表"]
    for i, c in enumerate(counts):
        where = f"criticism.counts #{i + 1}"
        if not isinstance(c, dict):
            errors.append(f"{where}: 应为 {{kind, at_least, within, source}}")
            continue
        if c.get("kind") not in FACT_KINDS:
            errors.append(f"{where}.kind: 未知事实类型 {c.get('kind')!r}")
        if not (isinstance(c.get("at_least"), int) and not isinstance(c.get("at_least"), bool) and c["at_least"] > 0):
            errors.append(f"{where}.at_least: 应为正整数, 实为 {c.get('at_least')!r}")
        if c.get("within", "quarter") not in WITHIN:
            errors.append(f"{where}.within: 应为 {'|'.join(WITHIN)}, 实为 {c.get('within')!r}")
        if not _text(c.get("source", raw.get("source"))):
            errors.append(f"{where}.source: 缺少")
    return errors


def _date(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


# ---------------------------------------------------------------------------
# Building and loading.


def _leaves(nodes: list, groups: tuple[str, ...]) -> list[Indicator]:
    out: list[Indicator] = []
    for raw in nodes:
        if "children" in raw:
            out += _leaves(raw["children"], groups + (raw["name"],))
            continue
        f = raw["formula"]
        out.append(Indicator(
            id=raw["id"], name=raw["name"], formula=f, source=raw["source"], group=" · ".join(groups),
            weight=float(raw.get("weight", 0)) if f in ("rate", "deduction") else 0.0,
            numerator=_kinds(raw.get("numerator")) or (), denominator=_kinds(raw.get("denominator")) or (),
            kinds=_kinds(raw.get("kind")) or (), per=raw.get("per", "occurrence"), unit=raw.get("unit", ""),
            points=float(raw.get("points", 0)), cap=float(raw.get("cap", 0)),
            empty=raw.get("empty", "full") if isinstance(raw.get("empty", "full"), str) else float(raw["empty"])))
    return out


def build_scheme(data: dict, version: str = "") -> Scheme:
    """A Scheme from a file's content; raises SchemeError with every problem."""
    errors = validate_scheme(data)
    if errors:
        raise SchemeError("; ".join(errors))
    split, praise, crit = data.get("split", {}), data["praise"], data["criticism"]
    return Scheme(
        region=data["region"], year=data["year"], name=data["name"], source=data["source"],
        effective_from=_date(data.get("effective_from", f"{data['year']}-01-01")),
        process_share=float(split.get("process", 40)), year_end_share=float(split.get("year_end", 60)),
        process_over=split.get("process_over", "month"),
        grades=tuple((g["name"], float(g["min"])) for g in data["grades"]),
        no_facts=data.get("no_facts", "zero"),
        bonus_cap=None if data.get("bonus_cap") is None else float(data["bonus_cap"]),
        praise=Praise(top=praise["top"], min_grade=praise["min_grade"], source=praise["source"]),
        criticism=Criticism(
            grades=tuple(crit.get("grades", [])), bottom=crit.get("bottom", 0), vetoed=crit.get("vetoed", True),
            counts=tuple(CountRule(kind=c["kind"], at_least=c["at_least"], within=c.get("within", "quarter"),
                                   source=c.get("source", crit["source"])) for c in crit.get("counts", [])),
            source=crit["source"]),
        indicators=tuple(_leaves(data["indicators"], ())), version=version)


def region_chain(region_code: str) -> list[str]:
    """`services.common.units.region_chain`, refused as a SchemeError."""
    try:
        return units.region_chain(region_code)
    except ValueError as e:
        raise SchemeError(str(e)) from None


def _read(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise SchemeError(f"{path}: YAML 无法解析: {exc}") from exc
    errors = validate_scheme(data)
    if not errors and data["region"] != path.parent.name:
        errors.append(f"region: {data['region']} 与所在目录 {path.parent.name} 不符")
    if not errors and str(data["year"]) != path.stem:
        errors.append(f"year: {data['year']} 与文件名 {path.name} 不符")
    if errors:
        raise SchemeError(f"{path}: " + "; ".join(errors))
    return data


def find_scheme_file(root: Path, region_code: str, period: str) -> Path:
    """The file in force on the period's first day: most specific region that has one,
    there the latest year ≤ the period's year whose effective_from has come."""
    start = period_start(period)
    for region in region_chain(region_code):
        years = sorted((int(p.stem) for p in (root / region).glob("*.yaml") if p.stem.isdigit()), reverse=True)
        for year in (y for y in years if y <= start.year):
            path = root / region / f"{year}.yaml"
            if _date(_read(path).get("effective_from", f"{year}-01-01")) <= start:
                return path
    raise SchemeError(f"没有适用于 {region_code} {period} 的考核方案 (在 {root} 下)")


@lru_cache(maxsize=256)
def _cached(region_code: str, period: str, root: str) -> Scheme:
    base = Path(root)
    path = find_scheme_file(base, region_code, period)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:8]
    return build_scheme(_read(path), version=f"{path.relative_to(base).as_posix()}#{digest}")


def load_scheme(region_code: str, period: str, root: Path | str | None = None) -> Scheme:
    """The scheme for a region (2–12 digits or "default") and a period (YYYY-MM, YYYY-Qn,
    YYYY-Hn, YYYY). Cached: after editing files call `clear_cache()`. Raises SchemeError."""
    period_months(period)  # a malformed period is a ValueError before any lookup
    return _cached(str(region_code).strip(), str(period), str(Path(root or SCHEMES_ROOT).resolve()))


def clear_cache() -> None:
    _cached.cache_clear()
