"""deploy/prometheus/rules.yml: every alert has a runbook line, names metrics the code
exports, is equal to the PrometheusRule of deploy/k8s, passes `promtool check rules`, and
fires (or stays quiet) on the series of the cases below under `promtool test rules`.

promtool comes from Debian's `prometheus` package. When it is missing the test installs
it with apt-get (as root, from the Debian archive the machine already uses); when that
is impossible the promtool tests skip and say why.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path

import pytest
import yaml
from metrics_catalogue import exported_series, metrics_of

from services.common.config import REPO_ROOT

RULES = REPO_ROOT / "deploy" / "prometheus" / "rules.yml"
PROMETHEUS_RULE = REPO_ROOT / "deploy" / "k8s" / "base" / "monitoring" / "prometheusrule.yaml"

# Each required situation of the issue -> the alert that covers it.
REQUIRED = {
    "a process down": "XianjieProcessDown",
    "/readyz failing": "XianjieNotReady",
    "consumer lag growing": "XianjieConsumerLagGrowing",
    "DLQ growing": "XianjieDeadLettersGrowing",
    "outbox backlog stuck": "XianjieOutboxBacklogStuck",
    "overdue steps jumping": "XianjieOverdueStepsJumped",
    "worker task-queue backlog": "XianjieWorkerTaskQueueBacklog",
}


def rule_groups() -> list[dict]:
    return yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]


def alerts() -> dict[str, dict]:
    return {r["alert"]: r for g in rule_groups() for r in g["rules"] if "alert" in r}


# --- without promtool -----------------------------------------------------------------


def test_every_required_situation_has_an_alert():
    defined = alerts()
    assert {k: v for k, v in REQUIRED.items() if v not in defined} == {}


@pytest.mark.parametrize("name", sorted(alerts()))
def test_every_alert_has_a_severity_a_summary_and_a_runbook_line(name):
    rule = alerts()[name]
    assert rule["labels"]["severity"] in ("critical", "warning")
    notes = rule["annotations"]
    assert notes["summary"] and notes["description"]
    assert len(notes["runbook"]) > 40 and "\n" not in notes["runbook"], "one line that says what to do"


@pytest.mark.parametrize("name", sorted(alerts()))
def test_every_alert_queries_exported_metrics(name):
    expr = alerts()[name]["expr"]
    names = metrics_of(expr)
    assert names, expr
    assert names <= exported_series(), f"{name}: {sorted(names - exported_series())} not in docs/metrics.md"


def test_the_prometheus_rule_of_the_cluster_has_the_same_groups():
    (doc,) = [d for d in yaml.safe_load_all(PROMETHEUS_RULE.read_text(encoding="utf-8")) if d]
    assert doc["apiVersion"] == "monitoring.coreos.com/v1" and doc["kind"] == "PrometheusRule"
    assert doc["spec"]["groups"] == rule_groups(), "deploy/k8s/base/monitoring/prometheusrule.yaml differs from rules.yml"


# --- promtool ---------------------------------------------------------------------------


@cache
def promtool() -> str | None:
    """promtool's path, installing Debian's prometheus package when we may; None otherwise."""
    found = shutil.which("promtool")
    if found or os.environ.get("XIANJIE_NO_APT"):
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return None
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "prometheus"]
    done = subprocess.run(install, check=False, capture_output=True, text=True, env=env, timeout=600)
    if done.returncode != 0:  # an old package list: refresh it once
        subprocess.run(["apt-get", "update", "-q"], check=False, capture_output=True, env=env, timeout=300)
        done = subprocess.run(install, check=False, capture_output=True, text=True, env=env, timeout=600)
    return shutil.which("promtool")


def need_promtool() -> str:
    path = promtool()
    if path is None:
        reason = "promtool not found and Debian's prometheus package could not be installed (needs root and apt-get)"
        print(f"SKIPPED: {reason}")
        pytest.skip(reason)
    return path


def test_promtool_checks_the_rules():
    out = subprocess.run([need_promtool(), "check", "rules", str(RULES)], check=False, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"SUCCESS: {sum(len(g['rules']) for g in rule_groups())} rules found" in out.stdout


# Each case: input series, when to look, the alerts expected then (labels, and the value
# the summary shows). An empty list means the alert must stay quiet.
CASES = [
    ("XianjieProcessDown", ['up{job="relay", instance="relay:9102"}', "1 1 0x10"], "6m",
     [({"job": "relay", "instance": "relay:9102"}, None)]),
    ("XianjieProcessDown", ['up{job="relay", instance="relay:9102"}', "1x10"], "6m", []),
    ("XianjieRelayAbsent", ['up{job="tasks-api", instance="t:8001"}', "1x10"], "6m", [({}, None)]),
    ("XianjieRelayAbsent", ['up{job="relay", instance="relay:9102"}', "1x10"], "6m", []),
    ("XianjieNotReady", ['xianjie_ready{service="alerts", instance="a:8002"}', "1 0x10"], "7m",
     [({"service": "alerts"}, None)]),
    ("XianjieNotReady", ['xianjie_ready{service="alerts", instance="a:8002"}', "1 0 0 1x8"], "7m", []),
    ("XianjieStateMetricsDown", ["xianjie_state_metrics_up", "0x15"], "12m", [({}, None)]),
    ("XianjieConsumerLagGrowing",
     ['xianjie_consumer_lag{consumer="alerts", topic="household.events", partition="0"}', "1000+100x40",
      'xianjie_consumer_lag{consumer="alerts", topic="household.events", partition="1"}', "0x40"], "30m",
     [({"consumer": "alerts", "topic": "household.events"}, "4000")]),
    ("XianjieConsumerLagGrowing",
     ['xianjie_consumer_lag{consumer="alerts", topic="household.events", partition="0"}', "5000x40"], "30m", []),
    ("XianjieDeadLettersGrowing",
     ['xianjie_events_dead_lettered_total{consumer="alerts", topic="household.events", reason="not_json"}', "0 0 1 1 1"],
     "4m", [({"consumer": "alerts", "topic": "household.events", "reason": "not_json"}, None)]),
    ("XianjieDeadLettersGrowing",
     ['xianjie_events_dead_lettered_total{consumer="alerts", topic="household.events", reason="not_json"}', "1x40"],
     "30m", []),
    ("XianjieOutboxBacklogStuck",
     ['xianjie_outbox_backlog{schema="alerts"}', "50x30",
      'xianjie_outbox_published_total{schema="alerts", topic="household.events"}', "100x30"], "25m",
     [({"schema": "alerts"}, "50")]),
    ("XianjieOutboxBacklogStuck",
     ['xianjie_outbox_backlog{schema="alerts"}', "50x30",
      'xianjie_outbox_published_total{schema="alerts", topic="household.events"}', "100+10x30"], "25m", []),
    ("XianjieOutboxPublishSlow",
     ['xianjie_outbox_publish_lag_seconds_bucket{schema="tasks", le="60"}', "0x40",
      'xianjie_outbox_publish_lag_seconds_bucket{schema="tasks", le="160"}', "0+10x40",
      'xianjie_outbox_publish_lag_seconds_bucket{schema="tasks", le="+Inf"}', "0+10x40"], "35m",
     [({"schema": "tasks"}, None)]),
    ("XianjieOverdueStepsJumped", ['xianjie_steps_overdue{region="532325000000"}', "10x60 40x10"], "65m",
     [({"region": "532325000000"}, "30")]),
    ("XianjieOverdueStepsJumped", ['xianjie_steps_overdue{region="532325000000"}', "10x60 25x10"], "65m", []),
    ("XianjieTaskWorkflowsNotStarted", ["xianjie_task_workflows_waiting", "3x20"], "17m", [({}, "3")]),
    ("XianjieTaskWorkflowsNotStarted", ["xianjie_task_workflows_waiting", "3 0x20"], "17m", []),
    ("XianjieCasesGoingRed", ['xianjie_cases_sla{region="532325000000", sla="red"}', "2x60 10x10"], "65m",
     [({"region": "532325000000"}, "8")]),
    ("XianjieCasesGoingRed", ['xianjie_cases_sla{region="532325000000", sla="red"}', "2x60 6x10",
                              'xianjie_cases_sla{region="532325000000", sla="amber"}', "0x60 30x10"], "65m", []),
    ("XianjieCaseWorkflowsNotStarted", ["xianjie_case_workflows_waiting", "4x20"], "17m", [({}, "4")]),
    ("XianjieCaseWorkflowsNotStarted", ["xianjie_case_workflows_waiting", "4 0x20"], "17m", []),
    ("XianjieWorkerTaskQueueBacklog",
     ['temporal_workflow_task_schedule_to_start_latency_seconds_bucket{task_queue="xianjie", le="1"}', "0x20",
      'temporal_workflow_task_schedule_to_start_latency_seconds_bucket{task_queue="xianjie", le="10"}', "0+60x20",
      'temporal_workflow_task_schedule_to_start_latency_seconds_bucket{task_queue="xianjie", le="+Inf"}', "0+60x20"],
     "18m", [({"task_queue": "xianjie"}, None)]),
    ("XianjieWorkerTaskQueueBacklog",
     ['temporal_workflow_task_schedule_to_start_latency_seconds_bucket{task_queue="xianjie", le="1"}', "0+60x20",
      'temporal_workflow_task_schedule_to_start_latency_seconds_bucket{task_queue="xianjie", le="+Inf"}', "0+60x20"],
     "18m", []),
    ("XianjieWorkerSlotsExhausted",
     ['temporal_worker_task_slots_available{task_queue="xianjie", worker_type="ActivityWorker"}', "0x15"], "12m",
     [({"task_queue": "xianjie", "worker_type": "ActivityWorker"}, None)]),
    ("XianjieApiServerErrors",
     ['xianjie_http_requests_total{service="alerts", method="GET", route="/api/alerts", status="500"}', "0+10x30",
      'xianjie_http_requests_total{service="alerts", method="GET", route="/api/alerts", status="200"}', "0+90x30"],
     "25m", [({"service": "alerts"}, None)]),
    ("XianjieApiServerErrors",
     ['xianjie_http_requests_total{service="alerts", method="GET", route="/api/alerts", status="500"}', "0+1x30",
      'xianjie_http_requests_total{service="alerts", method="GET", route="/api/alerts", status="200"}', "0+99x30"],
     "25m", []),
    ("XianjieDatabasePoolWaiting", ['xianjie_db_pool_waiting_requests{service="tasks"}', "2x20"], "12m",
     [({"service": "tasks"}, None)]),
]


def expand(template: str, labels: dict[str, str], value: str | None) -> str:
    """The two template forms the rules use: {{ $labels.NAME }} and {{ $value }}."""
    out = re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels.get(m[1], "<no value>"), template)
    if "{{ $value }}" in out:
        assert value is not None, f"the case must give the value the template shows: {template}"
        out = out.replace("{{ $value }}", value)
    assert "{{" not in out, f"a template form the test does not expand: {template}"
    return out


def promtool_tests() -> dict:
    rules = alerts()
    tests = []
    for alert, series, at, expected in CASES:
        rule = rules[alert]
        exp_alerts = []
        for labels, value in expected:
            full = {**labels, **rule["labels"]}
            exp_alerts.append({
                "exp_labels": full,
                "exp_annotations": {k: expand(v, full, value) for k, v in rule["annotations"].items()},
            })
        tests.append({
            "interval": "1m",
            "input_series": [{"series": series[i], "values": series[i + 1]} for i in range(0, len(series), 2)],
            "alert_rule_test": [{"eval_time": at, "alertname": alert, "exp_alerts": exp_alerts}],
        })
    return {"rule_files": [str(RULES)], "evaluation_interval": "1m", "tests": tests}


def test_every_alert_has_a_firing_case():
    fired = {alert for alert, _, _, expected in CASES if expected}
    assert fired == set(alerts())
    quiet = {alert for alert, _, _, expected in CASES if not expected}
    assert set(REQUIRED.values()) <= quiet, "each required alert also has a case where it stays quiet"


def test_promtool_runs_the_cases(tmp_path: Path):
    path = tmp_path / "rules.test.yml"
    path.write_text(yaml.safe_dump(promtool_tests(), allow_unicode=True, sort_keys=False), encoding="utf-8")
    out = subprocess.run([need_promtool(), "test", "rules", str(path)], check=False, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS" in out.stdout


def test_promtool_fails_a_wrong_case(tmp_path: Path):
    """The harness can fail: a quiet system expected to page is reported."""
    spec = promtool_tests()
    spec["tests"] = [spec["tests"][1]]  # process up the whole time ...
    first = promtool_tests()["tests"][0]["alert_rule_test"][0]
    spec["tests"][0]["alert_rule_test"][0]["exp_alerts"] = first["exp_alerts"]  # ... but expected down
    path = tmp_path / "wrong.test.yml"
    path.write_text(yaml.safe_dump(spec, allow_unicode=True, sort_keys=False), encoding="utf-8")
    out = subprocess.run([need_promtool(), "test", "rules", str(path)], check=False, capture_output=True, text=True, timeout=120)
    assert out.returncode != 0 and "XianjieProcessDown" in out.stdout + out.stderr


# --- make observe -----------------------------------------------------------------------

OBSERVE = REPO_ROOT / "deploy" / "prometheus" / "observe.yml"


def test_make_observe_scrapes_every_process_on_its_configured_port():
    from services.common.config import Settings
    from services.serve import HTTP_PROCESSES, PROCESSES

    s = Settings()
    config = yaml.safe_load(OBSERVE.read_text(encoding="utf-8"))
    targets = {j["job_name"]: {t for c in j["static_configs"] for t in c["targets"]} for j in config["scrape_configs"]}
    for process in PROCESSES:
        setting = HTTP_PROCESSES[process][1] if process in HTTP_PROCESSES else process.replace("-", "_") + "_metrics_port"
        assert f"127.0.0.1:{getattr(s, setting)}" in targets[process], process
    assert f"127.0.0.1:{s.temporal_sdk_metrics_port}" in targets["worker"]
    assert config["rule_files"] == ["rules.yml"]
    jobs = re.search(r'job=~"([^"]+)"', alerts()["XianjieProcessDown"]["expr"])[1].split("|")
    assert sorted(jobs) == sorted(PROCESSES), "the process-down alert watches exactly the processes"


def test_promtool_checks_the_observe_config():
    out = subprocess.run([need_promtool(), "check", "config", str(OBSERVE)], check=False, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
