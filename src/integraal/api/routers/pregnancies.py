"""Pregnancies (care trajectories): the filtered, paged list and the detail with the whole trajectory."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import Field

from integraal.api.deps import DB, Config, CurrentPrincipal, PageParams
from integraal.api.schemas import READ, READ_ONE, Schema
from integraal.domain.phase import Phase
from integraal.domain.pregnancy import EndReason
from integraal.rules.decision import Outcome
from integraal.services import queries

router = APIRouter(tags=["pregnancies"])

BSN_DOC = "The BSN, for roles that work with it (back office, superuser); otherwise null."
PSEUDONYM_DOC = "A keyed pseudonym of the BSN (same woman, same pseudonym) for roles that may not see the BSN."


class PhaseOutcomes(Schema):
    prenatal: str | None
    natal: str | None
    postnatal: str | None


class PregnancyRow(Schema):
    pregnancy_id: str
    bsn: str | None = Field(description=BSN_DOC)
    client_pseudonym: str | None = Field(description=PSEUDONYM_DOC)
    uzovi: str
    igo_id: str
    intake_date: dt.date
    due_date: dt.date
    labour_date: dt.date | None
    end_date: dt.date | None
    end_reason: str | None
    referral_date: dt.date | None
    referral_stage: str | None
    decisions: PhaseOutcomes = Field(description="Outcome of the latest stored decision per phase.")


class PregnancyPage(Schema):
    items: list[PregnancyRow]
    total: int
    limit: int
    offset: int


class Reason(Schema):
    code: str
    text_nl: str
    text_en: str
    activity_ids: list[str]


class PhaseDecision(Schema):
    phase: str
    outcome: str
    reasons: list[Reason]
    run_id: int
    as_of: dt.date
    ruleset_version: str | None
    contract_id: str | None


class ClaimLine(Schema):
    run_id: int
    line_no: int
    phase: str
    kind: str
    prestatie_code: str
    claimant_agb: str
    uzovi: str
    quantity: str = Field(description="Exact decimal text (hours may be 3.5).")
    tariff_cents: int
    amount_cents: int
    service_start: dt.date
    service_end: dt.date
    declaration_date: dt.date
    tariff_source: str
    activity_ids: list[str]


class TimelineEntry(Schema):
    activity_id: str
    date: dt.date
    gestational_week: int
    agb: str
    provider_name: str | None
    discipline: str | None
    activity_code: str
    quantity: str
    member: bool = Field(description="The provider was a member of the pregnancy's IGO on that date.")
    phase: str | None
    disposition: str | None = Field(description="claimed, excluded or reported.")
    reason: str | None
    prestatie_code: str | None


class PregnancyDetail(Schema):
    pregnancy_id: str
    bsn: str | None = Field(description=BSN_DOC)
    client_pseudonym: str | None = Field(description=PSEUDONYM_DOC)
    uzovi: str
    igo_id: str
    intake_date: dt.date
    due_date: dt.date
    labour_date: dt.date | None
    end_date: dt.date | None
    end_reason: str | None
    referral_date: dt.date | None
    referral_stage: str | None
    phases: list[PhaseDecision] = Field(description="The latest stored decision per phase, with its reasons.")
    claim_lines: list[ClaimLine]
    timeline: list[TimelineEntry] | None = Field(
        description="Activities by date; null for roles that see decisions and claims only (insurers)."
    )
    explanation_current: bool = Field(
        description="False when data changed since the decision run: reasons then carry short texts; re-run."
    )


@router.get("/pregnancies", summary="Pregnancies in your scope, filtered and paged", responses=READ)
def list_pregnancies(
    db: DB,
    settings: Config,
    principal: CurrentPrincipal,
    paging: PageParams,
    igo_id: Annotated[str | None, Query(max_length=100)] = None,
    uzovi: Annotated[str | None, Query(max_length=4)] = None,
    end_reason: EndReason | None = None,
    ongoing: Annotated[bool | None, Query(description="Only ongoing (true) or ended (false) trajectories.")] = None,
    phase: Annotated[Phase | None, Query(description="With `outcome`: the phase whose latest decision counts.")] = None,
    outcome: Annotated[
        Outcome | None, Query(description="Outcome of the latest decision (of `phase`, or any).")
    ] = None,
    intake_from: dt.date | None = None,
    intake_to: dt.date | None = None,
    search: Annotated[str | None, Query(max_length=60, description="Part of the pregnancy id (or a BSN).")] = None,
) -> PregnancyPage:
    where = queries.PregnancyFilter(
        igo_id=igo_id,
        uzovi=uzovi,
        end_reason=end_reason.value if end_reason else None,
        ongoing=ongoing,
        phase=phase.value if phase else None,
        outcome=outcome.value if outcome else None,
        intake_from=intake_from,
        intake_to=intake_to,
        search=search,
    )
    page = queries.list_pregnancies(db, principal, where, paging=paging, pseudonym_key=settings.pseudonym_key)
    return PregnancyPage.model_validate(page)


@router.get(
    "/pregnancies/{pregnancy_id}",
    summary="One trajectory: timeline, latest decision per phase with reasons (nl/en), claim lines",
    responses=READ_ONE,
)
def get_pregnancy(
    db: DB, settings: Config, principal: CurrentPrincipal, pregnancy_id: Annotated[str, Path(max_length=100)]
) -> PregnancyDetail:
    detail = queries.get_pregnancy(db, principal, pregnancy_id, pseudonym_key=settings.pseudonym_key)
    return PregnancyDetail.model_validate(detail)
