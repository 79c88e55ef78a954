"""Benchmark: assessment scoring, and the facts ingest from Kafka.

(a) scoring: `--units` units (default 3000) × a generated scheme of 50 indicators
    (24 rates, 16 deductions, 7 bonuses, 3 vetoes over the ledger's fact kinds,
    weights adding to 100) over a year's facts (`--facts-per-unit`, default 300, kinds
    in realistic proportions, months at random, a fixed seed). Timed (`scoring_s`, the
    goal's figure): the annual `score_units(facts, scheme, "2024", units, explain=False)`
    — 12 monthly process scores and the year-end score per unit, totals, grades, ranks,
    praise and criticism, as /api/scores and the bulletins compute them — three times, the
    median in wall and CPU seconds (all three in `scoring_runs_s`); then the same with every
    explained line (~100 per unit, what the explain route builds; `explained_s`), and a
    month's scoring over the same facts. Raw component in the same run: one pure-Python
    pass grouping the same facts by (unit, month, kind), the least any scoring of them
    must do; `scoring_ratio` = scoring / raw pass.
(b) ingest: `--events` `task.step.*` envelopes (opened, submitted on time or late,
    overdue, escalated, returned, approved; the payload of
    workflows/activities/task_activities.py `_event`) published to tasks.events; then
    raw kafka-python consume of them by one consumer (poll + commit), and the assessment
    consumer (`services.assessment.consumer.build_consumer()` through
    `services.common.consumer_base.poll_and_apply`: decode, dedup on event_id, facts
    into assessment.facts, commit) twice over the same offsets: in this process, then
    as deployed, one process per partition of tasks.events (the replicas of
    deploy/k8s, each given its partition as the group's join would; what the first
    pass wrote is taken back in between); then the raw consume once more, because on
    a small machine it moves between passes. `ratio` = the processes' rate / the mean
    of the two raw passes; `ratio_one_process` = one process's. Before the processes and
    before the second raw pass the ledger's tables are vacuumed and PostgreSQL
    checkpointed (bench/outbox_relay.settle), so that cleaning up the previous phase's
    rows is not left to autovacuum in the middle of the next. `consumer_cpu_us_per_event`
    (the processes' CPU time, summed, per event) against `raw_cpu_us_per_event` (the raw
    passes'): what each costs the machine, a figure that moves far less between runs than
    the rates, to compare two versions of the consumer.

PostgreSQL and the broker: DATABASE_URL / KAFKA_BOOTSTRAP_SERVERS when set (a scratch
database: migrations are applied, assessment.facts and processed_events get rows),
otherwise the dev stack's embedded servers started here and stopped at the end (see
bench/outbox_relay.py, whose helpers this uses).

Usage:  .venv/bin/python bench/scoring.py [--units 3000] [--facts-per-unit 300]
                                          [--events 100000] [--skip-ingest]
The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.assessment.model import Fact
from services.assessment.schemes import build_scheme
from services.assessment.scoring import score_units

YEAR = "2024"
TOPIC = "tasks.events"
# Facts per unit and year, by kind (weights): most are reporting steps, some alerts.
FACT_MIX = {"step_due": 100, "step_on_time": 90, "step_late": 8, "step_overdue": 2, "step_escalated": 1,
            "step_returned": 3, "step_approved": 85, "target_reached": 5, "alert_raised": 12,
            "alert_verified_on_time": 11, "case_confirmed_in_time": 10, "risk_eliminated": 9}
RATE_PAIRS = [("step_on_time", "step_due"), ("step_approved", "step_due"), ("alert_verified_on_time", "alert_raised"),
              ("case_confirmed_in_time", "alert_raised"), ("risk_eliminated", "alert_raised"),
              ("step_approved", ["step_approved", "step_returned"])]
# What the ingest writes, vacuumed between its phases (bench/outbox_relay.settle).
WRITTEN = ("assessment.facts", "assessment.processed_events")
DEDUCTED = ["step_overdue", "step_late", "step_escalated", "step_returned"]


# ---------------------------------------------------------------------------
# (a) scoring


def bench_scheme():
    """50 indicators: 24 rates × 2.5 + 16 deductions × 2.5 = 100 points, 7 bonuses, 3 vetoes."""
    leaves = []
    for i in range(24):
        num, den = RATE_PAIRS[i % len(RATE_PAIRS)]
        leaves.append({"id": f"rate_{i}", "name": f"比率指标{i}", "formula": "rate", "numerator": num,
                       "denominator": den, "weight": 2.5, "empty": "full" if i % 3 else "zero", "source": "bench"})
    for i in range(16):
        kind = DEDUCTED[i % len(DEDUCTED)]
        leaves.append({"id": f"deduction_{i}", "name": f"扣分指标{i}", "formula": "deduction", "kind": kind,
                       "points": 0.1 + 0.1 * (i % 4), "weight": 2.5, "source": "bench",
                       **({"per": "value", "unit": "天" if kind == "step_late" else "级"}
                          if kind in ("step_late", "step_escalated") else {})})
    for i in range(7):
        leaves.append({"id": f"bonus_{i}", "name": f"加分指标{i}", "formula": "bonus",
                       "kind": ["target_reached", "risk_eliminated"][i % 2], "points": 0.5, "cap": 1 + i % 2,
                       "source": "bench"})
    for i, kind in enumerate(["large_scale_return", "falsification", "large_scale_return"]):
        leaves.append({"id": f"veto_{i}", "name": f"否决指标{i}", "formula": "veto", "kind": kind, "source": "bench"})
    return build_scheme({
        "region": "default", "year": int(YEAR), "name": "bench 50 indicators", "source": "bench",
        "grades": [{"name": "好", "min": 90}, {"name": "较好", "min": 80}, {"name": "一般", "min": 70},
                   {"name": "较差", "min": 0}],
        "bonus_cap": 5, "praise": {"top": 3, "min_grade": "较好", "source": "bench"},
        "criticism": {"grades": ["较差"], "source": "bench",
                      "counts": [{"kind": "step_escalated", "at_least": 3, "within": "quarter"}]},
        "indicators": [{"id": "reporting", "name": "报送", "children": leaves[:24:2] + leaves[24:32]},
                       {"id": "monitoring", "name": "监测", "children": leaves[1:24:2] + leaves[32:]}],
    })


def bench_facts(units: int, per_unit: int, seed: int = 2024) -> list[Fact]:
    rnd = random.Random(seed)
    kinds, weights = list(FACT_MIX), list(FACT_MIX.values())
    months = [f"{YEAR}-{m:02d}" for m in range(1, 13)]
    facts, n = [], 0
    for unit in range(1, units + 1):
        for kind, month in zip(rnd.choices(kinds, weights, k=per_unit), rnd.choices(months, k=per_unit)):
            n += 1
            value = float(rnd.randint(1, 3)) if kind in ("step_late", "step_escalated") else 1.0
            facts.append(Fact(unit, month, kind, value, (f"{n:08x}-0000-4000-8000-{unit:012x}",), task_id=n // 40,
                              step_id=n))
        if unit % 500 == 0:  # a few vetoes
            facts.append(Fact(unit, f"{YEAR}-06", "large_scale_return", 1.0, (f"veto-{unit}",)))
    return facts


def raw_group(facts: list[Fact]) -> dict:
    counts: dict = {}
    for f in facts:
        key = (f.unit_id, f.period, f.kind)
        counts[key] = counts.get(key, 0) + 1
    return counts


def timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def bench_scoring(units: int, per_unit: int) -> dict:
    scheme = bench_scheme()
    facts, gen_s, _ = timed(lambda: bench_facts(units, per_unit))
    print(f"(a) scoring: {units} units × {len(scheme.indicators)} indicators, {len(facts)} facts "
          f"(generated in {gen_s:.1f} s)", flush=True)
    unit_ids = list(range(1, units + 1))
    _, raw_s, raw_cpu = timed(lambda: raw_group(facts))
    print(f"  raw pass: group the facts by unit, month, kind      {raw_s:7.3f} s wall {raw_cpu:7.3f} s cpu", flush=True)
    score_units(facts[:2000], scheme, YEAR, unit_ids[:10])  # warm-up: the scheme is compiled once and cached
    runs = sorted((timed(lambda: score_units(facts, scheme, YEAR, unit_ids, explain=False)) for _ in range(3)),
                  key=lambda run: run[1])
    ranked, annual_s, annual_cpu = runs[1]  # the median of three: one run can meet a collection or a busy core
    print(f"  score_units {YEAR} (annual: totals, grades, ranks)     {annual_s:7.3f} s wall {annual_cpu:7.3f} s cpu"
          f" (median of {', '.join(f'{r[1]:.3f}' for r in runs)})", flush=True)
    scores, explained_s, _ = timed(lambda: score_units(facts, scheme, YEAR, unit_ids))
    lines = sum(len(s.lines) for s in scores)
    print(f"  score_units {YEAR} with every line ({lines} lines)     {explained_s:7.3f} s wall", flush=True)
    assert [(s.unit_id, s.total, s.rank) for s in ranked] == [(s.unit_id, s.total, s.rank) for s in scores]
    _, month_s, month_cpu = timed(lambda: score_units(facts, scheme, f"{YEAR}-06", unit_ids, explain=False))
    print(f"  score_units {YEAR}-06 (one month, same facts)         {month_s:7.3f} s wall {month_cpu:7.3f} s cpu",
          flush=True)
    again = score_units(list(reversed(facts)), scheme, YEAR, unit_ids)
    if again != scores:
        raise RuntimeError("scoring the same facts in another order gave another result")
    for s in scores:
        if sum(round(x.points * 100) for x in s.lines) != round(s.total * 100):
            raise RuntimeError(f"unit {s.unit_id}: lines do not sum to the total")
    print(f"  checked: same result for the facts reversed; lines sum to every total; "
          f"{sum(s.vetoed for s in scores)} vetoed, {sum(s.praise for s in scores)} praised, "
          f"{sum(s.criticism for s in scores)} criticised", flush=True)
    return {"units": units, "indicators": len(scheme.indicators), "facts": len(facts),
            "scoring_s": round(annual_s, 3), "scoring_cpu_s": round(annual_cpu, 3),
            "scoring_runs_s": [round(r[1], 3) for r in runs],
            "raw_group_s": round(raw_s, 3), "scoring_ratio": round(annual_s / raw_s, 2),
            "explained_s": round(explained_s, 3), "month_scoring_s": round(month_s, 3)}


# ---------------------------------------------------------------------------
# (b) ingest


STEP_EVENTS = [("opened", 40), ("submitted", 30), ("approved", 15), ("returned", 4), ("overdue", 6), ("escalated", 5)]


def step_envelopes(n: int, seed: int = 7) -> list:
    from services.common.events import new_envelope

    rnd = random.Random(seed)
    names, weights = [e for e, _ in STEP_EVENTS], [w for _, w in STEP_EVENTS]
    out = []
    for i, event in enumerate(rnd.choices(names, weights, k=n)):
        task_id, unit_id, month = 1 + i // 60, 1 + rnd.randrange(300), 1 + rnd.randrange(12)
        due = datetime(int(YEAR), month, 5, 15, 59, 59, tzinfo=UTC)
        extra = {}
        if event == "submitted":
            extra = {"on_time": rnd.random() < 0.85}
        elif event == "escalated":
            extra = {"level": rnd.randint(1, 3), "to": "leader", "at": due.isoformat()}
        out.append(new_envelope(
            f"task.step.{event}", source="tasks", entity_id=str(i), key=f"task-{task_id}",
            regions={"county": "532325000000"}, occurred_at=due + timedelta(days=rnd.randint(-3, 4)),
            payload={"task_id": task_id, "region_code": "532325000000", "step_id": i,
                     "step_key": f"{task_id}:{unit_id}:monthly_report:{YEAR}-{month:02d}", "unit_id": unit_id,
                     "kind": "monthly_report", "period": f"{YEAR}-{month:02d}", "due_at": due.isoformat(), **extra}))
    return out


def publish(envelopes: list) -> tuple[dict, dict]:
    """Send the envelopes; returns the first offset of ours and the end offset per partition."""
    from kafka.structs import TopicPartition

    from services.common.kafka import make_producer

    producer = make_producer()
    try:
        futures = [producer.send(TOPIC, key=e.key.encode(), value=e.to_bytes()) for e in envelopes]
        producer.flush()
        first: dict = {}
        end: dict = {}
        for fut in futures:
            md = fut.get(timeout=60)
            tp = TopicPartition(TOPIC, md.partition)
            first[tp] = min(first.get(tp, md.offset), md.offset)
            end[tp] = max(end.get(tp, 0), md.offset + 1)
        return first, end
    finally:
        producer.close()


def bench_ingest(dsn: str, n: int, start: dict, batch_gc) -> tuple[float, float, int]:
    import psycopg
    from outbox_relay import joined, start_group_at
    from psycopg.rows import dict_row

    from services.assessment.consumer import build_consumer
    from services.common.consumer_base import poll_and_apply
    from services.common.kafka import make_consumer, make_producer

    ec = build_consumer()
    with psycopg.connect(dsn, autocommit=True, row_factory=dict_row) as conn:  # as run_consumer connects
        before = count_facts(dsn)
        group = f"bench-assessment-{uuid.uuid4().hex[:8]}"
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
                result = None
                batch_gc.between_batches()  # as run_consumer's loop
                if time.perf_counter() - started > 600:
                    raise RuntimeError(f"the assessment consumer handled only {seen} of {n} events")
            elapsed = time.perf_counter() - started
        finally:
            consumer.close()
            producer.close()
    facts = count_facts(dsn) - before
    if dead:
        raise RuntimeError(f"{dead} of {n} events went to the dead letters")
    return elapsed, join_s, facts


def forget(dsn: str, event_ids: list) -> None:
    """Take back what the one-process phase wrote, so the processes apply the same events anew."""
    import psycopg

    with psycopg.connect(dsn) as conn:
        # one event per fact here; `= ANY` of a constant array is hashed, `&&` compares every pair
        # (minutes at 300,000 events)
        conn.execute("DELETE FROM assessment.facts WHERE event_ids[1] = ANY(%s::uuid[])", (event_ids,))
        conn.execute("DELETE FROM assessment.processed_events WHERE consumer = 'assessment' AND event_id = ANY(%s)",
                     (event_ids,))


def count_facts(dsn: str) -> int:
    import psycopg

    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT count(*) FROM assessment.facts").fetchone()[0]


def run_ingest(n: int) -> dict:
    from outbox_relay import bench_raw_consume, consume_as_replicas, line, settle, stack

    with stack() as st, contextlib.ExitStack() as later:
        os.environ["DATABASE_URL"] = st.dsn
        os.environ["KAFKA_BOOTSTRAP_SERVERS"] = st.bootstrap
        from services.common.config import get_settings
        from services.common.db import migrate
        from services.common.events import all_topics
        from services.common.kafka import ensure_topics

        get_settings.cache_clear()
        print(f"(b) ingest: {n} task.step.* events; stack {st.origin}", flush=True)
        migrate(st.dsn)
        ensure_topics(all_topics())
        envelopes = step_envelopes(n)
        start, end = publish(envelopes)
        event_ids = [e.event_id for e in envelopes]
        del envelopes
        from services.common.consumer_base import BatchGc

        batch_gc = later.enter_context(BatchGc())  # as run_consumer does in the consumer process; for every phase
        raw_s, raw_join, raw_cpu = bench_raw_consume(n, start)
        raw = line(f"raw poll + commit, one consumer (group join {raw_join:.1f} s, excluded)", n, raw_s)
        ingest_s, join_s, facts = bench_ingest(st.dsn, n, start, batch_gc)
        ingest = line(f"assessment consumer, one process (join {join_s:.1f} s excl.), {facts} facts", n, ingest_s)
        forget(st.dsn, event_ids)
        settle(st.dsn, *WRITTEN)
        before = count_facts(st.dsn)
        replicas = consume_as_replicas(st.dsn, st.bootstrap, "services.assessment.consumer", start, end)
        group_s, seen = replicas.seconds, replicas.events
        group_facts = count_facts(st.dsn) - before
        if (seen, group_facts) != (n, facts):
            raise RuntimeError(f"the consumer processes handled {seen} of {n} events into {group_facts} facts")
        group = line(f"assessment consumer, {len(start)} processes (one per partition, as deployed)", n, group_s)
        settle(st.dsn, *WRITTEN)
        raw_after_s, raw_after_join, raw_after_cpu = bench_raw_consume(n, start)
        raw_after = line(f"raw poll + commit again, after the consumers (join {raw_after_join:.1f} s)", n, raw_after_s)
    raw_mean = (raw + raw_after) / 2
    print(f"  raw consume before and after the consumers: {raw:,.0f} and {raw_after:,.0f} /s; ratios against "
          f"their mean {raw_mean:,.0f} /s", flush=True)
    return {"events": n, "raw_consume_per_s": round(raw_mean), "raw_consume_before_per_s": round(raw),
            "raw_consume_after_per_s": round(raw_after), "ingest_per_s": round(group),
            "ratio": round(group / raw_mean, 3), "consumer_processes": len(start),
            "ingest_one_process_per_s": round(ingest), "ratio_one_process": round(ingest / raw_mean, 3),
            "facts_written": facts, "raw_cpu_us_per_event": round((raw_cpu + raw_after_cpu) / 2 / n * 1e6, 1),
            "consumer_cpu_us_per_event": round(replicas.cpu_s / n * 1e6, 1)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--units", type=int, default=3000)
    ap.add_argument("--facts-per-unit", type=int, default=300)
    ap.add_argument("--events", type=int, default=300_000,
                    help="task.step.* events for the ingest part (100,000 made phases of 1-3 s here, too short "
                         "for a steady rate)")
    ap.add_argument("--skip-ingest", action="store_true", help="only the scoring part (no servers)")
    args = ap.parse_args()
    wall = time.perf_counter()
    result = {"bench": "scoring", **bench_scoring(args.units, args.facts_per_unit)}
    if not args.skip_ingest:
        result.update(run_ingest(args.events))
    result["load_avg"] = round(os.getloadavg()[0], 1)
    result["wall_s"] = round(time.perf_counter() - wall, 1)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
