"""Starts the workflow of every published task that has none yet, and the reporting
cycle of every region with published policies.

Publishing only writes PostgreSQL (tasks and their `task.published` events, in one
transaction); the starter, running in the worker process, reads the tasks without
a workflow and starts one each, idempotently (workflow id `task-<id>`, an existing
one is kept). So a task is never published without its workflow, even when
Temporal was down at the time.
"""

from __future__ import annotations

import asyncio
from datetime import date

from psycopg_pool import ConnectionPool
from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDConflictPolicy

from services.common.calendar import default_calendar
from services.common.config import get_settings
from services.tasks.steps import TZ, horizon_for
from workflows.bulletin_workflow import BulletinCycle, BulletinCycleWorkflow
from workflows.polling import poll_until_stopped
from workflows.task_plan import TaskPlan
from workflows.task_workflow import LEAD_UNIT, REGION_CODE, TASK_ID, TASK_STATUS, PolicyTaskWorkflow


def plan_for(task: dict, search_attributes: bool = True, published_on: date | None = None) -> TaskPlan:
    """The workflow input of a task row."""
    published = published_on or task["published_at"].astimezone(TZ).date()
    years = [t["year"] for t in task["targets"] if t.get("year")]
    units = list(dict.fromkeys([*task["lead_unit_ids"], *task["responsible_unit_ids"]]))
    work = default_calendar()
    return TaskPlan(
        task_id=task["id"],
        region_code=task["region_code"],
        title=task["title"],
        lead_unit_ids=list(task["lead_unit_ids"]),
        unit_ids=units,
        published_on=published.isoformat(),
        task_due=task["due_at"].isoformat() if task["due_at"] else None,
        horizon=horizon_for(published, task["due_at"], years).isoformat(),
        calendar=task["reporting_calendar"],
        holidays=sorted(d.isoformat() for d in work.holidays),
        workdays=sorted(d.isoformat() for d in work.workdays),
        search_attributes=search_attributes,
        webhook=bool(get_settings().webhook_url),
    )


def search_attributes_of(plan: TaskPlan) -> TypedSearchAttributes:
    return TypedSearchAttributes([
        SearchAttributePair(TASK_ID, str(plan.task_id)),
        SearchAttributePair(REGION_CODE, plan.region_code),
        SearchAttributePair(LEAD_UNIT, str(plan.lead_unit_ids[0]) if plan.lead_unit_ids else ""),
        SearchAttributePair(TASK_STATUS, "open"),
    ])


def task_workflow_id(task_id: int) -> str:
    return f"{get_settings().temporal_workflow_id_prefix}task-{task_id}"


async def start_task(client: Client, plan: TaskPlan, task_queue: str) -> None:
    await client.start_workflow(
        PolicyTaskWorkflow.run, plan, id=task_workflow_id(plan.task_id), task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        search_attributes=search_attributes_of(plan) if plan.search_attributes else None,
    )


async def start_pending(client: Client, pool: ConnectionPool, task_queue: str, limit: int = 200) -> int:
    """Start the workflows of up to `limit` tasks that have none; returns how many."""
    def pending() -> list[dict]:
        with pool.connection() as conn:
            return conn.execute(
                """SELECT id, region_code, title, lead_unit_ids, responsible_unit_ids, published_at, due_at, targets,
                          reporting_calendar FROM tasks.tasks
                   WHERE workflow_started_at IS NULL AND status = 'open' ORDER BY id LIMIT %s""",
                (limit,),
            ).fetchall()

    def mark(ids: list[int]) -> None:
        with pool.connection() as conn:
            conn.execute("UPDATE tasks.tasks SET workflow_started_at = now() WHERE id = ANY(%s)", (ids,))

    tasks = await asyncio.to_thread(pending)
    if not tasks:
        return 0
    await asyncio.gather(*(start_task(client, plan_for(t), task_queue) for t in tasks))
    await asyncio.to_thread(mark, [t["id"] for t in tasks])
    return len(tasks)


async def ensure_bulletin_cycles(client: Client, pool: ConnectionPool, task_queue: str) -> int:
    """Every region with published policies has its reporting cycle (月通报 on the 3rd …)."""
    def regions() -> list[str]:
        with pool.connection() as conn:
            return [r["region_code"] for r in conn.execute(
                "SELECT DISTINCT region_code FROM tasks.policy_documents WHERE status = 'published' ORDER BY 1")]

    codes = await asyncio.to_thread(regions)
    for code in codes:
        await client.start_workflow(
            BulletinCycleWorkflow.run, BulletinCycle(code),
            id=f"{get_settings().temporal_workflow_id_prefix}bulletins-{code}", task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
    return len(codes)


async def run_starter(client: Client, pool: ConnectionPool, task_queue: str, stop: asyncio.Event,
                      every_s: float = 2.0) -> None:
    cycles_checked: float | None = None  # when the bulletin cycles were last ensured (every 5 minutes)

    async def step() -> int:
        nonlocal cycles_checked
        if cycles_checked is None or asyncio.get_running_loop().time() - cycles_checked > 300:
            await ensure_bulletin_cycles(client, pool, task_queue)
            cycles_checked = asyncio.get_running_loop().time()
        return await start_pending(client, pool, task_queue)

    await poll_until_stopped("task workflows", step, stop, every_s)
