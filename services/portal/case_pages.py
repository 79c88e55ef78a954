"""预警个案 (alert cases): the list with SLA colours and deadlines, a case's page with
its household (ID numbers masked by the API), timeline, visits, measures, decisions and
the forms of the actions the API says the viewer may take now, the printable 公示, and
the leaders' counts by township."""

from __future__ import annotations

import uuid
from datetime import datetime
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

from services.portal import case_form
from services.portal.backend import ApiError
from services.portal.views import CHINA, PAGE_SIZE, backend, current_user, page_links, render, templates

router = APIRouter()

STAGES = {"verify": "核查", "notice": "公示", "confirm": "认定", "plan": "帮扶计划", "follow_up": "帮扶回访",
          "elimination_proposed": "拟风险消除", "closed": "已结案"}
SLA = {"green": "正常", "amber": "临期", "red": "逾期"}
CASE_STATUS = {"open": "办理中", "rejected": "不予认定", "eliminated": "风险已消除"}
ESCALATED_TO = {"unit_head": "单位主要负责人", "leader": "县分管领导", "office": "县领导小组办公室"}
SEVERITY = {"critical": "严重", "warning": "一般", "info": "提示"}
COUNT_KEYS = ("open", "green", "amber", "red", "escalated", "identifying", "monitored", "basic_support",
              "eliminated", "rejected")


def amount(value) -> str:
    """Yuan as people write them: 9600, 9600.5."""
    if value is None:
        return "—"
    return f"{value:.2f}".rstrip("0").rstrip(".") if isinstance(value, int | float) else str(value)


def event_summary(detail) -> str:
    """What a timeline entry recorded, as one line (photos are links of their own)."""
    if not isinstance(detail, dict):
        return ""
    parts = []
    if detail.get("period"):
        parts.append(f"预警期间 {detail['period']}" + (f"({SEVERITY[detail['severity']]})"
                                                      if detail.get("severity") in SEVERITY else ""))
    if detail.get("visited_on"):
        parts.append(f"日期 {detail['visited_on']}")
    if detail.get("visitors"):
        parts.append("人员:" + "、".join(detail["visitors"]))
    if "proposed" in detail:
        parts.append("拟纳入监测,进入村级公示" if detail["proposed"] else "不拟公示,直接报县级认定")
    if detail.get("monitoring_kind"):
        parts.append(detail["monitoring_kind"])
    if detail.get("income") is not None:
        parts.append(f"人均纯收入 {amount(detail['income'])} 元")
    if detail.get("measures"):
        parts.append(f"{len(detail['measures'])} 项帮扶措施")
    if detail.get("level"):
        parts.append(f"{detail['level']} 级督办至{ESCALATED_TO.get(detail.get('to'), detail.get('to') or '')}")
    if detail.get("text"):
        parts.append(str(detail["text"]))
    return ";".join(parts)


templates.env.filters.update(amount=amount, event_summary=event_summary)


def _townships(request: Request, token: str) -> list[dict]:
    return [r for r in backend(request).get("tasks", "/api/regions", token) if r["level"] == "township"]


@router.get("/cases")
def cases(request: Request, stage: str = "", sla: str = "", status: str = "", township: str = "", mine: str = "",
          offset: int = 0):
    user = current_user(request)
    offset = max(offset, 0)
    # a unit sees the cases it handles (核查、回访) unless it asks for the whole jurisdiction, as for alerts
    only_mine = mine == "true" or (not mine and user.has("unit_staff", "unit_head") and not user.has("office_admin"))
    filters = {k: v for k, v in {
        "stage": stage if stage in STAGES else None, "sla": sla if sla in SLA else None,
        "status": status if status in CASE_STATUS else None, "township": township if township.isdigit() else None,
        "mine": "true" if only_mine else None}.items() if v is not None}
    page = backend(request).get("alerts", "/api/cases", user.token, **filters, limit=PAGE_SIZE, offset=offset)
    return render(request, "cases.html", user, title="预警个案", page=page, stage=stage, sla=sla, status=status,
                  township=township, mine=only_mine, stages=STAGES, sla_labels=SLA, statuses=CASE_STATUS,
                  townships=_townships(request, user.token),
                  pager=page_links(request, page["total"], PAGE_SIZE, offset),
                  export=f"/files/alerts/api/cases?{urlencode(filters)}")


