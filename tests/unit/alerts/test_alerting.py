"""De-duplication happens in SQL; here: silences, inhibition, group severity, resolution."""

from datetime import datetime, timedelta, timezone

from services.alerts.alerting import Silence, decide, group_severity, resolved_rules
from services.alerts.model import Finding

NOW = datetime(2023, 6, 1, tzinfo=timezone.utc)


def finding(rule_id, severity, cause="income"):
    return Finding(rule_id, rule_id, severity, cause, ("township",))


def run(findings, under_assistance=False, silences=()):
    return {d.finding.rule_id: d.status for d in decide(
        findings, subject_key="H1", village_code="532325100201", under_assistance=under_assistance,
        silences=list(silences), now=NOW)}


def test_everything_fires_without_silences_or_inhibition():
    assert run([finding("line", "critical"), finding("medical", "warning", "medical")]) == {
        "line": "firing", "medical": "firing"}


def test_a_higher_severity_of_the_same_cause_inhibits_the_lower():
    assert run([finding("line", "critical"), finding("avg", "warning"), finding("water", "warning", "water")]) == {
        "line": "firing", "avg": "inhibited", "water": "firing"}


def test_an_assistance_plan_inhibits_all_but_critical():
    assert run([finding("line", "critical"), finding("medical", "warning", "medical")], under_assistance=True) == {
        "line": "firing", "medical": "inhibited"}


def test_silences_by_rule_by_household_by_region_and_expiry():
    by_rule = Silence("532325000000", "medical", None, NOW + timedelta(days=1))
    assert run([finding("medical", "warning", "medical")], silences=[by_rule]) == {"medical": "silenced"}
    by_household = Silence("532325000000", None, "H1", NOW + timedelta(days=1))
    assert run([finding("line", "critical")], silences=[by_household]) == {"line": "silenced"}
    other_county = Silence("532399000000", "medical", None, NOW + timedelta(days=1))
    expired = Silence("532325000000", "medical", None, NOW - timedelta(seconds=1))
    assert run([finding("medical", "warning", "medical")], silences=[other_county, expired]) == {"medical": "firing"}


def test_group_severity_is_the_highest_firing():
    decisions = decide([finding("a", "warning"), finding("b", "info", "water")], subject_key="H1",
                       village_code="532325100201", under_assistance=False, silences=[], now=NOW)
    assert group_severity(decisions) == "warning"
    silenced = decide([finding("a", "warning")], subject_key="H1", village_code="532325100201",
                      under_assistance=False, silences=[Silence("53", "a", None, NOW + timedelta(1))], now=NOW)
    assert group_severity(silenced) is None


def test_rules_that_no_longer_trip_are_resolved():
    decisions = decide([finding("a", "warning")], subject_key="H1", village_code="5", under_assistance=False,
                       silences=[], now=NOW)
    assert resolved_rules({"a", "b"}, decisions) == {"b"}


def test_a_township_silence_covers_its_villages_only():
    town = Silence("532325100000", "medical", None, NOW + timedelta(days=1))
    assert run([finding("medical", "warning", "medical")], silences=[town]) == {"medical": "silenced"}
    neighbour = Silence("532325101000", "medical", None, NOW + timedelta(days=1))
    assert run([finding("medical", "warning", "medical")], silences=[neighbour]) == {"medical": "firing"}
