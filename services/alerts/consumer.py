"""The alerts consumer: applies `household.events` — evaluates the early-warning
rules of the household's region and year, and keeps alerts as Alertmanager would:
one alert per household, rule and period (updated, not repeated), one group per
household and period, silences and inhibition applied, every alert routed to the
township and to the department that acts on its cause. Village-level rules are
evaluated for every village the batch touched. A new alert group writes
`alert.raised` to `alerts.events` through the outbox, in the batch's transaction.
"""

from __future__ import annotations

from datetime import datetime, timezone

import psycopg

from services.alerts import alert_repository as repo
from services.alerts.alerting import Decision, decide, group_severity, resolved_rules
from services.alerts.model import HouseholdFacts, PeriodRecord, VillageFacts
from services.alerts.rule_files import effective_root
from services.alerts.rules import evaluate_household, evaluate_village, load_rule_set
from services.common.consumer_base import EventConsumer
from services.common.events import Envelope, new_envelope, write_outbox

TOPICS = ["household.events"]
GROUP_ID = "xianjie-alerts"
EVENT_TYPES = ("household.updated", "household.record.saved")


def facts_from(payload: dict) -> HouseholdFacts:
    def record(d: dict | None) -> PeriodRecord | None:
        return PeriodRecord(**d) if d else None

    return HouseholdFacts(
        household_id=payload["household_id"], household_no=payload["household_no"],
        county_code=payload["county_code"], township_code=payload["township_code"],
        village_code=payload["village_code"], category=payload["category"], members=payload["members"],
        no_labour_capacity=payload["no_labour_capacity"], under_assistance=payload["under_assistance"],
        record=record(payload["record"]), previous=record(payload.get("previous")),
    )


class Router:
    """Route keys to unit ids, per county, cached for the consumer's life."""

    def __init__(self) -> None:
        self.cache: dict[tuple[str, str, str], list[int]] = {}

    def units(self, conn, county: str, township: str, keys: tuple[str, ...], routes: dict) -> list[int]:
        out: list[int] = []
        for key in ("township", *keys):
            cache_key = (county, township if key == "township" else "", key)
            if cache_key not in self.cache:
                self.cache[cache_key] = repo.units_for_route(conn, county, township, key, list(routes.get(key, [])))
            out += [u for u in self.cache[cache_key] if u not in out]
        return out


def _apply(conn, router: Router, *, subject_key: str, household_id: int | None, village: str, township: str,
           county: str, period: str, decisions: list[Decision], rule_set, event_id, now) -> None:
    previous = repo.open_rule_ids(conn, subject_key, period)
    repo.resolve(conn, subject_key, period, resolved_rules(previous, decisions))
    if not decisions:
        if previous:
            repo.close_group(conn, subject_key, period)
        return
    severity = group_severity(decisions)
    routed = router.units(conn, county, township, tuple(k for d in decisions for k in d.finding.route_to),
                          rule_set.routes)
    group, new = repo.upsert_group(conn, subject_key=subject_key, household_id=household_id, village_code=village,
                                   township_code=township, county_code=county, period=period,
                                   severity=severity or "info", routed_unit_ids=routed)
    for d in decisions:
        unit_ids = router.units(conn, county, township, d.finding.route_to, rule_set.routes)
        repo.upsert_alert(conn, group["id"], subject_key, period, d, rule_set.version, unit_ids, event_id)
    if new and severity is not None:
        write_outbox(conn, "alerts", "alerts.events", new_envelope(
            "alert.raised", source="alerts", entity_id=str(group["id"]), key=subject_key,
            regions={"county": county, "township": township, "village": village},
            payload={"group_id": group["id"], "subject_key": subject_key, "household_id": household_id,
                     "period": period, "severity": severity, "routed_unit_ids": routed,
                     "rules": [{"rule_id": d.finding.rule_id, "name": d.finding.name, "status": d.status,
                                "cause": d.finding.cause, "severity": d.finding.severity} for d in decisions],
                     "raised_at": now.isoformat()},
        ))


def make_handler(router: Router | None = None):
    router = router or Router()

    def handle(conn: psycopg.Connection, events: list[Envelope]) -> None:
        now = datetime.now(timezone.utc)
        silences = repo.active_silences(conn)
        root = effective_root(conn)
        villages: dict[str, tuple[str, str, int, object]] = {}
        for env in sorted(events, key=lambda e: e.recorded_at):
            facts = facts_from(env.payload)
            if facts.record is None:
                continue
            year = int(facts.record.period[:4])
            rule_set = load_rule_set(facts.village_code, year, root)
            decisions = decide(evaluate_household(facts, rule_set), subject_key=facts.household_no,
                               village_code=facts.village_code, under_assistance=facts.under_assistance,
                               silences=silences, now=now)
            _apply(conn, router, subject_key=facts.household_no, household_id=facts.household_id,
                   village=facts.village_code, township=facts.township_code, county=facts.county_code,
                   period=facts.record.period, decisions=decisions, rule_set=rule_set, event_id=env.event_id,
                   now=now)
            villages[facts.village_code] = (facts.township_code, facts.county_code, year, env.event_id)
        for village, (township, county, year, event_id) in villages.items():
            counts = repo.village_counts(conn, village)
            rule_set = load_rule_set(village, year, root)
            facts = VillageFacts(village, county, township, counts["rural_population"], counts["households"],
                                 counts["people"], counts["alleviated"])
            decisions = decide(evaluate_village(facts, rule_set), subject_key=village, village_code=village,
                               under_assistance=False, silences=silences, now=now)
            _apply(conn, router, subject_key=village, household_id=None, village=village, township=township,
                   county=county, period=str(year), decisions=decisions, rule_set=rule_set, event_id=event_id,
                   now=now)

    return handle


def build_consumer() -> EventConsumer:
    handle = make_handler()
    return EventConsumer(name="alerts", schema="alerts", handlers={t: handle for t in EVENT_TYPES})
