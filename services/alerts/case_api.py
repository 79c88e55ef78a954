"""Routes of alert cases (监测帮扶案件): the list by jurisdiction, status and SLA colour,
a case's page with its timeline, counts per township for leaders, the printable 公示,
and the actions — each an Update of the case's workflow.

An action is checked before it is sent: the case must be visible to the caller (else
404), the workflow's own state (queried) decides with the same pure rules as its
validator whether the caller's unit may act (403), whether the case is at the right
stage (409) and whether the content is complete (422, naming the field); the measures'
units must exist in the household's county (422). A refusal by the validator itself
(the state moved on in between) comes back as 409, as for the steps of tasks.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from urllib.parse import quote

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse
from temporalio.client import Client, WorkflowQueryFailedError, WorkflowUpdateFailedError
from temporalio.service import RPCError

from services.alerts import case_repository as repo
from services.alerts.case_deadlines import SLA_LABELS, TZ
from services.alerts.case_notice import build_notice, notice_filename, render_notice
from services.alerts.case_page import page_of
from services.alerts.case_rules import case_rules
from services.alerts.case_schemas import (
    CaseCounts,
    CaseList,
    ConfirmIn,
    EliminateIn,
    FollowUpIn,
    PlanIn,
    ReasonIn,
    TownshipCounts,
    VerifyIn,
)
from services.alerts.cases import STAGE_LABELS, STATUS_LABELS, CaseAction, CaseState, Measure, refusal_of
from services.common import excel
from services.common.auth import Principal, require
from services.common.excel_http import EXPORT_MAX_ROWS, XLSX_RESPONSE, Format, export_format, export_rows, xlsx_download
from services.common.http import DbId
from services.common.temporal import temporal
from services.common.units import code_prefix, jurisdiction_prefix
from workflows.case_starter import case_workflow_id
from workflows.case_workflow import AlertCaseWorkflow

router = APIRouter(prefix="/api", tags=["监测帮扶案件"])
READERS = ("office_admin", "leader", "unit_head", "unit_staff", "data_entry")  # not ops: household data
TOWNSHIP = ("unit_staff", "unit_head", "office_admin")  # 核查、帮扶计划、回访: the township (or the office)
COUNTY = ("office_admin",)  # 认定、不予认定、风险消除、继续监测
REFUSAL_STATUS = {"forbidden": 403, "state": 409, "content": 422}
QUERY_TIMEOUT = timedelta(seconds=10)
COUNT_KEYS = ("open", "green", "amber", "red", "escalated", "identifying", "monitored", "basic_support",
              "eliminated", "rejected")


def labelled(row: dict) -> dict:
    return {**row, "stage_label": STAGE_LABELS[row["stage"]], "status_label": STATUS_LABELS[row["status"]],
            "sla_label": SLA_LABELS[row["sla"]]}


CASE_COLUMNS = [  # the list as a 监测帮扶案件台账 in Excel
    excel.Column("id", "案件编号"),
    excel.Column("household_no", "户编号"),
    excel.Column("head_name", "户主"),
    excel.Column("category", "农户类别"),
    excel.Column("township_name", "乡镇"),
    excel.Column("village_name", "村"),
    excel.Column("monitoring_kind", "监测对象类型"),
    excel.Column("stage_label", "办理阶段"),
    excel.Column("status_label", "状态"),
    excel.Column("sla_label", "时限"),
    excel.Column("alerted_at", "预警时间"),
    excel.Column("due_at", "当前阶段期限"),
    excel.Column("overdue", "是否逾期"),
    excel.Column("escalation_level", "督办级别"),
    excel.Column("stable_months", "稳定月数"),
]


def _scope(p: Principal, region: str | None) -> str | None:
    """The code prefix to list: the caller's jurisdiction, narrowed by `region`; None when they do not meet."""
    own = jurisdiction_prefix(p.region_code, p.region_level)
    if region is None:
        return own
    wanted = code_prefix(region)
    if wanted.startswith(own):
        return wanted
    return own if own.startswith(wanted) else None


