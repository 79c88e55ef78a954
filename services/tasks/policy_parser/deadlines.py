"""Deadlines: ``6月30日前``, ``每年年底前``, ``2024年底``, ``到2025年``, ``2023年6月30日前``.

Each becomes a calendar date when the year is known (written, or the
document's own year when omitted), or a recurring month-day for
``每年…`` rules. Bare years (``2022年,…达到100%``) are target years, not deadlines.
"""

from __future__ import annotations

import calendar
import re

from .model import Deadline
from .text import sentences

_BEFORE = r"(?:前|之前|以前|为止|止)"
_PATTERN = re.compile(
    r"(?=[每\d截到至上今本当年])"
    rf"(?:(?P<yearly_md>每年(?:的)?(?P<ym>\d{{1,2}})月(?P<yd>\d{{1,2}})日{_BEFORE}?)"
    rf"|(?P<yearly_end>每年(?:的)?(?:年底|年末|底){_BEFORE}?)"
    rf"|(?P<quarterly>每季度(?:末|底|结束后\d{{1,2}}日内|第一个月\d{{1,2}}日){_BEFORE}?)"
    rf"|(?P<monthly>每月(?:\d{{1,2}}日|底|末){_BEFORE}?)"
    rf"|(?P<full>(?<!\d)(?P<fy>(?:19|20)\d{{2}})年(?P<fm>\d{{1,2}})月(?P<fd>\d{{1,2}})日{_BEFORE}?)"
    rf"|(?P<ymonth>(?<!\d)(?P<my>(?:19|20)\d{{2}})年(?P<mm>\d{{1,2}})月(?P<mpart>底|末|上旬|中旬|下旬|前){_BEFORE}?)"
    rf"|(?P<md>(?:截至|截止|到)?(?<![\d年])(?P<dm>\d{{1,2}})月(?P<dd>\d{{1,2}})日(?P<dsuf>{_BEFORE})?)"
    rf"|(?P<mpart_only>(?<![\d年每])(?P<om>\d{{1,2}})月(?P<opart>底|末|上旬|中旬|下旬){_BEFORE}?)"
    rf"|(?P<yend>(?:到|至|截至|截止到?)?(?<![\d\-—~])(?P<ey>(?:19|20)\d{{2}})年(?:底|末|年底|年末){_BEFORE}?)"
    rf"|(?P<by_year>(?:到|至|截至|截止到?)(?P<by>(?:19|20)\d{{2}})年(?![\d月底末]))"
    rf"|(?P<year_before>(?<![\d\-—~])(?P<yb>(?:19|20)\d{{2}})年{_BEFORE})"
    rf"|(?P<half>上半年{_BEFORE}?)"
    rf"|(?P<this_end>(?<![每\d])(?:今年|本年|当年)?(?:年底|年末|年内){_BEFORE}?))"
)
_PART_DAY = {"上旬": 10, "中旬": 20}


def _iso(year: int | None, month: int, day: int) -> str | None:
    if year is None or not 1 <= month <= 12:
        return None
    day = min(day, calendar.monthrange(year, month)[1])
    return f"{year:04d}-{month:02d}-{day:02d}"


def _month_end(year: int | None, month: int, part: str) -> tuple[int, int]:
    if part in _PART_DAY:
        return month, _PART_DAY[part]
    return month, calendar.monthrange(year or 2001, month)[1] if 1 <= month <= 12 else 28


def _one(m: re.Match[str], doc_year: int | None, sentence: str) -> Deadline | None:
    g = m.groupdict()
    phrase = m.group(0)
    if g["yearly_md"]:
        return Deadline(phrase, None, "yearly", f"{int(g['ym']):02d}-{int(g['yd']):02d}", False, sentence)
    if g["yearly_end"]:
        return Deadline(phrase, None, "yearly", "12-31", False, sentence)
    if g["quarterly"]:
        return Deadline(phrase, None, "quarterly", None, False, sentence)
    if g["monthly"]:
        return Deadline(phrase, None, "monthly", None, False, sentence)
    if g["full"]:
        return Deadline(phrase, _iso(int(g["fy"]), int(g["fm"]), int(g["fd"])), None, None, False, sentence)
    if g["ymonth"]:
        year = int(g["my"])
        month, day = _month_end(year, int(g["mm"]), g["mpart"])
        return Deadline(phrase, _iso(year, month, day), None, None, False, sentence)
    if g["md"]:
        if not g["dsuf"] and not phrase.startswith(("截至", "截止", "到")):
            return None
        month, day = int(g["dm"]), int(g["dd"])
        return _dated(phrase, doc_year, month, day, sentence)
    if g["mpart_only"]:
        month, day = _month_end(doc_year, int(g["om"]), g["opart"])
        return _dated(phrase, doc_year, month, day, sentence)
    year = g["ey"] or g["by"] or g["yb"]
    if year:
        return Deadline(phrase, _iso(int(year), 12, 31), None, None, False, sentence)
    if g["half"]:
        return _dated(phrase, doc_year, 6, 30, sentence)
    return _dated(phrase, doc_year, 12, 31, sentence)


def _dated(phrase: str, doc_year: int | None, month: int, day: int, sentence: str) -> Deadline:
    """A month-day without a year: the document's year, flagged as inferred."""
    date = _iso(doc_year, month, day)
    return Deadline(phrase, date, None, None if date else f"{month:02d}-{day:02d}", date is not None, sentence)


def extract_deadlines(text: str, doc_date: str | None) -> list[Deadline]:
    """Deadlines in ``text``; ``doc_date`` (ISO) supplies missing years and drops past references
    (``2022年底人均纯收入11100元`` in a 2023 document is a fact, not a deadline)."""
    doc_year = int(doc_date[:4]) if doc_date else None
    out: list[Deadline] = []
    seen: set[tuple[str | None, str | None, str | None]] = set()
    for sentence in sentences(text):
        for m in _PATTERN.finditer(sentence):
            d = _one(m, doc_year, sentence)
            if d is None:
                continue
            if d.date and doc_date and d.date < doc_date:
                if not d.year_inferred:
                    continue
                d.date = _iso(int(d.date[:4]) + 1, int(d.date[5:7]), int(d.date[8:]))
            key = (d.date, d.recurring, d.month_day)
            if key not in seen:
                seen.add(key)
                out.append(d)
    return out
