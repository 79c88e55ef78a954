"""An alert case (监测帮扶案件) as a state machine: 核查 → 公示 → 认定 → 帮扶 → 回访 →
风险消除, who may do what at each stage, and what the clock does (the stage's deadline,
reminders, overdue, escalation ladder, the end of the notice).

Pure functions over dataclasses, shared by the case workflow's update validators and
handlers (a refusal is decided before anything is written) and by the tests.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from services.alerts.case_deadlines import (
    Visit,
    add_months,
    due_day,
    elimination_decision,
    end_of_day,
    escalation_ladder,
    local_day,
)
from services.common.calendar import reminder_times

STAGE_LABELS = {
    "verify": "核查",
    "notice": "公示",
    "confirm": "认定",
    "plan": "帮扶计划",
    "follow_up": "帮扶回访",
    "elimination_proposed": "拟风险消除",
    "closed": "已结案",
}
STATUS_LABELS = {"open": "办理中", "rejected": "不予认定", "eliminated": "风险已消除"}
TOWNSHIP_ACTIONS = {"verify", "plan", "visit"}  # the household's township (or the office)
COUNTY_ACTIONS = {"confirm", "reject", "eliminate", "keep_monitoring"}  # the county office


@dataclass(frozen=True)
class Measure:
    """One 一户一策 measure: a catalogue kind, the department that carries it out, by when."""

    kind: str
    unit_id: int
    due_date: str  # ISO date
    content: str


@dataclass(frozen=True)
class CaseState:
    """A case as its workflow holds it (and continue-as-new carries forward)."""

    case_id: int
    run: int  # 1, then 2, … each time a new alert reopens a closed case
    household_no: str
    village_code: str
    township_unit_id: int
    category: str
    no_labour_capacity: bool
    monitoring_line: float
    fast_path: bool
    alerted_at: str  # ISO datetime
    stage: str = "verify"
    status: str = "open"
    due_at: str | None = None  # the current deadline (ISO datetime, end of its day)
    due_since: str = ""  # when that deadline was set
    reminders_sent: int = 0
    overdue: bool = False
    escalation_level: int = 0
    notice_ends_at: str | None = None
    verified_at: str | None = None
    confirmed_at: str | None = None
    monitoring_kind: str | None = None
    basic_support: bool = False
    visits: tuple[Visit, ...] = ()
    measures: tuple[Measure, ...] = ()


@dataclass(frozen=True)
class CaseAction:
    """One action on a case, as the API hands it to the workflow."""

    name: str
    idempotency_key: str
    actor_user_id: int
    actor_unit_id: int
    actor_roles: tuple[str, ...]
    actor_region_prefix: str  # the caller's jurisdiction as a region-code prefix
    text: str = ""
    visited_on: str | None = None
    visitors: tuple[str, ...] = ()
    attachments: tuple[str, ...] = ()
    proposed: bool = True  # 核查: propose the household for monitoring
    monitoring_kind: str | None = None
    measures: tuple[Measure, ...] = ()
    income: float | None = None
    compulsory_education_ok: bool | None = None
    basic_medical_ok: bool | None = None
    housing_ok: bool | None = None
    drinking_water_ok: bool | None = None


@dataclass(frozen=True)
class ClockEvent:
    """Something the clock did to a case: reminded, overdue, escalated (with its rung), notice_ended."""

    event: str
    stage: str
    level: int = 0
    to_role: str = ""
    at: str = ""


def _dt(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _days(rules: dict, state: CaseState, stage: str) -> int:
    return stage_days(rules, state.fast_path, stage)


def stage_days(rules: dict, fast_path: bool, stage: str) -> int:
    """The days a stage is given, shorter on the fast path (绿色通道) where configured."""
    fast = rules.get("fast_path") or {}
    key = {"verify": "verify_days", "notice": "notice_days", "confirm": "confirm_days_from_alert",
           "plan": "plan_days"}[stage]
    if fast_path and key in fast:
        return fast[key]
    config = rules["stages"][stage]
    return config["days_from_alert"] if stage == "confirm" else config["days"]


def confirm_due(state: CaseState, rules: dict) -> datetime:
    """The whole path's limit: 认定 within 15 days of the alert (shorter on the fast path)."""
    return end_of_day(local_day(_dt(state.alerted_at)) + timedelta(days=_days(rules, state, "confirm")))


