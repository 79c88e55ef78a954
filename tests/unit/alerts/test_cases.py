"""The case state machine, its deadlines, SLA colours and the 风险消除 decision, without servers."""

from dataclasses import replace
from datetime import date, datetime, timedelta

import pytest

from services.alerts.case_deadlines import (
    TZ, Visit, add_months, elimination_decision, end_of_day, full_months, sla_state, stable_since,
)
from services.alerts.case_rules import CaseRulesError, case_rules, is_fast_path, validate
from services.alerts.cases import CaseAction, CaseState, Measure, apply, fire_timers, next_moment, opened, refusal

RULES = case_rules()
ALERT = datetime(2023, 3, 1, 10, 0, tzinfo=TZ)
TOWNSHIP, OTHER = 11, 12


def at(y, m, d, h=10):
    return datetime(y, m, d, h, tzinfo=TZ)


def new_case(**kw) -> CaseState:
    state = CaseState(case_id=1, run=1, household_no="532325001001000001", village_code="532325100201",
                      township_unit_id=TOWNSHIP, category="脱贫户", no_labour_capacity=False, monitoring_line=8050.0,
                      fast_path=False, alerted_at=ALERT.isoformat())
    return opened(replace(state, **kw), RULES, ALERT)


def act(name, unit=TOWNSHIP, roles=("unit_staff",), prefix="532325", **kw) -> CaseAction:
    return CaseAction(name=name, idempotency_key="k", actor_user_id=1, actor_unit_id=unit, actor_roles=roles,
                      actor_region_prefix=prefix, **kw)


OFFICE = dict(unit=99, roles=("office_admin",))
VERIFY = dict(visited_on="2023-03-03", visitors=("张三", "李四"), text="因病支出大,收入骤减")


def visit(day: str, income=9000.0, **kw):
    return act("visit", visited_on=day, income=income, compulsory_education_ok=True, basic_medical_ok=True,
               housing_ok=True, drinking_water_ok=True, **kw)


def test_calendar_helpers():
    assert add_months(date(2023, 1, 31), 1) == date(2023, 2, 28)
    assert full_months(date(2023, 1, 31), date(2023, 4, 29)) == 2
    assert full_months(date(2023, 1, 31), date(2023, 4, 30)) == 3, "a month's end counts as the same day"
    assert full_months(date(2023, 3, 10), date(2023, 9, 9)) == 5
    assert full_months(date(2023, 3, 10), date(2023, 9, 10)) == 6


def test_sla_colours():
    due = end_of_day(date(2023, 3, 8))
    assert sla_state(due, at(2023, 3, 5), 2) == "green"
    assert sla_state(due, at(2023, 3, 7), 2) == "amber"
    assert sla_state(due, at(2023, 3, 9, 0), 2) == "red"
    assert sla_state(None, at(2023, 3, 9), 2) == "green"


def test_the_path_with_its_deadlines():
    case = new_case()
    assert case.stage == "verify" and case.due_at == end_of_day(date(2023, 3, 8)).isoformat(), "7 days to 核查"
    case, events = apply(case, act("verify", **VERIFY), at(2023, 3, 3), RULES)
    assert events == ["verified", "notice_published"] and case.stage == "notice"
    assert case.due_at == end_of_day(date(2023, 3, 16)).isoformat(), "认定 within 15 days of the alert"
    assert "公示期未满" in refusal(case, act("confirm", monitoring_kind="边缘易致贫户", **OFFICE), at(2023, 3, 5), RULES)
    case, clock = fire_timers(case, at(2023, 3, 9), RULES)
    assert [e.event for e in clock] == ["notice_ended"] and case.stage == "confirm", "5 days of 公示 from 03-04"
    assert refusal(case, act("confirm", monitoring_kind="一般农户", **OFFICE), at(2023, 3, 9), RULES).startswith("监测对象类型")
    case, events = apply(case, act("confirm", monitoring_kind="边缘易致贫户", **OFFICE), at(2023, 3, 10), RULES)
    assert events == ["confirmed"] and case.stage == "plan" and case.due_at == end_of_day(date(2023, 3, 20)).isoformat()


def test_fast_path_has_shorter_deadlines():
    assert is_fast_path(RULES, "突发严重困难户", []) and is_fast_path(RULES, "脱贫户", ["disaster"])
    assert not is_fast_path(RULES, "脱贫户", ["income"])
    case = new_case(fast_path=True)
    assert case.due_at == end_of_day(date(2023, 3, 3)).isoformat()
    case, _ = apply(case, act("verify", **VERIFY), at(2023, 3, 3), RULES)
    assert case.due_at == end_of_day(date(2023, 3, 9)).isoformat()


