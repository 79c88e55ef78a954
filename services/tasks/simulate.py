"""What-if before publishing: run a document's task workflows for a period on the
time-skipping test server and list every due date, reminder and escalation per
unit, so the office checks a calendar and its holidays before it publishes.

Nobody acts in a simulation, so every step runs its whole course: opened,
reminded, overdue, escalated.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta

from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from services.common.calendar import default_calendar
from services.common.devstack import venv_binary
from services.tasks.review import task_due_date
from services.tasks.steps import at_midnight, horizon_for
from workflows.activities.simulation import SimulationActivities
from workflows.task_plan import TaskPlan
from workflows.task_workflow import PolicyTaskWorkflow

EVENT_LABELS = {"opened": "开始", "reminded": "提醒", "overdue": "逾期", "escalated": "督办"}
ROLE_LABELS = {"unit_head": "单位负责人", "leader": "分管领导", "office": "领导小组办公室"}


@dataclass
class Row:
    ref: str
    title: str
    unit: str
    step: str
    due_date: str
    event: str
    at: str


def plans_for(document: dict, calendar: dict, start: date, end: date) -> tuple[list[TaskPlan], dict[int, str]]:
    """A plan per measure; units are numbered by name, since nothing is resolved yet."""
    names: dict[str, int] = {}
    plans = []
    work = default_calendar()
    for i, m in enumerate(document["measures"], start=1):
        units = [names.setdefault(n, len(names) + 1) for n in dict.fromkeys(m["lead_units"] + m["responsible_units"])]
        due = task_due_date(m["deadlines"])
        due_date = date.fromisoformat(due) if due else None
        years = [t["year"] for t in m["targets"] if t.get("year")]
        plans.append(TaskPlan(
            task_id=i, region_code="", title=m["title"], lead_unit_ids=units[:1], unit_ids=units,
            published_on=start.isoformat(), task_due=due, horizon=min(end, horizon_for(start, due_date, years)).isoformat(),
            calendar=calendar, holidays=sorted(d.isoformat() for d in work.holidays),
            workdays=sorted(d.isoformat() for d in work.workdays), search_attributes=False,
        ))
    return plans, {v: k for k, v in names.items()}


async def simulate(document: dict, calendar: dict, start: date, end: date) -> list[Row]:
    plans, unit_names = plans_for(document, calendar, start, end)
    recorder = SimulationActivities()
    queue = f"simulate-{uuid.uuid4().hex}"
    async with await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=venv_binary("temporal-test-server")
    ) as env:
        offset = (at_midnight(start) - await env.get_current_time()).total_seconds()
        async with Worker(env.client, task_queue=queue, workflows=[PolicyTaskWorkflow], activities=recorder.all(),
                          activity_executor=ThreadPoolExecutor(max_workers=4)):
            for plan in plans:
                plan.clock_offset_s = offset
                await env.client.start_workflow(PolicyTaskWorkflow.run, plan, id=f"sim-{plan.task_id}", task_queue=queue)
            await env.sleep(at_midnight(end + timedelta(days=1)) - at_midnight(start))
    measures = document["measures"]
    rows = []
    for h in sorted(recorder.happenings, key=lambda h: (h.at, h.task_id, h.unit_id)):
        if h.at[:10] > end.isoformat():
            continue
        m = measures[h.task_id - 1]
        event = EVENT_LABELS[h.event] + (f"→{ROLE_LABELS.get(h.to_role, h.to_role)}" if h.level else "")
        rows.append(Row(m["ref"], m["title"], unit_names[h.unit_id], h.label, h.due_date, event, h.at[:16]))
    return rows
