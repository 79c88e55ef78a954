"""The worker registers the project's workflows and runs them on a real Temporal."""

import uuid

import pytest
from temporalio.client import Client

from workflows.ping import PingWorkflow
from workflows.worker import build_worker

pytestmark = pytest.mark.integration


async def test_ping_runs_on_the_dev_server(temporal_address):
    client = await Client.connect(temporal_address)
    queue = f"test-{uuid.uuid4().hex}"
    async with build_worker(client, task_queue=queue):
        result = await client.execute_workflow(PingWorkflow.run, "县里", id=f"ping-{uuid.uuid4()}", task_queue=queue)
    assert result == "pong: 县里"


async def test_ping_runs_on_the_time_skipping_server(time_skipping_env):
    queue = f"test-{uuid.uuid4().hex}"
    async with build_worker(time_skipping_env.client, task_queue=queue):
        result = await time_skipping_env.client.execute_workflow(
            PingWorkflow.run, "test", id=f"ping-{uuid.uuid4()}", task_queue=queue
        )
    assert result == "pong: test"
