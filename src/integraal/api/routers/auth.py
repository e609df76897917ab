"""Who am I, and web sessions: log in with a password (session cookie + CSRF token), log out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Response, Security
from pydantic import BaseModel, Field

from integraal.api.deps import DB, SESSION_COOKIE, Config, CurrentPrincipal, session_cookie, set_session_cookie
from integraal.api.problems import UNAUTHENTICATED_HEADERS, ProblemError
from integraal.api.schemas import problems
from integraal.services.access import PERMISSIONS, Principal
from integraal.services.users import AuthenticationError, csrf_token, login, logout

router = APIRouter(tags=["auth"])


class Me(BaseModel):
    username: str
    role: str
    igo_id: str | None = None
    agb: str | None = None
    uzovi: str | None = None
    permissions: list[str] = Field(description="The actions this role may take (see docs/api.md).")


def _me(principal: Principal) -> Me:
    return Me(
        username=principal.username,
        role=principal.role.value,
        igo_id=principal.igo_id,
        agb=principal.agb,
        uzovi=principal.uzovi,
        permissions=sorted(a.value for a, roles in PERMISSIONS.items() if principal.role in roles),
    )


class LoginRequest(BaseModel):
    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=1000)


class SessionInfo(BaseModel):
    user: Me
    csrf_token: str = Field(description="Send as header X-CSRF-Token with every write made with the cookie.")


class LoggedOut(BaseModel):
    ended: bool


@router.get("/me", summary="The authenticated user, role, tenant and permissions", responses=problems(401))
def me(principal: CurrentPrincipal) -> Me:
    return _me(principal)


@router.post(
    "/auth/login",
    summary="Log in with a password: sets the session cookie and returns the CSRF token",
    responses=problems(401, 422),
)
def log_in(body: LoginRequest, response: Response, db: DB, settings: Config) -> SessionInfo:
    try:
        secret, principal = login(db, body.username, body.password, hours=settings.session_hours)
    except AuthenticationError as exc:
        raise ProblemError(401, "unauthenticated", str(exc), headers=UNAUTHENTICATED_HEADERS) from exc
    set_session_cookie(response, secret, settings)
    return SessionInfo(user=_me(principal), csrf_token=csrf_token(secret))


@router.post("/auth/logout", summary="End the web session of the cookie", responses=problems(401, 403))
def log_out(
    response: Response,
    db: DB,
    principal: CurrentPrincipal,
    session: Annotated[str | None, Security(session_cookie)],
) -> LoggedOut:
    ended = logout(db, session, principal) if session else False
    response.delete_cookie(SESSION_COOKIE, path="/")
    return LoggedOut(ended=ended)
