"""The 监测对象信息 export (one row per person) as households of the register.

Rows are read as they stream in (`PersonRows.add`); what is kept per household is
small — its row numbers, its members, the household fields of its first row and of
any row that differs from it — so a 100,000-person export stays far below the size
of the workbook. `PersonRows.households` then builds each household:

- the household's fields come from its 户主's row; a member's row that says
  something else for them is an error on that row;
- members from every row: 姓名, 证件号码 (checked: resident ID checksum and birth
  date; 20/22 characters are a disability certificate), 与户主关系, 劳动技能, 健康状况;
- 劳动力人数 = members of 普通劳动力 or 技能劳动力, 务工就业人数 = those of them with a
  务工所在地; the period record from the income, 三保障 and water columns;
- the monitoring fields (监测对象类别, 识别监测时间, risks, 风险是否已消除 …) and the
  帮扶 columns (comma-joined items) as the household's monitoring record.

A household with a bad row is left out whole (its other rows say why), so nothing
of a household is half-written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from services.alerts import national_columns as nc
from services.alerts.import_cells import CellError
from services.alerts.import_places import PlaceError
from services.alerts.import_rows import Parsed, ParsedRow, RowError, schema_errors
from services.alerts.national_cells import certificate, reader
from services.alerts.national_reader import Sheet
from services.alerts.schemas import HouseholdIn, RecordIn

PERSON_KEYS = ("name", "id_number", "id_type", "relation", "labour_skill", "health", "work_place")
MONEY_KEYS = ("wage_income", "business_income", "property_income", "transfer_income", "per_capita_income",
              "medical_expense")
# 三保障 and water: the export asks about the problem, the register about the guarantee.
GUARANTEES = {"dropout": ("compulsory_education_ok", True), "dangerous_house": ("housing_ok", True),
              "safe_water": ("drinking_water_ok", False), "uninsured": ("basic_medical_ok", True)}


Place = Callable[[str | None, str | None, str | None], str]  # (county, township, village) → village code


@dataclass(slots=True)
class Member:
    row: int
    name: str | None
    id_number: str | None
    id_type: str
    relation: str | None
    labour_skill: str | None
    health: tuple[str, ...] | None
    works: bool


@dataclass(slots=True)
class Draft:
    """One household while its rows come in."""

    no: str
    first_row: int
    first: tuple  # the household fields of its first row
    rows: list[int] = field(default_factory=list)
    differing: dict[int, tuple] = field(default_factory=dict)  # rows whose household fields differ from `first`
    members: list[Member] = field(default_factory=list)
    head_row: int | None = None
    bad_rows: set[int] = field(default_factory=set)


class PersonRows:
    """The rows of one 监测对象信息 sheet, read one at a time."""

    def __init__(self, sheet: Sheet) -> None:
        self.sheet = sheet
        present = [c for c in nc.PERSON_COLUMNS if c.key in sheet.columns]
        self.person_cols = [(c.key, sheet.columns[c.key], reader(c)) for c in present if c.level == "person"]
        self.house_cols = [(c.key, sheet.columns[c.key], reader(c)) for c in present
                           if c.level == "household" and c.key != "household_no"]
        self.house_keys = tuple(k for k, _, _ in self.house_cols)
        self.no_col = sheet.columns["household_no"]
        self.read_no = reader(nc.PERSON_BY_KEY["household_no"])
        self.drafts: dict[str, Draft] = {}
        self.errors: list[RowError] = []
        self.row_numbers: list[int] = []
        self.ids: dict[str, int] = {}

    def _error(self, row: int, key: str, reason: str) -> None:
        self.errors.append(RowError(row, self.sheet.header(key), reason, key))

    def add(self, row: int, values: Any) -> None:
        """One person's row."""
        self.row_numbers.append(row)
        n_values = len(values)
        failed: set[str] = set()
        person: dict[str, Any] = {}
        for key, i, read in self.person_cols:
            try:
                person[key] = read(values[i] if i < n_values else None)
            except CellError as e:
                self._error(row, key, f"{nc.PERSON_BY_KEY[key].header}{e}")
                failed.add(key)
        bad = bool(failed)
        house = []
        for key, i, read in self.house_cols:
            try:
                house.append(read(values[i] if i < n_values else None))
            except CellError as e:
                self._error(row, key, f"{nc.PERSON_BY_KEY[key].header}{e}")
                house.append(None)
                bad = True
        try:
            no = self.read_no(values[self.no_col] if self.no_col < n_values else None)
        except CellError as e:
            self._error(row, "household_no", f"户编号{e}")
            return
        if not no:
            self._error(row, "household_no", "户编号必须填写")
            return
        bad |= self._check_person(row, person, failed)
        draft = self.drafts.get(no)
        house_values = tuple(house)
        if draft is None:
            draft = self.drafts[no] = Draft(no, row, house_values)
        elif house_values != draft.first:
            draft.differing[row] = house_values
        draft.rows.append(row)
        if person.get("relation") == "户主":
            if draft.head_row is not None:
                self._error(row, "relation", f"户编号 {no} 已有户主(第 {draft.head_row} 行)")
                bad = True
            else:
                draft.head_row = row
        id_number = person.get("id_number")
        draft.members.append(Member(row, person.get("name"), id_number, person.get("id_type") or "居民身份证",
                                    person.get("relation"), person.get("labour_skill"), person.get("health"),
                                    bool(person.get("work_place"))))
        if bad:
            draft.bad_rows.add(row)

    def _check_person(self, row: int, person: dict[str, Any], failed: set[str]) -> bool:
        bad = False
        if not person.get("relation") and "relation" not in failed:
            self._error(row, "relation", "与户主关系必须填写")
            bad = True
        number = person.get("id_number")
        if number:
            kind, problem = certificate(number, person.get("id_type"))
            person["id_type"] = kind
            if problem:
                self._error(row, "id_number", problem)
                bad = True
            elif number in self.ids:
                self._error(row, "id_number", f"证件号码与第 {self.ids[number]} 行重复 (duplicate)")
                bad = True
            else:
                self.ids[number] = row
        elif "id_number" not in failed:
            self._error(row, "id_number", "证件号码必须填写")
            bad = True
        return bad

    # ------------------------------------------------------------ households

    def households(self, place: Place, period: str | None) -> Parsed:
        """Every household built and checked; the valid ones keyed by their first row."""
        valid: dict[int, ParsedRow] = {}
        for draft in self.drafts.values():
            built = self._household(draft, place, period)
            if built is not None:
                valid[draft.first_row] = built
        bad_rows = {e.row for e in self.errors}
        for draft in self.drafts.values():
            if draft.first_row in valid or not (set(draft.rows) & bad_rows):
                continue
            first_bad = min(set(draft.rows) & bad_rows)
            for r in draft.rows:
                if r not in bad_rows:
                    self._error(r, "household_no", f"户编号 {draft.no} 第 {first_bad} 行有错误,整户未导入")
        last = len(self.sheet.columns)
        self.errors.sort(key=lambda e: (e.row, self.sheet.columns.get(e.key, last)))
        return Parsed(self.sheet, self.row_numbers, valid, self.errors)

    def _household(self, draft: Draft, place: Place, period: str | None) -> ParsedRow | None:
        if draft.bad_rows:
            return None
        if draft.head_row is None:
            self._error(draft.first_row, "relation", f"户编号 {draft.no} 没有户主(与户主关系为“户主”的行)")
            return None
        ref = draft.differing.get(draft.head_row, draft.first)
        if self._conflicts(draft, ref):
            return None
        h = dict(zip(self.house_keys, ref, strict=True))
        head = next(m for m in draft.members if m.row == draft.head_row)
        try:
            village_code = place(h.get("county"), h.get("township"), h.get("village"))
        except PlaceError as e:
            key = {"village_code": "village"}.get(e.key, e.key)
            self._error(draft.head_row, key, str(e))
            return None
        household, record, monitoring = assemble(draft, h, head, village_code, period,
                                                 "labour_skill" in self.sheet.columns, "work_place" in self.sheet.columns)
        problems = []
        try:
            HouseholdIn.model_validate(household)
        except ValidationError as e:
            problems += schema_errors(e, draft.head_row, self.sheet, nc.REGISTER_TO_EXPORT)
        if record is not None:
            try:
                RecordIn.model_validate(record)
            except ValidationError as e:
                problems += schema_errors(e, draft.head_row, self.sheet, nc.REGISTER_TO_EXPORT)
        if problems:
            for p in problems:
                key = nc.REGISTER_TO_EXPORT.get(p.key or "", "household_no")
                self.errors.append(RowError(p.row, self.sheet.header(key), p.reason, key))
            return None
        return ParsedRow(draft.first_row, draft.no, household, record, monitoring, len(draft.members))

    def _conflicts(self, draft: Draft, ref: tuple) -> bool:
        """Rows whose household fields contradict the 户主's row (blank cells say nothing)."""
        found = False
        for r in draft.rows:
            values = draft.differing.get(r, draft.first)
            if values is ref or values == ref:
                continue
            for key, a, b in zip(self.house_keys, values, ref, strict=True):
                if a is not None and b is not None and a != b:
                    shown = "、".join(a) if isinstance(a, tuple) else a
                    expected = "、".join(b) if isinstance(b, tuple) else b
                    self._error(r, key, f"{nc.PERSON_BY_KEY[key].header}为“{shown}”,与户主行(第 {draft.head_row} 行)的"
                                        f"“{expected}”不一致")
                    found = True
        return found


