"""AlertCaseWorkflow on the time-skipping test server with a real PostgreSQL: cases run
through eight months in seconds — 核查 on time and late, the escalation ladder, the
15-day limit of 认定, the fast path, a plan whose measures land in departments'
inboxes, 风险消除 refused at five months and proposed at six, a household without
labour capacity kept with 兜底, and a closed case reopened by a new alert."""

import uuid
from datetime import date, datetime, timedelta

import psycopg
import pytest
from psycopg.rows import dict_row
from temporalio.client import WorkflowUpdateFailedError

from services.alerts import case_repository
from services.alerts.case_deadlines import TZ
from services.alerts.case_repository import SLA
from services.alerts.cases import CaseAction, Measure
from services.common.db import create_pool
from services.tasks import inbox_repository
from workflows.case_starter import link_pending_groups, plan_for_case
from workflows.case_workflow import AlertCaseWorkflow
from workflows.task_starter import plan_for
from workflows.task_workflow import PolicyTaskWorkflow
from workflows.worker import build_worker

pytestmark = pytest.mark.integration

ALERT = datetime(2023, 3, 1, 10, 0, tzinfo=TZ)
TOWNSHIP = "532325100000"  # 栋川镇


def rows(dsn, sql, *params):
    with psycopg.connect(dsn, row_factory=dict_row) as conn:
        return conn.execute(sql, params).fetchall()


def one(dsn, sql, *params):
    return rows(dsn, sql, *params)[0]


def raise_alert(dsn, *, household_id=None, category="脱贫户", no_labour_capacity=False, cause="income",
                at=ALERT, period="2023-02") -> int:
    """A household of 栋川镇 (registered unless given) with a firing alert group raised `at`; returns the household id."""
    with psycopg.connect(dsn, row_factory=dict_row) as conn:
        village = conn.execute("SELECT code FROM common.regions WHERE level = 'village' AND code LIKE %s ORDER BY code "
                               "LIMIT 1", (TOWNSHIP[:9] + "%",)).fetchone()["code"]
        if household_id is None:
            no = f"{village}{uuid.uuid4().int % 10000:04d}"
            household_id = conn.execute(
                """INSERT INTO alerts.households (household_no, county_code, township_code, village_code, head_name,
                                                  head_id_number, phone, category, members, labourers, no_labour_capacity)
                   VALUES (%s, '532325000000', %s, %s, '李秀英', '53232519650412002X', '13987812345', %s, 3, %s, %s)
                   RETURNING id""",
                (no, TOWNSHIP, village, category, 0 if no_labour_capacity else 2, no_labour_capacity)).fetchone()["id"]
            conn.execute("""INSERT INTO alerts.household_members (household_id, name, id_number, relation, health)
                            VALUES (%s, '李秀英', '53232519650412002X', '户主', '患大病'),
                                   (%s, '王小明', '532325200501010011', '之子', '健康')""", (household_id, household_id))
        no = conn.execute("SELECT household_no FROM alerts.households WHERE id = %s", (household_id,)).fetchone()[
            "household_no"]
        group = conn.execute(
            """INSERT INTO alerts.alert_groups (subject_key, household_id, village_code, township_code, county_code,
                                                period, severity, created_at)
               VALUES (%s, %s, %s, %s, '532325000000', %s, 'critical', %s) RETURNING id""",
            (no, household_id, village, TOWNSHIP, period, at)).fetchone()["id"]
        conn.execute("""INSERT INTO alerts.alerts (group_id, subject_key, rule_id, rule_name, cause, severity, period, status)
                        VALUES (%s, %s, 'income_below_line', '人均纯收入低于监测线', %s, 'critical', %s, 'firing')""",
                     (group, no, cause, period))
    return household_id


def users(dsn) -> dict:
    return {r["username"]: r for r in rows(dsn, "SELECT u.id, u.username, u.unit_id FROM common.users u")}


def unit_id(dsn, name: str) -> int:
    return one(dsn, "SELECT id FROM common.units WHERE region_code = '532325000000' AND name = %s", name)["id"]


