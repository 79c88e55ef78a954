"""Batch import of households through the alerts API: the template, the upload (a job
that runs in a background thread of the API process, committing in chunks), its
progress and the error copy of the file.

Include this router BEFORE `services.alerts.api.router`: its
`GET /api/households/template.xlsx` would otherwise be taken by
`GET /api/households/{household_id}` (422, not an integer).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, BackgroundTasks, Depends, File, HTTPException, Path, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from services.alerts import importer
from services.alerts.template import template_xlsx
from services.common.auth import Principal, require
from services.common.excel import XLSX_MEDIA_TYPE
from services.common.units import jurisdiction_prefix

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api", tags=["农户批量导入"])
ENTRY = ("data_entry", "office_admin")
TZ = ZoneInfo("Asia/Shanghai")
MAX_ID = 2**63 - 1
TEMPLATE_MAX_VILLAGES = 20_000
STALLED = timedelta(minutes=10)  # a job not moving for this long died with its process: upload the file again
XLSX = {200: {"content": {XLSX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}}}}


def _attachment(filename: str) -> dict:
    return {"Content-Disposition": f"attachment; filename=\"download.xlsx\"; filename*=UTF-8''{quote(filename)}"}


@router.get("/households/template.xlsx", summary="下载农户批量导入模板(含本辖区村代码)", responses=XLSX)
def template(request: Request, p: Principal = Depends(require(*ENTRY))):
    with request.app.state.pool.connection() as conn:
        villages = list(importer.load_villages(conn, jurisdiction_prefix(p.region_code, p.region_level)))
    content = template_xlsx(villages[:TEMPLATE_MAX_VILLAGES])
    return Response(content, media_type=XLSX_MEDIA_TYPE, headers=_attachment("农户批量导入模板.xlsx"))


def _run(pool, job_id: int, content: bytes, filename: str, actor: Principal, request_id: str) -> None:
    """The background part: the whole import, recorded in the job (a failure marks it failed)."""
    try:
        importer.run_import(pool.connection, content, filename, actor=actor, job_id=job_id, request_id=request_id)
    except Exception:  # noqa: BLE001 (recorded in the job and logged by run_import)
        pass


@router.post("/households/import", status_code=202,
             summary="批量导入农户及各期数据(.xlsx/.csv,不超过 20 MB;后台导入,返回任务编号)")
async def upload(
    request: Request,
    background: BackgroundTasks,
    file: UploadFile = File(..., description="按模板填写的 .xlsx 或 .csv(UTF-8/GBK)"),
    p: Principal = Depends(require(*ENTRY)),
):
    content = await file.read(importer.MAX_UPLOAD_BYTES + 1)
    if len(content) > importer.MAX_UPLOAD_BYTES:
        raise HTTPException(status_code=413, detail="文件超过 20 MB 上限,请分成几个文件导入 (file too large)")
    filename = (file.filename or "upload").rsplit("/", 1)[-1].rsplit("\\", 1)[-1]

    def check_and_create() -> int:
        # only the header now (the required columns, or 422 naming them); the rows in the background
        importer.read_table(content, filename, header_only=True)
        with request.app.state.pool.connection() as conn:
            return importer.create_job(conn, filename, p.user_id)

    try:
        job_id = await run_in_threadpool(check_and_create)
    except importer.ImportFileError as e:
        if e.missing:
            raise HTTPException(status_code=e.status, detail={"message": str(e), "missing": e.missing}) from None
        raise HTTPException(status_code=e.status, detail=str(e)) from None
    background.add_task(_run, request.app.state.pool, job_id, content, filename, p, request.state.request_id)
    return JSONResponse(status_code=202, content={
        "id": job_id, "status": "queued", "filename": filename,
        "progress_url": f"/api/import-jobs/{job_id}", "errors_url": f"/api/import-jobs/{job_id}/errors.xlsx",
    })


def _visible_job(conn, p: Principal, job_id: int) -> dict:
    job = importer.get_job(conn, job_id)
    if job is None or not (job["uploaded_by"] == p.user_id or (
            p.has_role("office_admin") and job["uploader_region"] is not None
            and p.covers_region(job["uploader_region"]))):
        raise HTTPException(status_code=404, detail=f"导入任务 {job_id} 不存在 (import job not found)")
    return job


@router.get("/import-jobs/{job_id}", summary="导入进度:已处理、已导入、有错误的行数,以及前 1000 条错误")
def job_progress(request: Request, job_id: int = Path(ge=1, le=MAX_ID), p: Principal = Depends(require(*ENTRY))):
    with request.app.state.pool.connection() as conn:
        job = _visible_job(conn, p, job_id)
    summary = job["summary"] or {}
    total, processed = job["total_rows"], job["processed_rows"]
    stalled = job["status"] in ("queued", "running") and job["now"] - job["updated_at"] > STALLED
    return {
        "id": job["id"], "filename": job["filename"], "status": job["status"], "stalled": stalled,
        "total_rows": total, "processed_rows": processed, "imported_rows": job["imported_rows"],
        "error_rows": job["error_rows"],
        "percent": 100 if job["status"] == "done" else (round(100 * processed / total, 1) if total else 0),
        "households": summary.get("households"), "records": summary.get("records"),
        "households_changed": summary.get("households_changed"), "records_changed": summary.get("records_changed"),
        "errors": summary.get("errors", []), "message": job["message"],
        "error_file_url": f"/api/import-jobs/{job_id}/errors.xlsx" if job["has_error_file"] else None,
        "created_at": job["created_at"], "updated_at": job["updated_at"], "finished_at": job["finished_at"],
    }


@router.get("/import-jobs/{job_id}/errors.xlsx", summary="下载错误说明:原文件加“错误说明”列,有错误的行标红",
            responses=XLSX)
def job_errors(request: Request, job_id: int = Path(ge=1, le=MAX_ID), p: Principal = Depends(require(*ENTRY))):
    with request.app.state.pool.connection() as conn:
        job = _visible_job(conn, p, job_id)
        row = conn.execute("SELECT error_file FROM alerts.import_jobs WHERE id = %s", (job_id,)).fetchone()
    if row["error_file"] is None:
        detail = "导入尚未完成 (import still running)" if job["status"] in ("queued", "running") \
            else "这次导入没有错误行 (no errors)"
        raise HTTPException(status_code=404, detail=detail)
    stem = job["filename"].rsplit(".", 1)[0]
    name = f"{stem}-错误说明-{datetime.now(TZ):%Y%m%d%H%M}.xlsx"
    return Response(bytes(row["error_file"]), media_type=XLSX_MEDIA_TYPE, headers=_attachment(name))
