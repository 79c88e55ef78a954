"""Business state as Prometheus metrics, counted in PostgreSQL when Prometheus scrapes.

Steps open, due soon and overdue per region, escalations, bulletins, alerts per rule,
task workflows started, and alert cases by stage and SLA colour are facts the database already holds; counting them at
scrape time keeps them right across restarts and replicas, where counters kept in a
process would start again from zero. One process registers this collector (the relay,
which always runs as a single replica), so the counts are not scraped twice.

Labels are bounded: region codes of the regions that publish policies (for cases, the
county), rule ids of the rule files, step, bulletin and case-stage kinds, the three SLA
colours; never a unit, user, household or case.
"""

from __future__ import annotations

import logging
import threading
import time

import psycopg
from prometheus_client import REGISTRY
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

log = logging.getLogger(__name__)

# A step is "due soon" from the first reminder on: 3 days before its due moment.
DUE_SOON_DAYS = 3

QUERIES: dict[str, str] = {
    "steps": f"""
        SELECT t.region_code,
               count(*) AS open,
               count(*) FILTER (WHERE s.due_at >= now() AND s.due_at < now() + interval '{DUE_SOON_DAYS} days') AS due_soon,
               count(*) FILTER (WHERE s.due_at < now()) AS overdue
          FROM tasks.steps s JOIN tasks.tasks t ON t.id = s.task_id
         WHERE s.status IN ('open', 'returned')
         GROUP BY t.region_code""",
    "escalations": """
        SELECT region_code, to_role, count(*) AS total, count(*) FILTER (WHERE instruction IS NULL) AS awaiting
          FROM tasks.escalations GROUP BY region_code, to_role""",
    "task_workflows": """
        SELECT count(*) FILTER (WHERE workflow_started_at IS NOT NULL) AS started,
               count(*) FILTER (WHERE workflow_started_at IS NULL AND status = 'open') AS waiting
          FROM tasks.tasks""",
    "bulletins": """
        SELECT kind, generated_by, count(*) AS produced FROM assessment.bulletins GROUP BY kind, generated_by""",
    "alerts": """
        SELECT rule_id, severity, count(*) AS raised, count(*) FILTER (WHERE status = 'firing') AS firing
          FROM alerts.alerts GROUP BY rule_id, severity""",
    # Open cases by county, stage and SLA colour: the colour by the rule of the cases' read
    # model (services/alerts/case_repository.SLA, which the integration test compares).
    "cases": """
        SELECT county_code, stage,
               CASE WHEN due_at IS NULL THEN 'green'
                    WHEN overdue OR due_at <= now() THEN 'red'
                    WHEN due_at <= now() + make_interval(days => amber_days) THEN 'amber'
                    ELSE 'green' END AS sla,
               count(*) AS open,
               count(*) FILTER (WHERE workflow_started_at IS NULL) AS waiting
          FROM alerts.cases WHERE status = 'open' GROUP BY 1, 2, 3""",
    "case_escalations": """
        SELECT county_code, to_role, count(*) AS total FROM alerts.case_escalations GROUP BY county_code, to_role""",
}
NO_ROWS: dict[str, list[tuple]] = {name: [] for name in QUERIES} | {"task_workflows": [(0, 0)]}
SLA_STATES = ("green", "amber", "red")


class StateCollector:
    """Counts from PostgreSQL, cached for `max_age_s` so that several scrapers cost one query set."""

    def __init__(self, dsn: str, max_age_s: float = 15.0, statement_timeout_ms: int = 5000) -> None:
        self.dsn = dsn
        self.max_age_s = max_age_s
        self.statement_timeout_ms = statement_timeout_ms
        self._lock = threading.Lock()
        self._rows: dict[str, list[tuple]] | None = None
        self._at = 0.0
        self._seconds = 0.0

    def read(self) -> dict[str, list[tuple]] | None:
        """The rows of every query, or None when the database cannot answer."""
        with self._lock:
            if self._rows is not None and time.monotonic() - self._at < self.max_age_s:
                return self._rows
            started = time.perf_counter()
            try:
                with psycopg.connect(self.dsn, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f"SET statement_timeout = {int(self.statement_timeout_ms)}")
                    self._rows = {name: conn.execute(sql).fetchall() for name, sql in QUERIES.items()}
            except psycopg.Error as e:
                log.warning("state metrics: the database did not answer: %s", e)
                self._rows = None
            self._at = time.monotonic()
            self._seconds = time.perf_counter() - started
            return self._rows

    def describe(self):
        """The families without asking the database (the registry checks names at registration)."""
        yield from (
            GaugeMetricFamily("xianjie_state_metrics_up", ""), GaugeMetricFamily("xianjie_state_metrics_query_seconds", "")
        )
        yield from families(NO_ROWS)

    def collect(self):
        rows = self.read()
        up = GaugeMetricFamily("xianjie_state_metrics_up", "1 when the business-state counts could be read")
        up.add_metric([], 0 if rows is None else 1)
        took = GaugeMetricFamily("xianjie_state_metrics_query_seconds", "Time the last count of the business state took")
        took.add_metric([], self._seconds)
        yield from (up, took)
        if rows is not None:
            yield from families(rows)


