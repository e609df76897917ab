"""The claims pages of the web UI: batches and their state, building and sending them, applying the insurer's
return file, and the worklist of rejected lines grouped by reason with the action to take (issue 4).

Like every page, they call the use cases of ``services.claims`` with the web session's principal.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response

from integraal.api.deps import get_database, get_settings
from integraal.claims.formats import FormatError
from integraal.services import claims, reconciliation
from integraal.services.access import AccessDeniedError, Action, NotFoundError, allowed
from integraal.services.users import check_csrf
from integraal.web.pages import _error, _page, _visitor

router = APIRouter(include_in_schema=False)


def _claims_page(request: Request, status: int = 200, **context: Any) -> Response:
    visitor = _visitor(request)
    assert visitor.principal is not None
    try:
        batches = claims.list_batches(get_database(request), visitor.principal)
        work = claims.worklist(get_database(request), visitor.principal)
        owed = reconciliation.open_amounts(get_database(request), visitor.principal)
    except AccessDeniedError:
        return _error(request, visitor, 403, "forbidden")
    context.setdefault("applied", None)
    context.setdefault("problem", None)
    today = dt.date.today()
    return _page(
        request,
        visitor,
        "claims.html",
        status=status,
        batches=batches,
        work=work,
        owed=owed,
        can_manage=allowed(visitor.principal, Action.MANAGE_CLAIMS),
        built=request.query_params.get("built"),
        redecided=_count(request.query_params.get("redecided")),
        resent=request.query_params.get("resent"),
        default_from=today.replace(day=1) - dt.timedelta(days=1),
        **context,
    )


@router.get("/claims")
def claims_page(request: Request) -> Response:
    return _claims_page(request)


def _checked(request: Request, token: str) -> Response | None:
    """The 403 page when the form's CSRF token is wrong (or the role may not manage claims), else ``None``."""
    visitor = _visitor(request)
    assert visitor.principal is not None and visitor.session is not None
    if not check_csrf(visitor.session, token):
        return _error(request, visitor, 403, "csrf")
    if not allowed(visitor.principal, Action.MANAGE_CLAIMS):
        return _error(request, visitor, 403, "forbidden")
    return None


@router.post("/claims/build")
def build(
    request: Request,
    period_start: Annotated[dt.date, Form()],
    period_end: Annotated[dt.date, Form()],
    include_mono: Annotated[bool, Form()] = False,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    if refused := _checked(request, csrf_token):
        return refused
    visitor = _visitor(request)
    assert visitor.principal is not None
    try:
        result = claims.build_batches(
            get_database(request),
            visitor.principal,
            period_start=period_start,
            period_end=period_end,
            include_mono=include_mono,
        )
    except claims.ClaimsError as exc:
        return _claims_page(request, status=422, problem=str(exc))
    owed = f"&redecided={len(result.owed_redecided)}" if result.owed_redecided else ""
    return RedirectResponse(f"/claims?built={len(result.batches)}{owed}", status_code=303)


def _count(value: str | None) -> int | None:
    """A count passed on to the page after a redirect (anything else is ignored)."""
    return int(value) if value is not None and value.isdigit() else None


@router.post("/claims/batches/{batch_id}/send")
def send(request: Request, batch_id: str, csrf_token: Annotated[str, Form(max_length=200)] = "") -> Response:
    """Download the batch as a KZ301-style file; a ready batch becomes sent."""
    if refused := _checked(request, csrf_token):
        return refused
    visitor = _visitor(request)
    assert visitor.principal is not None
    try:
        data = claims.export_batch(get_database(request), visitor.principal, batch_id, "kz301")
    except NotFoundError:
        return _error(request, visitor, 404, "not_found")
    headers = {"Content-Disposition": f'attachment; filename="{batch_id}.kz301"'}
    return Response(data, media_type="application/octet-stream", headers=headers)


@router.post("/claims/returns")
def apply_return(
    request: Request,
    file: Annotated[UploadFile, File()],
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    if refused := _checked(request, csrf_token):
        return refused
    visitor = _visitor(request)
    assert visitor.principal is not None
    limit = get_settings(request).max_upload_bytes
    data = file.file.read(limit + 1)
    if len(data) > limit:
        return _claims_page(request, status=413, problem="too_large")
    try:
        summary = claims.apply_return(get_database(request), visitor.principal, data, "kz302")
    except (FormatError, claims.ClaimsError) as exc:
        return _claims_page(request, status=422, problem=str(exc))
    except NotFoundError:
        return _claims_page(request, status=404, problem="unknown batch")
    return _claims_page(request, applied=summary)


@router.post("/claims/resubmit")
def resubmit(
    request: Request,
    line_ids: Annotated[list[str] | None, Form()] = None,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    if refused := _checked(request, csrf_token):
        return refused
    visitor = _visitor(request)
    assert visitor.principal is not None
    chosen = [line_id for line_id in (line_ids or []) if line_id][:5000]
    try:
        batches = claims.resubmit(get_database(request), visitor.principal, chosen) if chosen else []
    except NotFoundError:
        return _error(request, visitor, 404, "not_found")
    except claims.ClaimsError as exc:
        return _claims_page(request, status=422, problem=str(exc))
    return RedirectResponse(f"/claims?resent={sum(b.lines for b in batches)}", status_code=303)
