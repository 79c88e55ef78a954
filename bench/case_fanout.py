"""Benchmark: alert cases started as workflows (a monthly wave of a large county).

Measures, in one run and against one Temporal dev server and one PostgreSQL:

  (1) raw Temporal starts: N trivial `PingWorkflow`s (N = the cases of (2)) started
      with the same client, in `asyncio.gather` chunks of the size the case starter
      uses (`start_pending_cases`' limit, 500), on a task queue nobody polls, so only
      the start calls count; half of them before (2) and half after, so that the
      Temporal database growing and the machine's load changing during the run weigh
      on both figures alike;
  (2) the project's path: N households of a synthetic county (9 townships, 90
      villages, a township unit each), each with a firing alert group as the alerts
      consumer leaves it; then the worker's case starter (`start_pending_cases` in a
      loop, as `run_case_starter` calls it) next to the project's worker
      (`build_worker` with a pool) in this process, until nothing is pending: each
      round links up to 500 groups to new cases in one transaction (the case row, its
      timeline, the `alert.case.opened` outbox row), builds each run's plan from the
      rule files, starts the `AlertCaseWorkflow`s (USE_EXISTING, ALLOW_DUPLICATE) with
      one gather, and marks them started. The rate is cases started per second of that
      loop. Like the raw starts, nobody polls the queue meanwhile (the figure is the
      starter's cost over a bare start); `--with-worker` runs the project's worker in
      this process as `xianjie serve worker` does, whose first workflow task of every
      case then competes with the starts for the dev server and the two cores.

Afterwards the bench checks that PostgreSQL holds N cases marked started and Temporal's
visibility N case workflows.

Goal (issue 7): case start rate / raw start rate >= 0.5. Absolute numbers vary by
machine; the ratio is what is compared.

PostgreSQL and Temporal: `DATABASE_URL` / `TEMPORAL_ADDRESS` when set (use a scratch
database and namespace: the bench adds regions, units and households, and every
pending alert group of that database gets its case), otherwise the dev stack's
embedded servers on free ports under a temporary directory (PostgreSQL with fsync
on), stopped at the end — as bench/task_fanout.py does.

Usage:  .venv/bin/python bench/case_fanout.py [--cases 20000] [--chunk 500]
The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import contextlib
import asyncio
import json
import logging
import os
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg
from task_fanout import line, rate, stack, start_pings

CHUNK = 500  # start_pending_cases' default limit: the concurrency of the project's starts
COUNTY = "532325000000"  # 姚安县: its rule files give the monitoring line
TOWNSHIPS = 9
VILLAGES_PER_TOWNSHIP = 10
VISIBILITY_WAIT_S = 60.0


def seed_households(dsn: str, n: int, run: str) -> None:
    """Regions, township units and `n` households, each with one firing alert group (period of last month)."""
    townships = [f"532325{100 + k:03d}000" for k in range(TOWNSHIPS)]
    villages = [(t[:9] + f"{201 + v:03d}", t) for t in townships for v in range(VILLAGES_PER_TOWNSHIP)]
    with psycopg.connect(dsn) as conn:
        conn.execute("""INSERT INTO common.regions (code, name, level, parent_code) VALUES
                        ('530000000000', '云南省', 'province', NULL), ('532300000000', '楚雄彝族自治州', 'city', '530000000000'),
                        (%s, '姚安县', 'county', '532300000000') ON CONFLICT DO NOTHING""", (COUNTY,))
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO common.regions (code, name, level, parent_code) VALUES (%s, %s, 'township', %s) "
                            "ON CONFLICT DO NOTHING", [(t, f"基准镇{k}", COUNTY) for k, t in enumerate(townships)])
            cur.executemany("INSERT INTO common.regions (code, name, level, parent_code) VALUES (%s, %s, 'village', %s) "
                            "ON CONFLICT DO NOTHING", [(v, f"基准村{k}", t) for k, (v, t) in enumerate(villages)])
            cur.executemany("INSERT INTO common.units (name, kind, region_code) VALUES (%s, 'township', %s) "
                            "ON CONFLICT DO NOTHING", [(f"基准镇{k}人民政府", t) for k, t in enumerate(townships)])
        codes = [v for v, _ in villages]
        conn.execute(
            """INSERT INTO alerts.households (household_no, county_code, township_code, village_code, head_name, category,
                                              members, labourers)
               SELECT %s || '-' || i, %s, substr(v, 1, 9) || '000', v, '基准户主', '脱贫户', 3, 2
               FROM generate_series(0, %s - 1) AS i, LATERAL (SELECT (%s::text[])[1 + i %% %s] AS v) AS x""",
            (f"bench-{run}", COUNTY, n, codes, len(codes)))
        conn.execute(
            """INSERT INTO alerts.alert_groups (subject_key, household_id, village_code, township_code, county_code, period,
                                                severity, created_at)
               SELECT household_no, id, village_code, township_code, county_code, to_char(now() - interval '1 month', 'YYYY-MM'),
                      'critical', now() - make_interval(mins => (id %% 600)::int)
               FROM alerts.households WHERE household_no LIKE %s""", (f"bench-{run}-%",))
        conn.execute(
            """INSERT INTO alerts.alerts (group_id, subject_key, rule_id, rule_name, cause, severity, period, status)
               SELECT g.id, g.subject_key, 'income_below_line', '人均纯收入低于监测线', 'income', 'critical', g.period, 'firing'
               FROM alerts.alert_groups g WHERE g.subject_key LIKE %s""", (f"bench-{run}-%",))


def pending_groups(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        return conn.execute("""SELECT count(*) FROM alerts.alert_groups WHERE case_id IS NULL AND household_id IS NOT NULL
                               AND status = 'open' AND severity <> 'info'""").fetchone()[0]


def started_cases(dsn: str) -> tuple[int, int]:
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT count(*), count(workflow_started_at) FROM alerts.cases").fetchone()


async def visible_cases(client, queue: str, expected: int) -> int:
    """Case workflows on `queue` as Temporal's visibility counts them (it lags the starts a little)."""
    query = f"WorkflowType = 'AlertCaseWorkflow' AND TaskQueue = '{queue}'"
    deadline = time.perf_counter() + VISIBILITY_WAIT_S
    while (n := (await client.count_workflows(query)).count) < expected and time.perf_counter() < deadline:
        await asyncio.sleep(0.5)
    return n


