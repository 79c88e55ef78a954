"""Routes of what people see of the task workflows: a unit's inbox, one step with its
history, escalations and leaders' instructions (批示), progress per document and unit,
and notifications. Lists can also be downloaded as Excel (`?format=xlsx`).

Everything is read from the tables the workflows mirror into PostgreSQL; the only
change made here is a leader's instruction on an escalation (and marking a
notification read). Acknowledging, submitting, extensions and approval are Temporal
Updates and live elsewhere.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from psycopg_pool import ConnectionPool
from starlette.concurrency import run_in_threadpool

from services.common import audit, excel
from services.common.auth import Principal, admit, caller_id, require
from services.common.db import reading
from services.common.excel_http import XLSX_RESPONSE, Format, export_format, export_rows, xlsx_download
from services.common.http import MAX_ID, DbId
from services.common.query_params import QueryModel
from services.common.units import jurisdiction_prefix
from services.tasks import inbox_repository as repo
from services.tasks.inbox_schemas import (
    HISTORY_LABELS,
    MAX_LIMIT,
    MAX_OFFSET,
    ROLE_LABELS,
    STATUS_LABELS,
    EscalationItem,
    EscalationPage,
    InboxPage,
    InboxQuery,
    InstructionRequest,
    Notification,
    NotificationPage,
    ProgressPage,
    ReviewPage,
    StepDetail,
    escalation_level_label,
)

router = APIRouter(prefix="/api")


async def _page(limit: int = Query(20, ge=1, le=MAX_LIMIT, description="每页条数 (默认 20, 手机一屏)"),
          offset: int = Query(0, ge=0, le=MAX_OFFSET)) -> dict:
    return {"limit": limit, "offset": offset}  # async: no I/O, no trip through the thread pool


def _id_query(description: str):
    return Query(None, ge=1, le=MAX_ID, description=description)


def _prefix(p: Principal) -> str:
    return jurisdiction_prefix(p.region_code, p.region_level)


def _labelled(row: dict) -> dict:
    out = dict(row)
    if "status" in out:
        out["status_label"] = STATUS_LABELS.get(out["status"], out["status"])
    if "to_role" in out:
        out["to_role_label"] = ROLE_LABELS.get(out["to_role"], out["to_role"])
    return out


def _task(row: dict) -> str:
    """A step's task as its sheets show it: reference and title (一.(一) 开展技能培训)."""
    return f"{row['task_ref']} {row['task_title']}"


# ---------------------------------------------------------------- inbox

INBOX_COLUMNS = [
    excel.Column(_task, "任务", width=48),
    excel.Column("label", "步骤"),
    excel.Column("period", "期间"),
    excel.Column("due_date", "截止时间"),
    excel.Column("status_label", "状态"),
    excel.Column("overdue", "是否逾期"),
    excel.Column(lambda r: escalation_level_label(r["escalation_level"]), "督办级别"),
]


_inbox_query = QueryModel(InboxQuery)


@router.get("/inbox", response_model=InboxPage, responses=XLSX_RESPONSE, tags=["待办"],
            summary="本单位待办:已开启的步骤,按截止时间排序", openapi_extra=_inbox_query.openapi)
async def inbox(request: Request, user_id: int = Depends(caller_id), q: InboxQuery = Depends(_inbox_query)):
    """The caller is read and admitted in the inbox's own statement (`inbox_of_caller`), and
    the page is sent as PostgreSQL built it: the most visited route does one round trip.
    (A caller with a good token whose query is malformed hears 422 before their row is read.)"""
    filters = q.filters()
    limit = 0 if q.format == "xlsx" else q.limit  # the workbook reads every row itself
    async with request.app.state.read_pool.connection() as conn:
        row = await repo.inbox_of_caller(conn, user_id, limit=limit, offset=q.offset, **filters)
    p = admit(row)
    if q.format == "xlsx":
        return await run_in_threadpool(_inbox_xlsx, request.app.state.pool, p, filters)
    return Response(row["body"], media_type="application/json")


def _inbox_xlsx(pool: ConnectionPool, p: Principal, filters: dict):
    with reading(pool) as conn:
        total = repo.count_inbox(conn, p.unit_id, **filters)
        rows = export_rows(total, lambda lim, off: repo.list_inbox(conn, p.unit_id, limit=lim, offset=off, **filters))
    return xlsx_download(f"{p.unit_name}待办事项", "待办事项", INBOX_COLUMNS, rows)


# ---------------------------------------------------------------- the office's review queue

REVIEW_COLUMNS = [
    excel.Column("unit_name", "单位", width=24),
    excel.Column(_task, "任务", width=40),
    excel.Column("label", "步骤"),
    excel.Column("period", "期间"),
    excel.Column("due_date", "截止时间"),
    excel.Column("status_label", "状态"),
    excel.Column("submitted_at", "报送时间"),
    excel.Column(lambda r: "是" if r["extension_requested"] else "", "申请延期"),
]


