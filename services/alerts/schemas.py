"""Request and response models of the alerts API: households, their members and
their period records. Every check names the field in Chinese."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from services.alerts.validation import certificate_problem

Category = Literal["脱贫户", "脱贫不稳定户", "边缘易致贫户", "突发严重困难户", "一般农户"]


def _fail(message: str) -> PydanticCustomError:
    return PydanticCustomError("zh_invalid", message)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class MemberIn(Strict):
    name: str = Field(min_length=1, max_length=50, title="姓名")
    id_number: str | None = Field(default=None, max_length=22, title="证件号码")
    id_type: Literal["居民身份证", "残疾人证", "其他"] = "居民身份证"
    relation: str = Field(min_length=1, max_length=20, title="与户主关系")
    labour_skill: str | None = Field(default=None, max_length=20, title="劳动技能")
    health: str | None = Field(default=None, max_length=20, title="健康状况")

    @model_validator(mode="after")
    def _id_number(self):
        if self.id_number and self.id_type != "其他":
            problem = certificate_problem(self.id_number, self.id_type)
            if problem:
                raise _fail(f"成员 {self.name} 的{problem}")
            self.id_number = self.id_number.upper()
        return self


class HouseholdIn(Strict):
    household_no: str = Field(min_length=1, max_length=40, title="户编号")
    village_code: str = Field(title="村(区划代码)")
    head_name: str = Field(min_length=1, max_length=50, title="户主姓名")
    head_id_number: str | None = Field(default=None, title="户主证件号码")
    phone: str | None = Field(default=None, title="联系电话")
    category: Category = Field(title="户类型")
    members: int = Field(title="家庭人口数")
    labourers: int = Field(default=0, title="劳动力人数")
    no_labour_capacity: bool = Field(default=False, title="整户无劳动能力")
    under_assistance: bool = Field(default=False, title="有在实施的帮扶计划")
    member_list: list[MemberIn] = Field(default_factory=list, max_length=30, title="家庭成员")

    @field_validator("village_code")
    @classmethod
    def _village(cls, v: str) -> str:
        if not (len(v) == 12 and v.isdigit()):
            raise _fail("村区划代码应为12位数字")
        return v

    @field_validator("head_id_number")
    @classmethod
    def _head_id(cls, v: str | None) -> str | None:
        if v:
            problem = certificate_problem(v, "居民身份证")
            if problem:
                raise _fail(f"户主{problem}")
            return v.upper()
        return v

    @field_validator("phone")
    @classmethod
    def _phone(cls, v: str | None) -> str | None:
        if v and not (v.replace("-", "").isdigit() and 7 <= len(v) <= 15):
            raise _fail("联系电话应为7到15位数字")
        return v

    @model_validator(mode="after")
    def _counts(self):
        if not 1 <= self.members <= 30:
            raise _fail("家庭人口数应在1到30之间")
        if not 0 <= self.labourers <= self.members:
            raise _fail("劳动力人数不能为负数,也不能超过家庭人口数")
        if self.member_list and len(self.member_list) != self.members:
            raise _fail(f"家庭成员列了{len(self.member_list)}人,与家庭人口数{self.members}不符")
        if self.no_labour_capacity and self.labourers:
            raise _fail("整户无劳动能力的家庭劳动力人数应为0")
        numbers = [m.id_number for m in self.member_list if m.id_number]
        repeated = sorted({n for n in numbers if numbers.count(n) > 1})
        if repeated:
            raise _fail(f"家庭成员证件号码重复: {'、'.join(n[:4] + '…' + n[-4:] for n in repeated)}")
        return self


MONEY_LABELS = {
    "per_capita_income": "人均纯收入",
    "wage_income": "工资性收入",
    "property_income": "财产性收入",
    "transfer_income": "转移性收入",
    "medical_expense": "合规自付医疗支出",
    "education_expense": "教育支出",
    "disaster_loss": "因灾损失",
    "accident_loss": "意外事故损失",
}


class RecordIn(Strict):
    period: str = Field(title="期间 (YYYY 或 YYYY-MM)")
    per_capita_income: float | None = None
    wage_income: float | None = None
    business_income: float | None = Field(default=None, title="生产经营性收入 (可为负)")
    property_income: float | None = None
    transfer_income: float | None = None
    medical_expense: float | None = None
    education_expense: float | None = None
    disaster_loss: float | None = None
    accident_loss: float | None = None
    labourers: int | None = None
    employed: int | None = None
    compulsory_education_ok: bool | None = Field(default=None, title="义务教育有保障")
    basic_medical_ok: bool | None = Field(default=None, title="基本医疗有保障")
    housing_ok: bool | None = Field(default=None, title="住房安全有保障")
    drinking_water_ok: bool | None = Field(default=None, title="饮水安全有保障")

    @field_validator("period")
    @classmethod
    def _period(cls, v: str) -> str:
        if not re.fullmatch(r"(19|20)\d{2}(-(0[1-9]|1[0-2]))?", v):
            raise _fail("期间应写作 2023 或 2023-05")
        return v

    @model_validator(mode="after")
    def _amounts(self):
        problems = []
        for name, label in MONEY_LABELS.items():
            value = getattr(self, name)
            if value is not None and value < 0:
                problems.append(f"{label}不能为负数")
            elif value is not None and value > 10_000_000:
                problems.append(f"{label}数值过大,请核对单位(元)")
        if self.labourers is not None and self.labourers < 0:
            problems.append("劳动力人数不能为负数")
        if self.employed is not None and self.employed < 0:
            problems.append("务工就业人数不能为负数")
        if None not in (self.labourers, self.employed) and self.employed > self.labourers:
            problems.append("务工就业人数不能超过劳动力人数")
        if problems:
            raise _fail(";".join(problems))
        return self


class Household(BaseModel):
    id: int
    household_no: str
    county_code: str
    township_code: str
    village_code: str
    village_name: str | None = None
    head_name: str
    head_id_number: str | None
    phone: str | None
    category: str
    members: int
    labourers: int
    no_labour_capacity: bool
    under_assistance: bool
    updated_at: datetime


class Record(BaseModel):
    id: int
    period: str
    per_capita_income: float | None
    wage_income: float | None
    business_income: float | None
    property_income: float | None
    transfer_income: float | None
    medical_expense: float | None
    education_expense: float | None
    disaster_loss: float | None
    accident_loss: float | None
    labourers: int | None
    employed: int | None
    compulsory_education_ok: bool | None
    basic_medical_ok: bool | None
    housing_ok: bool | None
    drinking_water_ok: bool | None
    entered_by: int | None
    entered_at: datetime
    source: str
