"""Request and response models of the inbox, step detail, escalations (批示), progress
and notification routes. Everything here is read from the step tables the task
workflows mirror into PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.common.excel_http import Format
from services.common.http import MAX_ID

StepStatus = Literal["open", "submitted", "approved", "returned", "closed"]
StepKind = Literal["acknowledge", "monthly_report", "quarterly_analysis", "half_year_summary", "annual_summary",
                   "completion_report"]
Urgency = Literal["overdue", "due_soon", "normal", "done"]

STATUS_LABELS = {"open": "待办理", "submitted": "已提交", "approved": "已通过", "returned": "已退回", "closed": "已销号"}
URGENCY_LABELS = {"overdue": "已逾期", "due_soon": "即将到期", "normal": "正常", "done": "已完成"}
ROLE_LABELS = {"unit_head": "单位负责人", "leader": "分管领导", "office": "领导小组办公室"}
HISTORY_LABELS = {
    "opened": "开启", "reminded": "提醒", "overdue": "逾期", "escalated": "升级督办", "acknowledged": "签收",
    "submitted": "提交", "approved": "审核通过", "returned": "退回", "extension_requested": "申请延期",
    "extension_granted": "同意延期", "extension_refused": "不同意延期", "instruction": "领导批示",
}


def escalation_level_label(level: int) -> str:
    """督办级别 as shown: 无, 一级(单位负责人), 二级(分管领导), 三级(领导小组办公室), N级."""
    names = {1: "一级(单位负责人)", 2: "二级(分管领导)", 3: "三级(领导小组办公室)"}
    return "无" if level <= 0 else names.get(level, f"{level}级")


MAX_OFFSET = 1_000_000_000
MAX_LIMIT = 1000  # rows of one page of a list
PERIOD_PATTERN = r"^\d{4}(-(0[1-9]|1[0-2]|Q[1-4]|H[12]))?$"


class InboxQuery(BaseModel):
    """The inbox's query string, read as one model: checked in one pass, not parameter by
    parameter (the inbox is the route every unit opens first)."""

    status: Literal["open", "submitted", "approved", "returned"] | None = Field(
        None, description="open|submitted|approved|returned")
    overdue: bool | None = Field(None, description="true 只看逾期,false 只看未逾期")
    task_id: int | None = Field(None, ge=1, le=MAX_ID, description="任务")
    document_id: int | None = Field(None, ge=1, le=MAX_ID, description="政策文件")
    period: str | None = Field(None, pattern=PERIOD_PATTERN, description="2023-05、2023-Q2、2023-H1、2023")
    kind: StepKind | None = Field(None, description="步骤类型")
    limit: int = Field(20, ge=1, le=MAX_LIMIT, description="每页条数 (默认 20, 手机一屏)")
    offset: int = Field(0, ge=0, le=MAX_OFFSET)
    format: Format = Field("json", description="json,或 xlsx 下载 Excel")

    def filters(self) -> dict:
        return {"status": self.status, "overdue": self.overdue, "task_id": self.task_id,
                "document_id": self.document_id, "period": self.period, "kind": self.kind}


class Page(BaseModel):
    total: int = Field(description="符合条件的总数")
    limit: int
    offset: int


class InboxItem(BaseModel):
    id: int
    task_id: int
    task_ref: str
    task_title: str
    document_id: int
    document_title: str | None
    kind: StepKind
    period: str = Field(description="2023-05, 2023-Q2, 2023-H1, 2023; 一次性步骤为空")
    label: str
    opened_at: datetime
    due_at: datetime = Field(description="截止时刻(此刻起逾期)")
    due_date: date = Field(description="最后办理日(北京时间)")
    status: StepStatus
    status_label: str
    overdue: bool = Field(description="已逾期:工作流已标记,或已过截止时刻仍未提交")
    escalation_level: int = Field(description="0 无, 1 单位负责人, 2 分管领导, 3 领导小组办公室")
    extension_requested: bool
    submitted_at: datetime | None
    approved_at: datetime | None
    urgency: Urgency = Field(description="overdue 已逾期, due_soon 3天内到期, normal 正常, done 已提交或已通过")


class InboxPage(Page):
    items: list[InboxItem]


class ReviewItem(InboxItem):
    """A step waiting for the office: a report to approve or return, or an extension to decide."""

    unit_id: int
    unit_name: str


class ReviewPage(Page):
    items: list[ReviewItem]


class UnitRef(BaseModel):
    id: int
    name: str


class TaskSummary(BaseModel):
    id: int
    ref: str
    title: str
    text: str
    region_code: str
    document_id: int
    document_title: str | None
    targets: list[dict[str, Any]]
    deadlines: list[dict[str, Any]]
    due_at: date | None
    status: str
    published_at: datetime
    lead_units: list[UnitRef]
    responsible_units: list[UnitRef]


class HistoryEntry(BaseModel):
    id: int
    at: datetime
    action: str
    action_label: str
    actor_user_id: int | None
    actor_name: str | None
    detail: dict[str, Any]


class StepEscalation(BaseModel):
    id: int
    level: int
    to_role: str
    to_role_label: str
    region_code: str
    at: datetime
    instruction: str | None
    instructed_by: int | None
    instructed_by_name: str | None
    instructed_at: datetime | None


class StepDetail(BaseModel):
    id: int
    step_key: str
    unit_id: int
    unit_name: str
    kind: StepKind
    period: str
    label: str
    opened_at: datetime
    due_at: datetime
    due_date: date
    status: StepStatus
    status_label: str
    overdue: bool
    escalation_level: int
    reminders_sent: int
    extension_requested: bool
    submission: dict[str, Any] | None
    submitted_at: datetime | None
    approved_at: datetime | None
    updated_at: datetime
    urgency: Urgency
    task: TaskSummary
    history: list[HistoryEntry]
    escalations: list[StepEscalation]


class EscalationItem(StepEscalation):
    step_id: int
    step_label: str
    kind: StepKind
    period: str
    due_at: datetime
    due_date: date
    status: StepStatus
    status_label: str
    overdue: bool
    unit_id: int
    unit_name: str
    task_id: int
    task_ref: str
    task_title: str


class EscalationPage(Page):
    items: list[EscalationItem]


class InstructionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    text: str = Field(min_length=1, max_length=2000, description="批示内容(1–2000字)")


class ProgressRow(BaseModel):
    document_id: int
    document_title: str | None
    unit_id: int
    unit_name: str
    steps: int = Field(description="步骤总数")
    done: int = Field(description="已完成(审核通过)")
    submitted: int = Field(description="已提交待审核")
    due: int = Field(description="已到截止时刻的步骤")
    overdue: int = Field(description="逾期且未通过")
    on_time: int = Field(description="已到期步骤中按时提交(或通过)的")
    on_time_rate: float | None = Field(description="按时率 = 按时 / 已到期;无到期步骤时为空")


class ProgressPage(Page):
    items: list[ProgressRow]


class Notification(BaseModel):
    id: int
    at: datetime
    kind: str
    title: str
    body: str
    unit_id: int | None
    user_id: int | None
    step_id: int | None
    step_label: str | None
    task_id: int | None
    task_title: str | None
    read: bool
    read_at: datetime | None


class NotificationPage(Page):
    unread: int = Field(description="未读总数(不受筛选影响)")
    items: list[Notification]
