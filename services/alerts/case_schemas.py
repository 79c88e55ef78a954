"""Request and response models of the alert case API (监测帮扶案件): one body per action
of the case workflow, the list item and the counts per township. Every check names
the field in Chinese; text may not carry NUL or other control characters, which the
case's timeline (jsonb) cannot store."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

from services.common.http import MAX_ID


def _printable(value: str) -> str:
    if any(ord(c) < 32 and c not in "\n\t" for c in value):
        raise PydanticCustomError("zh_invalid", "含有不可见的控制字符 (control characters)")
    return value


Text = Annotated[str, AfterValidator(_printable)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class VerifyIn(Strict):
    """核查: the township's visit record."""

    visited_on: date = Field(title="入户核查日期")
    visitors: list[Annotated[Text, Field(min_length=1, max_length=50)]] = Field(
        min_length=1, max_length=20, title="核查人员")
    findings: Text = Field(min_length=1, max_length=5000, title="核查情况")
    attachments: list[Annotated[int, Field(ge=1, le=MAX_ID)]] = Field(
        default_factory=list, max_length=20, title="照片等附件 id (先上传到任务服务的 /api/attachments)")
    proposed: bool = Field(default=True, title="拟纳入监测(进入村级公示);否则直接报县级认定")


class ConfirmIn(Strict):
    """认定: 纳入监测 as one of the configured kinds."""

    monitoring_kind: Text = Field(min_length=1, max_length=20, title="监测对象类型")


class ReasonIn(Strict):
    """不予认定, 继续监测: a reason is required."""

    reason: Text = Field(min_length=1, max_length=2000, title="理由")


class MeasureIn(Strict):
    kind: Text = Field(min_length=1, max_length=40, title="帮扶措施类型 (目录中的代码,如 employment)")
    unit_id: int = Field(ge=1, le=MAX_ID, title="责任单位")
    due_date: date = Field(title="完成时限")
    content: Text = Field(min_length=1, max_length=2000, title="措施内容")


class PlanIn(Strict):
    """帮扶计划 (一户一策): measures from the catalogue, each with a department and a due date."""

    measures: list[MeasureIn] = Field(min_length=1, max_length=20, title="帮扶措施")


class FollowUpIn(Strict):
    """回访: the household's income and 三保障 and drinking water."""

    visited_on: date = Field(title="回访日期")
    income: float = Field(ge=0, le=100_000_000, allow_inf_nan=False, title="家庭人均纯收入(元)")
    compulsory_education_ok: bool = Field(title="义务教育有保障")
    basic_medical_ok: bool = Field(title="基本医疗有保障")
    housing_ok: bool = Field(title="住房安全有保障")
    drinking_water_ok: bool = Field(title="饮水安全有保障")
    note: Text = Field(default="", max_length=5000, title="回访情况")


class EliminateIn(Strict):
    """风险消除: the county confirms; a note is optional."""

    note: Text = Field(default="", max_length=2000, title="说明")


class CaseItem(BaseModel):
    """A case in a list, with the Chinese labels of its stage, status and SLA colour."""

    id: int
    household_id: int
    household_no: str
    head_name: str
    category: str
    village_code: str
    village_name: str
    township_code: str
    township_name: str | None
    township_unit_id: int | None
    run: int
    fast_path: bool
    stage: str
    stage_label: str
    status: str
    status_label: str
    sla: str
    sla_label: str
    alerted_at: datetime
    due_at: datetime | None
    overdue: bool
    escalation_level: int
    monitoring_kind: str | None
    basic_support: bool
    stable_months: int
    notice_ends_at: datetime | None
    updated_at: datetime


class CaseList(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[CaseItem]


class TownshipCounts(BaseModel):
    """One township's cases for leaders: open ones by SLA colour, overdue (= red), escalated, closed."""

    township_code: str
    township_name: str | None
    open: int
    green: int
    amber: int
    red: int
    overdue: int
    escalated: int
    identifying: int
    monitored: int
    basic_support: int
    eliminated: int
    rejected: int


class CaseCounts(BaseModel):
    by: str
    townships: list[TownshipCounts]
    total: TownshipCounts
