"""Activities of the alert case workflows: they mirror every change of a case to
PostgreSQL (alerts.cases, its timeline and escalations — the read model the API reads),
write `alert.case.*` events to the alerts outbox, notify the township, and turn a
帮扶 plan's measures into tasks whose steps sit in the departments' inboxes — all in
one transaction per call.

Each call is idempotent: a retried activity finds its work already done (action keys,
unique escalations, the run number guarding a reopened case).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime

from psycopg_pool import ConnectionPool
from temporalio import activity

from services.alerts import case_repository as repo
from services.alerts.case_rules import case_rules
from services.alerts.cases import STAGE_LABELS, CaseAction, CaseSummary, ClockEvent
from services.common import audit
from services.common.auth import load_principal
from services.common.events import new_envelope, write_outbox
from services.tasks import case_plan_repository, ledger_repository, policy_repository
from services.tasks.inbox_repository import insert_notification

NOTICE_TITLES = {
    "reminded": "监测帮扶即将到期",
    "overdue": "监测帮扶已逾期",
    "escalated": "监测帮扶逾期督办",
    "notice_ended": "公示期已满,待县级认定",
}
ROLE_LABELS = {"unit_head": "乡镇主要负责人", "leader": "县分管领导", "office": "县领导小组办公室"}
STAMPS = {"verified": "verified_at", "confirmed": "confirmed_at", "plan_made": "plan_made_at",
          "rejected": "closed_at", "risk_eliminated": "closed_at"}
ON_TIME_EVENTS = ("verified", "confirmed", "plan_made", "visited")


@dataclass
class CaseChange:
    """What one workflow step did to a case: clock events, or one action and its events."""

    case_id: int
    run: int
    county_code: str
    township_unit_id: int
    at: str
    summary: CaseSummary
    events: list[ClockEvent] = field(default_factory=list)
    action: CaseAction | None = None
    action_events: list[str] = field(default_factory=list)
    stage_before: str = ""


def _columns(s: CaseSummary) -> dict:
    return {"stage": s.stage, "status": s.status, "due_at": s.due_at, "overdue": s.overdue,
            "escalation_level": s.escalation_level, "monitoring_kind": s.monitoring_kind,
            "basic_support": s.basic_support, "stable_months": s.stable_months, "notice_ends_at": s.notice_ends_at}


def _action_detail(a: CaseAction) -> dict:
    keep = ("text", "visited_on", "visitors", "attachments", "proposed", "monitoring_kind", "income",
            "compulsory_education_ok", "basic_medical_ok", "housing_ok", "drinking_water_ok")
    detail = {k: v for k, v in asdict(a).items() if k in keep and v not in (None, "", (), [])}
    if a.name != "verify":
        detail.pop("proposed", None)
    if a.measures:
        detail["measures"] = [asdict(m) for m in a.measures]
    return detail


class CaseActivities:
    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool

    def _event(self, conn, case: dict, change: CaseChange, event: str, extra: dict | None = None) -> None:
        write_outbox(conn, "alerts", "alerts.events", new_envelope(
            f"alert.case.{event}", source="alerts", entity_id=str(case["id"]), key=f"case-{case['id']}",
            regions={"county": case["county_code"], "township": case["township_code"], "village": case["village_code"]},
            occurred_at=datetime.fromisoformat(change.at),
            payload={"case_id": case["id"], "run": change.run, "household_id": case["household_id"],
                     "township_unit_id": case["township_unit_id"], "stage": change.summary.stage,
                     "status": change.summary.status, "fast_path": case["fast_path"], **(extra or {})},
        ))

    @activity.defn(name="record_case_clock")
    def record_clock(self, change: CaseChange) -> None:
        """Reminders, overdue, escalations and the end of the notice, with the township notified."""
        with self.pool.connection() as conn:
            case = repo.get_case(conn, change.case_id, for_update=True)
            if case is None or case["run"] != change.run:
                return
            for e in change.events:
                if e.event == "escalated" and not repo.insert_escalation(
                        conn, case["id"], change.run, e.stage, e.level, e.to_role, case["county_code"], e.at):
                    continue
                detail = {"at": e.at} | ({"level": e.level, "to": e.to_role} if e.level else {})
                repo.add_event(conn, case["id"], change.run, e.event, e.stage, detail=detail, at=e.at)
                if case["township_unit_id"]:
                    body = f"监测帮扶案件 {case['id']} · {STAGE_LABELS[e.stage]}" + (
                        f",已督办至{ROLE_LABELS[e.to_role]}" if e.level else "")
                    insert_notification(conn, unit_id=case["township_unit_id"], user_id=None, kind=f"case_{e.event}",
                                        title=NOTICE_TITLES[e.event], body=body, step_id=None)
                self._event(conn, case, change, e.event, {"clock_stage": e.stage, **detail})
            repo.update_case(conn, case["id"], change.run, _columns(change.summary))

    @activity.defn(name="apply_case_action")
    def apply_action(self, change: CaseChange) -> dict:
        """Persist one action; a repeated idempotency key returns the first result unchanged."""
        a = change.action
        with self.pool.connection() as conn:
            done = repo.action_result(conn, a.idempotency_key)
            if done is not None:
                return done
            case = repo.get_case(conn, change.case_id, for_update=True)
            on_time = case["due_at"] is None or datetime.fromisoformat(change.at) <= case["due_at"]
            columns = _columns(change.summary)
            for event in change.action_events:
                if event in STAMPS:
                    columns[STAMPS[event]] = change.at
            repo.update_case(conn, case["id"], change.run, columns)
            detail = _action_detail(a)
            for i, event in enumerate(change.action_events):
                stage = change.stage_before if i == 0 else change.summary.stage
                repo.add_event(conn, case["id"], change.run, event, stage, a.actor_user_id,
                               detail if i == 0 else {}, at=change.at)
                extra = {"on_time": on_time} if event in ON_TIME_EVENTS else {}
                if event == "confirmed":
                    extra["monitoring_kind"] = a.monitoring_kind
                if event == "visited":
                    extra["stable_months"] = change.summary.stable_months
                self._event(conn, case, change, event, extra)
            if "plan_made" in change.action_events:
                self._publish_measures(conn, case, change)
            audit.record(conn, service="alerts", principal=load_principal(conn, a.actor_user_id),
                         action=f"case.{a.name}", entity="case", entity_id=case["id"],
                         before={"stage": case["stage"], "status": case["status"]},
                         after={"stage": change.summary.stage, "status": change.summary.status, **detail},
                         request_id=a.idempotency_key)
            result = {"case_id": case["id"], "run": change.run, "stage": change.summary.stage,
                      "status": change.summary.status, "events": change.action_events, "due_at": change.summary.due_at}
            repo.save_action_key(conn, a.idempotency_key, case["id"], a.name, result)
            return result

    def _publish_measures(self, conn, case: dict, change: CaseChange) -> None:
        """Each measure a task with the measure calendar (one 落实情况 step by its due date), published."""
        rules = case_rules(case["village_code"])
        household = repo.household_for_notice(conn, case["household_id"])
        measures = change.action.measures
        names = {r["id"]: r["name"] for r in conn.execute(
            "SELECT id, name FROM common.units WHERE id = ANY(%s)", ([m.unit_id for m in measures],))}
        plan = {"case_id": case["id"], "run": change.run, "household_no": household["household_no"],
                "measures": [asdict(m) for m in measures]}
        document_id = case_plan_repository.insert_plan_document(
            conn, region_code=case["county_code"], title=f"一户一策帮扶计划(户编号 {household['household_no']})",
            plan=plan, uploaded_by=change.action.actor_user_id, doc_date=change.at[:10])
        for position, m in enumerate(measures, start=1):
            label = rules["measure_catalogue"][m.kind]["label"]
            if not repo.insert_measure(conn, case["id"], change.run, position,
                                       {"kind": m.kind, "label": label, "unit_id": m.unit_id,
                                        "due_date": m.due_date, "content": m.content}):
                continue
            measure = {
                "ref": str(position), "title": f"【一户一策】{label} · {household['village_name']} 户编号 {household['household_no']}",
                "text": f"帮扶措施:{label}\n内容:{m.content}\n完成时限:{m.due_date}\n监测帮扶案件:{case['id']}",
                "lead_units": [names[m.unit_id]], "responsible_units": [names[m.unit_id]], "targets": [],
                "deadlines": [{"phrase": m.due_date, "date": m.due_date, "recurring": None, "month_day": None,
                               "year_inferred": False, "text": "完成时限"}],
            }
            measure["id"] = ledger_repository.insert_measure(conn, document_id, position, measure)
            task_id = policy_repository.insert_task(
                conn, document_id=document_id, measure=measure, region_code=case["county_code"],
                lead_unit_ids=[m.unit_id], responsible_unit_ids=[m.unit_id], due_at=m.due_date,
                reporting_calendar=rules["measure_calendar"])
            repo.set_measure_task(conn, case["id"], change.run, position, task_id)
            write_outbox(conn, "tasks", "tasks.events", new_envelope(
                "task.published", source="tasks", entity_id=str(task_id), key=f"task-{task_id}",
                regions={"county": case["county_code"]},
                payload={"task_id": task_id, "document_id": document_id, "ref": measure["ref"],
                         "title": measure["title"], "region_code": case["county_code"], "lead_unit_ids": [m.unit_id],
                         "responsible_unit_ids": [m.unit_id], "due_at": m.due_date, "targets": [],
                         "kind": "case_measure", "case_id": case["id"], "measure_kind": m.kind},
            ))
