"""Dependency injection: the database (unit of work factory), settings and the authenticated principal."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request, Response, Security
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from integraal.api.problems import UNAUTHENTICATED_HEADERS, ProblemError
from integraal.api.settings import Settings
from integraal.services.access import Principal
from integraal.services.queries import DEFAULT_LIMIT, MAX_LIMIT, Paging
from integraal.services.users import check_csrf, principal_for_session, principal_for_token
from integraal.store.database import Database

SESSION_COOKIE = "integraal_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

bearer = HTTPBearer(auto_error=False, description="An API token from `integraal user token USERNAME`.")
session_cookie = APIKeyCookie(
    name=SESSION_COOKIE,
    auto_error=False,
    description="The web session set by POST /api/auth/login; writes also need the X-CSRF-Token header.",
)


def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def set_session_cookie(response: Response, secret: str, settings: Settings) -> None:
    """The web session cookie, the same for the API's login and the web UI's login form."""
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        max_age=settings.session_hours * 3600,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        path="/",
    )


DB = Annotated[Database, Depends(get_database)]
Config = Annotated[Settings, Depends(get_settings)]


def _unauthenticated(detail: str) -> ProblemError:
    return ProblemError(401, "unauthenticated", detail, headers=UNAUTHENTICATED_HEADERS)


def get_principal(
    request: Request,
    db: DB,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
    session: Annotated[str | None, Security(session_cookie)],
) -> Principal:
    """Bearer token first, else the session cookie (with the CSRF check on writes); else 401."""
    if credentials is not None:
        principal = principal_for_token(db, credentials.credentials)
        if principal is None:
            raise _unauthenticated("the API token is unknown, revoked or expired")
    elif session:
        principal = principal_for_session(db, session)
        if principal is None:
            raise _unauthenticated("the session has ended or expired; log in again")
        if request.method not in SAFE_METHODS and not check_csrf(session, request.headers.get(CSRF_HEADER)):
            raise ProblemError(
                403, "csrf", f"a write with a session cookie needs the {CSRF_HEADER} header of the session"
            )
    else:
        raise _unauthenticated("send an API token (Authorization: Bearer …) or log in")
    request.state.principal = principal
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def get_paging(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page.")] = DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0, le=100_000_000, description="Items to skip.")] = 0,
) -> Paging:
    return Paging(limit, offset)


PageParams = Annotated[Paging, Depends(get_paging)]
