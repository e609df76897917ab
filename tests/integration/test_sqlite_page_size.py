"""The page size of a SQLite database (``store.database.SQLITE_PAGE_SIZE``): a new file gets it, also when
Alembic creates its tables; a file made before keeps its own and works as before, its checkpoint backstop
counted in its own pages."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text

from integraal.store.checkpoint import BACKSTOP_BYTES
from integraal.store.database import SQLITE_PAGE_SIZE, Database

pytestmark = pytest.mark.sqlite_only(reason="a SQLite file's page size")


def _settings(db: Database) -> tuple[int, str, int]:
    with db.unit_of_work() as connection:
        return (
            int(connection.exec_driver_sql("PRAGMA page_size").scalar_one()),
            str(connection.exec_driver_sql("PRAGMA journal_mode").scalar_one()),
            int(connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one()),
        )


def test_a_new_database_gets_the_page_size_before_its_tables_are_made(tmp_path: Path) -> None:
    assert SQLITE_PAGE_SIZE != 4096  # SQLite's own default: the test would prove nothing
    db = Database(str(tmp_path / "new.db"))
    db.migrate()  # Alembic's own engine creates the tables
    assert _settings(db) == (SQLITE_PAGE_SIZE, "wal", BACKSTOP_BYTES // SQLITE_PAGE_SIZE)
    db.engine.dispose()
    with sqlite3.connect(tmp_path / "new.db") as plain:  # the file itself says so, to any reader
        assert plain.execute("PRAGMA page_size").fetchone()[0] == SQLITE_PAGE_SIZE


def test_a_database_made_before_keeps_its_pages_and_its_backstop_is_counted_in_them(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as plain:
        plain.execute("PRAGMA page_size=4096")
        plain.execute("CREATE TABLE kept (n INTEGER PRIMARY KEY, body TEXT NOT NULL)")
        plain.execute("INSERT INTO kept (n, body) VALUES (1, 'before')")
    plain.close()
    db = Database(str(path))
    assert _settings(db) == (4096, "wal", BACKSTOP_BYTES // 4096)
    with db.unit_of_work() as connection:
        connection.execute(text("INSERT INTO kept (n, body) VALUES (2, 'after')"))
    with db.unit_of_work() as connection:
        assert connection.exec_driver_sql("SELECT body FROM kept ORDER BY n").scalars().all() == ["before", "after"]
        assert connection.exec_driver_sql("PRAGMA integrity_check").scalar_one() == "ok"
