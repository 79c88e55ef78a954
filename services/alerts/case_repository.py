"""SQL of alert cases: linking alert groups to cases (the starter), mirroring the case
workflows' state (activities), and the lists, page and counts the API reads.

Reads and writes the alerts schema only; every function runs in the caller's
transaction and never commits.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from services.common.units import code_prefix

# The SLA colour as the read model computes it between two wake-ups of a workflow
# (the same rule as case_deadlines.sla_state).
SLA = """CASE WHEN c.status <> 'open' OR c.due_at IS NULL THEN 'green'
              WHEN c.overdue OR c.due_at <= now() THEN 'red'
              WHEN c.due_at <= now() + make_interval(days => c.amber_days) THEN 'amber'
              ELSE 'green' END"""


# ---------------------------------------------------------------- the starter

def groups_without_case(conn: psycopg.Connection, limit: int) -> list[dict]:
    """Open household alert groups that fire (not only inhibited findings) and have no case yet."""
    return conn.execute(
        """SELECT g.id, g.household_id, g.village_code, g.township_code, g.county_code, g.period, g.severity,
                  g.created_at, h.category, h.no_labour_capacity,
                  (SELECT coalesce(array_agg(DISTINCT a.cause), '{}') FROM alerts.alerts a
                   WHERE a.group_id = g.id AND a.status = 'firing') AS causes
           FROM alerts.alert_groups g JOIN alerts.households h ON h.id = g.household_id
           WHERE g.case_id IS NULL AND g.household_id IS NOT NULL AND g.status = 'open' AND g.severity <> 'info'
           ORDER BY g.id LIMIT %s FOR UPDATE OF g SKIP LOCKED""",
        (limit,),
    ).fetchall()


def latest_case_of(conn: psycopg.Connection, household_id: int) -> dict | None:
    return conn.execute(
        "SELECT * FROM alerts.cases WHERE household_id = %s ORDER BY id DESC LIMIT 1 FOR UPDATE",
        (household_id,),
    ).fetchone()


def township_unit(conn: psycopg.Connection, township_code: str) -> int | None:
    row = conn.execute(
        "SELECT id FROM common.units WHERE region_code = %s AND kind = 'township' ORDER BY id LIMIT 1",
        (township_code,),
    ).fetchone()
    return row["id"] if row else None


def insert_case(conn: psycopg.Connection, group: dict, township_unit_id: int | None, fast_path: bool,
                amber_days: int, due_at: Any) -> dict:
    """A household's first case, alerted when its group was created, due for 核查 at `due_at`."""
    return conn.execute(
        """INSERT INTO alerts.cases (id, household_id, village_code, township_code, county_code, township_unit_id,
                                     fast_path, alerted_at, amber_days, due_at)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING *""",
        (group["id"], group["household_id"], group["village_code"], group["township_code"], group["county_code"],
         township_unit_id, fast_path, group["created_at"], amber_days, due_at),
    ).fetchone()


def reopen_case(conn: psycopg.Connection, case_id: int, group: dict, fast_path: bool, due_at: Any) -> dict:
    """A closed case's next run, back at 核查, from the new alert."""
    return conn.execute(
        """UPDATE alerts.cases SET run = run + 1, stage = 'verify', status = 'open', alerted_at = %s, fast_path = %s,
                  due_at = %s, overdue = false, escalation_level = 0, monitoring_kind = NULL, basic_support = false,
                  stable_months = 0, notice_ends_at = NULL, verified_at = NULL, confirmed_at = NULL,
                  plan_made_at = NULL, closed_at = NULL, workflow_started_at = NULL, updated_at = now()
           WHERE id = %s RETURNING *""",
        (group["created_at"], fast_path, due_at, case_id),
    ).fetchone()


def link_group(conn: psycopg.Connection, group_id: int, case_id: int) -> None:
    conn.execute("UPDATE alerts.alert_groups SET case_id = %s WHERE id = %s", (case_id, group_id))


def add_event(conn: psycopg.Connection, case_id: int, run: int, kind: str, stage: str,
              actor_user_id: int | None = None, detail: dict | None = None, at: Any = None) -> None:
    conn.execute(
        """INSERT INTO alerts.case_events (case_id, run, kind, stage, actor_user_id, detail, at)
           VALUES (%s, %s, %s, %s, %s, %s, coalesce(%s, now()))""",
        (case_id, run, kind, stage, actor_user_id, Jsonb(detail or {}), at),
    )


def cases_to_start(conn: psycopg.Connection, limit: int) -> list[dict]:
    """Runs whose workflow has not been started, with what their workflow input needs."""
    return conn.execute(
        """SELECT c.*, h.household_no, h.category, h.no_labour_capacity FROM alerts.cases c
           JOIN alerts.households h ON h.id = c.household_id
           WHERE c.workflow_started_at IS NULL ORDER BY c.id LIMIT %s""",
        (limit,),
    ).fetchall()


def mark_started(conn: psycopg.Connection, runs: list[tuple[int, int]]) -> None:
    conn.execute(
        """UPDATE alerts.cases c SET workflow_started_at = now() FROM unnest(%s::bigint[], %s::int[]) AS x (id, run)
           WHERE c.id = x.id AND c.run = x.run""",
        ([r[0] for r in runs], [r[1] for r in runs]),
    )


