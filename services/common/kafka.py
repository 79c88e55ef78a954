"""kafka-python clients configured from settings, and topic creation.

Consumer timeouts are short by default because tansu completes a group join only
after the rebalance timeout (kafka-python's max_poll_interval_ms); a real Kafka
cluster can be given longer ones through the environment.
"""

from __future__ import annotations

import logging
import time

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError
from kafka.structs import TopicPartition

from services.common.config import get_settings
from services.common.events import EPOCH_TOPIC, all_topics

log = logging.getLogger(__name__)


def make_producer(**overrides) -> KafkaProducer:
    s = get_settings()
    options = dict(
        bootstrap_servers=s.kafka_bootstrap,
        acks="all",
        linger_ms=s.kafka_linger_ms,
        batch_size=256 * 1024,
        max_request_size=4 * 1024 * 1024,
        request_timeout_ms=s.kafka_request_timeout_ms,
        retries=5,
        # tansu forgets producer ids when it restarts; an idempotent producer then fails
        # every send forever. Duplicates are harmless: consumers are idempotent on event_id.
        enable_idempotence=False,
    )
    options.update(overrides)
    return KafkaProducer(**options)


def make_consumer(group_id: str | None, *topics: str, **overrides) -> KafkaConsumer:
    s = get_settings()
    options = dict(
        bootstrap_servers=s.kafka_bootstrap,
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=s.kafka_session_timeout_ms,
        heartbeat_interval_ms=s.kafka_heartbeat_interval_ms,
        max_poll_interval_ms=s.kafka_max_poll_interval_ms,
        request_timeout_ms=s.kafka_request_timeout_ms,
        max_poll_records=s.kafka_max_poll_records,
    )
    options.update(overrides)
    return KafkaConsumer(*topics, **options)


def ensure_topics(topics: dict[str, int] | None = None) -> list[str]:
    """Create the topics that do not exist yet; returns the names created."""
    wanted = topics or all_topics()
    admin = KafkaAdminClient(bootstrap_servers=get_settings().kafka_bootstrap, request_timeout_ms=10000)
    try:
        existing = set(admin.list_topics())
        missing = [NewTopic(name, n, 1) for name, n in wanted.items() if name not in existing]
        if missing:
            try:
                admin.create_topics(missing)
            except TopicAlreadyExistsError:
                pass
        return [t.name for t in missing]
    finally:
        admin.close()


class EpochProbe:
    """Reads every epoch marker the broker holds (none after tansu restarted). The relay asks
    every few seconds; one consumer is kept for it, since a consumer made and closed each
    time cancelled its own metadata refresh on closing and logged an error for it."""

    def __init__(self, timeout_s: float = 3.0) -> None:
        self.timeout_s = timeout_s
        self._consumer: KafkaConsumer | None = None

    def __call__(self) -> set[str]:
        ensure_topics()  # a broker that restarted has no topics: make them again first
        tp = TopicPartition(EPOCH_TOPIC, 0)
        try:
            if self._consumer is None:
                self._consumer = make_consumer(None)
                self._consumer.assign([tp])
            self._consumer.seek_to_beginning(tp)
            found: set[str] = set()
            deadline = time.monotonic() + self.timeout_s
            while time.monotonic() < deadline:
                batch = self._consumer.poll(timeout_ms=300).get(tp, [])
                if not batch:
                    break
                found |= {r.value.decode() for r in batch if r.value}
            return found
        except KafkaError:
            self.close()  # made anew on the next call
            raise

    def close(self) -> None:
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None


def write_epoch(epoch: str) -> None:
    producer = make_producer()
    try:
        producer.send(EPOCH_TOPIC, value=epoch.encode()).get(timeout=30)
    finally:
        producer.close()
