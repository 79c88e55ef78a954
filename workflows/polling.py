"""The loop the starters run in the worker process: a step that starts what PostgreSQL
says is pending, again at once while it finds work, else every few seconds."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import psycopg
from temporalio.service import RPCError, RPCStatusCode

log = logging.getLogger(__name__)

# The server is away or busy: worth trying again.
TRANSIENT = frozenset({RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.RESOURCE_EXHAUSTED})


async def poll_until_stopped(name: str, step: Callable[[], Awaitable[int]], stop: asyncio.Event,
                             every_s: float) -> None:
    """Run `step` (returning how much it started) until `stop` is set. PostgreSQL or Temporal
    being away (OperationalError; the SDK's RPCError of an unreachable or overloaded server,
    once its own retries are spent; its RuntimeError) is logged and tried again. Any RPCError
    once `stop` is set ends the loop: `make dev`'s Ctrl-C reaches the Temporal server too,
    which may be gone before a start returns. Another RPCError (a missing namespace, a bad
    request) is a fault to see, not to retry every few seconds."""
    while not stop.is_set():
        try:
            if started := await step():
                log.info("%s: started %d", name, started)
                continue
        except RPCError as e:
            if stop.is_set():
                return
            if e.status not in TRANSIENT:
                raise
            log.warning("%s: %s; retrying", name, e)
        except (psycopg.OperationalError, RuntimeError) as e:
            log.warning("%s: %s; retrying", name, e)
        try:
            await asyncio.wait_for(stop.wait(), timeout=every_s)
        except TimeoutError:
            pass
