"""The alerts consumer validates household events, payload included, in one pass into the
facts its rules read (`HouseholdEvent`): a malformed payload is a dead letter naming the
field, an event of another type or version is refused for that, and a field the consumer
does not know yet (a newer producer) is ignored."""

from collections import namedtuple

import orjson
import pytest

from services.alerts.consumer import build_consumer
from services.alerts.model import HouseholdFacts, PeriodRecord
from services.alerts.register import facts_payload
from services.common.consumer_base import DeadLetter
from services.common.events import new_envelope

Record = namedtuple("Record", "topic partition offset key value")
HOUSEHOLD = {"id": 7, "household_no": "5323251002010007", "county_code": "532325000000",
             "township_code": "532325100000", "village_code": "532325100201", "category": "脱贫户", "members": 3,
             "no_labour_capacity": False, "under_assistance": False}


def event_bytes(type_: str = "household.record.saved", payload: dict | None = None, **changes) -> bytes:
    payload = payload if payload is not None else facts_payload(
        HOUSEHOLD, {"period": "2023", "per_capita_income": 5200.5, "employed": 0}, None)
    raw = orjson.loads(new_envelope(type_, source="alerts", entity_id="7", key="532325100201",
                                    payload=payload).to_bytes())
    raw.update(changes)
    return orjson.dumps(raw)


def decode(value: bytes):
    return build_consumer().decode(Record("household.events", 0, 3, b"k", value))


def test_the_payload_arrives_as_the_facts_the_rules_read():
    env = decode(event_bytes())
    assert isinstance(env.payload, HouseholdFacts) and isinstance(env.payload.record, PeriodRecord)
    assert env.payload.record.per_capita_income == 5200.5 and env.payload.record.employed == 0
    assert env.payload.previous is None and env.payload.household_no == "5323251002010007"


def test_a_household_without_records_is_accepted():
    env = decode(event_bytes("household.updated", facts_payload(HOUSEHOLD, None, None)))
    assert env.payload.record is None


def test_fields_a_newer_producer_adds_are_ignored():
    payload = facts_payload(HOUSEHOLD, {"period": "2023-05", "per_capita_income": 900.0}, None)
    payload["hukou_type"] = "农业"
    payload["record"]["pension_income"] = 1200.0
    env = decode(event_bytes(payload=payload))
    assert env.payload.record.period == "2023-05"


@pytest.mark.parametrize("break_it, where", [
    (lambda p: p["record"].update(per_capita_income="一万"), "payload.record.per_capita_income"),
    (lambda p: p.pop("household_no"), "payload.household_no"),
    (lambda p: p.update(members="三"), "payload.members"),
    (lambda p: p.update(record=["2023"]), "payload.record"),
])
def test_a_malformed_payload_is_a_dead_letter_naming_the_field(break_it, where):
    payload = facts_payload(HOUSEHOLD, {"period": "2023", "per_capita_income": 5200.5}, None)
    break_it(payload)
    out = decode(event_bytes(payload=payload))
    assert isinstance(out, DeadLetter)
    assert out.reason.startswith(f"envelope invalid: {where}:"), out.reason


def test_another_type_or_version_is_refused_for_that_not_for_its_payload():
    other = decode(event_bytes("household.merged", {"into": 9}))
    assert isinstance(other, DeadLetter) and other.reason == "unknown event type 'household.merged'"
    newer = decode(event_bytes(payload={"facts": {}}, schema_version=2))
    assert isinstance(newer, DeadLetter)
    assert newer.reason == "unsupported schema_version 2 for household.record.saved"
    broken = decode(event_bytes(payload={"facts": {}}, source=""))
    assert isinstance(broken, DeadLetter) and broken.reason.startswith("envelope invalid: "), broken.reason
