from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from dbutil import fresh_database, release
from integraal.store.database import Database

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


@pytest.fixture
def db(tmp_path: Path) -> Database:
    """A database of this test's own at the newest revision (SQLite, or PostgreSQL with --database=postgres)."""
    database = fresh_database(tmp_path, "test")
    yield database
    release(database)


@pytest.fixture
def examples(tmp_path: Path) -> Path:
    """A private copy of the documented example files."""
    target = tmp_path / "examples"
    shutil.copytree(EXAMPLES, target)
    return target
