"""The FastAPI application: routers under ``/api``, problem+json errors, OpenAPI at ``/openapi.json``."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from integraal import __version__, web
from integraal.api import problems
from integraal.api.routers import (
    activities,
    audit,
    auth,
    claims,
    contracts,
    decisions,
    distribution,
    health,
    igos,
    insight,
    pregnancies,
    providers,
)
from integraal.api.settings import Settings
from integraal.logging_setup import ensure_logging
from integraal.store.database import Database

ROUTERS = (
    health,
    auth,
    providers,
    igos,
    contracts,
    pregnancies,
    activities,
    decisions,
    claims,
    distribution,
    insight,
    audit,
)

DESCRIPTION = """\
The money and data side of integrated birth care: providers, IGOs, contracts, pregnancies (care trajectories)
with their activities, bundle decisions per phase with reasons, and the audit log.

Authenticate with `Authorization: Bearer <token>` (`integraal user token USERNAME`) or a web session
(`POST /api/auth/login`). What you see depends on your role and tenant (IGO, provider AGB or insurer UZOVI);
rows of other tenants answer 404 like missing ones. Amounts are integer cents. Errors are RFC 9457
`application/problem+json`.
"""


def create_app(database: Database | None = None, *, settings: Settings | None = None) -> FastAPI:
    """The app on ``database`` (default: ``settings.database_url`` or ``$INTEGRAAL_DATABASE_URL``)."""
    ensure_logging()
    settings = settings or Settings()
    app = FastAPI(
        title="Integraal API",
        version=__version__,
        description=DESCRIPTION,
        openapi_url="/openapi.json",
        docs_url="/api/docs",
        swagger_ui_oauth2_redirect_url="/api/docs/oauth2-redirect",
        redoc_url=None,
    )
    app.state.database = database or Database(settings.database_url)
    app.state.settings = settings
    problems.install(app)
    for module in ROUTERS:
        app.include_router(module.router, prefix="/api")
    web.install(app)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _problem_json(
                get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def _problem_json(schema: dict[str, Any]) -> dict[str, Any]:
    """Error responses are ``application/problem+json`` with the ``Problem`` schema (FastAPI says JSON)."""
    problem = {"schema": {"$ref": "#/components/schemas/Problem"}}
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            for code, response in operation.get("responses", {}).items():
                if code.isdigit() and int(code) >= 400:
                    response["content"] = {problems.MEDIA_TYPE: problem}
    components = schema.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    return schema
