"""The assessment's plain data: facts (what happened, per unit and period, with the
events that prove it) and the scores computed from them. Scoring
(`services.assessment.scoring`) is a pure function of facts and a scheme."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

# Fact kinds the ledger records, from task and alert events.
FACT_KINDS = {
    "step_due": "应报送步骤",  # a step fell due (value 1)
    "step_on_time": "按时报送",  # submitted (or 签收) by its due date (value 1)
    "step_late": "逾期报送",  # submitted after its due date (value = days late)
    "step_overdue": "逾期未报",  # became overdue (value 1)
    "step_escalated": "被督办",  # reached a rung of the escalation ladder (value = level)
    "step_returned": "报送被退回",  # the office returned a report (value 1)
    "step_approved": "报送通过",  # the office approved a report (value 1)
    "target_reached": "目标达成",  # a reported achieved value reached the task's target (value 1)
    "alert_raised": "预警",  # an alert group routed to the unit (value 1)
    "alert_verified_on_time": "按时核查",  # (cases) verified within the deadline
    "case_confirmed_in_time": "15日内认定",
    "risk_eliminated": "风险消除",
    # Findings the office records (inspection, 督查, 成效考核), for the 一票否决 items:
    "large_scale_return": "规模性返贫",  # a finding of 规模性返贫 in the unit's area (value 1)
    "falsification": "弄虚作假",  # data falsified / 数字脱贫、虚假脱贫 found (value 1)
}


class Fact(NamedTuple):
    """One thing that happened to one unit in one period, with the events behind it.

    A named tuple, not a frozen dataclass: the consumer makes one per event and the
    scoring reads a year of them, and a frozen dataclass's constructor costs five
    times as much."""

    unit_id: int
    period: str  # YYYY-MM, the month it happened in (Asia/Shanghai)
    kind: str  # a key of FACT_KINDS
    value: float
    event_ids: tuple[str, ...]
    task_id: int | None = None
    step_id: int | None = None
    ref: str = ""  # what it is about, for the explanation (task title · step label)
    source: str = ""  # the policy clause behind it, when known


@dataclass(frozen=True)
class Line:
    """One line of an explanation: an indicator, its formula, the points and the facts."""

    indicator_id: str
    indicator: str  # Chinese name
    formula: str  # human-readable: "按时报送率 45/50 × 20分"
    points: float
    max_points: float
    fact_count: int
    event_ids: tuple[str, ...]
    source: str  # the clause the indicator comes from
    stage: str = ""  # process (过程考核) / year_end (年终考核); annual scores have a line per stage


@dataclass(frozen=True)
class UnitScore:
    unit_id: int
    period: str  # YYYY-MM, YYYY-Qn, YYYY-H1 or YYYY
    total: float
    grade: str  # 好 / 较好 / 一般 / 较差
    rank: int
    vetoed: bool
    lines: tuple[Line, ...] = field(default_factory=tuple)
    praise: bool = False  # 通报表扬
    criticism: bool = False  # 通报批评 / 约谈
    remarks: tuple[str, ...] = ()  # why praised / criticised / vetoed, for the bulletin
