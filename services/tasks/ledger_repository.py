"""SQL of rectification ledgers (整改台账), their items, the policy document and
measures a published ledger is stored as, and the steps of its items' tasks."""

from __future__ import annotations

import psycopg
from psycopg.types.json import Jsonb

from services.common.units import normalize_name

LEDGER_COLUMNS = """l.id, l.region_code, l.title, l.source, l.year, l.status, l.document_id, l.filename,
                    l.created_by, l.created_at, l.published_at, l.closed_at"""
ITEM_COLUMNS = """i.id, i.ledger_id, i.position, i.ref, i.problem, i.measure, i.responsible_unit_id,
                  u.name AS unit_name, i.responsible_unit_written, i.responsible_person, i.deadline, i.task_list,
                  i.progress, i.source_row, i.measure_id, i.task_id, t.status AS task_status,
                  t.reporting_calendar"""


# ---------------------------------------------------------------- ledgers and items

def insert_ledger(conn: psycopg.Connection, *, region_code: str, title: str, source: str, year: int,
                  created_by: int, original: dict | None) -> int:
    original = original or {}
    return conn.execute(
        """INSERT INTO tasks.ledgers (region_code, title, source, year, created_by, filename, content_type, content,
                                      content_sha256)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id""",
        (region_code, title, source, year, created_by, original.get("filename"), original.get("content_type"),
         original.get("content"), original.get("sha256")),
    ).fetchone()["id"]