def assemble(draft: Draft, h: dict[str, Any], head: Member, village_code: str, period: str | None,
             has_skills: bool = True, has_work: bool = True) -> tuple[dict, dict | None, dict]:
    """The register's household, its period record and its monitoring record; counts the
    export cannot give (no 劳动技能 or 务工所在地 column) are left out, so the register keeps its own."""
    labourers = [m for m in draft.members if m.labour_skill in nc.FULL_LABOUR]
    measures = {k.split(":", 1)[1]: list(v) for k, v in h.items() if k.startswith("measure:") and v}
    eliminated = h.get("risk_eliminated")
    category = h.get("monitoring_category") or h.get("household_type")
    household = {
        "household_no": draft.no, "village_code": village_code, "head_name": head.name or "(未填姓名)",
        "head_id_number": head.id_number if head.id_type == "居民身份证" else None,
        "category": category, "members": len(draft.members),
        "no_labour_capacity": bool(h.get("no_labour_support")),
        "under_assistance": bool(measures) and not eliminated,
        "member_list": [{"name": m.name or "(未填姓名)", "id_number": m.id_number, "id_type": m.id_type,
                         "relation": m.relation, "labour_skill": m.labour_skill,
                         "health": "、".join(m.health) if m.health else None} for m in draft.members],
    }
    if h.get("phone"):
        household["phone"] = h["phone"]
    if has_skills:
        household["labourers"] = len(labourers)
    record: dict[str, Any] = {k: h[k] for k in MONEY_KEYS if h.get(k) is not None}
    for key, (field_, negated) in GUARANTEES.items():
        if h.get(key) is not None:
            record[field_] = (not h[key]) if negated else h[key]
    if record and has_skills:
        record["labourers"] = len(labourers)
        if has_work:
            record["employed"] = sum(m.works for m in labourers)
    period = h.get("period") or period
    if period is None or not record:
        record = None
    else:
        record["period"] = period
    monitoring = {
        "monitoring_category": h.get("monitoring_category"), "identified_month": h.get("identified_month"),
        "risks": [h[f"risk{i}"] for i in range(1, 6) if h.get(f"risk{i}")],
        "no_labour_support": bool(h.get("no_labour_support")), "risk_eliminated": eliminated,
        "elimination_method": h.get("elimination_method"), "eliminated_month": h.get("eliminated_month"),
        "measures": measures,
    }
    return household, record, monitoring
