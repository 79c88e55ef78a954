"""领导小组办公室: upload a policy document, review its parsed measures beside the
original text, confirm new unit names, publish; the progress dashboard; bulletins."""

from __future__ import annotations

import re

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse

from services.portal import measure_form
from services.portal.backend import ApiError
from services.portal.views import PAGE_SIZE, backend, current_user, page_links, render

router = APIRouter()

BULLETIN_KINDS = {"monthly": "月通报", "quarterly": "季度分析", "half_year": "半年小结", "annual": "年终总结"}
UNIT_KINDS = {"department": "部门", "township": "乡镇", "village": "村", "party_committee": "党委",
              "government": "政府", "enterprise": "企业", "other": "其他", "office": "办公室"}
DOC_STATUS = {"draft": "待审核", "published": "已发布"}


def _names(text: str) -> list[str]:
    """Unit names typed as `县人社局、县财政局` (also commas or new lines)."""
    return [n.strip() for n in re.split(r"[、,,;;\n]+", text) if n.strip()]


def _slice(request: Request, rows: list, offset: int) -> tuple[list, dict]:
    offset = max(offset, 0)
    return rows[offset:offset + PAGE_SIZE], page_links(request, len(rows), PAGE_SIZE, offset)


@router.get("/policies")
def policies(request: Request, offset: int = 0):
    return _policies_page(request, offset)


def _policies_page(request: Request, offset: int, status_code: int = 200, error: ApiError | str | None = None):
    user = current_user(request)
    docs, pager = _slice(request, backend(request).get("tasks", "/api/policies", user.token), offset)
    return render(request, "policies.html", user, status_code=status_code, title="政策文件", docs=docs, pager=pager,
                  statuses=DOC_STATUS, error=error)


@router.post("/policies")
async def upload_policy(request: Request, file: UploadFile | None = File(None)):
    user = current_user(request)
    if file is None or not file.filename:
        return _policies_page(request, 0, 422, "请选择要上传的政策文件(.txt .docx .html)")
    content = await file.read()
    try:
        draft = backend(request).post("tasks", "/api/policies", user.token,
                                      files={"file": (file.filename, content, file.content_type)})
    except ApiError as e:
        return _policies_page(request, 0, e.status, e)
    return RedirectResponse(f"/policies/{draft['id']}?notice=已解析出 {draft['measure_count']} 条措施,请逐条核对后发布",
                            status_code=303)


def _original_text(request: Request, token: str, document_id: int) -> str | None:
    """The uploaded text for the side-by-side view (Word files: None, offered as a download)."""
    response = backend(request).request("tasks", "GET", f"/api/policies/{document_id}/original", token)
    if not response.headers.get("content-type", "").startswith("text/plain"):
        return None
    return response.content.decode("utf-8", errors="replace")


def _review_page(request: Request, document_id: int, status_code: int = 200, **context):
    user = current_user(request)
    doc = backend(request).get("tasks", f"/api/policies/{document_id}", user.token)
    return render(request, "policy.html", user, status_code=status_code, title=doc["title"], doc=doc,
                  original=_original_text(request, user.token, document_id), unit_kinds=UNIT_KINDS,
                  statuses=DOC_STATUS, target_line=measure_form.target_line,
                  deadline_line=measure_form.deadline_line, **context)


@router.get("/policies/{document_id}")
def review(request: Request, document_id: int):
    return _review_page(request, document_id)


