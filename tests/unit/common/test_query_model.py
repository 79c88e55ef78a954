"""`QueryModel` reads a query string into a model in one validation; it must answer and
document the route exactly as FastAPI's own `Annotated[Model, Query()]` does."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Literal

import pytest
from fastapi import Depends, FastAPI, Query
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field

from services.common.query_params import QueryModel, query_parameters


class Listing(BaseModel):
    status: Literal["open", "done"] | None = Field(None, description="状态")
    overdue: bool | None = None
    task_id: int | None = Field(None, ge=1, le=10**9)
    period: str | None = Field(None, pattern=r"^\d{4}(-Q[1-4])?$", description="期间")
    limit: int = Field(20, ge=1, le=100, description="每页条数")


listing = QueryModel(Listing)


def apps() -> tuple[TestClient, TestClient]:
    ours, fastapis = FastAPI(), FastAPI()

    @ours.get("/list", openapi_extra=listing.openapi)
    async def ours_list(q: Listing = Depends(listing)):
        return q

    @fastapis.get("/list")
    async def fastapis_list(q: Annotated[Listing, Query()]):
        return q

    return TestClient(ours), TestClient(fastapis)


def test_documented_as_fastapi_documents_a_query_model():
    ours, fastapis = (c.get("/openapi.json").json()["paths"]["/list"]["get"]["parameters"] for c in apps())
    assert [p["name"] for p in ours] == ["status", "overdue", "task_id", "period", "limit"]
    assert ours == fastapis


@pytest.mark.parametrize("query", [
    "", "status=open&overdue=true&task_id=7&period=2023-Q2&limit=5", "overdue=0&limit=100", "unknown=1&limit=3",
    "task_id=3&task_id=4",
])
def test_good_queries_read_the_same(query):
    ours, fastapis = (c.get(f"/list?{query}") for c in apps())
    assert ours.status_code == fastapis.status_code == 200
    assert ours.json() == fastapis.json()


@pytest.mark.parametrize("query, field", [
    ("status=closed", "status"), ("overdue=maybe", "overdue"), ("task_id=abc", "task_id"), ("task_id=0", "task_id"),
    ("period=2023-13", "period"), ("limit=0", "limit"), ("limit=101", "limit"),
])
def test_bad_queries_are_a_422_naming_the_field_in_the_query(query, field):
    ours, fastapis = (c.get(f"/list?{query}") for c in apps())
    assert ours.status_code == fastapis.status_code == 422
    assert [e["loc"] for e in ours.json()["detail"]] == [e["loc"] for e in fastapis.json()["detail"]] == [["query", field]]
    assert [e["type"] for e in ours.json()["detail"]] == [e["type"] for e in fastapis.json()["detail"]]


def test_a_model_with_nested_definitions_is_refused():
    class Colour(Enum):
        RED = "red"

    class Nested(BaseModel):
        colour: Colour | None = None

    with pytest.raises(TypeError, match="plain fields only"):
        query_parameters(Nested)
