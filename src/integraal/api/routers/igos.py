"""IGOs (integrale geboortezorgorganisaties) in the caller's scope, with their dated memberships."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from integraal.api.deps import DB, CurrentPrincipal, PageParams
from integraal.api.routers.providers import Membership
from integraal.api.schemas import READ, READ_ONE, Schema
from integraal.services import queries

router = APIRouter(tags=["register"])


class Igo(Schema):
    igo_id: str
    agb: str
    name: str


class IgoDetail(Igo):
    members: list[Membership]


class IgoPage(Schema):
    items: list[Igo]
    total: int
    limit: int
    offset: int


@router.get("/igos", summary="IGOs you see", responses=READ)
def list_igos(db: DB, principal: CurrentPrincipal, paging: PageParams) -> IgoPage:
    return IgoPage.model_validate(queries.list_igos(db, principal, paging=paging))


@router.get("/igos/{igo_id}", summary="One IGO with its members (membership periods)", responses=READ_ONE)
def get_igo(db: DB, principal: CurrentPrincipal, igo_id: Annotated[str, Path(max_length=100)]) -> IgoDetail:
    return IgoDetail.model_validate(queries.get_igo(db, principal, igo_id))
