"""Contracts IGO × insurer × year with their agreed tariffs (integer cents)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from integraal.api.deps import DB, CurrentPrincipal, PageParams
from integraal.api.schemas import READ, READ_ONE, Schema
from integraal.services import queries

router = APIRouter(tags=["register"])


class ContractPrestatie(Schema):
    prestatie_code: str
    tariff_cents: int


class Contract(Schema):
    contract_id: str
    igo_id: str
    uzovi: str
    year: int
    overlap_policy: str | None
    partial_trajectory_policy: str | None
    prestaties: list[ContractPrestatie]


class ContractPage(Schema):
    items: list[Contract]
    total: int
    limit: int
    offset: int


@router.get("/contracts", summary="Contracts of your IGO or your insurer", responses=READ)
def list_contracts(
    db: DB,
    principal: CurrentPrincipal,
    paging: PageParams,
    igo_id: Annotated[str | None, Query(max_length=100)] = None,
    uzovi: Annotated[str | None, Query(max_length=4)] = None,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
) -> ContractPage:
    page = queries.list_contracts(db, principal, igo_id=igo_id, uzovi=uzovi, year=year, paging=paging)
    return ContractPage.model_validate(page)


@router.get("/contracts/{contract_id}", summary="One contract", responses=READ_ONE)
def get_contract(db: DB, principal: CurrentPrincipal, contract_id: Annotated[str, Path(max_length=100)]) -> Contract:
    return Contract.model_validate(queries.get_contract(db, principal, contract_id))
