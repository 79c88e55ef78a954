"""docs/metrics.md and the code agree: every metric the code defines is catalogued with its
type and labels, nothing catalogued is missing from the code, names follow the
conventions and labels stay bounded."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from metrics_catalogue import CATALOGUE, catalogue
from prometheus_client.metrics import MetricWrapperBase

from services.common import metrics, state_metrics
from services.common.config import REPO_ROOT

# Labels that would be unbounded or personal: never allowed.
FORBIDDEN_LABELS = {"user", "username", "user_id", "unit", "unit_id", "household", "household_id", "id_number",
                    "phone", "event_id", "task_id", "step_id", "path", "url", "message", "error"}


def exposed_name(name: str, kind: str) -> str:
    return name + "_total" if kind == "counter" else name


def code_metrics() -> dict[str, tuple[str, frozenset[str]]]:
    """What the code registers: module-level metrics and the collectors' families."""
    out = {}
    for value in vars(metrics).values():
        if isinstance(value, MetricWrapperBase):
            out[exposed_name(value._name, value._type)] = (value._type, frozenset(value._labelnames))
    families = [*metrics.PoolCollector().collect(), *state_metrics.StateCollector("postgresql://unused").describe()]
    for f in families:
        out[exposed_name(f.name, f.type)] = (f.type, frozenset(f._labelnames))
    return out


