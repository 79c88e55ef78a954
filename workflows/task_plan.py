"""What a PolicyTaskWorkflow is given and carries forward, and what a sign-off sends it.

Plain data in a module of its own, imported by the workflow through the sandbox's
passthrough: it is built once per worker process, not once per workflow run."""

from __future__ import annotations

from dataclasses import dataclass, field

from services.tasks.step_rules import Step

HISTORY_LIMIT = 8000


@dataclass
class TaskPlan:
    """Everything the workflow needs, and the state continue-as-new carries forward."""

    task_id: int
    region_code: str
    title: str
    lead_unit_ids: list[int]
    unit_ids: list[int]
    published_on: str
    task_due: str | None
    horizon: str
    calendar: dict
    holidays: list[str] = field(default_factory=list)
    workdays: list[str] = field(default_factory=list)
    search_attributes: bool = True
    # Seconds added to the workflow clock: 0 in production; a simulation of another
    # year (policy simulate, the time-skipping tests) starts its clock on that year.
    clock_offset_s: float = 0.0
    webhook: bool = False  # post escalations to the configured group bot
    history_limit: int = HISTORY_LIMIT
    steps: list[Step] = field(default_factory=list)
    opened_until: str | None = None
    recent_keys: dict[str, str] = field(default_factory=dict)


@dataclass
class SignOff:
    actor_user_id: int
    actor_roles: list[str]
    text: str
