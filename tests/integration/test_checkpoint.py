"""Background checkpoints of SQLite's write-ahead log (``store.checkpoint``, issue 7): a big commit returns without
copying its pages into the database file; a thread of its own does that next, and the file then holds them.

"The file holds them" is checked on a copy of the database file alone (no ``-wal`` beside it): what a reader of
the file sees without the log.
"""

from __future__ import annotations

import logging
import shutil
import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from integraal.store import checkpoint as checkpoint_module
from integraal.store.checkpoint import CHECKPOINT_AFTER_CHANGES, Checkpointer, checkpoint
from integraal.store.database import SQLITE_PAGE_SIZE, Database

pytestmark = pytest.mark.sqlite_only(reason="the write-ahead log is SQLite's")

BIG = 2_000
"""Rows of a page each (``SQLITE_PAGE_SIZE``): more than 1,000 pages, so SQLite's default would have checkpointed in
the commit itself."""


def _database(tmp_path: Path) -> Database:
    db = Database(str(tmp_path / "wal.db"))
    with db.unit_of_work() as connection:
        connection.exec_driver_sql("CREATE TABLE payload (n INTEGER PRIMARY KEY, body BLOB NOT NULL)")
    return db


def _write(db: Database, rows: int, first: int = 0) -> None:
    with db.unit_of_work(lock="import") as connection:
        connection.execute(
            text(f"INSERT INTO payload (n, body) VALUES (:n, zeroblob({SQLITE_PAGE_SIZE}))"),
            [{"n": n} for n in range(first, first + rows)],
        )


def _rows_in_file(db_path: Path, tmp_path: Path) -> int:
    """Rows of ``payload`` in the database file itself (a copy without its log)."""
    copy = tmp_path / "file-only.db"
    shutil.copyfile(db_path, copy)
    with sqlite3.connect(copy) as connection:
        try:
            return int(connection.execute("SELECT count(*) FROM payload").fetchone()[0])
        except sqlite3.OperationalError:  # not even the table is in the file yet
            return 0
        finally:
            copy.unlink()


def _checkpoint_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "integraal-checkpoint"]