async def temporal_phases(dsn: str, address: str, args, run: str) -> dict:
    from temporalio.client import Client

    from services.common.db import create_pool
    from workflows.case_starter import start_pending_cases
    from workflows.worker import build_worker

    queue, raw_queue = f"bench-cases-{run}", f"bench-raw-{run}"
    client = await Client.connect(address, namespace=os.environ.get("TEMPORAL_NAMESPACE", "default"))
    pending = pending_groups(dsn)
    n_raw = args.raw or pending
    first, second = n_raw // 2, n_raw - n_raw // 2
    print(f"(1a) raw Temporal starts: {first} of {n_raw} PingWorkflows, gather chunks of {args.chunk}", flush=True)
    raw_first_s = await start_pings(client, raw_queue, first, args.chunk, f"{run}-a")
    line("start_workflow, no worker on the queue", first, raw_first_s)

    where = "worker in this process" if args.with_worker else "no worker on the queue, as for the raw starts"
    print(f"(2) the project's path: start_pending_cases(limit={args.chunk}) in a loop, {where}; "
          f"{pending} alert groups pending", flush=True)
    rounds = cases = 0
    with create_pool(dsn, max_size=20) as pool:
        pool.wait()
        async with (build_worker(client, pool, queue) if args.with_worker else contextlib.nullcontext()):
            t = time.perf_counter()
            while n := await start_pending_cases(client, pool, queue, limit=args.chunk):
                cases += n
                rounds += 1
            start_s = time.perf_counter() - t
    case_rate = line("case workflows started (start_pending_cases)", cases, start_s)
    print(f"(1b) raw Temporal starts: the other {second} PingWorkflows", flush=True)
    raw_second_s = await start_pings(client, raw_queue, second, args.chunk, f"{run}-b")
    line("start_workflow, no worker on the queue", second, raw_second_s)
    raw = line("raw starts, both halves", n_raw, raw_first_s + raw_second_s)
    rows, marked = started_cases(dsn)
    visible = await visible_cases(client, queue, cases)
    print(f"  alerts.cases {rows} rows, {marked} marked started; Temporal visibility {visible} AlertCaseWorkflows "
          f"on the queue; {rounds} rounds", flush=True)
    if marked != cases or visible != cases:
        raise RuntimeError(f"{cases} starts, but {marked} cases marked started and {visible} workflows visible")
    return {"raw_starts": n_raw, "raw_starts_per_s": round(raw), "raw_first_half_per_s": round(rate(first, raw_first_s)),
            "raw_second_half_per_s": round(rate(second, raw_second_s)), "cases": cases, "case_starts_per_s": round(case_rate),
            "start_ratio": round(case_rate / raw, 3), "case_start_s": round(start_s, 1), "rounds": rounds,
            "visible_workflows": visible, "with_worker": args.with_worker}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", type=int, default=20_000, help="households with an alert, one case each (default 20000)")
    ap.add_argument("--raw", type=int, default=None, help="ping workflows for the raw figure (default: as many as cases)")
    ap.add_argument("--chunk", type=int, default=CHUNK, help=f"starts per gather / start_pending_cases limit (default {CHUNK})")
    ap.add_argument("--with-worker", action="store_true",
                    help="run the project's worker in this process during (2), as `xianjie serve worker` does")
    args = ap.parse_args()
    if args.cases < 1 or args.chunk < 1:
        ap.error("--cases and --chunk must be positive")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    wall = time.perf_counter()
    run = uuid.uuid4().hex[:8]
    with stack() as st:
        os.environ["DATABASE_URL"] = st.dsn
        os.environ["TEMPORAL_ADDRESS"] = st.temporal
        os.environ["XIANJIE_TEMPORAL_WORKFLOW_ID_PREFIX"] = f"bench-{run}-"
        from services.common.config import get_settings
        from services.common.db import migrate

        get_settings.cache_clear()
        migrate(st.dsn)
        load_start = os.getloadavg()[0]
        print(f"case_fanout bench: --cases {args.cases}; stack {st.origin}", flush=True)
        print(f"  temporal {st.temporal}; run {run}; {os.cpu_count()} cores, load average {load_start:.1f} "
              "(other processes on this machine skew absolute rates)", flush=True)
        t = time.perf_counter()
        seed_households(st.dsn, args.cases, run)
        print(f"  {args.cases} households with a firing alert group written in {time.perf_counter() - t:.1f} s", flush=True)
        result = asyncio.run(temporal_phases(st.dsn, st.temporal, args, run))

    summary = {"bench": "case_fanout", **result, "chunk": args.chunk, "load_avg_start": round(load_start, 1),
               "load_avg_end": round(os.getloadavg()[0], 1), "wall_s": round(time.perf_counter() - wall, 1)}
    print("ratio: case starts / raw starts {start_ratio} (goal >= 0.5)".format(**summary), flush=True)
    print(json.dumps(summary, ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
