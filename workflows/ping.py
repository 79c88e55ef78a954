"""A trivial workflow: proves end to end that a worker polls the task queue, and is
the baseline the fan-out benchmarks compare the project's own starts against."""

from __future__ import annotations

from temporalio import workflow


@workflow.defn
class PingWorkflow:
    @workflow.run
    async def run(self, message: str) -> str:
        return f"pong: {message}"
