"""SQL of alerts, alert groups and silences."""

from __future__ import annotations

import orjson
import psycopg
from psycopg.rows import tuple_row

from services.alerts.alert_batch import BatchPlan, Key, StoredState
from services.alerts.alerting import Silence


def active_silences(conn: psycopg.Connection) -> list[Silence]:
    return [
        Silence(r["region_code"], r["rule_id"], r["subject_key"], r["expires_at"])
        for r in conn.execute(
            "SELECT region_code, rule_id, subject_key, expires_at FROM alerts.silences WHERE expires_at > now()"
        )
    ]


def rows_document(rows: list[dict]) -> str:
    """A batch's rows as one JSON document, read by `jsonb_to_recordset`. psycopg dumps a list
    parameter element by element in Python (0.4 µs a value: 0.8 µs an event for the keys of
    `open_state_of` alone); orjson writes the whole batch at a few ns a value."""
    return orjson.dumps(rows).decode()


OPEN_STATE_SQL = """
    SELECT k.subject_key, k.period, g.id, g.status, a.id, a.rule_id
    FROM jsonb_to_recordset(%s::jsonb) AS k (subject_key text, period text)
    JOIN LATERAL (SELECT g.id, g.status FROM alerts.alert_groups g
                  WHERE g.subject_key = k.subject_key AND g.period = k.period OFFSET 0) g ON true
    LEFT JOIN LATERAL (SELECT a.id, a.rule_id FROM alerts.alerts a
                       WHERE a.group_id = g.id AND a.status <> 'resolved' OFFSET 0) a ON true"""


def open_state_of(conn: psycopg.Connection, keys: list[Key]) -> StoredState:
    """What is stored for a batch's (subject, period) keys: groups and their unresolved alerts.

    One index probe per key, whatever the size of the tables: as a plain join of the keys with
    the tables, the planner hashed all of alerts and alert_groups for every batch once a batch
    had more keys than a seq scan has pages, and the consumer slowed as alerts accumulated (24 +
    9 ms a batch at 39,000 alerts, against 6 ms now). `OFFSET 0` keeps each LATERAL subquery a
    subquery, so it stays a parameterized index scan in a nested loop. Alerts are read through
    their group: `write_plan`, their only writer, gives every alert the group of its own subject
    and period."""
    state = StoredState()
    if not keys:
        return state
    document = rows_document([{"subject_key": subject_key, "period": period} for subject_key, period in keys])
    for subject_key, period, group_id, status, alert_id, rule_id in conn.cursor(row_factory=tuple_row).execute(
            OPEN_STATE_SQL, (document,)):
        key = (subject_key, period)
        state.group_status[key], state.group_ids[key] = status, group_id
        if rule_id is not None:
            state.open_rules.setdefault(key, set()).add(rule_id)
            state.alert_ids[(subject_key, rule_id, period)] = alert_id
    return state


def village_counts(conn: psycopg.Connection, village_codes: list[str]) -> dict[str, dict]:
    """Per village: rural population, monitored households and people, 脱贫 people."""
    return {r["code"]: r for r in conn.execute(
        """SELECT r.code, r.rural_population,
                  count(h.id) FILTER (WHERE h.category IN ('脱贫不稳定户', '边缘易致贫户', '突发严重困难户')) AS households,
                  coalesce(sum(h.members) FILTER (WHERE h.category IN ('脱贫不稳定户', '边缘易致贫户', '突发严重困难户')), 0) AS people,
                  coalesce(sum(h.members) FILTER (WHERE h.category = '脱贫户'), 0) AS alleviated
           FROM common.regions r LEFT JOIN alerts.households h ON h.village_code = r.code
           WHERE r.code = ANY(%b) GROUP BY r.code""",
        (village_codes,))}


def write_plan(conn: psycopg.Connection, plan: BatchPlan, stored: StoredState) -> dict[Key, int]:
    """Write a batch's groups and alerts with one statement each; the ids of the upserted groups.
    What it only closes or resolves was read with `open_state_of`, and is updated by id (a join
    of keys with the tables would be planned as a scan of them, as in `open_state_of`)."""
    group_ids: dict[Key, int] = {}
    if plan.groups:
        rows = [{"subject_key": subject_key, "household_id": g.household_id, "village_code": g.village_code,
                 "township_code": g.township_code, "county_code": g.county_code, "period": period,
                 "severity": g.severity, "routed_unit_ids": g.routed_unit_ids, "status": g.status}
                for (subject_key, period), g in plan.groups.items()]
        for r in conn.execute(
            """INSERT INTO alerts.alert_groups AS g (subject_key, household_id, village_code, township_code,
                                                     county_code, period, severity, routed_unit_ids, status)
               SELECT subject_key, household_id, village_code, township_code, county_code, period, severity,
                      routed_unit_ids, status
               FROM jsonb_to_recordset(%s::jsonb) AS x (subject_key text, household_id bigint, village_code text,
                    township_code text, county_code text, period text, severity text, routed_unit_ids bigint[],
                    status text)
               ON CONFLICT (subject_key, period) DO UPDATE SET severity = EXCLUDED.severity,
                   routed_unit_ids = EXCLUDED.routed_unit_ids, status = EXCLUDED.status, updated_at = now()
               RETURNING id, subject_key, period""",
            (rows_document(rows),),
        ):
            group_ids[(r["subject_key"], r["period"])] = r["id"]
    if plan.closed_groups:
        conn.execute("UPDATE alerts.alert_groups SET status = 'resolved', updated_at = now() WHERE id = ANY(%b::bigint[])",
                     ([stored.group_ids[k] for k in plan.closed_groups],))
    if plan.alerts:
        rows = [{"group_id": group_ids[a.group], "subject_key": subject_key, "rule_id": rule_id, "rule_name": a.name,
                 "cause": a.cause, "severity": a.severity, "period": period, "status": a.status, "detail": a.detail,
                 "source": a.source, "rule_set": a.rule_set_version, "routed_unit_ids": a.routed_unit_ids,
                 "last_event_id": a.last_event_id, "times_seen": a.times_seen}
                for (subject_key, rule_id, period), a in plan.alerts.items()]
        conn.execute(
            """INSERT INTO alerts.alerts AS a (group_id, subject_key, rule_id, rule_name, cause, severity, period,
                                               status, detail, source, rule_set, routed_unit_ids, last_event_id,
                                               times_seen)
               SELECT group_id, subject_key, rule_id, rule_name, cause, severity, period, status, detail, source,
                      rule_set, routed_unit_ids, last_event_id, times_seen
               FROM jsonb_to_recordset(%s::jsonb) AS x (group_id bigint, subject_key text, rule_id text,
                    rule_name text, cause text, severity text, period text, status text, detail jsonb, source text,
                    rule_set text, routed_unit_ids bigint[], last_event_id uuid, times_seen int)
               ON CONFLICT (subject_key, rule_id, period) DO UPDATE SET status = EXCLUDED.status,
                   severity = EXCLUDED.severity, detail = EXCLUDED.detail, rule_set = EXCLUDED.rule_set,
                   routed_unit_ids = EXCLUDED.routed_unit_ids, last_seen_at = now(),
                   times_seen = a.times_seen + EXCLUDED.times_seen, last_event_id = EXCLUDED.last_event_id""",
            (rows_document(rows),),
        )
    if plan.resolved_alerts:
        conn.execute("UPDATE alerts.alerts SET status = 'resolved', last_seen_at = now() WHERE id = ANY(%b::bigint[])",
                     ([stored.alert_ids[k] for k in plan.resolved_alerts],))
    return group_ids


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
