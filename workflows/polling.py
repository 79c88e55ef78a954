"""The loop the starters run in the worker process: a step that starts what PostgreSQL
says is pending, again at once while it finds work, else every few seconds."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import psycopg
from temporalio.service import RPCError

log = logging.getLogger(__name__)


async def poll_until_stopped(name: str, step: Callable[[], Awaitable[int]], stop: asyncio.Event,
                             every_s: float) -> None:
    """Run `step` (returning how much it started) until `stop` is set. PostgreSQL or Temporal
    being away (OperationalError; the SDK's RPCError once its own retries are spent, or its
    RuntimeError) is logged and tried again. So is an RPCError at shutdown: `make dev`'s
    Ctrl-C reaches the Temporal server too, which may be gone before a start returns."""
    while not stop.is_set():
        try:
            if started := await step():
                log.info("%s: started %d", name, started)
                continue
        except (psycopg.OperationalError, RPCError, RuntimeError) as e:
            log.warning("%s: %s; retrying", name, e)
        try:
            await asyncio.wait_for(stop.wait(), timeout=every_s)
        except TimeoutError:
            pass
