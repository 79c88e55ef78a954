"""Village-level rules (3 % / 5 % / 1000 人) are evaluated per village and year: a batch
carrying records of one village for two years raises the village's alerts for both.
(They were keyed by village alone, so the last year in the batch hid the others, and
which alerts a village got depended on how events fell into batches.)"""

import uuid
from datetime import datetime, timezone

import psycopg
import pytest
from psycopg.rows import dict_row

from services.alerts.consumer import HouseholdEvent, make_handler
from services.alerts.register import facts_payload
from services.common.events import EnvelopeDecoder, new_envelope

pytestmark = pytest.mark.integration

VILLAGE, TOWNSHIP, COUNTY = "532325100201", "532325100000", "532325000000"


def record_saved(household: dict, period: str) -> HouseholdEvent:
    """The event as the consumer decodes it from the broker."""
    record = {"period": period, "per_capita_income": 20000.0}
    env = new_envelope("household.record.saved", source="alerts", entity_id=str(household["id"]), key=VILLAGE,
                       regions={"county": COUNTY, "township": TOWNSHIP, "village": VILLAGE},
                       payload=facts_payload(household, record, None), occurred_at=datetime.now(timezone.utc))
    return EnvelopeDecoder(HouseholdEvent).decode(env.to_bytes())


def test_one_batch_with_two_years_of_one_village_raises_the_village_alerts_of_both(database_url):
    with psycopg.connect(database_url, row_factory=dict_row) as conn:
        # 5 monitored people of 50: over the 3 % of the village rule, whatever the year
        conn.execute("UPDATE common.regions SET rural_population = 50 WHERE code = %s", (VILLAGE,))
        household = conn.execute(
            """INSERT INTO alerts.households (household_no, county_code, township_code, village_code, head_name,
                                              category, members, labourers)
               VALUES (%s, %s, %s, %s, '赵六', '边缘易致贫户', 5, 2) RETURNING *""",
            (f"53232510020{uuid.uuid4().int % 10**5:05d}", COUNTY, TOWNSHIP, VILLAGE)).fetchone()
        make_handler()(conn, [record_saved(household, "2022"), record_saved(household, "2023")])
        periods = [r["period"] for r in conn.execute(
            "SELECT period FROM alerts.alert_groups WHERE subject_key = %s ORDER BY period", (VILLAGE,))]
        rules = {r["rule_id"] for r in conn.execute(
            "SELECT a.rule_id FROM alerts.alerts a JOIN alerts.alert_groups g ON g.id = a.group_id "
            "WHERE g.subject_key = %s", (VILLAGE,))}
    assert periods == ["2022", "2023"]
    assert "village_monitored_share" in rules
