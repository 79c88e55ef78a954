"""What operations need of the portal process: `/healthz` (alive), `/readyz` and
`/metrics`, and the request metrics and security headers every API has (`service="portal"`).

The portal is ready when the tasks API answers: every page starts with a login there.
The alerts and assessment APIs are not checked: when one of them is down its pages show
the Chinese unavailable banner and the rest of the portal keeps working.
"""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from services.common.http import RequestContext
from services.common.metrics import READY

SERVICE = "portal"


def tasks_api_problem(app: FastAPI) -> str | None:
    try:
        response = app.state.backend.clients["tasks"].get("/healthz", timeout=3)
    except httpx.HTTPError as e:
        return f"tasks-api: {type(e).__name__}"
    return None if response.status_code == 200 else f"tasks-api: HTTP {response.status_code}"


def install(app: FastAPI) -> None:
    # Request metrics and the security headers, as on the APIs; pages with households are never cached.
    app.add_middleware(RequestContext, service=SERVICE, cacheable=("/static/",))

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict:
        return {"status": "ok", "service": SERVICE}

    @app.get("/readyz", include_in_schema=False)
    async def readyz():
        problem = await asyncio.to_thread(tasks_api_problem, app)
        READY.labels(SERVICE).set(0 if problem else 1)
        if problem:
            return JSONResponse(status_code=503, content={"status": "unavailable", "service": SERVICE, "down": [problem]})
        return {"status": "ready", "service": SERVICE}

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
