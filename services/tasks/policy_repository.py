"""SQL of policy documents, their draft measures and the tasks published from them."""

from __future__ import annotations

import psycopg
from psycopg.types.json import Jsonb

MEASURE_COLUMNS = """id, document_id, position, ref, title, text, lead_units, responsible_units, lead_inferred,
                     and_others, raw_annotation, targets, deadlines, edited"""
DOCUMENT_COLUMNS = """id, region_code, title, issuer, doc_date, filename, content_type, status, amends_id,
                      uploaded_by, created_at, published_at"""


def insert_document(conn: psycopg.Connection, *, region_code: str, parsed: dict, filename: str, content_type: str,
                    content: bytes, sha256: str, uploaded_by: int, amends_id: int | None) -> int:
    return conn.execute(
        """INSERT INTO tasks.policy_documents (region_code, title, issuer, doc_date, filename, content_type, content,
                                               content_sha256, parsed, uploaded_by, amends_id)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id""",
        (region_code, parsed.get("title"), parsed.get("issuer"), parsed.get("date"), filename, content_type, content,
         sha256, Jsonb(parsed), uploaded_by, amends_id),
    ).fetchone()["id"]


def insert_measures(conn: psycopg.Connection, document_id: int, measures: list[dict]) -> None:
    with conn.cursor() as cur:
        cur.executemany(
            """INSERT INTO tasks.draft_measures (document_id, position, ref, title, text, lead_units, responsible_units,
                                                lead_inferred, and_others, raw_annotation, targets, deadlines, edited)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
            [
                (document_id, i, m["ref"], m["title"], m["text"], m["lead_units"], m["responsible_units"],
                 m["lead_inferred"], m["and_others"], m.get("raw_annotation", ""), Jsonb(m.get("targets", [])),
                 Jsonb(m.get("deadlines", [])), m.get("edited", False))
                for i, m in enumerate(measures)
            ],
        )


def replace_measures(conn: psycopg.Connection, document_id: int, measures: list[dict]) -> None:
    """Rewrite a draft's measure list (after a merge or split), keeping ids where they are kept.

    Positions are unique per document, checked at commit, so they can be shuffled here.
    """
    keep = [m["id"] for m in measures if m.get("id")]
    conn.execute("DELETE FROM tasks.draft_measures WHERE document_id = %s AND NOT (id = ANY(%s))", (document_id, keep))
    for i, m in enumerate(measures):
        if m.get("id"):
            update_measure(conn, m["id"], {**{k: m[k] for k in EDITABLE}, "position": i, "edited": m.get("edited", False)})
        else:
            insert_measures_at(conn, document_id, i, m)


EDITABLE = ("ref", "title", "text", "lead_units", "responsible_units", "lead_inferred", "and_others",
            "raw_annotation", "targets", "deadlines")


def insert_measures_at(conn: psycopg.Connection, document_id: int, position: int, m: dict) -> None:
    conn.execute(
        """INSERT INTO tasks.draft_measures (document_id, position, ref, title, text, lead_units, responsible_units,
                                            lead_inferred, and_others, raw_annotation, targets, deadlines, edited)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
        (document_id, position, m["ref"], m["title"], m["text"], m["lead_units"], m["responsible_units"],
         m["lead_inferred"], m["and_others"], m.get("raw_annotation", ""), Jsonb(m.get("targets", [])),
         Jsonb(m.get("deadlines", [])), m.get("edited", True)),
    )


def update_measure(conn: psycopg.Connection, measure_id: int, changes: dict) -> None:
    values = {k: (Jsonb(v) if k in ("targets", "deadlines") else v) for k, v in changes.items()}
    sets = ", ".join(f"{k} = %s" for k in values)
    conn.execute(f"UPDATE tasks.draft_measures SET {sets} WHERE id = %s", (*values.values(), measure_id))


