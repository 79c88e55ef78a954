"""The condition kinds an early-warning rule can use, each a small pure check.

A rule file names a `kind` and its parameters; `parse_condition` turns that into a
typed condition (or error messages naming the field), and `check` answers "did this
household / village trip it?" with the values that tripped it, or None. Missing data
(None) never trips a condition: an empty cell is a data-entry gap, not a risk.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from services.alerts.model import CATEGORIES, MONITORED, HouseholdFacts, VillageFacts

# A group name a rule file may use for the three 监测对象 categories.
CATEGORY_ALIASES = {"监测对象": MONITORED}
EXPENSE_FIELDS = ("medical_expense", "education_expense", "disaster_loss", "accident_loss")
GUARANTEE_FLAGS = ("compulsory_education_ok", "basic_medical_ok", "housing_ok", "drinking_water_ok")
VILLAGE_COUNTS = ("monitored_people", "monitored_households", "poverty_alleviated_people")

Errors = list[str]


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def expand_categories(names: Any, field: str, errors: Errors) -> tuple[str, ...]:
    """Category names (or the alias 监测对象) → the categories they stand for."""
    if not isinstance(names, list) or not names:
        errors.append(f"{field}: 应为非空列表 (户类别, 如 脱贫户、监测对象)")
        return ()
    out: list[str] = []
    for name in names:
        if name in CATEGORY_ALIASES:
            out.extend(c for c in CATEGORY_ALIASES[name] if c not in out)
        elif name in CATEGORIES:
            if name not in out:
                out.append(name)
        else:
            errors.append(f"{field}: 未知的户类别 {name!r} (可用: {'、'.join(CATEGORIES + tuple(CATEGORY_ALIASES))})")
    return tuple(out)


def _amounts(params: dict, errors: Errors) -> tuple[float | None, dict[str, float] | None]:
    """`amount: N` (one threshold) or `amounts: {类别: N}` (per household category)."""
    amount, amounts = params.get("amount"), params.get("amounts")
    if (amount is None) == (amounts is None):
        errors.append("condition.amount / condition.amounts: 需要且只能给出其一")
        return None, None
    if amount is not None:
        if not _number(amount) or amount < 0:
            errors.append(f"condition.amount: 应为非负数字, 实为 {amount!r}")
        return amount, None
    if not isinstance(amounts, dict) or not amounts:
        errors.append("condition.amounts: 应为 {户类别: 金额} 的非空映射")
        return None, None
    per: dict[str, float] = {}
    explicit: dict[str, float] = {}
    for name, value in amounts.items():
        if not _number(value) or value < 0:
            errors.append(f"condition.amounts.{name}: 应为非负数字, 实为 {value!r}")
            continue
        for category in expand_categories([name], f"condition.amounts.{name}", errors):
            (explicit if name in CATEGORIES else per)[category] = value
    per.update(explicit)  # a category named on its own wins over its group's amount
    return None, per


def _threshold(amount: float | None, amounts: dict[str, float] | None, category: str) -> float | None:
    return amount if amounts is None else amounts.get(category)


@dataclass(frozen=True)
class Condition:
    """Base: `kind` names it in the files; `scope` says whether it reads a household or a village."""

    kind: ClassVar[str] = ""
    scope: ClassVar[str] = "household"
    params: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def parse(cls, params: dict, errors: Errors) -> "Condition":
        return cls()

    def check(self, facts: Any, monitoring_line: float | None) -> dict | None:
        raise NotImplementedError


@dataclass(frozen=True)
class IncomeBelowLine(Condition):
    """人均纯收入 below the region's monitoring line for the year (the identification line)."""

    kind: ClassVar[str] = "income_below_line"

    def check(self, facts: HouseholdFacts, monitoring_line: float | None) -> dict | None:
        income = facts.record.per_capita_income
        if income is None or monitoring_line is None or not income < monitoring_line:
            return None
        return {"per_capita_income": income, "monitoring_line": monitoring_line}


@dataclass(frozen=True)
class IncomeBelow(Condition):
    """人均纯收入 below a published amount (e.g. the county average per category)."""

    kind: ClassVar[str] = "income_below"
    params: ClassVar[tuple[str, ...]] = ("amount", "amounts")
    amount: float | None = None
    amounts: dict | None = None

    @classmethod
    def parse(cls, params: dict, errors: Errors) -> "IncomeBelow":
        amount, amounts = _amounts(params, errors)
        return cls(amount, amounts)

    def check(self, facts: HouseholdFacts, monitoring_line: float | None) -> dict | None:
        income = facts.record.per_capita_income
        threshold = _threshold(self.amount, self.amounts, facts.category)
        if income is None or threshold is None or not income < threshold:
            return None
        return {"per_capita_income": income, "threshold": threshold, "category": facts.category}


