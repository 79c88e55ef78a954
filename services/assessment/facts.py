"""Events into facts: how each task and alert event counts for the unit it concerns.

Pure: one envelope in, the facts it proves out (each carrying the event id). Steps
count in the month they fall due (Asia/Shanghai), so a month's on-time rate is over
the steps due that month; escalations and alerts count in the month they happened.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from services.assessment.model import Fact
from services.common.events import STEP_KIND_LABELS, Envelope

TZ = ZoneInfo("Asia/Shanghai")
STEP_EVENTS = {
    "task.step.opened": "step_due",
    "task.step.overdue": "step_overdue",
    "task.step.escalated": "step_escalated",
    "task.step.returned": "step_returned",
    "task.step.approved": "step_approved",
}
TASK_EVENT_TYPES = (*STEP_EVENTS, "task.step.submitted", "task.step.acknowledged")
# Alert cases (监测帮扶案件): what counts for the township that handles the case.
CASE_FACTS = {
    "alert.case.verified": "alert_verified_on_time",  # 核查 within its deadline (`on_time`)
    "alert.case.confirmed": "case_confirmed_in_time",  # 认定 within the 15-day limit (`on_time`)
    "alert.case.risk_eliminated": "risk_eliminated",  # 风险消除 confirmed by the county
}
IGNORED_TYPES = (
    "task.published", "task.closed", "task.step.reminded", "task.step.extension_requested", "task.step.extended",
    "task.step.extension_refused", "task.step.reassigned",
    *(f"alert.case.{e}" for e in ("opened", "reopened", "notice_published", "notice_ended", "rejected", "plan_made",
                                  "visited", "elimination_proposed", "kept_under_basic_support",
                                  "elimination_declined", "reminded", "overdue", "escalated")),
)


def month(moment: datetime) -> str:
    return moment.astimezone(TZ).strftime("%Y-%m")


@lru_cache(maxsize=4096)
def _due(due_at: str) -> tuple[str, date]:
    """The month and Shanghai day of a step's due time. Thousands of steps share a due time
    (the 5th of the month for every unit's 月报), so it is worked out once per value."""
    local = datetime.fromisoformat(due_at).astimezone(TZ)
    return local.strftime("%Y-%m"), local.date()


def facts_of(env: Envelope) -> list[Fact]:
    p = env.payload
    ids = (str(env.event_id),)
    if env.type in CASE_FACTS:
        unit = p.get("township_unit_id")
        if unit is None or (env.type != "alert.case.risk_eliminated" and not p.get("on_time")):
            return []
        return [Fact(unit_id=unit, period=month(env.occurred_at), kind=CASE_FACTS[env.type], value=1, event_ids=ids,
                     ref=f"监测帮扶案件 {p.get('case_id', '')}")]
    if env.type.startswith("alert.case."):
        return []
    if env.type == "alert.raised":
        return [Fact(unit_id=u, period=month(env.occurred_at), kind="alert_raised", value=1, event_ids=ids,
                     ref=f"预警 {p.get('subject_key', '')} {p.get('period', '')}") for u in p.get("routed_unit_ids", [])]
    due_month, due_day = _due(p["due_at"])
    # positional: the consumer makes one per event, and keywords cost a dict per fact
    unit_id, task_id, step_id = p["unit_id"], p["task_id"], p["step_id"]
    kind = p.get("kind", "")
    ref = f"任务{task_id} · {STEP_KIND_LABELS.get(kind, kind)} {p.get('period', '')}".strip()
    if (fact_kind := STEP_EVENTS.get(env.type)) is not None:
        if fact_kind == "step_escalated":
            return [Fact(unit_id, month(env.occurred_at), fact_kind, float(p.get("level", 1)), ids, task_id, step_id,
                         ref)]
        return [Fact(unit_id, due_month, fact_kind, 1.0, ids, task_id, step_id, ref)]
    if env.type in ("task.step.submitted", "task.step.acknowledged"):
        late_days = (env.occurred_at.astimezone(TZ).date() - due_day).days
        if p.get("on_time", late_days <= 0):
            return [Fact(unit_id, due_month, "step_on_time", 1, ids, task_id, step_id, ref)]
        return [Fact(unit_id, due_month, "step_late", float(max(late_days, 1)), ids, task_id, step_id, ref)]
    return []
