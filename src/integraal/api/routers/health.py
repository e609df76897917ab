"""Liveness and readiness: public, no credentials needed."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from integraal import __version__
from integraal.api.deps import DB

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str
    version: str
    database: str


@router.get("/health", summary="Is the service up and its database ready?")
def health(db: DB) -> Health:
    ready = db.is_initialised()
    return Health(status="ok" if ready else "degraded", version=__version__, database="ready" if ready else "empty")
