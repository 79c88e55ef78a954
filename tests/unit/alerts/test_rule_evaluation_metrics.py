"""xianjie_rule_evaluations_total is worked out once per batch from its items: every subject
counts once for each enabled rule of its scope in its rule set, as raised or clear."""

from prometheus_client import REGISTRY

from services.alerts.alert_batch import Evaluated
from services.alerts.alerting import Decision
from services.alerts.consumer import publish_evaluations
from services.alerts.model import Finding
from services.alerts.rules import load_rule_set

VILLAGE = "532325100201"


def count(rule_id: str, outcome: str) -> float:
    return REGISTRY.get_sample_value("xianjie_rule_evaluations_total", {"rule": rule_id, "outcome": outcome}) or 0.0


def evaluated(rule_set, subject: str, household_id: int | None, *tripped: str) -> Evaluated:
    decisions = [Decision(Finding(rule_id=r, name=r, severity="warning", cause="income", route_to=(), detail={},
                                  source=""), "firing") for r in tripped]
    return Evaluated(subject, household_id, VILLAGE, VILLAGE[:9] + "000", VILLAGE[:6] + "000000", "2023", decisions,
                     rule_set.version, rule_set.routes, 1)


def test_each_subject_counts_once_per_rule_of_its_scope_as_raised_or_clear():
    rule_set = load_rule_set(VILLAGE, 2023)
    household_rules = [r.id for r in rule_set.household_rules]
    village_rules = [r.id for r in rule_set.rules if r.enabled and r.condition.scope == "village"]
    tripped, quiet, village_rule = household_rules[0], household_rules[1], village_rules[0]
    before = {(r, o): count(r, o) for r in (tripped, quiet, village_rule) for o in ("raised", "clear")}
    items = [evaluated(rule_set, "H1", 1, tripped), evaluated(rule_set, "H2", 2), evaluated(rule_set, "H3", 3),
             evaluated(rule_set, VILLAGE, None)]
    publish_evaluations(items, [rule_set])
    delta = {k: count(*k) - v for k, v in before.items()}
    assert delta == {(tripped, "raised"): 1, (tripped, "clear"): 2, (quiet, "raised"): 0, (quiet, "clear"): 3,
                     (village_rule, "raised"): 0, (village_rule, "clear"): 1}
