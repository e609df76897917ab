"""Pydantic schemas shared by the routers: problem details and the problem responses of the OpenAPI document.

Each router defines the schemas of its own resources; they mirror the dataclasses of ``services.queries`` and
are filled from them (``from_attributes``), so the edge holds no logic.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Schema(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ProblemError(BaseModel):
    field: str = Field(description="The field (parameter, body member or CSV column) that was wrong.")
    location: str | None = Field(None, description="query, path, body, header, cookie or file.")
    message: str
    row: int | None = Field(None, description="For rows of an uploaded file: 1 = first data row.")
    value: str | None = None


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = Field(description="A URI reference naming the kind of problem; GET it for an explanation.")
    title: str
    status: int
    detail: str | None = None
    instance: str | None = Field(None, description="The request path the problem occurred on.")
    errors: list[ProblemError] | None = None


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: these statuses answer with a problem document."""
    descriptions = {
        401: "Not authenticated",
        403: "Not allowed for your role",
        404: "Not found (or not in your scope)",
        413: "Request body too large",
        422: "Invalid request",
    }
    return {s: {"model": Problem, "description": descriptions.get(s, "Problem")} for s in statuses}


READ = problems(401, 403, 422)
READ_ONE = problems(401, 403, 404, 422)
