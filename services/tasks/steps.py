"""The steps a published task asks of each unit, and when each falls due.

Pure and deterministic (dates from the task, the reporting calendar and the
working-day calendar; no clock), so the task workflow can use it to decide when to
wake up. Times are Asia/Shanghai: a step is due at the end of its due day,
reminders and escalations go out at 09:00.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time

from services.common.calendar import TZ, Escalation, WorkCalendar, at_work_hour
from services.common.events import STEP_KIND_LABELS

KIND_LABELS = STEP_KIND_LABELS


@dataclass(frozen=True)
class StepPlan:
    """One step of one unit: what, for which period, open from when, due when."""

    task_id: int
    unit_id: int
    kind: str
    period: str
    label: str
    opens_at: datetime
    due_date: date

    @property
    def key(self) -> str:
        return f"{self.task_id}:{self.unit_id}:{self.kind}:{self.period}"

    @property
    def due_at(self) -> datetime:
        """The last second of the due day; a moment later the step is overdue."""
        return datetime.combine(self.due_date, time(23, 59, 59), TZ)


def at_midnight(d: date) -> datetime:
    return datetime.combine(d, time(0, 0), TZ)


def _months(start: date, end: date):
    y, m = start.year, start.month
    while (y, m) <= (end.year, end.month):
        yield y, m
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)


def _periods(kind: str, due: dict, start: date, end: date):
    """(period, label suffix, period start, nominal due date) for every period of `kind` in [start, end]."""
    if kind == "monthly_report":
        for y, m in _months(start, end):
            ny, nm = (y + 1, 1) if m == 12 else (y, m + 1)
            yield f"{y}-{m:02d}", f"{y}年{m}月", date(y, m, 1), date(ny, nm, due["day_of_next_month"])
    elif kind == "quarterly_analysis":
        for y, m in _months(start, end):
            if m in (1, 4, 7, 10) or (y, m) == (start.year, start.month):
                q = (m - 1) // 3 + 1
                ny, nm = (y + 1, 1) if q == 4 else (y, 3 * q + 1)
                yield f"{y}-Q{q}", f"{y}年第{q}季度", date(y, 3 * q - 2, 1), date(ny, nm, due["day_after_quarter"])
    elif kind == "half_year_summary":
        month, day = (int(x) for x in due["month_day"].split("-"))
        for y in range(start.year, end.year + 1):
            if start <= date(y, 6, 30):
                yield f"{y}-H1", f"{y}年上半年", date(y, 1, 1), date(y, month, day)
    elif kind == "annual_summary":
        month, day = (int(x) for x in due["month_day"].split("-"))
        for y in range(start.year, end.year + 1):
            yield f"{y}", f"{y}年度", date(y, 1, 1), date(y + int(bool(due.get("next_year"))), month, day)


def plan_steps(
    task_id: int,
    unit_ids: list[int],
    calendar: dict,
    published_on: date,
    task_due: date | None,
    horizon: date,
    workdays: WorkCalendar,
    opens_at_work_hour: bool = False,
) -> list[StepPlan]:
    """Every step of every unit of a task from publishing to `horizon`, by opening time.

    Steps open from the start of the publishing day (workflows started before that
    rule opened them at 09:00, `opens_at_work_hour`, and keep doing so on replay).
    """
    published_at = at_work_hour(published_on) if opens_at_work_hour else at_midnight(published_on)
    plans: list[StepPlan] = []
    for rule in calendar["steps"]:
        kind, due = rule["kind"], rule["due"]
        label = rule.get("label", KIND_LABELS[kind])
        if kind == "acknowledge":
            items = [("", label, published_on, workdays.add_workdays(published_on, due["working_days_after_publish"]))]
        elif kind == "completion_report":
            items = [("", label, published_on, task_due)] if task_due else []
        else:
            items = [(p, f"{label} ({suffix})", start, nominal) for p, suffix, start, nominal in
                     _periods(kind, due, published_on, horizon)]
        for period, step_label, start, nominal in items:
            opens = max(published_at, at_midnight(start))
            due_date = workdays.on_or_after(max(nominal, published_on))
            plans += [StepPlan(task_id, u, kind, period, step_label, opens, due_date) for u in unit_ids]
    return sorted(plans, key=lambda p: (p.opens_at, p.due_date, p.unit_id, p.kind))


def escalation_times(plan_due: date, ladder: list[dict], workdays: WorkCalendar) -> list[Escalation]:
    """The ladder of an overdue step: level n reaches its role n working days after the due day."""
    return [
        Escalation(level, rung["to"], rung.get("label", rung["to"]),
                   at_work_hour(workdays.add_workdays(plan_due, rung["after_working_days"])))
        for level, rung in enumerate(ladder, start=1)
    ]


def horizon_for(published_on: date, task_due: date | None, target_years: list[int]) -> date:
    """How far the reporting calendar runs: to the task's deadline or its last target year,
    at least to the end of the year it was published in."""
    ends = [date(published_on.year, 12, 31)]
    if task_due:
        ends.append(task_due)
    ends += [date(y, 12, 31) for y in target_years]
    return max(ends)