def _with_deadline(state: CaseState, due_at: datetime | None, now: datetime, **changes) -> CaseState:
    """A new stage deadline: its reminders, overdue flag and ladder start again."""
    return replace(state, due_at=due_at.isoformat() if due_at else None, due_since=now.isoformat(),
                   reminders_sent=0, overdue=False, escalation_level=0, **changes)


def verify_due(alerted_at: datetime, fast_path: bool, rules: dict) -> datetime:
    return end_of_day(local_day(alerted_at) + timedelta(days=stage_days(rules, fast_path, "verify")))


def opened(state: CaseState, rules: dict, now: datetime) -> CaseState:
    """A case (or a reopened one) at 核查, due `verify` days after the alert."""
    due = verify_due(_dt(state.alerted_at), state.fast_path, rules)
    return _with_deadline(state, due, now, stage="verify", status="open")


def next_follow_up(day: date, rules: dict) -> datetime:
    return end_of_day(add_months(day, rules["stages"]["follow_up"]["every_months"]))


# ---------------------------------------------------------------- actions

def _content_refusal(state: CaseState, a: CaseAction, now: datetime, rules: dict) -> tuple[str, str] | None:
    """What is missing or wrong in the action's content: (the field, why)."""
    today = local_day(now)
    if a.name in ("verify", "visit"):
        if not a.visited_on:
            return "visited_on", "请填写入户日期 (visited_on is required)"
        if date.fromisoformat(a.visited_on) > today:
            return "visited_on", "入户日期不能晚于今天 (visited_on is in the future)"
        if a.visited_on < local_day(_dt(state.alerted_at)).isoformat():
            return "visited_on", "入户日期不能早于预警日期 (visited_on before the alert)"
    if a.name == "verify":
        if not a.visitors:
            return "visitors", "请填写核查人员 (visitors are required)"
        if not a.text.strip():
            return "text", "请填写核查情况 (findings are required)"
    if a.name == "visit":
        if state.visits and a.visited_on < state.visits[-1].visited_on:
            return "visited_on", f"回访日期不能早于上次回访({state.visits[-1].visited_on}) (visit before the last one)"
        if a.income is None or a.income < 0:
            return "income", "请填写家庭人均纯收入(不小于0) (income is required)"
        missing = [n for n in ("compulsory_education_ok", "basic_medical_ok", "housing_ok", "drinking_water_ok")
                   if getattr(a, n) is None]
        if missing:
            return missing[0], f"请填写“三保障”和饮水安全情况:{', '.join(missing)} (required)"
    if a.name == "confirm" and a.monitoring_kind not in rules["monitoring_kinds"]:
        return "monitoring_kind", f"监测对象类型须为 {'、'.join(rules['monitoring_kinds'])} 之一 (monitoring_kind)"
    if a.name in ("reject", "keep_monitoring") and not a.text.strip():
        return "text", "请写明理由 (a reason is required)"
    if a.name == "plan":
        if not a.measures:
            return "measures", "帮扶计划至少包含一项措施 (at least one measure)"
        for i, m in enumerate(a.measures, start=1):
            if m.kind not in rules["measure_catalogue"]:
                return f"measures.{i - 1}.kind", f"第{i}项措施类型“{m.kind}”不在帮扶措施目录中 (unknown measure kind)"
            if m.unit_id <= 0:
                return f"measures.{i - 1}.unit_id", f"第{i}项措施请指定责任单位 (unit_id)"
            if not m.content.strip():
                return f"measures.{i - 1}.content", f"第{i}项措施请填写具体内容 (content)"
            if m.due_date <= today.isoformat():
                return f"measures.{i - 1}.due_date", f"第{i}项措施的完成时限须晚于今天 (due_date)"
    return None


STAGE_OF_ACTION = {
    "verify": ("verify",),
    "confirm": ("confirm",),
    "reject": ("confirm",),
    "plan": ("plan",),
    "visit": ("follow_up", "elimination_proposed"),
    "eliminate": ("follow_up", "elimination_proposed"),
    "keep_monitoring": ("elimination_proposed",),
}


