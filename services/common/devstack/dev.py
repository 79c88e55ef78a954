"""`xianjie dev`: the whole system in the foreground under honcho.

honcho starts every line at once, so order comes from waiting, not from the
Procfile: each app process calls `wait_for_stack` before it serves, and the
`bootstrap` line waits for the servers, then migrates, creates the topics,
loads the demo data, prints every address once the APIs answer /readyz, and
keeps watching readiness (it runs for as long as the stack does, because
honcho stops everything when any line exits). Ctrl-C reaches honcho, which
stops every process group. Data stays under var/, so a second start reuses it;
the Procfile it ran is written to var/Procfile.dev for reference.
"""

from __future__ import annotations

import logging
import os
import re
import shlex
import sys
import time
from collections.abc import Callable

from services.common.config import REPO_ROOT, Settings, get_settings
from services.common.devstack.checks import (
    broker_problem,
    create_topics,
    http_problem,
    port_open,
    postgres_problem,
    split_address,
    temporal_problem,
    wait_for,
)
from services.common.devstack.servers import (
    EmbeddedBroker,
    EmbeddedPostgres,
    EmbeddedTemporal,
    create_database,
    venv_binary,
)

log = logging.getLogger("xianjie.dev")

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
# Port of the Temporal dev server's own /metrics until the settings have `temporal_metrics_port`.
TEMPORAL_METRICS_PORT = 9110
# The /healthz of each background process is on its metrics port.
BACKGROUND_PORTS = {
    "worker": "worker_metrics_port",
    "relay": "relay_metrics_port",
    "alerts-consumer": "alerts_consumer_metrics_port",
    "assessment-consumer": "assessment_consumer_metrics_port",
}
WATCH_INTERVAL_S = 10.0
STOP_WAIT_S = 20  # seconds from Ctrl-C until what still runs is killed


def _local(address: str) -> bool:
    return split_address(address)[0] in LOCAL_HOSTS


def temporal_metrics_port(s: Settings) -> int:
    return getattr(s, "temporal_metrics_port", TEMPORAL_METRICS_PORT)


def dev_postgres(s: Settings) -> EmbeddedPostgres:
    return EmbeddedPostgres(s.var_dir / "postgres", s.pg_port, host=s.pg_host)


def dev_temporal(s: Settings) -> EmbeddedTemporal:
    host, port = split_address(s.temporal_address)
    return EmbeddedTemporal(
        s.var_dir / "temporal" / "temporal.log", port, ip=host, ui_port=s.temporal_ui_port,
        db_file=s.var_dir / "temporal" / "temporal.db", metrics_port=temporal_metrics_port(s), namespace=s.temporal_namespace,
    )


def dev_broker(s: Settings) -> EmbeddedBroker:
    host, port = split_address(s.kafka_bootstrap)
    return EmbeddedBroker(s.var_dir / "broker.log", port, host=host)


def dev_processes(infra_only: bool = False, s: Settings | None = None) -> dict[str, str]:
    """The Procfile: name → shell command. A server is started only when the
    settings point at this machine (DATABASE_URL set: no PostgreSQL)."""
    from services.serve import PROCESSES

    s = s or get_settings()
    me = f"exec {shlex.quote(sys.executable)} -m services.common.devstack"
    procs = {}
    if not s.database_url:
        procs["postgres"] = f"{me} run postgres"
    if _local(s.temporal_address):
        procs["temporal"] = f"{me} run temporal"
    if _local(s.kafka_bootstrap):
        procs["broker"] = f"{me} run broker"
    procs["bootstrap"] = f"{me} bootstrap" + (" --infra-only" if infra_only else "")
    if not infra_only:
        xianjie = shlex.quote(venv_binary("xianjie"))
        procs.update({name: f"exec {xianjie} serve {name}" for name in PROCESSES})
        procs["portal"] = f"exec {shlex.quote(sys.executable)} -m services.portal"  # the web portal (门户)
    return procs


def _ports_in_use(procs: dict[str, str], s: Settings) -> list[str]:
    wanted: list[tuple[str, str, int]] = []
    if "postgres" in procs:
        wanted.append(("PostgreSQL", s.pg_host, s.pg_port))
    if "temporal" in procs:
        host, port = split_address(s.temporal_address)
        wanted += [("Temporal", host, port), ("Temporal UI", host, s.temporal_ui_port), ("Temporal metrics", host, temporal_metrics_port(s))]
    if "broker" in procs:
        wanted.append(("broker", *split_address(s.kafka_bootstrap)))
    wanted += [(name, s.bind_host, port) for name, port in _app_ports(s).items() if name in procs]
    return [f"{what} port {host}:{port}" for what, host, port in wanted if port_open(host, port, 0.2)]


def _app_ports(s: Settings) -> dict[str, int]:
    from services.serve import APIS

    ports = {"portal": s.portal_port}
    ports.update({name: getattr(s, setting) for name, (_, setting) in APIS.items()})
    ports.update({name: getattr(s, setting) for name, setting in BACKGROUND_PORTS.items()})
    return ports


