"""Activities with the task activities' names that only record what happened, in
memory: the what-if simulation runs the real workflows without touching the
database."""

from __future__ import annotations

from dataclasses import dataclass, field

from temporalio import activity

from services.tasks.step_rules import Action, Step
from workflows.activities.task_activities import TimerEvent


@dataclass
class Happening:
    task_id: int
    step_key: str
    unit_id: int
    label: str
    due_date: str
    event: str  # opened, reminded, overdue, escalated
    at: str
    level: int = 0
    to_role: str = ""


@dataclass
class SimulationActivities:
    happenings: list[Happening] = field(default_factory=list)
    steps: dict[str, Step] = field(default_factory=dict)

    @activity.defn(name="open_steps")
    def open_steps(self, task_id: int, steps: list[Step]) -> int:
        for s in steps:
            self.steps[s.key] = s
            self.happenings.append(Happening(task_id, s.key, s.unit_id, s.label, s.due_date, "opened", s.opens_at))
        return len(steps)

    @activity.defn(name="record_timers")
    def record_timers(self, task_id: int, events: list[TimerEvent]) -> None:
        for e in events:
            s = self.steps[e.step_key]
            self.happenings.append(
                Happening(task_id, s.key, s.unit_id, s.label, s.due_date, e.event, e.at, e.level, e.to_role)
            )

    @activity.defn(name="apply_action")
    def apply_action(self, task_id: int, action: Action, step: Step, event: str) -> dict:
        return {"step_key": step.key, "status": step.status, "event": event}

    @activity.defn(name="close_task")
    def close_task(self, task_id: int, actor_user_id: int, text: str) -> None:
        return None

    def all(self) -> list:
        return [self.open_steps, self.record_timers, self.apply_action, self.close_task]
