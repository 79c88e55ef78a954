"""SQL of the tasks service: units, regions and users (the registry it fronts)."""

from __future__ import annotations

import psycopg

from services.common.units import normalize_name

USER_COLUMNS = """u.id, u.username, u.full_name, u.unit_id, n.name AS unit_name, u.roles, u.disabled, u.created_at"""


def list_regions(conn: psycopg.Connection, prefix: str, parent_code: str | None) -> list[dict]:
    if parent_code:
        return conn.execute(
            "SELECT code, name, level, parent_code FROM common.regions WHERE parent_code = %s AND code LIKE %s ORDER BY code",
            (parent_code, prefix + "%"),
        ).fetchall()
    return conn.execute(
        "SELECT code, name, level, parent_code FROM common.regions WHERE code LIKE %s ORDER BY code LIMIT 2000",
        (prefix + "%",),
    ).fetchall()


def get_region(conn: psycopg.Connection, code: str) -> dict | None:
    return conn.execute("SELECT code, name, level, parent_code FROM common.regions WHERE code = %s", (code,)).fetchone()


def list_units(conn: psycopg.Connection, prefix: str, region_code: str | None, q: str | None, limit: int, offset: int) -> list[dict]:
    clauses, params = ["region_code LIKE %s"], [prefix + "%"]
    if region_code:
        clauses.append("region_code = %s")
        params.append(region_code)
    if q:
        clauses.append("(name LIKE %s OR EXISTS (SELECT 1 FROM unnest(aliases) a WHERE a LIKE %s))")
        params += [f"%{q}%", f"%{q}%"]
    return conn.execute(
        f"""SELECT id, name, aliases, kind, region_code, confirmed FROM common.units
            WHERE {' AND '.join(clauses)} ORDER BY region_code, id LIMIT %s OFFSET %s""",
        (*params, limit, offset),
    ).fetchall()


def get_unit(conn: psycopg.Connection, unit_id: int) -> dict | None:
    return conn.execute(
        "SELECT id, name, aliases, kind, region_code, confirmed FROM common.units WHERE id = %s", (unit_id,)
    ).fetchone()


def find_unit_by_name(conn: psycopg.Connection, region_code: str, name: str) -> dict | None:
    return conn.execute(
        "SELECT id FROM common.units WHERE region_code = %s AND (name = %s OR %s = ANY(aliases))",
        (region_code, name, name),
    ).fetchone()


def insert_unit(conn: psycopg.Connection, name: str, aliases: list[str], kind: str, region_code: str, confirmed: bool = True) -> dict:
    return conn.execute(
        """INSERT INTO common.units (name, aliases, kind, region_code, confirmed) VALUES (%s, %s, %s, %s, %s)
           RETURNING id, name, aliases, kind, region_code, confirmed""",
        (normalize_name(name), [normalize_name(a) for a in aliases], kind, region_code, confirmed),
    ).fetchone()


def list_users(conn: psycopg.Connection, prefix: str, limit: int, offset: int) -> list[dict]:
    return conn.execute(
        f"""SELECT {USER_COLUMNS} FROM common.users u JOIN common.units n ON n.id = u.unit_id
            WHERE n.region_code LIKE %s ORDER BY u.id LIMIT %s OFFSET %s""",
        (prefix + "%", limit, offset),
    ).fetchall()


def get_user(conn: psycopg.Connection, user_id: int) -> dict | None:
    return conn.execute(
        f"SELECT {USER_COLUMNS}, n.region_code FROM common.users u JOIN common.units n ON n.id = u.unit_id WHERE u.id = %s",
        (user_id,),
    ).fetchone()


def username_taken(conn: psycopg.Connection, username: str) -> bool:
    return conn.execute("SELECT 1 FROM common.users WHERE username = %s", (username,)).fetchone() is not None


def insert_user(conn: psycopg.Connection, username: str, full_name: str, unit_id: int, roles: list[str], password_hash: str) -> int:
    return conn.execute(
        """INSERT INTO common.users (username, full_name, unit_id, roles, password_hash)
           VALUES (%s, %s, %s, %s, %s) RETURNING id""",
        (username, full_name, unit_id, roles, password_hash),
    ).fetchone()["id"]


def update_user(conn: psycopg.Connection, user_id: int, changes: dict) -> None:
    allowed = {"full_name", "roles", "disabled", "password_hash"}
    if not changes or not set(changes) <= allowed:
        raise ValueError(f"cannot update {set(changes) - allowed}")
    sets = ", ".join(f"{k} = %s" for k in changes)
    conn.execute(f"UPDATE common.users SET {sets} WHERE id = %s", (*changes.values(), user_id))


def add_alias(conn: psycopg.Connection, unit_id: int, alias: str) -> None:
    conn.execute(
        "UPDATE common.units SET aliases = array_append(aliases, %s) WHERE id = %s AND NOT (%s = ANY(aliases))",
        (normalize_name(alias), unit_id, normalize_name(alias)),
    )
