"""The batch planner: the same bookkeeping as one event at a time, decided for a whole batch."""

from services.alerts.alert_batch import Evaluated, plan_batch
from services.alerts.alerting import Decision
from services.alerts.model import Finding


def finding(rule_id, severity="warning", cause="income", route_to=("township",)):
    return Finding(rule_id=rule_id, name=f"规则{rule_id}", severity=severity, cause=cause, route_to=route_to,
                   detail={"rule": rule_id}, source="文件第1条")


def item(subject, *decisions, period="2024", event_id=1):
    return Evaluated(subject, 7, "532325100201", "532325100000", "532325000000", period, list(decisions),
                     "v1", {}, event_id)


def firing(rule_id, **kw):
    return Decision(finding(rule_id, **kw), "firing")


def route(county, township, keys, routes):
    return [100 + len(k) for k in keys]  # a stand-in lookup: distinct ids per key, stable


def test_a_new_subject_that_trips_a_rule_gets_a_group_an_alert_and_one_raised_event():
    plan = plan_batch([item("H1", firing("a", severity="critical"))], {}, {}, route)
    assert plan.groups[("H1", "2024")].severity == "critical"
    assert plan.groups[("H1", "2024")].status == "open"
    alert = plan.alerts[("H1", "a", "2024")]
    assert (alert.status, alert.times_seen, alert.group, alert.last_event_id) == ("firing", 1, ("H1", "2024"), 1)
    assert [r.key for r in plan.raised] == [("H1", "2024")]
    assert plan.raised[0].severity == "critical"


def test_the_same_alert_seen_twice_in_a_batch_is_one_row_seen_twice_and_raised_once():
    plan = plan_batch([item("H1", firing("a"), event_id=1), item("H1", firing("a"), event_id=2)], {}, {}, route)
    alert = plan.alerts[("H1", "a", "2024")]
    assert (alert.times_seen, alert.last_event_id) == (2, 2)
    assert len(plan.raised) == 1


def test_a_rule_that_no_longer_trips_resolves_and_an_open_group_is_not_raised_again():
    plan = plan_batch([item("H1", firing("a"))], {("H1", "2024"): {"a", "b"}}, {("H1", "2024"): "open"}, route)
    assert plan.resolved_alerts == {("H1", "b", "2024")}
    assert plan.alerts[("H1", "a", "2024")].status == "firing"
    assert plan.raised == []


def test_a_resolved_group_that_trips_again_is_reopened_and_raised():
    plan = plan_batch([item("H1", firing("a"))], {}, {("H1", "2024"): "resolved"}, route)
    assert plan.groups[("H1", "2024")].status == "open"
    assert len(plan.raised) == 1


def test_nothing_tripped_and_nothing_open_plans_nothing():
    plan = plan_batch([item("H1"), item("H2")], {}, {}, route)
    assert not plan
    assert plan.raised == []


def test_a_subject_that_stops_tripping_closes_its_group_and_resolves_its_alerts():
    plan = plan_batch([item("H1")], {("H1", "2024"): {"a"}}, {("H1", "2024"): "open"}, route)
    assert plan.closed_groups == {("H1", "2024")}
    assert plan.resolved_alerts == {("H1", "a", "2024")}
    assert plan.groups == {}


def test_fired_then_cleared_in_one_batch_ends_resolved_in_the_batch_rows():
    plan = plan_batch([item("H1", firing("a"), event_id=1), item("H1", event_id=2)], {}, {}, route)
    assert plan.alerts[("H1", "a", "2024")].status == "resolved"
    assert plan.groups[("H1", "2024")].status == "resolved"
    assert plan.closed_groups == set()  # the upsert carries the final state
    assert len(plan.raised) == 1  # it was raised when it fired


def test_cleared_then_fired_again_in_one_batch_reopens():
    plan = plan_batch([item("H1", event_id=1), item("H1", firing("a"), event_id=2)],
                      {("H1", "2024"): {"a"}}, {("H1", "2024"): "open"}, route)
    assert plan.closed_groups == set()
    assert plan.resolved_alerts == set()
    assert plan.alerts[("H1", "a", "2024")].status == "firing"
    assert len(plan.raised) == 1  # closed by the first event, opened anew by the second


def test_only_silenced_findings_keep_a_quiet_group_and_raise_nothing():
    plan = plan_batch([item("H1", Decision(finding("a"), "silenced"))], {}, {}, route)
    assert plan.groups[("H1", "2024")].severity == "info"
    assert plan.alerts[("H1", "a", "2024")].status == "silenced"
    assert plan.raised == []


def test_periods_are_kept_apart_and_routes_per_alert():
    plan = plan_batch([item("H1", firing("a", route_to=("township", "medical")), period="2024-05"),
                       item("H1", firing("a"), period="2024-06")], {}, {}, route)
    assert set(plan.groups) == {("H1", "2024-05"), ("H1", "2024-06")}
    assert plan.alerts[("H1", "a", "2024-05")].routed_unit_ids == [108, 107]
    assert plan.alerts[("H1", "a", "2024-06")].routed_unit_ids == [108]
    assert len(plan.raised) == 2
