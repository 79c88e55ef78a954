"""The assessment consumer: turns `tasks.events` and `alerts.events` into scoring facts.

Handlers are registered per event type; an event of a type with no handler goes
to its topic's dead-letter twin with the reason.
"""

from __future__ import annotations

from services.common.consumer_base import EventConsumer

TOPICS = ["tasks.events", "alerts.events"]
GROUP_ID = "xianjie-assessment"


def build_consumer() -> EventConsumer:
    return EventConsumer(
        name="assessment",
        schema="assessment",
        handlers={},
        # Known task events; the fact ledger that scores them comes with the assessment issue.
        ignored_types=frozenset({
            "task.published", "task.closed", "task.step.opened", "task.step.reminded", "task.step.overdue",
            "task.step.escalated", "task.step.acknowledged", "task.step.submitted", "task.step.approved",
            "task.step.returned", "task.step.extension_requested", "task.step.extended",
            "task.step.extension_refused", "task.step.reassigned",
        }),
    )
