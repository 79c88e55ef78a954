"""Routes of the actions on steps: each becomes an Update of the task's workflow,
whose validator refuses a wrong unit, a wrong state or missing content before
anything is written. Every action carries an idempotency key (header
`Idempotency-Key`, or generated); repeating it changes nothing."""

from __future__ import annotations

import uuid
from datetime import date

from fastapi import APIRouter, Depends, Header, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.service import RPCError

from services.common.auth import Principal, require
from services.common.http import DbId
from services.common.temporal import temporal
from services.tasks.attachment_api import check_own
from services.tasks.ledgers import task_sign_off_refusal
from services.tasks.step_rules import Action
from workflows.task_plan import SignOff
from workflows.task_starter import task_workflow_id
from workflows.task_workflow import PolicyTaskWorkflow

router = APIRouter(prefix="/api", tags=["待办与报送"])


class ActionBody(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    text: str = Field(default="", max_length=20000, description="报送内容、理由或意见")
    progress: int | None = Field(default=None, ge=0, le=100, description="进度 %")
    achieved: dict[str, float] = Field(default_factory=dict, description="完成值: 指标 → 数值")
    attachments: list[int] = Field(default_factory=list, max_length=20, description="附件 id (先上传到 /api/attachments)")
    new_due_date: date | None = Field(default=None, description="新的截止日期")
    new_unit_id: int | None = Field(default=None, gt=0, description="改派到的单位")


class SignOffBody(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    text: str = Field(min_length=1, max_length=5000, description="完成情况说明")


def _step(request: Request, step_id: int) -> dict:
    with request.app.state.pool.connection() as conn:
        row = conn.execute(
            """SELECT s.id, s.step_key, s.task_id, s.unit_id, t.region_code FROM tasks.steps s
               JOIN tasks.tasks t ON t.id = s.task_id WHERE s.id = %s""",
            (step_id,),
        ).fetchone()
    if row is None:
        raise HTTPException(status_code=404, detail=f"步骤 {step_id} 不存在 (step not found)")
    return row


async def _update(client: Client, task_id: int, update, arg) -> dict:
    handle = client.get_workflow_handle(task_workflow_id(task_id))
    try:
        return await handle.execute_update(update, arg)
    except WorkflowUpdateFailedError as e:
        cause = e.cause
        message = getattr(cause, "message", None) or str(cause or e)
        raise HTTPException(status_code=409, detail=message) from None
    except RPCError as e:
        raise HTTPException(status_code=409, detail=f"任务的工作流不可用或已结束 ({e.message})") from None


def _action_route(name: str, roles: tuple[str, ...], summary: str):
    async def route(
        step_id: int,
        request: Request,
        body: ActionBody | None = None,
        idempotency_key: str | None = Header(None, max_length=200),
        p: Principal = Depends(require(*roles)),
        client: Client = Depends(temporal),
    ):
        body = body or ActionBody()
        step = _step(request, step_id)
        with request.app.state.pool.connection() as conn:
            check_own(conn, p, body.attachments)
        visible = step["unit_id"] == p.unit_id or ("office_admin" in p.roles and p.covers_region(step["region_code"]))
        if not visible:
            raise HTTPException(status_code=404, detail=f"步骤 {step_id} 不存在 (step not found)")
        action = Action(
            name=name, step_key=step["step_key"], idempotency_key=idempotency_key or uuid.uuid4().hex,
            actor_user_id=p.user_id, actor_unit_id=p.unit_id, actor_roles=p.roles, text=body.text,
            progress=body.progress, achieved=body.achieved, attachments=tuple(str(a) for a in body.attachments),
            new_due_date=body.new_due_date.isoformat() if body.new_due_date else None, new_unit_id=body.new_unit_id,
        )
        return await _update(client, step["task_id"], PolicyTaskWorkflow.act, action)

    route.__name__ = name
    router.add_api_route(f"/steps/{{step_id}}/{name.replace('_', '-')}", route, methods=["POST"], summary=summary)


UNIT = ("unit_staff", "unit_head", "office_admin")
_action_route("acknowledge", UNIT, "签收")
_action_route("submit", UNIT, "报送(文字、进度、完成值、附件)")
_action_route("request_extension", UNIT, "申请延期")
_action_route("approve", ("office_admin",), "审核通过")
_action_route("return", ("office_admin",), "退回(须写意见)")
_action_route("grant_extension", ("office_admin",), "同意延期")
_action_route("refuse_extension", ("office_admin",), "不同意延期")
_action_route("reassign", ("office_admin",), "改派承办单位")


@router.post("/tasks/{task_id}/sign-off", summary="任务销号")
async def sign_off(task_id: DbId, body: SignOffBody, request: Request, p: Principal = Depends(require("office_admin")),
                   client: Client = Depends(temporal)):
    with request.app.state.pool.connection() as conn:
        task = conn.execute("SELECT id, region_code FROM tasks.tasks WHERE id = %s", (task_id,)).fetchone()
        refusal = task_sign_off_refusal(conn, task_id) if task else None
    if task is None or not p.covers_region(task["region_code"]):
        raise HTTPException(status_code=404, detail=f"任务 {task_id} 不存在 (task not found)")
    if refusal:
        raise HTTPException(status_code=409, detail=refusal)
    return await _update(client, task_id, PolicyTaskWorkflow.sign_off, SignOff(p.user_id, list(p.roles), body.text))
