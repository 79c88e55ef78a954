"""Dead letters: list what the consumers could not apply, with the reason, and
replay them to their original topic after a fix (the consumers are idempotent, so
a replayed event that was applied meanwhile changes nothing)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import orjson
from kafka.structs import TopicPartition

from services.common.events import TOPICS, dlq_topic
from services.common.kafka import make_consumer, make_producer


@dataclass
class DeadLetter:
    topic: str  # the original topic
    dlq_offset: int
    reason: str
    consumer: str
    value: str  # the original message as text


def read(topic: str, from_offset: int = 0, limit: int = 1000, timeout_s: float = 5.0) -> Iterator[DeadLetter]:
    """The dead letters of `topic`, oldest first, from `from_offset` of its DLQ."""
    if topic not in TOPICS:
        raise ValueError(f"unknown topic {topic!r}; one of {', '.join(TOPICS)}")
    probe = make_consumer(None)
    try:
        tp = TopicPartition(dlq_topic(topic), 0)
        probe.assign([tp])
        probe.seek(tp, from_offset)
        seen, deadline = 0, time.monotonic() + timeout_s
        while seen < limit and time.monotonic() < deadline:
            batch = probe.poll(timeout_ms=500).get(tp, [])
            if not batch:
                continue
            for r in batch:
                body = orjson.loads(r.value)
                yield DeadLetter(topic, r.offset, body.get("reason", ""), body.get("consumer", ""), body.get("value", ""))
                seen += 1
                if seen >= limit:
                    return
            deadline = time.monotonic() + 1.0  # keep reading while there is more
    finally:
        probe.close()


def replay(letters: list[DeadLetter]) -> int:
    """Publish the original messages again to their topic; returns how many."""
    producer = make_producer()
    try:
        for d in letters:
            key = None
            try:
                key = orjson.loads(d.value).get("key", "").encode() or None
            except (orjson.JSONDecodeError, AttributeError):
                pass
            producer.send(d.topic, key=key, value=d.value.encode())
        producer.flush()
    finally:
        producer.close()
    return len(letters)