def metric_literals(path: Path) -> set[str]:
    """String literals naming an xianjie_ metric in a source file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        n.value for n in ast.walk(tree)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and re.fullmatch(r"xianjie_[a-z_]*[a-z]", n.value)
    }


@pytest.fixture(scope="module")
def documented():
    return catalogue()


@pytest.fixture(scope="module")
def defined():
    return code_metrics()


def test_the_catalogue_lists_the_required_families(documented):
    required = [
        "xianjie_http_requests_total", "xianjie_http_request_duration_seconds", "xianjie_outbox_backlog",
        "xianjie_outbox_publish_lag_seconds", "xianjie_consumer_lag", "xianjie_events_processed_total",
        "xianjie_events_failed_total", "xianjie_events_dead_lettered_total", "xianjie_rule_evaluations_total",
        "xianjie_alerts_raised_total", "xianjie_task_workflows_started_total", "temporal_workflow_completed_total",
        "xianjie_steps_open", "xianjie_steps_due_soon", "xianjie_steps_overdue", "xianjie_escalations_total",
        "xianjie_bulletins_produced_total", "xianjie_db_pool_connections",
    ]
    assert [n for n in required if n not in documented] == []


def test_every_metric_of_the_code_is_catalogued_with_its_type_and_labels(documented, defined):
    assert len(defined) >= 30
    for name, (kind, labels) in defined.items():
        assert name in documented, f"{name} is not in docs/metrics.md"
        assert documented[name] == (kind, labels), f"{name}: catalogue says {documented[name]}, code {kind} {labels}"


def test_every_catalogued_xianjie_metric_exists(documented, defined):
    ours = {n for n in documented if n.startswith("xianjie_")}
    assert ours - set(defined) == set(), "catalogued but not defined"


def test_no_metric_is_defined_outside_the_catalogued_modules(documented):
    sources = [p for d in ("services", "workflows") for p in (REPO_ROOT / d).rglob("*.py")]
    found = {}
    for path in sources:
        text = path.read_text(encoding="utf-8")
        if "prometheus_client" in text:
            for name in metric_literals(path):
                found[name] = path
    assert found, "the scan found no metric at all"
    known = {n.removesuffix("_total") for n in documented} | set(documented)
    assert {n: str(p) for n, p in found.items() if n not in known} == {}


@pytest.mark.parametrize("name", sorted(catalogue()))
def test_names_follow_the_conventions(name, documented):
    kind, labels = documented[name]
    assert name.startswith(("xianjie_", "temporal_")), name
    assert kind in ("counter", "gauge", "histogram")
    if kind == "counter":
        assert name.endswith("_total")
    elif kind == "histogram":
        assert name.endswith("_seconds"), "every histogram here is a duration"
    else:
        assert not name.endswith("_total")
    assert not labels & FORBIDDEN_LABELS, f"{name}: unbounded or personal label {labels & FORBIDDEN_LABELS}"


def test_dead_letter_reasons_are_a_bounded_set():
    documented_kinds = {"empty", "too_large", "not_json", "invalid_envelope", "unknown_type",
                        "unsupported_version", "handler_failed", "other"}
    reasons = {
        "empty message": "empty",
        "message of 2000000 bytes exceeds 1048576": "too_large",
        "not JSON: unexpected character": "not_json",
        "envelope invalid: occurred_at: Invalid RFC3339 encoded datetime": "invalid_envelope",
        "unknown event type 'household.whatever.7f3a'": "unknown_type",
        "unsupported schema_version 9 for household.updated": "unsupported_version",
        "handler failed: KeyError('x')": "handler_failed",
        "something new": "other",
    }
    assert {r: metrics.dead_letter_reason(r) for r in reasons} == reasons
    assert {kind for _, kind in metrics.DEAD_LETTER_REASONS} | {"other"} == documented_kinds
    assert "`handler_failed`" in CATALOGUE.read_text(encoding="utf-8")


class FakeConsumer:
    """The three kafka-python calls record_lag makes, over fixed offsets."""

    def __init__(self, ends: dict, positions: dict) -> None:
        self.ends, self.positions = ends, positions

    def assignment(self):
        return set(self.ends)

    def highwater(self, tp):
        return self.ends[tp]

    def position(self, tp):
        return self.positions[tp]


def lag_series(consumer: str) -> dict[tuple[str, str], float]:
    (family,) = [f for f in metrics.CONSUMER_LAG.collect()]
    return {(s.labels["topic"], s.labels["partition"]): s.value for s in family.samples
            if s.labels["consumer"] == consumer}


def test_consumer_lag_per_partition_and_forgotten_after_a_rebalance():
    from kafka import TopicPartition

    p0, p1 = TopicPartition("household.events", 0), TopicPartition("household.events", 1)
    metrics.record_lag("lag-test", FakeConsumer({p0: 120, p1: None}, {p0: 100}))
    assert lag_series("lag-test") == {("household.events", "0"): 20}
    metrics.record_lag("lag-test", FakeConsumer({p1: 50}, {p1: 50}))
    assert lag_series("lag-test") == {("household.events", "1"): 0}


class FakePool:
    def get_stats(self):
        return {"pool_size": 5, "pool_available": 2, "pool_max": 10, "requests_num": 40, "requests_wait_ms": 1500}


def test_pool_use_is_read_at_scrape_time():
    pool = FakePool()
    metrics.watch_pool("catalogue-test", pool)
    try:
        samples = {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for f in metrics.POOLS.collect() for s in f.samples if s.labels.get("service") == "catalogue-test"
        }
    finally:
        metrics.unwatch_pool("catalogue-test", pool)
    svc = ("service", "catalogue-test")
    assert samples[("xianjie_db_pool_connections", (svc, ("state", "in_use")))] == 3
    assert samples[("xianjie_db_pool_connections", (svc, ("state", "idle")))] == 2
    assert samples[("xianjie_db_pool_wait_seconds_total", (svc,))] == 1.5
    assert samples[("xianjie_db_pool_errors_total", (svc,))] == 0
    assert "catalogue-test" not in metrics.POOLS.pools


def test_state_families_from_rows():
    rows = {
        "steps": [("532325000000", 7, 2, 3)],
        "escalations": [("532325000000", "leader", 4, 1), ("532325000000", "office", 2, 2)],
        "task_workflows": [(11, 1)],
        "bulletins": [("monthly", "schedule", 12)],
        "alerts": [("zero_employment", "warning", 9, 5)],
        "cases": [("532325000000", "verify", "red", 4, 1), ("532325000000", "verify", "green", 6, 0),
                  ("532325000000", "confirm", "amber", 2, 0)],
        "case_escalations": [("532325000000", "leader", 3)],
    }
    values = {(s.name, tuple(sorted(s.labels.values()))): s.value for f in state_metrics.families(rows) for s in f.samples}
    assert values[("xianjie_steps_overdue", ("532325000000",))] == 3
    assert values[("xianjie_steps_due_soon", ("532325000000",))] == 2
    assert values[("xianjie_escalations_awaiting_instruction", ("532325000000",))] == 3
    assert values[("xianjie_escalations_total", ("532325000000", "leader"))] == 4
    assert values[("xianjie_task_workflows_waiting", ())] == 1
    assert values[("xianjie_alerts_raised_total", ("warning", "zero_employment"))] == 9
    assert values[("xianjie_cases_open", ("532325000000", "verify"))] == 10
    assert values[("xianjie_cases_overdue", ("532325000000", "verify"))] == 4
    assert values[("xianjie_cases_overdue", ("532325000000", "confirm"))] == 0
    assert [values[("xianjie_cases_sla", ("532325000000", c))] for c in ("green", "amber", "red")] == [6, 2, 4]
    assert values[("xianjie_case_workflows_waiting", ())] == 1
    assert values[("xianjie_case_escalations_total", ("532325000000", "leader"))] == 3
