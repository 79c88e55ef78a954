"""The dev stack plumbing against the real embedded servers: migrations, topics,
a Kafka round trip through tansu, PostgreSQL stop/start, readiness waits, and
`xianjie dev` starting, answering and stopping without leaving processes behind."""

import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psutil
import psycopg

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.structs import TopicPartition

from services.common.config import REPO_ROOT, get_settings
from services.common.db import discover_migrations, migrate, pending_migrations
from services.common.devstack import (
    EmbeddedBroker,
    create_database,
    create_topics,
    drop_database,
    dev_processes,
    embedded_stack,
    free_port,
    port_open,
    wait_for_stack,
)
from services.common.events import all_topics


@pytest.fixture
def empty_database(pg_server):
    name = f"empty_{uuid.uuid4().hex[:8]}"
    create_database(pg_server.dsn_for(), name)
    yield pg_server.dsn_for(name)
    drop_database(pg_server.dsn_for(), name)


def test_migrations_apply_once(empty_database):
    everything = [f"{m.schema}/{m.name}" for m in discover_migrations()]
    with psycopg.connect(empty_database) as conn:
        assert pending_migrations(conn) == everything  # no migrations table yet: all pending, no error
    first = migrate(empty_database)
    assert first == everything
    assert migrate(empty_database) == []
    with psycopg.connect(empty_database) as conn:
        assert pending_migrations(conn) == []


def test_topics_exist_with_their_partition_counts(kafka_bootstrap):
    assert create_topics(kafka_bootstrap) == [], "the fixture created them all already"
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        found = {t["name"]: len(t["partitions"]) for t in admin.describe_topics(list(all_topics()))}
    finally:
        admin.close()
    assert found == all_topics()
    assert found["household.events"] == 6 and found["household.events.dlq"] == 1


def _consumer(bootstrap: str, group: str) -> KafkaConsumer:
    s = get_settings()
    return KafkaConsumer(
        "tasks.events", bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False,
        auto_offset_reset="earliest", session_timeout_ms=s.kafka_session_timeout_ms,
        heartbeat_interval_ms=s.kafka_heartbeat_interval_ms, max_poll_interval_ms=s.kafka_max_poll_interval_ms,
    )


def _poll(consumer: KafkaConsumer, prefix: bytes, n: int, timeout: float = 30) -> list[bytes]:
    got: list[bytes] = []
    deadline = time.monotonic() + timeout
    while len(got) < n and time.monotonic() < deadline:
        for records in consumer.poll(timeout_ms=200).values():
            got += [r.value for r in records if r.value.startswith(prefix)]
    return got


def test_kafka_round_trip_with_group_commit(kafka_bootstrap):
    """No api_version needed; the group join takes max_poll_interval_ms; committed offsets hold."""
    prefix = uuid.uuid4().hex.encode()
    group = f"g-{prefix.decode()}"
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    for i in range(5):
        producer.send("tasks.events", key=b"k%d" % i, value=prefix + b"-a%d" % i)
    producer.flush()
    consumer = _consumer(kafka_bootstrap, group)
    started = time.monotonic()
    assert sorted(_poll(consumer, prefix, 5)) == [prefix + b"-a%d" % i for i in range(5)]
    assert time.monotonic() - started < 15
    consumer.commit()
    consumer.close()

    producer.send("tasks.events", key=b"k", value=prefix + b"-b").get(timeout=10)
    producer.close()
    again = _consumer(kafka_bootstrap, group)
    assert _poll(again, prefix, 1) == [prefix + b"-b"], "a new member resumes after the committed offsets"
    again.close()


def test_postgres_stop_refuses_connections_and_start_restores_them(pg_server):
    dsn = pg_server.dsn_for()
    pg_server.stop()
    try:
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(dsn, connect_timeout=2)
    finally:
        pg_server.start()
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_broker_restart_forgets_messages_and_recreates_topics(tmp_path):
    broker = EmbeddedBroker(tmp_path / "broker.log", free_port())
    broker.start()
    try:
        KafkaProducer(bootstrap_servers=broker.bootstrap).send("alerts.events", b"x").get(timeout=10)
        broker.restart()
        consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap)
        assert consumer.partitions_for_topic("household.events") == set(range(6))
        ends = consumer.end_offsets([TopicPartition("alerts.events", p) for p in range(3)])
        assert set(ends.values()) == {0}
        consumer.close()
    finally:
        broker.stop()


