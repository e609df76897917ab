"""Claims to insurers: batches, sending a batch as a file, applying a return file, and the worklist."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, File, Path, Query, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field

from integraal.api.deps import DB, Config, CurrentPrincipal
from integraal.api.problems import ProblemError
from integraal.api.schemas import READ, READ_ONE, Schema, problems
from integraal.services import claims, reconciliation

router = APIRouter(tags=["claims"])

FormatName = Annotated[str, Query(pattern=r"^[a-z0-9-]{1,30}$", description="A registered format, e.g. kz301.")]


class Batch(Schema):
    batch_id: str
    igo_id: str
    uzovi: str
    period_start: dt.date
    period_end: dt.date
    lines: int
    credits: int
    total_cents: int = Field(description="Debits minus credits, in cents.")
    state: str = Field(description="ready, sent or returned.")


class BuildRequest(BaseModel):
    period_start: dt.date = Field(description="First declaration date to claim.")
    period_end: dt.date = Field(description="Last declaration date to claim.")
    include_mono: bool = Field(True, description="Also claim members' monodisciplinary lines on their behalf.")
    send: str | None = Field(
        None,
        pattern=r"^[a-z0-9-]{1,30}$",
        description="A claim file format (e.g. kz301): the batches are sent in it as they are built, in one step "
        "(a file that cannot be written builds nothing). Fetch each file with POST /claims/batches/{batch_id}/send "
        "in the same format: a resend, the same file.",
    )


class BuildResult(Schema):
    batches: list[Batch]
    already_claimed: int
    waiting: int
    unchanged_rejections: int
    owed_redecided: list[str] = Field(
        default_factory=list,
        description="Pregnancies with a 0587 from an earlier, interrupted return application, decided again first.",
    )


class ReturnResult(Schema):
    batch_id: str
    accepted: int
    partially_accepted: int
    rejected: int
    already_applied: int
    awarded_cents: int
    bundle_breakers: list[str] = Field(description="Pregnancies decided again after return code 0587.")
    rerun_ids: list[int]
    owed_redecided: list[str] = Field(
        default_factory=list,
        description="Pregnancies with a 0587 from an earlier, interrupted application, decided again now.",
    )


class WorkItem(Schema):
    line_id: str
    batch_id: str
    pregnancy_id: str
    phase: str
    prestatie_code: str
    claimant_agb: str
    amount_cents: int
    awarded_cents: int | None
    state: str


class WorkGroup(Schema):
    return_code: str
    text_nl: str
    text_en: str
    next_action: str = Field(description="fix_and_resend, credit, write_off, ask_member, rebundle or none.")
    open_cents: int
    lines: list[WorkItem]


@router.get("/claims/batches", summary="Claim batches in your scope", responses=READ)
def list_batches(db: DB, principal: CurrentPrincipal) -> list[Batch]:
    return [Batch.model_validate(b) for b in claims.list_batches(db, principal)]


@router.post(
    "/claims/batches",
    status_code=201,
    summary="Build claim batches (one per IGO × insurer) from the decisions declared in the period",
    responses=problems(401, 403, 422),
)
def build_batches(body: BuildRequest, db: DB, principal: CurrentPrincipal) -> BuildResult:
    try:
        result = claims.build_batches(
            db,
            principal,
            period_start=body.period_start,
            period_end=body.period_end,
            include_mono=body.include_mono,
            send=body.send,
        )
    except claims.ClaimsError as exc:
        raise ProblemError(422, "validation", str(exc)) from exc
    return BuildResult.model_validate(result)


@router.post(
    "/claims/batches/{batch_id}/send",
    summary="The batch as a claim file (KZ301-style by default); a ready batch becomes sent",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}}, **READ_ONE},
)
def send_batch(
    db: DB,
    principal: CurrentPrincipal,
    batch_id: Annotated[str, Path(max_length=12)],
    format: FormatName = "kz301",
) -> Response:
    try:
        data = claims.export_batch(db, principal, batch_id, format)
    except claims.ClaimsError as exc:
        raise ProblemError(422, "validation", str(exc)) from exc
    headers = {"Content-Disposition": f'attachment; filename="{batch_id}.{format}"'}
    return Response(data, media_type="application/octet-stream", headers=headers)


@router.post(
    "/claims/returns",
    summary="Apply an insurer's return file (KZ302-style by default); a bad file changes nothing",
    responses=problems(401, 403, 404, 413, 422),
)
def apply_return(
    db: DB,
    settings: Config,
    principal: CurrentPrincipal,
    file: Annotated[UploadFile, File(description="The return file as received from the insurer.")],
    format: FormatName = "kz302",
) -> ReturnResult:
    data = file.file.read(settings.max_upload_bytes + 1)
    if len(data) > settings.max_upload_bytes:
        raise ProblemError(413, "too-large", f"the file is larger than {settings.max_upload_bytes} bytes")
    try:
        summary = claims.apply_return(db, principal, data, format)
    except claims.ClaimsError as exc:
        raise ProblemError(422, "file-rejected", str(exc), title="Return file rejected") from exc
    return ReturnResult.model_validate(summary)


@router.get("/claims/worklist", summary="Rejected and reduced lines by return code and next action", responses=READ)
def worklist(db: DB, principal: CurrentPrincipal) -> list[WorkGroup]:
    return [
        WorkGroup(
            return_code=g.return_code,
            text_nl=g.text_nl,
            text_en=g.text_en,
            next_action=g.next_action,
            open_cents=g.open_cents,
            lines=[WorkItem.model_validate(i) for i in g.lines],
        )
        for g in claims.worklist(db, principal)
    ]


class PaymentRequest(BaseModel):
    payment_id: str = Field(min_length=1, max_length=60, description="The insurer's payment reference (once only).")
    uzovi: str = Field(pattern=r"^\d{4}$")
    received_on: dt.date
    total_cents: int = Field(ge=-(10**13), le=10**13)
    igo_id: str | None = Field(None, max_length=40, description="Superusers only: the IGO the payment is for.")
    allocations: list[tuple[str, int]] | None = Field(
        None, max_length=100_000, description="(line id, cents) pairs; without them the lines are matched here."
    )


class PaymentResult(Schema):
    payment_id: str
    igo_id: str
    uzovi: str
    total_cents: int
    allocated_cents: int
    unallocated_cents: int
    lines_paid: int
    lines_part_paid: int


class OpenAmount(Schema):
    igo_id: str
    uzovi: str
    lines: int
    awarded_cents: int
    received_cents: int
    unallocated_cents: int
    open_cents: int


@router.post(
    "/claims/payments",
    status_code=201,
    summary="Record a payment from an insurer and match it to claim lines (once per reference)",
    responses=problems(401, 403, 422),
)
def record_payment(body: PaymentRequest, db: DB, principal: CurrentPrincipal) -> PaymentResult:
    try:
        result = reconciliation.record_payment(
            db,
            principal,
            payment_id=body.payment_id,
            uzovi=body.uzovi,
            received_on=body.received_on,
            total_cents=body.total_cents,
            igo_id=body.igo_id,
            allocations=body.allocations,
        )
    except claims.ClaimsError as exc:
        raise ProblemError(422, "validation", str(exc)) from exc
    return PaymentResult.model_validate(result)


@router.get("/claims/open", summary="Awarded and not yet received, per IGO and insurer", responses=READ)
def open_amounts(db: DB, principal: CurrentPrincipal) -> list[OpenAmount]:
    return [
        OpenAmount(
            igo_id=o.igo_id,
            uzovi=o.uzovi,
            lines=o.lines,
            awarded_cents=o.awarded_cents,
            received_cents=o.received_cents,
            unallocated_cents=o.unallocated_cents,
            open_cents=o.open_cents,
        )
        for o in reconciliation.open_amounts(db, principal)
    ]
