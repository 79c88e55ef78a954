"""SQL of the national export's import and export: members and monitoring records of
households, regions created by an import, village populations. Callers own the
transaction."""

from __future__ import annotations

import psycopg
from psycopg.types.json import Jsonb

MONITORING_FIELDS = ("monitoring_category", "identified_month", "risks", "no_labour_support", "risk_eliminated",
                     "elimination_method", "eliminated_month", "measures")
MEMBER_FIELDS = ("name", "id_number", "id_type", "relation", "labour_skill", "health")


def members_of(conn: psycopg.Connection, household_ids: list[int]) -> dict[int, list[dict]]:
    out: dict[int, list[dict]] = {i: [] for i in household_ids}
    for r in conn.execute(
        f"""SELECT household_id, {", ".join(MEMBER_FIELDS)} FROM alerts.household_members
            WHERE household_id = ANY(%s) ORDER BY household_id, id""", (household_ids,)):
        out[r.pop("household_id")].append(r)
    return out


def monitoring_of(conn: psycopg.Connection, household_ids: list[int]) -> dict[int, dict]:
    return {r.pop("household_id"): r for r in conn.execute(
        f"""SELECT household_id, {", ".join(MONITORING_FIELDS)} FROM alerts.household_monitoring
            WHERE household_id = ANY(%s)""", (household_ids,))}


def save_monitoring(conn: psycopg.Connection, household_id: int, m: dict) -> None:
    conn.execute(
        f"""INSERT INTO alerts.household_monitoring (household_id, {", ".join(MONITORING_FIELDS)})
            VALUES (%(household_id)s, {", ".join(f"%({f})s" for f in MONITORING_FIELDS)})
            ON CONFLICT (household_id) DO UPDATE SET
            {", ".join(f"{f} = EXCLUDED.{f}" for f in MONITORING_FIELDS)}, updated_at = now()""",
        {**{f: m.get(f) for f in MONITORING_FIELDS}, "risks": m.get("risks") or [],
         "measures": Jsonb(m.get("measures") or {}), "household_id": household_id},
    )


def regions_under(conn: psycopg.Connection, prefix: str) -> list[dict]:
    """Counties and townships of a jurisdiction (villages come from `load_villages`)."""
    return conn.execute(
        """SELECT code, name, level, parent_code FROM common.regions
           WHERE level IN ('county', 'township') AND code LIKE %s ORDER BY code""", (prefix + "%",)).fetchall()


def codes_under(conn: psycopg.Connection, parents: list[str]) -> set[str]:
    """Every code already used under these parents (so a new code never collides)."""
    return {r["code"] for r in conn.execute(
        "SELECT code FROM common.regions WHERE parent_code = ANY(%s)", (parents,))}


def create_regions(conn: psycopg.Connection, regions: list[dict]) -> None:
    """Townships and villages named by an import (parents first); existing codes are kept."""
    with conn.cursor() as cur:
        cur.executemany(
            """INSERT INTO common.regions (code, name, level, parent_code) VALUES (%(code)s, %(name)s, %(level)s,
               %(parent_code)s) ON CONFLICT (code) DO NOTHING""", regions)


def set_populations(conn: psycopg.Connection, populations: dict[str, int]) -> list[dict]:
    """Village populations (乡村人口) from the 行政村信息 export; returns the villages whose
    population changed, with the value before."""
    if not populations:
        return []
    return conn.execute(
        """UPDATE common.regions r SET rural_population = x.population
           FROM (SELECT * FROM unnest(%s::text[], %s::int[]) AS x (code, population)) x,
                LATERAL (SELECT rural_population AS before FROM common.regions WHERE code = x.code) b
           WHERE r.code = x.code AND r.rural_population IS DISTINCT FROM x.population
           RETURNING r.code, b.before, x.population""",
        (list(populations), list(populations.values())),
    ).fetchall()


def persons_for_export(conn: psycopg.Connection, prefix: str):
    """One row per member of every household of a jurisdiction (a household without
    members gives one row for its head), with its places, monitoring record and latest
    period record, in 户编号 order; a server-side cursor, so a county's register streams."""
    with conn.cursor(name="national_export") as cur:
        cur.itersize = 2000
        cur.execute(
            """SELECT c.name AS county, t.name AS township, v.name AS village, h.household_no, h.phone, h.category,
                      h.no_labour_capacity, coalesce(m.name, h.head_name) AS name,
                      coalesce(m.id_number, h.head_id_number) AS id_number, coalesce(m.id_type, '居民身份证') AS id_type,
                      coalesce(m.relation, '户主') AS relation, m.labour_skill, m.health,
                      mo.monitoring_category, mo.identified_month, mo.risks, mo.risk_eliminated, mo.elimination_method,
                      mo.eliminated_month, mo.measures, r.period, r.wage_income, r.business_income, r.property_income,
                      r.transfer_income, r.per_capita_income, r.medical_expense, r.compulsory_education_ok,
                      r.housing_ok, r.drinking_water_ok, r.basic_medical_ok
               FROM alerts.households h
               JOIN common.regions v ON v.code = h.village_code
               LEFT JOIN common.regions t ON t.code = h.township_code
               LEFT JOIN common.regions c ON c.code = h.county_code
               LEFT JOIN alerts.household_members m ON m.household_id = h.id
               LEFT JOIN alerts.household_monitoring mo ON mo.household_id = h.id
               LEFT JOIN LATERAL (SELECT * FROM alerts.household_records x WHERE x.household_id = h.id
                                  ORDER BY x.period DESC LIMIT 1) r ON true
               WHERE h.village_code LIKE %s
               ORDER BY h.household_no, m.relation <> '户主', m.id""",
            (prefix + "%",))
        yield from cur


def alerts_for_export(conn: psycopg.Connection, prefix: str) -> list[dict]:
    """The alerts of a jurisdiction with their household and places, newest period first."""
    return conn.execute(
        """SELECT c.name AS county, t.name AS township, v.name AS village, g.subject_key, h.household_no,
                  h.head_name, h.category, a.period, a.rule_name, a.cause, a.severity, a.status, a.first_seen_at,
                  a.last_seen_at, a.source
           FROM alerts.alerts a JOIN alerts.alert_groups g ON g.id = a.group_id
           JOIN common.regions v ON v.code = g.village_code
           LEFT JOIN common.regions t ON t.code = g.township_code
           LEFT JOIN common.regions c ON c.code = g.county_code
           LEFT JOIN alerts.households h ON h.id = g.household_id
           WHERE g.village_code LIKE %s
           ORDER BY a.period DESC, g.village_code, g.subject_key, a.id""",
        (prefix + "%",)).fetchall()
