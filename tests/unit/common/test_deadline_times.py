"""Reminders and escalation rungs as the task steps and the alert cases both compute them."""

from datetime import date, datetime

from services.common.calendar import TZ, at_work_hour, reminder_times


def test_reminders_at_nine_on_the_days_before_the_due_day():
    since = datetime(2026, 11, 2, 15, 0, tzinfo=TZ)
    assert reminder_times(date(2026, 11, 10), since, [3, 1]) == [
        datetime(2026, 11, 7, 9, 0, tzinfo=TZ), datetime(2026, 11, 9, 9, 0, tzinfo=TZ)]


def test_no_reminder_on_the_day_it_opened_nor_before_it():
    since = datetime(2026, 11, 7, 8, 0, tzinfo=TZ)  # before 09:00, but the same day
    assert reminder_times(date(2026, 11, 10), since, [5, 3, 1]) == [at_work_hour(date(2026, 11, 9))]
