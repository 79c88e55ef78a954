"""Login, logout and the home page, which shows each user the work of their roles."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from services.common.config import get_settings
from services.portal.backend import ApiError
from services.portal.views import TOKEN_COOKIE, backend, current_user, render

router = APIRouter()


def _safe_next(target: str | None) -> str:
    """Only a path of this site (no `//host` or scheme): the login never sends people elsewhere."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


@router.get("/login")
def login_form(request: Request, next: str = "/"):
    return render(request, "login.html", None, next=_safe_next(next))


@router.post("/login")
def login(request: Request, username: str = Form(""), password: str = Form(""), next: str = Form("/")):
    if not username.strip() or not password:
        return render(request, "login.html", None, status_code=422, next=_safe_next(next), username=username,
                      error="请输入用户名和密码")
    try:
        body = backend(request).post("tasks", "/api/auth/login", None,
                                     json={"username": username.strip(), "password": password})
    except ApiError as e:
        message = "用户名或密码不正确" if e.status in (401, 422) else e.message
        return render(request, "login.html", None, status_code=e.status, next=_safe_next(next), username=username,
                      error=message)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(TOKEN_COOKIE, body["access_token"], max_age=body.get("expires_in"), httponly=True,
                        samesite="lax", secure=get_settings().portal_cookie_secure)
    return response


@router.post("/logout")
def logout():
    response = RedirectResponse("/login?notice=" + "已退出登录", status_code=303)
    response.delete_cookie(TOKEN_COOKIE)
    return response


@router.get("/")
def home(request: Request):
    user = current_user(request)
    api = backend(request)
    counts = {}
    if user.has("unit_staff", "unit_head"):
        counts["/inbox"] = api.get("tasks", "/api/inbox", user.token, status="open", limit=1)["total"]
        counts["overdue"] = api.get("tasks", "/api/inbox", user.token, status="open", overdue="true", limit=1)["total"]
    if user.has("leader", "office_admin", "unit_head"):
        counts["/escalations"] = api.get("tasks", "/api/escalations", user.token, pending_instruction="true",
                                         limit=1)["total"]
    counts.update(_case_counts(api, user))
    counts["/notifications"] = api.get("tasks", "/api/notifications", user.token, limit=1)["unread"]
    return render(request, "home.html", user, counts=counts)


def _case_counts(api, user) -> dict:
    """预警个案 on the home cards: the open cases a unit handles, the overdue ones for the office and leaders.
    The home page still opens while the alerts API does not answer: the cards go without a count."""
    try:
        if user.has("unit_staff", "unit_head") and not user.has("office_admin"):
            return {"/cases": api.get("alerts", "/api/cases", user.token, status="open", mine="true", limit=1)["total"]}
        if user.has("office_admin", "leader"):
            return {"/cases/townships": api.get("alerts", "/api/cases", user.token, sla="red", limit=1)["total"]}
    except ApiError:
        pass
    return {}
