"""Care providers (zorgaanbieders) in the caller's scope, with their IGO memberships."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Path, Query

from integraal.api.deps import DB, CurrentPrincipal, PageParams
from integraal.api.schemas import READ, READ_ONE, Schema
from integraal.domain.provider import Discipline
from integraal.services import queries

router = APIRouter(tags=["register"])


class Provider(Schema):
    agb: str
    name: str
    discipline: str
    city: str


class Membership(Schema):
    igo_id: str
    agb: str
    provider_name: str
    discipline: str
    start_date: dt.date
    end_date: dt.date | None


class ProviderDetail(Provider):
    memberships: list[Membership]


class ProviderPage(Schema):
    items: list[Provider]
    total: int
    limit: int
    offset: int


@router.get("/providers", summary="Providers: members of the IGOs you see", responses=READ)
def list_providers(
    db: DB,
    principal: CurrentPrincipal,
    paging: PageParams,
    discipline: Discipline | None = None,
    search: Annotated[str | None, Query(max_length=100, description="Part of the name, or start of the AGB.")] = None,
) -> ProviderPage:
    page = queries.list_providers(
        db, principal, discipline=discipline.value if discipline else None, search=search, paging=paging
    )
    return ProviderPage.model_validate(page)


@router.get("/providers/{agb}", summary="One provider with its memberships", responses=READ_ONE)
def get_provider(db: DB, principal: CurrentPrincipal, agb: Annotated[str, Path(max_length=20)]) -> ProviderDetail:
    return ProviderDetail.model_validate(queries.get_provider(db, principal, agb))
