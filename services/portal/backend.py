"""The portal's only way to data: the three APIs over HTTP, with the user's token.

The portal has no database of its own; every page is a few API calls. Errors come
back as `ApiError` with a Chinese message fit for a banner (never raw JSON), and a
missing or expired token as `LoginRequired`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import httpx

from services.common.config import get_settings

SERVICES = ("tasks", "alerts", "assessment")
# The APIs end many messages with the English wording in brackets, for machines: people see the Chinese.
_ENGLISH_TAIL = re.compile(r"\s*\((?=[^()]*[A-Za-z])[^()\u4e00-\u9fff]*\)\s*$")
_STATUS_WORDS = {
    400: "请求有误,请检查填写的内容",
    403: "您没有权限进行此操作",
    404: "要找的内容不存在,或不在您的管辖范围内",
    409: "当前状态下不能进行此操作",
    413: "文件太大",
    422: "填写的内容有误",
    429: "尝试次数过多,请稍后再试",
}
UNAVAILABLE = "系统暂时无法连接,请稍后再试;如一直如此,请联系管理员"


class LoginRequired(Exception):
    """No token, or the API no longer accepts it: the user logs in again."""


@dataclass
class ApiError(Exception):
    """An API refusal, worded for people: `message` for the banner, `fields` per form field."""

    status: int
    message: str
    fields: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.message


def chinese(text: str) -> str:
    """The API's message without its English tail (nor pydantic's "Value error, " before it)."""
    return _ENGLISH_TAIL.sub("", text.removeprefix("Value error, ")).strip()


def error_from(response: httpx.Response) -> ApiError:
    """The banner for a refused request, from the API's `detail` and per-field `errors`."""
    status = response.status_code
    fallback = _STATUS_WORDS.get(status, UNAVAILABLE if status >= 500 else "操作未成功")
    try:
        body = response.json()
    except ValueError:
        body = {}
    detail = body.get("detail") if isinstance(body, dict) else None
    row_errors = ""
    if isinstance(detail, dict):  # {"message", "errors": rows at fault} or {"message", "missing": columns}
        row_errors = _row_errors(detail)
        detail = detail.get("message") or detail.get("detail")
    if isinstance(detail, list):  # a framework-shaped 422 that escaped our handler
        detail = None
    fields = {}
    for err in (body.get("errors") or []) if isinstance(body, dict) else []:
        name = str(err.get("field", "")).split(".")[-1]
        fields[name] = chinese(str(err.get("message") or err.get("reason") or ""))
    message = chinese(detail) if isinstance(detail, str) and detail and status < 500 else fallback
    if fields and status == 422:  # the API's own "请求参数有误" speaks of requests, people filled in a form
        message = "填写的内容有误:" + ";".join(fields.values())
    return ApiError(status, message + row_errors, fields)


def _row_errors(detail: dict, shown: int = 10) -> str:
    """The first rows at fault of a refused file, and the columns it lacks, as one sentence each."""
    parts = []
    if detail.get("missing"):
        parts.append("缺少列:" + "、".join(str(c) for c in detail["missing"]))
    errors = detail.get("errors") if isinstance(detail.get("errors"), list) else []
    for e in errors[:shown]:
        if isinstance(e, dict):
            where = f"第 {e['row']} 行" if e.get("row") else ""
            column = f"“{e['column']}”" if e.get("column") else ""
            parts.append(f"{where}{column} {chinese(str(e.get('reason') or e.get('message') or ''))}".strip())
    if len(errors) > shown:
        parts.append(f"另有 {len(errors) - shown} 处")
    return ("。" + ";".join(parts)) if parts else ""


def default_clients() -> dict[str, httpx.Client]:
    s = get_settings()
    urls = {"tasks": s.portal_tasks_url, "alerts": s.portal_alerts_url, "assessment": s.portal_assessment_url}
    return {name: httpx.Client(base_url=url, timeout=s.portal_api_timeout_s) for name, url in urls.items()}


class Backend:
    """One HTTP client per API; tests pass clients that call the apps in-process."""

    def __init__(self, clients: dict[str, httpx.Client]) -> None:
        missing = set(SERVICES) - set(clients)
        if missing:
            raise ValueError(f"no client for {', '.join(sorted(missing))}")
        self.clients = clients

    def request(self, service: str, method: str, path: str, token: str | None, **kwargs) -> httpx.Response:
        """The API's answer when it succeeded; ApiError or LoginRequired otherwise."""
        if not token and path != "/api/auth/login":
            raise LoginRequired()
        headers = {**kwargs.pop("headers", {}), **({"Authorization": f"Bearer {token}"} if token else {})}
        try:
            response = self.clients[service].request(method, path, headers=headers, **kwargs)
        except httpx.HTTPError:
            raise ApiError(503, UNAVAILABLE) from None
        if response.status_code == 401 and path != "/api/auth/login":
            raise LoginRequired()
        if response.status_code >= 400:
            raise error_from(response)
        return response

    def get(self, service: str, path: str, token: str | None, **params) -> dict | list:
        clean = {k: v for k, v in params.items() if v not in (None, "")}
        return self.request(service, "GET", path, token, params=clean).json()

    def post(self, service: str, path: str, token: str | None, **kwargs) -> dict | list:
        response = self.request(service, "POST", path, token, **kwargs)
        return response.json() if response.content else {}

    def close(self) -> None:
        for client in self.clients.values():
            client.close()
