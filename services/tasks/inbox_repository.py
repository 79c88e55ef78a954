"""SQL of the inbox, step detail, escalations (批示), progress and notifications.

Reads the read model the task workflows mirror into PostgreSQL (tasks.steps,
tasks.step_history, tasks.escalations, tasks.notifications), never Temporal.

A step counts as overdue when the workflow has flagged it, or when its deadline has
passed while it is still open or returned: the flag is only written when the
workflow wakes up, and a list must not show a step as on time in between.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from services.common.auth import PRINCIPAL_SQL
from services.tasks.inbox_schemas import STATUS_LABELS

OVERDUE = "(s.overdue OR (s.status IN ('open', 'returned') AND s.due_at <= now()))"
URGENCY = f"""CASE WHEN s.status IN ('submitted', 'approved') THEN 'done'
                   WHEN {OVERDUE} THEN 'overdue'
                   WHEN s.due_at <= now() + interval '3 days' THEN 'due_soon'
                   ELSE 'normal' END"""
# The last day to hand in, in Beijing time: due_at is the end of that day (midnight after it).
DUE_DATE = "((s.due_at - interval '1 microsecond') AT TIME ZONE 'Asia/Shanghai')::date"


def _where(clauses: list[str]) -> str:
    return ("WHERE " + " AND ".join(clauses)) if clauses else ""


# ---------------------------------------------------------------- inbox

def _sql_text(value: str) -> str:
    """A constant as an SQL string literal inside a statement that also has parameters."""
    return "'" + value.replace("'", "''").replace("%", "%%") + "'"


# A step's status as people read it (STATUS_LABELS), for the inbox PostgreSQL writes out.
STATUS_LABEL = "CASE s.status {} END".format(
    " ".join(f"WHEN {_sql_text(status)} THEN {_sql_text(label)}" for status, label in STATUS_LABELS.items()))


INBOX_FROM = """FROM tasks.steps s JOIN tasks.tasks t ON t.id = s.task_id
                JOIN tasks.policy_documents d ON d.id = t.document_id"""


def _inbox_filters(unit_sql: str, *, status: str | None, overdue: bool | None, task_id: int | None,
                   document_id: int | None, period: str | None, kind: str | None) -> tuple[list[str], list[Any]]:
    """The WHERE clauses of an inbox; `unit_sql` is the SQL of the unit's id (a parameter, or the
    caller's unit read in the same statement)."""
    clauses, params = [f"s.unit_id = {unit_sql}", "s.opened_at <= now()"], []
    for column, value in (("s.status", status), ("s.task_id", task_id), ("t.document_id", document_id),
                          ("s.period", period), ("s.kind", kind)):
        if value is not None:
            clauses.append(f"{column} = %s")
            params.append(value)
    if overdue is not None:
        clauses.append(OVERDUE if overdue else f"NOT {OVERDUE}")
    return clauses, params


def _count_inbox_sql(unit_sql: str, **filters: Any) -> tuple[str, list[Any]]:
    """From the steps alone unless a document is asked for (every step has its task and
    document: the joins would count nothing)."""
    clauses, params = _inbox_filters(unit_sql, **filters)
    source = INBOX_FROM if filters.get("document_id") is not None else "FROM tasks.steps s"
    return f"SELECT count(*) AS n {source} {_where(clauses)}", params


INBOX_ITEM = f"""s.id, s.task_id, t.ref AS task_ref, t.title AS task_title, t.document_id,
                 d.title AS document_title, s.kind, s.period, s.label, s.opened_at, s.due_at,
                 {DUE_DATE} AS due_date, s.status, {OVERDUE} AS overdue, s.escalation_level,
                 s.extension_requested, s.submitted_at, s.approved_at, {URGENCY} AS urgency"""


