"""Data entry (数据录入): the household list and page (ID numbers masked as the API
returns them), the Excel import with its template, progress bar and error file, and
the early-warning alerts of the jurisdiction."""

from __future__ import annotations

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import RedirectResponse

from services.portal.backend import ApiError
from services.portal.views import PAGE_SIZE, backend, current_user, page_links, render

router = APIRouter()

SEVERITY = {"critical": "严重", "warning": "一般", "info": "提示"}
ALERT_STATUS = {"open": "未处置", "resolved": "已解除"}
JOB_STATUS = {"queued": "排队中", "running": "导入中", "done": "已完成", "failed": "失败"}
ALERT_PAGES = 10  # the township table reads at most this many pages of 1000 alert groups


@router.get("/households")
def households(request: Request, q: str = "", offset: int = 0):
    user = current_user(request)
    offset = max(offset, 0)
    page = backend(request).get("alerts", "/api/households", user.token, q=q.strip() or None, limit=PAGE_SIZE,
                                offset=offset)
    return render(request, "households.html", user, title="农户", page=page, q=q,
                  pager=page_links(request, page["total"], PAGE_SIZE, offset))


def _import_page(request: Request, status_code: int = 200, **context):
    return render(request, "import.html", current_user(request), status_code=status_code, title="批量导入", **context)


@router.get("/households/import")
def import_form(request: Request):
    return _import_page(request)


@router.post("/households/import")
async def upload(request: Request, file: UploadFile | None = File(None)):
    user = current_user(request)
    if file is None or not file.filename:
        return _import_page(request, 422, error="请选择要导入的文件(.xlsx .xls .csv)")
    content = await file.read()
    try:
        job = backend(request).post("alerts", "/api/households/import", user.token,
                                    files={"file": (file.filename, content, file.content_type)})
    except ApiError as e:
        return _import_page(request, e.status, error=e)
    return RedirectResponse(f"/import-jobs/{job['id']}", status_code=303)


@router.get("/import-jobs/{job_id}")
def job_page(request: Request, job_id: int):
    user = current_user(request)
    job = backend(request).get("alerts", f"/api/import-jobs/{job_id}", user.token)
    fragment = request.headers.get("HX-Request") == "true"
    return render(request, "import_job_status.html" if fragment else "import_job.html", user, title="导入进度",
                  job=job, statuses=JOB_STATUS)


@router.get("/households/{household_id}")
def household(request: Request, household_id: int):
    return household_page(request, household_id)


def household_page(request: Request, household_id: int, status_code: int = 200, **context):
    """The household with its records and alerts; `context` carries a refused record form back."""
    user = current_user(request)
    api = backend(request)
    data = api.get("alerts", f"/api/households/{household_id}", user.token)
    alerts = api.get("alerts", f"/api/households/{household_id}/alerts", user.token)
    context.setdefault("values", {})
    context.setdefault("fields", {})
    return render(request, "household.html", user, status_code=status_code, title="农户详情", h=data["household"],
                  members=data["members"], records=data["records"], alerts=alerts, severity=SEVERITY,
                  alert_status=ALERT_STATUS, **context)


@router.get("/alerts")
def alerts(request: Request, status: str = "", mine: str = "", offset: int = 0):
    user = current_user(request)
    offset = max(offset, 0)
    only_mine = mine == "true" or (not mine and user.has("unit_staff", "unit_head") and not user.has("office_admin"))
    page = backend(request).get("alerts", "/api/alerts", user.token, status=status or None,
                                mine="true" if only_mine else None, limit=PAGE_SIZE, offset=offset)
    return render(request, "alerts.html", user, title="预警", page=page, status=status, mine=only_mine,
                  severity=SEVERITY, alert_status=ALERT_STATUS,
                  pager=page_links(request, page["total"], PAGE_SIZE, offset))


def township_counts(groups: list[dict], townships: list[dict]) -> list[dict]:
    """Alert groups counted by the township of their village (乡镇 = the village code's first 9 digits)."""
    rows = {t["code"][:9]: {"code": t["code"], "name": t["name"], "total": 0, "open": 0, "critical": 0}
            for t in townships}
    for g in groups:
        row = rows.get(g["village_code"][:9])
        if row is None:
            continue
        row["total"] += 1
        row["open"] += g["status"] == "open"
        row["critical"] += g["status"] == "open" and g["severity"] == "critical"
    return sorted(rows.values(), key=lambda r: (-r["open"], -r["critical"], r["code"]))


@router.get("/alerts/townships")
def alerts_by_township(request: Request):
    user = current_user(request)
    api = backend(request)
    groups: list[dict] = []
    for page in range(ALERT_PAGES):
        batch = api.get("alerts", "/api/alerts", user.token, limit=1000, offset=page * 1000)
        groups += batch["items"]
        if len(groups) >= batch["total"]:
            break
    townships = [r for r in api.get("tasks", "/api/regions", user.token) if r["level"] == "township"]
    return render(request, "alerts_townships.html", user, title="预警分布", rows=township_counts(groups, townships),
                  counted=len(groups), total=batch["total"])