@router.get("/cases", response_model=CaseList, responses=XLSX_RESPONSE,
            summary="监测帮扶案件列表(本辖区;按状态、阶段、超时状态、乡镇;format=xlsx 导出 Excel 台账)")
def list_cases(
    request: Request,
    status: str | None = Query(None, pattern="^(open|rejected|eliminated)$", description="办理中/不予认定/风险已消除"),
    stage: str | None = Query(None, pattern="^(verify|notice|confirm|plan|follow_up|elimination_proposed|closed)$"),
    sla: str | None = Query(None, pattern="^(green|amber|red)$", description="正常/临期/逾期"),
    township: str | None = Query(None, pattern=r"^\d{12}$", description="乡镇区划代码"),
    region: str | None = Query(None, pattern=r"^\d{12}$", description="区划代码(本辖区内)"),
    mine: bool = Query(False, description="只看本单位承办(核查、回访)的案件"),
    limit: int = Query(20, ge=1, le=200),
    offset: int = Query(0, ge=0, le=1_000_000_000),
    fmt: Format = Depends(export_format),
    p: Principal = Depends(require(*READERS)),
):
    prefix = _scope(p, region)
    total, rows = 0, []
    if prefix is not None:
        shown = {"limit": EXPORT_MAX_ROWS, "offset": 0} if fmt == "xlsx" else {"limit": limit, "offset": offset}
        with request.app.state.pool.connection() as conn:
            total, rows = repo.list_cases(conn, prefix, **shown, stage=stage, status=status, sla=sla,
                                          township=township, unit_id=p.unit_id if mine else None)
    items = [labelled(r) for r in rows]
    if fmt == "xlsx":
        return xlsx_download(f"{p.unit_name}监测帮扶案件台账", "监测帮扶案件", CASE_COLUMNS,
                             export_rows(total, lambda *_: items))
    return {"total": total, "limit": limit, "offset": offset, "items": items}


@router.get("/cases/counts", response_model=CaseCounts, summary="各乡镇监测帮扶案件数(办理中、正常/临期/逾期、督办)")
def case_counts(request: Request, by: str = Query("township", pattern="^township$", description="分组方式"),
                region: str | None = Query(None, pattern=r"^\d{12}$", description="区划代码(本辖区内)"),
                p: Principal = Depends(require(*READERS))):
    prefix = _scope(p, region)
    with request.app.state.pool.connection() as conn:
        rows = repo.counts_by_township(conn, prefix) if prefix is not None else []
    townships = [TownshipCounts(**r, overdue=r["red"]) for r in rows]
    total = {k: sum(getattr(t, k) for t in townships) for k in COUNT_KEYS}
    return CaseCounts(by=by, townships=townships, total=TownshipCounts(
        township_code="", township_name="合计", overdue=total["red"], **total))


def _visible(conn, p: Principal, case_id: int) -> dict:
    row = repo.get_case(conn, case_id)
    if row is None or not p.covers_region(row["village_code"]):
        raise HTTPException(status_code=404, detail=f"案件 {case_id} 不存在 (case not found)")
    return row


@router.get("/cases/{case_id}", summary="案件详情:农户(证件号码脱敏)、时间线、期限、回访、帮扶措施、认定")
def case_page(case_id: DbId, request: Request, p: Principal = Depends(require(*READERS))):
    with request.app.state.pool.connection() as conn:
        _visible(conn, p, case_id)
        return page_of(conn, case_id, p)


@router.get("/cases/{case_id}/notice", response_class=HTMLResponse,
            summary="公示(可打印的 HTML;download=true 下载为文件),不含证件号码、电话、银行账户、健康状况")
