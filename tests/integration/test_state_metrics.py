"""The business-state metrics count what PostgreSQL holds (steps per region, escalations,
task workflows, bulletins, alerts per rule, alert cases by stage and SLA colour), on the
real migrated schema."""

from __future__ import annotations

import psycopg
import pytest
from prometheus_client import CollectorRegistry, generate_latest

from services.alerts.case_repository import SLA
from services.common.state_metrics import StateCollector

pytestmark = pytest.mark.integration

REGION = "532325000000"  # 姚安县 of the demo registry


def seed(conn: psycopg.Connection) -> None:
    """One published task with four steps: overdue, due tomorrow, due in a month, submitted."""
    unit = conn.execute("SELECT id FROM common.units ORDER BY id LIMIT 1").fetchone()[0]
    doc = conn.execute(
        """INSERT INTO tasks.policy_documents (region_code, filename, content_type, content, content_sha256, parsed, status)
           VALUES (%s, 'a.txt', 'text/plain', '', '', '{}', 'published') RETURNING id""",
        (REGION,),
    ).fetchone()[0]
    measure = conn.execute(
        """INSERT INTO tasks.draft_measures (document_id, position, ref, title, text, lead_units, responsible_units)
           VALUES (%s, 1, '1', 't', 't', '{}', '{}') RETURNING id""",
        (doc,),
    ).fetchone()[0]
    task = conn.execute(
        """INSERT INTO tasks.tasks (document_id, measure_id, region_code, ref, title, text, lead_units,
                                    responsible_units, lead_unit_ids, responsible_unit_ids, targets, deadlines,
                                    workflow_started_at)
           VALUES (%s, %s, %s, '1', 't', 't', '{}', '{}', '{}', '{}', '[]', '[]', now()) RETURNING id""",
        (doc, measure, REGION),
    ).fetchone()[0]
    steps = {}
    for key, due, status in (
        ("late", "now() - interval '2 days'", "open"),
        ("soon", "now() + interval '1 day'", "returned"),
        ("later", "now() + interval '30 days'", "open"),
        ("done", "now() - interval '5 days'", "submitted"),
    ):
        steps[key] = conn.execute(
            f"""INSERT INTO tasks.steps (step_key, task_id, unit_id, kind, period, label, opened_at, due_at, status)
                VALUES (%s, %s, %s, 'monthly_report', '2023-05', '月报', now() - interval '40 days', {due}, %s)
                RETURNING id""",
            (key, task, unit, status),
        ).fetchone()[0]
    conn.execute(
        """INSERT INTO tasks.escalations (step_id, level, to_role, region_code, at) VALUES
           (%s, 1, 'unit_head', %s, now()), (%s, 2, 'leader', %s, now())""",
        (steps["late"], REGION, steps["late"], REGION),
    )
    conn.execute(
        """INSERT INTO assessment.bulletins (kind, region_code, period, title, data, html, xlsx)
           VALUES ('monthly', %s, '2023-05', '5月通报', '{}', '', ''), ('quarterly', %s, '2023-Q2', '二季度', '{}', '', '')""",
        (REGION, REGION),
    )
    group = conn.execute(
        """INSERT INTO alerts.alert_groups (subject_key, village_code, township_code, county_code, period, severity)
           VALUES ('V1', '532325100001', '532325100000', %s, '2023', 'critical') RETURNING id""",
        (REGION,),
    ).fetchone()[0]
    conn.execute(
        """INSERT INTO alerts.alerts (group_id, subject_key, rule_id, rule_name, cause, severity, period, status) VALUES
           (%s, 'V1', 'income_below_line', '收入低于监测线', 'income', 'critical', '2023', 'firing'),
           (%s, 'V2', 'income_below_line', '收入低于监测线', 'income', 'critical', '2023', 'silenced')""",
        (group, group),
    )


def sample(text: str, line_start: str) -> float:
    (line,) = [ln for ln in text.splitlines() if ln.startswith(line_start)]
    return float(line.rsplit(" ", 1)[1])


def test_counts_follow_the_database(database_url):
    registry = CollectorRegistry()
    collector = StateCollector(database_url, max_age_s=0)
    registry.register(collector)
    before = generate_latest(registry).decode()
    assert sample(before, "xianjie_state_metrics_up") == 1
    assert sample(before, "xianjie_task_workflows_started_total") == 0
    assert "xianjie_steps_open{" not in before

    with psycopg.connect(database_url, autocommit=True) as conn:
        seed(conn)
    text = generate_latest(registry).decode()
    region = f'{{region="{REGION}"}}'
    assert sample(text, f"xianjie_steps_open{region}") == 3
    assert sample(text, f"xianjie_steps_due_soon{region}") == 1
    assert sample(text, f"xianjie_steps_overdue{region}") == 1
    assert sample(text, f'xianjie_escalations_total{{region="{REGION}",to_role="leader"}}') == 1
    assert sample(text, f"xianjie_escalations_awaiting_instruction{region}") == 2
    assert sample(text, "xianjie_task_workflows_started_total") == 1
    assert sample(text, "xianjie_task_workflows_waiting ") == 0
    assert sample(text, 'xianjie_bulletins_produced_total{generated_by="schedule",kind="monthly"}') == 1
    alert = '{rule="income_below_line",severity="critical"}'
    assert sample(text, f"xianjie_alerts_raised_total{alert}") == 2
    assert sample(text, f"xianjie_alerts_firing{alert}") == 1


