"""PolicyTaskWorkflow: one per published task (id `task-<task id>`).

It keeps the task's open steps as state and sleeps until the next moment
anything happens: a period opens a new step, a reminder is due, a step becomes
overdue, an overdue step climbs the escalation ladder. Department and office
actions arrive as Updates, checked by a validator before anything is written;
activities mirror every change to PostgreSQL and the outbox. Continue-as-new
carries the state forward before the history grows large.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import date, datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    # Everything but the workflow class comes from outside the sandbox: a module imported
    # inside it is executed again for every workflow run (its dataclasses built anew); the
    # sandbox was a quarter of the worker's time when thousands of tasks started at once.
    from services.common.calendar import WorkCalendar, reminder_times
    from services.tasks.step_rules import ACTIVE, Action, Step, apply, refusal
    from services.tasks.steps import StepPlan, at_midnight, escalation_times, plan_steps
    from workflows.activities.task_activities import TaskActivities, TimerEvent, send_webhook
    from workflows.activity_options import ACTIVITY_OPTIONS
    from workflows.idempotency import RecentKeys
    from workflows.task_plan import SignOff, TaskPlan

TASK_ID = SearchAttributeKey.for_keyword("TaskId")
REGION_CODE = SearchAttributeKey.for_keyword("RegionCode")
LEAD_UNIT = SearchAttributeKey.for_keyword("LeadUnit")
TASK_STATUS = SearchAttributeKey.for_keyword("TaskStatus")
NEXT_DUE_AT = SearchAttributeKey.for_datetime("NextDueAt")

RECENT_KEYS_KEPT = 1000


def fingerprint(action: Action) -> str:
    return f"{action.name}:{action.step_key}:{action.actor_user_id}"


@workflow.defn
class PolicyTaskWorkflow:
    def __init__(self) -> None:
        self.steps: dict[str, Step] = {}
        self.recent = RecentKeys(kept=RECENT_KEYS_KEPT)
        self.closed = False
        self.changed = False
        self.lock = asyncio.Lock()
        self.timelines: dict[tuple[str, str], tuple] = {}

    @workflow.run
    async def run(self, plan: TaskPlan) -> str:
        self.plan = plan
        self.steps = {s.key: s for s in plan.steps}
        self.recent = RecentKeys(plan.recent_keys, kept=RECENT_KEYS_KEPT)
        self.workdays = WorkCalendar(
            frozenset(date.fromisoformat(d) for d in plan.holidays),
            frozenset(date.fromisoformat(d) for d in plan.workdays),
        )
        opened_until = datetime.fromisoformat(plan.opened_until) if plan.opened_until else None
        upcoming = [
            p for p in plan_steps(plan.task_id, plan.unit_ids, plan.calendar, date.fromisoformat(plan.published_on),
                                  date.fromisoformat(plan.task_due) if plan.task_due else None,
                                  date.fromisoformat(plan.horizon), self.workdays,
                                  opens_at_work_hour=not workflow.patched("open-steps-at-midnight"))
            if opened_until is None or p.opens_at > opened_until
        ]
        while not self.closed:
            now = self._now()
            opening = [p for p in upcoming if p.opens_at <= now]
            if opening:
                upcoming = upcoming[len(opening):]
                await self._open(opening)
                opened_until = opening[-1].opens_at
            events = self._fire_timers(now)
            if events:
                await workflow.execute_activity_method(TaskActivities.record_timers, args=[plan.task_id, events],
                                                       **ACTIVITY_OPTIONS)
                self._announce(events)
            self._upsert_search_attributes(done=not upcoming and not self.steps)
            if self._history_is_long() and workflow.all_handlers_finished():
                workflow.continue_as_new(replace(
                    plan, steps=list(self.steps.values()),
                    opened_until=opened_until.isoformat() if opened_until else plan.opened_until,
                    recent_keys=self.recent.keys,
                ))
            wake_at = self._next_moment(upcoming)
            self.changed = False
            timeout = (wake_at - self._now()) if wake_at else None
            if timeout is not None and timeout <= timedelta(0):
                continue
            try:
                await workflow.wait_condition(lambda: self.changed or self.closed, timeout=timeout)
            except asyncio.TimeoutError:
                pass
        await workflow.wait_condition(workflow.all_handlers_finished)
        return "closed"

    def _announce(self, events: list[TimerEvent]) -> None:
        """Post escalations to the group bot in the background: a failing webhook never blocks the task."""
        if not (workflow.patched("webhook-notifications") and self.plan.webhook):
            return
        lines = [f"【逾期督办】{self.plan.title} · {self.steps[e.step_key].label}"
                 f" 截止 {self.steps[e.step_key].due_date},已督办至第{e.level}级({e.to_role})"
                 for e in events if e.event == "escalated" and e.step_key in self.steps]
        if lines:
            asyncio.create_task(self._post("\n".join(lines)))

    async def _post(self, text: str) -> None:
        try:
            await workflow.execute_activity(
                send_webhook, text, start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RetryPolicy(initial_interval=timedelta(seconds=5), maximum_attempts=5),
            )
        except ActivityError:
            workflow.logger.warning("webhook failed after retries; the task goes on")

    def _now(self) -> datetime:
        return workflow.now() + timedelta(seconds=self.plan.clock_offset_s)

    async def _open(self, plans: list[StepPlan]) -> None:
        new = [Step(p.key, p.unit_id, p.kind, p.period, p.label, p.opens_at.isoformat(), p.due_date.isoformat())
               for p in plans]
        await workflow.execute_activity_method(TaskActivities.open_steps, args=[self.plan.task_id, new],
                                               **ACTIVITY_OPTIONS)
        self.steps.update({s.key: s for s in new})

    def _timeline(self, step: Step) -> tuple[list[datetime], datetime, list]:
        """Reminders, overdue moment and escalation ladder of a step; steps due on the same
        day share them, so they are computed once per due day and opening time."""
        cache_key = (step.due_date, step.opens_at)
        if cache_key not in self.timelines:
            self.timelines[cache_key] = self._compute_timeline(step)
        return self.timelines[cache_key]

    def _compute_timeline(self, step: Step) -> tuple[list[datetime], datetime, list]:
        due = date.fromisoformat(step.due_date)
        reminders = reminder_times(due, datetime.fromisoformat(step.opens_at),
                                   self.plan.calendar.get("reminders_before_due_days", [3, 1]))
        overdue_at = at_midnight(due + timedelta(days=1))
        ladder = escalation_times(due, self.plan.calendar.get("escalation_ladder", []), self.workdays)
        return reminders, overdue_at, ladder

    def _fire_timers(self, now: datetime) -> list[TimerEvent]:
        """Everything due by `now` on active steps, applied to the state; the events to record."""
        events = []
        for key, step in list(self.steps.items()):
            if step.status not in ACTIVE:
                continue
            reminders, overdue_at, ladder = self._timeline(step)
            due_reminders = [t for t in reminders[step.reminders_sent:] if t <= now and t < overdue_at]
            if due_reminders:
                step = replace(step, reminders_sent=step.reminders_sent + len(due_reminders))
                events.append(TimerEvent(key, "reminded", 0, "", due_reminders[-1].isoformat()))
            if not step.overdue and overdue_at <= now:
                step = replace(step, overdue=True, reminders_sent=len(reminders))
                events.append(TimerEvent(key, "overdue", 0, "", overdue_at.isoformat()))
            if step.overdue:
                for rung in ladder[step.escalation_level:]:
                    if rung.at > now:
                        break
                    step = replace(step, escalation_level=rung.level)
                    events.append(TimerEvent(key, "escalated", rung.level, rung.to_role, rung.at.isoformat()))
            self.steps[key] = step
        return events

    def _next_moment(self, upcoming: list[StepPlan]) -> datetime | None:
        moments = [upcoming[0].opens_at] if upcoming else []
        for step in self.steps.values():
            if step.status not in ACTIVE:
                continue
            reminders, overdue_at, ladder = self._timeline(step)
            moments += [t for t in reminders[step.reminders_sent:] if t < overdue_at][:1]
            if not step.overdue:
                moments.append(overdue_at)
            else:
                moments += [r.at for r in ladder[step.escalation_level:]][:1]
        return min(moments) if moments else None

    def _history_is_long(self) -> bool:
        info = workflow.info()
        return info.is_continue_as_new_suggested() or info.get_current_history_length() > self.plan.history_limit

    def _upsert_search_attributes(self, done: bool) -> None:
        if not self.plan.search_attributes:
            return
        active = [s for s in self.steps.values() if s.status in ACTIVE]
        updates = [TASK_STATUS.value_set("closed" if self.closed else "done" if done else "open")]
        if active:
            next_due = min(date.fromisoformat(s.due_date) for s in active)
            updates.append(NEXT_DUE_AT.value_set(at_midnight(next_due)))
        workflow.upsert_search_attributes(updates)

    @workflow.update
    async def act(self, action: Action) -> dict:
        """A department or office action on one step (签收, 报送, 延期, 审核, 退回, 改派)."""
        async with self.lock:
            if action.idempotency_key in self.recent:
                return {"step_key": action.step_key, "repeated": True}
            step = self.steps.get(action.step_key)
            reason = refusal(step, action)
            if reason:
                raise ApplicationError(reason, type="Refused", non_retryable=True)
            new_step, event = apply(step, action)
            result = await workflow.execute_activity_method(
                TaskActivities.apply_action, args=[self.plan.task_id, action, new_step, event], **ACTIVITY_OPTIONS
            )
            if new_step.status == "approved":
                self.steps.pop(action.step_key, None)
            else:
                self.steps[action.step_key] = new_step
            self.recent.add(action.idempotency_key, fingerprint(action))
            self.changed = True
            return result

    @act.validator
    def validate_act(self, action: Action) -> None:
        if self.recent.repeated(action.idempotency_key, fingerprint(action)):
            return
        reason = refusal(self.steps.get(action.step_key), action)
        if reason:
            raise ValueError(reason)

    @workflow.update
    async def sign_off(self, request: SignOff) -> dict:
        """The office signs the task off (销号): its open steps close and the workflow ends."""
        await workflow.execute_activity_method(TaskActivities.close_task,
                                               args=[self.plan.task_id, request.actor_user_id, request.text],
                                               **ACTIVITY_OPTIONS)
        self.closed = True
        self.steps = {}
        return {"task_id": self.plan.task_id, "status": "closed"}

    @sign_off.validator
    def validate_sign_off(self, request: SignOff) -> None:
        if "office_admin" not in request.actor_roles:
            raise ValueError("只有领导小组办公室可以销号 (office only)")
        if not request.text.strip():
            raise ValueError("销号须写明完成情况 (a closing note is required)")
        if self.closed:
            raise ValueError("任务已销号 (already closed)")

    @workflow.query
    def state(self) -> dict:
        return {"task_id": self.plan.task_id, "closed": self.closed,
                "steps": sorted((s.__dict__ for s in self.steps.values()), key=lambda s: (s["due_date"], s["key"]))}
