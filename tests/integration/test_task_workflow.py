"""PolicyTaskWorkflow on the time-skipping test server with a real PostgreSQL:
a task's steps open, fall due on Shanghai working days, remind, go overdue and
climb the escalation ladder; actions arrive as Updates and are refused with a
reason when they must be; continue-as-new keeps the state; sign-off ends it."""

import uuid
from datetime import date, datetime, timedelta

import psycopg
import pytest
from psycopg.rows import dict_row
from temporalio.client import WorkflowUpdateFailedError

from services.common.auth import load_principal
from services.common.config import get_settings
from services.common.db import create_pool
from services.demo import load_demo
from services.tasks import policies
from services.tasks.step_rules import Action, Step
from services.tasks.steps import TZ, at_work_hour
from workflows.activities.task_activities import TaskActivities
from workflows.task_plan import SignOff
from workflows.task_starter import plan_for
from workflows.task_workflow import PolicyTaskWorkflow
from workflows.worker import build_worker

pytestmark = pytest.mark.integration

DOC = """姚安县2023年就业帮扶工作要点
一、稳定就业
(一)开发公益岗位。2023年12月31日前完成岗位开发。(牵头单位:县人社局;责任单位:县财政局)
"""
START = date(2023, 1, 3)


@pytest.fixture
def published_task(database_url):
    return published_task_rows(database_url)


def published_task_rows(database_url):
    """A task published from DOC by the 姚安县 office, with its units and the demo users."""
    load_demo(database_url, with_policies=False)
    with psycopg.connect(database_url, row_factory=dict_row) as conn:
        user = conn.execute("SELECT id FROM common.users WHERE username = 'yaoan_office'").fetchone()
        actor = load_principal(conn, user["id"])
        draft = policies.upload(conn, actor=actor, region_code="532325000000", filename="doc.txt",
                                content=DOC.encode(), request_id="t")
        policies.publish(conn, actor=actor, document_id=draft["id"], request_id="t")
        task = conn.execute("SELECT * FROM tasks.tasks").fetchone()
        units = {r["name"]: r["id"] for r in conn.execute(
            "SELECT id, name FROM common.units WHERE id = ANY(%s)", (task["lead_unit_ids"] + task["responsible_unit_ids"],))}
        users = {r["username"]: r["id"] for r in conn.execute("SELECT id, username FROM common.users")}
    return task, units, users


def rows(dsn, sql, *params):
    with psycopg.connect(dsn, row_factory=dict_row) as conn:
        return conn.execute(sql, params).fetchall()


def step(dsn, unit_id, kind, period=""):
    return rows(dsn, "SELECT * FROM tasks.steps WHERE unit_id = %s AND kind = %s AND period = %s", unit_id, kind, period)[0]


def action(name, step_row, user_id, unit_id, roles=("unit_staff",), **kw):
    return Action(name=name, step_key=step_row["step_key"], idempotency_key=kw.pop("key", uuid.uuid4().hex),
                  actor_user_id=user_id, actor_unit_id=unit_id, actor_roles=tuple(roles), **kw)


async def start(env, task, history_limit=8000):
    plan = plan_for(task, search_attributes=False, published_on=START)
    plan.clock_offset_s = (at_work_hour(START) - env_now(await env.get_current_time())).total_seconds()
    plan.history_limit = history_limit
    return await env.client.start_workflow(PolicyTaskWorkflow.run, plan, id=f"task-{task['id']}", task_queue="tq")


def env_now(t: datetime) -> datetime:
    return t


def due_day(step_row) -> date:
    return step_row["due_at"].astimezone(TZ).date()


