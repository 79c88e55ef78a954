"""The consumer base every service's Kafka consumer is built on.

One poll gives a batch. Each message is decoded and checked against the envelope
contract; what is malformed, of an unknown type or of an unsupported schema
version goes to the topic's dead-letter twin with the reason, and never stops
the consumer. The rest is applied in one database transaction together with the
record of their event_ids (so a repeated event is skipped), then the dead letters
are flushed, then the offsets are committed: a crash anywhere replays the batch,
and the replay changes nothing.
"""

from __future__ import annotations

import gc
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import orjson
import psycopg
from kafka import KafkaConsumer, KafkaProducer
from kafka.errors import CommitFailedError, KafkaError
from psycopg.rows import dict_row, tuple_row

from services.common.config import get_settings
from services.common.events import Envelope, EnvelopeDecoder, EnvelopeError, dlq_topic
from services.common.kafka import make_consumer, make_producer
from services.common.metrics import (
    CONSUMER_BATCH_SECONDS,
    EVENTS_DEAD_LETTERED,
    EVENTS_DUPLICATE,
    EVENTS_FAILED,
    EVENTS_PROCESSED,
    dead_letter_reason,
    record_lag,
)

log = logging.getLogger(__name__)

MAX_EVENT_BYTES = 1024 * 1024

# Applies new events inside the caller's transaction; raising rolls the batch back.
Handler = Callable[[psycopg.Connection, list[Envelope]], None]


@dataclass
class DeadLetter:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    reason: str


@dataclass
class BatchResult:
    applied: list[Envelope] = field(default_factory=list)
    duplicates: int = 0
    dead_letters: list[DeadLetter] = field(default_factory=list)


