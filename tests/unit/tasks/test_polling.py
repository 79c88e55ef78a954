"""The starters' loop: again at once while there is work, a pause when there is none,
an outage logged and tried again, and an end when told to stop."""

import asyncio

import psycopg
import pytest

from workflows.polling import poll_until_stopped


def test_runs_again_at_once_while_there_is_work_and_stops_when_told():
    async def scenario() -> list[int]:
        stop, found = asyncio.Event(), [3, 2, 0, 5, 0]
        calls: list[int] = []

        async def step() -> int:
            calls.append(found[len(calls)])
            if len(calls) == len(found):
                stop.set()
            return calls[-1]

        await asyncio.wait_for(poll_until_stopped("test", step, stop, every_s=0.01), timeout=5)
        return calls

    assert asyncio.run(scenario()) == [3, 2, 0, 5, 0]


@pytest.mark.parametrize("outage", [psycopg.OperationalError("database away"), RuntimeError("temporal away")])
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


def test_another_error_is_not_swallowed():
    async def step() -> int:
        raise ValueError("a bug")

    with pytest.raises(ValueError):
        asyncio.run(poll_until_stopped("test", step, asyncio.Event(), every_s=0.01))
