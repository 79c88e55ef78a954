"""When a case's deadlines fall, what the clock does to it, its SLA colour, and whether
its risk may be marked eliminated (风险消除) — pure functions of dates and the case
configuration, so the case workflow and the tests share them.

Times are Asia/Shanghai: a deadline is the end of its day (midnight after it), reminders
and escalations go out at 09:00. Days are calendar days.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from services.common.calendar import TZ, Escalation, at_work_hour

SLA_LABELS = {"green": "正常", "amber": "临期", "red": "逾期"}
CONDITION_LABELS = {
    "income_above_line": "人均纯收入高于监测线",
    "compulsory_education_ok": "义务教育有保障",
    "basic_medical_ok": "基本医疗有保障",
    "housing_ok": "住房安全有保障",
    "drinking_water_ok": "饮水安全有保障",
}


def local_day(moment: datetime) -> date:
    return moment.astimezone(TZ).date()


def end_of_day(d: date) -> datetime:
    """The deadline moment of a due day: midnight after it."""
    return datetime.combine(d + timedelta(days=1), time(0, 0), TZ)


def add_months(d: date, months: int) -> date:
    """The same day `months` later, or the month's last day when it has no such day."""
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def full_months(start: date, end: date) -> int:
    """Whole months from `start` to `end` (10 Mar → 9 Sep is 5, → 10 Sep is 6; 31 Jan → 30 Apr is 3)."""
    months = (end.year - start.year) * 12 + end.month - start.month
    if months > 0 and add_months(start, months) > end:
        months -= 1
    return max(months, 0)


def due_day(due_at: datetime) -> date:
    """The day a deadline moment (midnight after it) ends."""
    return local_day(due_at) - timedelta(days=1)


def escalation_ladder(due_at: datetime, ladder: list[dict]) -> list[Escalation]:
    """Level n reaches its role at 09:00 `after_days` days after the due day."""
    day = due_day(due_at)
    return [Escalation(level, r["to"], r.get("label", r["to"]), at_work_hour(day + timedelta(days=r["after_days"])))
            for level, r in enumerate(ladder, start=1)]


def sla_state(due_at: datetime | None, now: datetime, amber_days: int) -> str:
    """green, amber (within `amber_days` of the deadline) or red (past it)."""
    if due_at is None:
        return "green"
    if now >= due_at:
        return "red"
    if now >= due_at - timedelta(days=amber_days):
        return "amber"
    return "green"


@dataclass(frozen=True)
class Visit:
    """One 回访: the household's annual per-capita net income and its 三保障 and water."""

    visited_on: str  # ISO date
    income: float
    compulsory_education_ok: bool
    basic_medical_ok: bool
    housing_ok: bool
    drinking_water_ok: bool
    text: str = ""


@dataclass(frozen=True)
class EliminationDecision:
    eligible: bool  # 风险消除 may be proposed / confirmed
    basic_support: bool  # every condition holds but the household cannot work: kept with 兜底
    stable_months: int
    reasons: tuple[str, ...]  # why not, in Chinese


def _holds(condition: str, visit: Visit, line: float) -> bool:
    if condition == "income_above_line":
        return visit.income > line
    return bool(getattr(visit, condition))


def stable_since(visits: list[Visit], confirmed_on: date, line: float) -> date | None:
    """Since when the income has stayed above the line without a break: the 认定 day when
    every visit since was above it, else the first visit above it after the last one below."""
    since: date | None = confirmed_on
    for v in sorted(visits, key=lambda v: v.visited_on):
        if v.income <= line:
            since = None
        elif since is None:
            since = date.fromisoformat(v.visited_on)
    return since


def elimination_decision(visits: list[Visit], confirmed_on: date | None, line: float, no_labour_capacity: bool,
                         rules: dict) -> EliminationDecision:
    """Whether the risk may be marked eliminated after the latest visit: income above the
    line for `stable_months` whole months (counted from 认定 at the earliest), and every
    required condition holding at the latest visit. A household without labour capacity
    is never eliminated: when everything else holds it is kept with 兜底 support."""
    config = rules["risk_elimination"]
    months_needed = config["stable_months"]
    if confirmed_on is None or not visits:
        return EliminationDecision(False, False, 0, ("尚无认定后的回访记录 (no follow-up visit yet)",))
    latest = max(visits, key=lambda v: v.visited_on)
    since = stable_since(visits, confirmed_on, line)
    months = full_months(since, date.fromisoformat(latest.visited_on)) if since else 0
    reasons = []
    if months < months_needed:
        reasons.append(f"收入稳定高于监测线({line:g}元)仅{months}个月,须满{months_needed}个月 "
                       f"(income stable for {months} of {months_needed} months)")
    for condition in config["requires"]:
        if condition != "income_above_line" and not _holds(condition, latest, line):
            reasons.append(f"最近一次回访:{CONDITION_LABELS.get(condition, condition)}不满足 ({condition})")
    if reasons:
        return EliminationDecision(False, False, months, tuple(reasons))
    if no_labour_capacity:
        return EliminationDecision(False, True, months, (
            "整户无劳动能力,纳入兜底保障,不标注风险消除 (no labour capacity: kept with basic support)",))
    return EliminationDecision(True, False, months, ())
