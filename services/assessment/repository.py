"""SQL of the assessment service: the fact ledger, units of a region, bulletins."""

from __future__ import annotations

import psycopg
from psycopg.types.json import Jsonb

from services.assessment.model import Fact


def facts(conn: psycopg.Connection, region_prefix: str, months: list[str]) -> list[dict]:
    return conn.execute(
        """SELECT unit_id, period, kind, value, event_ids, task_id, step_id, ref, source FROM assessment.facts
           WHERE region_code LIKE %s AND period = ANY(%s) ORDER BY id""",
        (region_prefix + "%", months),
    ).fetchall()


def as_facts(rows: list[dict]) -> list[Fact]:
    return [Fact(r["unit_id"], r["period"], r["kind"], float(r["value"]), tuple(str(e) for e in r["event_ids"]),
                 r["task_id"], r["step_id"], r["ref"], r["source"]) for r in rows]


def unit_names(conn: psycopg.Connection, unit_ids: list[int]) -> dict[int, str]:
    return {r["id"]: r["name"] for r in conn.execute(
        "SELECT id, name FROM common.units WHERE id = ANY(%s)", (unit_ids,))}


def assessed_units(conn: psycopg.Connection, region_prefix: str, months: list[str]) -> list[int]:
    """Every unit with a fact in the region and months: the units the ranking covers."""
    return [r["unit_id"] for r in conn.execute(
        "SELECT DISTINCT unit_id FROM assessment.facts WHERE region_code LIKE %s AND period = ANY(%s) ORDER BY 1",
        (region_prefix + "%", months))]


def region(conn: psycopg.Connection, code: str) -> dict | None:
    return conn.execute("SELECT code, name, level FROM common.regions WHERE code = %s", (code,)).fetchone()


def save_bulletin(conn: psycopg.Connection, *, kind: str, region_code: str, period: str, title: str, data: dict,
                  html: str, xlsx: bytes, generated_by: str) -> int:
    return conn.execute(
        """INSERT INTO assessment.bulletins (kind, region_code, period, title, data, html, xlsx, generated_by)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
           ON CONFLICT (kind, region_code, period) DO UPDATE SET title = EXCLUDED.title, data = EXCLUDED.data,
               html = EXCLUDED.html, xlsx = EXCLUDED.xlsx, generated_by = EXCLUDED.generated_by, created_at = now()
           RETURNING id""",
        (kind, region_code, period, title, Jsonb(data), html, xlsx, generated_by),
    ).fetchone()["id"]


def list_bulletins(conn: psycopg.Connection, region_prefix: str, kind: str | None) -> list[dict]:
    return conn.execute(
        f"""SELECT id, kind, region_code, period, title, generated_by, created_at FROM assessment.bulletins
            WHERE region_code LIKE %s {"AND kind = %s" if kind else ""} ORDER BY period DESC, id DESC""",
        (region_prefix + "%", kind) if kind else (region_prefix + "%",),
    ).fetchall()


def get_bulletin(conn: psycopg.Connection, bulletin_id: int) -> dict | None:
    return conn.execute("SELECT * FROM assessment.bulletins WHERE id = %s", (bulletin_id,)).fetchone()


def bulletin_to_announce(conn: psycopg.Connection, bulletin_id: int) -> dict | None:
    """The bulletin, locked, if it was (re)generated after its last announcement."""
    return conn.execute(
        """SELECT id, title, data FROM assessment.bulletins
           WHERE id = %s AND (notified_at IS NULL OR notified_at < created_at) FOR UPDATE""",
        (bulletin_id,),
    ).fetchone()


def mark_announced(conn: psycopg.Connection, bulletin_id: int) -> None:
    conn.execute("UPDATE assessment.bulletins SET notified_at = now() WHERE id = %s", (bulletin_id,))
