"""The worker as `xianjie serve worker` runs it exports the Temporal SDK's metrics under the
names docs/metrics.md gives (_total counters, _seconds durations), and its pool's use."""

from __future__ import annotations

import asyncio
import re
import threading
import urllib.request
import uuid

import pytest
from prometheus_client import generate_latest
from temporalio.client import Client

from services.common.config import REPO_ROOT, get_settings
from services.common.devstack import free_port
from workflows.ping import PingWorkflow
from workflows.worker import run_worker

pytestmark = pytest.mark.integration

# What docs/metrics.md promises once the worker has run one workflow.
AFTER_ONE_WORKFLOW = (
    "temporal_workflow_completed_total",
    "temporal_workflow_task_schedule_to_start_latency_seconds",
    "temporal_request_total",
    "temporal_worker_task_slots_available",
)


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        return r.read().decode()


async def test_the_worker_exports_the_sdk_metrics_under_our_conventions(database_url, temporal_address, monkeypatch):
    queue = f"q-{uuid.uuid4().hex}"
    monkeypatch.setenv("TEMPORAL_ADDRESS", temporal_address)
    monkeypatch.setenv("XIANJIE_TEMPORAL_TASK_QUEUE", queue)
    monkeypatch.setenv("XIANJIE_TEMPORAL_WORKFLOW_ID_PREFIX", f"{uuid.uuid4().hex[:8]}-")
    get_settings.cache_clear()
    port = free_port()
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    failed: list[BaseException] = []

    async def worker() -> None:
        try:
            await run_worker(stop, port)
        except Exception as e:  # noqa: BLE001 (shown by the test instead of a hang)
            failed.append(e)

    thread = threading.Thread(target=loop.run_until_complete, args=(worker(),), daemon=True)
    thread.start()
    try:
        client = await Client.connect(temporal_address)
        handle = await client.start_workflow(PingWorkflow.run, "指标", id=f"ping-{uuid.uuid4()}", task_queue=queue)
        for _ in range(600):
            if failed or (await handle.describe()).status.name == "COMPLETED":
                break
            await asyncio.sleep(0.1)
        assert not failed, repr(failed)
        result = await handle.result()
        assert result == "pong: 指标"
        text = await asyncio.to_thread(scrape, port)
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=30)

    types = dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.MULTILINE))
    catalogue = (REPO_ROOT / "docs" / "metrics.md").read_text(encoding="utf-8")
    for name in AFTER_ONE_WORKFLOW:
        assert name in types, f"{name} not exported"
        assert f"`{name}`" in catalogue
    for name, kind in types.items():
        assert name.startswith("temporal_")
        if kind == "counter":
            assert name.endswith("_total"), name
        if kind == "histogram" and "latency" in name:
            assert name.endswith("_seconds"), name
    assert re.search(r'^temporal_workflow_completed_total\{[^}]*workflow_type="PingWorkflow"[^}]*\} 1', text, re.MULTILINE)
    ours = generate_latest().decode()
    assert re.search(r'^xianjie_db_pool_max_connections\{service="worker"\} 20\.0$', ours, re.MULTILINE)
