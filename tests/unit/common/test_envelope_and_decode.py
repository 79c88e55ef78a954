"""The event contract: envelopes, and how the consumer base sorts good events from dead letters."""

import time
from datetime import date
from decimal import Decimal
import uuid
from collections import namedtuple
from dataclasses import dataclass

import msgspec
import orjson
import pytest

from services.common.consumer_base import MAX_EVENT_BYTES, DeadLetter, EventConsumer
from services.common.events import Envelope, EnvelopeDecoder, all_topics, dlq_topic, new_envelope, uuid7

Record = namedtuple("Record", "topic partition offset key value")


def _consumer() -> EventConsumer:
    return EventConsumer(name="t", schema="alerts", handlers={"household.updated": lambda conn, events: None})


def _record(value: bytes) -> Record:
    return Record("household.events", 0, 7, b"k", value)


def test_every_topic_has_a_dead_letter_twin():
    topics = all_topics()
    assert topics["household.events"] == 6 and topics["tasks.events"] == 3 and topics["alerts.events"] == 3
    for t in ("household.events", "tasks.events", "alerts.events"):
        assert dlq_topic(t) in topics


def test_new_envelope_roundtrips_through_bytes():
    env = new_envelope("household.updated", source="alerts", entity_id="h1", payload={"income": 5000},
                       regions={"county": "532325000000"})
    back = EnvelopeDecoder().decode(env.to_bytes())
    assert back == env
    assert back.key == "h1" and back.schema_version == 1


def test_decode_accepts_a_valid_event():
    env = new_envelope("household.updated", source="alerts", entity_id="h1", payload={})
    assert _consumer().decode(_record(env.to_bytes())) == env


@pytest.mark.parametrize(
    "value, reason_start",
    [
        (b"{not json", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (orjson.dumps({"type": "household.updated"}), "envelope invalid"),
        (b"x" * (MAX_EVENT_BYTES + 1), "message of"),
        (None, "empty message"),
    ],
)
def test_decode_sends_malformed_messages_to_dead_letters(value, reason_start):
    out = _consumer().decode(Record("household.events", 2, 9, None, value))
    assert isinstance(out, DeadLetter)
    assert out.reason.startswith(reason_start), out.reason
    assert (out.topic, out.partition, out.offset) == ("household.events", 2, 9)


def test_decode_rejects_unknown_type_and_unsupported_version():
    unknown = new_envelope("household.exploded", source="alerts", entity_id="h1", payload={})
    out = _consumer().decode(_record(unknown.to_bytes()))
    assert isinstance(out, DeadLetter) and "unknown event type" in out.reason
    future = new_envelope("household.updated", source="alerts", entity_id="h1", payload={})
    future.schema_version = 9
    out = _consumer().decode(_record(future.to_bytes()))
    assert isinstance(out, DeadLetter) and "schema_version 9" in out.reason


def test_envelope_forbids_unknown_fields():
    raw = orjson.loads(new_envelope("a.b", source="s", entity_id="e", payload={}).to_bytes())
    raw["surprise"] = 1
    out = _consumer().decode(_record(orjson.dumps(raw)))
    assert isinstance(out, DeadLetter) and "surprise" in out.reason
    assert uuid.UUID(raw["event_id"])


def test_event_ids_are_uuid7_and_grow_with_time():
    """Time-ordered ids keep the consumers' processed-events index appended at its right edge."""
    before_ms = time.time_ns() // 1_000_000
    first = new_envelope("a.b", source="s", entity_id="e", payload={}).event_id
    time.sleep(0.002)
    later = [uuid7() for _ in range(10_000)]
    assert first.version == 7 and first.variant == uuid.RFC_4122
    assert before_ms <= first.int >> 80 <= time.time_ns() // 1_000_000
    assert all(u.version == 7 and u.variant == uuid.RFC_4122 for u in later)
    assert all(first < u and str(first) < str(u) for u in later)  # as PostgreSQL compares uuids: by bytes
    assert len(set(later)) == len(later)


@dataclass(slots=True)
class _Counted:
    n: int


class _Typed(Envelope, kw_only=True):
    payload: _Counted


def test_a_typed_consumer_skips_ignored_types_and_names_the_payload_field():
    ec = EventConsumer(name="t", schema="alerts", handlers={"a.counted": lambda conn, events: None},
                       ignored_types=frozenset({"a.noted"}), envelope_model=_Typed)
    ignored = new_envelope("a.noted", source="s", entity_id="e", payload={"note": "free text"})
    assert ec.decode(_record(ignored.to_bytes())) == ignored  # skipped later like any ignored event
    bad = ec.decode(_record(new_envelope("a.counted", source="s", entity_id="e", payload={"n": "x"}).to_bytes()))
    assert isinstance(bad, DeadLetter) and bad.reason.startswith("envelope invalid: payload.n:"), bad.reason
    good = ec.decode(_record(new_envelope("a.counted", source="s", entity_id="e", payload={"n": "3"}).to_bytes()))
    assert isinstance(good, _Typed) and good.payload == _Counted(3)  # lax, as pydantic read events before


def test_new_envelope_refuses_a_field_that_breaks_the_contract():
    with pytest.raises(msgspec.ValidationError, match=r"\$\.entity_id"):
        new_envelope("a.b", source="s", entity_id=17, payload={})
    with pytest.raises(msgspec.ValidationError, match=r"\$\.regions"):
        new_envelope("a.b", source="s", entity_id="e", payload={}, regions={"province": "53"})
    with pytest.raises(msgspec.ValidationError, match=r"length >= 1 - at `\$\.type`"):
        new_envelope("", source="s", entity_id="e", payload={})


def test_payload_dates_and_decimals_travel_as_text_as_the_consumers_read_them():
    env = new_envelope("a.b", source="s", entity_id="e",
                       payload={"due_at": date(2026, 6, 30), "amount": Decimal("8700.50"), "ids": (1, 2)})
    assert orjson.loads(env.to_bytes())["payload"] == {"due_at": "2026-06-30", "amount": "8700.50", "ids": [1, 2]}


@pytest.mark.parametrize(
    "change, reason",
    [
        ({"event_id": None}, "envelope invalid: event_id: Expected uuid, got null"),
        ({"schema_version": 0}, "envelope invalid: schema_version: Expected int >= 1"),
        ({"regions": {"county": 5}}, "envelope invalid: regions.county: Expected str | null, got int"),
        ({"occurred_at": "yesterday"}, "envelope invalid: occurred_at: Invalid RFC3339 encoded datetime"),
    ],
)
def test_a_dead_letter_names_the_field_at_fault(change, reason):
    raw = orjson.loads(new_envelope("household.updated", source="s", entity_id="e", payload={}).to_bytes())
    out = _consumer().decode(_record(orjson.dumps({**raw, **change})))
    assert isinstance(out, DeadLetter) and out.reason == reason, out.reason
