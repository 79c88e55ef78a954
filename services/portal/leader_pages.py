"""县领导: escalations waiting for them with the 批示 form, rankings and red flags,
and the drill-down from a unit's score to its explanation."""

from __future__ import annotations

import re

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from services.portal.backend import ApiError
from services.portal.views import PAGE_SIZE, backend, current_user, page_links, render, this_year

router = APIRouter()

PERIOD = re.compile(r"^\d{4}(-(0[1-9]|1[0-2]|Q[1-4]|H1))?$")


def _escalations_page(request: Request, pending: str, offset: int, status_code: int = 200, **context):
    user = current_user(request)
    offset = max(offset, 0)
    page = backend(request).get("tasks", "/api/escalations", user.token, pending_instruction=pending or None,
                                limit=PAGE_SIZE, offset=offset)
    return render(request, "escalations.html", user, status_code=status_code, title="督办批示", page=page,
                  pending=pending, pager=page_links(request, page["total"], PAGE_SIZE, offset), **context)


@router.get("/escalations")
def escalations(request: Request, pending: str = "", offset: int = 0):
    return _escalations_page(request, pending, offset)


@router.post("/escalations/{escalation_id}/instruction")
def instruct(request: Request, escalation_id: int, text: str = Form("")):
    user = current_user(request)
    try:
        backend(request).post("tasks", f"/api/escalations/{escalation_id}/instruction", user.token,
                              json={"text": text.strip()})
    except ApiError as e:
        message = "请填写批示内容" if e.fields.get("text") and not text.strip() else e
        return _escalations_page(request, "", 0, status_code=e.status, error=message, failed_id=escalation_id)
    return RedirectResponse("/escalations?notice=批示已送达责任单位", status_code=303)


@router.get("/overview")
def overview(request: Request, year: str = ""):
    user = current_user(request)
    chosen = int(year) if year.isdigit() else this_year()
    data = backend(request).get("assessment", "/api/leaders/overview", user.token, year=chosen)
    trend_periods = sorted({p["period"] for points in data["trend"].values() for p in points})
    chart = {"periods": trend_periods, "series": [
        {"name": unit, "type": "line", "data": [next((p["total"] for p in points if p["period"] == period), None)
                                                for period in trend_periods]}
        for unit, points in list(data["trend"].items())[:10]]}
    return render(request, "overview.html", user, title="排名与红旗", data=data, year=chosen, chart=chart)


@router.get("/scores/{unit_id}/{period}")
def explain(request: Request, unit_id: int, period: str):
    user = current_user(request)
    if not PERIOD.match(period):
        raise ApiError(422, "考核期间格式应为 2023、2023-05、2023-Q2 或 2023-H1")
    data = backend(request).get("assessment", f"/api/scores/{unit_id}/{period}/explain", user.token)
    return render(request, "explain.html", user, title="得分说明", data=data)
