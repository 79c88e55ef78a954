"""How task and alert events count as facts."""

from datetime import datetime, timezone

from services.assessment.facts import facts_of
from services.common.events import new_envelope

DUE = "2023-03-06T15:59:59+00:00"  # 2023-03-06 23:59:59 in Shanghai


def step_event(type_, occurred, **extra):
    return new_envelope(type_, source="tasks", entity_id="7", key="task-1", occurred_at=occurred, payload={
        "task_id": 1, "region_code": "532325000000", "step_id": 7, "step_key": "1:60:monthly_report:2023-02",
        "unit_id": 60, "kind": "monthly_report", "period": "2023-02", "due_at": DUE, **extra})


def at(y, m, d, h=12):
    return datetime(y, m, d, h, tzinfo=timezone.utc)


def test_a_step_counts_as_due_in_its_due_month():
    [f] = facts_of(step_event("task.step.opened", at(2023, 2, 1)))
    assert (f.kind, f.period, f.unit_id, f.value) == ("step_due", "2023-03", 60, 1)
    assert f.event_ids and f.task_id == 1 and f.step_id == 7
    assert f.ref == "任务1 · 月报 2023-02"  # shown on the score explanation: the step as officials name it


def test_on_time_and_late_submissions():
    [on_time] = facts_of(step_event("task.step.submitted", at(2023, 3, 5), on_time=True))
    assert (on_time.kind, on_time.period) == ("step_on_time", "2023-03")
    [late] = facts_of(step_event("task.step.submitted", at(2023, 3, 10), on_time=False))
    assert (late.kind, late.value) == ("step_late", 4.0)
    [ack_late] = facts_of(step_event("task.step.acknowledged", at(2023, 3, 8)))
    assert ack_late.kind == "step_late" and ack_late.value == 2.0


def test_escalations_count_in_their_own_month_with_their_level():
    [f] = facts_of(step_event("task.step.escalated", at(2023, 4, 2), level=2, to="leader"))
    assert (f.kind, f.period, f.value) == ("step_escalated", "2023-04", 2.0)


def test_an_alert_counts_for_every_unit_it_was_routed_to():
    env = new_envelope("alert.raised", source="alerts", entity_id="3", key="H1", occurred_at=at(2023, 5, 31, 20),
                       payload={"group_id": 3, "subject_key": "H1", "period": "2023", "routed_unit_ids": [81, 72]})
    facts = facts_of(env)
    assert [(f.unit_id, f.kind, f.period) for f in facts] == [(81, "alert_raised", "2023-06"), (72, "alert_raised", "2023-06")]


def test_events_without_a_fact():
    assert facts_of(step_event("task.step.reminded", at(2023, 3, 3))) == []


def case_event(event, **extra):
    return new_envelope(f"alert.case.{event}", source="alerts", entity_id="9", key="case-9", occurred_at=at(2023, 7, 2),
                        payload={"case_id": 9, "run": 1, "household_id": 4, "township_unit_id": 81, **extra})


def test_alert_cases_count_for_their_township_when_on_time():
    assert [(f.unit_id, f.kind, f.period) for f in facts_of(case_event("verified", on_time=True))] == [
        (81, "alert_verified_on_time", "2023-07")]
    assert facts_of(case_event("verified", on_time=False)) == []
    assert [f.kind for f in facts_of(case_event("confirmed", on_time=True))] == ["case_confirmed_in_time"]
    assert [f.kind for f in facts_of(case_event("risk_eliminated"))] == ["risk_eliminated"]
    assert facts_of(case_event("visited", on_time=True)) == []
    assert facts_of(case_event("confirmed", on_time=True, township_unit_id=None)) == []


def test_every_case_event_is_known_to_the_assessment_consumer():
    from services.assessment.consumer import build_consumer

    ec = build_consumer()
    for event in ("opened", "reopened", "verified", "notice_published", "notice_ended", "confirmed", "rejected",
                  "plan_made", "visited", "elimination_proposed", "kept_under_basic_support", "risk_eliminated",
                  "elimination_declined", "reminded", "overdue", "escalated"):
        assert f"alert.case.{event}" in ec.handlers or f"alert.case.{event}" in ec.ignored_types, event
