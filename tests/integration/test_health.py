"""Health, readiness and metrics of the three APIs with the real servers, and
readiness failing while PostgreSQL is stopped."""

import time

import pytest
from fastapi.testclient import TestClient

from services.common.config import get_settings

pytestmark = pytest.mark.integration


@pytest.fixture
def apps(database_url, kafka_bootstrap, temporal_address, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka_bootstrap)
    monkeypatch.setenv("TEMPORAL_ADDRESS", temporal_address)
    get_settings.cache_clear()
    from services.alerts.api import app as alerts
    from services.assessment.api import app as assessment
    from services.tasks.api import app as tasks

    return {"tasks": tasks, "alerts": alerts, "assessment": assessment}


def test_every_api_is_healthy_ready_and_counts_requests(apps):
    for name, app in apps.items():
        with TestClient(app) as c:
            assert c.get("/healthz").json() == {"status": "ok", "service": name}
            r = c.get("/readyz")
            assert r.status_code == 200, r.text
            assert c.get("/api/me").status_code == 401
            metrics = c.get("/metrics").text
            assert f'xianjie_http_requests_total{{method="GET",route="/api/me",service="{name}",status="401"}}' in metrics
            assert "xianjie_http_request_duration_seconds_bucket" in metrics


def test_readyz_answers_503_naming_the_database_while_it_is_stopped(apps, pg_server):
    with TestClient(apps["alerts"]) as c:
        assert c.get("/readyz").status_code == 200
        pg_server.stop()
        try:
            r = c.get("/readyz")
            assert r.status_code == 503
            assert any(part.startswith("database") for part in r.json()["down"]), r.json()
        finally:
            pg_server.start()
        deadline = time.monotonic() + 30
        while c.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline, "never ready again after PostgreSQL came back"
            time.sleep(0.5)


def test_readyz_names_the_read_pool_when_it_cannot_serve(apps):
    """The inbox and every caller's permissions read through the second pool: a process whose
    read pool is gone is not ready, though its main pool answers."""
    app = apps["tasks"]
    with TestClient(app) as c:
        assert c.get("/readyz").status_code == 200
        c.portal.call(app.state.read_pool.close)
        r = c.get("/readyz")
        assert r.status_code == 503
        assert r.json()["down"] == ["database (reads): PoolClosed"], r.json()


def test_overlapping_lifespans_of_one_app_close_their_own_pools(apps):
    """Two clients of one app, each running its lifespan on its own event loop (schemathesis
    keeps one open beside a test's client): the first to stop closes its own pools, on its
    loop, and the other's keep serving."""
    app = apps["alerts"]
    first = TestClient(app).__enter__()
    first_pools = (app.state.pool, app.state.read_pool)
    try:
        with TestClient(app) as second:
            assert app.state.read_pool is not first_pools[1]
            first.__exit__(None, None, None)  # failed "belongs to a different loop" when it closed app.state's
            first = None
            assert first_pools[0].closed and first_pools[1].closed
            assert not app.state.pool.closed and not app.state.read_pool.closed
            r = second.get("/readyz")
            assert r.status_code == 200, r.text
    finally:
        if first is not None:
            first.__exit__(None, None, None)
