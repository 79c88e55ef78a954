"""The loop the starters run in the worker process: a step that starts what PostgreSQL
says is pending, again at once while it finds work, else every few seconds."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import psycopg

log = logging.getLogger(__name__)


async def poll_until_stopped(name: str, step: Callable[[], Awaitable[int]], stop: asyncio.Event,
                             every_s: float) -> None:
    """Run `step` (returning how much it started) until `stop` is set. PostgreSQL or Temporal
    being away (OperationalError, or the SDK's RuntimeError) is logged and tried again."""
    while not stop.is_set():
        try:
            if started := await step():
                log.info("%s: started %d", name, started)
                continue
        except (psycopg.OperationalError, RuntimeError) as e:
            log.warning("%s: %s; retrying", name, e)
        try:
            await asyncio.wait_for(stop.wait(), timeout=every_s)
        except TimeoutError:
            pass
