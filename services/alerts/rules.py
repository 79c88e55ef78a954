"""Early-warning rules (防返贫动态监测预警): pure functions from facts to findings.

The rules themselves are data (`rules/<region>/<year>.yaml`, loaded by
`rules_loader`); this module only applies a loaded rule set to one household or one
village, so the consumer, the API and the tests all get the same answer for the same
facts and rule version. Missing data never trips a rule.
"""

from __future__ import annotations

from services.alerts.model import Finding, HouseholdFacts, VillageFacts
from services.alerts.rules_loader import (  # noqa: F401  (the public API of the rules)
    RULES_ROOT,
    MonitoringLine,
    Rule,
    RuleSet,
    RuleSetError,
    clear_cache,
    load_rule_set,
    region_chain,
    validate_rule_set,
)


def period_year(period: str) -> int:
    """`2023` or `2023-05` → 2023: the year whose rule set and monitoring line apply."""
    head = str(period)[:4]
    if not head.isdigit():
        raise ValueError(f"期间 {period!r} 应以四位年份开头")
    return int(head)


def rule_set_for(facts: HouseholdFacts | VillageFacts, period: str | None = None) -> RuleSet:
    """The rule set for a household's (or village's) own village code and period year."""
    if period is None:
        if isinstance(facts, VillageFacts):
            raise ValueError("村级规则集需要给出期间 (period)")
        period = facts.record.period
    return load_rule_set(facts.village_code, period_year(period))


def _finding(rule: Rule, rule_set: RuleSet, detail: dict, period: str | None) -> Finding:
    routes = tuple(dict.fromkeys(rule_set.always_route_to + rule.route_to))
    extra = {"rule_version": rule_set.version}
    if period is not None:
        extra["period"] = period
    if "monitoring_line" in detail and rule_set.monitoring_line is not None:
        extra["monitoring_line_year"] = rule_set.monitoring_line.year
        extra["monitoring_line_source"] = rule_set.monitoring_line.source
    return Finding(rule_id=rule.id, name=rule.name, severity=rule.severity, cause=rule.cause,
                   route_to=routes, detail={**detail, **extra}, source=rule.source)


def evaluate_household(facts: HouseholdFacts, rule_set: RuleSet) -> list[Finding]:
    """Every enabled household rule of the set that this household's period trips, in file order.
    Routing always includes the set's `always_route_to` (the township) first."""
    line = rule_set.monitoring_line.amount if rule_set.monitoring_line else None
    findings = []
    category = facts.category
    for rule in rule_set.household_rules:
        if rule.categories is not None and category not in rule.categories:
            continue
        detail = rule.condition.check(facts, line)
        if detail is not None:
            findings.append(_finding(rule, rule_set, detail, facts.record.period))
    return findings


def evaluate_village(facts: VillageFacts, rule_set: RuleSet) -> list[Finding]:
    """Every enabled village rule (the 3% / 5% concentration criteria) that this village trips."""
    findings = []
    for rule in rule_set.rules:
        if not rule.enabled or rule.condition.scope != "village":
            continue
        detail = rule.condition.check(facts, None)
        if detail is not None:
            findings.append(_finding(rule, rule_set, detail, None))
    return findings
