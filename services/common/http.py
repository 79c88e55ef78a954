"""What every API process shares: the app factory with its database pool, request
ids, Prometheus request metrics, health and readiness, and JSON errors.

`/readyz` checks the parts a service needs (PostgreSQL through both pools, the broker, Temporal) and
answers 503 naming whichever is down, so an orchestrator stops sending traffic.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import itertools
import logging
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from functools import cache
from typing import Annotated

import psycopg
from fastapi import APIRouter, Depends, FastAPI, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException

from services.common.auth import ROLE_LABELS, Principal, current_principal
from services.common.config import get_settings
from services.common.db import create_pool, create_read_pool
from services.common.metrics import HTTP_LATENCY, HTTP_REQUESTS, READY, unwatch_pool, watch_pool

log = logging.getLogger(__name__)

UNTRACKED_PATHS = ("/metrics", "/healthz", "/readyz")


def _tcp_reachable(address: str, timeout: float = 1.0) -> bool:
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout):
            return True
    except OSError:
        return False


def check_database(app: FastAPI) -> str | None:
    """None when PostgreSQL answers, else the reason."""
    try:
        with app.state.pool.connection(timeout=2) as conn:
            conn.execute("SELECT 1")
        return None
    except Exception as e:  # noqa: BLE001 (any failure means "not ready")
        return f"database: {type(e).__name__}"


async def check_read_pool(app: FastAPI) -> str | None:
    """None when the pool the page views read through (`db.create_read_pool`) hands out a
    working connection, else the reason: the inbox and every caller's permissions use it."""
    try:
        async with app.state.read_pool.connection(timeout=2) as conn:
            await conn.execute("SELECT 1")
        return None
    except Exception as e:  # noqa: BLE001 (any failure means "not ready")
        return f"database (reads): {type(e).__name__}"


def check_broker(app: FastAPI) -> str | None:
    servers = get_settings().kafka_bootstrap.split(",")
    return None if any(_tcp_reachable(s) for s in servers) else "broker: unreachable"


def check_temporal(app: FastAPI) -> str | None:
    return None if _tcp_reachable(get_settings().temporal_address) else "temporal: unreachable"


# Chinese wording of pydantic's error types, for the people who read the messages.
ERROR_WORDS = {
    "missing": "必填",
    "extra_forbidden": "不允许的字段",
    "int_parsing": "应为整数",
    "int_from_float": "应为整数",
    "float_parsing": "应为数字",
    "bool_parsing": "应为 是/否 (true/false)",
    "string_type": "应为文字",
    "string_too_short": "太短",
    "string_too_long": "太长",
    "string_pattern_mismatch": "格式不正确",
    "literal_error": "取值不在允许范围内",
    "greater_than": "数值太小",
    "greater_than_equal": "数值太小",
    "less_than": "数值太大",
    "less_than_equal": "数值太大",
    "too_short": "项数太少",
    "too_long": "项数太多",
    "date_from_datetime_parsing": "日期格式应为 YYYY-MM-DD",
    "date_parsing": "日期格式应为 YYYY-MM-DD",
    "json_invalid": "JSON 格式错误",
}


def _validation_errors(exc: RequestValidationError) -> list[dict]:
    out = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
        reason = err.get("msg", "invalid")
        kind = err.get("type", "")
        message = reason if kind == "value_error" or kind.startswith("zh_") else ERROR_WORDS.get(kind, reason)
        out.append({"field": ".".join(loc) or "body", "reason": reason, "message": message})
    return out


# What a 422 really looks like — `detail` in Chinese, and `errors` per field when the request
# failed validation — in place of FastAPI's default `HTTPValidationError` in every schema.
VALIDATION_ERROR_SCHEMA = {
    "title": "请求参数有误",
    "type": "object",
    "required": ["detail"],
    "properties": {
        "detail": {"anyOf": [{"type": "string"}, {"type": "object"}], "description": "中文说明 (或含 message 的对象)"},
        "errors": {"type": "array", "items": {
            "type": "object", "required": ["field", "reason", "message"],
            "properties": {"field": {"type": "string", "description": "出错的字段"},
                           "reason": {"type": "string"}, "message": {"type": "string", "description": "中文说明"}}}},
    },
}


def _openapi_with_our_errors(app: FastAPI) -> Callable[[], dict]:
    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
            schema.get("components", {}).get("schemas", {})["HTTPValidationError"] = VALIDATION_ERROR_SCHEMA
            app.openapi_schema = schema
        return app.openapi_schema

    return openapi


# The largest database id (a bigint): ids in paths, queries and bodies are bounded by it, so a
# huge number is a 422, not a 500.
MAX_ID = 2**63 - 1
DbId = Annotated[int, Path(ge=1, le=MAX_ID, description="编号")]

# Sent with every response: no MIME sniffing, no framing, no referrer leaking ids in URLs.
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


_REQUEST_PREFIX = uuid.uuid4().hex[:12]  # this process
_request_numbers = itertools.count(1)


def _next_request_id() -> str:
    """Unique across processes (a random prefix per process) without a random draw per request."""
    return f"{_REQUEST_PREFIX}{next(_request_numbers):08x}"


