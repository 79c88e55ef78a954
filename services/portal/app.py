"""The web portal (门户): server-rendered pages in Chinese for the office, departments,
leaders and data-entry staff. It holds no data: each page calls the three APIs with
the user's token, kept in an HttpOnly cookie after login."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import quote

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.portal import (
    admin_pages,
    auth_pages,
    case_pages,
    data_pages,
    downloads,
    entry_pages,
    leader_pages,
    office_pages,
    probes,
    rule_pages,
    work_pages,
)
from services.portal.backend import ApiError, Backend, LoginRequired, default_clients
from services.portal.views import TOKEN_COOKIE, render

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
PAGE_ERRORS = {404: "没有这个页面,请从导航进入", 405: "这个页面不能这样打开,请从导航进入"}


def create_portal(clients: dict[str, httpx.Client] | None = None) -> FastAPI:
    """The portal app; `clients` (one per API) default to HTTP clients of the configured URLs."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.backend = Backend(clients or default_clients())
        try:
            yield
        finally:
            if clients is None:
                app.state.backend.close()

    app = FastAPI(title="xianjie 门户", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    probes.install(app)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    # entry_pages before data_pages: /households/new is not a /households/{household_id}
    for module in (auth_pages, work_pages, office_pages, leader_pages, admin_pages, rule_pages, entry_pages,
                   data_pages, case_pages, downloads):
        app.include_router(module.router)

    @app.exception_handler(LoginRequired)
    async def to_login(request: Request, exc: LoginRequired):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if request.method != "GET":  # a form posted after the login expired: back to the home page, not to a POST URL
            target = "/"
        response = RedirectResponse(f"/login?next={quote(target)}", status_code=303)
        response.delete_cookie(TOKEN_COOKIE)
        return response

    @app.exception_handler(ApiError)
    async def api_refused(request: Request, exc: ApiError):
        return render(request, "error.html", None, status_code=exc.status if exc.status < 600 else 500, error=exc)

    @app.exception_handler(StarletteHTTPException)
    async def not_a_page(request: Request, exc: StarletteHTTPException):
        message = PAGE_ERRORS.get(exc.status_code, "无法打开这个页面")
        return render(request, "error.html", None, status_code=exc.status_code, error=message)

    @app.exception_handler(RequestValidationError)
    async def bad_address(request: Request, exc: RequestValidationError):
        return render(request, "error.html", None, status_code=404, error=PAGE_ERRORS[404])

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):
        log.exception("portal page %s failed", request.url.path)
        return render(request, "error.html", None, status_code=500, error="页面出错了,请稍后再试;如一直如此,请联系管理员")

    return app


app = create_portal()
