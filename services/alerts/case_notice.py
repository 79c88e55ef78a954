"""The village 公示 of a household proposed for monitoring (拟纳入防止返贫监测对象公示):
what it shows, and its printable HTML.

The notice is built from a whitelist: the head of household's name partly masked
(张*明), the village, the household's size, the (proposed) kind, the risk types of its
alerts, the notice period and how to object. Nothing else of the household reaches
the template, so ID numbers, phones, bank accounts, health details and the
verification's free text can never be printed, whatever the records hold.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from services.alerts.case_deadlines import local_day
from services.alerts.national_export import CAUSE_RISKS

TEMPLATES = Path(__file__).with_name("templates")
_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
                   trim_blocks=True, lstrip_blocks=True)
DEFAULT_RISK = "存在返贫致贫风险"


def mask_name(name: str) -> str:
    """张*明, 李*, 欧阳**: the first and (from three characters) the last character stay."""
    name = name.strip()
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def proposed_kind(category: str, fast_path: bool) -> str:
    """The kind a household is proposed as before the county decides: a 脱贫户 at risk is
    脱贫不稳定户, a household hit suddenly (绿色通道) 突发严重困难户, any other 边缘易致贫户."""
    if fast_path or category == "突发严重困难户":
        return "突发严重困难户"
    if category in ("脱贫户", "脱贫不稳定户"):
        return "脱贫不稳定户"
    return "边缘易致贫户"


def risk_types(causes: list[str]) -> tuple[str, ...]:
    """The alerts' causes as the national system names the risk (因学, 因安全住房…), once each."""
    risks = tuple(dict.fromkeys(CAUSE_RISKS[c] for c in causes if c in CAUSE_RISKS))
    return risks or (DEFAULT_RISK,)


@dataclass(frozen=True)
class Notice:
    """Everything the notice prints, and nothing more."""

    case_id: int
    county_name: str
    township_name: str
    village_name: str
    head_name: str  # masked
    members: int
    kind: str
    kind_confirmed: bool
    risks: tuple[str, ...]
    starts_on: date
    ends_on: date
    issued_on: date


def build_notice(case: dict, household: dict, causes: list[str], published_at: datetime) -> Notice:
    """The notice of a case (a row of alerts.cases) and its household (with its region names).
    `published_at` is when the 公示 began; it ends the day before `notice_ends_at` (the
    midnight after its last day)."""
    ends_at = case["notice_ends_at"]
    ends_at = datetime.fromisoformat(ends_at) if isinstance(ends_at, str) else ends_at
    confirmed = bool(case.get("monitoring_kind"))
    return Notice(
        case_id=case["id"],
        county_name=household.get("county_name") or "",
        township_name=household.get("township_name") or "",
        village_name=household["village_name"],
        head_name=mask_name(household["head_name"]),
        members=int(household["members"]),
        kind=case["monitoring_kind"] if confirmed else proposed_kind(household["category"], bool(case["fast_path"])),
        kind_confirmed=confirmed,
        risks=risk_types(causes),
        starts_on=local_day(published_at),
        ends_on=local_day(ends_at) - timedelta(days=1),
        issued_on=local_day(published_at),
    )


def render_notice(notice: Notice) -> str:
    """The printable HTML of the notice (A4, print CSS, no scripts)."""
    return _env.get_template("case_notice.html").render(n=notice)


def notice_filename(notice: Notice) -> str:
    return f"公示-{notice.village_name}-案件{notice.case_id}.html"
