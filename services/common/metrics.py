"""Prometheus metrics shared by every process, and the small HTTP server that
background processes (worker, consumers, relay) use for /metrics and /healthz.

Names follow `xianjie_<what>_<unit>`; labels are bounded sets (route templates,
topics, event types), never user or household ids.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

HTTP_REQUESTS = Counter(
    "xianjie_http_requests_total", "HTTP requests answered", ["service", "method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "xianjie_http_request_duration_seconds",
    "Time to answer an HTTP request",
    ["service", "method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
OUTBOX_BACKLOG = Gauge("xianjie_outbox_backlog", "Outbox rows not yet published", ["schema"])
OUTBOX_PUBLISHED = Counter("xianjie_outbox_published_total", "Outbox rows published", ["schema", "topic"])
OUTBOX_PUBLISH_LAG = Histogram(
    "xianjie_outbox_publish_lag_seconds",
    "Time from an event being recorded to its publication",
    ["schema"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
OUTBOX_REPLAYED = Counter(
    "xianjie_outbox_replayed_total", "Published events queued again after the broker lost them", ["topic"]
)
EVENTS_PROCESSED = Counter(
    "xianjie_events_processed_total", "Events applied by a consumer", ["consumer", "type"]
)
EVENTS_DUPLICATE = Counter(
    "xianjie_events_duplicate_total", "Events skipped because they were already applied", ["consumer"]
)
EVENTS_FAILED = Counter(
    "xianjie_events_failed_total", "Events whose handler raised (they go to the dead letters)", ["consumer", "type"]
)
EVENTS_DEAD_LETTERED = Counter(
    "xianjie_events_dead_lettered_total",
    "Events sent to a dead-letter topic, by the topic they came from and the kind of reason",
    ["consumer", "topic", "reason"],
)
CONSUMER_BATCH_SECONDS = Histogram(
    "xianjie_consumer_batch_duration_seconds",
    "Time to apply one batch and commit it",
    ["consumer"],
    buckets=(0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
CONSUMER_LAG = Gauge(
    "xianjie_consumer_lag", "Messages behind the end of the partition", ["consumer", "topic", "partition"]
)
# Set by the alerts consumer: one evaluation per rule and household (or village) and
# period; `raised` when the rule found something. Rule ids come from the rule files.
RULE_EVALUATIONS = Counter(
    "xianjie_rule_evaluations_total", "Early-warning rule evaluations", ["rule", "outcome"]
)
READY = Gauge("xianjie_ready", "1 when the last /readyz found everything reachable, else 0", ["service"])

# Kinds of dead-letter reasons (the full reason travels in the message header): a
# label of its own would be unbounded, it quotes event types and sizes.
DEAD_LETTER_REASONS = (
    ("empty message", "empty"),
    ("message of ", "too_large"),
    ("not JSON", "not_json"),
    ("not a JSON object", "not_json"),
    ("envelope invalid", "invalid_envelope"),
    ("unknown event type", "unknown_type"),
    ("unsupported schema_version", "unsupported_version"),
    ("handler failed", "handler_failed"),
)


def dead_letter_reason(reason: str) -> str:
    """The bounded label of a dead letter's reason."""
    for prefix, kind in DEAD_LETTER_REASONS:
        if reason.startswith(prefix):
            return kind
    return "other"


_lag_series: dict[str, set[tuple[str, str, str]]] = {}  # consumer -> partitions it reported


def record_lag(consumer_name: str, consumer) -> None:
    """Lag of each assigned partition, from what the last fetch said about its end.

    `consumer` is a kafka-python KafkaConsumer; partitions no longer assigned are
    dropped, so a rebalance leaves no stale series behind.
    """
    assigned = set()
    for tp in consumer.assignment():
        end = consumer.highwater(tp)
        if end is None:
            continue
        labels = (consumer_name, tp.topic, str(tp.partition))
        assigned.add(labels)
        CONSUMER_LAG.labels(*labels).set(max(0, end - consumer.position(tp)))
    for labels in list(_lag_series.get(consumer_name, ())):
        if labels not in assigned:
            CONSUMER_LAG.remove(*labels)
    _lag_series[consumer_name] = assigned


class PoolCollector:
    """Use of the PostgreSQL connection pools of this process, read from psycopg_pool at scrape time."""

    def __init__(self) -> None:
        self.pools: dict[str, object] = {}

    def collect(self):
        size = GaugeMetricFamily("xianjie_db_pool_connections", "Connections the pool holds", labels=["service", "state"])
        most = GaugeMetricFamily("xianjie_db_pool_max_connections", "Most connections the pool may open", labels=["service"])
        waiting = GaugeMetricFamily("xianjie_db_pool_waiting_requests", "Requests waiting for a connection", labels=["service"])
        requests = CounterMetricFamily("xianjie_db_pool_requests", "Connections asked of the pool", labels=["service"])
        waited = CounterMetricFamily(
            "xianjie_db_pool_wait_seconds", "Time requests spent waiting for a connection", labels=["service"]
        )
        errors = CounterMetricFamily(
            "xianjie_db_pool_errors", "Requests that got no connection (timeout, pool closed)", labels=["service"]
        )
        for service, pool in list(self.pools.items()):
            st = pool.get_stats()
            available = st.get("pool_available", 0)
            size.add_metric([service, "idle"], available)
            size.add_metric([service, "in_use"], st.get("pool_size", 0) - available)
            most.add_metric([service], st.get("pool_max", 0))
            waiting.add_metric([service], st.get("requests_waiting", 0))
            requests.add_metric([service], st.get("requests_num", 0))
            waited.add_metric([service], st.get("requests_wait_ms", 0) / 1000)
            errors.add_metric([service], st.get("requests_errors", 0))
        yield from (size, most, waiting, requests, waited, errors)


POOLS = PoolCollector()
REGISTRY.register(POOLS)


def watch_pool(service: str, pool) -> None:
    """Export the use of `pool` (a psycopg_pool ConnectionPool or AsyncConnectionPool) under
    `service` until unwatched; an API's read pool shows as `<service>-read`."""
    POOLS.pools[service] = pool


def unwatch_pool(service: str, pool) -> None:
    if POOLS.pools.get(service) is pool:
        del POOLS.pools[service]


class Liveness:
    """A heartbeat the main loop beats; /healthz fails when it stops beating."""

    def __init__(self, max_silence_s: float = 60.0) -> None:
        self.max_silence_s = max_silence_s
        self._last = time.monotonic()

    def beat(self) -> None:
        self._last = time.monotonic()

    def alive(self) -> bool:
        return time.monotonic() - self._last <= self.max_silence_s


def serve_metrics(host: str, port: int, liveness: Liveness) -> ThreadingHTTPServer:
    """Serve /metrics and /healthz from a daemon thread; returns the server to shut down."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            if self.path.startswith("/metrics"):
                self._send(200, CONTENT_TYPE_LATEST, generate_latest())
            elif self.path.startswith("/healthz"):
                ok = liveness.alive()
                body = b'{"status":"ok"}' if ok else b'{"status":"stalled"}'
                self._send(200 if ok else 503, "application/json", body)
            else:
                self._send(404, "application/json", b'{"detail":"not found"}')

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, name=f"metrics:{port}", daemon=True).start()
    return server
