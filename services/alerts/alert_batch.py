"""What one consumer batch does to the alert tables, decided in memory before any write.

The consumer evaluates every event of a batch, then this module replays the
Alertmanager bookkeeping over them in order — which alerts of a subject's period
fire, which no longer hold and resolve, whether the subject's group is new (or
reopened, which raises `alert.raised` again) — starting from the open alerts and
group states read for the whole batch at once. The result holds each group's and
alert's final state, so the repository writes a batch with a handful of set-based
statements instead of several per event, and an event that trips nothing on a
subject with nothing open costs no SQL at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import msgspec

from services.alerts.alerting import Decision, group_severity, resolved_rules

Key = tuple[str, str]  # (subject_key, period): a household number or a village code, and a period
AlertKey = tuple[str, str, str]  # (subject_key, rule_id, period)
# (county, township, route keys, the rule set's routes) -> unit ids: township first, then departments
RouteUnits = Callable[[str, str, tuple[str, ...], dict], list[int]]


class Evaluated(msgspec.Struct, gc=False):
    """One subject's decisions for one period, from one event. One per event, so a msgspec
    Struct: built in C, and left out of the garbage collector's walks (it holds no cycles)."""

    subject_key: str
    household_id: int | None  # None for a village
    village_code: str
    township_code: str
    county_code: str
    period: str
    decisions: list[Decision]
    rule_set_version: str
    routes: dict  # the rule set's route key -> unit name patterns
    event_id: object


@dataclass
class GroupChange:
    household_id: int | None
    village_code: str
    township_code: str
    county_code: str
    severity: str = "info"
    routed_unit_ids: list[int] = field(default_factory=list)
    status: str = "open"


@dataclass
class AlertChange:
    group: Key
    name: str
    cause: str
    source: str
    status: str = "firing"
    severity: str = "info"
    detail: dict = field(default_factory=dict)
    rule_set_version: str = ""
    routed_unit_ids: list[int] = field(default_factory=list)
    last_event_id: object = None
    times_seen: int = 0  # how many events of the batch saw it


@dataclass(frozen=True)
class Raised:
    """A group that is new or reopened in this batch: it writes `alert.raised`."""

    key: Key
    household_id: int | None
    village_code: str
    township_code: str
    county_code: str
    severity: str
    routed_unit_ids: list[int]
    decisions: list[Decision]


@dataclass
class StoredState:
    """What is stored for a batch's subjects, read once before the batch is planned: the
    open rules and group status that `plan_batch` starts from, and the ids of those rows,
    by which the alerts it resolves and the groups it closes are written."""

    # `plan_batch` updates these two in place as it applies the batch's events
    open_rules: dict[Key, set[str]] = field(default_factory=dict)  # rule ids not yet resolved
    group_status: dict[Key, str] = field(default_factory=dict)  # of every existing group
    group_ids: dict[Key, int] = field(default_factory=dict)
    alert_ids: dict[AlertKey, int] = field(default_factory=dict)  # of the alerts in open_rules


@dataclass
class BatchPlan:
    groups: dict[Key, GroupChange] = field(default_factory=dict)  # upserted: final state
    closed_groups: set[Key] = field(default_factory=set)  # only closed, not upserted
    alerts: dict[AlertKey, AlertChange] = field(default_factory=dict)  # upserted: final state
    resolved_alerts: set[AlertKey] = field(default_factory=set)  # only resolved, not upserted
    raised: list[Raised] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.groups or self.closed_groups or self.alerts or self.resolved_alerts)


def plan_batch(items: list[Evaluated], open_rules: dict[Key, set[str]], group_status: dict[Key, str],
               route_units: RouteUnits) -> BatchPlan:
    """The batch's effect, applying `items` in order over the stored state.

    `open_rules`: the rule ids of each subject's period not yet resolved; `group_status`:
    each existing group's status. Both are updated in place as the items are applied."""
    plan = BatchPlan()
    for item in items:
        key = (item.subject_key, item.period)
        previous = open_rules.get(key)
        if not previous and not item.decisions:
            continue  # most of a monthly wave: nothing open, nothing tripped
        if previous:
            for rule_id in resolved_rules(previous, item.decisions):
                akey = (key[0], rule_id, key[1])
                if akey in plan.alerts:
                    plan.alerts[akey].status = "resolved"
                else:
                    plan.resolved_alerts.add(akey)
        open_rules[key] = {d.finding.rule_id for d in item.decisions}
        if not item.decisions:
            if key in plan.groups:
                plan.groups[key].status = "resolved"
            else:
                plan.closed_groups.add(key)
            if key in group_status:
                group_status[key] = "resolved"
            continue
        _apply_decisions(plan, item, key, group_status, route_units)
    return plan


def _apply_decisions(plan: BatchPlan, item: Evaluated, key: Key, group_status: dict[Key, str],
                     route_units: RouteUnits) -> None:
    severity = group_severity(item.decisions)
    county, township = item.county_code, item.township_code
    routed = route_units(county, township, tuple(k for d in item.decisions for k in d.finding.route_to), item.routes)
    new = group_status.get(key, "resolved") == "resolved"
    group_status[key] = "open"
    plan.closed_groups.discard(key)
    group = plan.groups.setdefault(key, GroupChange(item.household_id, item.village_code, township, county))
    group.severity, group.routed_unit_ids, group.status = severity or "info", routed, "open"
    for d in item.decisions:
        f = d.finding
        akey = (key[0], f.rule_id, key[1])
        plan.resolved_alerts.discard(akey)
        alert = plan.alerts.get(akey)
        if alert is None:
            alert = plan.alerts[akey] = AlertChange(key, f.name, f.cause, f.source)
        alert.status, alert.severity, alert.detail = d.status, f.severity, f.detail
        alert.rule_set_version, alert.last_event_id = item.rule_set_version, item.event_id
        alert.routed_unit_ids = route_units(county, township, f.route_to, item.routes)
        alert.times_seen += 1
    if new and severity is not None:
        plan.raised.append(Raised(key, item.household_id, item.village_code, township, county, severity, routed,
                                  item.decisions))
