"""The APIs' Temporal client: one per process, connected on first use, so an API
starts (and answers /readyz with the reason) while Temporal is still coming up."""

from __future__ import annotations

from fastapi import HTTPException, Request
from temporalio.client import Client

from services.common.config import get_settings


async def temporal(request: Request) -> Client:
    """FastAPI dependency: the process's client; 503 in Chinese while Temporal is away."""
    client = getattr(request.app.state, "temporal", None)
    if client is None:
        s = get_settings()
        try:
            client = await Client.connect(s.temporal_address, namespace=s.temporal_namespace)
        except RuntimeError:
            raise HTTPException(status_code=503, detail="工作流服务暂不可用 (Temporal unavailable)") from None
        request.app.state.temporal = client
    return client
