"""The server-rendered web UI: login, dashboard, pregnancies, upload, activities and the audit log.

Every page calls the same use cases as the API (``integraal.services``), with the principal of the web session,
so the scoping in the service layer applies here unchanged. This module only turns requests into calls and
results into HTML; it decides nothing about money or access itself. Writes (log out, upload, re-decide) are
HTML forms that carry the session's CSRF token.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from integraal.api.deps import SESSION_COOKIE, get_database, get_settings, set_session_cookie
from integraal.importing.validation import FileError
from integraal.services import dashboard, queries, reruns
from integraal.services.access import AccessDeniedError, Action, NotFoundError, Principal, allowed
from integraal.services.uploads import UploadRefusedError, upload_activities
from integraal.services.users import AuthenticationError, check_csrf, csrf_token, login, logout, principal_for_session
from integraal.web.i18n import LANGUAGE_COOKIE, LANGUAGES, choose_language
from integraal.web.labels import N_
from integraal.web.rendering import render

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
MAX_SHOWN_ERRORS = 500


class LoginRequiredError(Exception):
    """No valid web session: the handler answers with a redirect to the login page."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


@dataclass(frozen=True, slots=True)
class Visitor:
    """Who is looking at a page: the principal (``None`` on the login page), the session and the language."""

    principal: Principal | None
    session: str | None
    lang: str

    @property
    def csrf(self) -> str:
        return csrf_token(self.session) if self.session else ""


def _lang(request: Request) -> str:
    return choose_language(request.query_params.get("lang"), request.cookies.get(LANGUAGE_COOKIE))


def _visitor(request: Request) -> Visitor:
    """The logged-in visitor, or :class:`LoginRequiredError` (sessions are those of ``POST /api/auth/login``)."""
    session = request.cookies.get(SESSION_COOKIE)
    principal = principal_for_session(get_database(request), session) if session else None
    if principal is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequiredError(target)
    return Visitor(principal, session, _lang(request))


def safe_next(path: str | None, default: str = "/dashboard") -> str:
    """A redirect target on this site only: a path, never another host (``//evil``, ``https://…``)."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return default
    return path


def _page(request: Request, visitor: Visitor, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    response = HTMLResponse(
        render(template, visitor.lang, request=request, visitor=visitor, nav=_navigation(visitor), **context),
        status_code=status,
    )
    if request.query_params.get("lang") in LANGUAGES:
        _remember_language(response, visitor.lang)
    return response


def _remember_language(response: Response, lang: str) -> None:
    response.set_cookie(LANGUAGE_COOKIE, lang, max_age=365 * 24 * 3600, samesite="lax", path="/")


def _navigation(visitor: Visitor) -> list[tuple[str, str]]:
    """(path, label key) of the pages this visitor's role may open, in menu order."""
    principal = visitor.principal
    if principal is None:
        return []
    items = [
        ("/dashboard", N_("Dashboard"), Action.READ_AGGREGATES),
        ("/pregnancies", N_("Pregnancies"), Action.READ_PREGNANCIES),
        ("/activities", N_("Activities"), Action.READ_ACTIVITIES),
        ("/upload", N_("Upload"), Action.UPLOAD_ACTIVITIES),
        ("/claims", N_("Claims"), Action.READ_CLAIMS),
        ("/distribution", N_("Distribution"), Action.SIMULATE_DISTRIBUTION),
        ("/statements", N_("Statements"), Action.READ_STATEMENTS),
        ("/insight", N_("Insight"), Action.READ_AGGREGATES),
        ("/audit", N_("Audit log"), Action.READ_AUDIT),
    ]
    return [(path, name) for path, name, action in items if allowed(principal, action)]


def _home(principal: Principal) -> str:
    """The first page a role can use: the dashboard, or (a member provider) its activities."""
    return "/dashboard" if allowed(principal, Action.READ_AGGREGATES) else "/activities"


def _error(request: Request, visitor: Visitor, status: int, message: str) -> HTMLResponse:
    return _page(request, visitor, "error.html", status=status, status_code=status, message=message)


