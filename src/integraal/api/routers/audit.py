"""The audit log: every write, who and when, with before/after ids (an IGO's back office: its own IGO's)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query

from integraal.api.deps import DB, CurrentPrincipal, PageParams
from integraal.api.schemas import READ, Schema
from integraal.services import queries

router = APIRouter(tags=["audit"])


class AuditEntry(Schema):
    id: int
    at: dt.datetime
    actor: str
    action: str
    entity: str
    entity_id: str
    detail: dict[str, Any]
    igo_ids: list[str]


class AuditPage(Schema):
    items: list[AuditEntry]
    total: int
    limit: int
    offset: int


@router.get("/audit", summary="Audit log entries, newest first", responses=READ)
def list_audit(
    db: DB,
    principal: CurrentPrincipal,
    paging: PageParams,
    action: Annotated[str | None, Query(max_length=60)] = None,
    entity: Annotated[str | None, Query(max_length=60)] = None,
    actor: Annotated[str | None, Query(max_length=100)] = None,
) -> AuditPage:
    page = queries.list_audit(db, principal, action=action, entity=entity, actor=actor, paging=paging)
    return AuditPage.model_validate(page)
