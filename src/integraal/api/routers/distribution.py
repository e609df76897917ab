"""Distribution plans and their simulation side by side (nothing is booked)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import Field

from integraal.api.deps import DB, CurrentPrincipal
from integraal.api.problems import ProblemError
from integraal.api.schemas import READ, READ_ONE, Schema
from integraal.services.access import Action, require
from integraal.services.distribution import plan_presets, simulate

router = APIRouter(tags=["distribution"])


class Plan(Schema):
    key: str
    name_nl: str
    name_en: str
    current: bool = Field(description="The plan the IGO divides by today; differences are against it.")
    steps: list[dict[str, Any]] = Field(
        description="Models in order (top-slices, then the main model) with parameters."
    )


class MemberResult(Schema):
    recipient: str = Field(description="The member's AGB, or IGO for the IGO's own share.")
    name: str
    discipline: str
    amounts_cents: dict[str, int] = Field(description="Per plan key.")
    difference_cents: dict[str, int] = Field(description="Per plan key, against the current plan.")
    difference_percent: dict[str, str | None] = Field(description="Per plan key; null where the current is 0.")
    per_pregnancy_cents: dict[str, int | None] = Field(description="What the plan pays per pregnancy cared for.")
    per_activity_cents: dict[str, int | None]


class SimulationResult(Schema):
    igo_id: str
    year: int
    received_cents: int
    current: str
    plans: list[str]
    members: list[MemberResult]


@router.get("/distribution/plans", summary="The distribution plans that can be compared", responses=READ)
def list_plans(principal: CurrentPrincipal) -> list[Plan]:
    require(principal, Action.SIMULATE_DISTRIBUTION)
    current, presets = plan_presets()
    return [
        Plan(key=k, name_nl=p.name_nl, name_en=p.name_en, current=k == current, steps=[dict(s) for s in p.steps])
        for k, p in presets.items()
    ]


@router.get(
    "/distribution/simulation",
    summary="Each member's amount under each plan and the difference with the current plan (nothing booked)",
    responses=READ_ONE,
)
def simulation(
    db: DB,
    principal: CurrentPrincipal,
    igo_id: Annotated[str, Query(max_length=40)],
    year: Annotated[int, Query(ge=2000, le=2100)],
    plans: Annotated[str | None, Query(max_length=400, description="Comma-separated plan keys; default all.")] = None,
) -> SimulationResult:
    try:
        result = simulate(db, principal, igo_id, year, [p for p in plans.split(",") if p] if plans else None)
    except KeyError as exc:
        raise ProblemError(
            422,
            "validation",
            str(exc.args[0]),
            errors=[{"field": "plans", "location": "query", "message": str(exc.args[0])}],
        ) from exc
    keys = list(result.plans)
    members = []
    for row in result.rows:
        members.append(
            MemberResult(
                recipient=row.recipient,
                name=row.name,
                discipline=row.discipline,
                amounts_cents=row.amounts,
                difference_cents={k: row.difference(k, result.current) for k in keys},
                difference_percent={
                    k: (str(pct) if (pct := row.percent(k, result.current)) is not None else None) for k in keys
                },
                per_pregnancy_cents={k: row.per_pregnancy(k) for k in keys},
                per_activity_cents={k: row.per_activity(k) for k in keys},
            )
        )
    return SimulationResult(
        igo_id=result.igo_id,
        year=result.year,
        received_cents=result.received_cents,
        current=result.current,
        plans=keys,
        members=members,
    )
