"""Replays recorded workflow histories against the current workflow code: a change
that would break workflows already running (non-determinism) fails here.

Histories are recorded from a real run with `XIANJIE_RECORD_HISTORIES=1`
(`pytest tests/integration/test_replay.py`) and committed under `histories/`;
re-record them only when an incompatible change is guarded by `workflow.patched`.
"""

import os
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from services.common.db import create_pool
from workflows.ping import PingWorkflow
from workflows.task_workflow import PolicyTaskWorkflow
from workflows.worker import build_worker

HISTORIES = Path(__file__).with_name("histories")
RECORD = os.environ.get("XIANJIE_RECORD_HISTORIES") == "1"


def recorded() -> list[Path]:
    return sorted(HISTORIES.glob("*.json"))


@pytest.mark.parametrize("path", recorded(), ids=lambda p: p.stem)
async def test_recorded_history_replays(path):
    history = WorkflowHistory.from_json(f"{path.stem}", path.read_text(encoding="utf-8"))
    await Replayer(workflows=[PolicyTaskWorkflow, PingWorkflow]).replay_workflow(history)


def test_every_workflow_type_has_a_recorded_history():
    names = {p.stem.split("-")[0] for p in recorded()}
    assert {"PolicyTaskWorkflow"} <= names


@pytest.mark.skipif(not RECORD, reason="set XIANJIE_RECORD_HISTORIES=1 to record new histories")
async def test_record_policy_task_history(time_skipping_env, database_url):
    """Records the history of a task through two months with an action: run with XIANJIE_RECORD_HISTORIES=1."""
    from test_task_workflow import action, published_task_rows, start, step

    env = time_skipping_env
    task, units, users = published_task_rows(database_url)
    rsj = units["县人力资源和社会保障局"]
    with create_pool(database_url) as pool:
        async with build_worker(env.client, pool, task_queue="tq"):
            handle = await start(env, task)
            await env.sleep(timedelta(days=10))
            await handle.execute_update(PolicyTaskWorkflow.act, action("acknowledge", step(database_url, rsj, "acknowledge"),
                                                                       users["yaoan_rsj"], rsj))
            await env.sleep(timedelta(days=50))
            history = await handle.fetch_history()
    HISTORIES.mkdir(exist_ok=True)
    (HISTORIES / f"PolicyTaskWorkflow-{uuid.uuid4().hex[:8]}.json").write_text(history.to_json(), encoding="utf-8")