# ---------------------------------------------------------------- the workflow's mirror

def get_case(conn: psycopg.Connection, case_id: int, for_update: bool = False) -> dict | None:
    return conn.execute(
        f"SELECT c.*, {SLA} AS sla FROM alerts.cases c WHERE c.id = %s" + (" FOR UPDATE" if for_update else ""),
        (case_id,),
    ).fetchone()


def update_case(conn: psycopg.Connection, case_id: int, run: int, changes: dict) -> bool:
    """Write the workflow's view of this run; False when the row has moved on to a later run."""
    columns = ", ".join(f"{k} = %s" for k in changes)
    row = conn.execute(
        f"UPDATE alerts.cases SET {columns}, updated_at = now() WHERE id = %s AND run = %s RETURNING id",
        (*changes.values(), case_id, run),
    ).fetchone()
    return row is not None


def insert_escalation(conn: psycopg.Connection, case_id: int, run: int, stage: str, level: int, to_role: str,
                      county_code: str, at: str) -> bool:
    row = conn.execute(
        """INSERT INTO alerts.case_escalations (case_id, run, stage, level, to_role, county_code, at)
           VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING id""",
        (case_id, run, stage, level, to_role, county_code, at),
    ).fetchone()
    return row is not None


def action_result(conn: psycopg.Connection, key: str) -> dict | None:
    row = conn.execute("SELECT result FROM alerts.case_action_keys WHERE idempotency_key = %s", (key,)).fetchone()
    return row["result"] if row else None


def save_action_key(conn: psycopg.Connection, key: str, case_id: int, action: str, result: dict) -> None:
    conn.execute("INSERT INTO alerts.case_action_keys (idempotency_key, case_id, action, result) VALUES (%s, %s, %s, %s)",
                 (key, case_id, action, Jsonb(result)))


def insert_measure(conn: psycopg.Connection, case_id: int, run: int, position: int, m: dict) -> bool:
    row = conn.execute(
        """INSERT INTO alerts.case_measures (case_id, run, position, kind, label, unit_id, due_date, content)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING id""",
        (case_id, run, position, m["kind"], m["label"], m["unit_id"], m["due_date"], m["content"]),
    ).fetchone()
    return row is not None


def set_measure_task(conn: psycopg.Connection, case_id: int, run: int, position: int, task_id: int) -> None:
    conn.execute("UPDATE alerts.case_measures SET task_id = %s WHERE case_id = %s AND run = %s AND position = %s",
                 (task_id, case_id, run, position))


def household_for_notice(conn: psycopg.Connection, household_id: int) -> dict:
    return conn.execute(
        """SELECT h.*, v.name AS village_name, t.name AS township_name, c.name AS county_name
           FROM alerts.households h JOIN common.regions v ON v.code = h.village_code
           LEFT JOIN common.regions t ON t.code = h.township_code LEFT JOIN common.regions c ON c.code = h.county_code
           WHERE h.id = %s""",
        (household_id,),
    ).fetchone()


def members(conn: psycopg.Connection, household_id: int) -> list[dict]:
    return conn.execute("SELECT * FROM alerts.household_members WHERE household_id = %s ORDER BY id",
                        (household_id,)).fetchall()


# ---------------------------------------------------------------- lists and the case page

def _filters(prefix: str, stage: str | None, status: str | None, sla: str | None,
             township: str | None, unit_id: int | None) -> tuple[str, list]:
    clauses, params = ["c.village_code LIKE %s"], [prefix + "%"]
    for column, value in (("c.stage", stage), ("c.status", status), ("c.township_code", township),
                          ("c.township_unit_id", unit_id)):
        if value is not None:
            clauses.append(f"{column} = %s")
            params.append(value)
    if sla is not None:
        clauses.append(f"({SLA}) = %s")
        params.append(sla)
    return " AND ".join(clauses), params


CASE_ITEM = f"""c.id, c.household_id, h.household_no, h.head_name, h.category, c.village_code, v.name AS village_name,
                c.township_code, t.name AS township_name, c.county_code, c.township_unit_id, c.run, c.fast_path, c.stage, c.status, c.alerted_at,
                c.due_at, {SLA} AS sla, c.overdue, c.escalation_level, c.monitoring_kind, c.basic_support,
                c.stable_months, c.notice_ends_at, c.verified_at, c.confirmed_at, c.plan_made_at, c.closed_at,
                c.updated_at"""
CASE_FROM = """FROM alerts.cases c JOIN alerts.households h ON h.id = c.household_id
               JOIN common.regions v ON v.code = c.village_code
               LEFT JOIN common.regions t ON t.code = c.township_code"""


