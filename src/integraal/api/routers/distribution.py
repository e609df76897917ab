"""Distribution plans and their simulation side by side (nothing is booked)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from integraal.api.deps import DB, CurrentPrincipal
from integraal.api.problems import ProblemError
from integraal.api.schemas import READ, READ_ONE, Schema, problems
from integraal.services.access import Action, require
from integraal.services.distribution import TransitionInfo, plan_presets, simulate
from integraal.services.periods import PeriodError, close_period, list_periods
from integraal.services.statements import statement, statement_pdf

router = APIRouter(tags=["distribution"])


class Plan(Schema):
    key: str
    name_nl: str
    name_en: str
    current: bool = Field(description="The plan the IGO divides by today; differences are against it.")
    steps: list[dict[str, Any]] = Field(
        description="Models in order (top-slices, then the main model) with parameters."
    )
    transition: dict[str, Any] | None = Field(
        None, description="For a transition year: the plan it moves to, alpha (its weight) and the corridor."
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
    per_referral_avoided_cents: dict[str, int | None] = Field(
        description="Per plan: the change had the member's referred pregnancies stayed in primary care, per pregnancy."
    )
    per_quality_point_cents: dict[str, int | None] = Field(
        description="Per plan: what one more quality point (0.01 on every indicator score) earns, averaged over ten."
    )


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
        Plan(
            key=k,
            name_nl=p.name_nl,
            name_en=p.name_en,
            current=k == current,
            steps=[dict(s) for s in p.steps],
            transition=(
                {"to": p.to, "alpha": str(p.alpha), "max_loss_pct": str(p.max_loss_pct) if p.max_loss_pct else None}
                if isinstance(p, TransitionInfo)
                else None
            ),
        )
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
                per_referral_avoided_cents={k: row.per_referral_avoided(k) for k in keys},
                per_quality_point_cents={k: row.per_quality_point(k) for k in keys},
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


class CloseRequest(BaseModel):
    igo_id: str = Field(max_length=40)
    year: int = Field(ge=2000, le=2100)
    plan: str = Field(max_length=40, description="The plan the board chose (GET /api/distribution/plans).")


class Period(Schema):
    period_id: str
    igo_id: str
    year: int
    status: str
    plan_key: str
    plan_name: str
    received_cents: int
    adjustment_cents: int = Field(description="Corrections of earlier periods booked in this one.")
    closed_at: dt.datetime
    actor: str


class StatementLine(Schema):
    line_no: int
    section: str = Field(description="phase, fee, bonus or adjustment.")
    phase: str | None
    step: str
    model: str
    amount_cents: int
    text_nl: str
    text_en: str
    adjusts_period_id: str | None = None


class Statement(Schema):
    agb: str
    name: str
    discipline: str
    period_id: str
    igo_id: str
    year: int
    plan_key: str
    plan_name: str
    igo_received_cents: int
    fees_cents: int
    bonus_cents: int
    total_cents: int
    lines: list[StatementLine]


@router.post(
    "/distribution/periods",
    status_code=201,
    summary="Close a period: book the chosen plan's allocation for good (later corrections become adjustments)",
    responses=problems(401, 403, 404, 409, 422),
)
def close(body: CloseRequest, db: DB, principal: CurrentPrincipal) -> Period:
    try:
        closed = close_period(db, principal, body.igo_id, body.year, body.plan)
    except PeriodError as exc:
        raise ProblemError(409, None, str(exc), title="Period already closed") from exc
    except KeyError as exc:
        raise ProblemError(422, "validation", str(exc.args[0])) from exc
    return Period.model_validate(closed.period)


@router.get("/distribution/periods", summary="Closed periods in your scope", responses=READ)
def periods(db: DB, principal: CurrentPrincipal) -> list[Period]:
    return [Period.model_validate(p) for p in list_periods(db, principal)]


@router.get(
    "/distribution/periods/{period_id}/statements/{agb}",
    summary="A member's statement for a closed period (a member: its own only)",
    responses=READ_ONE,
)
def member_statement(
    db: DB,
    principal: CurrentPrincipal,
    period_id: Annotated[str, Path(max_length=60)],
    agb: Annotated[str, Path(max_length=8)],
) -> Statement:
    return Statement.model_validate(statement(db, principal, period_id, agb))


@router.get(
    "/distribution/periods/{period_id}/statements/{agb}/pdf",
    summary="The statement as PDF",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}, **READ_ONE},
)
def member_statement_pdf(
    db: DB,
    principal: CurrentPrincipal,
    period_id: Annotated[str, Path(max_length=60)],
    agb: Annotated[str, Path(max_length=8)],
    lang: Annotated[str, Query(pattern="^(nl|en)$")] = "nl",
) -> Response:
    data = statement_pdf(statement(db, principal, period_id, agb), lang)
    headers = {"Content-Disposition": f'attachment; filename="{period_id}-{agb}.pdf"'}
    return Response(data, media_type="application/pdf", headers=headers)