class Actors:
    """Build actions as the township (栋川镇) or the county office (姚安县乡村振兴局) would send them."""

    def __init__(self, dsn):
        u = users(dsn)
        self.township = u["dongchuan"]
        self.office = u["yaoan_office"]

    def township_act(self, name, **kw) -> CaseAction:
        return CaseAction(name=name, idempotency_key=uuid.uuid4().hex, actor_user_id=self.township["id"],
                          actor_unit_id=self.township["unit_id"], actor_roles=("unit_staff",),
                          actor_region_prefix="532325100", **kw)

    def office_act(self, name, **kw) -> CaseAction:
        return CaseAction(name=name, idempotency_key=uuid.uuid4().hex, actor_user_id=self.office["id"],
                          actor_unit_id=self.office["unit_id"], actor_roles=("office_admin",),
                          actor_region_prefix="532325", **kw)

    def verify(self, day: str, **kw) -> CaseAction:
        return self.township_act("verify", visited_on=day, visitors=("张三", "村支书李四"), text="入户核实:患大病,支出大",
                                 attachments=("17",), **kw)

    def visit(self, day: str, income=9600.0, **kw) -> CaseAction:
        flags = dict(compulsory_education_ok=True, basic_medical_ok=True, housing_ok=True, drinking_water_ok=True) | kw
        return self.township_act("visit", visited_on=day, income=income, text="回访", **flags)


async def start_cases(env, dsn, pool, alert_at=ALERT) -> dict:
    """Link pending alerts to cases and start the runs on the test server, its clock set to the alert."""
    with pool.connection() as conn:
        link_pending_groups(conn)
    handles = {}
    with pool.connection() as conn:
        runs = case_repository.cases_to_start(conn, 100)
    for row in runs:
        plan = plan_for_case(row)
        plan.clock_offset_s = (alert_at - await env.get_current_time()).total_seconds()
        handles[row["id"]] = await env.client.start_workflow(AlertCaseWorkflow.run, plan, id=f"case-{row['id']}",
                                                             task_queue="tq")
        with pool.connection() as conn:
            case_repository.mark_started(conn, [(row["id"], row["run"])])
    return handles


async def refused(handle, action) -> str:
    with pytest.raises(WorkflowUpdateFailedError) as e:
        await handle.execute_update(AlertCaseWorkflow.act, action)
    return str(e.value.cause)


def case_row(dsn, case_id):
    return one(dsn, "SELECT * FROM alerts.cases WHERE id = %s", case_id)


def due_day(row) -> date:
    """The last day of a deadline (due_at is the midnight after it)."""
    return (row["due_at"] - timedelta(microseconds=1)).astimezone(TZ).date()


def case_events(dsn, type_prefix="alert.case."):
    return [r["envelope"] for r in rows(dsn, "SELECT envelope FROM alerts.outbox WHERE envelope->>'type' LIKE %s "
                                             "ORDER BY id", type_prefix + "%")]


def d(y, m, day, h=10):
    return datetime(y, m, day, h, tzinfo=TZ)


class Clock:
    """The cases' clock on the time-skipping server: every run is started with the same
    offset from ALERT, so `to(moment)` sleeps exactly until that moment."""

    def __init__(self, env, started_at_env: datetime):
        self.env, self.origin = env, started_at_env

    async def to(self, moment: datetime):
        elapsed = await self.env.get_current_time() - self.origin
        await self.env.sleep(moment - (ALERT + elapsed))


@pytest.fixture
def dsn(database_url):
    return database_url


