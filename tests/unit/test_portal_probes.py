"""The portal answers what operations ask of every process: /healthz, /readyz (503
naming the tasks API when it does not answer) and /metrics with its own requests.

The three APIs are stand-ins on httpx's MockTransport: only their /healthz matters here.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from fastapi.testclient import TestClient

from services.portal.app import create_portal


def api(healthy: bool) -> httpx.Client:
    def answer(request: httpx.Request) -> httpx.Response:
        if not healthy:
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(200, json={"status": "ok"})

    return httpx.Client(base_url="http://api.test", transport=httpx.MockTransport(answer))


@contextmanager
def running_portal(tasks_up: bool) -> Iterator[TestClient]:
    clients = {"tasks": api(tasks_up), "alerts": api(False), "assessment": api(False)}
    with TestClient(create_portal(clients)) as client:
        yield client


def sample(text: str, start: str) -> float:
    (line,) = [ln for ln in text.splitlines() if ln.startswith(start)]
    return float(line.rsplit(" ", 1)[1])


def test_ready_while_the_tasks_api_answers_even_with_the_others_down():
    with running_portal(tasks_up=True) as portal:
        assert portal.get("/healthz").json() == {"status": "ok", "service": "portal"}
        r = portal.get("/readyz")
        assert r.status_code == 200 and r.json()["status"] == "ready"
        assert sample(portal.get("/metrics").text, 'xianjie_ready{service="portal"}') == 1


def test_not_ready_when_the_tasks_api_is_down():
    with running_portal(tasks_up=False) as portal:
        r = portal.get("/readyz")
        assert r.status_code == 503
        assert r.json()["down"] == ["tasks-api: ConnectError"]
        assert sample(portal.get("/metrics").text, 'xianjie_ready{service="portal"}') == 0
        assert portal.get("/healthz").status_code == 200, "alive all the same: nothing to restart"


def test_pages_are_counted_by_route_template():
    key = 'xianjie_http_requests_total{method="GET",route="/login",service="portal",status="200"}'
    with running_portal(tasks_up=True) as portal:
        before = portal.get("/metrics").text
        start = sample(before, key) if key in before else 0
        assert portal.get("/login").status_code == 200
        portal.get("/readyz")
        text = portal.get("/metrics").text
        assert sample(text, key) == start + 1
        assert 'route="/readyz"' not in text and 'route="/metrics"' not in text, "probes and scrapes are not counted"
        assert portal.get("/no/such/page").status_code == 404
        assert 'route="unmatched",service="portal",status="404"' in portal.get("/metrics").text


def test_pages_carry_the_security_headers_and_are_never_cached():
    with running_portal(tasks_up=True) as portal:
        page = portal.get("/login")
        assert page.headers["X-Content-Type-Options"] == "nosniff"
        assert page.headers["X-Frame-Options"] == "DENY"
        assert page.headers["Referrer-Policy"] == "no-referrer"
        assert page.headers["Cache-Control"] == "no-store", "pages show households: never in a shared cache"
        static = portal.get("/static/portal.css")
        assert static.status_code == 200 and static.headers["X-Frame-Options"] == "DENY"
        assert "no-store" not in static.headers.get("Cache-Control", ""), "the style sheet may be cached"
