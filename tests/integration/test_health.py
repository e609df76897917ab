"""``GET /api/health``: public, says whether the database answers and is at this version's schema revision."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from fastapi.testclient import TestClient

from dbutil import fresh_url, unreachable_url
from integraal import __version__
from integraal.api import create_app
from integraal.api.settings import Settings
from integraal.store.database import Database, alembic_config, database_url, head_revision

SETTINGS = Settings(pseudonym_key=b"k")


def health(database: Database) -> tuple[int, dict[str, object]]:
    response = TestClient(create_app(database, settings=SETTINGS)).get("/api/health")
    return response.status_code, response.json()


def test_ready_at_the_head_revision(db: Database) -> None:
    assert health(db) == (
        200,
        {
            "status": "ok",
            "version": __version__,
            "database": "ready",
            "revision": head_revision(),
            "expected_revision": head_revision(),
        },
    )


def test_outdated_and_empty_databases_are_degraded(tmp_path: Path) -> None:
    old = fresh_url(tmp_path, "old")
    command.upgrade(alembic_config(database_url(old)), "0004")
    status, body = health(Database(old))
    assert status == 200 and (body["status"], body["database"], body["revision"]) == ("degraded", "outdated", "0004")
    status, body = health(Database(fresh_url(tmp_path, "empty")))
    assert status == 200 and (body["status"], body["database"], body["revision"]) == ("degraded", "empty", None)


def test_an_unreachable_database_is_503_problem(tmp_path: Path) -> None:
    status, body = health(Database(unreachable_url(tmp_path)))
    assert status == 503
    assert body["status"] == 503 and "cannot be reached" in body["detail"]
