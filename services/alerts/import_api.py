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

from fastapi import APIRouter, BackgroundTasks, Depends, File, Form, HTTPException, Path, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from services.alerts import importer, national_export, national_repository
from services.alerts.template import template_xlsx
from services.common import audit
from services.common.auth import Principal, require
from services.common.excel import XLSX_MEDIA_TYPE
from services.common.http import MAX_ID
from services.common.units import jurisdiction_prefix

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api", tags=["农户批量导入"])
ENTRY = ("data_entry", "office_admin")
TZ = ZoneInfo("Asia/Shanghai")
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


def _run(pool, job_id: int, content: bytes, filename: str, actor: Principal, request_id: str,
         period: str | None, create_regions: bool) -> None:
    """The background part: the whole import, recorded in the job (a failure marks it failed)."""
    try:
        importer.run_import(pool.connection, content, filename, actor=actor, job_id=job_id, request_id=request_id,
                            period=period, create_regions=create_regions)
    except Exception:  # noqa: BLE001 (recorded in the job and logged by run_import)
        pass


@router.post("/households/import", status_code=202,
             summary="批量导入农户及各期数据:本系统模板,或全国防返贫监测信息系统导出的 监测对象信息 / 行政村信息"
                     "(.xlsx/.xls/.csv,不超过 64 MB;后台导入,返回任务编号)")
async def upload(
    request: Request,
    background: BackgroundTasks,
    file: UploadFile = File(..., description="按模板填写的 .xlsx/.csv(UTF-8/GBK),或国家系统导出的原表"),
    period: str | None = Form(None, pattern=r"^(19|20)\d{2}$", description="国家系统导出的收支数据所属年度(默认取标题行中的年份)"),
    create_regions: bool = Form(False, description="国家系统导出中不认识的乡、村在文件所写的县下新建(仅领导小组办公室)"),
    p: Principal = Depends(require(*ENTRY)),
):
    if create_regions and not p.has_role("office_admin"):
        raise HTTPException(status_code=403, detail="只有领导小组办公室可以在导入时新建乡、村 (office only)")
    content = await file.read(importer.MAX_UPLOAD_BYTES + 1)
    if len(content) > importer.MAX_UPLOAD_BYTES:
        raise HTTPException(status_code=413, detail=f"文件超过 {importer.MAX_UPLOAD_BYTES // 2**20} MB 上限,"
                                                    "请分成几个文件导入 (file too large)")
    filename = (file.filename or "upload").rsplit("/", 1)[-1].rsplit("\\", 1)[-1]

    def check_and_create() -> int:
        # only the header now (the required columns, or 422 naming them); the rows in the background
        importer.read_file(content, filename, header_only=True)
        with request.app.state.pool.connection() as conn:
            return importer.create_job(conn, filename, p.user_id)

    try:
        job_id = await run_in_threadpool(check_and_create)
    except importer.ImportFileError as e:
        if e.missing:
            raise HTTPException(status_code=e.status, detail={"message": str(e), "missing": e.missing}) from None
        raise HTTPException(status_code=e.status, detail=str(e)) from None
    background.add_task(_run, request.app.state.pool, job_id, content, filename, p, request.state.request_id,
                        period, create_regions)
    return JSONResponse(status_code=202, content={
        "id": job_id, "status": "queued", "filename": filename,
        "progress_url": f"/api/import-jobs/{job_id}", "errors_url": f"/api/import-jobs/{job_id}/errors.xlsx",
    })


@router.get("/households/export.xlsx", responses=XLSX,
            summary="导出本辖区农户(按全国防返贫监测信息系统 监测对象信息 的列名,每人一行;unmasked=true 仅办公室,记入审计)")
def export_households(request: Request, unmasked: bool = False, p: Principal = Depends(require(*ENTRY))):
    if unmasked and not p.has_role("office_admin"):
        raise HTTPException(status_code=403, detail="只有领导小组办公室可以导出完整证件号码 (office only)")
    prefix = jurisdiction_prefix(p.region_code, p.region_level)
    with request.app.state.pool.connection() as conn:
        region = conn.execute("SELECT name FROM common.regions WHERE code = %s", (p.region_code,)).fetchone()
        content = national_export.persons_workbook(national_repository.persons_for_export(conn, prefix),
                                                   region["name"] if region else "", unmasked)
        if unmasked:
            audit.record(conn, service="alerts", principal=p, action="households.export_unmasked", entity="region",
                         entity_id=p.region_code, request_id=request.state.request_id)
    return Response(content, media_type=XLSX_MEDIA_TYPE,
                    headers=_attachment(f"监测对象信息-{datetime.now(TZ):%Y%m%d%H%M}.xlsx"))


@router.get("/alerts/export.xlsx", responses=XLSX, summary="导出本辖区预警(按全国系统的列名:致贫/返贫风险、监测对象类别等)")
def export_alerts(request: Request, p: Principal = Depends(require())):
    prefix = jurisdiction_prefix(p.region_code, p.region_level)
    with request.app.state.pool.connection() as conn:
        region = conn.execute("SELECT name FROM common.regions WHERE code = %s", (p.region_code,)).fetchone()
        rows = national_repository.alerts_for_export(conn, prefix)
    content = national_export.alerts_workbook(rows, region["name"] if region else "")
    return Response(content, media_type=XLSX_MEDIA_TYPE, headers=_attachment(f"预警信息-{datetime.now(TZ):%Y%m%d%H%M}.xlsx"))


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
        "persons": summary.get("persons"), "ignored_columns": summary.get("ignored_columns", []),
        **{k: summary[k] for k in ("villages", "villages_changed", "regions_created") if k in summary},
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