class Held:
    """Background checkpoints wait until ``release`` is set; ``calls`` counts those that ran."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.calls = 0


@pytest.fixture
def held(monkeypatch: pytest.MonkeyPatch) -> Held:
    state = Held()
    real = checkpoint_module.checkpoint

    def slow(path: Path) -> tuple[int, int, int]:
        state.release.wait(30)
        state.calls += 1
        return real(path)

    monkeypatch.setattr(checkpoint_module, "checkpoint", slow)
    return state


def test_a_big_commit_returns_before_its_checkpoint_and_the_thread_then_copies_it_into_the_file(
    tmp_path: Path, held: Held
) -> None:
    db = _database(tmp_path)
    try:
        _write(db, BIG)
        # Committed: every connection sees it (from the log) ...
        with db.engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT count(*) FROM payload").scalar_one() == BIG
        # ... but the commit did not copy it into the file (SQLite's default would have: > 1,000 pages).
        assert _rows_in_file(tmp_path / "wal.db", tmp_path) == 0
        assert db.checkpointer is not None and not db.checkpointer.wait(timeout=0.2)  # asked for, held
        held.release.set()
        assert db.checkpointer.wait(timeout=30)
        assert held.calls == 1
        assert _rows_in_file(tmp_path / "wal.db", tmp_path) == BIG
    finally:
        held.release.set()
        db.dispose()


def test_small_commits_add_up_before_a_checkpoint_is_asked_for(tmp_path: Path, held: Held) -> None:
    db = _database(tmp_path)
    held.release.set()
    try:
        assert db.checkpointer is not None
        step = CHECKPOINT_AFTER_CHANGES // 4
        for k in range(3):
            _write(db, step, first=k * step)
        assert db.checkpointer.wait(timeout=5) and held.calls == 0
        _write(db, step, first=3 * step)  # the fourth reaches the threshold
        assert db.checkpointer.wait(timeout=30)
        assert held.calls == 1
        assert _rows_in_file(tmp_path / "wal.db", tmp_path) == 4 * step
    finally:
        db.dispose()


def test_a_rolled_back_unit_of_work_asks_for_no_checkpoint(tmp_path: Path, held: Held) -> None:
    db = _database(tmp_path)
    held.release.set()
    try:

        def write_and_fail() -> None:
            with db.unit_of_work(lock="import") as connection:
                connection.execute(
                    text("INSERT INTO payload (n, body) VALUES (:n, zeroblob(16))"), [{"n": n} for n in range(BIG)]
                )
                raise RuntimeError("stop")

        with pytest.raises(RuntimeError):
            write_and_fail()
        assert db.checkpointer is not None and db.checkpointer.wait(timeout=5)
        assert held.calls == 0
    finally:
        db.dispose()


def test_dispose_ends_the_thread_and_later_commits_start_none(tmp_path: Path, held: Held) -> None:
    db = _database(tmp_path)
    before = set(_checkpoint_threads())
    _write(db, BIG)
    started = set(_checkpoint_threads()) - before
    assert len(started) == 1
    held.release.set()
    db.dispose()
    assert not any(t.is_alive() for t in started)
    _write(db, BIG, first=BIG)  # the engine reconnects; the checkpointer stays closed
    assert set(_checkpoint_threads()) - before == set()
    db.engine.dispose()


def test_an_idle_thread_ends_and_the_next_big_commit_starts_another(
    tmp_path: Path, held: Held, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(checkpoint_module, "IDLE_SECONDS", 0.05)
    db = _database(tmp_path)
    held.release.set()
    try:
        before = set(_checkpoint_threads())
        _write(db, BIG)
        first = set(_checkpoint_threads()) - before
        assert db.checkpointer is not None and db.checkpointer.wait(timeout=30)
        for thread in first:
            thread.join(timeout=10)
            assert not thread.is_alive()
        _write(db, BIG, first=BIG)
        assert db.checkpointer.wait(timeout=30)
        assert held.calls == 2
        assert _rows_in_file(tmp_path / "wal.db", tmp_path) == 2 * BIG
    finally:
        db.dispose()


def test_a_failed_checkpoint_is_logged_and_the_next_one_still_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real = checkpoint_module.checkpoint
    calls: list[Path] = []

    def flaky(path: Path) -> tuple[int, int, int]:
        calls.append(path)
        if len(calls) == 1:
            raise sqlite3.OperationalError("disk I/O error")
        return real(path)

    monkeypatch.setattr(checkpoint_module, "checkpoint", flaky)
    db = _database(tmp_path)
    try:
        with caplog.at_level(logging.WARNING, logger="integraal.store.checkpoint"):
            _write(db, BIG)
            assert db.checkpointer is not None and db.checkpointer.wait(timeout=30)
            assert _rows_in_file(tmp_path / "wal.db", tmp_path) == 0  # the failed one copied nothing
            _write(db, BIG, first=BIG)
            assert db.checkpointer.wait(timeout=30)
        assert len(calls) == 2
        assert "background checkpoint" in caplog.text and "disk I/O error" in caplog.text
        assert _rows_in_file(tmp_path / "wal.db", tmp_path) == 2 * BIG
    finally:
        db.dispose()


def test_a_checkpoint_of_a_removed_database_does_not_create_it(tmp_path: Path) -> None:
    gone = tmp_path / "gone.db"
    with pytest.raises(sqlite3.OperationalError):
        checkpoint(gone)
    assert not gone.exists()


def test_a_memory_database_has_no_checkpointer() -> None:
    assert Database("sqlite://").checkpointer is None
    assert Checkpointer(Path("x.db")).wait(timeout=0)  # nothing asked for: not waiting


def test_a_relative_path_is_checkpointed_where_it_was_opened(
    tmp_path: Path, held: Held, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    db = Database("wal.db")
    held.release.set()
    try:
        assert db.checkpointer is not None and db.checkpointer.path == tmp_path / "wal.db"
        with db.unit_of_work() as connection:
            connection.exec_driver_sql("CREATE TABLE payload (n INTEGER PRIMARY KEY, body BLOB NOT NULL)")
        (tmp_path / "elsewhere").mkdir()
        monkeypatch.chdir(tmp_path / "elsewhere")  # the engine's connections stay open on the first file
        _write(db, BIG)
        assert db.checkpointer.wait(timeout=30) and held.calls == 1
        assert _rows_in_file(tmp_path / "wal.db", tmp_path) == BIG
        assert not (tmp_path / "elsewhere" / "wal.db").exists()
    finally:
        db.dispose()
