"""Request models of the policy review routes (responses are the draft as stored)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class TargetIn(Strict):
    indicator: str = Field(min_length=1, max_length=200)
    year: int | None = Field(default=None, ge=2000, le=2100)
    comparator: Literal[">=", ">", "<=", "<", "=", "qualitative"]
    value: float | None = None
    unit: str | None = Field(default=None, max_length=20)
    text: str = Field(default="", max_length=2000)
    needs_value: bool = False
    category: str | None = Field(default=None, max_length=50)


class DeadlineIn(Strict):
    phrase: str = Field(default="", max_length=100)
    date: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}-\d{2}$")
    recurring: Literal["yearly", "monthly", "quarterly"] | None = None
    month_day: str | None = Field(default=None, pattern=r"^\d{2}-\d{2}$")
    year_inferred: bool = False
    text: str = Field(default="", max_length=2000)


UnitName = Field(min_length=1, max_length=100)


class MeasureEdit(Strict):
    """Only the fields given change."""

    title: str | None = Field(default=None, min_length=1, max_length=500)
    text: str | None = Field(default=None, min_length=1, max_length=20000)
    lead_units: list[str] | None = Field(default=None, max_length=100)
    responsible_units: list[str] | None = Field(default=None, max_length=200)
    targets: list[TargetIn] | None = Field(default=None, max_length=100)
    deadlines: list[DeadlineIn] | None = Field(default=None, max_length=100)


class SplitPart(Strict):
    title: str | None = Field(default=None, max_length=500)
    text: str = Field(min_length=1, max_length=20000)
    lead_units: list[str] | None = Field(default=None, max_length=100)
    responsible_units: list[str] | None = Field(default=None, max_length=200)


class MergeRequest(Strict):
    measure_ids: list[int] = Field(min_length=2, max_length=50)


class SplitRequest(Strict):
    measure_id: int
    parts: list[SplitPart] = Field(min_length=2, max_length=20)


class ConfirmUnitRequest(Strict):
    name: str = Field(min_length=1, max_length=100, description="文件中写的单位名称")
    unit_id: int | None = Field(default=None, description="已有单位的 id:把该名称记为它的别名;不给则新建单位")
    kind: Literal["department", "township", "village", "party_committee", "government", "enterprise", "other", "office"] = "department"
