"""AlertCaseWorkflow: one per alert case (id `case-<case id>`), 核查 → 公示 → 认定 →
帮扶 → 回访 → 风险消除.

The workflow holds the case's state and sleeps until the clock next changes something
(the notice ending, a reminder, the deadline, a rung of the escalation ladder). Township
and county actions arrive as Updates, checked by a validator before anything is
written; activities mirror every change to PostgreSQL (alerts.cases and its timeline),
write `alert.case.*` events through the outbox, and put the plan's measures in the
departments' inboxes. A closed case ends its run; a new alert reopens it as a new run
of the same workflow id. Continue-as-new carries the state forward before the history
grows large.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    # Everything but the workflow class comes from outside the sandbox (see task_workflow).
    from services.alerts.cases import CaseAction, CaseState, apply, fire_timers, next_moment, refusal, summary
    from workflows.activities.case_activities import CaseActivities, CaseChange
    from workflows.activity_options import ACTIVITY_OPTIONS
    from workflows.case_plan import CasePlan
    from workflows.idempotency import RecentKeys

RECENT_KEYS_KEPT = 200


def fingerprint(action: CaseAction) -> str:
    return f"{action.name}:{action.actor_user_id}"


@workflow.defn
class AlertCaseWorkflow:
    def __init__(self) -> None:
        self.changed = False
        self.lock = asyncio.Lock()
        self.recent = RecentKeys(kept=RECENT_KEYS_KEPT)

    @workflow.run
    async def run(self, plan: CasePlan) -> str:
        self.plan = plan
        self.case = plan.state
        self.recent = RecentKeys(plan.recent_keys, kept=RECENT_KEYS_KEPT)
        while self.case.status == "open":
            self.case, events = fire_timers(self.case, self._now(), plan.rules)
            if events:
                await workflow.execute_activity_method(CaseActivities.record_clock, self._change(events=events),
                                                       **ACTIVITY_OPTIONS)
            if self._history_is_long() and workflow.all_handlers_finished():
                workflow.continue_as_new(replace(plan, state=self.case, recent_keys=self.recent.keys))
            wake_at = next_moment(self.case, plan.rules)
            self.changed = False
            timeout = (wake_at - self._now()) if wake_at else None
            if timeout is not None and timeout <= timedelta(0):
                continue
            try:
                await workflow.wait_condition(lambda: self.changed, timeout=timeout)
            except asyncio.TimeoutError:
                pass
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.case.status

    def _now(self) -> datetime:
        return workflow.now() + timedelta(seconds=self.plan.clock_offset_s)

    def _change(self, **kw) -> CaseChange:
        return CaseChange(case_id=self.case.case_id, run=self.case.run, county_code=self.plan.county_code,
                          township_unit_id=self.case.township_unit_id, at=self._now().isoformat(),
                          summary=summary(self.case, self.plan.rules), **kw)

    def _history_is_long(self) -> bool:
        info = workflow.info()
        return info.is_continue_as_new_suggested() or info.get_current_history_length() > self.plan.history_limit

    @workflow.update
    async def act(self, action: CaseAction) -> dict:
        """A township or county action: 核查, 认定 / 不予认定, 帮扶计划, 回访, 风险消除, 继续监测."""
        async with self.lock:
            if action.idempotency_key in self.recent:
                return {"case_id": self.case.case_id, "repeated": True}
            now = self._now()
            reason = refusal(self.case, action, now, self.plan.rules)
            if reason:
                raise ApplicationError(reason, type="Refused", non_retryable=True)
            before = self.case.stage
            new_state, events = apply(self.case, action, now, self.plan.rules)
            self.case = new_state
            result = await workflow.execute_activity_method(
                CaseActivities.apply_action,
                self._change(events=[], action=action, action_events=events, stage_before=before),
                **ACTIVITY_OPTIONS)
            self.recent.add(action.idempotency_key, fingerprint(action))
            self.changed = True
            return result

    @act.validator
    def validate_act(self, action: CaseAction) -> None:
        if self.recent.repeated(action.idempotency_key, fingerprint(action)):
            return
        reason = refusal(self.case, action, self._now(), self.plan.rules)
        if reason:
            raise ValueError(reason)

    @workflow.query
    def case_state(self) -> CaseState:
        return self.case
