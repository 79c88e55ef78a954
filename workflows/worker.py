"""The Temporal worker: registers every workflow and activity of the project, and
runs the starters that give each published task and each alert case its workflow."""

from __future__ import annotations

import asyncio
import compileall
import inspect
import logging
import py_compile
from concurrent.futures import ThreadPoolExecutor

from psycopg_pool import ConnectionPool
from temporalio.client import Client
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import Worker

from services.common.config import get_settings
from services.common.db import create_pool
from services.common.metrics import watch_pool
from workflows.activities.bulletin_activities import BulletinActivities
from workflows.activities.case_activities import CaseActivities
from workflows.activities.task_activities import TaskActivities, send_webhook
from workflows.bulletin_workflow import BulletinAnnounceWorkflow, BulletinCycleWorkflow
from workflows.case_starter import run_case_starter
from workflows.case_workflow import AlertCaseWorkflow
from workflows.ping import PingWorkflow
from workflows.task_starter import run_starter
from workflows.task_workflow import PolicyTaskWorkflow

log = logging.getLogger(__name__)

WORKFLOWS = [PingWorkflow, PolicyTaskWorkflow, BulletinCycleWorkflow, BulletinAnnounceWorkflow, AlertCaseWorkflow]


def activities(pool: ConnectionPool) -> list:
    tasks, bulletins, cases = TaskActivities(pool), BulletinActivities(pool), CaseActivities(pool)
    return [tasks.open_steps, tasks.record_timers, tasks.apply_action, tasks.close_task, send_webhook,
            bulletins.generate_bulletin, bulletins.announce_bulletin, cases.record_clock, cases.apply_action]


def cache_workflow_bytecode() -> None:
    """Write the bytecode of the workflows' modules. The sandbox imports a workflow's module
    anew for every workflow run, and where bytecode is not written on import
    (PYTHONDONTWRITEBYTECODE, as in the image and on many developer machines) each of those
    imports compiled the source: 2.5 ms per run of PolicyTaskWorkflow, over a third of the
    sandbox's cost when a county publishes its tasks. Current bytecode is left alone: an
    installed package has it already (pip writes it at install, as in the image,
    whose file system is read-only)."""
    for path in sorted({inspect.getfile(w) for w in WORKFLOWS}):
        try:  # compile_file leaves bytecode whose header matches the source alone
            if compileall.compile_file(path, quiet=2, invalidation_mode=py_compile.PycInvalidationMode.TIMESTAMP):
                continue
            reason = "it does not compile"
        except OSError as e:
            reason = str(e)
        log.info("bytecode of %s not written (%s); without a current one the sandbox compiles it for "
                 "every run", path, reason)


def build_worker(client: Client, pool: ConnectionPool | None = None, task_queue: str | None = None) -> Worker:
    """A worker for the project's task queue; activities need a pool (workflow-only tests pass none)."""
    cache_workflow_bytecode()
    return Worker(
        client,
        task_queue=task_queue or get_settings().temporal_task_queue,
        workflows=WORKFLOWS,
        activities=activities(pool) if pool is not None else [],
        activity_executor=ThreadPoolExecutor(max_workers=16),
    )


async def run_worker(stop: asyncio.Event, sdk_metrics_port: int | None = None) -> None:
    """Run until `stop` is set; the SDK's own metrics go to their Prometheus port."""
    s = get_settings()
    runtime = None
    if sdk_metrics_port:
        # Names and units as ours: counters end in _total, durations are _seconds (docs/metrics.md).
        prometheus = PrometheusConfig(
            bind_address=f"{s.bind_host}:{sdk_metrics_port}",
            counters_total_suffix=True, unit_suffix=True, durations_as_seconds=True,
        )
        runtime = Runtime(telemetry=TelemetryConfig(metrics=prometheus))
    client = await Client.connect(s.temporal_address, namespace=s.temporal_namespace, runtime=runtime)
    with create_pool(max_size=20) as pool:
        pool.wait()
        watch_pool("worker", pool)
        async with build_worker(client, pool):
            log.info("worker polling %s on %s", s.temporal_task_queue, s.temporal_address)
            await asyncio.gather(stop.wait(), run_starter(client, pool, s.temporal_task_queue, stop),
                                 run_case_starter(client, pool, s.temporal_task_queue, stop))
