"""A measure's targets and deadlines as lines of text in the review form, and back.

One target a line, `指标 比较 数值 单位` (`培训脱贫劳动力 >= 1000 人次`, or `指标 定性`);
one deadline a line, a date (`2023-12-31`) or the phrase of the document. A line left
as shown keeps everything the parser found (source text, year, category)."""

from __future__ import annotations

import re

_TARGET = re.compile(r"^(?P<indicator>.+?)\s*(?P<comparator>>=|<=|≥|≤|>|<|=)\s*(?P<value>-?\d+(?:\.\d+)?)\s*(?P<unit>\S*)$")
_QUALITATIVE = re.compile(r"^(?P<indicator>.+?)\s*定性$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_WIDE = {"≥": ">=", "≤": "<="}


class LineError(ValueError):
    """A line the form cannot read, with its number and what to write instead."""


def _number(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else str(value)


def target_line(t: dict) -> str:
    if t.get("comparator") == "qualitative" or t.get("value") is None:
        return f"{t['indicator']} 定性"
    return f"{t['indicator']} {t['comparator']} {_number(t['value'])} {t.get('unit') or ''}".strip()


def deadline_line(d: dict) -> str:
    return d.get("date") or d.get("phrase") or d.get("text") or ""


def read_targets(text: str, before: list[dict]) -> list[dict]:
    """The targets typed in the form (LineError naming the line when one cannot be read)."""
    kept = {target_line(t): t for t in before}
    out = []
    for n, line in enumerate((raw.strip() for raw in text.splitlines()), start=1):
        if not line:
            continue
        if line in kept:
            out.append({k: v for k, v in kept[line].items() if k in TARGET_FIELDS})
        elif m := _TARGET.match(line):
            out.append({"indicator": m["indicator"], "comparator": _WIDE.get(m["comparator"], m["comparator"]),
                        "value": float(m["value"]), "unit": m["unit"] or None, "text": line})
        elif m := _QUALITATIVE.match(line):
            out.append({"indicator": m["indicator"], "comparator": "qualitative", "text": line})
        else:
            raise LineError(f"目标第 {n} 行“{line}”看不懂,请写成“指标 >= 数值 单位”或“指标 定性”")
    return out


def read_deadlines(text: str, before: list[dict]) -> list[dict]:
    kept = {deadline_line(d): d for d in before}
    out = []
    for line in (raw.strip() for raw in text.splitlines()):
        if not line:
            continue
        if line in kept:
            out.append({k: v for k, v in kept[line].items() if k in DEADLINE_FIELDS})
        elif _DATE.match(line):
            out.append({"date": line, "phrase": line, "text": line})
        else:
            out.append({"phrase": line[:100], "text": line})
    return out


# What the API's TargetIn / DeadlineIn accept: the parser's other keys stay out of an edit.
TARGET_FIELDS = ("indicator", "year", "comparator", "value", "unit", "text", "needs_value", "category")
DEADLINE_FIELDS = ("phrase", "date", "recurring", "month_day", "year_inferred", "text")
