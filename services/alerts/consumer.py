"""The alerts consumer: applies `household.events` to the alerts schema.

Handlers are registered per event type; an event of a type with no handler goes
to `household.events.dlq` with the reason, so nothing is silently ignored.
"""

from __future__ import annotations

from services.common.consumer_base import EventConsumer

TOPICS = ["household.events"]
GROUP_ID = "xianjie-alerts"


def build_consumer() -> EventConsumer:
    return EventConsumer(name="alerts", schema="alerts", handlers={})
