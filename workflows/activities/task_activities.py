"""Activities of the task workflows: they mirror every step change to PostgreSQL
(the read model the inbox reads), write `task.step.*` events to the outbox, the
audit row and the unit's notifications, all in one transaction per call.

Each call is idempotent: a retried activity finds its work already done.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import httpx
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool
from temporalio import activity

from services.common import audit
from services.common.auth import load_principal
from services.common.config import get_settings
from services.common.events import Envelope, new_envelope, write_outbox, write_outbox_many
from services.tasks.step_rules import Action, Step

ESCALATION_LABELS = {"unit_head": "单位负责人", "leader": "分管领导", "office": "领导小组办公室"}
EVENT_TITLES = {
    "opened": "新的待办",
    "reminded": "即将到期提醒",
    "overdue": "已逾期",
    "escalated": "逾期督办",
    "returned": "报送被退回",
    "extended": "延期已批准",
    "extension_refused": "延期未获批准",
    "approved": "报送已通过",
    "reassigned": "步骤已改派",
}


@dataclass
class TimerEvent:
    """Something the clock did to a step: reminded, overdue, escalated (with its rung)."""

    step_key: str
    event: str
    level: int
    to_role: str
    at: str


class TaskActivities:
    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool

    @staticmethod
    def _envelope(task: dict, step: dict, event: str, extra: dict | None = None) -> Envelope:
        return new_envelope(
            f"task.step.{event}", source="tasks", entity_id=str(step["id"]), key=f"task-{task['id']}",
            regions={"county": task["region_code"] if task["region_code"].endswith("000000") else None},
            payload={"task_id": task["id"], "region_code": task["region_code"], "step_id": step["id"],
                     "step_key": step["step_key"],
                     "unit_id": step["unit_id"], "kind": step["kind"], "period": step["period"],
                     "due_at": step["due_at"].isoformat(), **(extra or {})},
        )

    def _event(self, conn, task: dict, step: dict, event: str, extra: dict | None = None) -> None:
        write_outbox(conn, "tasks", "tasks.events", self._envelope(task, step, event, extra))

    def _notify(self, conn, unit_id: int, step_id: int, kind: str, body: str) -> None:
        conn.execute(
            "INSERT INTO tasks.notifications (unit_id, kind, title, body, step_id) VALUES (%s, %s, %s, %s, %s)",
            (unit_id, kind, EVENT_TITLES.get(kind, kind), body, step_id),
        )

    @activity.defn
    def open_steps(self, task_id: int, steps: list[Step]) -> int:
        """Insert the steps that opened, with their history, notifications and events; returns
        how many were new. One statement per table for all of them: a task opens some eighty
        steps at once, and four round trips per step were most of the worker's time when a
        county published its tasks (and slowed the starter beside it)."""
        with self.pool.connection() as conn:
            task = conn.execute("SELECT id, region_code, title FROM tasks.tasks WHERE id = %s", (task_id,)).fetchone()
            rows = sorted(conn.execute(
                """INSERT INTO tasks.steps (step_key, task_id, unit_id, kind, period, label, opened_at, due_at)
                   SELECT step_key, %s, unit_id, kind, period, label, opened_at,
                          (due_date + time '23:59:59') AT TIME ZONE 'Asia/Shanghai'
                   FROM unnest(%s::text[], %s::bigint[], %s::text[], %s::text[], %s::text[], %s::timestamptz[],
                               %s::date[]) AS s(step_key, unit_id, kind, period, label, opened_at, due_date)
                   ON CONFLICT (step_key) DO NOTHING RETURNING *""",
                (task_id, [s.key for s in steps], [s.unit_id for s in steps], [s.kind for s in steps],
                 [s.period for s in steps], [s.label for s in steps], [s.opens_at for s in steps],
                 [s.due_date for s in steps]),
            ).fetchall(), key=lambda r: r["id"])
            if not rows:
                return 0
            ids = [r["id"] for r in rows]
            conn.execute("INSERT INTO tasks.step_history (step_id, action) SELECT unnest(%s::bigint[]), 'opened'", (ids,))
            due = {s.key: s.due_date for s in steps}
            conn.execute(
                """INSERT INTO tasks.notifications (unit_id, kind, title, body, step_id)
                   SELECT unit_id, 'opened', %s, body, step_id FROM unnest(%s::bigint[], %s::text[], %s::bigint[])
                        AS n(unit_id, body, step_id)""",
                (EVENT_TITLES["opened"], [r["unit_id"] for r in rows],
                 [f"{task['title']} · {r['label']},截止 {due[r['step_key']]}" for r in rows], ids),
            )
            write_outbox_many(conn, "tasks", "tasks.events", [self._envelope(task, r, "opened") for r in rows])
        return len(rows)

    @activity.defn
    def record_timers(self, task_id: int, events: list[TimerEvent]) -> None:
        with self.pool.connection() as conn:
            task = conn.execute("SELECT id, region_code, title FROM tasks.tasks WHERE id = %s", (task_id,)).fetchone()
            for e in events:
                step = conn.execute("SELECT * FROM tasks.steps WHERE step_key = %s FOR UPDATE", (e.step_key,)).fetchone()
                if e.event == "reminded":
                    conn.execute("UPDATE tasks.steps SET reminders_sent = reminders_sent + 1, updated_at = now() "
                                 "WHERE id = %s", (step["id"],))
                elif e.event == "overdue":
                    if step["overdue"]:
                        continue
                    conn.execute("UPDATE tasks.steps SET overdue = true, updated_at = now() WHERE id = %s", (step["id"],))
                else:
                    inserted = conn.execute(
                        """INSERT INTO tasks.escalations (step_id, level, to_role, region_code, at)
                           VALUES (%s, %s, %s, %s, %s) ON CONFLICT (step_id, level) DO NOTHING RETURNING id""",
                        (step["id"], e.level, e.to_role, task["region_code"], e.at),
                    ).fetchone()
                    if inserted is None:
                        continue
                    conn.execute("UPDATE tasks.steps SET escalation_level = %s, updated_at = now() WHERE id = %s",
                                 (e.level, step["id"]))
                detail = {"at": e.at} | ({"level": e.level, "to": e.to_role} if e.level else {})
                conn.execute("INSERT INTO tasks.step_history (step_id, action, detail) VALUES (%s, %s, %s)",
                             (step["id"], e.event, Jsonb(detail)))
                body = f"{task['title']} · {step['label']}" + (
                    f",已督办至{ESCALATION_LABELS.get(e.to_role, e.to_role)}" if e.level else "")
                self._notify(conn, step["unit_id"], step["id"], e.event, body)
                self._event(conn, task, step, e.event, detail)

    @activity.defn
    def apply_action(self, task_id: int, action: Action, step: Step, event: str) -> dict:
        """Persist one action; a repeated idempotency key returns the first result unchanged."""
        with self.pool.connection() as conn:
            done = conn.execute("SELECT result FROM tasks.action_keys WHERE idempotency_key = %s",
                                (action.idempotency_key,)).fetchone()
            if done:
                return done["result"]
            task = conn.execute("SELECT id, region_code, title FROM tasks.tasks WHERE id = %s", (task_id,)).fetchone()
            before = conn.execute("SELECT * FROM tasks.steps WHERE step_key = %s FOR UPDATE", (step.key,)).fetchone()
            submission = None
            if action.name == "submit":
                submission = {"text": action.text, "progress": action.progress, "achieved": action.achieved,
                              "attachments": list(action.attachments)}
            row = conn.execute(
                """UPDATE tasks.steps SET status = %s, unit_id = %s, overdue = %s, escalation_level = %s,
                          reminders_sent = %s, extension_requested = %s,
                          due_at = (%s::date + time '23:59:59') AT TIME ZONE 'Asia/Shanghai',
                          submission = COALESCE(%s, submission),
                          submitted_at = CASE WHEN %s THEN now() ELSE submitted_at END,
                          approved_at = CASE WHEN %s THEN now() ELSE approved_at END, updated_at = now()
                   WHERE id = %s RETURNING *""",
                (step.status, step.unit_id, step.overdue, step.escalation_level, step.reminders_sent,
                 step.extension_requested, step.due_date, Jsonb(submission) if submission else None,
                 event in ("submitted", "acknowledged"), step.status == "approved", before["id"]),
            ).fetchone()
            detail = {k: v for k, v in asdict(action).items()
                      if k in ("text", "progress", "achieved", "new_due_date", "new_unit_id") and v not in (None, "", {})}
            conn.execute("INSERT INTO tasks.step_history (step_id, action, actor_user_id, detail) VALUES (%s, %s, %s, %s)",
                         (row["id"], event, action.actor_user_id, Jsonb(detail)))
            if event in EVENT_TITLES:
                self._notify(conn, row["unit_id"], row["id"], event, f"{task['title']} · {row['label']}")
            self._event(conn, task, row, event, {"on_time": row["submitted_at"] is not None
                                                 and row["submitted_at"] <= row["due_at"]} if event == "submitted" else None)
            audit.record(conn, service="tasks", principal=load_principal(conn, action.actor_user_id),
                         action=f"step.{action.name}", entity="step", entity_id=row["id"],
                         before={"status": before["status"], "due_at": before["due_at"].isoformat(),
                                 "unit_id": before["unit_id"]},
                         after={"status": row["status"], "due_at": row["due_at"].isoformat(), "unit_id": row["unit_id"]},
                         request_id=action.idempotency_key)
            result = {"step_id": row["id"], "step_key": step.key, "status": row["status"], "event": event,
                      "due_at": row["due_at"].isoformat()}
            conn.execute("INSERT INTO tasks.action_keys (idempotency_key, step_id, action, result) VALUES (%s, %s, %s, %s)",
                         (action.idempotency_key, row["id"], action.name, Jsonb(result)))
            return result

    @activity.defn
    def close_task(self, task_id: int, actor_user_id: int, text: str) -> None:
        with self.pool.connection() as conn:
            task = conn.execute("SELECT id, region_code, status FROM tasks.tasks WHERE id = %s FOR UPDATE",
                                (task_id,)).fetchone()
            if task["status"] == "closed":
                return
            conn.execute("UPDATE tasks.tasks SET status = 'closed' WHERE id = %s", (task_id,))
            conn.execute(
                """UPDATE tasks.steps SET status = 'closed', updated_at = now()
                   WHERE task_id = %s AND status IN ('open', 'returned', 'submitted')""",
                (task_id,),
            )
            write_outbox(conn, "tasks", "tasks.events", new_envelope(
                "task.closed", source="tasks", entity_id=str(task_id), key=f"task-{task_id}",
                payload={"task_id": task_id, "note": text}))
            audit.record(conn, service="tasks", principal=load_principal(conn, actor_user_id), action="task.sign_off",
                         entity="task", entity_id=task_id, before={"status": "open"},
                         after={"status": "closed", "note": text})


@activity.defn
def send_webhook(text: str) -> None:
    """Post a text message to the configured group bot; raises on failure so Temporal retries.

    The body `{"msgtype": "text", "text": {"content": ...}}` is what both 企业微信/政务微信
    and 钉钉 group robots accept.
    """
    s = get_settings()
    if not s.webhook_url:
        return
    response = httpx.post(s.webhook_url, json={"msgtype": "text", "text": {"content": text}}, timeout=s.webhook_timeout_s)
    response.raise_for_status()
