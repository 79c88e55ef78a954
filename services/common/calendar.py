"""Working days in China: 法定节假日 and 调休 make-up workdays from `chinesecalendar`,
with overrides from configuration for years the library does not know yet.

Pure and deterministic, so workflows can use it to compute due dates. Also what the
task steps and the alert cases share about deadlines: Beijing time, reminders at 09:00
on the days before a due day, and the rungs of an escalation ladder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

import chinese_calendar
import yaml

OVERRIDES_FILE = Path(__file__).with_name("holidays.yaml")
TZ = ZoneInfo("Asia/Shanghai")  # every due date and reminder is a Beijing-time day
WORK_HOUR = time(9, 0)  # reminders and escalations arrive when the office opens


def at_work_hour(d: date) -> datetime:
    return datetime.combine(d, WORK_HOUR, TZ)


def reminder_times(due_day: date, since: datetime, days_before: list[int]) -> list[datetime]:
    """09:00 on each reminder day before `due_day`, after the day of `since` (what has just
    opened or just been set needs no reminder that it is due soon)."""
    times = {at_work_hour(due_day - timedelta(days=n)) for n in days_before}
    return sorted(t for t in times if t > since and t.date() > since.astimezone(TZ).date())


@dataclass(frozen=True)
class Escalation:
    """One rung of an escalation ladder: level n reaches `to_role` at `at`."""

    level: int
    to_role: str  # unit_head, leader or office
    label: str
    at: datetime


@dataclass(frozen=True)
class WorkCalendar:
    """Which days are working days; `holidays` and `workdays` override the library."""

    holidays: frozenset[date] = field(default_factory=frozenset)
    workdays: frozenset[date] = field(default_factory=frozenset)

    def is_workday(self, d: date) -> bool:
        if d in self.holidays:
            return False
        if d in self.workdays:
            return True
        try:
            return chinese_calendar.is_workday(d)
        except NotImplementedError:  # a year the library has no data for: weekdays work
            return d.weekday() < 5

    def on_or_after(self, d: date) -> date:
        """The day itself when it is a working day, else the next working day."""
        while not self.is_workday(d):
            d += timedelta(days=1)
        return d

    def add_workdays(self, d: date, n: int) -> date:
        """The n-th working day after `d` (n ≥ 1)."""
        if n < 1:
            raise ValueError("n must be at least 1")
        while n:
            d += timedelta(days=1)
            if self.is_workday(d):
                n -= 1
        return d


def calendar_from(data: dict | None) -> WorkCalendar:
    data = data or {}
    return WorkCalendar(
        holidays=frozenset(date.fromisoformat(str(d)) for d in data.get("holidays", []) or []),
        workdays=frozenset(date.fromisoformat(str(d)) for d in data.get("workdays", []) or []),
    )


@lru_cache(maxsize=1)
def default_calendar() -> WorkCalendar:
    """The calendar with the overrides of `holidays.yaml`."""
    return calendar_from(yaml.safe_load(OVERRIDES_FILE.read_text(encoding="utf-8")))
