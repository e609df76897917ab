"""The web UI (server-rendered HTML in Dutch or English) on the same app and use cases as the REST API."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from integraal.web.claims_pages import router as claims_router
from integraal.web.distribution_pages import router as distribution_router
from integraal.web.insight_pages import router as insight_router
from integraal.web.pages import LoginRequiredError, router

STATIC = Path(__file__).parent / "static"


def install(app: FastAPI) -> None:
    """Add the pages, their static files and the redirect to the login page for visitors without a session."""
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(router)
    app.include_router(claims_router)
    app.include_router(distribution_router)
    app.include_router(insight_router)

    @app.exception_handler(LoginRequiredError)
    async def _login(request: Request, exc: LoginRequiredError) -> RedirectResponse:
        return RedirectResponse(f"/login?{urlencode({'next': exc.next_path})}", status_code=303)