@router.get("/reviews", response_model=ReviewPage, responses=XLSX_RESPONSE, tags=["待办"],
            summary="待审核:本辖区各单位已报送的材料和延期申请,等待最久的在前")
def reviews(request: Request, page: dict = Depends(_page), fmt: Format = Depends(export_format),
            p: Principal = Depends(require("office_admin"))):
    prefix = _prefix(p)
    with request.app.state.pool.connection() as conn:
        total = repo.count_reviews(conn, prefix)
        if fmt == "xlsx":
            rows = export_rows(total, lambda lim, off: repo.list_reviews(conn, prefix, limit=lim, offset=off))
            return xlsx_download("待审核事项", "待审核事项", REVIEW_COLUMNS, [_labelled(r) for r in rows])
        rows = repo.list_reviews(conn, prefix, **page)
    return {"total": total, **page, "items": [_labelled(r) for r in rows]}


# ---------------------------------------------------------------- one step

def _sees_step(p: Principal, step: dict) -> bool:
    if step["unit_id"] == p.unit_id:
        return True
    return p.has_role("office_admin", "leader") and p.covers_region(step["task_region_code"])


@router.get("/steps/{step_id}", response_model=StepDetail, tags=["待办"], summary="步骤详情:任务、办理记录、督办与批示")
def step_detail(request: Request, step_id: int = Path(ge=1, le=MAX_ID), p: Principal = Depends(require())):
    with request.app.state.pool.connection() as conn:
        step = repo.get_step(conn, step_id)
        if step is None or not _sees_step(p, step):
            raise HTTPException(status_code=404, detail=f"步骤 {step_id} 不存在 (step not found)")
        task = repo.get_task_summary(conn, step["task_id"])
        history = repo.step_history(conn, step_id)
        escalations = repo.step_escalations(conn, step_id)
    return {
        **_labelled(step),
        "task": task,
        "history": [{**h, "action_label": HISTORY_LABELS.get(h["action"], h["action"])} for h in history],
        "escalations": [_labelled(e) for e in escalations],
    }


# ---------------------------------------------------------------- escalations

ESCALATION_COLUMNS = [
    excel.Column("at", "升级时间"),
    excel.Column(lambda r: escalation_level_label(r["level"]), "督办级别"),
    excel.Column("unit_name", "单位", width=24),
    excel.Column(_task, "任务", width=40),
    excel.Column("step_label", "步骤"),
    excel.Column("due_date", "截止时间"),
    excel.Column(lambda r: STATUS_LABELS.get(r["status"], r["status"]), "状态"),
    excel.Column("instruction", "批示", width=40),
    excel.Column("instructed_by_name", "批示人"),
    excel.Column("instructed_at", "批示时间"),
]


@router.get("/escalations", response_model=EscalationPage, responses=XLSX_RESPONSE, tags=["督办"],
            summary="督办事项:升级到本人的逾期步骤,按升级时间排序")
def escalations(
    request: Request,
    pending_instruction: bool | None = Query(None, description="true 只看未批示,false 只看已批示"),
    level: int | None = Query(None, ge=1, le=9, description="督办级别:1 单位负责人,2 分管领导,3 领导小组办公室"),
    page: dict = Depends(_page),
    fmt: Format = Depends(export_format),
    p: Principal = Depends(require("leader", "office_admin", "unit_head")),
):
    prefix = _prefix(p)
    filters = dict(
        office_prefix=prefix if p.has_role("office_admin") else None,
        leader_prefix=prefix if p.has_role("leader") else None,
        head_unit_id=p.unit_id if p.has_role("unit_head") else None,
        pending_instruction=pending_instruction,
        level=level,
    )
    with request.app.state.pool.connection() as conn:
        total = repo.count_escalations(conn, **filters)
        if fmt == "xlsx":
            rows = export_rows(total, lambda lim, off: repo.list_escalations(conn, limit=lim, offset=off, **filters))
            return xlsx_download("督办事项", "督办事项", ESCALATION_COLUMNS, rows)
        rows = repo.list_escalations(conn, **page, **filters)
    return {"total": total, **page, "items": [_labelled(r) for r in rows]}


@router.post("/escalations/{escalation_id}/instruction", response_model=EscalationItem, tags=["督办"],
             summary="领导批示:附在督办事项上并通知责任单位(再次批示替换原批示)")