def dev_command(infra_only: bool = False) -> int:
    """Run the dev stack in the foreground until Ctrl-C; returns honcho's exit code."""
    from honcho import manager as honcho_manager
    from honcho.manager import Manager

    # honcho SIGKILLs what has not stopped 5 s after Ctrl-C (a module constant, no option).
    # Stopped in the middle of the demo's start-up burst, PostgreSQL's shutdown checkpoint
    # and the worker's last workflow tasks can take longer than that.
    honcho_manager.KILL_WAIT = STOP_WAIT_S

    s = get_settings()
    procs = dev_processes(infra_only, s)
    busy = _ports_in_use(procs, s)
    if busy:
        print("already in use (is another `xianjie dev` running?): " + ", ".join(busy), file=sys.stderr)
        return 1
    s.var_dir.mkdir(parents=True, exist_ok=True)
    (s.var_dir / "Procfile.dev").write_text("".join(f"{n}: {c}\n" for n, c in procs.items()), encoding="utf-8")
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    manager = Manager()
    for name, cmd in procs.items():
        manager.add_process(name, cmd, env=env, cwd=str(REPO_ROOT))
    manager.loop()
    return manager.returncode or 0


def _redact(dsn: str) -> str:
    return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", dsn)


def _status_checks(s: Settings, infra_only: bool) -> dict[str, Callable[[], str | None]]:
    from services.common.events import all_topics
    from services.serve import APIS

    checks: dict[str, Callable[[], str | None]] = {
        "postgres": lambda: postgres_problem(s.dsn, migrations=True),
        "broker": lambda: broker_problem(s.kafka_bootstrap, all_topics()),
        "temporal": lambda: temporal_problem(s.temporal_address, s.temporal_namespace),
    }
    if not infra_only:
        for name, port in _app_ports(s).items():
            path = "/readyz" if name in APIS else "/healthz"
            checks[name] = lambda url=f"http://{s.bind_host}:{port}{path}": http_problem(url)
    return checks


def summary(s: Settings, seconds: float, infra_only: bool) -> str:
    from services.serve import APIS

    host = s.bind_host
    lines = [f"xianjie dev stack ready in {seconds:.1f} s"]
    if not infra_only:
        lines.append(f"  {'portal (门户)':<22} http://{host}:{s.portal_port}   open this in a browser")
        for name, (_, setting) in APIS.items():
            url = f"http://{host}:{getattr(s, setting)}"
            lines.append(f"  {name:<22} {url}   docs {url}/docs")
    if _local(s.temporal_address):
        lines.append(f"  {'Temporal UI':<22} http://{split_address(s.temporal_address)[0]}:{s.temporal_ui_port}")
    lines.append(f"  {'Temporal':<22} {s.temporal_address} (namespace {s.temporal_namespace}, task queue {s.temporal_task_queue})")
    lines.append(f"  {'broker (Kafka)':<22} {s.kafka_bootstrap}")
    lines.append(f"  {'PostgreSQL':<22} {_redact(s.dsn)}")
    metrics = [f"{name} :{port}/metrics" for name, port in _app_ports(s).items() if name in BACKGROUND_PORTS]
    metrics += [f"Temporal SDK :{s.temporal_sdk_metrics_port}/metrics", f"Temporal server :{temporal_metrics_port(s)}/metrics"]
    lines.append(f"  {'metrics':<22} " + ", ".join(metrics))
    lines.append(f"  {'demo login':<22} admin / {s.demo_password} (portal: yaoan_office, yaoan_rsj, yaoan_leader, "
                 "dongchuan_entry; same password)")
    lines.append(f"  {'data':<22} {s.var_dir} (make clean-var deletes it)")
    return "\n".join(lines)


def _load_demo(dsn: str) -> None:
    try:
        from services.demo import load_demo
    except ImportError:
        log.info("no services.demo.load_demo: no demo data")
        return
    load_demo(dsn)
    log.info("demo data loaded")


def bootstrap(infra_only: bool = False) -> None:
    """Prepare the running servers for the apps, report the addresses, then watch readiness forever."""
    s = get_settings()
    started = time.monotonic()
    if s.database_url:
        wait_for({"database": lambda: postgres_problem(s.dsn)})
    else:
        pg = dev_postgres(s)
        wait_for({"postgres": pg.problem})
        if create_database(pg.dsn_for(), s.pg_database):
            log.info("created database %s", s.pg_database)
    from services.common.db import migrate

    applied = migrate(s.dsn)
    log.info("migrations applied: %s", ", ".join(applied) if applied else "none pending")
    wait_for({"broker": lambda: broker_problem(s.kafka_bootstrap)})
    created = create_topics(s.kafka_bootstrap)
    log.info("topics created: %s", ", ".join(created) if created else "all existed")
    _load_demo(s.dsn)
    checks = _status_checks(s, infra_only)
    wait_for(checks, timeout=300)
    print(summary(s, time.monotonic() - started, infra_only), flush=True)
    watch(checks)


def watch(checks: dict[str, Callable[[], str | None]], interval: float = WATCH_INTERVAL_S) -> None:
    """Every `interval` seconds, log each part that went down or came back."""
    state: dict[str, str | None] = {name: None for name in checks}
    while True:
        time.sleep(interval)
        for name, check in checks.items():
            reason = check()
            if reason is not None and state[name] is None:
                log.warning("%s is DOWN: %s", name, reason)
            elif reason is None and state[name] is not None:
                log.info("%s is back up", name)
            state[name] = reason
