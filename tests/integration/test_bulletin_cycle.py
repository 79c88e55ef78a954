"""The office's reporting cycle on the time-skipping server: a simulated year gives
twelve 月通报, four 季度分析, one 半年小结 and one 年终总结, each on the 3rd at 09:00."""

from datetime import datetime, timedelta

import psycopg
import pytest

from services.common.db import create_pool
from services.tasks.steps import TZ
from workflows.bulletin_workflow import BulletinCycle, BulletinCycleWorkflow, due_bulletins, next_run
from workflows.worker import build_worker

pytestmark = pytest.mark.integration


def test_next_run_and_due_bulletins():
    assert next_run(datetime(2023, 1, 3, 9, 0, tzinfo=TZ), 3, 9) == datetime(2023, 2, 3, 9, 0, tzinfo=TZ)
    assert next_run(datetime(2023, 12, 20, tzinfo=TZ), 3, 9) == datetime(2024, 1, 3, 9, 0, tzinfo=TZ)
    assert due_bulletins(datetime(2023, 7, 3, 9, tzinfo=TZ)) == [("monthly", "2023-06"), ("quarterly", "2023-Q2"),
                                                                  ("half_year", "2023-H1")]
    assert due_bulletins(datetime(2024, 1, 3, 9, tzinfo=TZ)) == [("monthly", "2023-12"), ("quarterly", "2023-Q4"),
                                                                  ("annual", "2023")]


async def test_a_simulated_year_of_bulletins(time_skipping_env, database_url):
    env = time_skipping_env
    start = datetime(2023, 1, 4, 0, 0, tzinfo=TZ)
    cycle = BulletinCycle("532325000000", clock_offset_s=(start - await env.get_current_time()).total_seconds())
    with create_pool(database_url) as pool:
        async with build_worker(env.client, pool, task_queue="tq"):
            await env.client.start_workflow(BulletinCycleWorkflow.run, cycle, id="bulletins-532325000000",
                                            task_queue="tq")
            await env.sleep(timedelta(days=366))
    with psycopg.connect(database_url) as conn:
        made = conn.execute("SELECT kind, period FROM assessment.bulletins ORDER BY kind, period").fetchall()
    kinds = {}
    for kind, period in made:
        kinds.setdefault(kind, []).append(period)
    assert kinds["monthly"] == [f"2023-{m:02d}" for m in range(1, 13)]
    assert kinds["quarterly"] == ["2023-Q1", "2023-Q2", "2023-Q3", "2023-Q4"]
    assert kinds["half_year"] == ["2023-H1"] and kinds["annual"] == ["2023"]