def _list_inbox_sql(unit_sql: str, limit: int, offset: int, **filters: Any) -> tuple[str, list[Any]]:
    clauses, params = _inbox_filters(unit_sql, **filters)
    return (f"SELECT {INBOX_ITEM}, {STATUS_LABEL} AS status_label {INBOX_FROM} {_where(clauses)} "
            "ORDER BY s.due_at, s.id LIMIT %s OFFSET %s", [*params, limit, offset])


def count_inbox(conn: psycopg.Connection, unit_id: int, **filters: Any) -> int:
    """How many steps the filters select."""
    sql, params = _count_inbox_sql("%s", **filters)
    return conn.execute(sql, [unit_id, *params]).fetchone()["n"]


def list_inbox(conn: psycopg.Connection, unit_id: int, *, limit: int, offset: int, **filters: Any) -> list[dict]:
    """A unit's opened steps, the earliest deadline first."""
    sql, params = _list_inbox_sql("%s", limit, offset, **filters)
    return conn.execute(sql, [unit_id, *params]).fetchall()


async def inbox_of_caller(conn: psycopg.AsyncConnection, user_id: int, *, limit: int, offset: int,
                          **filters: Any) -> dict | None:
    """The caller's row (the columns of `auth.PRINCIPAL_SQL`) with their unit's inbox in `body`:
    the response itself, `InboxPage` as JSON text (the count and one page of `list_inbox`,
    each item with its `status_label`), built by PostgreSQL in the statement that reads the
    caller. None for an unknown user; for a disabled one the inbox is empty.

    The inbox is the page every unit opens first. Read the usual way it took three round
    trips (the caller, the count, the page), and its rows, parsed into Python objects,
    checked against the response model and serialised again, cost the API process more
    than the statements cost the database."""
    unit_sql = "(SELECT unit_id FROM me WHERE NOT me.disabled)"
    count_sql, count_params = _count_inbox_sql(unit_sql, **filters)
    list_sql, list_params = _list_inbox_sql(unit_sql, limit, offset, **filters)
    cursor = await conn.execute(
        f"""WITH me AS ({PRINCIPAL_SQL}), page AS ({list_sql})
            SELECT me.*, json_build_object(
                'total', ({count_sql}), 'limit', %s::int, 'offset', %s::int,
                'items', coalesce((SELECT json_agg(p ORDER BY p.due_at, p.id) FROM page p), '[]'::json))::text AS body
            FROM me""",
        [user_id, *list_params, *count_params, limit, offset],
    )
    return await cursor.fetchone()


# ---------------------------------------------------------------- the office's review queue (待审核)

REVIEW_WHERE = """WHERE t.region_code LIKE %s AND s.opened_at <= now()
                  AND (s.status = 'submitted' OR (s.extension_requested AND s.status IN ('open', 'returned')))"""


def count_reviews(conn: psycopg.Connection, region_prefix: str) -> int:
    return conn.execute(f"SELECT count(*) AS n FROM tasks.steps s JOIN tasks.tasks t ON t.id = s.task_id "
                        f"{REVIEW_WHERE}", (region_prefix + "%",)).fetchone()["n"]


def list_reviews(conn: psycopg.Connection, region_prefix: str, *, limit: int, offset: int) -> list[dict]:
    """Reports submitted and extensions asked for in the office's region, the longest waiting first."""
    return conn.execute(
        f"""SELECT {INBOX_ITEM}, s.unit_id, u.name AS unit_name
            {INBOX_FROM} JOIN common.units u ON u.id = s.unit_id {REVIEW_WHERE}
            ORDER BY coalesce(s.submitted_at, s.updated_at), s.id LIMIT %s OFFSET %s""",
        (region_prefix + "%", limit, offset),
    ).fetchall()


# ---------------------------------------------------------------- one step

