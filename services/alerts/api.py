"""The alerts API: household data entry (the register), and — with the early-warning
pipeline — alerts. ID numbers and phones are masked in every response; the full
values are shown only to the office, and every such viewing is audited."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from services.alerts import alert_api, case_api, import_api, register
from services.alerts import repository as repo
from services.alerts.schemas import Household, HouseholdIn, Record, RecordIn
from services.alerts.validation import mask_id, mask_phone
from services.common import audit
from services.common.auth import Principal, require
from services.common.http import DbId, create_app
from services.common.units import jurisdiction_prefix

router = APIRouter(prefix="/api", tags=["农户登记"])
ENTRY = ("data_entry", "office_admin")


def masked(h: dict) -> dict:
    return {**h, "head_id_number": mask_id(h["head_id_number"]), "phone": mask_phone(h["phone"])}


def _call(fn, **kwargs):
    try:
        return fn(**kwargs)
    except register.RegisterError as e:
        raise HTTPException(status_code=e.status, detail=str(e)) from None


@router.post("/households", response_model=Household, summary="登记或更新农户(按户编号)")
def save_household(body: HouseholdIn, request: Request, p: Principal = Depends(require(*ENTRY))):
    with request.app.state.pool.connection() as conn:
        h = _call(register.save_household, conn=conn, actor=p, data=body.model_dump(),
                  request_id=request.state.request_id)
        return masked(repo.get_household(conn, h["id"]))


@router.get("/households", summary="农户列表(本辖区)")
def list_households(
    request: Request,
    village: str | None = Query(None, pattern=r"^\d{12}$"),
    category: str | None = Query(None, max_length=10),
    q: str | None = Query(None, max_length=40, description="户编号或户主姓名"),
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=1_000_000_000),
    p: Principal = Depends(require()),
):
    with request.app.state.pool.connection() as conn:
        total, rows = repo.list_households(conn, jurisdiction_prefix(p.region_code, p.region_level), village,
                                           category, q, limit, offset)
    return {"total": total, "limit": limit, "offset": offset, "items": [masked(r) for r in rows]}


def _visible(conn, p: Principal, household_id: int) -> dict:
    h = repo.get_household(conn, household_id)
    if h is None or not p.covers_region(h["village_code"]):
        raise HTTPException(status_code=404, detail=f"户 {household_id} 不存在 (household not found)")
    return h


@router.get("/households/{household_id}", summary="农户详情:成员、各期数据")
def household_page(household_id: DbId, request: Request, p: Principal = Depends(require())):
    with request.app.state.pool.connection() as conn:
        h = _visible(conn, p, household_id)
        members = [{**m, "id_number": mask_id(m["id_number"])} for m in repo.list_members(conn, household_id)]
        records = [Record.model_validate(r).model_dump() for r in repo.list_records(conn, household_id)]
    return {"household": masked(h), "members": members, "records": records}


@router.get("/households/{household_id}/unmasked", summary="查看完整证件号码和电话(记入审计)")
def unmasked(household_id: DbId, request: Request, p: Principal = Depends(require("office_admin"))):
    with request.app.state.pool.connection() as conn:
        h = _visible(conn, p, household_id)
        members = repo.list_members(conn, household_id)
        audit.record(conn, service="alerts", principal=p, action="household.unmask", entity="household",
                     entity_id=household_id, after={"viewed": ["head_id_number", "phone", "members.id_number"]},
                     request_id=request.state.request_id)
    return {"household_no": h["household_no"], "head_id_number": h["head_id_number"], "phone": h["phone"],
            "members": [{"name": m["name"], "id_number": m["id_number"]} for m in members]}


@router.post("/households/{household_id}/records", response_model=Record, summary="录入或更正一期数据(按期间)")
def save_record(household_id: DbId, body: RecordIn, request: Request, p: Principal = Depends(require(*ENTRY))):
    with request.app.state.pool.connection() as conn:
        record, _ = _call(register.save_record, conn=conn, actor=p, household_id=household_id,
                          record=body.model_dump(), request_id=request.state.request_id)
        return record


app = create_app(
    service="alerts", title="县级巩固拓展脱贫攻坚成果 · 监测预警服务 (alerts API)",
    # the import's fixed paths before /households/{id}
    routers=[import_api.router, router, alert_api.router, case_api.router],
)
