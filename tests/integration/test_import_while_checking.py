"""A big file is written while it is validated, under a savepoint (``services.imports._validate_and_write``):
the stored rows, the quarantine and the report are those of validating first, also when rows turn out invalid
after they were written — and a stored row whose new version is invalid keeps its old version.

The threshold is lowered so the example files take the path a national pregnancies file takes (activities are
stored as columnar blocks, checked first: ``store.activity_blocks``); every outcome is compared with a second
database that imports the same files the plain way.
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
from integraal.store import activity_blocks, bulk, tables
from integraal.store.database import Database

HEADER = (
    "pregnancy_id,bsn,uzovi,igo_id,intake_date,due_date,labour_date,end_date,end_reason,referral_date,referral_stage"
)

CHANGED = f"""{HEADER}
Z-0001,111222333,3311,IGO-RIV,2025-01-06,2025-08-01,2025-07-29,2025-07-30,birth,,
Z-0002,123456782,3311,IGO-RIV,2025-01-13,2025-08-11,,2025-08-08,birth,2025-06-02,pregnancy
Z-0003,234567806,7029,IGO-RIV,2025-02-03,2025-09-01,,2025-03-11,miscarriage,,
"""
"""Valid versions of Z-0001 (the same), Z-0002 (another due date) and Z-0003 (another end)."""

INVALID_BUT_WRITABLE = f"""{HEADER}
Z-0001,111222333,3311,IGO-RIV,2025-01-06,2025-08-01,2025-07-29,2025-07-30,birth,,
Z-0002,123456783,3311,IGO-RIV,2025-01-13,2025-08-10,,2025-08-08,birth,2025-06-02,pregnancy
Z-0003,234567806,7029,IGO-RIV,2025-02-03,2025-09-01,,2025-03-10,vanished,,
Z-0099,111222333,3311,IGO-RIV,2025-10-06,2026-06-01,,,,,
"""
"""New versions of Z-0002 (BSN fails the 11-test) and Z-0003 (no such end reason) that the table would take as
they are; Z-0099 is new and valid."""


def _state(db: Database) -> dict[str, list[tuple]]:
    """Everything an import writes, without the ids and times that differ between two databases."""
    p, r, q = tables.pregnancies, tables.import_runs, tables.import_rejections
    with db.unit_of_work() as connection:
        return {
            "pregnancies": [tuple(row) for row in connection.execute(select(p).order_by(p.c.pregnancy_id))],
            "activities": sorted(activity_blocks.read_all(connection).rows()),
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
    # One write per file; activities are stored as blocks, checked first (in this thread).
    assert [table for table, _ in spy.writes] == [_table(r.kind) for r in reports if r.kind != "activities"]
    assert len(spy.checked_in) == len(files)
    in_thread = [thread.startswith("integraal-validate") for thread in spy.checked_in]
    assert in_thread.count(False) == sum(r.kind == "activities" for r in reports) == 1
    plain_reports = _plainly(monkeypatch, lambda: import_files(plain, files))
    assert _reports(reports) == _reports(plain_reports)
    assert _state(db) == _state(plain)


def test_invalid_rows_written_ahead_are_taken_back_and_old_versions_kept(
    db, plain, examples, spy, monkeypatch, tmp_path
):
    changed, bad = tmp_path / "pregnancies_changed.csv", tmp_path / "pregnancies_april.csv"
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
    written = [w for w in spy.writes if w[0] == "pregnancies"]
    plain_report = _plainly(monkeypatch, lambda: import_file(plain, bad))

    # Written whole first (4 rows, the invalid new versions too), then taken back and the 2 valid rows written.
    assert written == [("pregnancies", 4), ("pregnancies", 2)]
    assert _reports([report]) == _reports([plain_report])
    assert (report.accepted, report.rejected) == (2, 2)
    assert _state(db) == _state(plain)
    stored = {row[0]: row for row in _state(db)["pregnancies"]}
    assert "Z-0099" in stored
    assert stored["Z-0002"][1] == "123456782"  # its new version fails the 11-test: the valid old one stays
    assert stored["Z-0003"][8] == "miscarriage"  # its new end reason does not exist: the old one stays


def test_the_write_ahead_stops_once_the_check_has_found_an_invalid_row(db, plain, examples, spy, monkeypatch, tmp_path):
    changed, bad = tmp_path / "pregnancies_changed.csv", tmp_path / "pregnancies_april.csv"
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
    assert [w for w in spy.writes if w[0] == "pregnancies"] == [("pregnancies", 2)]
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
        if table.name == "pregnancies" and not refused:
            refused.append(frame.height)
            partial = frame.head(1).with_columns(pl.lit("PARTIAL-1").alias("pregnancy_id"))
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