def test_wait_for_stack_passes_when_ready_and_names_what_is_missing(stack_env, empty_database, monkeypatch):
    wait_for_stack(timeout=30)
    monkeypatch.setenv("DATABASE_URL", empty_database)
    get_settings.cache_clear()
    with pytest.raises(TimeoutError, match="migration"):
        wait_for_stack(need_broker=False, need_temporal=False, timeout=1)


def _group_pids(proc: psutil.Process) -> set[int]:
    return {p.pid for p in [proc, *proc.children(recursive=True)]}


def test_embedded_stack_leaves_no_process_behind():
    with embedded_stack() as stack:
        pids = set()
        for server in (stack.postgres, stack.temporal, stack.broker):
            if server is not None:
                pids |= _group_pids(psutil.Process(server.proc.pid))
        with psycopg.connect(stack.dsn) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    time.sleep(0.5)
    assert not [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]


def test_procfile_starts_only_local_servers(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://app@db.example:5432/xianjie")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka-0.example:9092")
    get_settings.cache_clear()
    procs = dev_processes()
    assert "postgres" not in procs and "broker" not in procs
    assert {"temporal", "bootstrap", "tasks-api", "worker", "relay"} <= set(procs)
    assert set(dev_processes(infra_only=True)) == {"temporal", "bootstrap"}


def _run_dev(env: dict[str, str]) -> tuple[float, str, set[int]]:
    """Start `xianjie dev --infra-only`, wait for its summary, Ctrl-C it; returns (seconds, output, pids seen)."""
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-c", "from services.common.devstack import dev_command; raise SystemExit(dev_command(infra_only=True))"],
        cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
    lines: list[str] = []
    pids: set[int] = set()
    try:
        for line in proc.stdout:
            lines.append(line)
            if "dev stack ready in" in line:
                break
        ready = time.monotonic() - started
        pids = _group_pids(psutil.Process(proc.pid))
        proc.send_signal(signal.SIGINT)
        lines += proc.stdout.readlines()
        assert proc.wait(30) == 130, "".join(lines)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert any("dev stack ready in" in line for line in lines), "".join(lines)
    return ready, "".join(lines), pids


@pytest.fixture
def outside_pytest_tmp():
    """A directory outside pytest's basetemp, which pytest keeps at mode 0700: PostgreSQL
    runs as another account (when we are root) and must be able to reach its data."""
    with tempfile.TemporaryDirectory(prefix="xianjie-dev-") as d:
        yield Path(d)


def test_dev_stack_starts_reuses_its_data_and_stops_cleanly(outside_pytest_tmp):
    tmp_path = outside_pytest_tmp
    from services.common.devstack.dev import TEMPORAL_METRICS_PORT

    if port_open("127.0.0.1", TEMPORAL_METRICS_PORT):
        pytest.skip(f"port {TEMPORAL_METRICS_PORT} is taken (a dev stack running here?)")
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(
        XIANJIE_VAR_DIR=str(tmp_path / "var"), XIANJIE_PG_PORT=str(free_port()),
        TEMPORAL_ADDRESS=f"127.0.0.1:{free_port()}", XIANJIE_TEMPORAL_UI_PORT=str(free_port()),
        KAFKA_BOOTSTRAP_SERVERS=f"127.0.0.1:{free_port()}", PYTHONUNBUFFERED="1",
    )
    first, output, pids = _run_dev(env)
    assert "created database xianjie" in output
    second, output, more = _run_dev(env)
    assert "created database xianjie" not in output and "none pending" in output
    time.sleep(0.5)
    alive = [p for p in pids | more if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
    assert not alive, f"left behind: {[psutil.Process(p).cmdline() for p in alive]}"
    # Generous: the suite shares two cores with whatever else runs; the 20 s target is checked by hand.
    assert first < 120 and second < 60, (first, second)