def get_step(conn: psycopg.Connection, step_id: int) -> dict | None:
    return conn.execute(
        f"""SELECT s.id, s.step_key, s.task_id, s.unit_id, u.name AS unit_name, s.kind, s.period, s.label,
                   s.opened_at, s.due_at, {DUE_DATE} AS due_date, s.status, {OVERDUE} AS overdue,
                   s.escalation_level, s.reminders_sent, s.extension_requested, s.submission, s.submitted_at,
                   s.approved_at, s.updated_at, {URGENCY} AS urgency, t.region_code AS task_region_code
            FROM tasks.steps s JOIN tasks.tasks t ON t.id = s.task_id JOIN common.units u ON u.id = s.unit_id
            WHERE s.id = %s""",
        (step_id,),
    ).fetchone()


def _unit_refs(column: str) -> str:
    return f"""(SELECT coalesce(jsonb_agg(jsonb_build_object('id', u.id, 'name', u.name)
                                          ORDER BY array_position(t.{column}, u.id)), '[]'::jsonb)
                FROM common.units u WHERE u.id = ANY(t.{column}))"""


def get_task_summary(conn: psycopg.Connection, task_id: int) -> dict | None:
    return conn.execute(
        f"""SELECT t.id, t.ref, t.title, t.text, t.region_code, t.document_id, d.title AS document_title, t.targets,
                   t.deadlines, t.due_at, t.status, t.published_at,
                   {_unit_refs('lead_unit_ids')} AS lead_units,
                   {_unit_refs('responsible_unit_ids')} AS responsible_units
            FROM tasks.tasks t JOIN tasks.policy_documents d ON d.id = t.document_id WHERE t.id = %s""",
        (task_id,),
    ).fetchone()


def step_history(conn: psycopg.Connection, step_id: int) -> list[dict]:
    """What happened to a step, oldest first."""
    return conn.execute(
        """SELECT h.id, h.at, h.action, h.actor_user_id, coalesce(us.full_name, us.username) AS actor_name, h.detail
           FROM tasks.step_history h LEFT JOIN common.users us ON us.id = h.actor_user_id
           WHERE h.step_id = %s ORDER BY h.at, h.id""",
        (step_id,),
    ).fetchall()


ESCALATION_COLUMNS = """e.id, e.level, e.to_role, e.region_code, e.at, e.instruction, e.instructed_by,
                        coalesce(iu.full_name, iu.username) AS instructed_by_name, e.instructed_at"""


def step_escalations(conn: psycopg.Connection, step_id: int) -> list[dict]:
    return conn.execute(
        f"""SELECT {ESCALATION_COLUMNS} FROM tasks.escalations e LEFT JOIN common.users iu ON iu.id = e.instructed_by
            WHERE e.step_id = %s ORDER BY e.level, e.id""",
        (step_id,),
    ).fetchall()


# ---------------------------------------------------------------- escalations

ESCALATION_FROM = """FROM tasks.escalations e JOIN tasks.steps s ON s.id = e.step_id
                     JOIN tasks.tasks t ON t.id = s.task_id JOIN common.units u ON u.id = s.unit_id
                     LEFT JOIN common.users iu ON iu.id = e.instructed_by"""
ESCALATION_ITEM = f"""{ESCALATION_COLUMNS}, e.step_id, s.label AS step_label, s.kind, s.period, s.due_at,
                      {DUE_DATE} AS due_date, s.status, {OVERDUE} AS overdue, s.unit_id, u.name AS unit_name,
                      s.task_id, t.ref AS task_ref, t.title AS task_title"""


def _escalation_filters(*, office_prefix: str | None, leader_prefix: str | None, head_unit_id: int | None,
                        pending_instruction: bool | None, level: int | None) -> tuple[list[str], list[Any]]:
    """Who sees what: the office every escalation in its jurisdiction, a leader those that reached the
    leaders (to_role 'leader') in theirs, a unit head those that reached the unit head of their own unit."""
    scopes, params = [], []
    if office_prefix is not None:
        scopes.append("e.region_code LIKE %s")
        params.append(office_prefix + "%")
    if leader_prefix is not None:
        scopes.append("(e.to_role = 'leader' AND e.region_code LIKE %s)")
        params.append(leader_prefix + "%")
    if head_unit_id is not None:
        scopes.append("(e.to_role = 'unit_head' AND s.unit_id = %s)")
        params.append(head_unit_id)
    clauses = ["(" + " OR ".join(scopes) + ")"] if scopes else ["false"]
    if pending_instruction is not None:
        clauses.append("e.instruction IS NULL" if pending_instruction else "e.instruction IS NOT NULL")
    if level is not None:
        clauses.append("e.level = %s")
        params.append(level)
    return clauses, params