async def test_a_year_of_steps_reminders_escalations_and_actions(time_skipping_env, published_task, database_url):
    env = time_skipping_env
    task, units, users = published_task
    rsj, czj = units["县人力资源和社会保障局"], units["县财政局"]
    with create_pool(database_url) as pool:
        async with build_worker(env.client, pool, task_queue="tq"):
            handle = await start(env, task)
            await env.sleep(timedelta(days=20))  # → 2023-01-23, in the Spring Festival holiday

            ack = step(database_url, rsj, "acknowledge")
            assert due_day(ack) == date(2023, 1, 6), "签收: 3 working days after 2023-01-03"
            reminders = rows(database_url, "SELECT detail->>'at' AS at FROM tasks.step_history WHERE step_id = %s "
                                           "AND action = 'reminded' ORDER BY id", ack["id"])
            assert [r["at"][:16] for r in reminders] == ["2023-01-05T09:00"], "1 day before; none on the day it opened"
            assert ack["overdue"] and ack["escalation_level"] == 3, "unit head +1, 分管领导 +3, office +7 working days"
            escalations = rows(database_url, "SELECT level, to_role, at FROM tasks.escalations WHERE step_id = %s ORDER BY level", ack["id"])
            assert [(e["level"], e["to_role"], e["at"].date()) for e in escalations] == [
                (1, "unit_head", date(2023, 1, 9)), (2, "leader", date(2023, 1, 11)), (3, "office", date(2023, 1, 17))]
            assert [h["action"] for h in rows(database_url, "SELECT action FROM tasks.step_history WHERE step_id = %s ORDER BY id", ack["id"])] == [
                "opened", "reminded", "overdue", "escalated", "escalated", "escalated"]

            # 签收 by the unit itself; another unit is refused before anything is written
            with pytest.raises(WorkflowUpdateFailedError) as refused:
                await handle.execute_update(PolicyTaskWorkflow.act, action("acknowledge", ack, users["yaoan_nync"], czj))
            assert "本单位" in str(refused.value.cause)
            done = await handle.execute_update(PolicyTaskWorkflow.act, action("acknowledge", ack, users["yaoan_rsj"], rsj))
            assert done["status"] == "approved"

            await env.sleep(timedelta(days=18))  # → 2023-02-10
            jan = step(database_url, rsj, "monthly_report", "2023-01")
            assert due_day(jan) == date(2023, 2, 6), "2023-02-05 is a Sunday: due on Monday 02-06"
            assert jan["overdue"] and jan["escalation_level"] >= 1

            key = uuid.uuid4().hex
            submit = action("submit", jan, users["yaoan_rsj"], rsj, key=key, text="1月开发公益岗位120个", progress=10)
            assert (await handle.execute_update(PolicyTaskWorkflow.act, submit))["status"] == "submitted"
            again = await handle.execute_update(PolicyTaskWorkflow.act, submit)
            assert again["repeated"] is True, "the same idempotency key changes nothing"
            with pytest.raises(WorkflowUpdateFailedError):
                await handle.execute_update(PolicyTaskWorkflow.act, action("approve", jan, users["yaoan_rsj"], rsj, key=key))
            with pytest.raises(WorkflowUpdateFailedError) as office_only:
                await handle.execute_update(PolicyTaskWorkflow.act, action("approve", jan, users["yaoan_rsj"], rsj))
            assert "办公室" in str(office_only.value.cause)

            office = dict(roles=("office_admin",))
            returned = await handle.execute_update(PolicyTaskWorkflow.act, action(
                "return", jan, users["yaoan_office"], 0, text="请补充岗位明细", **office))
            assert returned["status"] == "returned"
            await handle.execute_update(PolicyTaskWorkflow.act, action("submit", jan, users["yaoan_rsj"], rsj, text="已补充明细"))
            approved = await handle.execute_update(PolicyTaskWorkflow.act, action("approve", jan, users["yaoan_office"], 0, **office))
            assert approved["status"] == "approved"
            assert step(database_url, rsj, "monthly_report", "2023-01")["approved_at"] is not None

            # an extension moves the due date and the reminders
            feb = step(database_url, czj, "monthly_report", "2023-02")
            assert due_day(feb) == date(2023, 3, 6), "03-05 is a Sunday"
            await handle.execute_update(PolicyTaskWorkflow.act, action(
                "request_extension", feb, users["yaoan_office"], czj, text="数据未汇总", new_due_date="2023-03-20"))
            await handle.execute_update(PolicyTaskWorkflow.act, action("grant_extension", feb, users["yaoan_office"], 0, **office))
            await env.sleep(timedelta(days=30))  # → 2023-03-12
            feb = step(database_url, czj, "monthly_report", "2023-02")
            assert due_day(feb) == date(2023, 3, 20) and not feb["overdue"]
            reminded = rows(database_url, "SELECT detail FROM tasks.step_history WHERE step_id = %s AND action = 'reminded'", feb["id"])
            assert reminded == [], "the old reminders (03-02, 03-04) were dropped; the new ones come on 03-17 and 03-19"
            await env.sleep(timedelta(days=8))  # → 2023-03-20
            reminded = rows(database_url, "SELECT detail FROM tasks.step_history WHERE step_id = %s AND action = 'reminded'", feb["id"])
            assert [r["detail"]["at"][:10] for r in reminded] == ["2023-03-17", "2023-03-19"]

            await env.sleep(timedelta(days=220))  # → late October
            sep = step(database_url, rsj, "monthly_report", "2023-09")
            assert due_day(sep) == date(2023, 10, 7), "National Day: 10-05 is a holiday, 10-07 a make-up workday"

            state = await handle.query(PolicyTaskWorkflow.state)
            assert all(s["status"] in ("open", "returned", "submitted") for s in state["steps"])
            closed = await handle.execute_update(PolicyTaskWorkflow.sign_off, SignOff(
                users["yaoan_office"], ["office_admin"], "岗位开发全部完成"))
            assert closed["status"] == "closed"
            assert await handle.result() == "closed"
    assert rows(database_url, "SELECT status FROM tasks.tasks WHERE id = %s", task["id"])[0]["status"] == "closed"
    events = {r["type"] for r in rows(database_url, "SELECT envelope->>'type' AS type FROM tasks.outbox")}
    assert {"task.step.opened", "task.step.reminded", "task.step.overdue", "task.step.escalated", "task.step.submitted",
            "task.step.returned", "task.step.approved", "task.step.extended", "task.closed"} <= events


