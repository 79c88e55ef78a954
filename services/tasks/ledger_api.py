"""Routes of rectification ledgers (整改台账): create (JSON) or import (Excel), list and
read with every item's step status, publish (one task per item), export as Excel,
and 销号 of an item once its completion report is approved.

Changes are the office's (office_admin within its jurisdiction); leaders and the
office read. The units act on their items' steps through the inbox and the step
routes, like on any task."""

from __future__ import annotations

from datetime import date, datetime
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.common.auth import Principal, require
from services.common.excel import TZ, XLSX_MEDIA_TYPE
from services.common.http import DbId
from services.common.temporal import temporal
from services.tasks import ledgers
from services.tasks.step_api import SignOffBody, _update
from workflows.task_plan import SignOff
from workflows.task_workflow import PolicyTaskWorkflow

router = APIRouter(prefix="/api/ledgers", tags=["整改台账"])
office = require("office_admin")
readers = require("office_admin", "leader")


class LedgerItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    ref: str | None = Field(None, max_length=20, description="序号,默认按顺序编号")
    problem: str = Field(min_length=1, max_length=5000, description="问题")
    measure: str = Field(min_length=1, max_length=5000, description="整改措施")
    responsible_unit_id: int | None = Field(None, gt=0, description="责任单位 id")
    responsible_unit: str | None = Field(None, min_length=1, max_length=100, description="或责任单位名称(可用简称)")
    responsible_person: str = Field("", max_length=100, description="责任人")
    deadline: date = Field(description="完成时限")
    task_list: str = Field("", max_length=5000, description="任务清单")
    progress: str = Field("", max_length=5000, description="整改进展")

    @model_validator(mode="after")
    def _unit_given(self):
        if not self.responsible_unit_id and not self.responsible_unit:
            raise ValueError("请填写责任单位 (responsible_unit_id or responsible_unit is required)")
        return self


class LedgerIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    title: str = Field(min_length=1, max_length=200, description="台账名称")
    source: str = Field("", max_length=200, description="问题来源,如 巡视反馈、成效考核反馈")
    region_code: str | None = Field(None, pattern=r"^\d{12}$", description="所属区划,默认本单位所在区划")
    year: int | None = Field(None, ge=2000, le=2100, description="台账年度,默认取标题中的年份或今年")
    items: list[LedgerItemIn] = Field(min_length=1, max_length=ledgers.MAX_ITEMS)


def _call(fn, **kwargs):
    try:
        return fn(**kwargs)
    except ledgers.LedgerError as e:
        if e.errors is not None:
            raise HTTPException(status_code=e.status, detail={"message": str(e), "errors": e.errors}) from None
        raise HTTPException(status_code=e.status, detail=str(e)) from None


@router.post("", status_code=201, summary="新建整改台账(问题清单、责任清单、时限清单、任务清单)")
def create(body: LedgerIn, request: Request, p: Principal = Depends(office)):
    items = [i.model_dump() for i in body.items]
    with request.app.state.pool.connection() as conn:
        return _call(ledgers.create, conn=conn, actor=p, region_code=body.region_code or p.region_code,
                     title=body.title, source=body.source, year=body.year, items=items,
                     request_id=request.state.request_id)


@router.post("/import", status_code=201,
             summary="导入 Excel 整改台账(.xlsx,不超过 5 MB;有错误的行逐行列出,全部无误才导入)")
async def import_workbook(
    request: Request,
    file: UploadFile = File(..., description="整改台账 .xlsx:序号/问题/整改措施/责任单位/责任人/完成时限/任务清单/整改进展"),
    title: str | None = Form(None, max_length=200, description="台账名称,默认取表格标题"),
    source: str = Form("", max_length=200, description="问题来源"),
    region_code: str | None = Form(None, pattern=r"^\d{12}$", description="所属区划,默认本单位所在区划"),
    year: int | None = Form(None, ge=2000, le=2100, description="补全“6月底”等未写年份的时限,默认取标题中的年份"),
    p: Principal = Depends(office),
):
    content = await file.read(ledgers.MAX_UPLOAD_BYTES + 1)
    with request.app.state.pool.connection() as conn:
        return _call(ledgers.import_workbook, conn=conn, actor=p, region_code=region_code or p.region_code,
                     filename=file.filename or "", content=content, title=title, source=source, year=year,
                     request_id=request.state.request_id)


@router.get("", summary="整改台账列表(含问题数、已销号数)")
def list_ledgers(
    request: Request,
    status: str | None = Query(None, pattern="^(draft|published|closed)$"),
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0, le=1_000_000_000),
    p: Principal = Depends(readers),
):
    with request.app.state.pool.connection() as conn:
        return ledgers.list_ledgers(conn, actor=p, status=status, limit=limit, offset=offset)


@router.get("/{ledger_id}", summary="台账及每项问题的步骤状态、整改进展与销号状态")
def get_ledger(ledger_id: DbId, request: Request, p: Principal = Depends(readers)):
    with request.app.state.pool.connection() as conn:
        return _call(ledgers.get, conn=conn, actor=p, ledger_id=ledger_id)


@router.post("/{ledger_id}/publish", summary="发布:每项问题生成一项任务(重复发布不重复生成)")
def publish(ledger_id: DbId, request: Request, p: Principal = Depends(office)):
    with request.app.state.pool.connection() as conn:
        result = _call(ledgers.publish, conn=conn, actor=p, ledger_id=ledger_id, request_id=request.state.request_id)
    return JSONResponse(status_code=201 if result["tasks_created"] else 200, content=jsonable_encoder(result))


@router.get("/{ledger_id}/export", summary="导出 Excel(含当前整改进展与销号状态)",
            responses={200: {"content": {XLSX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}}}})
def export(ledger_id: DbId, request: Request, p: Principal = Depends(readers)):
    with request.app.state.pool.connection() as conn:
        title, content = _call(ledgers.export, conn=conn, actor=p, ledger_id=ledger_id)
    filename = f"{title}-{datetime.now(TZ):%Y%m%d}.xlsx"
    return Response(content, media_type=XLSX_MEDIA_TYPE, headers={
        "Content-Disposition": f"attachment; filename=\"ledger.xlsx\"; filename*=UTF-8''{quote(filename)}"})


@router.post("/{ledger_id}/items/{item_id}/sign-off",
             summary="问题销号:整改完成情况报告(附佐证材料)审核通过后方可销号")
async def sign_off(ledger_id: DbId, item_id: DbId, body: SignOffBody, request: Request,
                   p: Principal = Depends(office)):
    with request.app.state.pool.connection() as conn:
        item = _call(ledgers.sign_off_refusal, conn=conn, actor=p, ledger_id=ledger_id, item_id=item_id)
    client = await temporal(request)  # only once the item may be signed off: refusals need no Temporal
    result = await _update(client, item["task_id"], PolicyTaskWorkflow.sign_off,
                           SignOff(p.user_id, list(p.roles), body.text))
    with request.app.state.pool.connection() as conn:
        status = ledgers.after_sign_off(conn, actor=p, ledger_id=ledger_id, request_id=request.state.request_id)
    return {**result, "ledger_id": ledger_id, "item_id": item_id, "ledger_status": status}

