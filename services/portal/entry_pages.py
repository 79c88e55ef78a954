"""The household form (登记农户) and the form for one period's data (录入一期数据): what
the API refuses comes back beside the field it concerns, with what was typed kept."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

from services.portal.backend import ApiError
from services.portal.data_pages import household_page
from services.portal.views import backend, current_user, render

router = APIRouter()

CATEGORIES = ("一般农户", "脱贫户", "脱贫不稳定户", "边缘易致贫户", "突发严重困难户")
HOUSEHOLD_TEXT = ("household_no", "village_code", "head_name", "head_id_number", "phone", "category")
HOUSEHOLD_INTS = ("members", "labourers")
HOUSEHOLD_FLAGS = ("no_labour_capacity", "under_assistance")
RECORD_NUMBERS = ("per_capita_income", "wage_income", "business_income", "property_income", "transfer_income",
                  "medical_expense", "education_expense")
RECORD_INTS = ("employed",)
RECORD_FLAGS = ("compulsory_education_ok", "basic_medical_ok", "housing_ok", "drinking_water_ok")


def _number(form: dict, name: str, kind: type, fields: dict) -> float | int | None:
    text = str(form.get(name, "")).strip()
    if not text:
        return None
    try:
        return kind(text)
    except ValueError:
        fields[name] = "请填写整数" if kind is int else "请填写数字"
        return None


def _flag(form: dict, name: str) -> bool | None:
    return {"是": True, "否": False}.get(str(form.get(name, "")))


def _villages(request: Request, token: str) -> list[dict]:
    return [r for r in backend(request).get("tasks", "/api/regions", token) if r["level"] == "village"]


def _household_form(request: Request, user, status_code: int = 200, **context):
    return render(request, "household_form.html", user, status_code=status_code, title="登记农户",
                  villages=_villages(request, user.token), categories=CATEGORIES, **context)


@router.get("/households/new")
def new_household(request: Request):
    return _household_form(request, current_user(request), values={"category": "一般农户"}, fields={})


@router.post("/households/new")
async def save_household(request: Request):
    user = current_user(request)
    form = dict(await request.form())
    fields: dict[str, str] = {}
    body: dict = {k: str(form.get(k, "")).strip() or None for k in HOUSEHOLD_TEXT}
    body.update({k: _number(form, k, int, fields) for k in HOUSEHOLD_INTS})
    body.update({k: form.get(k) == "是" for k in HOUSEHOLD_FLAGS})
    for required, label in (("household_no", "户编号"), ("head_name", "户主姓名"), ("village_code", "村"),
                            ("members", "家庭人口数")):
        if body.get(required) is None and required not in fields:
            fields[required] = f"请填写{label}"
    if fields:
        return _household_form(request, user, 422, values=form, fields=fields, error="请按提示改正标红的项目")
    body["labourers"] = body["labourers"] or 0
    try:
        saved = backend(request).post("alerts", "/api/households", user.token, json=body)
    except ApiError as e:
        return _household_form(request, user, e.status, values=form, fields=e.fields, error=e)
    return RedirectResponse(f"/households/{saved['id']}?notice=已保存", status_code=303)


@router.post("/households/{household_id}/records")
async def save_record(request: Request, household_id: int):
    user = current_user(request)
    form = dict(await request.form())
    fields: dict[str, str] = {}
    body: dict = {"period": str(form.get("period", "")).strip()}
    body.update({k: _number(form, k, float, fields) for k in RECORD_NUMBERS})
    body.update({k: _number(form, k, int, fields) for k in RECORD_INTS})
    body.update({k: _flag(form, k) for k in RECORD_FLAGS})
    try:
        if fields:
            raise ApiError(422, "请按提示改正标红的项目", fields)
        backend(request).post("alerts", f"/api/households/{household_id}/records", user.token,
                              json={k: v for k, v in body.items() if v is not None})
    except ApiError as e:
        return household_page(request, household_id, status_code=e.status, error=e, fields=e.fields, values=form)
    return RedirectResponse(f"/households/{household_id}?notice={body['period']} 的数据已保存", status_code=303)
