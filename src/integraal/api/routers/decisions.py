"""Bundle decisions: rows of a run, runs, aggregates, one pregnancy's decisions, and re-running them."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Path, Query, status
from pydantic import BaseModel, Field, field_validator

from integraal.api.deps import DB, CurrentPrincipal, PageParams
from integraal.api.schemas import READ, READ_ONE, Schema, problems
from integraal.domain.phase import Phase
from integraal.rules.decision import Outcome
from integraal.rules.reasons import ReasonCode
from integraal.services import queries
from integraal.services.reruns import rerun_decisions

router = APIRouter(tags=["decisions"])

RunId = Annotated[int | None, Query(ge=1, le=2_147_483_647, description="Default: the newest run in your scope.")]


class Run(Schema):
    run_id: int
    as_of: dt.date
    created_at: dt.datetime
    actor: str
    pregnancies: int | None = Field(description="Pregnancies the run decided; null: withheld (a small number).")
    ruleset_versions: list[str]


class RunPage(Schema):
    items: list[Run]
    total: int
    limit: int
    offset: int


class Decision(Schema):
    run_id: int
    pregnancy_id: str
    phase: str
    outcome: str
    reasons: list[str] = Field(description="Reason codes in order (texts: GET /api/pregnancies/{id}).")
    ruleset_version: str | None
    contract_id: str | None
    igo_id: str
    uzovi: str


class DecisionPage(Schema):
    run: Run | None
    items: list[Decision]
    total: int
    limit: int
    offset: int


class PregnancyDecisions(Schema):
    pregnancy_id: str
    latest: list[Decision]
    history: list[Decision]


class OutcomeCount(Schema):
    igo_id: str
    phase: str
    outcome: str
    pregnancies: int | None = Field(description="null: suppressed (a small number).")


class ClaimTotal(Schema):
    igo_id: str
    kind: str
    lines: int | None
    amount_cents: int | None


class DecisionSummary(Schema):
    run: Run | None
    outcomes: list[OutcomeCount]
    claims: list[ClaimTotal]
    suppressed_below: int | None = Field(description="Counts below this are withheld (null); null: none withheld.")
    igo_names: dict[str, str]


class RerunRequest(BaseModel):
    as_of: dt.date | None = Field(None, description="Decide as known on this date; default today.")
    pregnancy_ids: list[Annotated[str, Field(min_length=1, max_length=60)]] | None = Field(
        None, max_length=10_000, description="Only these pregnancies; default all in your scope."
    )

    @field_validator("as_of")
    @classmethod
    def _plausible(cls, value: dt.date | None) -> dt.date | None:
        if value is not None and not dt.date(2000, 1, 1) <= value <= dt.date(2100, 12, 31):
            raise ValueError("as_of must lie between 2000-01-01 and 2100-12-31")
        return value


class PhaseOutcomeCount(BaseModel):
    phase: str
    outcome: str
    pregnancies: int


class RerunResult(BaseModel):
    as_of: dt.date
    previous_run_id: int | None
    run_ids: list[int]
    pregnancies: int
    outcomes: list[PhaseOutcomeCount]
    amounts_cents: dict[str, int] = Field(description="Claimed amount per kind (integral, mono), in cents.")


@router.get("/decisions", summary="Phase decisions of one run (default: the newest) in your scope", responses=READ_ONE)
def list_decisions(
    db: DB,
    principal: CurrentPrincipal,
    paging: PageParams,
    run_id: RunId = None,
    phase: Phase | None = None,
    outcome: Outcome | None = None,
    reason: ReasonCode | None = None,
    igo_id: Annotated[str | None, Query(max_length=100)] = None,
    uzovi: Annotated[str | None, Query(max_length=4)] = None,
) -> DecisionPage:
    page = queries.list_decisions(
        db,
        principal,
        run_id=run_id,
        phase=phase.value if phase else None,
        outcome=outcome.value if outcome else None,
        reason=reason.value if reason else None,
        igo_id=igo_id,
        uzovi=uzovi,
        paging=paging,
    )
    return DecisionPage.model_validate(page)


@router.get("/decisions/runs", summary="Decision runs that decided pregnancies in your scope", responses=READ)
def list_runs(db: DB, principal: CurrentPrincipal, paging: PageParams) -> RunPage:
    return RunPage.model_validate(queries.list_runs(db, principal, paging=paging))


@router.get(
    "/decisions/summary",
    summary="Counts per IGO × phase × outcome and claim totals of one run (analysts: small numbers withheld)",
    responses=READ_ONE,
)
def summary(db: DB, principal: CurrentPrincipal, run_id: RunId = None) -> DecisionSummary:
    return DecisionSummary.model_validate(queries.decision_summary(db, principal, run_id=run_id))


@router.get(
    "/pregnancies/{pregnancy_id}/decisions",
    summary="Every stored decision of one pregnancy, and the latest per phase",
    responses=READ_ONE,
)
def pregnancy_decisions(
    db: DB, principal: CurrentPrincipal, pregnancy_id: Annotated[str, Path(max_length=100)]
) -> PregnancyDecisions:
    return PregnancyDecisions.model_validate(queries.pregnancy_decisions(db, principal, pregnancy_id))


@router.post(
    "/decisions/runs",
    status_code=status.HTTP_201_CREATED,
    summary="Re-run the decisions of your scope (or of the pregnancies named) and store them",
    responses=problems(401, 403, 404, 422),
)
def rerun(db: DB, principal: CurrentPrincipal, body: RerunRequest) -> RerunResult:
    result = rerun_decisions(db, principal, body.as_of or dt.date.today(), body.pregnancy_ids)
    outcomes: dict[tuple[str, str], int] = {}
    amounts: dict[str, int] = {}
    for run in result.runs:
        for key, count in run.outcomes.items():
            outcomes[key] = outcomes.get(key, 0) + count
        for kind, cents in run.amounts.items():
            amounts[kind] = amounts.get(kind, 0) + cents
    return RerunResult(
        as_of=result.as_of,
        previous_run_id=result.previous_run_id,
        run_ids=result.run_ids,
        pregnancies=result.pregnancies,
        outcomes=[PhaseOutcomeCount(phase=p, outcome=o, pregnancies=n) for (p, o), n in sorted(outcomes.items())],
        amounts_cents=amounts,
    )