@dataclass
class EventConsumer:
    """Applies the events of some topics to one service's schema, exactly once."""

    name: str  # also the processed_events.consumer value and the metrics label
    schema: str
    handlers: dict[str, Handler]  # event type -> handler
    ignored_types: frozenset[str] = frozenset()  # known types this consumer has no use for
    supported_versions: tuple[int, ...] = (1,)
    # What the topic's events are validated against, payload included: a subclass of Envelope
    # whose `payload` is the handlers' own type is checked and built in one pass (msgspec),
    # and a malformed payload is a dead letter naming its field, not a failed batch.
    envelope_model: type[Envelope] = Envelope
    # The last insert of processed ids met repeated events: a replay (after a rebalance, or a
    # broker that came back empty and was refilled by the relay) is under way, and the next
    # batch likely repeats too. So may the first batch after the Kafka client is made: what was
    # applied after the group's last commit comes again (`run_consumer` sets it then).
    repeats_expected: bool = field(default=True, init=False, repr=False)
    # How often the connection's cached plans are dropped (`replan`); 0: before every batch.
    # Often: a table can grow from nothing to 100,000 rows in a minute of a monthly wave, and
    # planning a dozen statements once a second costs a few milliseconds.
    replan_every_s: float = 1.0
    _replanned_at: float = field(default=float("-inf"), init=False, repr=False)

    def __post_init__(self) -> None:
        self._decoder = EnvelopeDecoder(self.envelope_model)
        # the plain envelope, to tell an event of another type from a bad payload (`_not_ours`)
        self._plain_decoder = self._decoder if self.envelope_model is Envelope else EnvelopeDecoder(Envelope)

    def decode(self, record) -> Envelope | DeadLetter:
        """The envelope of one Kafka record, or the reason it is a dead letter."""

        def dead(reason: str) -> DeadLetter:
            return DeadLetter(record.topic, record.partition, record.offset, record.key, record.value or b"", reason)

        if record.value is None:
            return dead("empty message")
        if len(record.value) > MAX_EVENT_BYTES:
            return dead(f"message of {len(record.value)} bytes exceeds {MAX_EVENT_BYTES}")
        try:
            env = self._decoder.decode(record.value)  # parse and check in one pass
        except EnvelopeError as e:
            if self.envelope_model is not Envelope and (other := self._not_ours(record.value)):
                return other if isinstance(other, Envelope) else dead(other)
            return dead(e.reason)
        if reason := self._not_handled(env):
            return dead(reason)
        return env

    def _not_handled(self, env: Envelope) -> str | None:
        """Why this consumer does not apply a well-formed envelope, if it does not."""
        if env.type not in self.handlers and env.type not in self.ignored_types:
            return f"unknown event type {env.type!r}"
        if env.schema_version not in self.supported_versions:
            return f"unsupported schema_version {env.schema_version} for {env.type}"
        return None

    def _not_ours(self, value: bytes) -> Envelope | str | None:
        """An event that failed `envelope_model` but is a good envelope of another type: one this
        consumer ignores (returned, to be skipped like any), or one it does not handle or a
        version it does not support (the reason, as for any). None: the payload is at fault."""
        try:
            env = self._plain_decoder.decode(value)
        except EnvelopeError:
            return None
        if env.type in self.ignored_types and env.schema_version in self.supported_versions:
            return env
        return self._not_handled(env)

    def replan(self, conn: psycopg.Connection) -> None:
        """Every `replan_every_s`, have PostgreSQL plan this connection's statements afresh.

        A session keeps the generic plan of each foreign-key check (and of each prepared
        statement) until the table is analysed again. A table that was nearly empty when the
        consumer first wrote to it — a new county, a fresh database, a table just vacuumed —
        gets a sequential scan for the check, and keeps it while the table grows, until
        autovacuum next analyses it: in the alerts benchmark every new alert then read all
        alert groups, half of PostgreSQL's time. `DISCARD PLANS` keeps the prepared
        statements and lets their next run choose by the table's size then."""
        now = time.monotonic()
        if now - self._replanned_at >= self.replan_every_s:
            conn.execute("DISCARD PLANS")
            self._replanned_at = now

    def apply(self, conn: psycopg.Connection, records: Iterable) -> BatchResult:
        """Apply a batch in one transaction; the caller commits offsets after it returns."""
        result = BatchResult()
        envelopes: list[Envelope] = []
        origins: list = []  # the record of each envelope, for a dead letter if applying it fails
        for record in records:
            decoded = self.decode(record)
            if isinstance(decoded, DeadLetter):
                result.dead_letters.append(decoded)
            else:
                envelopes.append(decoded)
                origins.append(record)
        try:
            with conn.transaction():
                self.replan(conn)
                result.applied = self._apply_new(conn, envelopes, result)
        except psycopg.OperationalError:
            raise  # the database is away: nothing was applied, the batch is polled again
        except Exception:
            log.exception("%s: batch failed, applying its events one by one", self.name)
            result.applied, result.duplicates = [], 0
            for env, r in zip(envelopes, origins):
                try:
                    with conn.transaction():
                        result.applied += self._apply_new(conn, [env], result)
                except psycopg.OperationalError:
                    raise
                except Exception as e:
                    EVENTS_FAILED.labels(self.name, env.type).inc()
                    result.dead_letters.append(
                        DeadLetter(r.topic, r.partition, r.offset, r.key, r.value, f"handler failed: {e!r}"[:500])
                    )
        return result

    def _apply_new(self, conn: psycopg.Connection, envelopes: list[Envelope], result: BatchResult) -> list[Envelope]:
        if not envelopes:
            return []
        unique = list({e.event_id.int: e for e in envelopes}.values())  # UUID.__hash__ is Python; its int's is not
        fresh = self._record_processed(conn, unique)
        result.duplicates += len(envelopes) - len(fresh)
        by_type: dict[str, list[Envelope]] = {}
        for e in fresh:
            by_type.setdefault(e.type, []).append(e)
        for type_, events in by_type.items():
            if type_ in self.handlers:
                self.handlers[type_](conn, events)
        return fresh

    def _record_processed(self, conn: psycopg.Connection, unique: list[Envelope]) -> list[Envelope]:
        """Record the batch's event ids as processed; the envelopes not processed before.

        Almost every batch is new, so its ids go in with a plain INSERT, in a savepoint: it
        costs PostgreSQL about half of an INSERT ... ON CONFLICT, whose speculative insertion
        is paid for every row. A repeated event fails that insert as a whole (the savepoint is
        rolled back; PostgreSQL logs the unique violation), and only then do the ids go in with
        ON CONFLICT DO NOTHING, which returns those that are new. The first batch after a
        (re)connection, and every batch while a replay lasts, go straight to ON CONFLICT: a
        restart or reconnection logs no violation, a replay after a rebalance at most one. The
        ids go as one array literal."""
        ids = "{" + ",".join(e.event_id.hex for e in unique) + "}"  # PostgreSQL reads uuids without hyphens too
        if not self.repeats_expected:
            try:
                with conn.transaction():
                    conn.execute(f"INSERT INTO {self.schema}.processed_events (event_id, consumer) "
                                 "SELECT unnest(%s::uuid[]), %s", (ids, self.name))
                return unique
            except psycopg.errors.UniqueViolation:
                pass
        fresh_ids = {r[0] for r in conn.cursor(row_factory=tuple_row).execute(
            f"""INSERT INTO {self.schema}.processed_events (event_id, consumer)
                SELECT unnest(%s::uuid[]), %s ON CONFLICT DO NOTHING RETURNING event_id""", (ids, self.name))}
        self.repeats_expected = len(fresh_ids) < len(unique)
        return [e for e in unique if e.event_id in fresh_ids]