def count_escalations(conn: psycopg.Connection, **filters: Any) -> int:
    clauses, params = _escalation_filters(**filters)
    return conn.execute(f"SELECT count(*) AS n {ESCALATION_FROM} {_where(clauses)}", params).fetchone()["n"]


def list_escalations(conn: psycopg.Connection, *, limit: int, offset: int, **filters: Any) -> list[dict]:
    """Escalations the caller may see, oldest first."""
    clauses, params = _escalation_filters(**filters)
    return conn.execute(
        f"SELECT {ESCALATION_ITEM} {ESCALATION_FROM} {_where(clauses)} ORDER BY e.at, e.id LIMIT %s OFFSET %s",
        (*params, limit, offset),
    ).fetchall()


def get_escalation(conn: psycopg.Connection, escalation_id: int, *, for_update: bool = False) -> dict | None:
    lock = "FOR UPDATE OF e" if for_update else ""
    return conn.execute(
        f"SELECT {ESCALATION_ITEM} {ESCALATION_FROM} WHERE e.id = %s {lock}", (escalation_id,)
    ).fetchone()


def set_instruction(conn: psycopg.Connection, escalation_id: int, text: str, user_id: int) -> None:
    conn.execute(
        "UPDATE tasks.escalations SET instruction = %s, instructed_by = %s, instructed_at = now() WHERE id = %s",
        (text, user_id, escalation_id),
    )


def insert_history(conn: psycopg.Connection, step_id: int, action: str, actor_user_id: int | None,
                   detail: dict) -> None:
    conn.execute(
        "INSERT INTO tasks.step_history (step_id, action, actor_user_id, detail) VALUES (%s, %s, %s, %s)",
        (step_id, action, actor_user_id, Jsonb(detail)),
    )


def insert_notification(conn: psycopg.Connection, *, unit_id: int | None, user_id: int | None, kind: str, title: str,
                        body: str, step_id: int | None) -> int:
    return conn.execute(
        """INSERT INTO tasks.notifications (unit_id, user_id, kind, title, body, step_id)
           VALUES (%s, %s, %s, %s, %s, %s) RETURNING id""",
        (unit_id, user_id, kind, title, body, step_id),
    ).fetchone()["id"]


# ---------------------------------------------------------------- progress

PROGRESS_FROM = """FROM tasks.steps s JOIN tasks.tasks t ON t.id = s.task_id"""


def _progress_filters(prefix: str, document_id: int | None, unit_id: int | None) -> tuple[list[str], list[Any]]:
    clauses, params = ["t.region_code LIKE %s"], [prefix + "%"]
    if document_id is not None:
        clauses.append("t.document_id = %s")
        params.append(document_id)
    if unit_id is not None:
        clauses.append("s.unit_id = %s")
        params.append(unit_id)
    return clauses, params


def count_progress(conn: psycopg.Connection, prefix: str, *, document_id: int | None, unit_id: int | None) -> int:
    clauses, params = _progress_filters(prefix, document_id, unit_id)
    return conn.execute(
        f"""SELECT count(*) AS n FROM (SELECT 1 {PROGRESS_FROM} {_where(clauses)}
                                       GROUP BY t.document_id, s.unit_id) g""",
        params,
    ).fetchone()["n"]


