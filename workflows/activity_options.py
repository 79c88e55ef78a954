"""How the task and case workflows run their activities: a minute each, retried without
limit, one second apart at first and at most a minute apart. Their I/O is PostgreSQL
and the outbox, which come back; a workflow waits rather than fails."""

from __future__ import annotations

from datetime import timedelta

from temporalio.common import RetryPolicy

ACTIVITY_OPTIONS = {
    "start_to_close_timeout": timedelta(seconds=60),
    "retry_policy": RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1)),
}
