"""Refusals of case actions by kind (the API answers forbidden 403, state 409, content 422
naming the field), the same rules the workflow's validator applies; and the actions a
case page offers its viewer."""

from datetime import datetime

from services.alerts.case_deadlines import TZ
from services.alerts.case_page import available_actions
from services.alerts.case_rules import case_rules
from services.alerts.cases import CaseAction, CaseState, Measure, refusal, refusal_of
from services.common.auth import Principal

RULES = case_rules("532325100201")
NOW = datetime(2023, 3, 3, 10, tzinfo=TZ)
STATE = CaseState(case_id=5, run=1, household_no="5323251002010001", village_code="532325100201",
                  township_unit_id=11, category="脱贫户", no_labour_capacity=False, monitoring_line=6900.0,
                  fast_path=False, alerted_at=datetime(2023, 3, 1, 10, tzinfo=TZ).isoformat())


def act(name, unit=11, roles=("unit_staff",), prefix="532325100", **kw) -> CaseAction:
    return CaseAction(name=name, idempotency_key="k", actor_user_id=1, actor_unit_id=unit, actor_roles=roles,
                      actor_region_prefix=prefix, **kw)


def office(name, **kw) -> CaseAction:
    return act(name, unit=2, roles=("office_admin",), prefix="532325", **kw)


VERIFY = dict(visited_on="2023-03-03", visitors=("张三",), text="入户核实")


def test_a_department_or_another_township_is_forbidden():
    r = refusal_of(STATE, act("verify", unit=12, **VERIFY), NOW, RULES)
    assert (r.kind, r.field) == ("forbidden", "") and "乡镇" in r.reason
    assert refusal_of(STATE, act("confirm", monitoring_kind="边缘易致贫户"), NOW, RULES).kind == "forbidden"
    another_county = act("verify", unit=2, roles=("office_admin",), prefix="532399", **VERIFY)
    assert refusal_of(STATE, another_county, NOW, RULES).kind == "forbidden"


def test_the_wrong_stage_and_a_closed_case_are_states():
    assert refusal_of(STATE, office("confirm", monitoring_kind="边缘易致贫户"), NOW, RULES).kind == "state"
    closed = CaseState(**{**STATE.__dict__, "status": "rejected", "stage": "closed"})
    r = refusal_of(closed, act("verify", **VERIFY), NOW, RULES)
    assert r.kind == "state" and "已结案" in r.reason


def test_missing_or_wrong_content_names_the_field():
    assert refusal_of(STATE, act("verify", **{**VERIFY, "visited_on": "2023-03-04"}), NOW, RULES).field == "visited_on"
    assert refusal_of(STATE, act("verify", **{**VERIFY, "visitors": ()}), NOW, RULES).field == "visitors"
    at_plan = CaseState(**{**STATE.__dict__, "stage": "plan"})
    r = refusal_of(at_plan, act("plan", measures=(Measure("employment", 3, "2023-04-01", "岗位"),
                                                  Measure("lottery", 3, "2023-04-01", "彩票"))), NOW, RULES)
    assert (r.kind, r.field) == ("content", "measures.1.kind")


def test_the_validator_refuses_with_the_same_reason():
    for state, action in ((STATE, act("verify", unit=12, **VERIFY)), (STATE, office("reject", text="x")),
                          (STATE, act("verify", **{**VERIFY, "text": " "}))):
        assert refusal(state, action, NOW, RULES) == refusal_of(state, action, NOW, RULES).reason
    assert refusal_of(STATE, act("verify", **VERIFY), NOW, RULES) is None


def principal(unit_id, roles, region="532325100000", level="township") -> Principal:
    return Principal(user_id=1, username="u", unit_id=unit_id, unit_name="单位", region_code=region,
                     region_level=level, roles=roles)


def test_the_page_offers_what_the_viewer_may_do_at_this_stage():
    case = {"id": 5, "run": 1, "household_no": "x", "village_code": "532325100201", "township_unit_id": 11,
            "category": "脱贫户", "fast_path": False, "alerted_at": datetime(2023, 3, 1, tzinfo=TZ),
            "stage": "follow_up", "status": "open"}
    county_office = principal(2, ("office_admin",), "532325000000", "county")
    assert [a["action"] for a in available_actions(case, principal(11, ("unit_staff",)))] == ["visit"]
    assert [a["action"] for a in available_actions(case, county_office)] == ["visit", "eliminate"]
    assert available_actions(case, principal(12, ("unit_staff",))) == []
    assert available_actions({**case, "status": "eliminated", "stage": "closed"}, county_office) == []
