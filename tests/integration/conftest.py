from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from integraal.store.database import Database

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = Database(str(tmp_path / "test.db"))
    database.migrate()
    yield database
    database.dispose()


@pytest.fixture
def examples(tmp_path: Path) -> Path:
    """A private copy of the documented example files."""
    target = tmp_path / "examples"
    shutil.copytree(EXAMPLES, target)
    return target
