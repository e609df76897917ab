"""Errors as RFC 9457 problem details (``application/problem+json``): type, title, status, detail, instance,
and for validation errors an ``errors`` list naming each field that was wrong.

Use-case errors (access denied, not found, unreadable file, rows outside the scope) are mapped here, in one
place, so every router answers the same way. Problem types are dereferenceable: ``GET /problems/{slug}``.
"""

from __future__ import annotations

import json
import logging
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from integraal.claims.formats.errors import BatchNotWritableError, FormatError, UnknownFormatError
from integraal.importing.validation import FileError
from integraal.services.access import AccessDeniedError, NotFoundError
from integraal.services.uploads import UploadRefusedError
from integraal.store.database import DatabaseBusyError

log = logging.getLogger(__name__)

MEDIA_TYPE = "application/problem+json"

PROBLEM_TYPES: dict[str, str] = {
    "unauthenticated": "No valid credentials: send `Authorization: Bearer <token>` (from `integraal user token`) "
    "or log in (POST /api/auth/login) and send the session cookie.",
    "forbidden": "Your role may not do this. What each role may do is listed in docs/api.md.",
    "csrf": "A write with a session cookie needs the header `X-CSRF-Token` with the token returned at login.",
    "not-found": "There is no such resource, or none you may see: another tenant's rows look exactly like "
    "missing ones.",
    "validation": "A parameter or the body is not valid; `errors` names every field that was wrong.",
    "file-rejected": "The uploaded file cannot be read as a CSV file of the expected kind (encoding, header, "
    "columns); nothing was stored. See docs/formats.md.",
    "upload-refused": "Rows of the uploaded file are outside what you may register (another provider's AGB, "
    "a pregnancy of another IGO or an unknown one); `errors` lists them. Nothing was stored.",
    "too-large": "The request body is larger than this server accepts.",
    "busy": "Another run (an import, a claim or return run, a period close) holds the database; nothing was "
    "changed. Try again after the number of seconds in `Retry-After`.",
    "internal": "An unexpected error on the server. It has been logged; nothing you sent was half-applied.",
}


def type_uri(slug: str) -> str:
    return f"/problems/{slug}"


class ProblemError(Exception):
    """Raise in a router to answer with a problem document."""

    def __init__(
        self,
        status: int,
        slug: str | None,
        detail: str | None = None,
        *,
        title: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or title or str(status))
        self.status = status
        self.slug = slug
        self.detail = detail
        self.title = title
        self.errors = errors
        self.headers = headers


def problem_response(
    request: Request,
    status: int,
    slug: str | None,
    detail: str | None = None,
    *,
    title: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": type_uri(slug) if slug else "about:blank",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "instance": request.url.path,
    }
    if detail:
        body["detail"] = detail
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


UNAUTHENTICATED_HEADERS = {"WWW-Authenticate": 'Bearer realm="integraal"'}

_SLUG_OF_STATUS = {401: "unauthenticated", 403: "forbidden", 404: "not-found", 413: "too-large", 422: "validation"}


def _field(loc: tuple[Any, ...] | list[Any]) -> tuple[str, str]:
    """(location, field) from a pydantic error location such as ('query', 'limit') or ('body', 'as_of')."""
    parts = [str(p) for p in loc]
    location = parts[0] if parts else ""
    rest = parts[1:] if location in ("query", "path", "header", "cookie", "body") else parts
    return location, ".".join(rest) or location


# --- NUL characters ----------------------------------------------------------------------------------------

NUL_MESSAGE = "contains a NUL character (%00 or \\u0000), which no value may hold"
_FORM = "application/x-www-form-urlencoded"


def _nul_in_pairs(text: str) -> str | None:
    """The name of the first pair of a query (or form) string whose name or value holds a NUL, else None."""
    for name, value in parse_qsl(text, keep_blank_values=True):
        if "\x00" in name or "\x00" in value:
            return name.replace("\x00", "%00") or "(unnamed)"
    return None


def _nul_in_json(value: Any, path: str = "") -> str | None:
    """The dotted path of the first string (member name or value) in ``value`` that holds a NUL, else None."""
    if isinstance(value, str):
        return (path or "body") if "\x00" in value else None
    items: Any = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        if isinstance(key, str) and "\x00" in key:
            return f"{path}.{key}".strip(".").replace("\x00", "%00")
        found = _nul_in_json(item, f"{path}.{key}".strip("."))
        if found:
            return found
    return None