@dataclass(frozen=True)
class Refusal:
    """Why an action is refused, and of which kind: `forbidden` (not this unit's case),
    `state` (closed, wrong stage, not yet eligible) or `content` (missing or wrong input,
    naming the `field`) — so the API can answer 403, 409 or 422."""

    kind: str
    reason: str
    field: str = ""


def may_act(state: CaseState, a: CaseAction) -> bool:
    """Whether the actor's unit may take this action on this case at all: the household's
    township (or the county office) for 核查、帮扶计划、回访, the county office for decisions."""
    county_office = "office_admin" in a.actor_roles and state.village_code.startswith(a.actor_region_prefix)
    if a.name in TOWNSHIP_ACTIONS:
        return a.actor_unit_id == state.township_unit_id or county_office
    return county_office


def refusal_of(state: CaseState, a: CaseAction, now: datetime, rules: dict) -> Refusal | None:
    """Why the action is refused (with its kind), or None when it may proceed."""
    if a.name not in STAGE_OF_ACTION:
        return Refusal("content", f"未知操作 {a.name} (unknown action)", "name")
    if state.status != "open":
        return Refusal("state", f"案件已结案({STATUS_LABELS[state.status]}) (case closed)")
    if not may_act(state, a):
        if a.name in TOWNSHIP_ACTIONS:
            return Refusal("forbidden", "只有农户所在乡镇或县领导小组办公室可以办理 (not the household's township)")
        return Refusal("forbidden", "只有县领导小组办公室可以认定、不予认定或确认风险消除 (county office only)")
    if state.stage not in STAGE_OF_ACTION[a.name]:
        if state.stage == "notice" and a.name in ("confirm", "reject"):
            last_day = local_day(_dt(state.notice_ends_at)) - timedelta(days=1)
            return Refusal("state", f"公示期未满,{last_day} 公示结束后方可认定 (notice not ended)")
        return Refusal("state", f"案件当前处于“{STAGE_LABELS[state.stage]}”阶段,不能{ACTION_LABELS[a.name]} (wrong stage)")
    content = _content_refusal(state, a, now, rules)
    if content:
        return Refusal("content", content[1], content[0])
    if a.name == "eliminate":
        decision = elimination_decision(list(state.visits), _confirmed_on(state), state.monitoring_line,
                                        state.no_labour_capacity, rules)
        if not decision.eligible:
            return Refusal("state", "不符合风险消除条件:" + ";".join(decision.reasons))
    return None


def refusal(state: CaseState, a: CaseAction, now: datetime, rules: dict) -> str | None:
    """Why the action is refused, or None when it may proceed (the workflow's validator)."""
    found = refusal_of(state, a, now, rules)
    return found.reason if found else None


ACTION_LABELS = {"verify": "登记核查", "confirm": "认定", "reject": "不予认定", "plan": "制定帮扶计划",
                 "visit": "登记回访", "eliminate": "确认风险消除", "keep_monitoring": "继续监测"}


def _confirmed_on(state: CaseState) -> date | None:
    return local_day(_dt(state.confirmed_at)) if state.confirmed_at else None


def apply(state: CaseState, a: CaseAction, now: datetime, rules: dict) -> tuple[CaseState, list[str]]:
    """The case after the action, and the events it produces (alert.case.<event>)."""
    if a.name == "verify":
        verified = replace(state, verified_at=now.isoformat())
        if a.proposed:
            ends = end_of_day(local_day(now) + timedelta(days=_days(rules, state, "notice")))
            return _with_deadline(verified, confirm_due(state, rules), now, stage="notice",
                                  notice_ends_at=ends.isoformat()), ["verified", "notice_published"]
        return _with_deadline(verified, confirm_due(state, rules), now, stage="confirm"), ["verified"]
    if a.name == "confirm":
        due = end_of_day(local_day(now) + timedelta(days=_days(rules, state, "plan")))
        return _with_deadline(state, due, now, stage="plan", confirmed_at=now.isoformat(),
                              monitoring_kind=a.monitoring_kind), ["confirmed"]
    if a.name == "reject":
        return _with_deadline(state, None, now, stage="closed", status="rejected"), ["rejected"]
    if a.name == "plan":
        return _with_deadline(state, next_follow_up(local_day(now), rules), now, stage="follow_up",
                              measures=a.measures), ["plan_made"]
    if a.name == "visit":
        visit = Visit(a.visited_on, float(a.income), bool(a.compulsory_education_ok), bool(a.basic_medical_ok),
                      bool(a.housing_ok), bool(a.drinking_water_ok), a.text)
        after = _with_deadline(state, next_follow_up(date.fromisoformat(a.visited_on), rules), now,
                               visits=(*state.visits, visit))
        decision = elimination_decision(list(after.visits), _confirmed_on(after), after.monitoring_line,
                                        after.no_labour_capacity, rules)
        events = ["visited"]
        if decision.eligible and after.stage == "follow_up":
            after = replace(after, stage="elimination_proposed")
            events.append("elimination_proposed")
        if decision.basic_support and not after.basic_support:
            after = replace(after, basic_support=True)
            events.append("kept_under_basic_support")
        return after, events
    if a.name == "eliminate":
        return _with_deadline(state, None, now, stage="closed", status="eliminated"), ["risk_eliminated"]
    if a.name == "keep_monitoring":
        return replace(state, stage="follow_up"), ["elimination_declined"]
    raise ValueError(a.name)