class RequestContext:
    """Request id, Prometheus metrics per route template, security headers and `no-store` on
    /api, as plain ASGI: Starlette's `@app.middleware("http")` costs a task group and a
    memory stream per request, which shows in the p99 of a busy inbox."""

    def __init__(self, app, service: str, cacheable: tuple[str, ...] = ()) -> None:
        """`cacheable`: path prefixes that may be cached (the portal's static files); every other
        path under /api — or, with `cacheable` given, every other path — is `no-store`."""
        self.app, self.service, self.cacheable = app, service, cacheable

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = Headers(scope=scope).get("x-request-id") or _next_request_id()
        scope.setdefault("state", {})["request_id"] = request_id  # request.state.request_id
        path = scope["path"]
        started, status = time.perf_counter(), 500

        async def send_with_headers(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableHeaders(scope=message)
                headers["X-Request-ID"] = request_id
                headers.update(SECURITY_HEADERS)
                if path.startswith("/api/") or (self.cacheable and not path.startswith(self.cacheable)):
                    headers["Cache-Control"] = "no-store"  # households, scores: never in a shared cache
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            if path not in UNTRACKED_PATHS:
                template = getattr(scope.get("route"), "path", "unmatched")
                HTTP_REQUESTS.labels(self.service, scope["method"], template, str(status)).inc()
                HTTP_LATENCY.labels(self.service, scope["method"], template).observe(time.perf_counter() - started)


@cache
def _freeze_startup_objects() -> None:
    """Move what the process holds once started (modules, routes, pydantic validators: some
    140,000 objects) out of the cyclic collector's sight, once per process. A full collection
    walked them all and stopped the event loop for 80-90 ms, twice in 15 s under the inbox
    load: the requests waiting then were its p99. The young generations are still collected."""
    gc.collect()
    gc.freeze()


def create_app(
    *,
    service: str,
    title: str,
    routers: list[APIRouter],
    readiness: tuple[Callable[[FastAPI], str | None | Awaitable[str | None]], ...] = (
        check_database, check_read_pool, check_broker, check_temporal),
) -> FastAPI:
    """An API process for `service` with the shared plumbing wired in. `readiness`: the checks
    of `/readyz`, each None or the reason it fails; async ones run on the event loop (the read
    pool lives there), the others in threads, all at once."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # A lifespan closes the pools it opened, on its own loop: another lifespan of the same
        # app (a test client beside schemathesis's) may have put its own in app.state since.
        pool, read_pool = create_pool(), create_read_pool()
        app.state.pool, app.state.read_pool = pool, read_pool
        pool.open(wait=False)
        await read_pool.open(wait=False)
        watch_pool(service, pool)
        watch_pool(f"{service}-read", read_pool)
        _freeze_startup_objects()
        try:
            yield
        finally:
            unwatch_pool(service, pool)
            unwatch_pool(f"{service}-read", read_pool)
            await read_pool.close()
            pool.close()

    # FastAPI's own OpenTelemetry instrumentation off: the metrics are Prometheus's
    # (RequestContext), and with no OpenTelemetry SDK set up it only asked, on every
    # request, whether one had been.
    app = FastAPI(title=title, lifespan=lifespan, telemetry={"tracing": False, "metrics": False, "logs": False})
    app.state.service = service
    app.openapi = _openapi_with_our_errors(app)

    app.add_middleware(RequestContext, service=service)

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(request: Request, exc: RequestValidationError):
        return JSONResponse(
            status_code=422, content={"detail": "请求参数有误 (invalid request)", "errors": _validation_errors(exc)}
        )

    @app.exception_handler(HTTPException)
    async def on_http_error(request: Request, exc: HTTPException):
        return JSONResponse(status_code=exc.status_code, content={"detail": exc.detail}, headers=exc.headers)

    @app.exception_handler(psycopg.DataError)
    async def on_data_error(request: Request, exc: psycopg.DataError):
        # SQLSTATE class 22 or a value psycopg cannot send (a NUL byte): the input, not the server;
        # the request's transaction rolled back, so nothing of it was written.
        log.info("data refused on %s %s: %s", request.method, request.url.path, exc)
        return JSONResponse(
            status_code=422,
            content={"detail": "输入含无法保存的字符(如 NUL)或数值超出范围,未保存任何内容 (invalid data)",
                     "request_id": request.state.request_id},
        )

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(
            status_code=500,
            content={"detail": "服务器内部错误 (internal error)", "request_id": request.state.request_id},
        )

    @app.get("/healthz", include_in_schema=False)
    async def healthz():
        return {"status": "ok", "service": service}

    @app.get("/readyz", include_in_schema=False)
    async def readyz():
        problems = [p for p in await asyncio.gather(*(
            c(app) if inspect.iscoroutinefunction(c) else asyncio.to_thread(c, app) for c in readiness)) if p]
        READY.labels(service).set(0 if problems else 1)
        if problems:
            return JSONResponse(status_code=503, content={"status": "unavailable", "service": service, "down": problems})
        return {"status": "ready", "service": service}

    @app.get("/metrics", include_in_schema=False)
    def metrics():
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/api/me", tags=["身份"], summary="当前用户")
    async def me(principal: Principal = Depends(current_principal)):
        return {
            "user_id": principal.user_id,
            "username": principal.username,
            "unit_id": principal.unit_id,
            "unit_name": principal.unit_name,
            "region_code": principal.region_code,
            "roles": list(principal.roles),
            "role_labels": [ROLE_LABELS[r] for r in principal.roles],
        }

    for router in routers:
        app.include_router(router)
    return app
