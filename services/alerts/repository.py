"""SQL of the household register."""

from __future__ import annotations

import psycopg

RECORD_FIELDS = (
    "per_capita_income", "wage_income", "business_income", "property_income", "transfer_income",
    "medical_expense", "education_expense", "disaster_loss", "accident_loss", "labourers", "employed",
    "compulsory_education_ok", "basic_medical_ok", "housing_ok", "drinking_water_ok",
)
HOUSEHOLD_COLUMNS = """h.id, h.household_no, h.county_code, h.township_code, h.village_code, h.head_name,
    h.head_id_number, h.phone, h.category, h.members, h.labourers, h.no_labour_capacity, h.under_assistance,
    h.updated_at"""


def region(conn: psycopg.Connection, code: str) -> dict | None:
    return conn.execute("SELECT code, name, level, parent_code FROM common.regions WHERE code = %s", (code,)).fetchone()


def get_household_by_no(conn: psycopg.Connection, household_no: str, for_update: bool = False) -> dict | None:
    lock = " FOR UPDATE" if for_update else ""
    return conn.execute(
        f"SELECT {HOUSEHOLD_COLUMNS} FROM alerts.households h WHERE household_no = %s{lock}", (household_no,)
    ).fetchone()


def get_household(conn: psycopg.Connection, household_id: int) -> dict | None:
    return conn.execute(
        f"""SELECT {HOUSEHOLD_COLUMNS}, r.name AS village_name FROM alerts.households h
            JOIN common.regions r ON r.code = h.village_code WHERE h.id = %s""",
        (household_id,),
    ).fetchone()


def upsert_household(conn: psycopg.Connection, h: dict, county: str, township: str, user_id: int | None) -> dict:
    return conn.execute(
        f"""INSERT INTO alerts.households AS h (household_no, county_code, township_code, village_code, head_name,
                head_id_number, phone, category, members, labourers, no_labour_capacity, under_assistance, entered_by)
            VALUES (%(household_no)s, %(county)s, %(township)s, %(village_code)s, %(head_name)s, %(head_id_number)s,
                    %(phone)s, %(category)s, %(members)s, %(labourers)s, %(no_labour_capacity)s, %(under_assistance)s,
                    %(user_id)s)
            ON CONFLICT (household_no) DO UPDATE SET county_code = EXCLUDED.county_code,
                township_code = EXCLUDED.township_code, village_code = EXCLUDED.village_code,
                head_name = EXCLUDED.head_name, head_id_number = EXCLUDED.head_id_number, phone = EXCLUDED.phone,
                category = EXCLUDED.category, members = EXCLUDED.members, labourers = EXCLUDED.labourers,
                no_labour_capacity = EXCLUDED.no_labour_capacity, under_assistance = EXCLUDED.under_assistance,
                entered_by = EXCLUDED.entered_by, updated_at = now()
            RETURNING {HOUSEHOLD_COLUMNS}""",
        {**h, "county": county, "township": township, "user_id": user_id},
    ).fetchone()


def replace_members(conn: psycopg.Connection, household_id: int, members: list[dict]) -> None:
    conn.execute("DELETE FROM alerts.household_members WHERE household_id = %s", (household_id,))
    with conn.cursor() as cur:
        cur.executemany(
            """INSERT INTO alerts.household_members (household_id, name, id_number, id_type, relation, labour_skill, health)
               VALUES (%s, %s, %s, %s, %s, %s, %s)""",
            [(household_id, m["name"], m.get("id_number"), m.get("id_type", "居民身份证"), m["relation"],
              m.get("labour_skill"), m.get("health")) for m in members],
        )


def list_members(conn: psycopg.Connection, household_id: int) -> list[dict]:
    return conn.execute(
        """SELECT name, id_number, id_type, relation, labour_skill, health FROM alerts.household_members
           WHERE household_id = %s ORDER BY id""",
        (household_id,),
    ).fetchall()


def get_record(conn: psycopg.Connection, household_id: int, period: str) -> dict | None:
    return conn.execute(
        "SELECT * FROM alerts.household_records WHERE household_id = %s AND period = %s", (household_id, period)
    ).fetchone()


def upsert_record(conn: psycopg.Connection, household_id: int, record: dict, user_id: int | None, source: str) -> dict:
    columns = ", ".join(RECORD_FIELDS)
    placeholders = ", ".join(f"%({f})s" for f in RECORD_FIELDS)
    updates = ", ".join(f"{f} = EXCLUDED.{f}" for f in RECORD_FIELDS)
    return conn.execute(
        f"""INSERT INTO alerts.household_records (household_id, period, {columns}, entered_by, source)
            VALUES (%(household_id)s, %(period)s, {placeholders}, %(user_id)s, %(source)s)
            ON CONFLICT (household_id, period) DO UPDATE SET {updates}, entered_by = EXCLUDED.entered_by,
                entered_at = now(), source = EXCLUDED.source
            RETURNING *""",
        {**{f: record.get(f) for f in RECORD_FIELDS}, "period": record["period"], "household_id": household_id,
         "user_id": user_id, "source": source},
    ).fetchone()


def list_records(conn: psycopg.Connection, household_id: int) -> list[dict]:
    return conn.execute(
        "SELECT * FROM alerts.household_records WHERE household_id = %s ORDER BY period DESC", (household_id,)
    ).fetchall()


def list_households(conn: psycopg.Connection, prefix: str, village: str | None, category: str | None,
                    q: str | None, limit: int, offset: int) -> tuple[int, list[dict]]:
    clauses, params = ["h.village_code LIKE %s"], [prefix + "%"]
    if village:
        clauses.append("h.village_code = %s")
        params.append(village)
    if category:
        clauses.append("h.category = %s")
        params.append(category)
    if q:
        clauses.append("(h.household_no LIKE %s OR h.head_name LIKE %s)")
        params += [f"%{q}%", f"%{q}%"]
    where = " AND ".join(clauses)
    total = conn.execute(f"SELECT count(*) AS n FROM alerts.households h WHERE {where}", params).fetchone()["n"]
    rows = conn.execute(
        f"""SELECT {HOUSEHOLD_COLUMNS}, r.name AS village_name FROM alerts.households h
            JOIN common.regions r ON r.code = h.village_code WHERE {where} ORDER BY h.id LIMIT %s OFFSET %s""",
        (*params, limit, offset),
    ).fetchall()
    return total, rows