async def test_continue_as_new_keeps_the_state(time_skipping_env, published_task, database_url):
    env = time_skipping_env
    task, units, users = published_task
    with create_pool(database_url) as pool:
        async with build_worker(env.client, pool, task_queue="tq"):
            handle = await start(env, task, history_limit=60)
            await env.sleep(timedelta(days=100))
            first_run = handle.result_run_id
            state = await handle.query(PolicyTaskWorkflow.state)
            desc = await env.client.get_workflow_handle(handle.id).describe()
            assert desc.run_id != first_run, "the workflow continued as new"
            before = rows(database_url, "SELECT count(*) AS n FROM tasks.steps WHERE task_id = %s", task["id"])[0]["n"]
            await env.sleep(timedelta(days=40))
            after = rows(database_url, "SELECT count(*) AS n FROM tasks.steps WHERE task_id = %s", task["id"])[0]["n"]
            assert after > before, "steps keep opening after continue-as-new"
            assert len({s["key"] for s in state["steps"]}) == len(state["steps"])
            opened = rows(database_url, "SELECT step_key, count(*) AS n FROM tasks.step_history h JOIN tasks.steps s ON s.id = h.step_id "
                          "WHERE h.action = 'opened' GROUP BY step_key HAVING count(*) > 1")
            assert opened == [], "no step opened twice across runs"


class _Bot:
    """A group-bot stand-in on loopback that records what it is sent (or fails every time)."""

    def __init__(self, status: int):
        import json
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/robot"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.mark.parametrize("status", [200, 500])
async def test_escalations_reach_the_group_bot_and_a_failing_bot_blocks_nothing(
    status, time_skipping_env, published_task, database_url, monkeypatch
):
    bot = _Bot(status)
    monkeypatch.setenv("XIANJIE_WEBHOOK_URL", bot.url)
    get_settings.cache_clear()
    env = time_skipping_env
    task, units, users = published_task
    rsj = units["县人力资源和社会保障局"]
    with create_pool(database_url) as pool:
        async with build_worker(env.client, pool, task_queue="tq"):
            plan = plan_for(task, search_attributes=False, published_on=START)
            assert plan.webhook is True
            plan.clock_offset_s = (at_work_hour(START) - await env.get_current_time()).total_seconds()
            await env.client.start_workflow(PolicyTaskWorkflow.run, plan, id=f"task-{task['id']}", task_queue="tq")
            await env.sleep(timedelta(days=20))
    bot.server.shutdown()
    assert bot.received, "the bot was called"
    assert all(m["msgtype"] == "text" and "逾期督办" in m["text"]["content"] for m in bot.received)
    ack = step(database_url, rsj, "acknowledge")
    assert ack["escalation_level"] == 3, "escalations went on whatever the bot answered"
    if status == 500:
        assert len(bot.received) >= 5, "a failing bot is retried"


def test_open_steps_writes_each_new_step_once_with_its_history_notification_and_event(database_url):
    """The activity writes a task's opened steps a table at a time; a retry writes only what is new."""
    task, units, _ = published_task_rows(database_url)
    unit = min(units.values())
    steps = [Step(key=f"{task['id']}:{unit}:monthly_report:2023-0{m}", unit_id=unit, kind="monthly_report",
                  period=f"2023-0{m}", label=f"2023年{m}月月报", opens_at=f"2023-0{m}-01T00:00:00+08:00",
                  due_date=f"2023-0{m + 1}-05") for m in (1, 2, 3)]
    with create_pool(database_url) as pool:
        activities = TaskActivities(pool)
        assert activities.open_steps(task["id"], steps[:2]) == 2
        assert activities.open_steps(task["id"], steps) == 1  # a retry with one more: only that one is new
        assert activities.open_steps(task["id"], []) == 0
    opened = rows(database_url, "SELECT id, step_key, label, due_at FROM tasks.steps WHERE task_id = %s ORDER BY id",
                  task["id"])
    assert [r["step_key"] for r in opened] == [s.key for s in steps]
    assert opened[0]["due_at"].astimezone(TZ).isoformat() == "2023-02-05T23:59:59+08:00"
    ids = [r["id"] for r in opened]
    history = rows(database_url, "SELECT step_id, action FROM tasks.step_history WHERE step_id = ANY(%s) ORDER BY id", ids)
    assert [(h["step_id"], h["action"]) for h in history] == [(i, "opened") for i in ids]
    notes = rows(database_url, "SELECT unit_id, kind, title, body, step_id FROM tasks.notifications "
                               "WHERE step_id = ANY(%s) ORDER BY id", ids)
    assert [(n["unit_id"], n["kind"], n["title"], n["step_id"]) for n in notes] == [(unit, "opened", "新的待办", i)
                                                                                     for i in ids]
    assert notes[2]["body"] == f"{task['title']} · 2023年3月月报,截止 2023-04-05"
    events = rows(database_url, "SELECT envelope FROM tasks.outbox WHERE envelope->>'type' = 'task.step.opened' "
                                "AND (envelope->'payload'->>'task_id')::bigint = %s ORDER BY id", task["id"])
    assert [e["envelope"]["payload"]["step_id"] for e in events] == ids
    assert events[0]["envelope"]["payload"]["due_at"] == opened[0]["due_at"].isoformat()
