"""What the early-warning rules look at, as plain data: one household in one period
(its register facts, the record entered for the period and the one before it), and
one village's counts. Built by the consumer from a `household.*` event; the rules
(`services.alerts.rules`) are pure functions over these."""

from __future__ import annotations

from dataclasses import dataclass, field

import msgspec

# 户类型 / 监测对象类别 as the national system writes them.
CATEGORIES = ("脱贫户", "脱贫不稳定户", "边缘易致贫户", "突发严重困难户", "一般农户")
MONITORED = ("脱贫不稳定户", "边缘易致贫户", "突发严重困难户")  # 监测对象


class PeriodRecord(msgspec.Struct, gc=False):
    """A household's figures for one period (a year `2023`, or a month `2023-05`).

    PeriodRecord and HouseholdFacts are msgspec Structs because the alerts consumer decodes
    every event straight into them (`consumer.HouseholdEvent`): faster to build than a
    dataclass, and, holding no references back, left out of the garbage collector's walks
    (`gc=False`). Read-only by convention; a field a newer producer adds is ignored."""

    period: str
    per_capita_income: float | None = None  # 人均纯收入, 元/人/年
    wage_income: float | None = None  # 工资性收入 (household total, 元)
    business_income: float | None = None  # 生产经营性收入
    property_income: float | None = None  # 财产性收入
    transfer_income: float | None = None  # 转移性收入
    medical_expense: float | None = None  # 合规自付医疗支出
    education_expense: float | None = None
    disaster_loss: float | None = None  # 因灾损失
    accident_loss: float | None = None  # 因意外事故损失
    labourers: int | None = None  # 劳动力人数
    employed: int | None = None  # 务工就业人数
    compulsory_education_ok: bool | None = None  # 义务教育有保障 (no child out of school)
    basic_medical_ok: bool | None = None  # 基本医疗有保障 (everyone insured)
    housing_ok: bool | None = None  # 住房安全有保障
    drinking_water_ok: bool | None = None  # 饮水安全有保障


class HouseholdFacts(msgspec.Struct, gc=False):
    """A household as the rules see it in one period (read-only by convention, see PeriodRecord)."""

    household_id: int
    household_no: str  # 户编号
    county_code: str
    township_code: str
    village_code: str
    category: str  # one of CATEGORIES
    members: int
    no_labour_capacity: bool  # 整户无劳动能力
    under_assistance: bool  # an active assistance plan (帮扶计划) — inhibits lower alerts for the same cause
    record: PeriodRecord | None  # None: a household without records yet (the rules are given only those with one)
    previous: PeriodRecord | None = None  # the same kind of period a year earlier, when known

    @property
    def monitored(self) -> bool:
        return self.category in MONITORED


@dataclass(frozen=True)
class VillageFacts:
    """One village's monitored households against its rural population."""

    village_code: str
    county_code: str
    township_code: str
    rural_population: int | None
    monitored_households: int
    monitored_people: int
    poverty_alleviated_people: int | None = None  # 脱贫人口数 (for the 5% / 1000-people criterion)


@dataclass(frozen=True)
class Finding:
    """One rule tripped by one household (or village) in one period."""

    rule_id: str
    name: str  # Chinese name of the rule
    severity: str  # info | warning | critical
    cause: str  # income | medical | education | housing | water | employment | disaster | village
    route_to: tuple[str, ...]  # route keys (township, medical, employment, education, housing, water, civil_affairs…)
    detail: dict = field(default_factory=dict)  # the values that tripped it, for the alert page
    source: str = ""  # document and clause
