"""预警规则 and 静默: the rules in force for the user's region and year with the clause
each comes from, and the office's silences (create with reason and term, end early)."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from services.portal.backend import ApiError
from services.portal.views import backend, current_user, render, this_year

router = APIRouter()

SEVERITY = {"critical": "严重", "warning": "一般", "info": "提示"}


@router.get("/rules")
def rules(request: Request, year: str = ""):
    user = current_user(request)
    chosen = int(year) if year.isdigit() else this_year()
    rule_set = backend(request).get("alerts", "/api/rules", user.token, region=user.me["region_code"], year=chosen)
    return render(request, "rules.html", user, title="预警规则", rule_set=rule_set, year=chosen, severity=SEVERITY)


def _silences_page(request: Request, status_code: int = 200, **context):
    user = current_user(request)
    rows = backend(request).get("alerts", "/api/silences", user.token)
    context.setdefault("values", {})
    return render(request, "silences.html", user, status_code=status_code, title="静默", rows=rows, **context)


@router.get("/silences")
def silences(request: Request):
    return _silences_page(request)


@router.post("/silences")
def create_silence(request: Request, rule_id: str = Form(""), subject_key: str = Form(""), reason: str = Form(""),
                   days: str = Form("30")):
    user = current_user(request)
    values = {"rule_id": rule_id, "subject_key": subject_key, "reason": reason, "days": days}
    if not days.strip().isdigit():
        return _silences_page(request, 422, values=values, error="有效天数请填写 1 到 366 之间的整数")
    body = {"region_code": user.me["region_code"], "rule_id": rule_id.strip() or None,
            "subject_key": subject_key.strip() or None, "reason": reason.strip(), "days": int(days)}
    try:
        backend(request).post("alerts", "/api/silences", user.token, json=body)
    except ApiError as e:
        return _silences_page(request, e.status, values=values, error=e)
    return RedirectResponse("/silences?notice=静默已生效", status_code=303)


@router.post("/silences/{silence_id}/expire")
def expire(request: Request, silence_id: int):
    user = current_user(request)
    backend(request).post("alerts", f"/api/silences/{silence_id}/expire", user.token)
    return RedirectResponse("/silences?notice=静默已结束", status_code=303)
