"""Replays recorded workflow histories against the current workflow code: a change
that would break workflows already running (non-determinism) fails here.

Histories are recorded from a real run on the time-skipping test server and committed
under `histories/`; re-record them only when an incompatible change is guarded by
`workflow.patched`:

    XIANJIE_RECORD_HISTORIES=1 .venv/bin/pytest tests/integration/test_replay.py -k record

writes `histories/<WorkflowType>-<8 hex>.json` for every workflow type below (delete the
old file of that type in the same commit):
  - `PolicyTaskWorkflow`: a task through two months with an 签收 action;
  - `AlertCaseWorkflow`: a case through 核查 (on its last day, after its two reminders)
    → 公示 (ended by its timer) → 认定 → 帮扶 (a plan of two measures) → 回访 (two
    monthly visits, the second after its reminders): about three months of timers.
"""

import os
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner

from services.alerts.cases import Measure
from services.common.db import create_pool
from workflows.case_plan import CasePlan
from workflows.case_workflow import AlertCaseWorkflow
from workflows.ping import PingWorkflow
from workflows.task_workflow import PolicyTaskWorkflow
from workflows.worker import build_worker

HISTORIES = Path(__file__).with_name("histories")
RECORD = os.environ.get("XIANJIE_RECORD_HISTORIES") == "1"
REPLAYED = [PolicyTaskWorkflow, AlertCaseWorkflow, PingWorkflow]


def recorded(kind: str = "") -> list[Path]:
    return sorted(HISTORIES.glob(f"{kind}*.json"))


def history_of(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(path.stem, path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", recorded(), ids=lambda p: p.stem)
async def test_recorded_history_replays(path):
    await Replayer(workflows=REPLAYED).replay_workflow(history_of(path))


def test_every_workflow_type_has_a_recorded_history():
    names = {p.stem.split("-")[0] for p in recorded()}
    assert {"PolicyTaskWorkflow", "AlertCaseWorkflow"} <= names


@workflow.defn(name="AlertCaseWorkflow")
class ReorderedAlertCaseWorkflow(AlertCaseWorkflow):
    """The case workflow with a change that breaks running cases: an activity before anything else."""

    @workflow.run
    async def run(self, plan: CasePlan) -> str:
        await workflow.execute_activity("record_case_clock", None, start_to_close_timeout=timedelta(seconds=5))
        return await super().run(plan)


@pytest.mark.parametrize("path", recorded("AlertCaseWorkflow"), ids=lambda p: p.stem)
async def test_a_non_deterministic_change_fails_the_replay(path):
    """The replay above can fail: the recorded case refuses a workflow that calls an activity first
    (unsandboxed: the sandbox would re-import this test module)."""
    replayer = Replayer(workflows=[ReorderedAlertCaseWorkflow], workflow_runner=UnsandboxedWorkflowRunner())
    result = await replayer.replay_workflow(
        history_of(path), raise_on_replay_failure=False)
    assert result.replay_failure is not None
    assert "nondetermin" in str(result.replay_failure).lower()


def save(history: WorkflowHistory, kind: str) -> Path:
    HISTORIES.mkdir(exist_ok=True)
    path = HISTORIES / f"{kind}-{uuid.uuid4().hex[:8]}.json"
    path.write_text(history.to_json(), encoding="utf-8")
    return path


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
    save(history, "PolicyTaskWorkflow")


@pytest.mark.skipif(not RECORD, reason="set XIANJIE_RECORD_HISTORIES=1 to record new histories")
async def test_record_alert_case_history(time_skipping_env, database_url):
    """Records a case from its alert to the second 回访, with the 核查 reminders and the
    公示 ending by its timer: run with XIANJIE_RECORD_HISTORIES=1."""
    from test_case_workflow import Actors, Clock, d, raise_alert, start_cases, unit_id

    env, dsn = time_skipping_env, database_url
    raise_alert(dsn)
    people = Actors(dsn)
    rsj, ybj = unit_id(dsn, "县人力资源和社会保障局"), unit_id(dsn, "县医疗保障局")
    with create_pool(dsn) as pool:
        async with build_worker(env.client, pool, task_queue="tq"):
            clock = Clock(env, await env.get_current_time())
            (_, handle), = (await start_cases(env, dsn, pool)).items()
            await clock.to(d(2023, 3, 8))  # the reminders 2 and 1 days before 03-08 have fired
            await handle.execute_update(AlertCaseWorkflow.act, people.verify("2023-03-08"))
            await clock.to(d(2023, 3, 14))  # the notice has ended by itself after 5 days
            await handle.execute_update(AlertCaseWorkflow.act, people.office_act("confirm", monitoring_kind="边缘易致贫户"))
            await handle.execute_update(AlertCaseWorkflow.act, people.township_act("plan", measures=(
                Measure("employment", rsj, "2023-04-30", "安排公益性岗位一个"),
                Measure("medical_aid", ybj, "2023-03-31", "大病医疗救助"))))
            for month in (4, 5):
                await clock.to(d(2023, month, 10))
                await handle.execute_update(AlertCaseWorkflow.act, people.visit(f"2023-{month:02d}-10"))
            await clock.to(d(2023, 5, 20))
            state = await handle.query(AlertCaseWorkflow.case_state)
            assert (state.stage, state.status) == ("follow_up", "open")
            history = await handle.fetch_history()
    save(history, "AlertCaseWorkflow")