@dataclass(frozen=True)
class IncomeFall(Condition):
    """Year-on-year fall of 人均纯收入 by more than `share` (0 = any fall)."""

    kind: ClassVar[str] = "income_fall"
    params: ClassVar[tuple[str, ...]] = ("share",)
    share: float = 0.0

    @classmethod
    def parse(cls, params: dict, errors: Errors) -> "IncomeFall":
        share = params.get("share")
        if not _number(share) or not 0 <= share < 1:
            errors.append(f"condition.share: 应为 0 到 1 之间的比例 (0.2 即下降超过20%), 实为 {share!r}")
            return cls()
        return cls(share)

    def check(self, facts: HouseholdFacts, monitoring_line: float | None) -> dict | None:
        now = facts.record.per_capita_income
        before = facts.previous.per_capita_income if facts.previous else None
        if now is None or before is None or before <= 0:
            return None
        fall = (before - now) / before
        if not fall > self.share:
            return None
        return {"per_capita_income": now, "previous_per_capita_income": before,
                "previous_period": facts.previous.period, "fall_share": round(fall, 4), "share": self.share}


@dataclass(frozen=True)
class ExpenseAbove(Condition):
    """A rigid expense (or the sum of several) above an amount, optionally per category."""

    kind: ClassVar[str] = "expense_above"
    params: ClassVar[tuple[str, ...]] = ("field", "fields", "amount", "amounts")
    fixed_fields: ClassVar[tuple[str, ...]] = ()
    fields: tuple[str, ...] = ()
    amount: float | None = None
    amounts: dict | None = None

    @classmethod
    def parse(cls, params: dict, errors: Errors) -> "ExpenseAbove":
        fields = cls.fixed_fields
        if not fields:
            raw = params.get("fields", [params["field"]] if "field" in params else None)
            if ("field" in params) == ("fields" in params) or not isinstance(raw, list) or not raw:
                errors.append(f"condition.field / condition.fields: 需要且只能给出其一 (可用: {', '.join(EXPENSE_FIELDS)})")
                raw = []
            for name in raw:
                if name not in EXPENSE_FIELDS:
                    errors.append(f"condition.field: 未知的支出字段 {name!r} (可用: {', '.join(EXPENSE_FIELDS)})")
            fields = tuple(f for f in raw if f in EXPENSE_FIELDS)
        amount, amounts = _amounts(params, errors)
        return cls(fields, amount, amounts)

    def check(self, facts: HouseholdFacts, monitoring_line: float | None) -> dict | None:
        # Nearly every household is under the threshold: sum first, build the detail only for a finding.
        record, total, known = facts.record, 0.0, False
        for name in self.fields:
            value = getattr(record, name)
            if value is not None:
                total += value
                known = True
        threshold = _threshold(self.amount, self.amounts, facts.category)
        if not known or threshold is None or not total > threshold:
            return None
        values = {name: value for name in self.fields if (value := getattr(record, name)) is not None}
        return {**values, "total": total, "threshold": threshold, "category": facts.category}


@dataclass(frozen=True)
class EducationExpenseAbove(ExpenseAbove):
    kind: ClassVar[str] = "education_expense_above"
    params: ClassVar[tuple[str, ...]] = ("amount", "amounts")
    fixed_fields: ClassVar[tuple[str, ...]] = ("education_expense",)


@dataclass(frozen=True)
class DisasterOrAccidentLossAbove(ExpenseAbove):
    """因灾 and 因意外事故 losses together above an amount."""

    kind: ClassVar[str] = "disaster_or_accident_loss_above"
    params: ClassVar[tuple[str, ...]] = ("amount", "amounts")
    fixed_fields: ClassVar[tuple[str, ...]] = ("disaster_loss", "accident_loss")


@dataclass(frozen=True)
class ZeroEmployment(Condition):
    """零就业家庭: has labourers, none employed; not for 整户无劳动能力 households (they get 兜底)."""

    kind: ClassVar[str] = "zero_employment"

    def check(self, facts: HouseholdFacts, monitoring_line: float | None) -> dict | None:
        labourers, employed = facts.record.labourers, facts.record.employed
        if facts.no_labour_capacity or labourers is None or employed is None:
            return None
        if not (labourers > 0 and employed == 0):
            return None
        return {"labourers": labourers, "employed": employed}


