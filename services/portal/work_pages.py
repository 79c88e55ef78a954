"""待办: a unit's inbox, the office's review queue (待审核), the step page with its forms
(签收, 报送, 申请延期; the office's 审核 and 退回), and the notifications."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

from services.portal.backend import ApiError
from services.portal.views import PAGE_SIZE, backend, current_user, page_links, render

router = APIRouter()

STATUS_FILTERS = {"": "全部", "open": "待办理", "returned": "已退回", "submitted": "已报送待审核", "approved": "已通过"}
# portal action → (API route, what the banner says when it went through)
ACTIONS = {
    "acknowledge": ("acknowledge", "已签收"),
    "submit": ("submit", "已报送,等待审核"),
    "request-extension": ("request-extension", "延期申请已提交"),
    "approve": ("approve", "已审核通过"),
    "return": ("return", "已退回,承办单位将收到通知"),
    "grant-extension": ("grant-extension", "已同意延期"),
    "refuse-extension": ("refuse-extension", "已不同意延期"),
}


@router.get("/inbox")
def inbox(request: Request, status: str = "", overdue: str = "", offset: int = 0):
    user = current_user(request)
    offset = max(offset, 0)
    page = backend(request).get("tasks", "/api/inbox", user.token, status=status or None,
                                overdue=overdue or None, limit=PAGE_SIZE, offset=offset)
    return render(request, "inbox.html", user, title="待办", page=page, status=status, overdue=overdue,
                  status_filters=STATUS_FILTERS, pager=page_links(request, page["total"], PAGE_SIZE, offset),
                  export=f"/files/tasks/api/inbox?format=xlsx&status={status}&overdue={overdue}")


@router.get("/reviews")
def reviews(request: Request, offset: int = 0):
    """待审核: what the units have submitted and the extensions they asked for, oldest first."""
    user = current_user(request)
    offset = max(offset, 0)
    page = backend(request).get("tasks", "/api/reviews", user.token, limit=PAGE_SIZE, offset=offset)
    return render(request, "reviews.html", user, title="待审核", page=page,
                  pager=page_links(request, page["total"], PAGE_SIZE, offset))


def _step_page(request: Request, user, step_id: int, status_code: int = 200, **context):
    step = backend(request).get("tasks", f"/api/steps/{step_id}", user.token)
    return render(request, "step.html", user, status_code=status_code, title=step["label"], step=step,
                  idempotency_key=uuid.uuid4().hex, **context)


@router.get("/steps/{step_id}")
def step_page(request: Request, step_id: int):
    return _step_page(request, current_user(request), step_id)


async def _action_body(request: Request, token: str, action: str) -> tuple[dict, str]:
    """The API body from the form: text, progress, achieved values by indicator, an uploaded attachment."""
    form = await request.form()
    body: dict = {"text": str(form.get("text", "")).strip()}
    if action == "submit":
        progress = str(form.get("progress", "")).strip()
        if progress:
            if not progress.isdigit():
                raise ApiError(422, "进度请填写 0 到 100 之间的整数", {"progress": "请填写 0 到 100 之间的整数"})
            body["progress"] = int(progress)
        achieved = {}
        for indicator, value in zip(form.getlist("indicator"), form.getlist("achieved")):
            value = str(value).strip()
            if value:
                try:
                    achieved[str(indicator)] = float(value)
                except ValueError:
                    raise ApiError(422, f"“{indicator}”的完成值请填写数字", {"achieved": "请填写数字"}) from None
        body["achieved"] = achieved
        upload = form.get("attachment")
        if upload is not None and getattr(upload, "filename", ""):
            content = await upload.read()
            saved = backend(request).post("tasks", "/api/attachments", token,
                                          files={"file": (upload.filename, content, upload.content_type)})
            body["attachments"] = [saved["id"]]
    if action in ("request-extension", "grant-extension") and form.get("new_due_date"):
        body["new_due_date"] = str(form["new_due_date"])
    return body, str(form.get("idempotency_key", "")) or uuid.uuid4().hex


@router.post("/steps/{step_id}/{action}")
async def step_action(request: Request, step_id: int, action: str):
    user = current_user(request)
    if action not in ACTIONS:
        raise ApiError(404, "没有这项操作")
    route, done = ACTIONS[action]
    try:
        body, key = await _action_body(request, user.token, action)
        backend(request).post("tasks", f"/api/steps/{step_id}/{route}", user.token, json=body,
                              headers={"Idempotency-Key": key})
    except ApiError as e:
        return _step_page(request, user, step_id, status_code=e.status, error=e, fields=e.fields, form_action=action)
    return RedirectResponse(f"/steps/{step_id}?notice={done}", status_code=303)


@router.get("/notifications")
def notifications(request: Request, unread: str = "", offset: int = 0):
    user = current_user(request)
    offset = max(offset, 0)
    page = backend(request).get("tasks", "/api/notifications", user.token, unread=unread or None,
                                limit=PAGE_SIZE, offset=offset)
    return render(request, "notifications.html", user, title="通知", page=page, unread=unread,
                  pager=page_links(request, page["total"], PAGE_SIZE, offset))


@router.post("/notifications/{notification_id}/read")
def mark_read(request: Request, notification_id: int):
    user = current_user(request)
    backend(request).post("tasks", f"/api/notifications/{notification_id}/read", user.token)
    return RedirectResponse("/notifications?notice=已标记为已读", status_code=303)