# ---------------------------------------------------------------- the clock

def _timeline(state: CaseState, rules: dict):
    due = _dt(state.due_at)
    return (reminder_times(due_day(due), _dt(state.due_since), rules.get("reminders_before_due_days") or []), due,
            escalation_ladder(due, rules.get("escalation_ladder") or []))


def deadline_of(stage: str) -> str:
    """Which deadline a stage runs against: the notice counts towards 认定's 15 days, a proposed
    elimination still expects the monthly visit."""
    return {"notice": "confirm", "elimination_proposed": "follow_up"}.get(stage, stage)


def fire_timers(state: CaseState, now: datetime, rules: dict) -> tuple[CaseState, list[ClockEvent]]:
    """Everything due by `now`: the notice ending, reminders, overdue, escalation rungs."""
    events: list[ClockEvent] = []
    if state.stage == "notice" and _dt(state.notice_ends_at) <= now:
        state = replace(state, stage="confirm")
        events.append(ClockEvent("notice_ended", "notice", at=state.notice_ends_at))
    if state.status != "open" or state.due_at is None:
        return state, events
    reminders, due, ladder = _timeline(state, rules)
    fresh = [t for t in reminders[state.reminders_sent:] if t <= now and t < due]
    if fresh:
        state = replace(state, reminders_sent=state.reminders_sent + len(fresh))
        events.append(ClockEvent("reminded", deadline_of(state.stage), at=fresh[-1].isoformat()))
    if not state.overdue and due <= now:
        state = replace(state, overdue=True, reminders_sent=len(reminders))
        events.append(ClockEvent("overdue", deadline_of(state.stage), at=due.isoformat()))
    if state.overdue:
        for rung in ladder[state.escalation_level:]:
            if rung.at > now:
                break
            state = replace(state, escalation_level=rung.level)
            events.append(ClockEvent("escalated", deadline_of(state.stage), rung.level, rung.to_role,
                                     rung.at.isoformat()))
    return state, events


def next_moment(state: CaseState, rules: dict) -> datetime | None:
    """When the clock next changes something, or None when nothing is pending."""
    moments = []
    if state.stage == "notice":
        moments.append(_dt(state.notice_ends_at))
    if state.status == "open" and state.due_at is not None:
        reminders, due, ladder = _timeline(state, rules)
        moments += [t for t in reminders[state.reminders_sent:] if t < due][:1]
        moments += [due] if not state.overdue else [r.at for r in ladder[state.escalation_level:]][:1]
    return min(moments) if moments else None


@dataclass(frozen=True)
class CaseSummary:
    """What the read model keeps of the state after each change."""

    stage: str
    status: str
    due_at: str | None
    overdue: bool
    escalation_level: int
    monitoring_kind: str | None
    basic_support: bool
    stable_months: int
    notice_ends_at: str | None


def summary(state: CaseState, rules: dict) -> CaseSummary:
    decision = elimination_decision(list(state.visits), _confirmed_on(state), state.monitoring_line,
                                    state.no_labour_capacity, rules)
    return CaseSummary(state.stage, state.status, state.due_at, state.overdue, state.escalation_level,
                       state.monitoring_kind, state.basic_support, decision.stable_months, state.notice_ends_at)
