"""Routes of policy ingestion: upload, review (edit, merge, split, confirm units),
publish, and the changes of an amended version."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response

from services.common.auth import Principal, require
from services.common.http import DbId
from services.common.units import jurisdiction_prefix
from services.tasks import policies
from services.tasks import policy_repository as repo
from services.tasks.policy_schemas import ConfirmUnitRequest, MeasureEdit, MergeRequest, SplitRequest

router = APIRouter(prefix="/api/policies", tags=["政策文件"])
office = require("office_admin")


def _call(fn, **kwargs):
    try:
        return fn(**kwargs)
    except policies.PolicyError as e:
        if e.extra:
            raise HTTPException(status_code=e.status, detail={"message": str(e), **e.extra}) from None
        raise HTTPException(status_code=e.status, detail=str(e)) from None


@router.post("", status_code=201, summary="上传政策文件,解析为待审核的措施清单")
async def upload(
    request: Request,
    file: UploadFile = File(..., description="政策文件 (.txt .docx .html),不超过 5 MB"),
    region_code: str | None = Form(None, pattern=r"^\d{12}$", description="文件所属区划,默认本单位所在区划"),
    p: Principal = Depends(office),
):
    content = await file.read(policies.MAX_UPLOAD_BYTES + 1)
    with request.app.state.pool.connection() as conn:
        return _call(policies.upload, conn=conn, actor=p, region_code=region_code or p.region_code,
                     filename=file.filename or "", content=content, request_id=request.state.request_id)


@router.get("", summary="政策文件列表")
def list_documents(
    request: Request,
    status: str | None = Query(None, pattern="^(draft|published|superseded)$"),
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0, le=1_000_000_000),
    p: Principal = Depends(require()),
):
    with request.app.state.pool.connection() as conn:
        return repo.list_documents(conn, jurisdiction_prefix(p.region_code, p.region_level), status, limit, offset)


def _visible(conn, p: Principal, document_id: int) -> None:
    doc = repo.get_document(conn, document_id)
    if doc is None or not p.covers_region(doc["region_code"]):
        raise HTTPException(status_code=404, detail=f"文件 {document_id} 不存在 (document not found)")


@router.get("/{document_id}", summary="文件及其措施(含单位解析结果)")
def get_draft(document_id: DbId, request: Request, p: Principal = Depends(require())):
    with request.app.state.pool.connection() as conn:
        _visible(conn, p, document_id)
        return _call(policies.draft, conn=conn, document_id=document_id)


@router.get("/{document_id}/original", summary="下载原文")
def original(document_id: DbId, request: Request, p: Principal = Depends(require())):
    with request.app.state.pool.connection() as conn:
        _visible(conn, p, document_id)
        row = repo.get_document_content(conn, document_id)
    return Response(row["content"], media_type=row["content_type"],
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(row['filename'])}"})


@router.patch("/{document_id}/measures/{measure_id}", summary="修改措施(单位、目标、时限、标题、正文)")
def edit_measure(document_id: DbId, measure_id: DbId, body: MeasureEdit, request: Request, p: Principal = Depends(office)):
    changes = body.model_dump(exclude_none=True)
    if not changes:
        raise HTTPException(status_code=422, detail="没有需要修改的字段 (nothing to change)")
    with request.app.state.pool.connection() as conn:
        return _call(policies.edit_measure, conn=conn, actor=p, document_id=document_id, measure_id=measure_id,
                     changes=changes, request_id=request.state.request_id)


@router.post("/{document_id}/merge", summary="合并相邻措施")
def merge(document_id: DbId, body: MergeRequest, request: Request, p: Principal = Depends(office)):
    with request.app.state.pool.connection() as conn:
        return _call(policies.restructure, conn=conn, actor=p, document_id=document_id, merge_ids=body.measure_ids,
                     request_id=request.state.request_id)


@router.post("/{document_id}/split", summary="拆分措施")
def split(document_id: DbId, body: SplitRequest, request: Request, p: Principal = Depends(office)):
    parts = [part.model_dump(exclude_none=True) for part in body.parts]
    with request.app.state.pool.connection() as conn:
        return _call(policies.restructure, conn=conn, actor=p, document_id=document_id, split_id=body.measure_id,
                     parts=parts, request_id=request.state.request_id)


@router.post("/{document_id}/units/confirm", summary="确认新单位或登记为已有单位的别名")
def confirm_unit(document_id: DbId, body: ConfirmUnitRequest, request: Request, p: Principal = Depends(office)):
    with request.app.state.pool.connection() as conn:
        return _call(policies.confirm_unit, conn=conn, actor=p, document_id=document_id, name=body.name,
                     unit_id=body.unit_id, kind=body.kind, request_id=request.state.request_id)


@router.post("/{document_id}/publish", summary="发布:每条措施生成一项任务(重复发布不重复生成)")
def publish(document_id: DbId, request: Request, p: Principal = Depends(office)):
    with request.app.state.pool.connection() as conn:
        result = _call(policies.publish, conn=conn, actor=p, document_id=document_id,
                       request_id=request.state.request_id)
    return JSONResponse(status_code=201 if result["tasks_created"] else 200, content=jsonable_encoder(result))


@router.get("/{document_id}/changes", summary="修订版与已发布版本的差异")
def changes(document_id: DbId, request: Request, p: Principal = Depends(require())):
    with request.app.state.pool.connection() as conn:
        return _call(policies.changes_against_published, conn=conn, actor=p, document_id=document_id)
