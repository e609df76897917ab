"""Liveness and readiness: public, no credentials needed."""

from __future__ import annotations

import logging

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy.exc import SQLAlchemyError

from integraal import __version__
from integraal.api.deps import DB
from integraal.api.problems import ProblemError
from integraal.store.database import head_revision

router = APIRouter(tags=["health"])
log = logging.getLogger(__name__)


class Health(BaseModel):
    status: str = Field(description="ok, or degraded: the database is empty or not at this version's schema")
    version: str
    database: str = Field(
        description="ready; empty (never initialised: run `integraal init`); outdated (run `integraal init`)"
    )
    revision: str | None = Field(None, description="The database's schema (Alembic) revision.")
    expected_revision: str = Field(description="The schema revision this version of Integraal needs.")


@router.get(
    "/health",
    summary="Is the service up and its database reachable and at the right schema revision?",
    responses={503: {"description": "The database cannot be reached."}},
)
def health(db: DB) -> Health:
    """200 while the database answers (``status`` says whether it is ready), 503 when it cannot be reached."""
    expected = head_revision()
    try:
        ready = db.is_initialised()
        revision = db.revision() if ready else None
    except SQLAlchemyError as exc:
        log.warning("health check: database unreachable", extra={"error": type(exc).__name__})
        raise ProblemError(503, None, "The database cannot be reached.", title="Service Unavailable") from exc
    if not ready:
        state = "empty"
    elif revision != expected:
        state = "outdated"
    else:
        state = "ready"
    return Health(
        status="ok" if state == "ready" else "degraded",
        version=__version__,
        database=state,
        revision=revision,
        expected_revision=expected,
    )
