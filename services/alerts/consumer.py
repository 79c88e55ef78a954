"""The alerts consumer: applies `household.events` — evaluates the early-warning
rules of the household's region and year, and keeps alerts as Alertmanager would:
one alert per household, rule and period (updated, not repeated), one group per
household and period, silences and inhibition applied, every alert routed to the
township and to the department that acts on its cause. Village-level rules are
evaluated for every village the batch touched. A new alert group writes
`alert.raised` to `alerts.events` through the outbox, in the batch's transaction.
The SQL is per batch, not per event (`alert_batch.plan_batch`, `write_plan`): a
monthly wave is mostly households that trip nothing.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timezone

import psycopg

from services.alerts import alert_repository as repo
from services.alerts.alert_batch import Evaluated, Raised, plan_batch
from services.alerts.alerting import decide
from services.alerts.model import HouseholdFacts, VillageFacts
from services.alerts.rule_files import effective_root
from services.alerts.rules import RuleSet, evaluate_household, evaluate_village, load_rule_set
from services.common.config import get_settings
from services.common.consumer_base import EventConsumer
from services.common.events import Envelope, new_envelope, write_outbox_many
from services.common.metrics import RULE_EVALUATIONS

TOPICS = ["household.events"]
GROUP_ID = "xianjie-alerts"
EVENT_TYPES = ("household.updated", "household.record.saved")


class HouseholdEvent(Envelope, kw_only=True):
    """A `household.*` event with its payload (`register.facts_payload`) validated into the
    facts the rules read, in the same pass as the envelope; a field the facts do not know,
    from a newer producer, is ignored."""

    payload: HouseholdFacts


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


def make_handler(router: Router | None = None):
    """The batch handler: evaluate every event, then plan and write the batch's alerts at once.

    A village's counts change only when its households do (`household.updated`): for a
    batch of records alone a village evaluated in the last `alerts_village_recount_s` is
    not counted again (a monthly wave touches every village in every batch)."""
    router = router or Router()
    recount_s = get_settings().alerts_village_recount_s
    village_checked: dict[tuple[str, int], float] = {}  # (village, year) -> when last evaluated

    def handle(conn: psycopg.Connection, events: list[HouseholdEvent]) -> None:
        now = datetime.now(timezone.utc)
        silences = repo.active_silences(conn)
        root = effective_root(conn)
        rule_sets: dict[tuple[str, int], RuleSet] = {}

        def rule_set(village: str, year: int):
            if (village, year) not in rule_sets:
                rule_sets[(village, year)] = load_rule_set(village, year, root)
            return rule_sets[(village, year)]

        items: list[Evaluated] = []
        villages: dict[tuple[str, int], tuple[str, str, object]] = {}  # (village, year) -> township, county, event
        # (village, period) -> its rule set, and whether the village is due to be counted again:
        # worked out once per batch, not per event
        periods: dict[tuple[str, str], tuple[RuleSet, bool]] = {}
        for env in sorted(events, key=lambda e: e.recorded_at):
            facts = env.payload
            record = facts.record
            if record is None:
                continue
            village_period = periods.get((facts.village_code, record.period))
            if village_period is None:
                rs = rule_set(facts.village_code, int(record.period[:4]))
                checked = village_checked.get((facts.village_code, rs.year))
                village_period = periods[(facts.village_code, record.period)] = (
                    rs, checked is None or time.monotonic() - checked >= recount_s)
            rs, recount = village_period
            findings = evaluate_household(facts, rs)
            decisions = decide(findings, subject_key=facts.household_no, village_code=facts.village_code,
                               under_assistance=facts.under_assistance, silences=silences, now=now) if findings else []
            items.append(Evaluated(facts.household_no, facts.household_id, facts.village_code, facts.township_code,
                                   facts.county_code, record.period, decisions, rs.version, rs.routes, env.event_id))
            if recount or env.type == "household.updated":
                villages[(facts.village_code, rs.year)] = (facts.township_code, facts.county_code, env.event_id)
        counts = repo.village_counts(conn, list({village for village, _ in villages})) if villages else {}
        for (village, year), (township, county, event_id) in villages.items():
            c, rs = counts[village], rule_set(village, year)
            facts = VillageFacts(village, county, township, c["rural_population"], c["households"], c["people"],
                                 c["alleviated"])
            decisions = decide(evaluate_village(facts, rs), subject_key=village, village_code=village,
                               under_assistance=False, silences=silences, now=now)
            items.append(Evaluated(village, None, village, township, county, str(year), decisions, rs.version,
                                   rs.routes, event_id))
            village_checked[(village, year)] = time.monotonic()
        publish_evaluations(items, rule_sets.values())
        if not items:
            return
        keys = list({(i.subject_key, i.period) for i in items})
        stored = repo.open_state_of(conn, keys)
        plan = plan_batch(items, stored.open_rules, stored.group_status,
                          lambda county, township, route_keys, routes: router.units(conn, county, township,
                                                                                    route_keys, routes))
        if not plan:
            return
        group_ids = repo.write_plan(conn, plan, stored)
        if plan.raised:
            write_outbox_many(conn, "alerts", "alerts.events", [_raised_event(r, group_ids[r.key], now)
                                                                 for r in plan.raised])

    return handle


def publish_evaluations(items: list[Evaluated], rule_sets: Iterable[RuleSet]) -> None:
    """xianjie_rule_evaluations_total per rule, added once per batch (bounded: rule ids come from
    files): every subject evaluated counts once for each enabled rule of its scope in its rule
    set, as raised or clear. Worked out from the batch's items, not counted per event."""
    rules_of = {rs.version: rs.rules for rs in rule_sets}
    subjects = Counter((i.rule_set_version, i.household_id is None) for i in items)  # (version, village?)
    raised = Counter(d.finding.rule_id for i in items for d in i.decisions)
    evaluated: Counter[str] = Counter()
    for (version, village), n in subjects.items():
        scope = "village" if village else "household"
        for rule in rules_of[version]:
            if rule.enabled and rule.condition.scope == scope:
                evaluated[rule.id] += n
    for rule_id, n in evaluated.items():
        if raised[rule_id]:
            RULE_EVALUATIONS.labels(rule_id, "raised").inc(raised[rule_id])
        if n - raised[rule_id]:
            RULE_EVALUATIONS.labels(rule_id, "clear").inc(n - raised[rule_id])


def _raised_event(raised: Raised, group_id: int, now: datetime) -> Envelope:
    subject_key, period = raised.key
    return new_envelope(
        "alert.raised", source="alerts", entity_id=str(group_id), key=subject_key,
        regions={"county": raised.county_code, "township": raised.township_code, "village": raised.village_code},
        payload={"group_id": group_id, "subject_key": subject_key, "household_id": raised.household_id,
                 "period": period, "severity": raised.severity, "routed_unit_ids": raised.routed_unit_ids,
                 "rules": [{"rule_id": d.finding.rule_id, "name": d.finding.name, "status": d.status,
                            "cause": d.finding.cause, "severity": d.finding.severity} for d in raised.decisions],
                 "raised_at": now.isoformat()},
    )


def build_consumer() -> EventConsumer:
    handle = make_handler()
    return EventConsumer(name="alerts", schema="alerts", handlers={t: handle for t in EVENT_TYPES},
                         envelope_model=HouseholdEvent)
