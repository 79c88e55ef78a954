"""Entry points of the long-running processes (`xianjie serve NAME`).

Each waits for what it needs (PostgreSQL with every migration applied, the
broker, Temporal) before it starts, so `make dev` can start them all at once.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading

import psycopg

from services.common.config import get_settings
from services.common.metrics import Liveness, serve_metrics

log = logging.getLogger(__name__)

APIS = {
    "tasks-api": ("services.tasks.api:app", "tasks_port"),
    "alerts-api": ("services.alerts.api:app", "alerts_port"),
    "assessment-api": ("services.assessment.api:app", "assessment_port"),
}
# The web portal (门户) serves HTTP on its port like an API, but holds no data: it needs
# no database and waits for nothing (a page whose API is down says so in a banner).
PORTAL = {"portal": ("services.portal.app:app", "portal_port")}
# Every process that answers HTTP (/healthz, /readyz, /metrics) on its own port.
HTTP_PROCESSES = {**APIS, **PORTAL}
PROCESSES = (*APIS, *PORTAL, "worker", "relay", "alerts-consumer", "assessment-consumer")


def _stop_flag() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def _wait(need_db: bool = True, need_broker: bool = False, need_temporal: bool = False) -> None:
    from services.common.devstack import wait_for_stack

    wait_for_stack(need_db=need_db, need_broker=need_broker, need_temporal=need_temporal)


def serve_api(name: str) -> None:
    import uvicorn

    target, port_setting = HTTP_PROCESSES[name]
    s = get_settings()
    if name in APIS:
        _wait()
    uvicorn.run(
        target, host=s.bind_host, port=getattr(s, port_setting), loop="uvloop", http="httptools",
        log_level="info", access_log=False,
    )


def serve_relay() -> None:
    from kafka.errors import KafkaError

    from services.common import relay
    from services.common.kafka import EpochProbe, ensure_topics, make_producer, write_epoch
    from services.common.state_metrics import register_state_metrics

    s = get_settings()
    _wait(need_broker=True)
    ensure_topics()
    stop, live = _stop_flag(), Liveness()
    register_state_metrics(s.dsn)  # the relay runs alone: the business-state counts are scraped once
    serve_metrics(s.bind_host, s.relay_metrics_port, live)
    producer, epochs_in_broker = make_producer(), EpochProbe()

    while not stop.is_set():
        try:
            with psycopg.connect(s.dsn, autocommit=True) as conn:
                relay.run(
                    conn, producer, epochs_in_broker, write_epoch, batch_size=s.relay_batch_size,
                    idle_sleep_s=s.relay_idle_sleep_s, should_stop=stop.is_set, on_cycle=live.beat,
                )
        except psycopg.OperationalError:
            log.exception("relay: database unavailable, retrying")
            stop.wait(1)
        except KafkaError:
            log.exception("relay: broker unavailable, reconnecting")
            producer.close()
            stop.wait(1)
            producer = make_producer()
    producer.close()
    epochs_in_broker.close()


def serve_consumer(name: str) -> None:
    from services.common.consumer_base import run_consumer

    if name == "alerts-consumer":
        from services.alerts import consumer as module

        port = get_settings().alerts_consumer_metrics_port
    else:
        from services.assessment import consumer as module

        port = get_settings().assessment_consumer_metrics_port
    _wait(need_broker=True)
    stop, live = _stop_flag(), Liveness()
    serve_metrics(get_settings().bind_host, port, live)
    run_consumer(module.build_consumer(), module.TOPICS, module.GROUP_ID, stop.is_set, live.beat)


def serve_worker() -> None:
    from workflows.worker import run_worker

    s = get_settings()
    _wait(need_temporal=True)
    live = Liveness()
    serve_metrics(s.bind_host, s.worker_metrics_port, live)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)

        async def heartbeat() -> None:
            while not stop.is_set():
                live.beat()
                await asyncio.sleep(5)

        await asyncio.gather(run_worker(stop, s.temporal_sdk_metrics_port), heartbeat())

    asyncio.run(main())


def serve(name: str) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("kafka").setLevel(logging.WARNING)  # kafka-python logs every connection at INFO
    if name in HTTP_PROCESSES:
        serve_api(name)
    elif name == "relay":
        serve_relay()
    elif name in ("alerts-consumer", "assessment-consumer"):
        serve_consumer(name)
    elif name == "worker":
        serve_worker()
    else:
        raise ValueError(f"unknown process {name!r}; one of {', '.join(PROCESSES)}")