async def test_a_case_through_eight_months(time_skipping_env, dsn):
    env = time_skipping_env
    household = raise_alert(dsn)
    raise_alert(dsn, household_id=household, period="2023-03", at=ALERT + timedelta(hours=2))
    people = Actors(dsn)
    rsj, ybj = unit_id(dsn, "县人力资源和社会保障局"), unit_id(dsn, "县医疗保障局")
    with create_pool(dsn) as pool:
        async with build_worker(env.client, pool, task_queue="tq"):
            clock = Clock(env, await env.get_current_time())
            handles = await start_cases(env, dsn, pool)
            assert len(handles) == 1, "the second alert of the household joins its case"
            (case_id, handle), = handles.items()
            assert {g["case_id"] for g in rows(dsn, "SELECT case_id FROM alerts.alert_groups")} == {case_id}
            assert due_day(case_row(dsn, case_id)) == date(2023, 3, 8), "核查 within 7 days"

            await clock.to(d(2023, 3, 3))
            result = await handle.execute_update(AlertCaseWorkflow.act, people.verify("2023-03-03"))
            assert result["stage"] == "notice"
            assert "公示期未满" in await refused(handle, people.office_act("confirm", monitoring_kind="边缘易致贫户"))
            assert "县领导小组办公室" in await refused(handle, people.township_act("confirm", monitoring_kind="边缘易致贫户"))

            await clock.to(d(2023, 3, 10))
            assert case_row(dsn, case_id)["stage"] == "confirm", "the notice ended by itself after 5 days"
            await handle.execute_update(AlertCaseWorkflow.act, people.office_act("confirm", monitoring_kind="边缘易致贫户"))
            await clock.to(d(2023, 3, 11))
            plan = people.township_act("plan", measures=(
                Measure("employment", rsj, "2023-04-30", "安排公益性岗位一个"),
                Measure("medical_aid", ybj, "2023-03-31", "大病医疗救助")))
            assert (await handle.execute_update(AlertCaseWorkflow.act, plan))["stage"] == "follow_up"

            tasks = rows(dsn, """SELECT t.*, d.kind FROM tasks.tasks t JOIN tasks.policy_documents d ON d.id = t.document_id
                                 ORDER BY t.id""")
            assert [(t["lead_unit_ids"], t["due_at"].isoformat(), t["kind"]) for t in tasks] == [
                ([rsj], "2023-04-30", "case_plan"), ([ybj], "2023-03-31", "case_plan")]
            for task in tasks:  # the worker's task starter does this in production
                task_plan = plan_for(task, search_attributes=False, published_on=date(2023, 3, 11))
                task_plan.clock_offset_s = handle_offset(await env.get_current_time(), d(2023, 3, 11))
                await env.client.start_workflow(PolicyTaskWorkflow.run, task_plan, id=f"task-{task['id']}",
                                                task_queue="tq")

            # monthly visits, income above the line from the start
            for month in (4, 5, 6, 7, 8):
                await clock.to(d(2023, month, 10))
                await handle.execute_update(AlertCaseWorkflow.act, people.visit(f"2023-{month:02d}-10"))
            with pool.connection() as conn:
                inbox = inbox_repository.list_inbox(conn, rsj, limit=10, offset=0, status=None, overdue=None,
                                                    task_id=None, document_id=None, period=None, kind=None)
            assert [(i["label"], i["due_date"].isoformat(), i["status"]) for i in inbox] == [
                ("帮扶措施落实情况", "2023-05-04", "open")], "a step in 人社局's inbox (04-30 falls in the May Day holiday)"
            assert case_row(dsn, case_id)["stable_months"] == 5
            reason = await refused(handle, people.office_act("eliminate"))
            assert "仅5个月" in reason and "须满6个月" in reason

            await clock.to(d(2023, 9, 10))
            result = await handle.execute_update(AlertCaseWorkflow.act, people.visit("2023-09-10"))
            assert result["stage"] == "elimination_proposed" and result["events"] == ["visited", "elimination_proposed"]
            await clock.to(d(2023, 9, 12))
            await handle.execute_update(AlertCaseWorkflow.act, people.office_act("eliminate"))
            assert await handle.result() == "eliminated"
            closed = case_row(dsn, case_id)
            assert (closed["status"], closed["stage"], closed["escalation_level"]) == ("eliminated", "closed", 0)

            # a new alert in November reopens the closed case as a new run of the same workflow
            raise_alert(dsn, household_id=household, period="2023-11", at=d(2023, 11, 2))
            await clock.to(d(2023, 11, 2, 11))
            again = await start_cases(env, dsn, pool, alert_at=d(2023, 11, 2, 11))
            assert list(again) == [case_id]
            reopened = case_row(dsn, case_id)
            assert (reopened["run"], reopened["stage"], reopened["status"]) == (2, "verify", "open")
            assert due_day(reopened) == date(2023, 11, 9)
            state = await again[case_id].query(AlertCaseWorkflow.case_state)
            assert state.run == 2 and state.stage == "verify"

    types = [e["type"] for e in case_events(dsn)]
    assert types[:4] == ["alert.case.opened", "alert.case.verified", "alert.case.notice_published",
                         "alert.case.notice_ended"]
    assert {"alert.case.confirmed", "alert.case.plan_made", "alert.case.visited", "alert.case.elimination_proposed",
            "alert.case.risk_eliminated", "alert.case.reopened"} <= set(types)
    verified = next(e for e in case_events(dsn) if e["type"] == "alert.case.verified")
    assert verified["payload"]["on_time"] is True and verified["key"] == f"case-{case_id}"
    timeline = [r["kind"] for r in rows(dsn, "SELECT kind FROM alerts.case_events WHERE case_id = %s ORDER BY id", case_id)]
    assert timeline[:3] == ["opened", "alert_added", "verified"] and timeline[-1] == "reopened"


def handle_offset(env_now: datetime, moment: datetime) -> float:
    return (moment - env_now).total_seconds()


