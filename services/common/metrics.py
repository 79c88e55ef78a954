"""Prometheus metrics shared by every process, and the small HTTP server that
background processes (worker, consumers, relay) use for /metrics and /healthz.

Names follow `xianjie_<what>_<unit>`; labels are bounded sets (route templates,
topics, event types), never user or household ids.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

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
EVENTS_DEAD_LETTERED = Counter(
    "xianjie_events_dead_lettered_total", "Events sent to a dead-letter topic", ["consumer", "reason"]
)
CONSUMER_BATCH_SECONDS = Histogram(
    "xianjie_consumer_batch_duration_seconds",
    "Time to apply one batch and commit it",
    ["consumer"],
    buckets=(0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
CONSUMER_LAG = Gauge("xianjie_consumer_lag", "Messages behind the end of the partition", ["consumer", "topic", "partition"])


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
