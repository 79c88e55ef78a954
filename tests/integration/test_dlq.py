"""Dead letters can be listed with their reason and replayed after a fix."""

import orjson
import pytest

from services.common import dlq
from services.common.config import get_settings
from services.common.consumer_base import DeadLetter as Letter
from services.common.consumer_base import send_dead_letters
from services.common.events import new_envelope
from services.common.kafka import ensure_topics, make_consumer, make_producer

pytestmark = pytest.mark.integration


def test_list_and_replay(broker):
    get_settings.cache_clear()
    ensure_topics()
    good = new_envelope("household.record.saved", source="alerts", entity_id="1", key="H1", payload={"x": 1})
    producer = make_producer()
    send_dead_letters(producer, "alerts", [
        Letter("household.events", 0, 5, b"H1", good.to_bytes(), "handler failed: bug 42"),
        Letter("household.events", 1, 9, None, b"{oops", "not JSON: unexpected"),
    ])
    producer.close()
    letters = list(dlq.read("household.events"))
    assert [(d.reason, d.consumer) for d in letters] == [("handler failed: bug 42", "alerts"), ("not JSON: unexpected", "alerts")]
    fixed = [d for d in letters if "bug 42" in d.reason]
    assert dlq.replay(fixed) == 1
    consumer = make_consumer(None)
    from kafka.structs import TopicPartition

    tps = [TopicPartition("household.events", p) for p in range(6)]
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    values = []
    for _ in range(10):
        for records in consumer.poll(timeout_ms=500).values():
            values += [orjson.loads(r.value) for r in records]
        if values:
            break
    consumer.close()
    assert [v["event_id"] for v in values] == [str(good.event_id)]
    with pytest.raises(ValueError):
        list(dlq.read("no.such.topic"))