def insert_items(conn: psycopg.Connection, ledger_id: int, items: list[dict]) -> None:
    with conn.cursor() as cur:
        cur.executemany(
            """INSERT INTO tasks.ledger_items (ledger_id, position, ref, problem, measure, responsible_unit_id,
                                              responsible_unit_written, responsible_person, deadline, task_list,
                                              progress, source_row)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
            [
                (ledger_id, i, it["ref"] or str(i), it["problem"], it["measure"], it["responsible_unit_id"],
                 it["responsible_unit_written"], it.get("responsible_person") or "", it["deadline"],
                 it.get("task_list") or "", it.get("progress") or "", it.get("source_row"))
                for i, it in enumerate(items, start=1)
            ],
        )


def get_ledger(conn: psycopg.Connection, ledger_id: int, for_update: bool = False) -> dict | None:
    lock = " FOR UPDATE" if for_update else ""
    return conn.execute(f"SELECT {LEDGER_COLUMNS} FROM tasks.ledgers l WHERE l.id = %s{lock}", (ledger_id,)).fetchone()


def get_original(conn: psycopg.Connection, ledger_id: int) -> dict | None:
    return conn.execute("SELECT filename, content_type, content, content_sha256 FROM tasks.ledgers WHERE id = %s",
                        (ledger_id,)).fetchone()


def count_ledgers(conn: psycopg.Connection, prefix: str, status: str | None) -> int:
    clauses, params = _ledger_filters(prefix, status)
    return conn.execute(f"SELECT count(*) AS n FROM tasks.ledgers l WHERE {' AND '.join(clauses)}",
                        params).fetchone()["n"]


def _ledger_filters(prefix: str, status: str | None) -> tuple[list[str], list]:
    clauses, params = ["l.region_code LIKE %s"], [prefix + "%"]
    if status:
        clauses.append("l.status = %s")
        params.append(status)
    return clauses, params


def list_ledgers(conn: psycopg.Connection, prefix: str, status: str | None, limit: int, offset: int) -> list[dict]:
    """Ledgers of a jurisdiction, newest first, with how far their items have come."""
    clauses, params = _ledger_filters(prefix, status)
    return conn.execute(
        f"""SELECT {LEDGER_COLUMNS},
                   count(i.id) AS item_count,
                   count(i.task_id) AS published_count,
                   count(*) FILTER (WHERE t.status = 'closed') AS signed_off_count,
                   count(*) FILTER (WHERE i.deadline < (now() AT TIME ZONE 'Asia/Shanghai')::date
                                          AND coalesce(t.status, 'open') <> 'closed') AS past_deadline_count
            FROM tasks.ledgers l LEFT JOIN tasks.ledger_items i ON i.ledger_id = l.id
            LEFT JOIN tasks.tasks t ON t.id = i.task_id
            WHERE {' AND '.join(clauses)}
            GROUP BY l.id ORDER BY l.id DESC LIMIT %s OFFSET %s""",
        (*params, limit, offset),
    ).fetchall()


def list_items(conn: psycopg.Connection, ledger_id: int) -> list[dict]:
    return conn.execute(
        f"""SELECT {ITEM_COLUMNS} FROM tasks.ledger_items i JOIN common.units u ON u.id = i.responsible_unit_id
            LEFT JOIN tasks.tasks t ON t.id = i.task_id WHERE i.ledger_id = %s ORDER BY i.position""",
        (ledger_id,),
    ).fetchall()


def get_item(conn: psycopg.Connection, ledger_id: int, item_id: int) -> dict | None:
    return conn.execute(
        f"""SELECT {ITEM_COLUMNS} FROM tasks.ledger_items i JOIN common.units u ON u.id = i.responsible_unit_id
            LEFT JOIN tasks.tasks t ON t.id = i.task_id WHERE i.ledger_id = %s AND i.id = %s""",
        (ledger_id, item_id),
    ).fetchone()


def get_item_by_task(conn: psycopg.Connection, task_id: int) -> dict | None:
    return conn.execute(
        f"""SELECT {ITEM_COLUMNS} FROM tasks.ledger_items i JOIN common.units u ON u.id = i.responsible_unit_id
            JOIN tasks.tasks t ON t.id = i.task_id WHERE i.task_id = %s""",
        (task_id,),
    ).fetchone()


def link_item(conn: psycopg.Connection, item_id: int, measure_id: int, task_id: int) -> None:
    conn.execute("UPDATE tasks.ledger_items SET measure_id = %s, task_id = %s WHERE id = %s",
                 (measure_id, task_id, item_id))


def set_published(conn: psycopg.Connection, ledger_id: int, document_id: int) -> None:
    conn.execute(
        """UPDATE tasks.ledgers SET status = 'published', document_id = %s, published_at = coalesce(published_at, now())
           WHERE id = %s""",
        (document_id, ledger_id),
    )


def set_closed(conn: psycopg.Connection, ledger_id: int) -> bool:
    """Close a published ledger whose every item is signed off; True when it closed now."""
    row = conn.execute(
        """UPDATE tasks.ledgers l SET status = 'closed', closed_at = now()
           WHERE l.id = %s AND l.status = 'published'
             AND NOT EXISTS (SELECT 1 FROM tasks.ledger_items i LEFT JOIN tasks.tasks t ON t.id = i.task_id
                             WHERE i.ledger_id = l.id AND coalesce(t.status, 'open') <> 'closed')
           RETURNING id""",
        (ledger_id,),
    ).fetchone()
    return row is not None


# ---------------------------------------------------------------- units

def unit_with_region(conn: psycopg.Connection, unit_id: int) -> dict | None:
    return conn.execute(
        """SELECT n.id, n.name, n.region_code, r.level AS region_level FROM common.units n
           JOIN common.regions r ON r.code = n.region_code WHERE n.id = %s""",
        (unit_id,),
    ).fetchone()


def units_below(conn: psycopg.Connection, prefix: str, name: str) -> list[dict]:
    """Units inside a jurisdiction (a township government for a county ledger) by name or alias."""
    key = normalize_name(name)
    return conn.execute(
        """SELECT id, name, region_code FROM common.units
           WHERE region_code LIKE %s AND (name = %s OR %s = ANY(aliases)) ORDER BY region_code, id LIMIT 5""",
        (prefix + "%", key, key),
    ).fetchall()


# ---------------------------------------------------------------- the published form

def insert_document(conn: psycopg.Connection, *, region_code: str, title: str, issuer: str | None, doc_date: str,
                    filename: str, content_type: str, content: bytes, sha256: str, parsed: dict,
                    uploaded_by: int) -> int:
    """The policy document of kind 'ledger' a published ledger's tasks belong to (published at once)."""
    return conn.execute(
        """INSERT INTO tasks.policy_documents (region_code, title, issuer, doc_date, filename, content_type, content,
                                               content_sha256, parsed, status, uploaded_by, kind, published_at)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, 'published', %s, 'ledger', now()) RETURNING id""",
        (region_code, title, issuer, doc_date, filename, content_type, content, sha256, Jsonb(parsed), uploaded_by),
    ).fetchone()["id"]


def insert_measure(conn: psycopg.Connection, document_id: int, position: int, m: dict) -> int:
    return conn.execute(
        """INSERT INTO tasks.draft_measures (document_id, position, ref, title, text, lead_units, responsible_units,
                                            lead_inferred, and_others, raw_annotation, targets, deadlines, edited)
           VALUES (%s, %s, %s, %s, %s, %s, %s, false, false, '', %s, %s, false) RETURNING id""",
        (document_id, position, m["ref"], m["title"], m["text"], m["lead_units"], m["responsible_units"],
         Jsonb(m["targets"]), Jsonb(m["deadlines"])),
    ).fetchone()["id"]


# ---------------------------------------------------------------- steps of the items' tasks

def steps_of(conn: psycopg.Connection, task_ids: list[int]) -> list[dict]:
    """The read model of the items' steps (as the task workflows mirror it), by task and opening time."""
    if not task_ids:
        return []
    return conn.execute(
        """SELECT s.id, s.task_id, s.unit_id, s.kind, s.period, s.label, s.opened_at, s.due_at,
                  ((s.due_at - interval '1 microsecond') AT TIME ZONE 'Asia/Shanghai')::date AS due_date, s.status,
                  (s.overdue OR (s.status IN ('open', 'returned') AND s.due_at <= now())) AS overdue,
                  s.escalation_level, s.extension_requested, s.submission, s.submitted_at, s.approved_at
           FROM tasks.steps s WHERE s.task_id = ANY(%s) ORDER BY s.task_id, s.opened_at, s.due_at, s.id""",
        (task_ids,),
    ).fetchall()


def completion_step(conn: psycopg.Connection, task_id: int) -> dict | None:
    return conn.execute(
        """SELECT id, status, submission, submitted_at, approved_at FROM tasks.steps
           WHERE task_id = %s AND kind = 'completion_report' ORDER BY id DESC LIMIT 1""",
        (task_id,),
    ).fetchone()
