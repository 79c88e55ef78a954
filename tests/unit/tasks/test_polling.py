"""The starters' loop: again at once while there is work, a pause when there is none,
an outage logged and tried again, and an end when told to stop."""

import asyncio

import psycopg
import pytest
from temporalio.service import RPCError, RPCStatusCode

from workflows.polling import poll_until_stopped


def test_runs_again_at_once_while_there_is_work():
    """A pause of an hour between empty polls: only a loop that goes on at once while
    the step finds work gets through three busy steps before the timeout."""
    async def scenario() -> int:
        stop, calls = asyncio.Event(), 0

        async def step() -> int:
            nonlocal calls
            calls += 1
            if calls == 3:
                stop.set()
            return 5

        await asyncio.wait_for(poll_until_stopped("test", step, stop, every_s=3600), timeout=5)
        return calls

    assert asyncio.run(scenario()) == 3


def test_pauses_when_there_is_no_work_and_stops_when_told():
    async def scenario() -> int:
        stop, calls = asyncio.Event(), 0

        async def step() -> int:
            nonlocal calls
            calls += 1
            return 0

        loop = asyncio.create_task(poll_until_stopped("test", step, stop, every_s=3600))
        await asyncio.sleep(0.2)
        stop.set()
        await asyncio.wait_for(loop, timeout=5)
        return calls

    assert asyncio.run(scenario()) == 1


@pytest.mark.parametrize("outage", [psycopg.OperationalError("database away"), RuntimeError("temporal away"),
                                    RPCError("tcp connect error", RPCStatusCode.UNAVAILABLE, b"")])
def test_an_outage_is_logged_and_tried_again(outage, caplog):
    async def scenario() -> int:
        stop, attempts = asyncio.Event(), 0

        async def step() -> int:
            nonlocal attempts
            attempts += 1
            if attempts == 1:
                raise outage
            stop.set()
            return 0

        await asyncio.wait_for(poll_until_stopped("case workflows", step, stop, every_s=0.01), timeout=5)
        return attempts

    assert asyncio.run(scenario()) == 2
    assert f"case workflows: {outage}; retrying" in caplog.text


def test_temporal_gone_at_shutdown_ends_the_loop_quietly(caplog):
    """Ctrl-C stops the Temporal server with the worker: a start under way fails once the SDK's
    retries are spent, after `stop` was set; the worker then stops as asked, not with rc 1."""
    async def scenario() -> None:
        stop = asyncio.Event()

        async def step() -> int:
            stop.set()
            raise RPCError("tcp connect error", RPCStatusCode.UNAVAILABLE, b"")

        await asyncio.wait_for(poll_until_stopped("task workflows", step, stop, every_s=3600), timeout=5)

    asyncio.run(scenario())
    assert "retrying" not in caplog.text


@pytest.mark.parametrize("error", [ValueError("a bug"),
                                   RPCError("namespace xianjie not found", RPCStatusCode.NOT_FOUND, b""),
                                   RPCError("bad request", RPCStatusCode.INVALID_ARGUMENT, b"")])
def test_another_error_is_not_swallowed(error):
    async def step() -> int:
        raise error

    with pytest.raises(type(error)):
        asyncio.run(poll_until_stopped("test", step, asyncio.Event(), every_s=0.01))