def case_notice(case_id: DbId, request: Request, download: bool = Query(False, description="作为文件下载"),
                p: Principal = Depends(require(*READERS))):
    with request.app.state.pool.connection() as conn:
        case = _visible(conn, p, case_id)
        published_at = repo.notice_published_at(conn, case_id, case["run"])
        if published_at is None or case["notice_ends_at"] is None:
            raise HTTPException(status_code=409, detail="该案件尚未核查拟纳入监测,没有公示 (no notice for this case)")
        notice = build_notice(case, repo.household_for_notice(conn, case["household_id"]),
                              repo.case_causes(conn, case_id, case["alerted_at"]), published_at)
    headers = {"Content-Disposition": f"attachment; filename=\"notice.html\"; "
                                      f"filename*=UTF-8''{quote(notice_filename(notice))}"} if download else None
    return HTMLResponse(render_notice(notice), headers=headers)


# ---------------------------------------------------------------- actions

def _content_error(field: str, message: str) -> RequestValidationError:
    """The shared 422 shape: `errors` with the field, in Chinese."""
    return RequestValidationError([{"loc": ("body", *field.split(".")), "msg": message, "type": "zh_invalid"}])


def _check_units(conn, case: dict, measures: tuple[Measure, ...]) -> None:
    """Each measure's unit must exist (confirmed) in the household's county: its departments and townships."""
    units = repo.units_by_id(conn, [m.unit_id for m in measures])
    county = code_prefix(case["county_code"])
    for i, m in enumerate(measures):
        unit = units.get(m.unit_id)
        if unit is None or not unit["confirmed"] or not unit["region_code"].startswith(county):
            raise _content_error(f"measures.{i}.unit_id",
                                 f"第{i + 1}项措施的责任单位(编号 {m.unit_id})不存在或不在农户所在县 (unknown unit)")


async def _state(client: Client, case_id: int) -> CaseState:
    """The workflow's own state (the read model may lag a clock event behind); no worker within the timeout: 409."""
    handle = client.get_workflow_handle(case_workflow_id(case_id))
    try:
        return await handle.query(AlertCaseWorkflow.case_state, rpc_timeout=QUERY_TIMEOUT)
    except (WorkflowQueryFailedError, RPCError) as e:
        reason = getattr(e, "message", None) or str(e)
        raise HTTPException(status_code=409, detail=f"案件的工作流不可用或已结束 ({reason})") from None


async def _act(request: Request, p: Principal, client: Client, case_id: int, key: str | None, name: str,
               **content) -> dict:
    with request.app.state.pool.connection() as conn:
        case = _visible(conn, p, case_id)
        done = repo.action_result(conn, key) if key is not None else None
    if done is not None and done.get("case_id") != case_id:
        raise HTTPException(status_code=409, detail="该幂等键已用于另一案件 (idempotency key used for another case)")
    if done is not None:  # the workflow answers a repeated key itself (the first result, or 409 for another action)
        return await _update(client, case_id, _action(p, key, name, content))
    if case["status"] != "open":
        raise HTTPException(status_code=409, detail=f"案件已结案({STATUS_LABELS[case['status']]}) (case closed)")
    if case["workflow_started_at"] is None:
        raise HTTPException(status_code=409, detail="案件的工作流尚未启动,请稍后再试 (workflow not started yet)")
    action = _action(p, key, name, content)
    state = await _state(client, case_id)
    refused = refusal_of(state, action, datetime.now(TZ), case_rules(case["village_code"]))
    if refused and refused.kind == "content":
        raise _content_error(refused.field or "body", refused.reason)
    if refused:
        raise HTTPException(status_code=REFUSAL_STATUS[refused.kind], detail=refused.reason)
    if action.measures:
        with request.app.state.pool.connection() as conn:
            _check_units(conn, case, action.measures)
    return await _update(client, case_id, action)


def _action(p: Principal, key: str | None, name: str, content: dict) -> CaseAction:
    return CaseAction(name=name, idempotency_key=key or uuid.uuid4().hex, actor_user_id=p.user_id,
                      actor_unit_id=p.unit_id, actor_roles=p.roles,
                      actor_region_prefix=jurisdiction_prefix(p.region_code, p.region_level), **content)