@dataclass(frozen=True)
class GuaranteeMissing(Condition):
    """One 三保障 / drinking-water flag is False (None = not checked yet, no alert)."""

    kind: ClassVar[str] = "guarantee_missing"
    params: ClassVar[tuple[str, ...]] = ("flag",)
    flag: str = ""

    @classmethod
    def parse(cls, params: dict, errors: Errors) -> "GuaranteeMissing":
        flag = params.get("flag")
        if flag not in GUARANTEE_FLAGS:
            errors.append(f"condition.flag: 应为 {', '.join(GUARANTEE_FLAGS)} 之一, 实为 {flag!r}")
        return cls(flag if flag in GUARANTEE_FLAGS else "")

    def check(self, facts: HouseholdFacts, monitoring_line: float | None) -> dict | None:
        if getattr(facts.record, self.flag, None) is not False:
            return None
        return {self.flag: False}


@dataclass(frozen=True)
class VillageShareAbove(Condition):
    """A village's people of some groups above a share of its rural population
    (`inclusive` for 达…及以上), optionally only when the group reaches `min_count`
    people or the village `min_population` people."""

    kind: ClassVar[str] = "village_share_above"
    scope: ClassVar[str] = "village"
    params: ClassVar[tuple[str, ...]] = ("count", "share", "inclusive", "min_count", "min_population")
    count: tuple[str, ...] = ("monitored_people",)
    share: float = 0.0
    inclusive: bool = False
    min_count: int | None = None
    min_population: int | None = None

    @classmethod
    def parse(cls, params: dict, errors: Errors) -> "VillageShareAbove":
        count = params.get("count", ["monitored_people"])
        if not isinstance(count, list) or not count or any(c not in VILLAGE_COUNTS for c in count):
            errors.append(f"condition.count: 应为 {', '.join(VILLAGE_COUNTS)} 中的一项或几项, 实为 {count!r}")
            count = ["monitored_people"]
        share = params.get("share")
        if not _number(share) or not 0 < share < 1:
            errors.append(f"condition.share: 应为 0 到 1 之间的比例 (0.03 即3%), 实为 {share!r}")
            share = 0.0
        inclusive = params.get("inclusive", False)
        if not isinstance(inclusive, bool):
            errors.append(f"condition.inclusive: 应为 true/false, 实为 {inclusive!r}")
        mins = {}
        for name in ("min_count", "min_population"):
            value = params.get(name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
                errors.append(f"condition.{name}: 应为非负整数, 实为 {value!r}")
                value = None
            mins[name] = value
        return cls(tuple(count), share, inclusive is True, **mins)

    def check(self, facts: VillageFacts, monitoring_line: float | None) -> dict | None:
        population = facts.rural_population
        counts = [getattr(facts, c, None) for c in self.count]
        if population is None or population <= 0 or any(c is None for c in counts):
            return None
        people = sum(counts)
        ratio = people / population
        over = ratio >= self.share if self.inclusive else ratio > self.share
        if not over or (self.min_count is not None and people < self.min_count):
            return None
        if self.min_population is not None and population < self.min_population:
            return None
        return {"count": people, "counted": list(self.count), "rural_population": population,
                "ratio": round(ratio, 4), "share": self.share}


KINDS: dict[str, type[Condition]] = {c.kind: c for c in (
    IncomeBelowLine, IncomeBelow, IncomeFall, ExpenseAbove, EducationExpenseAbove,
    DisasterOrAccidentLossAbove, ZeroEmployment, GuaranteeMissing, VillageShareAbove)}


def parse_condition(raw: Any, errors: Errors) -> Condition | None:
    """A condition mapping from a rule file → its typed condition; problems go to `errors`."""
    if not isinstance(raw, dict):
        errors.append("condition: 应为映射 (含 kind 与参数)")
        return None
    kind = raw.get("kind")
    cls = KINDS.get(kind)
    if cls is None:
        errors.append(f"condition.kind: 未知的条件类型 {kind!r} (可用: {', '.join(KINDS)})")
        return None
    before = len(errors)
    for name in raw:
        if name != "kind" and name not in cls.params:
            allowed = ", ".join(cls.params) or "无"
            errors.append(f"condition.{name}: {kind} 不认识此参数 (可用参数: {allowed})")
    condition = cls.parse({k: v for k, v in raw.items() if k != "kind"}, errors)
    return condition if len(errors) == before else None
