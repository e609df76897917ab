"""Care activities: the list in scope (a member: its own) and the bulk upload of an activities CSV file."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, File, Query, UploadFile
from pydantic import Field

from integraal.api.deps import DB, Config, CurrentPrincipal, PageParams
from integraal.api.problems import ProblemError
from integraal.api.schemas import READ, Schema, problems
from integraal.services import queries
from integraal.services.uploads import upload_activities

router = APIRouter(tags=["activities"])

MAX_ERRORS = 1000


class Activity(Schema):
    activity_id: str
    bsn: str | None
    client_pseudonym: str | None
    pregnancy_id: str | None
    agb: str
    activity_code: str
    date: dt.date
    quantity: str


class ActivityPage(Schema):
    items: list[Activity]
    total: int
    limit: int
    offset: int


class RowError(Schema):
    row: int = Field(description="1 = the first data row after the header.")
    field: str
    value: str
    reason: str


class ImportReport(Schema):
    file: str
    kind: str
    total: int = Field(description="Data rows read.")
    accepted: int = Field(description="Rows stored (inserted, or replacing the row with the same key).")
    rejected: int = Field(description="Rows rejected and quarantined.")
    ok: bool
    run_id: int | None = Field(description="The import run, as recorded in the audit log.")
    errors: list[RowError] = Field(description=f"Every problem per row and field (at most {MAX_ERRORS}).")
    errors_truncated: bool


@router.get("/activities", summary="Registered activities in your scope", responses=READ)
def list_activities(
    db: DB,
    settings: Config,
    principal: CurrentPrincipal,
    paging: PageParams,
    pregnancy_id: Annotated[str | None, Query(max_length=100)] = None,
    agb: Annotated[str | None, Query(max_length=20)] = None,
    activity_code: Annotated[str | None, Query(max_length=40)] = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> ActivityPage:
    page = queries.list_activities(
        db,
        principal,
        pregnancy_id=pregnancy_id,
        agb=agb,
        activity_code=activity_code,
        date_from=date_from,
        date_to=date_to,
        paging=paging,
        pseudonym_key=settings.pseudonym_key,
    )
    return ActivityPage.model_validate(page)


@router.post(
    "/activities/upload",
    summary="Upload an activities CSV (docs/formats.md): valid rows stored, bad rows reported and quarantined",
    responses=problems(401, 403, 413, 422),
)
def upload(
    db: DB,
    settings: Config,
    principal: CurrentPrincipal,
    file: Annotated[UploadFile, File(description="activities.csv: UTF-8, comma-separated, one header row.")],
) -> ImportReport:
    data = file.file.read(settings.max_upload_bytes + 1)
    if len(data) > settings.max_upload_bytes:
        raise ProblemError(413, "too-large", f"the file is larger than {settings.max_upload_bytes} bytes")
    report = upload_activities(db, principal, file.filename, data)
    return ImportReport(
        file=report.file,
        kind=report.kind,
        total=report.total,
        accepted=report.accepted,
        rejected=report.rejected,
        ok=report.ok,
        run_id=report.run_id,
        errors=[RowError.model_validate(e) for e in report.errors[:MAX_ERRORS]],
        errors_truncated=len(report.errors) > MAX_ERRORS,
    )