def send_dead_letters(producer: KafkaProducer, consumer_name: str, letters: list[DeadLetter]) -> None:
    """Publish dead letters with their reason in the headers and a JSON wrapper."""
    for d in letters:
        topic = dlq_topic(d.topic)
        body = orjson.dumps(
            {
                "reason": d.reason,
                "consumer": consumer_name,
                "topic": d.topic,
                "partition": d.partition,
                "offset": d.offset,
                "value": d.value.decode("utf-8", errors="replace"),
            }
        )
        producer.send(topic, key=d.key, value=body, headers=[("reason", d.reason.encode()[:1000])])
        EVENTS_DEAD_LETTERED.labels(consumer_name, d.topic, dead_letter_reason(d.reason)).inc()
    producer.flush()


@dataclass
class BatchSizer:
    """How many records the next poll may return.

    A batch must be applied and committed within the group's max_poll_interval_ms, or the
    broker gives its partitions to another member and the batch is read again. With the
    one-machine interval of 3 s that happened to the alerts consumer's first batch at
    `make dev` start-up, the machine busy loading the demo. So a consumer starts with small
    batches, doubles them while a full one takes under a quarter of the interval, and
    halves them when one takes over half; large batches amortise the commit once the
    consumer is known to keep up."""

    ceiling: int  # max_poll_records
    interval_s: float  # max_poll_interval_ms / 1000
    size: int = 100
    floor: int = 10

    def __post_init__(self) -> None:
        self.size = max(1, min(self.size, self.ceiling))

    def after(self, records: int, seconds: float) -> None:
        """Learn from a batch of `records` applied and committed in `seconds`."""
        if seconds > self.interval_s / 2:
            self.shrink(records)
        elif records >= self.size and seconds < self.interval_s / 4:
            self.size = min(self.ceiling, self.size * 2)

    def shrink(self, records: int | None = None) -> None:
        """Halve the batch: it took too long, or its commit failed (the group moved on: a slow
        batch, or a rebalance, after which it grows again)."""
        self.size = max(min(self.floor, self.ceiling), min(self.size, records or self.size) // 2)

    @classmethod
    def from_settings(cls) -> BatchSizer:
        s = get_settings()
        return cls(ceiling=s.kafka_max_poll_records, interval_s=s.kafka_max_poll_interval_ms / 1000)


def poll_and_apply(
    consumer: KafkaConsumer,
    producer: KafkaProducer,
    conn: psycopg.Connection,
    ec: EventConsumer,
    timeout_ms: int = 1000,
    sizer: BatchSizer | None = None,
) -> BatchResult | None:
    """One poll → apply → dead letters → commit offsets. None when nothing arrived.
    With a `sizer`, the poll returns at most `sizer.size` records and the batch's time
    adjusts the next size; without one, up to the consumer's max_poll_records."""
    batches = consumer.poll(timeout_ms=timeout_ms, max_records=sizer.size if sizer else None)
    record_lag(ec.name, consumer)
    records = [r for recs in batches.values() for r in recs]
    if not records:
        return None
    started = time.perf_counter()
    result = ec.apply(conn, records)
    send_dead_letters(producer, ec.name, result.dead_letters)
    consumer.commit()
    took = time.perf_counter() - started
    CONSUMER_BATCH_SECONDS.labels(ec.name).observe(took)
    if sizer is not None:
        sizer.after(len(records), took)
    for type_, count in Counter(e.type for e in result.applied).items():
        EVENTS_PROCESSED.labels(ec.name, type_).inc(count)
    if result.duplicates:
        EVENTS_DUPLICATE.labels(ec.name).inc(result.duplicates)
    return result


def rewind(consumer: KafkaConsumer) -> None:
    """Go back to the last committed offsets, so an uncommitted batch is read again."""
    for tp in consumer.assignment():
        committed = consumer.committed(tp)
        if committed is None:
            consumer.seek_to_beginning(tp)
        else:
            consumer.seek(tp, committed)


@dataclass
class BatchGc:
    """Garbage collection between a consumer's batches, not during them.

    A batch builds tens of thousands of objects (envelopes, facts, rows) that all live until
    it is committed, so a collection during it walks each of them, often twice: with the
    collector's default thresholds that was a third of the alerts consumer's time, and with
    a gen-0 threshold of 50,000 still 6 µs of its ~47 µs an event. Between batches they are
    gone (reference counting frees them), and a collection walks only what survived. So,
    while in use (a `with` block): what exists at start is frozen, automatic collection is
    off, the young generations are collected after every batch and everything every
    `full_every_s`; at the end the previous state is restored (a test process goes on)."""

    full_every_s: float = 300.0
    _full_at: float = field(default=0.0, init=False, repr=False)
    _was_enabled: bool = field(default=True, init=False, repr=False)

    def __enter__(self) -> BatchGc:
        self._was_enabled = gc.isenabled()
        gc.collect()
        gc.freeze()
        gc.disable()
        self._full_at = time.monotonic()
        return self

    def __exit__(self, *exc) -> None:
        gc.unfreeze()
        if self._was_enabled:
            gc.enable()

    def between_batches(self) -> None:
        """Call when the last batch's objects are no longer referenced."""
        now = time.monotonic()
        if now - self._full_at >= self.full_every_s:
            gc.collect()
            self._full_at = now
        else:
            gc.collect(1)


def run_consumer(
    ec: EventConsumer, topics: list[str], group_id: str, should_stop: Callable[[], bool], on_cycle: Callable[[], None]
) -> None:
    """Consume `topics` until told to stop, surviving the database and the broker going away.

    When the database is down the batch is not committed, so its offsets are not
    either: the consumer seeks back and the batch is polled again. When the broker
    is down (or came back empty), the Kafka clients are made anew once it answers:
    what was applied but not committed comes again and is skipped as a duplicate.
    Batches start small and grow while they are quick (`BatchSizer`); garbage is collected
    between them (`BatchGc`).
    """
    sizer = BatchSizer.from_settings()
    consumer, producer, conn = None, None, None
    with BatchGc() as batch_gc:
        try:
            while not should_stop():
                try:
                    if consumer is None:
                        consumer, producer = make_consumer(group_id, *topics), make_producer()
                        ec.repeats_expected = True  # from the last commit: applied events may come again
                    if conn is None or conn.closed:
                        # dict rows, as the pools give
                        conn = psycopg.connect(get_settings().dsn, autocommit=True, row_factory=dict_row)
                    poll_and_apply(consumer, producer, conn, ec, sizer=sizer)
                except psycopg.OperationalError:
                    log.exception("%s: database unavailable, retrying", ec.name)
                    conn = None
                    if consumer is not None:
                        rewind(consumer)
                    time.sleep(1)
                except KafkaError as e:
                    if isinstance(e, CommitFailedError):  # a batch slower than max_poll_interval_ms, or a rebalance
                        sizer.shrink()
                        log.warning("%s: the group moved on before the batch was committed (a slow batch or a "
                                    "rebalance); rejoining, batches of at most %d", ec.name, sizer.size)
                    else:
                        log.warning("%s: broker unavailable (%s), reconnecting", ec.name, e)
                    _close_quietly(consumer, producer)
                    consumer = producer = None
                    time.sleep(1)
                batch_gc.between_batches()
                on_cycle()
        finally:
            _close_quietly(consumer, producer)
            if conn is not None:
                conn.close()


def _close_quietly(consumer: KafkaConsumer | None, producer: KafkaProducer | None) -> None:
    for client in (consumer, producer):
        try:
            if client is not None:
                client.close()
        except Exception:  # noqa: BLE001 (a client of a broker that is gone may fail to close: nothing to do)
            log.debug("closing a Kafka client failed", exc_info=True)
