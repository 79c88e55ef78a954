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
        ignored_types=frozenset({"task.published"}),  # the fact ledger starts from the steps of a task
    )