@router.post("/policies/{document_id}/measures/{measure_id}")
def edit_measure(request: Request, document_id: int, measure_id: int, title: str = Form(""), text: str = Form(""),
                 lead_units: str = Form(""), responsible_units: str = Form(""), targets: str = Form(""),
                 deadlines: str = Form("")):
    user = current_user(request)
    changes = {"title": title.strip() or None, "text": text.strip() or None,
               "lead_units": _names(lead_units), "responsible_units": _names(responsible_units)}
    try:
        doc = backend(request).get("tasks", f"/api/policies/{document_id}", user.token)
        before = next((m for m in doc["measures"] if m["id"] == measure_id), None)
        if before is None:
            raise ApiError(404, f"措施 {measure_id} 不在这份文件中")
        try:
            changes["targets"] = measure_form.read_targets(targets, before["targets"])
        except measure_form.LineError as e:
            raise ApiError(422, str(e)) from None
        changes["deadlines"] = measure_form.read_deadlines(deadlines, before["deadlines"])
        backend(request).request("tasks", "PATCH", f"/api/policies/{document_id}/measures/{measure_id}", user.token,
                                 json={k: v for k, v in changes.items() if v is not None})
    except ApiError as e:
        return _review_page(request, document_id, status_code=e.status, error=e)
    return RedirectResponse(f"/policies/{document_id}?notice=措施已保存#m{measure_id}", status_code=303)


@router.post("/policies/{document_id}/units/confirm")
def confirm_unit(request: Request, document_id: int, name: str = Form(""), unit_id: str = Form(""),
                 kind: str = Form("department")):
    user = current_user(request)
    body = {"name": name, "kind": kind, **({"unit_id": int(unit_id)} if unit_id.strip().isdigit() else {})}
    try:
        backend(request).post("tasks", f"/api/policies/{document_id}/units/confirm", user.token, json=body)
    except ApiError as e:
        return _review_page(request, document_id, status_code=e.status, error=e)
    return RedirectResponse(f"/policies/{document_id}?notice=已确认单位“{name}”", status_code=303)


@router.post("/policies/{document_id}/publish")
def publish(request: Request, document_id: int):
    user = current_user(request)
    try:
        result = backend(request).post("tasks", f"/api/policies/{document_id}/publish", user.token)
    except ApiError as e:
        return _review_page(request, document_id, status_code=e.status, error=e)
    return RedirectResponse(f"/policies/{document_id}?notice=已发布,生成 {result['tasks_created']} 项任务", status_code=303)


@router.get("/progress")
def progress(request: Request, document_id: str = "", offset: int = 0):
    user = current_user(request)
    offset = max(offset, 0)
    doc = int(document_id) if document_id.isdigit() else None
    page = backend(request).get("tasks", "/api/progress", user.token, document_id=doc, limit=PAGE_SIZE, offset=offset)
    chart = {
        "units": [r["unit_name"] for r in page["items"]],
        "done": [r["done"] for r in page["items"]],
        "submitted": [r["submitted"] for r in page["items"]],
        "overdue": [r["overdue"] for r in page["items"]],
    }
    return render(request, "progress.html", user, title="办理进度", page=page, chart=chart, document_id=document_id,
                  pager=page_links(request, page["total"], PAGE_SIZE, offset))


@router.get("/bulletins")
def bulletins(request: Request, offset: int = 0):
    return _bulletins_page(request, offset)


def _bulletins_page(request: Request, offset: int, status_code: int = 200, error: ApiError | None = None):
    user = current_user(request)
    rows, pager = _slice(request, backend(request).get("assessment", "/api/bulletins", user.token), offset)
    return render(request, "bulletins.html", user, status_code=status_code, title="通报", rows=rows, pager=pager,
                  kinds=BULLETIN_KINDS, error=error)


@router.post("/bulletins")
def generate_bulletin(request: Request, kind: str = Form("monthly"), period: str = Form("")):
    user = current_user(request)
    try:
        made = backend(request).post("assessment", "/api/bulletins", user.token,
                                     json={"kind": kind, "period": period.strip()})
    except ApiError as e:
        return _bulletins_page(request, 0, e.status, e)
    return RedirectResponse(f"/bulletins/{made['id']}?notice=通报已生成,点到的单位将收到通知", status_code=303)


@router.get("/bulletins/{bulletin_id}")
def bulletin(request: Request, bulletin_id: int):
    user = current_user(request)
    b = backend(request).get("assessment", f"/api/bulletins/{bulletin_id}", user.token)
    return render(request, "bulletin.html", user, title=b["title"], b=b, kinds=BULLETIN_KINDS)
