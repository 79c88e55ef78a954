"""The office's registers: rectification ledgers (整改台账: import, view, publish,
export), users and units, and the audit log."""

from __future__ import annotations

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse

from services.common.auth import ROLE_LABELS
from services.portal.backend import ApiError
from services.portal.views import PAGE_SIZE, backend, current_user, page_links, render

router = APIRouter()

LEDGER_STATUS = {"draft": "待发布", "published": "整改中", "closed": "已销号"}


def _ledgers_page(request: Request, offset: int, status_code: int = 200, error: ApiError | str | None = None):
    user = current_user(request)
    offset = max(offset, 0)
    page = backend(request).get("tasks", "/api/ledgers", user.token, limit=PAGE_SIZE, offset=offset)
    return render(request, "ledgers.html", user, status_code=status_code, title="整改台账", page=page,
                  statuses=LEDGER_STATUS, pager=page_links(request, page["total"], PAGE_SIZE, offset), error=error)


@router.get("/ledgers")
def ledgers(request: Request, offset: int = 0):
    return _ledgers_page(request, offset)


@router.post("/ledgers")
async def import_ledger(request: Request, file: UploadFile | None = File(None), source: str = Form("")):
    user = current_user(request)
    if file is None or not file.filename:
        return _ledgers_page(request, 0, 422, "请选择整改台账 Excel 文件(.xlsx)")
    content = await file.read()
    try:
        ledger = backend(request).post("tasks", "/api/ledgers/import", user.token, data={"source": source.strip()},
                                       files={"file": (file.filename, content, file.content_type)})
    except ApiError as e:
        return _ledgers_page(request, 0, e.status, e)
    return RedirectResponse(f"/ledgers/{ledger['id']}?notice=台账已导入,核对后发布", status_code=303)


def _ledger_page(request: Request, ledger_id: int, status_code: int = 200, **context):
    user = current_user(request)
    ledger = backend(request).get("tasks", f"/api/ledgers/{ledger_id}", user.token)
    return render(request, "ledger.html", user, status_code=status_code, title=ledger["title"], ledger=ledger,
                  statuses=LEDGER_STATUS, **context)


@router.get("/ledgers/{ledger_id}")
def ledger(request: Request, ledger_id: int):
    return _ledger_page(request, ledger_id)


@router.post("/ledgers/{ledger_id}/publish")
def publish_ledger(request: Request, ledger_id: int):
    user = current_user(request)
    try:
        result = backend(request).post("tasks", f"/api/ledgers/{ledger_id}/publish", user.token)
    except ApiError as e:
        return _ledger_page(request, ledger_id, e.status, error=e)
    return RedirectResponse(f"/ledgers/{ledger_id}?notice=已发布,生成 {result['tasks_created']} 项整改任务",
                            status_code=303)


def _open_pager(request: Request, shown: int, offset: int, more: bool) -> dict:
    """Paging for lists the API gives without a total: one row more than a page tells whether there is a next."""
    links = page_links(request, offset + shown + (1 if more else 0), PAGE_SIZE, offset)
    return {**links, "total": None}


def _users_page(request: Request, offset: int, status_code: int = 200, **context):
    user = current_user(request)
    offset = max(offset, 0)
    api = backend(request)
    rows = api.get("tasks", "/api/users", user.token, limit=PAGE_SIZE + 1, offset=offset)
    context.setdefault("values", {})
    context.setdefault("fields", {})
    return render(request, "users.html", user, status_code=status_code, title="用户与单位", rows=rows[:PAGE_SIZE],
                  units=api.get("tasks", "/api/units", user.token, limit=1000), role_labels=ROLE_LABELS,
                  pager=_open_pager(request, min(len(rows), PAGE_SIZE), offset, len(rows) > PAGE_SIZE), **context)


@router.get("/users")
def users(request: Request, offset: int = 0):
    return _users_page(request, offset)


@router.post("/users")
async def create_user(request: Request):
    user = current_user(request)
    form = await request.form()
    values = {k: str(v) for k, v in form.items() if k != "password"}
    unit_id = str(form.get("unit_id", ""))
    body = {"username": str(form.get("username", "")).strip(), "full_name": str(form.get("full_name", "")).strip(),
            "unit_id": int(unit_id) if unit_id.isdigit() else 0, "roles": [str(r) for r in form.getlist("roles")],
            "password": str(form.get("password", ""))}
    try:
        backend(request).post("tasks", "/api/users", user.token, json=body)
    except ApiError as e:
        return _users_page(request, 0, e.status, error=e, fields=e.fields, values=values,
                           chosen_roles=body["roles"])
    return RedirectResponse(f"/users?notice=已新增用户 {body['username']}", status_code=303)


@router.post("/users/{user_id}/disabled")
def set_disabled(request: Request, user_id: int, disabled: str = Form("true")):
    user = current_user(request)
    stop = disabled == "true"
    backend(request).request("tasks", "PATCH", f"/api/users/{user_id}", user.token, json={"disabled": stop})
    return RedirectResponse(f"/users?notice={'已停用' if stop else '已启用'}", status_code=303)


@router.get("/units")
def units(request: Request, q: str = "", offset: int = 0):
    user = current_user(request)
    offset = max(offset, 0)
    rows = backend(request).get("tasks", "/api/units", user.token, q=q.strip() or None, limit=PAGE_SIZE + 1,
                                offset=offset)
    return render(request, "units.html", user, title="单位", rows=rows[:PAGE_SIZE], q=q,
                  pager=_open_pager(request, min(len(rows), PAGE_SIZE), offset, len(rows) > PAGE_SIZE))


@router.get("/audit")
def audit(request: Request, username: str = "", action: str = "", offset: int = 0):
    user = current_user(request)
    offset = max(offset, 0)
    rows = backend(request).get("tasks", "/api/audit", user.token, username=username.strip() or None,
                                action=action.strip() or None, limit=PAGE_SIZE + 1, offset=offset)
    return render(request, "audit.html", user, title="审计日志", rows=rows[:PAGE_SIZE], username=username,
                  action=action, pager=_open_pager(request, min(len(rows), PAGE_SIZE), offset, len(rows) > PAGE_SIZE))
