"""The office's reporting cycle on the time-skipping server: a simulated year gives
twelve 月通报, four 季度分析, one 半年小结 and one 年终总结, each on the 3rd at 09:00."""

import uuid
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
    with psycopg.connect(database_url) as conn:
        unit = conn.execute("SELECT id FROM common.units WHERE region_code = '532325000000' AND name = '县财政局'"
                            ).fetchone()[0]
        conn.execute("""INSERT INTO assessment.facts (unit_id, region_code, period, kind, value, event_ids, task_id,
                                                      step_id, ref, occurred_at)
                        VALUES (%s, '532325000000', '2023-05', 'step_due', 1, %s, 1, 1, '任务1', now())""",
                     (unit, [uuid.uuid4()]))
    start = datetime(2023, 1, 4, 0, 0, tzinfo=TZ)
    cycle = BulletinCycle("532325000000", clock_offset_s=(start - await env.get_current_time()).total_seconds())
    with create_pool(database_url) as pool:
        async with build_worker(env.client, pool, task_queue="tq"):
            await env.client.start_workflow(BulletinCycleWorkflow.run, cycle, id="bulletins-532325000000",
                                            task_queue="tq")
            await env.sleep(timedelta(days=366))
    with psycopg.connect(database_url) as conn:
        made = conn.execute("SELECT kind, period FROM assessment.bulletins ORDER BY kind, period").fetchall()
        notices = conn.execute("""SELECT n.title FROM tasks.notifications n JOIN common.units u ON u.id = n.unit_id
                                  WHERE n.kind = 'bulletin' AND u.name = '县财政局' ORDER BY n.id""").fetchall()
    kinds = {}
    for kind, period in made:
        kinds.setdefault(kind, []).append(period)
    assert kinds["monthly"] == [f"2023-{m:02d}" for m in range(1, 13)]
    assert kinds["quarterly"] == ["2023-Q1", "2023-Q2", "2023-Q3", "2023-Q4"]
    assert kinds["half_year"] == ["2023-H1"] and kinds["annual"] == ["2023"]
    # 县财政局 has facts in May only: it is named in May's 月通报, Q2's 季度分析, the 半年小结 and the 年终总结
    assert [t for (t,) in notices] == [f"姚安县巩固拓展脱贫攻坚成果工作{w}已印发" for w in
                                       ("月通报(2023年5月)", "季度分析(2023年第2季度)", "半年小结(2023年上半年)",
                                        "年终总结(2023年度)")]
