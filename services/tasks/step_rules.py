"""Who may do what to a step, and what it does to the step: the rules behind the
department and office actions, as pure functions the workflow's update validators
and handlers share (a refusal is decided before anything is written)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

UNIT_ACTIONS = {"acknowledge", "submit", "request_extension"}
OFFICE_ACTIONS = {"approve", "return", "grant_extension", "refuse_extension", "reassign"}
ACTIVE = ("open", "returned")  # a step someone still has to act on


@dataclass(frozen=True)
class Step:
    """A step as the task workflow holds it."""

    key: str
    unit_id: int
    kind: str
    period: str
    label: str
    opens_at: str  # ISO datetime
    due_date: str  # ISO date
    status: str = "open"
    reminders_sent: int = 0
    overdue: bool = False
    escalation_level: int = 0
    extension_requested: bool = False
    requested_due_date: str | None = None


@dataclass(frozen=True)
class Action:
    """One action on one step, as the API hands it to the workflow."""

    name: str
    step_key: str
    idempotency_key: str
    actor_user_id: int
    actor_unit_id: int
    actor_roles: tuple[str, ...]
    text: str = ""
    progress: int | None = None
    achieved: dict = field(default_factory=dict)
    attachments: tuple[str, ...] = ()
    new_due_date: str | None = None
    new_unit_id: int | None = None


def refusal(step: Step | None, action: Action) -> str | None:
    """Why the action is refused, or None when it may proceed."""
    if action.name not in UNIT_ACTIONS | OFFICE_ACTIONS:
        return f"未知操作 {action.name} (unknown action)"
    if step is None:
        return "该步骤不存在或已办结 (step not found or already closed)"
    if action.name in UNIT_ACTIONS:
        if action.actor_unit_id != step.unit_id:
            return "只能办理本单位的步骤 (not your unit's step)"
        if step.status not in ACTIVE:
            return f"步骤当前状态为 {step.status},不能再{'签收' if action.name == 'acknowledge' else '提交'} (wrong state)"
        if action.name == "acknowledge" and step.kind != "acknowledge":
            return "签收只适用于签收步骤 (only the 签收 step is acknowledged)"
        if action.name == "submit":
            if step.kind == "acknowledge":
                return "签收步骤请使用签收操作 (use acknowledge)"
            if not action.text.strip():
                return "请填写报送内容 (text is required)"
            if action.progress is not None and not 0 <= action.progress <= 100:
                return "进度须在 0 到 100 之间 (progress out of range)"
        if action.name == "request_extension":
            if step.extension_requested:
                return "已申请延期,请等待办公室答复 (extension already requested)"
            if not action.text.strip():
                return "请说明延期理由 (reason is required)"
            if not action.new_due_date or action.new_due_date <= step.due_date:
                return "请给出晚于原截止日期的新日期 (new due date must be later)"
        return None
    if "office_admin" not in action.actor_roles:
        return "只有领导小组办公室可以审核 (office only)"
    if action.name in ("approve", "return") and step.status != "submitted":
        return f"步骤当前状态为 {step.status},没有待审核的报送 (nothing submitted)"
    if action.name == "return" and not action.text.strip():
        return "退回须写明意见 (a comment is required)"
    if action.name in ("grant_extension", "refuse_extension") and not step.extension_requested:
        return "该步骤没有延期申请 (no extension requested)"
    if action.name == "grant_extension" and action.new_due_date and action.new_due_date <= step.due_date:
        return "新截止日期须晚于原日期 (new due date must be later)"
    if action.name == "reassign":
        if not action.new_unit_id or action.new_unit_id == step.unit_id:
            return "请指定另一个承办单位 (choose another unit)"
        if step.status not in ACTIVE:
            return "只能改派未办结的步骤 (only open steps can be reassigned)"
    return None


def apply(step: Step, action: Action) -> tuple[Step, str]:
    """The step after the action, and the event it produces (task.step.<event>)."""
    if action.name == "acknowledge":
        return replace(step, status="approved"), "acknowledged"
    if action.name == "submit":
        return replace(step, status="submitted"), "submitted"
    if action.name == "request_extension":
        return replace(step, extension_requested=True, requested_due_date=action.new_due_date), "extension_requested"
    if action.name == "approve":
        return replace(step, status="approved"), "approved"
    if action.name == "return":
        return replace(step, status="returned"), "returned"
    if action.name == "grant_extension":
        new_due = action.new_due_date or step.requested_due_date or step.due_date
        return (
            replace(step, due_date=new_due, extension_requested=False, requested_due_date=None, overdue=False,
                    escalation_level=0, reminders_sent=0),
            "extended",
        )
    if action.name == "refuse_extension":
        return replace(step, extension_requested=False, requested_due_date=None), "extension_refused"
    if action.name == "reassign":
        return replace(step, unit_id=action.new_unit_id), "reassigned"
    raise ValueError(action.name)