def seed_cases(conn: psycopg.Connection) -> None:
    """Five cases of one county: 核查 overdue (flagged by its workflow), 核查 past due but not yet
    flagged, 认定 due tomorrow (amber), 回访 due in a month (green), one closed; two escalations."""
    village = conn.execute("SELECT code FROM common.regions WHERE level = 'village' AND code LIKE '532325%' ORDER BY code "
                           "LIMIT 1").fetchone()[0]
    ids = []
    for n, (stage, status, due, overdue, started) in enumerate((
        ("verify", "open", "now() - interval '2 days'", True, True),
        ("verify", "open", "now() - interval '1 hour'", False, False),
        ("confirm", "open", "now() + interval '1 day'", False, True),
        ("follow_up", "open", "now() + interval '30 days'", False, True),
        ("closed", "eliminated", "NULL", False, True),
    )):
        household = conn.execute(
            """INSERT INTO alerts.households (household_no, county_code, township_code, village_code, head_name, category,
                                              members) VALUES (%s, %s, %s, %s, '户主', '脱贫户', 3) RETURNING id""",
            (f"{village}{n:04d}", REGION, village[:9] + "000", village)).fetchone()[0]
        ids.append(conn.execute(
            f"""INSERT INTO alerts.cases (id, household_id, village_code, township_code, county_code, stage, status,
                                          alerted_at, due_at, overdue, amber_days, workflow_started_at)
                VALUES (%s, %s, %s, %s, %s, %s, %s, now() - interval '9 days', {due}, %s, 2,
                        CASE WHEN %s THEN now() END) RETURNING id""",
            (9000 + n, household, village, village[:9] + "000", REGION, stage, status, overdue, started)).fetchone()[0])
    conn.execute(
        """INSERT INTO alerts.case_escalations (case_id, run, stage, level, to_role, county_code, at)
           VALUES (%s, 1, 'verify', 1, 'unit_head', %s, now()), (%s, 1, 'verify', 2, 'leader', %s, now())""",
        (ids[0], REGION, ids[0], REGION))


def test_case_counts_by_stage_and_sla_colour(database_url):
    registry = CollectorRegistry()
    registry.register(StateCollector(database_url, max_age_s=0))
    assert "xianjie_cases_sla{" not in generate_latest(registry).decode()
    assert sample(generate_latest(registry).decode(), "xianjie_case_workflows_waiting ") == 0

    with psycopg.connect(database_url, autocommit=True) as conn:
        seed_cases(conn)
        read_model = dict(conn.execute(f"SELECT {SLA} AS sla, count(*) FROM alerts.cases c WHERE c.status = 'open' "
                                       "GROUP BY 1").fetchall())
    text = generate_latest(registry).decode()
    colours = {c: sample(text, f'xianjie_cases_sla{{region="{REGION}",sla="{c}"}}') for c in ("green", "amber", "red")}
    assert colours == {"green": 1, "amber": 1, "red": 2}
    assert colours == {c: read_model.get(c, 0) for c in colours}, "the same colours as the cases' read model"
    assert sample(text, f'xianjie_cases_open{{region="{REGION}",stage="verify"}}') == 2
    assert sample(text, f'xianjie_cases_open{{region="{REGION}",stage="follow_up"}}') == 1
    assert 'stage="closed"' not in text
    assert sample(text, f'xianjie_cases_overdue{{region="{REGION}",stage="verify"}}') == 2
    assert sample(text, f'xianjie_cases_overdue{{region="{REGION}",stage="confirm"}}') == 0
    assert sample(text, "xianjie_case_workflows_waiting ") == 1
    assert sample(text, f'xianjie_case_escalations_total{{region="{REGION}",to_role="leader"}}') == 1


def test_a_database_that_does_not_answer_shows_as_down():
    registry = CollectorRegistry()
    registry.register(StateCollector("postgresql://nobody@127.0.0.1:9/none", max_age_s=0))
    text = generate_latest(registry).decode()
    assert sample(text, "xianjie_state_metrics_up") == 0
    assert "xianjie_steps_overdue{" not in text