def list_cases(conn: psycopg.Connection, prefix: str, *, limit: int, offset: int, **filters: Any) -> tuple[int, list]:
    where, params = _filters(prefix, **filters)
    total = conn.execute(f"SELECT count(*) AS n FROM alerts.cases c WHERE {where}", params).fetchone()["n"]
    rows = conn.execute(
        f"""SELECT {CASE_ITEM} {CASE_FROM} WHERE {where}
            ORDER BY ({SLA}) = 'red' DESC, ({SLA}) = 'amber' DESC, c.due_at NULLS LAST, c.id LIMIT %s OFFSET %s""",
        (*params, limit, offset),
    ).fetchall()
    return total, rows


def case_page(conn: psycopg.Connection, case_id: int) -> dict | None:
    return conn.execute(f"SELECT {CASE_ITEM} {CASE_FROM} WHERE c.id = %s", (case_id,)).fetchone()


def timeline(conn: psycopg.Connection, case_id: int) -> list[dict]:
    return conn.execute(
        """SELECT e.id, e.run, e.at, e.kind, e.stage, e.actor_user_id, coalesce(u.full_name, u.username) AS actor_name,
                  e.detail FROM alerts.case_events e LEFT JOIN common.users u ON u.id = e.actor_user_id
           WHERE e.case_id = %s ORDER BY e.at, e.id""",
        (case_id,),
    ).fetchall()


def case_measures(conn: psycopg.Connection, case_id: int) -> list[dict]:
    return conn.execute(
        """SELECT m.run, m.position, m.kind, m.label, m.unit_id, u.name AS unit_name, m.due_date, m.content, m.task_id
           FROM alerts.case_measures m JOIN common.units u ON u.id = m.unit_id
           WHERE m.case_id = %s ORDER BY m.run, m.position""",
        (case_id,),
    ).fetchall()


def case_escalations(conn: psycopg.Connection, case_id: int) -> list[dict]:
    return conn.execute("SELECT run, stage, level, to_role, at FROM alerts.case_escalations WHERE case_id = %s "
                        "ORDER BY run, at, level", (case_id,)).fetchall()


def case_groups(conn: psycopg.Connection, case_id: int) -> list[dict]:
    return conn.execute("SELECT id, period, severity, status, created_at FROM alerts.alert_groups WHERE case_id = %s "
                        "ORDER BY id", (case_id,)).fetchall()


def case_causes(conn: psycopg.Connection, case_id: int, since: Any) -> list[str]:
    """The causes of the alerts that led to this run of the case (its groups since `since`)."""
    return [r["cause"] for r in conn.execute(
        """SELECT DISTINCT a.cause FROM alerts.alerts a JOIN alerts.alert_groups g ON g.id = a.group_id
           WHERE g.case_id = %s AND g.created_at >= %s ORDER BY a.cause""",
        (case_id, since),
    )]


def notice_published_at(conn: psycopg.Connection, case_id: int, run: int) -> Any:
    """When this run's 公示 began, or None when the household was not proposed (or not yet verified)."""
    row = conn.execute("SELECT min(at) AS at FROM alerts.case_events WHERE case_id = %s AND run = %s "
                       "AND kind = 'notice_published'", (case_id, run)).fetchone()
    return row["at"]


def units_by_id(conn: psycopg.Connection, unit_ids: list[int]) -> dict[int, dict]:
    rows = conn.execute("SELECT id, name, kind, region_code, confirmed FROM common.units WHERE id = ANY(%s)",
                        (unit_ids,)).fetchall()
    return {r["id"]: r for r in rows}


def county_units(conn: psycopg.Connection, county_code: str) -> list[dict]:
    """The confirmed units a plan's measures may go to: the county's departments and townships."""
    return conn.execute("SELECT id, name, kind FROM common.units WHERE region_code LIKE %s AND confirmed "
                        "AND kind <> 'village' ORDER BY region_code, id", (code_prefix(county_code) + "%",)).fetchall()


def counts_by_township(conn: psycopg.Connection, prefix: str) -> list[dict]:
    """Per township: open cases by stage and SLA colour, escalated, eliminated, rejected."""
    return conn.execute(
        f"""SELECT c.township_code, r.name AS township_name,
                   count(*) FILTER (WHERE c.status = 'open') AS open,
                   count(*) FILTER (WHERE c.status = 'open' AND ({SLA}) = 'green') AS green,
                   count(*) FILTER (WHERE c.status = 'open' AND ({SLA}) = 'amber') AS amber,
                   count(*) FILTER (WHERE c.status = 'open' AND ({SLA}) = 'red') AS red,
                   count(*) FILTER (WHERE c.status = 'open' AND c.escalation_level > 0) AS escalated,
                   count(*) FILTER (WHERE c.stage IN ('verify', 'notice', 'confirm')) AS identifying,
                   count(*) FILTER (WHERE c.stage IN ('plan', 'follow_up', 'elimination_proposed')) AS monitored,
                   count(*) FILTER (WHERE c.basic_support AND c.status = 'open') AS basic_support,
                   count(*) FILTER (WHERE c.status = 'eliminated') AS eliminated,
                   count(*) FILTER (WHERE c.status = 'rejected') AS rejected
            FROM alerts.cases c LEFT JOIN common.regions r ON r.code = c.township_code
            WHERE c.village_code LIKE %s GROUP BY c.township_code, r.name ORDER BY c.township_code""",
        (prefix + "%",),
    ).fetchall()