def test_refusals_name_the_reason():
    case = new_case()
    assert "乡镇" in refusal(case, act("verify", unit=OTHER, **VERIFY), at(2023, 3, 3), RULES)
    assert "县领导小组办公室" in refusal(case, act("confirm", monitoring_kind="边缘易致贫户"), at(2023, 3, 3), RULES)
    assert "核查人员" in refusal(case, act("verify", visited_on="2023-03-03", text="x"), at(2023, 3, 3), RULES)
    assert "晚于今天" in refusal(case, act("verify", **{**VERIFY, "visited_on": "2023-03-09"}), at(2023, 3, 3), RULES)
    assert "阶段" in refusal(case, visit("2023-03-03"), at(2023, 3, 3), RULES)
    assert "办公室" in refusal(case, act("verify", prefix="6204", **OFFICE, **VERIFY), at(2023, 3, 3), RULES)
    assert refusal(case, act("verify", **OFFICE, **VERIFY), at(2023, 3, 3), RULES) is None


def test_plan_measures_are_checked_against_the_catalogue():
    case = replace(new_case(), stage="plan")
    good = Measure("employment", 5, "2023-06-30", "公益岗位一个")
    assert refusal(case, act("plan", measures=(good,)), at(2023, 3, 12), RULES) is None
    assert "目录" in refusal(case, act("plan", measures=(replace(good, kind="lottery"),)), at(2023, 3, 12), RULES)
    assert "时限" in refusal(case, act("plan", measures=(replace(good, due_date="2023-03-01"),)), at(2023, 3, 12), RULES)
    assert "至少" in refusal(case, act("plan"), at(2023, 3, 12), RULES)


def test_the_clock_reminds_marks_overdue_and_climbs_the_ladder():
    case = new_case()
    moments = []
    for _ in range(6):
        moment = next_moment(case, RULES)
        moments.append(moment)
        case, _ = fire_timers(case, moment, RULES)
    assert [m.date().isoformat() for m in moments] == [
        "2023-03-06", "2023-03-07", "2023-03-09", "2023-03-09", "2023-03-11", "2023-03-15"]
    assert case.overdue and case.escalation_level == 3 and next_moment(case, RULES) is None


def _monthly(confirmed: date, months: int, income=9000.0, **flags) -> list[Visit]:
    ok = dict(compulsory_education_ok=True, basic_medical_ok=True, housing_ok=True, drinking_water_ok=True) | flags
    return [Visit(add_months(confirmed, i).isoformat(), income, **ok) for i in range(1, months + 1)]


def test_risk_elimination_needs_six_stable_months_and_every_guarantee():
    confirmed = date(2023, 3, 10)
    five = elimination_decision(_monthly(confirmed, 5), confirmed, 8050, False, RULES)
    assert not five.eligible and five.stable_months == 5 and "仅5个月" in five.reasons[0]
    six = elimination_decision(_monthly(confirmed, 6), confirmed, 8050, False, RULES)
    assert six.eligible and six.stable_months == 6
    no_water = elimination_decision(_monthly(confirmed, 6, drinking_water_ok=False), confirmed, 8050, False, RULES)
    assert not no_water.eligible and any("饮水" in r for r in no_water.reasons)
    dip = _monthly(confirmed, 7)
    dip[2] = replace(dip[2], income=7000)
    assert stable_since(dip, confirmed, 8050) == date(2023, 7, 10)
    assert not elimination_decision(dip, confirmed, 8050, False, RULES).eligible
    kept = elimination_decision(_monthly(confirmed, 6), confirmed, 8050, True, RULES)
    assert not kept.eligible and kept.basic_support and "兜底" in kept.reasons[0]


def test_a_visit_at_six_months_proposes_elimination_and_the_county_confirms():
    case = replace(new_case(), stage="follow_up", confirmed_at=at(2023, 3, 10).isoformat())
    for v in _monthly(date(2023, 3, 10), 5):
        case, events = apply(case, visit(v.visited_on), at(*map(int, v.visited_on.split("-"))), RULES)
    assert events == ["visited"] and case.stage == "follow_up"
    assert "不符合风险消除条件" in refusal(case, act("eliminate", **OFFICE), at(2023, 8, 11), RULES)
    case, events = apply(case, visit("2023-09-10"), at(2023, 9, 10), RULES)
    assert events == ["visited", "elimination_proposed"] and case.stage == "elimination_proposed"
    case, events = apply(case, act("eliminate", **OFFICE), at(2023, 9, 12), RULES)
    assert events == ["risk_eliminated"] and case.status == "eliminated" and case.stage == "closed"
    assert "已结案" in refusal(case, visit("2023-10-10"), at(2023, 10, 10), RULES)


def test_configuration_is_checked():
    broken = {**RULES, "stages": {**RULES["stages"], "notice": {"days": -1, "source": "x"}}}
    with pytest.raises(CaseRulesError, match="notice.days"):
        validate(broken, "x.yaml")
    with pytest.raises(CaseRulesError, match="source"):
        validate({**RULES, "risk_elimination": {"stable_months": 6}}, "x.yaml")
    assert all(RULES["stages"][s]["source"] for s in RULES["stages"])
