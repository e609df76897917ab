"""A big file is written while it is validated, under a savepoint (``services.imports._validate_and_write``):
the stored rows, the quarantine and the report are those of validating first, also when rows turn out invalid
after they were written — and a stored row whose new version is invalid keeps its old version.

The threshold is lowered so the example files take the path a national activities file takes; every outcome is
compared with a second database that imports the same files the plain way.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import func, select

from dbutil import fresh_database, release
from integraal.services import imports
from integraal.services.imports import import_file, import_files
from integraal.store import bulk, tables
from integraal.store.database import Database

CHANGED = """activity_id,bsn,pregnancy_id,agb,activity_code,date,quantity
X-1,111222333,Z-0001,08000001,VK_CONTROLE,2025-04-07,1
X-2,111222333,Z-0001,08000001,VK_CONTROLE,2025-04-08,1
X-6,111222333,Z-0001,08000001,KZ_UUR,2025-08-03,2
"""
"""Valid versions of X-1, X-2 and X-6."""

INVALID_BUT_WRITABLE = """activity_id,bsn,pregnancy_id,agb,activity_code,date,quantity
X-1,111222333,Z-0001,08000001,VK_CONTROLE,2025-04-07,1
X-2,111222334,Z-0001,08000001,VK_CONTROLE,2025-04-08,1
X-6,111222333,Z-0001,08000001,KZ_UUR,2025-08-03,-2
X-7,111222333,Z-0001,33000001,KZ_UUR,2025-08-03,7.25
"""
"""New versions of X-2 (BSN fails the 11-test) and X-6 (negative hours) that the table would take as they are."""


def _state(db: Database) -> dict[str, list[tuple]]:
    """Everything an import writes, without the ids and times that differ between two databases."""
    a, r, q = tables.activities, tables.import_runs, tables.import_rejections
    with db.unit_of_work() as connection:
        return {
            "activities": [tuple(row) for row in connection.execute(select(a).order_by(a.c.activity_id))],
            "runs": [
                tuple(row)
                for row in connection.execute(
                    select(r.c.kind, r.c.file_sha256, r.c.rows_total, r.c.rows_accepted, r.c.rows_rejected).order_by(
                        r.c.run_id
                    )
                )
            ],
            "quarantine": [
                tuple(row)
                for row in connection.execute(
                    select(q.c.kind, q.c.row_number, q.c.field, q.c.value, q.c.reason, q.c.raw_row).order_by(
                        q.c.run_id, q.c.row_number, q.c.field
                    )
                )
            ],
        }


@pytest.fixture
def plain(tmp_path: Path) -> Database:
    database = fresh_database(tmp_path, "plain")
    yield database
    release(database)


class Spy:
    """The writes of rows (table, rows) and the threads that validated."""

    def __init__(self) -> None:
        self.writes: list[tuple[str, int]] = []
        self.checked_in: list[str] = []


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> Spy:
    """Every file from one row on is written while checked; writes and validations are recorded."""
    monkeypatch.setattr(imports, "WRITE_WHILE_CHECKING", 1)
    seen = Spy()
    real_write, real_validate = imports.upsert_frame, imports.validate

    def write(connection, table, frame, key, *args, **kwargs):
        result = real_write(connection, table, frame, key, *args, **kwargs)
        seen.writes.append((table.name, frame.height))  # only a write that went through
        return result

    def validate(*args, **kwargs):
        seen.checked_in.append(threading.current_thread().name)
        return real_validate(*args, **kwargs)

    monkeypatch.setattr(imports, "upsert_frame", write)
    monkeypatch.setattr(imports, "validate", validate)
    return seen


def _plainly(monkeypatch: pytest.MonkeyPatch, work) -> object:
    with monkeypatch.context() as m:
        m.setattr(imports, "WRITE_WHILE_CHECKING", 10**9)
        return work()


def test_valid_files_are_written_once_while_checked_in_another_thread(db, plain, examples, spy, monkeypatch):
    files = sorted(examples.glob("*.csv"))
    reports = import_files(db, files)
    assert all(r.ok for r in reports)
    assert [table for table, _ in spy.writes] == [_table(r.kind) for r in reports]  # one write per file
    assert len(spy.checked_in) == len(files)
    assert all(thread.startswith("integraal-validate") for thread in spy.checked_in)
    plain_reports = _plainly(monkeypatch, lambda: import_files(plain, files))
    assert _reports(reports) == _reports(plain_reports)
    assert _state(db) == _state(plain)


def test_invalid_rows_written_ahead_are_taken_back_and_old_versions_kept(
    db, plain, examples, spy, monkeypatch, tmp_path
):
    changed, bad = tmp_path / "activities_changed.csv", tmp_path / "activities_april.csv"
    changed.write_text(CHANGED, encoding="utf-8")
    bad.write_text(INVALID_BUT_WRITABLE, encoding="utf-8")
    files = sorted(examples.glob("*.csv"))
    for database, mode in ((db, "while checking"), (plain, "plain")):
        work = lambda database=database: [*import_files(database, files), import_file(database, changed)]  # noqa: E731
        first = work() if mode == "while checking" else _plainly(monkeypatch, work)
        assert all(r.ok for r in first)
    spy.writes.clear()
    # The check waits for the write ahead to finish (else it may stop it early, as the next test shows).
    write_done, gate = threading.Event(), [True]
    checked, written_by_spy = imports.validate, imports.upsert_frame

    def validate_after_the_write(*args, **kwargs):
        if gate.pop() if gate else False:
            assert write_done.wait(10)
        return checked(*args, **kwargs)

    def write_then_tell(*args, **kwargs):
        written_by_spy(*args, **kwargs)
        write_done.set()

    monkeypatch.setattr(imports, "validate", validate_after_the_write)
    monkeypatch.setattr(imports, "upsert_frame", write_then_tell)

    report = import_file(db, bad)
    written = [w for w in spy.writes if w[0] == "activities"]
    plain_report = _plainly(monkeypatch, lambda: import_file(plain, bad))

    # Written whole first (4 rows, the invalid new versions too), then taken back and the 2 valid rows written.
    assert written == [("activities", 4), ("activities", 2)]
    assert _reports([report]) == _reports([plain_report])
    assert (report.accepted, report.rejected) == (2, 2)
    assert _state(db) == _state(plain)
    stored = {row[0]: row for row in _state(db)["activities"]}
    assert "X-7" in stored
    assert stored["X-2"][1] == "111222333"  # its new version fails the 11-test: the valid old one stays
    assert stored["X-6"][-1] == 200  # its new quantity is negative: the old 2 hours stay


def test_the_write_ahead_stops_once_the_check_has_found_an_invalid_row(db, plain, examples, spy, monkeypatch, tmp_path):
    changed, bad = tmp_path / "activities_changed.csv", tmp_path / "activities_april.csv"
    changed.write_text(CHANGED, encoding="utf-8")
    bad.write_text(INVALID_BUT_WRITABLE, encoding="utf-8")
    files = sorted(examples.glob("*.csv"))
    assert all(r.ok for r in import_files(db, files))
    assert all(r.ok for r in _plainly(monkeypatch, lambda: import_files(plain, files)))
    verdicts: list[bool] = []
    stops = []
    spied = imports.upsert_frame

    def waiting_for_the_check(connection, table, frame, key, *args, stop=None, **kwargs):
        if stop is not None:
            stops.append(stop)
            deadline = time.monotonic() + 10
            while frame.height == 4 and not stop() and time.monotonic() < deadline:  # the bad file: wait for it
                time.sleep(0.005)
            verdicts.append(stop())
        return spied(connection, table, frame, key, *args, stop=stop, **kwargs)

    monkeypatch.setattr(imports, "upsert_frame", waiting_for_the_check)
    spy.writes.clear()
    report = import_file(db, bad)
    # Told before its first rows: the write ahead wrote nothing; only the checked valid rows were written.
    assert verdicts == [True]
    assert [w for w in spy.writes if w[0] == "activities"] == [("activities", 2)]
    assert _reports([report]) == _reports([_plainly(monkeypatch, lambda: import_file(plain, bad))])
    assert _state(db) == _state(plain)
    # A valid file's check never says stop (asked again once it is done).
    stops.clear()
    assert import_file(db, changed).ok
    assert len(stops) == 1 and stops[0]() is False


def test_rows_the_table_refuses_unchecked_are_written_only_checked(db, plain, examples, spy, monkeypatch):
    files = sorted(examples.glob("*.csv"))
    real_write = imports.upsert_frame
    refused = []

    def refusing(connection, table, frame, key, *args, **kwargs):
        if table.name == "activities" and not refused:
            refused.append(frame.height)
            partial = frame.head(1).with_columns(pl.lit("PARTIAL-1").alias("activity_id"))
            real_write(connection, table, partial, key, *args, **kwargs)  # something written, then a failure
            raise ValueError("value out of range")
        return real_write(connection, table, frame, key, *args, **kwargs)

    monkeypatch.setattr(imports, "upsert_frame", refusing)
    reports = import_files(db, files)
    assert refused and all(r.ok for r in reports)
    plain_reports = _plainly(monkeypatch, lambda: import_files(plain, files))
    assert _reports(reports) == _reports(plain_reports)
    assert _state(db) == _state(plain)


def _table(kind: str) -> str:
    return imports.FORMATS[kind].table


def _reports(reports) -> list[tuple]:
    return [(r.kind, r.total, r.accepted, r.rejected, [(e.row, e.field, e.reason) for e in r.errors]) for r in reports]


def test_a_stopped_write_leaves_only_the_batches_before_it_and_the_savepoint_takes_them_back(db, monkeypatch):
    monkeypatch.setattr(bulk, "BATCH", 2)
    frame = pl.DataFrame({"uzovi": [f"{n:04d}" for n in range(1, 6)], "name": [f"I{n}" for n in range(1, 6)]})
    asked: list[int] = []

    def stop_at_the_second_batch() -> bool:
        asked.append(1)
        return len(asked) > 1

    def count(connection) -> int:
        return connection.execute(select(func.count()).select_from(tables.insurers)).scalar_one()

    with db.unit_of_work() as connection:
        before = count(connection)
        connection.exec_driver_sql("SAVEPOINT s")
        with pytest.raises(bulk.WriteStoppedError):
            bulk.upsert_frame(connection, tables.insurers, frame, ["uzovi"], stop=stop_at_the_second_batch)
        if connection.dialect.name == "sqlite":  # PostgreSQL's COPY is aborted whole: nothing to count there
            assert count(connection) == before + 2
        connection.exec_driver_sql("ROLLBACK TO SAVEPOINT s")
        assert count(connection) == before
        bulk.upsert_frame(connection, tables.insurers, frame, ["uzovi"], stop=lambda: False)
        assert count(connection) == before + 5
    assert len(asked) == 2
