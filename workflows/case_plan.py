"""What an AlertCaseWorkflow is given and carries forward: plain data in a module of its
own, imported by the workflow through the sandbox's passthrough (built once per worker
process, not once per workflow run)."""

from __future__ import annotations

from dataclasses import dataclass, field

from services.alerts.cases import CaseState

HISTORY_LIMIT = 4000


@dataclass
class CasePlan:
    """The workflow input, and what continue-as-new carries forward."""

    state: CaseState
    county_code: str
    township_code: str
    rules: dict
    # Seconds added to the workflow clock: 0 in production; the time-skipping tests start
    # their clock on the day of the alert.
    clock_offset_s: float = 0.0
    history_limit: int = HISTORY_LIMIT
    recent_keys: dict[str, str] = field(default_factory=dict)