def list_progress(conn: psycopg.Connection, prefix: str, *, document_id: int | None, unit_id: int | None,
                  limit: int, offset: int) -> list[dict]:
    """Per document and unit: steps, done (approved), submitted, due (deadline passed), overdue (and not
    approved), and on time (due steps submitted or approved no later than their deadline)."""
    clauses, params = _progress_filters(prefix, document_id, unit_id)
    return conn.execute(
        f"""WITH g AS (
                SELECT t.document_id, s.unit_id,
                       count(*) AS steps,
                       count(*) FILTER (WHERE s.status = 'approved') AS done,
                       count(*) FILTER (WHERE s.status = 'submitted') AS submitted,
                       count(*) FILTER (WHERE s.due_at <= now()) AS due,
                       count(*) FILTER (WHERE {OVERDUE} AND s.status <> 'approved') AS overdue,
                       count(*) FILTER (WHERE s.due_at <= now() AND s.status IN ('submitted', 'approved')
                                        AND coalesce(s.submitted_at, s.approved_at) <= s.due_at) AS on_time
                {PROGRESS_FROM} {_where(clauses)}
                GROUP BY t.document_id, s.unit_id)
            SELECT g.*, d.title AS document_title, u.name AS unit_name
            FROM g JOIN tasks.policy_documents d ON d.id = g.document_id JOIN common.units u ON u.id = g.unit_id
            ORDER BY g.document_id, u.name, g.unit_id LIMIT %s OFFSET %s""",
        (*params, limit, offset),
    ).fetchall()


# ---------------------------------------------------------------- notifications

NOTIFICATION_VISIBLE = "(n.user_id = %s OR (n.user_id IS NULL AND n.unit_id = %s))"
NOTIFICATION_ITEM = """n.id, n.at, n.kind, n.title, n.body, n.unit_id, n.user_id, n.step_id, s.label AS step_label,
                       s.task_id, t.title AS task_title, n.read_at IS NOT NULL AS read, n.read_at"""
NOTIFICATION_FROM = """FROM tasks.notifications n LEFT JOIN tasks.steps s ON s.id = n.step_id
                       LEFT JOIN tasks.tasks t ON t.id = s.task_id"""


def _notification_filters(user_id: int, unit_id: int, unread: bool | None) -> tuple[list[str], list[Any]]:
    clauses, params = [NOTIFICATION_VISIBLE], [user_id, unit_id]
    if unread is not None:
        clauses.append("n.read_at IS NULL" if unread else "n.read_at IS NOT NULL")
    return clauses, params


def count_notifications(conn: psycopg.Connection, user_id: int, unit_id: int, unread: bool | None) -> int:
    clauses, params = _notification_filters(user_id, unit_id, unread)
    return conn.execute(f"SELECT count(*) AS n FROM tasks.notifications n {_where(clauses)}", params).fetchone()["n"]


def list_notifications(conn: psycopg.Connection, user_id: int, unit_id: int, unread: bool | None,
                       limit: int, offset: int) -> list[dict]:
    """A user's own notifications and their unit's, newest first."""
    clauses, params = _notification_filters(user_id, unit_id, unread)
    return conn.execute(
        f"""SELECT {NOTIFICATION_ITEM} {NOTIFICATION_FROM} {_where(clauses)}
            ORDER BY n.at DESC, n.id DESC LIMIT %s OFFSET %s""",
        (*params, limit, offset),
    ).fetchall()


def mark_read(conn: psycopg.Connection, notification_id: int, user_id: int, unit_id: int) -> dict | None:
    """Mark a visible notification read (the first reading counts); None when the caller cannot see it."""
    row = conn.execute(
        f"""UPDATE tasks.notifications n SET read_at = coalesce(n.read_at, now())
            WHERE n.id = %s AND {NOTIFICATION_VISIBLE} RETURNING n.id""",
        (notification_id, user_id, unit_id),
    ).fetchone()
    if row is None:
        return None
    return conn.execute(
        f"SELECT {NOTIFICATION_ITEM} {NOTIFICATION_FROM} WHERE n.id = %s", (notification_id,)
    ).fetchone()