class RejectNulMiddleware:
    """Refuse a request that carries a NUL character in its path, query string or JSON or form body (422).

    PostgreSQL can neither store nor even compare text holding a NUL (SQLite can): without this check such a
    value fails in the database, as a 500, wherever it is first used in a query (a search, an id in a path, a
    user name). Uploaded files are not looked at here: their readers refuse NUL bytes themselves.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        where: tuple[str, str] | None = None
        if "\x00" in scope.get("path", ""):
            where = ("path", "path")
        elif name := _nul_in_pairs(scope.get("query_string", b"").decode("latin-1")):
            where = ("query", name)
        else:
            headers = dict(scope.get("headers") or [])
            media_type = headers.get(b"content-type", b"").decode("latin-1").split(";")[0].strip().lower()
            if media_type == _FORM or media_type.endswith("json"):
                body = await _read_body(receive)
                receive = _replay(body, receive)
                where = _nul_in_body(media_type, body)
        if where is None:
            await self.app(scope, receive, send)
            return
        location, field = where
        errors = [{"field": field, "location": location, "message": NUL_MESSAGE}]
        response = problem_response(
            Request(scope), 422, "validation", f"{field}: {NUL_MESSAGE}", title="Invalid request", errors=errors
        )
        await response(scope, receive, send)


def _nul_in_body(media_type: str, body: bytes) -> tuple[str, str] | None:
    if media_type == _FORM:
        name = _nul_in_pairs(body.decode("latin-1"))
        return ("body", name) if name else None
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return None  # not JSON: the route's own validation answers
    path = _nul_in_json(document)
    return ("body", path) if path else None


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the app the body read here once, then waits on the real one (disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


def install(app: FastAPI) -> None:
    """Register the exception handlers, the NUL check and the problem-type documentation route."""

    app.add_middleware(RejectNulMiddleware)

    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> JSONResponse:
        return problem_response(
            request, exc.status, exc.slug, exc.detail, title=exc.title, errors=exc.errors, headers=exc.headers
        )

    @app.exception_handler(AccessDeniedError)
    async def _denied(request: Request, exc: AccessDeniedError) -> JSONResponse:
        return problem_response(request, 403, "forbidden", str(exc))

    @app.exception_handler(NotFoundError)
    async def _not_found(request: Request, exc: NotFoundError) -> JSONResponse:
        return problem_response(request, 404, "not-found", str(exc))

    @app.exception_handler(FileError)
    async def _file(request: Request, exc: FileError) -> JSONResponse:
        errors = [{"field": "file", "location": "body", "message": exc.message}]
        return problem_response(request, 422, "file-rejected", str(exc), title="File rejected", errors=errors)

    @app.exception_handler(UploadRefusedError)
    async def _refused(request: Request, exc: UploadRefusedError) -> JSONResponse:
        errors = [
            {"field": v.field, "location": "file", "row": v.row, "value": v.value, "message": v.reason}
            for v in exc.violations
        ]
        return problem_response(request, 403, "upload-refused", str(exc), title="Upload refused", errors=errors)

    @app.exception_handler(FormatError)
    async def _format(request: Request, exc: FormatError) -> JSONResponse:
        errors = [
            {
                "field": exc.field or "file",
                "location": "file",
                "row": exc.line,
                "message": f"column {exc.column}: {exc.reason}",
            }
        ]
        return problem_response(request, 422, "file-rejected", str(exc), title="File rejected", errors=errors)

    @app.exception_handler(UnknownFormatError)
    async def _unknown_format(request: Request, exc: UnknownFormatError) -> JSONResponse:
        errors = [{"field": "format", "location": "query", "message": str(exc)}]
        return problem_response(request, 422, "validation", str(exc), title="Invalid request", errors=errors)

    @app.exception_handler(BatchNotWritableError)
    async def _not_writable(request: Request, exc: BatchNotWritableError) -> JSONResponse:
        return problem_response(request, 422, "validation", str(exc), title="Batch cannot be written")

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = []
        for error in exc.errors():
            location, name = _field(error.get("loc", ()))
            errors.append({"field": name, "location": location, "message": str(error.get("msg", ""))})
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        return problem_response(request, 422, "validation", detail, title="Invalid request", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = (
            exc.detail if isinstance(exc.detail, str) and exc.detail != HTTPStatus(exc.status_code).phrase else None
        )
        headers = dict(exc.headers or {})
        if exc.status_code == 401:
            headers.update(UNAUTHENTICATED_HEADERS)
        return problem_response(
            request, exc.status_code, _SLUG_OF_STATUS.get(exc.status_code), detail, headers=headers or None
        )

    @app.exception_handler(DatabaseBusyError)
    async def _busy(request: Request, exc: DatabaseBusyError) -> JSONResponse:
        return problem_response(request, 503, "busy", str(exc), title="Database busy", headers={"Retry-After": "30"})

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return problem_response(request, 500, "internal", "An unexpected error occurred; it has been logged.")

    @app.get("/problems/{slug}", include_in_schema=False, response_class=PlainTextResponse)
    def problem_type(slug: str) -> str:
        text = PROBLEM_TYPES.get(slug)
        if text is None:
            raise ProblemError(404, "not-found", f"no problem type {slug!r}")
        return f"{slug}\n\n{text}\n"
