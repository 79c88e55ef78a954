"""SQL of alerts, alert groups and silences."""

from __future__ import annotations

import psycopg
from psycopg.types.json import Jsonb

from services.alerts.alerting import Decision, Silence


def active_silences(conn: psycopg.Connection) -> list[Silence]:
    return [
        Silence(r["region_code"], r["rule_id"], r["subject_key"], r["expires_at"])
        for r in conn.execute(
            "SELECT region_code, rule_id, subject_key, expires_at FROM alerts.silences WHERE expires_at > now()"
        )
    ]


def open_rule_ids(conn: psycopg.Connection, subject_key: str, period: str) -> set[str]:
    return {
        r["rule_id"]
        for r in conn.execute(
            "SELECT rule_id FROM alerts.alerts WHERE subject_key = %s AND period = %s AND status <> 'resolved'",
            (subject_key, period),
        )
    }


def upsert_group(conn: psycopg.Connection, *, subject_key: str, household_id: int | None, village_code: str,
                 township_code: str, county_code: str, period: str, severity: str,
                 routed_unit_ids: list[int]) -> tuple[dict, bool]:
    """The open group of a subject and period; True when it is new (or reopened)."""
    row = conn.execute(
        """INSERT INTO alerts.alert_groups AS g (subject_key, household_id, village_code, township_code, county_code,
                                                 period, severity, routed_unit_ids)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
           ON CONFLICT (subject_key, period) DO UPDATE SET severity = EXCLUDED.severity,
               routed_unit_ids = EXCLUDED.routed_unit_ids, status = 'open', updated_at = now()
           RETURNING id, (xmax = 0) AS inserted, (SELECT status FROM alerts.alert_groups WHERE id = g.id) AS was""",
        (subject_key, household_id, village_code, township_code, county_code, period, severity, routed_unit_ids),
    ).fetchone()
    return row, bool(row["inserted"]) or row["was"] == "resolved"


def upsert_alert(conn: psycopg.Connection, group_id: int, subject_key: str, period: str, decision: Decision,
                 rule_set: str, routed_unit_ids: list[int], event_id) -> None:
    f = decision.finding
    conn.execute(
        """INSERT INTO alerts.alerts (group_id, subject_key, rule_id, rule_name, cause, severity, period, status, detail,
                                      source, rule_set, routed_unit_ids, last_event_id)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
           ON CONFLICT (subject_key, rule_id, period) DO UPDATE SET status = EXCLUDED.status,
               severity = EXCLUDED.severity, detail = EXCLUDED.detail, rule_set = EXCLUDED.rule_set,
               routed_unit_ids = EXCLUDED.routed_unit_ids, last_seen_at = now(),
               times_seen = alerts.alerts.times_seen + 1, last_event_id = EXCLUDED.last_event_id""",
        (group_id, subject_key, f.rule_id, f.name, f.cause, f.severity, period, decision.status, Jsonb(f.detail),
         f.source, rule_set, routed_unit_ids, event_id),
    )


def resolve(conn: psycopg.Connection, subject_key: str, period: str, rule_ids: set[str]) -> None:
    if rule_ids:
        conn.execute(
            """UPDATE alerts.alerts SET status = 'resolved', last_seen_at = now()
               WHERE subject_key = %s AND period = %s AND rule_id = ANY(%s)""",
            (subject_key, period, list(rule_ids)),
        )


def close_group(conn: psycopg.Connection, subject_key: str, period: str) -> None:
    conn.execute(
        "UPDATE alerts.alert_groups SET status = 'resolved', updated_at = now() WHERE subject_key = %s AND period = %s",
        (subject_key, period),
    )


def village_counts(conn: psycopg.Connection, village_code: str) -> dict:
    return conn.execute(
        """SELECT r.code, r.parent_code AS township_code, r.rural_population,
                  count(h.id) FILTER (WHERE h.category IN ('脱贫不稳定户', '边缘易致贫户', '突发严重困难户')) AS households,
                  coalesce(sum(h.members) FILTER (WHERE h.category IN ('脱贫不稳定户', '边缘易致贫户', '突发严重困难户')), 0) AS people,
                  coalesce(sum(h.members) FILTER (WHERE h.category = '脱贫户'), 0) AS alleviated
           FROM common.regions r LEFT JOIN alerts.households h ON h.village_code = r.code
           WHERE r.code = %s GROUP BY r.code""",
        (village_code,),
    ).fetchone()


def units_for_route(conn: psycopg.Connection, county_code: str, township_code: str, key: str,
                    patterns: list[str]) -> list[int]:
    """The units a route key means in this county: the township government for
    `township`, otherwise the county's departments whose names match a pattern."""
    if key == "township":
        rows = conn.execute(
            "SELECT id FROM common.units WHERE region_code = %s AND kind = 'township' ORDER BY id", (township_code,)
        ).fetchall()
    else:
        rows = conn.execute(
            """SELECT id FROM common.units WHERE region_code = %s
               AND EXISTS (SELECT 1 FROM unnest(%s::text[]) p WHERE name LIKE '%%' || p || '%%'
                           OR EXISTS (SELECT 1 FROM unnest(aliases) a WHERE a LIKE '%%' || p || '%%'))
               ORDER BY id LIMIT 1""",
            (county_code, patterns),
        ).fetchall()
    return [r["id"] for r in rows]