def instruct(
    body: InstructionRequest,
    request: Request,
    escalation_id: int = Path(ge=1, le=MAX_ID),
    p: Principal = Depends(require("leader")),
):
    with request.app.state.pool.connection() as conn:
        esc = repo.get_escalation(conn, escalation_id, for_update=True)
        if esc is None or not p.covers_region(esc["region_code"]):
            raise HTTPException(status_code=404, detail=f"督办事项 {escalation_id} 不存在 (escalation not found)")
        if esc["instruction"] == body.text:
            return _labelled(esc)  # the same instruction again (a double click) changes nothing
        before = _instruction_state(esc) if esc["instruction"] is not None else None
        repo.set_instruction(conn, escalation_id, body.text, p.user_id)
        repo.insert_history(conn, esc["step_id"], "instruction", p.user_id, {
            "escalation_id": escalation_id, "level": esc["level"], "text": body.text, "replaces": esc["instruction"],
        })
        repo.insert_notification(conn, unit_id=esc["unit_id"], user_id=None, kind="instruction", title="领导批示",
                                 body=body.text, step_id=esc["step_id"])
        after = repo.get_escalation(conn, escalation_id)
        audit.record(
            conn, service="tasks", principal=p, action="escalation.instruction", entity="escalation",
            entity_id=escalation_id, before=before, after=_instruction_state(after),
            request_id=request.state.request_id,
        )
    return _labelled(after)


def _instruction_state(esc: dict) -> dict[str, Any]:
    at = esc["instructed_at"]
    return {"step_id": esc["step_id"], "level": esc["level"], "instruction": esc["instruction"],
            "instructed_by": esc["instructed_by"], "instructed_at": at.isoformat() if at else None}


# ---------------------------------------------------------------- progress

PROGRESS_COLUMNS = [
    excel.Column("document_title", "政策文件", width=40),
    excel.Column("unit_name", "单位", width=28),
    excel.Column("steps", "步骤总数"),
    excel.Column("done", "已完成"),
    excel.Column("submitted", "已提交"),
    excel.Column("due", "已到期"),
    excel.Column("overdue", "逾期"),
    excel.Column("on_time_rate", "按时率", number_format="0.0%"),
]


def _with_rate(row: dict) -> dict:
    return {**row, "on_time_rate": round(row["on_time"] / row["due"], 4) if row["due"] else None}


@router.get("/progress", response_model=ProgressPage, responses=XLSX_RESPONSE, tags=["进度"],
            summary="办理进度:辖区内按政策文件和单位统计")
def progress(
    request: Request,
    document_id: DbId | None = _id_query("政策文件"),
    unit_id: DbId | None = _id_query("单位"),
    page: dict = Depends(_page),
    fmt: Format = Depends(export_format),
    p: Principal = Depends(require("office_admin", "leader")),
):
    prefix = _prefix(p)
    with request.app.state.pool.connection() as conn:
        total = repo.count_progress(conn, prefix, document_id=document_id, unit_id=unit_id)
        if fmt == "xlsx":
            rows = export_rows(total, lambda lim, off: repo.list_progress(
                conn, prefix, document_id=document_id, unit_id=unit_id, limit=lim, offset=off))
            return xlsx_download("办理进度", "办理进度", PROGRESS_COLUMNS, [_with_rate(r) for r in rows])
        rows = repo.list_progress(conn, prefix, document_id=document_id, unit_id=unit_id, **page)
    return {"total": total, **page, "items": [_with_rate(r) for r in rows]}


# ---------------------------------------------------------------- notifications

NOTIFICATION_COLUMNS = [
    excel.Column("at", "时间"),
    excel.Column("title", "标题", width=20),
    excel.Column("body", "内容", width=48),
    excel.Column("task_title", "任务", width=32),
    excel.Column("step_label", "步骤"),
    excel.Column(lambda r: "已读" if r["read"] else "未读", "状态"),
    excel.Column("read_at", "阅读时间"),
]


@router.get("/notifications", response_model=NotificationPage, responses=XLSX_RESPONSE, tags=["通知"],
            summary="本人和本单位的通知,最新在前")
def notifications(
    request: Request,
    unread: bool | None = Query(None, description="true 只看未读,false 只看已读"),
    page: dict = Depends(_page),
    fmt: Format = Depends(export_format),
    p: Principal = Depends(require()),
):
    with request.app.state.pool.connection() as conn:
        total = repo.count_notifications(conn, p.user_id, p.unit_id, unread)
        if fmt == "xlsx":
            rows = export_rows(total, lambda lim, off: repo.list_notifications(
                conn, p.user_id, p.unit_id, unread, limit=lim, offset=off))
            return xlsx_download(f"{p.unit_name}通知", "通知", NOTIFICATION_COLUMNS, rows)
        unread_total = total if unread else repo.count_notifications(conn, p.user_id, p.unit_id, True)
        rows = repo.list_notifications(conn, p.user_id, p.unit_id, unread, **page)
    return {"total": total, "unread": unread_total, **page, "items": rows}


@router.post("/notifications/{notification_id}/read", response_model=Notification, tags=["通知"], summary="标记已读")
def read_notification(request: Request, notification_id: int = Path(ge=1, le=MAX_ID),
                      p: Principal = Depends(require())):
    with request.app.state.pool.connection() as conn:
        row = repo.mark_read(conn, notification_id, p.user_id, p.unit_id)
    if row is None:
        raise HTTPException(status_code=404, detail=f"通知 {notification_id} 不存在 (notification not found)")
    return row