async def test_missed_deadlines_escalate_and_the_15_day_limit(time_skipping_env, dsn):
    env = time_skipping_env
    raise_alert(dsn)
    people = Actors(dsn)
    with create_pool(dsn) as pool:
        async with build_worker(env.client, pool, task_queue="tq"):
            clock = Clock(env, await env.get_current_time())
            (case_id, handle), = (await start_cases(env, dsn, pool)).items()
            await clock.to(d(2023, 3, 12))
            row = one(dsn, f"SELECT c.*, {SLA} AS sla FROM alerts.cases c WHERE id = %s", case_id)
            assert row["overdue"] and row["sla"] == "red" and row["escalation_level"] == 2
            ladder = rows(dsn, "SELECT stage, level, to_role, at FROM alerts.case_escalations WHERE case_id = %s "
                               "ORDER BY level", case_id)
            assert [(e["stage"], e["to_role"], e["at"].astimezone(TZ).date()) for e in ladder] == [
                ("verify", "unit_head", date(2023, 3, 9)), ("verify", "leader", date(2023, 3, 11))]
            kinds = [r["kind"] for r in rows(dsn, "SELECT kind FROM tasks.notifications WHERE unit_id = %s ORDER BY id",
                                             people.township["unit_id"])]
            assert kinds == ["case_reminded", "case_reminded", "case_overdue", "case_escalated", "case_escalated"]

            await handle.execute_update(AlertCaseWorkflow.act, people.verify("2023-03-12"))
            late = [e for e in case_events(dsn) if e["type"] == "alert.case.verified"][0]
            assert late["payload"]["on_time"] is False
            await clock.to(d(2023, 3, 20))  # the notice ended on 03-17; 认定 was due by 03-16
            row = case_row(dsn, case_id)
            assert (row["stage"], row["overdue"]) == ("confirm", True)
            assert due_day(row) == date(2023, 3, 16), "15 days from the alert"
            confirm_ladder = rows(dsn, "SELECT to_role FROM alerts.case_escalations WHERE case_id = %s AND stage = 'confirm'"
                                       " ORDER BY level", case_id)
            assert [e["to_role"] for e in confirm_ladder] == ["unit_head", "leader"], "leader reached on 03-19"
            await handle.execute_update(AlertCaseWorkflow.act, people.office_act("confirm", monitoring_kind="脱贫不稳定户"))
            confirmed = [e for e in case_events(dsn) if e["type"] == "alert.case.confirmed"][0]
            assert confirmed["payload"]["on_time"] is False and case_row(dsn, case_id)["escalation_level"] == 0


async def test_fast_path_and_a_household_without_labour_capacity(time_skipping_env, dsn):
    env = time_skipping_env
    raise_alert(dsn, category="突发严重困难户", no_labour_capacity=True, cause="accident")
    people = Actors(dsn)
    with create_pool(dsn) as pool:
        async with build_worker(env.client, pool, task_queue="tq"):
            clock = Clock(env, await env.get_current_time())
            (case_id, handle), = (await start_cases(env, dsn, pool)).items()
            row = case_row(dsn, case_id)
            assert row["fast_path"] and due_day(row) == date(2023, 3, 3), "核查 in 2 days"
            await clock.to(d(2023, 3, 2))
            await handle.execute_update(AlertCaseWorkflow.act, people.verify("2023-03-02"))
            assert due_day(case_row(dsn, case_id)) == date(2023, 3, 9), "认定 within 8 days"
            await clock.to(d(2023, 3, 8))
            await handle.execute_update(AlertCaseWorkflow.act,
                                        people.office_act("confirm", monitoring_kind="突发严重困难户"))
            assert due_day(case_row(dsn, case_id)) == date(2023, 3, 11), "plan in 3 days"
            await handle.execute_update(AlertCaseWorkflow.act, people.office_act("plan", measures=(
                Measure("basic_support", unit_id(dsn, "县民政局"), "2023-04-30", "纳入农村低保和特困供养"),)))
            for month in range(4, 11):
                await clock.to(d(2023, month, 8))
                result = await handle.execute_update(AlertCaseWorkflow.act, people.visit(f"2023-{month:02d}-08"))
            assert result["stage"] == "follow_up", "never proposed for elimination"
            row = case_row(dsn, case_id)
            assert row["basic_support"] and row["status"] == "open" and row["stable_months"] == 7
            assert "兜底" in await refused(handle, people.office_act("eliminate"))
    kept = [e for e in case_events(dsn) if e["type"] == "alert.case.kept_under_basic_support"]
    assert len(kept) == 1
