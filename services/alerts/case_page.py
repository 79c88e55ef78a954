"""A case's page (案件详情) as the API returns it: the case with its labels, the
household with ID numbers and phones masked, the deadlines and SLA, the timeline,
visits, plan measures, decisions, escalations, which actions the viewer may take
now and what their forms choose from — read from the read model, assembled by pure functions."""

from __future__ import annotations

from datetime import datetime

import psycopg

from services.alerts import case_repository as repo
from services.alerts.case_deadlines import SLA_LABELS
from services.alerts.case_rules import case_rules
from services.alerts.cases import (
    ACTION_LABELS,
    STAGE_LABELS,
    STAGE_OF_ACTION,
    STATUS_LABELS,
    CaseAction,
    CaseState,
    confirm_due,
    may_act,
    verify_due,
)
from services.alerts.validation import mask_id, mask_phone
from services.common.auth import Principal
from services.common.units import jurisdiction_prefix

EVENT_LABELS = {
    "opened": "立案", "reopened": "重新立案(新的预警)", "alert_added": "新增预警", "verified": "完成入户核查",
    "notice_published": "村级公示", "notice_ended": "公示期满", "confirmed": "认定纳入监测", "rejected": "不予认定",
    "plan_made": "制定帮扶计划", "visited": "回访", "elimination_proposed": "拟风险消除",
    "elimination_declined": "继续监测", "kept_under_basic_support": "纳入兜底保障", "risk_eliminated": "风险消除",
    "reminded": "到期提醒", "overdue": "逾期", "escalated": "逾期督办",
}
DECISIONS = ("confirmed", "rejected", "elimination_proposed", "elimination_declined", "kept_under_basic_support",
             "risk_eliminated")
HOUSEHOLD_KEYS = ("household_no", "head_name", "category", "members", "labourers", "no_labour_capacity",
                  "village_code", "village_name", "township_name", "county_name")
MEMBER_KEYS = ("name", "relation", "labour_skill", "health")


def _state(case: dict) -> CaseState:
    """The fields of a case's state that decide who may act at which stage."""
    return CaseState(case_id=case["id"], run=case["run"], household_no=case["household_no"],
                     village_code=case["village_code"], township_unit_id=case["township_unit_id"] or 0,
                     category=case["category"], no_labour_capacity=False, monitoring_line=0.0,
                     fast_path=case["fast_path"], alerted_at=case["alerted_at"].isoformat(), stage=case["stage"],
                     status=case["status"])


def available_actions(case: dict, p: Principal) -> list[dict]:
    """The actions the viewer's unit may take at the case's current stage (the workflow still checks the content)."""
    if case["status"] != "open":
        return []
    state = _state(case)
    prefix = jurisdiction_prefix(p.region_code, p.region_level)
    out = []
    for name, stages in STAGE_OF_ACTION.items():
        action = CaseAction(name=name, idempotency_key="", actor_user_id=p.user_id, actor_unit_id=p.unit_id,
                            actor_roles=p.roles, actor_region_prefix=prefix)
        if case["stage"] in stages and may_act(state, action):
            out.append({"action": name, "label": ACTION_LABELS[name], "path": f"/api/cases/{case['id']}/"
                        + name.replace("_", "-")})
    return out


def deadlines(case: dict, rules: dict) -> dict:
    """The current deadline with its SLA colour, and the path's fixed limits (核查, 15日内认定)."""
    state = _state(case)
    return {
        "stage": case["stage"], "stage_label": STAGE_LABELS[case["stage"]], "due_at": case["due_at"],
        "sla": case["sla"], "sla_label": SLA_LABELS[case["sla"]], "overdue": case["overdue"],
        "escalation_level": case["escalation_level"], "notice_ends_at": case["notice_ends_at"],
        "verify_by": verify_due(case["alerted_at"], case["fast_path"], rules),
        "confirm_by": confirm_due(state, rules),
    }


def timeline_item(e: dict) -> dict:
    return {**e, "kind_label": EVENT_LABELS.get(e["kind"], e["kind"]),
            "stage_label": STAGE_LABELS.get(e["stage"], e["stage"])}


def household_part(h: dict) -> dict:
    return {**{k: h.get(k) for k in HOUSEHOLD_KEYS}, "head_id_number": mask_id(h.get("head_id_number")),
            "phone": mask_phone(h.get("phone"))}


def choices(rules: dict, units: list[dict]) -> dict:
    """What the action forms choose from: monitoring kinds, the measure catalogue, the units a measure may go to."""
    return {"monitoring_kinds": list(rules["monitoring_kinds"]),
            "measure_kinds": [{"kind": k, "label": v.get("label", k)} for k, v in rules["measure_catalogue"].items()],
            "units": [{"id": u["id"], "name": u["name"], "kind": u["kind"]} for u in units]}


def assemble(case: dict, household: dict, members: list[dict], events: list[dict], measures: list[dict],
             escalations: list[dict], groups: list[dict], rules: dict, p: Principal, units: list[dict] = ()) -> dict:
    timeline = [timeline_item(e) for e in events]
    return {
        "case": {**case, "stage_label": STAGE_LABELS[case["stage"]], "status_label": STATUS_LABELS[case["status"]],
                 "sla_label": SLA_LABELS[case["sla"]]},
        "household": household_part(household),
        "members": [{**{k: m.get(k) for k in MEMBER_KEYS}, "id_number": mask_id(m.get("id_number"))} for m in members],
        "deadlines": deadlines(case, rules),
        "timeline": timeline,
        "visits": [{"run": e["run"], "at": e["at"], "actor_name": e["actor_name"], **e["detail"]}
                   for e in events if e["kind"] == "visited"],
        "decisions": [t for t in timeline if t["kind"] in DECISIONS],
        "measures": measures,
        "escalations": escalations,
        "alert_groups": groups,
        "available_actions": available_actions(case, p),
        "choices": choices(rules, units),
        "as_of": datetime.now().astimezone(),
    }


def page_of(conn: psycopg.Connection, case_id: int, p: Principal) -> dict:
    """The page of a visible case (the caller has checked it exists and lies in the jurisdiction)."""
    case = repo.case_page(conn, case_id)
    units = repo.county_units(conn, case["county_code"]) if case["stage"] == "plan" else []
    return assemble(case, repo.household_for_notice(conn, case["household_id"]), repo.members(conn, case["household_id"]),
                    repo.timeline(conn, case_id), repo.case_measures(conn, case_id), repo.case_escalations(conn, case_id),
                    repo.case_groups(conn, case_id), case_rules(case["village_code"]), p, units)