def families(rows: dict[str, list[tuple]]) -> list:
    """The metric families of one set of query rows (pure, so it is tested without a database)."""
    steps = {
        state: GaugeMetricFamily(f"xianjie_steps_{state}", f"Steps {text}, by the region of their task", labels=["region"])
        for state, text in (
            ("open", "open or returned (not yet submitted)"),
            ("due_soon", f"open and due within {DUE_SOON_DAYS} days"),
            ("overdue", "open past their due moment"),
        )
    }
    for region, n_open, due_soon, overdue in rows["steps"]:
        steps["open"].add_metric([region], n_open)
        steps["due_soon"].add_metric([region], due_soon)
        steps["overdue"].add_metric([region], overdue)
    escalations = CounterMetricFamily(
        "xianjie_escalations", "Overdue steps escalated, by region and who received them", labels=["region", "to_role"]
    )
    awaiting = GaugeMetricFamily(
        "xianjie_escalations_awaiting_instruction", "Escalations without a leader's instruction (批示)", labels=["region"]
    )
    awaiting_by_region: dict[str, int] = {}
    for region, to_role, total, waiting in rows["escalations"]:
        escalations.add_metric([region, to_role], total)
        awaiting_by_region[region] = awaiting_by_region.get(region, 0) + waiting
    for region, waiting in awaiting_by_region.items():
        awaiting.add_metric([region], waiting)
    ((started, waiting_start),) = rows["task_workflows"]
    workflows_started = CounterMetricFamily("xianjie_task_workflows_started", "Published tasks whose workflow was started")
    workflows_started.add_metric([], started)
    workflows_waiting = GaugeMetricFamily(
        "xianjie_task_workflows_waiting", "Open tasks whose workflow the worker has not started yet"
    )
    workflows_waiting.add_metric([], waiting_start)
    bulletins = CounterMetricFamily(
        "xianjie_bulletins_produced", "Bulletins (通报) produced, by kind and by schedule or on demand",
        labels=["kind", "generated_by"],
    )
    for kind, generated_by, produced in rows["bulletins"]:
        bulletins.add_metric([kind, generated_by], produced)
    raised = CounterMetricFamily(
        "xianjie_alerts_raised", "Early-warning alerts raised (one per subject, rule and period)",
        labels=["rule", "severity"],
    )
    firing = GaugeMetricFamily("xianjie_alerts_firing", "Alerts firing now (not inhibited, silenced or resolved)",
                               labels=["rule", "severity"])
    for rule, severity, n_raised, n_firing in rows["alerts"]:
        raised.add_metric([rule, severity], n_raised)
        firing.add_metric([rule, severity], n_firing)
    return [*steps.values(), escalations, awaiting, workflows_started, workflows_waiting, bulletins, raised, firing,
            *case_families(rows["cases"], rows["case_escalations"])]


def case_families(cases: list[tuple], escalated: list[tuple]) -> list:
    """Open alert cases (监测帮扶案件) per county: by stage, by SLA colour (every colour of a
    county present, zeros included, so a panel shows red dropping to 0), overdue."""
    open_ = GaugeMetricFamily("xianjie_cases_open", "Open alert cases, by county and stage (核查, 公示, 认定, 帮扶, 回访…)",
                              labels=["region", "stage"])
    sla = GaugeMetricFamily("xianjie_cases_sla", "Open alert cases by SLA colour (green, amber within the warning days, "
                            "red past the deadline), by county", labels=["region", "sla"])
    overdue = GaugeMetricFamily("xianjie_cases_overdue", "Open alert cases past their current deadline, by county and stage",
                                labels=["region", "stage"])
    waiting = GaugeMetricFamily("xianjie_case_workflows_waiting",
                                "Open case runs whose workflow the worker's case starter has not started yet")
    by_stage: dict[tuple[str, str], list[int]] = {}
    by_sla: dict[str, dict[str, int]] = {}
    not_started = 0
    for region, stage, colour, n_open, n_waiting in cases:
        counts = by_stage.setdefault((region, stage), [0, 0])
        counts[0] += n_open
        counts[1] += n_open if colour == "red" else 0
        by_sla.setdefault(region, dict.fromkeys(SLA_STATES, 0))[colour] += n_open
        not_started += n_waiting
    for (region, stage), (n_open, n_red) in sorted(by_stage.items()):
        open_.add_metric([region, stage], n_open)
        overdue.add_metric([region, stage], n_red)
    for region, colours in sorted(by_sla.items()):
        for colour, n in colours.items():
            sla.add_metric([region, colour], n)
    waiting.add_metric([], not_started)
    escalations = CounterMetricFamily("xianjie_case_escalations", "Alert cases escalated past a deadline, by county "
                                      "and who received them", labels=["region", "to_role"])
    for region, to_role, total in escalated:
        escalations.add_metric([region, to_role], total)
    return [open_, sla, overdue, waiting, escalations]


_registered: StateCollector | None = None


def register_state_metrics(dsn: str) -> StateCollector:
    """Add the collector to this process's /metrics (once per process)."""
    global _registered
    if _registered is None:
        _registered = StateCollector(dsn)
        REGISTRY.register(_registered)
    return _registered