def list_documents(conn: psycopg.Connection, prefix: str, status: str | None, limit: int, offset: int) -> list[dict]:
    clauses, params = ["d.region_code LIKE %s", "d.kind = 'policy'"], [prefix + "%"]
    if status:
        clauses.append("d.status = %s")
        params.append(status)
    return conn.execute(
        f"""SELECT {', '.join('d.' + c.strip() for c in DOCUMENT_COLUMNS.split(','))},
                   (SELECT count(*) FROM tasks.draft_measures m WHERE m.document_id = d.id) AS measure_count,
                   (SELECT count(*) FROM tasks.tasks t WHERE t.document_id = d.id) AS task_count
            FROM tasks.policy_documents d WHERE {' AND '.join(clauses)}
            ORDER BY d.id DESC LIMIT %s OFFSET %s""",
        (*params, limit, offset),
    ).fetchall()


def get_document(conn: psycopg.Connection, document_id: int, for_update: bool = False) -> dict | None:
    lock = " FOR UPDATE" if for_update else ""
    return conn.execute(
        f"SELECT {DOCUMENT_COLUMNS}, parsed FROM tasks.policy_documents WHERE id = %s{lock}", (document_id,)
    ).fetchone()


def get_document_content(conn: psycopg.Connection, document_id: int) -> dict | None:
    return conn.execute(
        "SELECT filename, content_type, content FROM tasks.policy_documents WHERE id = %s", (document_id,)
    ).fetchone()


def find_published_by_title(conn: psycopg.Connection, region_code: str, title: str | None) -> dict | None:
    if not title:
        return None
    return conn.execute(
        """SELECT id FROM tasks.policy_documents
           WHERE region_code = %s AND title = %s AND status = 'published' AND kind = 'policy'
           ORDER BY published_at DESC LIMIT 1""",
        (region_code, title),
    ).fetchone()


def find_by_sha(conn: psycopg.Connection, region_code: str, sha256: str) -> dict | None:
    return conn.execute(
        """SELECT id, status FROM tasks.policy_documents WHERE region_code = %s AND content_sha256 = %s
           ORDER BY id DESC LIMIT 1""",
        (region_code, sha256),
    ).fetchone()


def list_measures(conn: psycopg.Connection, document_id: int) -> list[dict]:
    return conn.execute(
        f"SELECT {MEASURE_COLUMNS} FROM tasks.draft_measures WHERE document_id = %s ORDER BY position", (document_id,)
    ).fetchall()


def set_status(conn: psycopg.Connection, document_id: int, status: str) -> None:
    conn.execute(
        """UPDATE tasks.policy_documents SET status = %s,
                  published_at = CASE WHEN %s = 'published' THEN now() ELSE published_at END WHERE id = %s""",
        (status, status, document_id),
    )


def insert_task(conn: psycopg.Connection, *, document_id: int, measure: dict, region_code: str,
                lead_unit_ids: list[int], responsible_unit_ids: list[int], due_at: str | None,
                reporting_calendar: dict) -> int | None:
    """Insert the task of a measure; None when that measure was already published (idempotent)."""
    row = conn.execute(
        """INSERT INTO tasks.tasks (document_id, measure_id, region_code, ref, title, text, lead_units,
                                    responsible_units, lead_unit_ids, responsible_unit_ids, targets, deadlines,
                                    due_at, reporting_calendar)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
           ON CONFLICT (measure_id) DO NOTHING RETURNING id""",
        (document_id, measure["id"], region_code, measure["ref"], measure["title"], measure["text"],
         measure["lead_units"], measure["responsible_units"], lead_unit_ids, responsible_unit_ids,
         Jsonb(measure["targets"]), Jsonb(measure["deadlines"]), due_at, Jsonb(reporting_calendar)),
    ).fetchone()
    return row["id"] if row else None


def list_tasks(conn: psycopg.Connection, document_id: int) -> list[dict]:
    return conn.execute(
        """SELECT id, document_id, measure_id, region_code, ref, title, lead_units, responsible_units, lead_unit_ids,
                  responsible_unit_ids, targets, deadlines, due_at, status, published_at
           FROM tasks.tasks WHERE document_id = %s ORDER BY id""",
        (document_id,),
    ).fetchall()
