"""BulletinCycleWorkflow: one per region (id `bulletins-<region code>`), the office's
reporting cycle — on the 3rd of each month at 09:00 Asia/Shanghai (configurable) it
produces the 月通报 of the month before, and after a quarter's, June's and
December's month also the 季度分析, 半年小结 and 年终总结, and tells every unit
named in each (通报印发, in their notification list).

A long-running workflow rather than a Temporal Schedule: the cycle's calendar is the
project's own (Shanghai time, configurable day), and the time-skipping test server,
which runs a simulated year in seconds, does not support Schedules."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from services.tasks.steps import TZ
    from workflows.activities.bulletin_activities import BulletinActivities

CYCLES_PER_RUN = 12
RETRY = RetryPolicy(maximum_interval=timedelta(minutes=5))


@dataclass
class BulletinCycle:
    region_code: str
    day_of_month: int = 3
    hour: int = 9
    clock_offset_s: float = 0.0  # for simulations: the workflow clock starts on another date


def next_run(now: datetime, day: int, hour: int) -> datetime:
    """The next `day` of a month at `hour`, Shanghai time, strictly after `now`."""
    local = now.astimezone(TZ)
    candidate = local.replace(day=day, hour=hour, minute=0, second=0, microsecond=0)
    if candidate <= local:
        y, m = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
        candidate = candidate.replace(year=y, month=m)
    return candidate


def due_bulletins(run_at: datetime) -> list[tuple[str, str]]:
    """(kind, period) of the bulletins produced at a run: the month before, and its quarter,
    half-year or year when that month ends one."""
    local = run_at.astimezone(TZ)
    y, m = (local.year - 1, 12) if local.month == 1 else (local.year, local.month - 1)
    out = [("monthly", f"{y}-{m:02d}")]
    if m % 3 == 0:
        out.append(("quarterly", f"{y}-Q{m // 3}"))
    if m == 6:
        out.append(("half_year", f"{y}-H1"))
    if m == 12:
        out.append(("annual", f"{y}"))
    return out


@workflow.defn
class BulletinCycleWorkflow:
    @workflow.run
    async def run(self, cycle: BulletinCycle) -> None:
        for _ in range(CYCLES_PER_RUN):
            now = workflow.now() + timedelta(seconds=cycle.clock_offset_s)
            run_at = next_run(now, cycle.day_of_month, cycle.hour)
            await workflow.sleep(run_at - now)
            for kind, period in due_bulletins(run_at):
                bulletin_id = await workflow.execute_activity_method(
                    BulletinActivities.generate_bulletin, args=[kind, cycle.region_code, period],
                    start_to_close_timeout=timedelta(minutes=5), retry_policy=RETRY,
                )
                if workflow.patched("announce-bulletins"):
                    await workflow.execute_activity_method(
                        BulletinActivities.announce_bulletin, bulletin_id,
                        start_to_close_timeout=timedelta(minutes=1), retry_policy=RETRY,
                    )
        workflow.continue_as_new(replace(cycle))


@workflow.defn
class BulletinAnnounceWorkflow:
    """Tells the units named in a bulletin generated on demand (id `bulletin-announce-<id>`):
    the office's request returns at once, the notices follow, retried until they are written."""

    @workflow.run
    async def run(self, bulletin_id: int) -> int:
        return await workflow.execute_activity_method(
            BulletinActivities.announce_bulletin, bulletin_id,
            start_to_close_timeout=timedelta(minutes=1), retry_policy=RETRY,
        )
