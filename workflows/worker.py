"""The Temporal worker: registers every workflow and activity of the project."""

from __future__ import annotations

import asyncio
import logging

from temporalio.client import Client
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import Worker

from services.common.config import get_settings
from workflows.ping import PingWorkflow

log = logging.getLogger(__name__)

WORKFLOWS = [PingWorkflow]
ACTIVITIES: list = []


def build_worker(client: Client, task_queue: str | None = None) -> Worker:
    return Worker(
        client,
        task_queue=task_queue or get_settings().temporal_task_queue,
        workflows=WORKFLOWS,
        activities=ACTIVITIES,
    )


async def run_worker(stop: asyncio.Event, sdk_metrics_port: int | None = None) -> None:
    """Run until `stop` is set; the SDK's own metrics go to their Prometheus port."""
    s = get_settings()
    runtime = None
    if sdk_metrics_port:
        runtime = Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=f"{s.bind_host}:{sdk_metrics_port}")))
    client = await Client.connect(s.temporal_address, namespace=s.temporal_namespace, runtime=runtime)
    worker = build_worker(client)
    async with worker:
        log.info("worker polling %s on %s", s.temporal_task_queue, s.temporal_address)
        await stop.wait()