def township_rows(counts: dict, townships: list[dict]) -> list[dict]:
    """Every township of the jurisdiction (none left out for having no case), the most overdue first."""
    rows = {t["code"]: {"township_code": t["code"], "township_name": t["name"], **dict.fromkeys(COUNT_KEYS, 0)}
            for t in townships}
    for row in counts["townships"]:
        code = row["township_code"]
        name = row["township_name"] or rows.get(code, {}).get("township_name") or code
        rows[code] = {**row, "township_name": name}
    return sorted(rows.values(), key=lambda r: (-r["red"], -r["amber"], -r["open"], r["township_code"]))


@router.get("/cases/townships")
def cases_by_township(request: Request):
    user = current_user(request)
    counts = backend(request).get("alerts", "/api/cases/counts", user.token, by="township")
    return render(request, "cases_townships.html", user, title="个案分布",
                  rows=township_rows(counts, _townships(request, user.token)), total=counts["total"])


def case_page(request: Request, user, case_id: int, status_code: int = 200, **context):
    """The case; `context` carries a refused form back (its action, what was typed, the reasons per field)."""
    page = backend(request).get("alerts", f"/api/cases/{case_id}", user.token)
    context.setdefault("values", {})
    context.setdefault("fields", {})
    context.setdefault("lines", [])
    context.setdefault("measure_rows", case_form.MEASURE_ROWS)
    actions = {a["action"].replace("_", "-") for a in page["available_actions"]}
    return render(request, "case.html", user, status_code=status_code, title=f"预警个案 {page['case']['head_name']}",
                  p=page, c=page["case"], actions=actions, idempotency_key=uuid.uuid4().hex, flags=case_form.FLAGS,
                  escalated_to=ESCALATED_TO, severity=SEVERITY, stages=STAGES,
                  today=datetime.now(CHINA).date().isoformat(), max_measures=case_form.MAX_MEASURES, **context)


@router.get("/cases/{case_id}")
def case(request: Request, case_id: int, lines: int = 0):
    """`lines`: how many measure lines the plan form offers (the add-a-line link without script)."""
    return case_page(request, current_user(request), case_id,
                     measure_rows=min(max(lines, case_form.MEASURE_ROWS), case_form.MAX_MEASURES))


@router.get("/cases/{case_id}/measure-line")
def measure_line(request: Request, case_id: int, n: int = 0):
    """One more line of the plan form (htmx), with what it chooses from."""
    user = current_user(request)
    page = backend(request).get("alerts", f"/api/cases/{case_id}", user.token)
    return render(request, "case_measure_line.html", user, fragment=True, case_id=case_id,
                  n=min(max(n, 0), case_form.MAX_MEASURES - 1), choices=page["choices"],
                  max_measures=case_form.MAX_MEASURES)


async def _photos(request: Request, token: str, form) -> list[int]:
    """The visit's photos, uploaded to the tasks service's attachments (the API takes their ids)."""
    ids = []
    for upload in form.getlist("photos"):
        if getattr(upload, "filename", ""):
            saved = backend(request).post("tasks", "/api/attachments", token,
                                          files={"file": (upload.filename, await upload.read(), upload.content_type)})
            ids.append(saved["id"])
    return ids


@router.post("/cases/{case_id}/{action}")
async def act(request: Request, case_id: int, action: str):
    user = current_user(request)
    if action not in case_form.ACTIONS:
        raise ApiError(404, "没有这项操作")
    route, done = case_form.ACTIONS[action]
    form = await request.form()
    values = {k: v for k, v in form.multi_items() if isinstance(v, str)}  # what was typed, shown again if refused
    lines = list(zip(*(form.getlist(n) for n in ("kind", "unit_id", "due_date", "content"))))
    try:
        body = case_form.READERS[action](form)
        if action == "verify":
            body["attachments"] = await _photos(request, user.token, form)
        key = str(form.get("idempotency_key") or "") or uuid.uuid4().hex
        backend(request).post("alerts", f"/api/cases/{case_id}/{route}", user.token, json=body,
                              headers={"Idempotency-Key": key})
    except ApiError as e:
        return case_page(request, user, case_id, status_code=e.status, error=e, fields=e.fields, form_action=action,
                         refusal=e.message, values=values, lines=lines)
    return RedirectResponse(f"/cases/{case_id}?notice={done}", status_code=303)
