"""Every test in this folder needs real servers (from the fixtures of tests/conftest.py):
mark them `integration` so `-m "not integration"` skips them."""

from pathlib import Path

import pytest

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture
def worker(database_url, temporal_address, monkeypatch):
    """The Temporal worker and the task starter in a thread of their own, on a task
    queue and workflow-id prefix of this test's own (the dev server is shared)."""
    import asyncio
    import threading
    import uuid

    from temporalio.client import Client

    from services.common.config import get_settings
    from services.common.db import create_pool
    from workflows.task_starter import run_starter
    from workflows.worker import build_worker

    monkeypatch.setenv("TEMPORAL_ADDRESS", temporal_address)
    monkeypatch.setenv("XIANJIE_TEMPORAL_TASK_QUEUE", f"q-{uuid.uuid4().hex}")
    monkeypatch.setenv("XIANJIE_TEMPORAL_WORKFLOW_ID_PREFIX", f"{uuid.uuid4().hex[:8]}-")
    get_settings.cache_clear()
    queue = get_settings().temporal_task_queue
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    async def main():
        client = await Client.connect(temporal_address)
        with create_pool(database_url) as pool:
            async with build_worker(client, pool, task_queue=queue):
                await asyncio.gather(stop.wait(), run_starter(client, pool, queue, stop, every_s=0.3))

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    yield
    loop.call_soon_threadsafe(stop.set)
    thread.join(timeout=30)
