"""A route's whole query string read into one pydantic model by one validation.

FastAPI can read a query model itself (`Annotated[Model, Query()]`), but it does so field by
field on every request: for each field it works out its aliases and whether its type is a
sequence, and looks the name up in the query string, a missed lookup costing a KeyError.
For the inbox, the page every unit opens first, that came to a sixth of the API process's
work for the request. `QueryModel` validates the query string as one dict instead, answers
a bad value with the same 422 (`RequestValidationError`, each error's `loc` starting with
"query"), and documents the fields as query parameters in the OpenAPI schema.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


class QueryModel(Generic[M]):
    """A dependency (`Depends(QueryModel(Model))`) giving the request's query string as `Model`.
    Pass `.openapi` as the route's `openapi_extra` so the parameters are documented."""

    def __init__(self, model: type[M]) -> None:
        self.model = model
        self.openapi = {"parameters": query_parameters(model)}

    async def __call__(self, request: Request) -> M:  # async: no I/O, no trip through the thread pool
        try:
            return self.model.model_validate(dict(request.query_params))
        except ValidationError as e:
            raise RequestValidationError(
                [{**err, "loc": ("query", *err["loc"])} for err in e.errors(include_url=False)]) from None


def query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    """The model's fields as OpenAPI query parameters, as FastAPI writes them for `Query()`."""
    schema = model.model_json_schema()
    if "$defs" in schema:  # a nested model or an Enum class: not a flat query string
        raise TypeError(f"{model.__name__}: query models hold plain fields only (Literal, not Enum)")
    required = set(schema.get("required", ()))
    params = []
    for name, prop in schema["properties"].items():
        param = {"name": name, "in": "query", "required": name in required, "schema": prop}
        if "description" in prop:
            param["description"] = prop["description"]
        params.append(param)
    return params