def _pages(total: int, offset: int) -> dict[str, int]:
    pages = max(1, math.ceil(total / PAGE_SIZE))
    return {"page": offset // PAGE_SIZE + 1, "pages": pages, "total": total}


def _offset(page: int) -> int:
    return (max(page, 1) - 1) * PAGE_SIZE


# --- login and language -------------------------------------------------------------------------------------


@router.get("/")
def home(request: Request) -> RedirectResponse:
    session = request.cookies.get(SESSION_COOKIE)
    principal = principal_for_session(get_database(request), session) if session else None
    return RedirectResponse(_home(principal) if principal else "/login", status_code=303)


@router.get("/login")
def login_form(request: Request, next: str | None = None) -> Response:
    session = request.cookies.get(SESSION_COOKIE)
    principal = principal_for_session(get_database(request), session) if session else None
    if principal is not None:
        return RedirectResponse(safe_next(next, _home(principal)), status_code=303)
    visitor = Visitor(None, None, _lang(request))
    return _page(request, visitor, "login.html", next=safe_next(next, ""), error=None, username="")


@router.post("/login")
def login_submit(
    request: Request,
    username: Annotated[str, Form(max_length=100)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    settings = get_settings(request)
    visitor = Visitor(None, None, _lang(request))
    try:
        secret, principal = login(get_database(request), username, password, hours=settings.session_hours)
    except AuthenticationError:
        return _page(
            request, visitor, "login.html", status=401, next=safe_next(next, ""), error=True, username=username
        )
    response = RedirectResponse(safe_next(next, _home(principal)), status_code=303)
    set_session_cookie(response, secret, settings)
    return response


@router.post("/logout")
def logout_submit(request: Request, csrf_token: Annotated[str, Form(max_length=200)] = "") -> Response:
    visitor = _visitor(request)
    if visitor.session is None or visitor.principal is None or not check_csrf(visitor.session, csrf_token):
        return _error(request, visitor, 403, "csrf")
    logout(get_database(request), visitor.session, visitor.principal)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/language/{lang}")
def switch_language(lang: str, next: str | None = None) -> RedirectResponse:
    """Remember the chosen language (a preference, not data: a plain link may set it)."""
    response = RedirectResponse(safe_next(next, "/"), status_code=303)
    if lang in LANGUAGES:
        _remember_language(response, lang)
    return response


# --- dashboard ------------------------------------------------------------------------------------------------


@router.get("/dashboard")
def dashboard_page(request: Request, year: Annotated[int | None, Query(ge=2000, le=2100)] = None) -> Response:
    visitor = _visitor(request)
    assert visitor.principal is not None
    if not allowed(visitor.principal, Action.READ_AGGREGATES):
        return RedirectResponse(_home(visitor.principal), status_code=303)
    overview = dashboard.year_overview(get_database(request), visitor.principal, year)
    return _page(request, visitor, "dashboard.html", overview=overview)


# --- pregnancies ----------------------------------------------------------------------------------------------

PREGNANCY_STATUSES = ("ongoing", "ended")


@router.get("/pregnancies")
def pregnancies_page(
    request: Request,
    search: Annotated[str, Query(max_length=100)] = "",
    phase: Annotated[str, Query(max_length=20)] = "",
    outcome: Annotated[str, Query(max_length=20)] = "",
    end_reason: Annotated[str, Query(max_length=30)] = "",
    status: Annotated[str, Query(max_length=10)] = "",
    igo_id: Annotated[str, Query(max_length=40)] = "",
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
) -> Response:
    visitor = _visitor(request)
    assert visitor.principal is not None
    filters = queries.PregnancyFilter(
        igo_id=igo_id or None,
        end_reason=end_reason or None,
        ongoing={"ongoing": True, "ended": False}.get(status),
        phase=phase or None,
        outcome=outcome or None,
        search=search.strip() or None,
    )
    try:
        result = queries.list_pregnancies(
            get_database(request),
            visitor.principal,
            filters,
            paging=queries.Paging(PAGE_SIZE, _offset(page)),
            pseudonym_key=get_settings(request).pseudonym_key,
        )
    except AccessDeniedError:
        return _error(request, visitor, 403, "forbidden")
    given = {
        "search": search,
        "phase": phase,
        "outcome": outcome,
        "end_reason": end_reason,
        "status": status,
        "igo_id": igo_id,
    }
    query = {k: v for k, v in given.items() if v}
    return _page(
        request,
        visitor,
        "pregnancies.html",
        result=result,
        query=query,
        query_string=urlencode(query),
        paging=_pages(result.total, result.offset),
        filtered=bool(query),
    )


@router.get("/pregnancies/{pregnancy_id}")
def pregnancy_page(request: Request, pregnancy_id: str) -> Response:
    visitor = _visitor(request)
    assert visitor.principal is not None
    try:
        detail = queries.get_pregnancy(
            get_database(request), visitor.principal, pregnancy_id, pseudonym_key=get_settings(request).pseudonym_key
        )
    except AccessDeniedError:
        return _error(request, visitor, 403, "forbidden")
    except NotFoundError:
        return _error(request, visitor, 404, "not_found")
    return _page(
        request,
        visitor,
        "pregnancy.html",
        p=detail,
        lanes=timeline_lanes(detail),
        span=timeline_span(detail),
        by_id={e.activity_id: e for e in detail.timeline or []},
        can_rerun=allowed(visitor.principal, Action.RERUN_DECISIONS),
        rerun_done=request.query_params.get("rerun") == "1",
    )


@router.post("/pregnancies/{pregnancy_id}/decide")
def rerun_pregnancy(
    request: Request, pregnancy_id: str, csrf_token: Annotated[str, Form(max_length=200)] = ""
) -> Response:
    """Decide this pregnancy again on the stored data (after a correction), as of today."""
    visitor = _visitor(request)
    assert visitor.principal is not None and visitor.session is not None
    if not check_csrf(visitor.session, csrf_token):
        return _error(request, visitor, 403, "csrf")
    try:
        reruns.rerun_decisions(get_database(request), visitor.principal, dt.date.today(), [pregnancy_id])
    except AccessDeniedError:
        return _error(request, visitor, 403, "forbidden")
    except NotFoundError:
        return _error(request, visitor, 404, "not_found")
    return RedirectResponse(f"/pregnancies/{quote(pregnancy_id)}?rerun=1", status_code=303)


@dataclass(frozen=True, slots=True)
class Lane:
    """One provider's row on the timeline: its activities in date order."""

    agb: str
    provider_name: str | None
    discipline: str | None
    member: bool  # a member on every one of its dates here
    entries: list[queries.TimelineEntry]


def timeline_lanes(detail: queries.PregnancyDetail) -> list[Lane]:
    """The timeline grouped per provider, providers in order of their first activity."""
    grouped: OrderedDict[str, list[queries.TimelineEntry]] = OrderedDict()
    for entry in sorted(detail.timeline or [], key=lambda e: (e.date, e.activity_id)):
        grouped.setdefault(entry.agb, []).append(entry)
    return [
        Lane(agb, entries[0].provider_name, entries[0].discipline, all(e.member for e in entries), entries)
        for agb, entries in grouped.items()
    ]


@dataclass(frozen=True, slots=True)
class Span:
    """The dates a timeline covers, to place an activity at a percentage of the width."""

    start: dt.date
    end: dt.date
    labour: dt.date | None

    def position(self, day: dt.date) -> float:
        """Percent from the left, kept within 3–97 % so a dot or label at either end is not cut off."""
        length = max((self.end - self.start).days, 1)
        return round(3 + 94 * min(max((day - self.start).days, 0), length) / length, 2)


def timeline_span(detail: queries.PregnancyDetail) -> Span:
    dates = [e.date for e in detail.timeline or []]
    start = min([detail.intake_date, *dates])
    end = max([detail.end_date or detail.due_date, detail.due_date, *dates])
    return Span(start, end, detail.labour_date)


# --- activities and upload ------------------------------------------------------------------------------------


@router.get("/activities")
def activities_page(
    request: Request,
    pregnancy_id: Annotated[str, Query(max_length=100)] = "",
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
) -> Response:
    visitor = _visitor(request)
    assert visitor.principal is not None
    try:
        result = queries.list_activities(
            get_database(request),
            visitor.principal,
            pregnancy_id=pregnancy_id.strip() or None,
            paging=queries.Paging(PAGE_SIZE, _offset(page)),
            pseudonym_key=get_settings(request).pseudonym_key,
        )
    except AccessDeniedError:
        return _error(request, visitor, 403, "forbidden")
    query = {"pregnancy_id": pregnancy_id} if pregnancy_id else {}
    return _page(
        request,
        visitor,
        "activities.html",
        result=result,
        query=query,
        query_string=urlencode(query),
        paging=_pages(result.total, result.offset),
    )


@router.get("/upload")
def upload_form(request: Request) -> Response:
    visitor = _visitor(request)
    assert visitor.principal is not None
    if not allowed(visitor.principal, Action.UPLOAD_ACTIVITIES):
        return _error(request, visitor, 403, "forbidden")
    return _page(request, visitor, "upload.html", report=None, refused=None, file_error=None)


@router.post("/upload")
def upload_submit(
    request: Request,
    file: Annotated[UploadFile, File()],
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    visitor = _visitor(request)
    assert visitor.principal is not None and visitor.session is not None
    if not check_csrf(visitor.session, csrf_token):
        return _error(request, visitor, 403, "csrf")
    limit = get_settings(request).max_upload_bytes
    data = file.file.read(limit + 1)
    if len(data) > limit:
        return _page(request, visitor, "upload.html", status=413, report=None, refused=None, file_error="too_large")
    context: dict[str, Any] = {"report": None, "refused": None, "file_error": None, "file_name": file.filename}
    status = 200
    try:
        context["report"] = upload_activities(get_database(request), visitor.principal, file.filename, data)
    except AccessDeniedError:
        return _error(request, visitor, 403, "forbidden")
    except UploadRefusedError as exc:
        context["refused"], status = exc.violations[:MAX_SHOWN_ERRORS], 403
        context["refused_total"] = len(exc.violations)
    except FileError as exc:
        context["file_error"], status = exc.message, 422
    context["max_errors"] = MAX_SHOWN_ERRORS
    return _page(request, visitor, "upload.html", status=status, **context)


# --- audit ------------------------------------------------------------------------------------------------------


@router.get("/audit")
def audit_page(request: Request, page: Annotated[int, Query(ge=1, le=1_000_000)] = 1) -> Response:
    visitor = _visitor(request)
    assert visitor.principal is not None
    try:
        result = queries.list_audit(
            get_database(request), visitor.principal, paging=queries.Paging(PAGE_SIZE, _offset(page))
        )
    except AccessDeniedError:
        return _error(request, visitor, 403, "forbidden")
    return _page(
        request,
        visitor,
        "audit.html",
        result=result,
        query={},
        query_string="",
        paging=_pages(result.total, result.offset),
    )
