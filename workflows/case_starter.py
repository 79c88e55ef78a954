"""Gives every alert that needs one its case, and every case run its workflow.

Like the task starter, it reads PostgreSQL rather than the broker: the alerts consumer
only writes alert groups; this starter, in the worker process, (1) links each open
household group that fires to its household's case — opening a case (id = the group's
id) when the household has none, joining the open one otherwise, and reopening a closed
one as a new run — in one transaction with the `alert.case.opened` / `reopened` events,
then (2) starts the workflow of every run not yet started (workflow id `case-<id>`; an
existing run is kept, a finished one is followed by a new run). A repeated alert never
opens a second case, and an alert raised while Temporal was down still gets its case.
"""

from __future__ import annotations

import asyncio

import psycopg
from psycopg_pool import ConnectionPool
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy

from services.alerts import case_repository as repo
from services.alerts.case_rules import case_rules, is_fast_path
from services.alerts.cases import CaseState, opened, verify_due
from services.alerts.rule_files import effective_root
from services.alerts.rules import load_rule_set
from services.common.config import get_settings
from services.common.events import Envelope, new_envelope, write_outbox_many
from workflows.case_plan import CasePlan
from workflows.case_workflow import AlertCaseWorkflow
from workflows.polling import poll_until_stopped


def case_workflow_id(case_id: int) -> str:
    return f"{get_settings().temporal_workflow_id_prefix}case-{case_id}"


def _state(row: dict, rules: dict, monitoring_line: float) -> CaseState:
    """The opening state of a run: at 核查, due `verify` days after its alert."""
    state = CaseState(
        case_id=row["id"], run=row["run"], household_no=row["household_no"], village_code=row["village_code"],
        township_unit_id=row["township_unit_id"] or 0, category=row["category"],
        no_labour_capacity=row["no_labour_capacity"], monitoring_line=monitoring_line, fast_path=row["fast_path"],
        alerted_at=row["alerted_at"].isoformat(),
    )
    return opened(state, rules, row["alerted_at"])


def link_pending_groups(conn: psycopg.Connection, limit: int = 500) -> int:
    """Step 1, in the caller's transaction: every pending group joins, opens or reopens its household's case."""
    groups = repo.groups_without_case(conn, limit)
    townships: dict[str, int | None] = {}
    with conn.pipeline():  # the writes whose results are not read go out together with the next read
        events = [e for g in groups if (e := _link(conn, g, townships)) is not None]
    write_outbox_many(conn, "alerts", "alerts.events", events)  # COPY: not in a pipeline
    return len(groups)


def _link(conn: psycopg.Connection, g: dict, townships: dict[str, int | None]) -> Envelope | None:
    """One group: join its household's open case, or open (reopen) one with its event; the
    `alert.case.opened` / `reopened` event for the outbox, None when it joined an open case."""
    rules = case_rules(g["village_code"])
    fast = is_fast_path(rules, g["category"], list(g["causes"]))
    case = repo.latest_case_of(conn, g["household_id"])
    if case is not None and case["status"] == "open":
        repo.link_group(conn, g["id"], case["id"])
        repo.add_event(conn, case["id"], case["run"], "alert_added", case["stage"],
                       detail={"group_id": g["id"], "period": g["period"], "severity": g["severity"]})
        return None
    due = verify_due(g["created_at"], fast, rules)  # a run is alerted when its group was created
    if case is None:
        if g["township_code"] not in townships:
            townships[g["township_code"]] = repo.township_unit(conn, g["township_code"])
        unit = townships[g["township_code"]]
        case, kind = repo.insert_case(conn, g, unit, fast, rules["sla"]["amber_days"], due), "opened"
    else:
        case, kind = repo.reopen_case(conn, case["id"], g, fast, due), "reopened"
    due_at = due.isoformat()
    repo.link_group(conn, g["id"], case["id"])
    repo.add_event(conn, case["id"], case["run"], kind, "verify",
                   detail={"group_id": g["id"], "period": g["period"], "severity": g["severity"],
                           "fast_path": fast, "due_at": due_at})
    return new_envelope(
        f"alert.case.{kind}", source="alerts", entity_id=str(case["id"]), key=f"case-{case['id']}",
        regions={"county": case["county_code"], "township": case["township_code"], "village": case["village_code"]},
        payload={"case_id": case["id"], "run": case["run"], "household_id": case["household_id"],
                 "group_id": g["id"], "township_unit_id": case["township_unit_id"], "fast_path": fast,
                 "stage": "verify", "status": "open", "due_at": due_at},
    )


def plan_for_case(row: dict, root=None) -> CasePlan:
    """The workflow input of a case run (a row of `cases_to_start`)."""
    rules = case_rules(row["village_code"])
    rule_set = load_rule_set(row["village_code"], row["alerted_at"].year, root)
    line = rule_set.monitoring_line.amount if rule_set.monitoring_line else 0.0
    return CasePlan(state=_state(row, rules, line), county_code=row["county_code"],
                    township_code=row["township_code"], rules=rules)


async def start_case(client: Client, plan: CasePlan, task_queue: str) -> None:
    await client.start_workflow(
        AlertCaseWorkflow.run, plan, id=case_workflow_id(plan.state.case_id), task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
    )


async def start_pending_cases(client: Client, pool: ConnectionPool, task_queue: str, limit: int = 500) -> int:
    """Link pending alert groups, then start up to `limit` case runs; returns how many runs were started."""
    def load() -> list[CasePlan]:
        with pool.connection() as conn:
            link_pending_groups(conn, limit)
        with pool.connection() as conn:
            root = effective_root(conn)
            return [plan_for_case(r, root) for r in repo.cases_to_start(conn, limit)]

    def mark(runs: list[tuple[int, int]]) -> None:
        with pool.connection() as conn:
            repo.mark_started(conn, runs)

    plans = await asyncio.to_thread(load)
    if not plans:
        return 0
    await asyncio.gather(*(start_case(client, p, task_queue) for p in plans))
    await asyncio.to_thread(mark, [(p.state.case_id, p.state.run) for p in plans])
    return len(plans)


async def run_case_starter(client: Client, pool: ConnectionPool, task_queue: str, stop: asyncio.Event,
                           every_s: float = 2.0) -> None:
    await poll_until_stopped("alert case workflows", lambda: start_pending_cases(client, pool, task_queue), stop,
                             every_s)
