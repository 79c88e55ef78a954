"""Alert cases as the API and portal tests need them: a household of a township with a
firing alert group (what the alerts consumer leaves for the case starter), and the
starter's run that opens and starts their cases."""

from __future__ import annotations

import uuid

import psycopg
from temporalio.client import Client

from services.common.config import get_settings
from services.common.db import create_pool
from workflows.case_starter import start_pending_cases

COUNTY = "532325000000"
HEAD_ID, PHONE = "53232519650412002X", "13987812345"


def raise_alert(conn: psycopg.Connection, township: str, head_name: str, *, days_ago: int = 0,
                cause: str = "medical") -> int:
    """A household of the township (dict rows) with a firing alert group raised `days_ago` days
    ago; returns the household id."""
    village = conn.execute("SELECT code FROM common.regions WHERE level = 'village' AND code LIKE %s ORDER BY code "
                           "LIMIT 1", (township[:9] + "%",)).fetchone()["code"]
    no = f"{village}{uuid.uuid4().int % 10000:04d}"
    household = conn.execute(
        """INSERT INTO alerts.households (household_no, county_code, township_code, village_code, head_name,
                                          head_id_number, phone, category, members, labourers)
           VALUES (%s, %s, %s, %s, %s, %s, %s, '脱贫户', 3, 2) RETURNING id""",
        (no, COUNTY, township, village, head_name, HEAD_ID, PHONE)).fetchone()["id"]
    conn.execute("""INSERT INTO alerts.household_members (household_id, name, id_number, relation, health)
                    VALUES (%s, %s, %s, '户主', '患大病')""", (household, head_name, HEAD_ID))
    group = conn.execute(
        """INSERT INTO alerts.alert_groups (subject_key, household_id, village_code, township_code, county_code,
                                            period, severity, created_at)
           VALUES (%s, %s, %s, %s, %s, '2023', 'critical', now() - make_interval(days => %s)) RETURNING id""",
        (no, household, village, township, COUNTY, days_ago)).fetchone()["id"]
    conn.execute("""INSERT INTO alerts.alerts (group_id, subject_key, rule_id, rule_name, cause, severity, period,
                                               status)
                    VALUES (%s, %s, 'medical_expense', '医疗支出较大', %s, 'critical', '2023', 'firing')""",
                 (group, no, cause))
    return household


async def start_cases(dsn: str) -> int:
    """One run of the worker's case starter: the pending groups' cases opened and started."""
    client = await Client.connect(get_settings().temporal_address)
    with create_pool(dsn) as pool:
        return await start_pending_cases(client, pool, get_settings().temporal_task_queue)