async def _update(client: Client, case_id: int, action: CaseAction) -> dict:
    """The Update; a refusal by the validator (the state moved on since the check) is a 409, as for steps."""
    try:
        return await client.get_workflow_handle(case_workflow_id(case_id)).execute_update(AlertCaseWorkflow.act, action)
    except WorkflowUpdateFailedError as e:
        cause = e.cause
        raise HTTPException(status_code=409, detail=getattr(cause, "message", None) or str(cause or e)) from None
    except RPCError as e:
        raise HTTPException(status_code=409, detail=f"案件的工作流不可用或已结束 ({e.message})") from None


KEY = Header(None, max_length=200, description="幂等键:重复提交同一键不会重复办理")


@router.post("/cases/{case_id}/verify", summary="核查:登记入户核查记录(拟纳入则进入村级公示)")
async def verify(case_id: DbId, body: VerifyIn, request: Request, idempotency_key: str | None = KEY,
                 p: Principal = Depends(require(*TOWNSHIP)), client: Client = Depends(temporal)):
    return await _act(request, p, client, case_id, idempotency_key, "verify", visited_on=body.visited_on.isoformat(),
                      visitors=tuple(body.visitors), text=body.findings,
                      attachments=tuple(str(a) for a in body.attachments), proposed=body.proposed)


@router.post("/cases/{case_id}/confirm", summary="认定:纳入监测(须选监测对象类型)")
async def confirm(case_id: DbId, body: ConfirmIn, request: Request, idempotency_key: str | None = KEY,
                  p: Principal = Depends(require(*COUNTY)), client: Client = Depends(temporal)):
    return await _act(request, p, client, case_id, idempotency_key, "confirm", monitoring_kind=body.monitoring_kind)


@router.post("/cases/{case_id}/reject", summary="不予认定(须写理由),案件结案")
async def reject(case_id: DbId, body: ReasonIn, request: Request, idempotency_key: str | None = KEY,
                 p: Principal = Depends(require(*COUNTY)), client: Client = Depends(temporal)):
    return await _act(request, p, client, case_id, idempotency_key, "reject", text=body.reason)


@router.post("/cases/{case_id}/plan", summary="帮扶计划(一户一策):措施、责任单位、完成时限;各措施进入责任单位待办")
async def plan(case_id: DbId, body: PlanIn, request: Request, idempotency_key: str | None = KEY,
               p: Principal = Depends(require(*TOWNSHIP)), client: Client = Depends(temporal)):
    measures = tuple(Measure(m.kind, m.unit_id, m.due_date.isoformat(), m.content) for m in body.measures)
    return await _act(request, p, client, case_id, idempotency_key, "plan", measures=measures)


@router.post("/cases/{case_id}/visit", summary="回访:收入、“三保障”和饮水安全")
async def visit(case_id: DbId, body: FollowUpIn, request: Request, idempotency_key: str | None = KEY,
                p: Principal = Depends(require(*TOWNSHIP)), client: Client = Depends(temporal)):
    flags = body.model_dump(include={"compulsory_education_ok", "basic_medical_ok", "housing_ok", "drinking_water_ok"})
    return await _act(request, p, client, case_id, idempotency_key, "visit", visited_on=body.visited_on.isoformat(),
                      income=body.income, text=body.note, **flags)


@router.post("/cases/{case_id}/eliminate", summary="确认风险消除(收入稳定满六个月、“三保障”和饮水安全有保障)")
async def eliminate(case_id: DbId, request: Request, body: EliminateIn | None = None, idempotency_key: str | None = KEY,
                    p: Principal = Depends(require(*COUNTY)), client: Client = Depends(temporal)):
    return await _act(request, p, client, case_id, idempotency_key, "eliminate", text=(body or EliminateIn()).note)


@router.post("/cases/{case_id}/keep-monitoring", summary="不同意风险消除,继续监测(须写理由)")
async def keep_monitoring(case_id: DbId, body: ReasonIn, request: Request, idempotency_key: str | None = KEY,
                          p: Principal = Depends(require(*COUNTY)), client: Client = Depends(temporal)):
    return await _act(request, p, client, case_id, idempotency_key, "keep_monitoring", text=body.reason)

