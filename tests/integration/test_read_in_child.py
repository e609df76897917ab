"""Big SQLite reads in a separate process (``store.bulk._read_in_child``, issue 7): the same frame as a read in
this process, and never where the other process would see something else than this transaction.

The size threshold and the batch size are lowered so a few thousand rows take the path a national year takes;
where the test must know which path was taken, the in-process readers are made to fail.
"""

from __future__ import annotations

import logging
import subprocess
from datetime import date
from typing import Any

import polars as pl
import pytest
from sqlalchemy import Connection, MetaData, func, select, true

from integraal.store import activity_blocks, bulk
from integraal.store.bulk import insert_frame, read_frame, read_frames
from integraal.store.database import Database
from integraal.store.repositories import ACTIVITY_SCHEMA

pytestmark = pytest.mark.sqlite_only(reason="the separate-process reader is SQLite's")

ROWS = 3_000
TEXTS = ["", "v", "NULL", "Zoë ' \" ,;\t", "two\nlines", "o'brien"]


def _activities() -> pl.DataFrame:
    """Values that break naive transfers; ``pregnancy_id`` NULL in the whole first batch, text later."""
    n = range(ROWS)
    return pl.DataFrame(
        {
            "activity_id": [f"A{i:05d}" for i in n],
            "bsn": ["123456782" if i % 3 else "o'brien" for i in n],
            "pregnancy_id": [None if i < 100 or i % 7 == 0 else TEXTS[i % len(TEXTS)] for i in n],
            "agb": ["01000001"] * ROWS,
            "activity_code": ["x"] * ROWS,
            "date": [date(2024 + i % 3, 1 + i % 12, 1 + i % 28) for i in n],
            "quantity_hundredths": [(-1) ** i * 2**40 + i for i in n],
        },
        schema_overrides={"pregnancy_id": pl.String},
    )


PROBE = activity_blocks.COLUMNS.to_metadata(MetaData(), name="bulk_probe")
"""A table with an activity's columns (activities themselves are stored as blocks), made for these tests."""


def load_activities(connection: Connection) -> pl.DataFrame:
    """Every row of the probe table: a read of millions of rows, as a national year's were."""
    return read_frame(connection, select(*(PROBE.c[name] for name in ACTIVITY_SCHEMA)), ACTIVITY_SCHEMA, many=True)


@pytest.fixture
def filled(db: Database, monkeypatch: pytest.MonkeyPatch) -> pl.DataFrame:
    frame = _activities()
    with db.unit_of_work() as connection:
        PROBE.create(connection)
        insert_frame(connection, PROBE, frame)
    monkeypatch.setattr(bulk, "CHILD_MIN_ROWS", 1_000)
    monkeypatch.setattr(bulk, "CHILD_BATCH_ROWS", 16)
    return frame


def _only_in_child(monkeypatch: pytest.MonkeyPatch) -> None:
    def here(*args: Any) -> None:
        raise AssertionError("read in this process")

    monkeypatch.setattr(bulk, "_read_joined", here)
    monkeypatch.setattr(bulk, "_read_by_fetch", here)


def _children(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    started: list[list[str]] = []
    real = subprocess.Popen

    def counting(args: list[str], **kwargs: Any) -> Any:
        started.append(args)
        return real(args, **kwargs)

    monkeypatch.setattr(bulk.subprocess, "Popen", counting)
    return started


@pytest.mark.parametrize("processes", [1, 2])
def test_a_big_read_in_another_process_is_the_frame_read_here(
    db: Database, filled: pl.DataFrame, monkeypatch: pytest.MonkeyPatch, processes: int
) -> None:
    monkeypatch.setattr(bulk, "CHILD_PROCESSES", processes)
    a = PROBE
    filtered = select(*(a.c[name] for name in ACTIVITY_SCHEMA)).where(
        a.c.bsn.in_(["o'brien", "nobody"]), a.c.date >= date(2024, 6, 1)
    )
    with monkeypatch.context() as here:
        here.setattr(bulk, "CHILD_MIN_ROWS", 10**12)
        with db.unit_of_work() as connection:
            expected_all = load_activities(connection).sort("activity_id")
            expected_some = read_frame(connection, filtered, ACTIVITY_SCHEMA).sort("activity_id")
    started = _children(monkeypatch)
    _only_in_child(monkeypatch)
    with db.unit_of_work() as connection:
        every = load_activities(connection)
        some = read_frame(connection, filtered, ACTIVITY_SCHEMA, many=True)
    assert len(started) == 2 * processes
    assert every.sort("activity_id").to_dicts() == expected_all.to_dicts() == filled.to_dicts()
    assert every.schema == expected_all.schema
    assert some.sort("activity_id").to_dicts() == expected_some.to_dicts()
    assert 0 < some.height < ROWS
    assert set(some["bsn"].to_list()) == {"o'brien"}


def test_booleans_and_an_empty_result_come_back_typed(
    db: Database, filled: pl.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = PROBE
    query = select(a.c.activity_id, (a.c.quantity_hundredths > 0).label("positive"))
    schema = {"activity_id": pl.String, "positive": pl.Boolean}
    _only_in_child(monkeypatch)
    with db.unit_of_work() as connection:
        frame = read_frame(connection, query, schema, many=True)
        nothing = read_frame(connection, query.where(a.c.activity_id == "none"), schema, many=True)
    assert frame.schema == pl.Schema(schema)
    assert frame.sort("activity_id")["positive"].to_list() == [q > 0 for q in filled["quantity_hundredths"]]
    assert nothing.height == 0 and nothing.schema == pl.Schema(schema)


def test_never_once_the_transaction_has_written(
    db: Database, filled: pl.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The other process sees what is committed: after a write of this transaction the read stays here."""
    started = _children(monkeypatch)
    row = {"bsn": "123456782", "pregnancy_id": None, "agb": "01000001", "activity_code": "x"}
    row |= {"date": date(2025, 1, 1), "quantity_hundredths": 100}
    with db.unit_of_work(lock="import") as connection:
        before = load_activities(connection)  # locked, nothing written yet: safe
        assert len(started) == 2
        connection.execute(PROBE.insert().values(activity_id="B1", **row))
        after = load_activities(connection)
        assert len(started) == 2
    assert before.height == ROWS and after.height == ROWS + 1
    with db.unit_of_work() as connection:  # no lock: the first write begins the transaction
        connection.execute(PROBE.delete().where(PROBE.c.activity_id == "B1"))
        assert load_activities(connection).height == ROWS
        assert len(started) == 2
    with db.unit_of_work() as connection:  # committed: the other process may read again
        assert load_activities(connection).height == ROWS
        assert len(started) == 4


def test_a_failing_child_is_logged_and_the_read_done_here(
    db: Database, filled: pl.DataFrame, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(bulk.sys, "executable", "/bin/false")
    with caplog.at_level(logging.WARNING, logger="integraal.store.bulk"), db.unit_of_work() as connection:
        frame = load_activities(connection)
    assert frame.sort("activity_id").to_dicts() == filled.to_dicts()
    assert "reading in a separate process failed" in caplog.text


def test_an_ordered_read_is_sorted_as_sqlite_sorts(
    db: Database, filled: pl.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Read unordered in the other process and sorted here: the same rows in the same order, NULLs first going
    up and last going down, text in byte order (``Zoë`` after ``o'brien``), as SQLite's ORDER BY gives them."""
    a = PROBE
    schema = {"pregnancy_id": pl.String, "quantity": pl.Int64, "activity_id": pl.String, "share": pl.Float64}
    query = select(
        a.c.pregnancy_id, a.c.quantity_hundredths, a.c.activity_id, (a.c.quantity_hundredths / 3.0).label("share")
    ).order_by(a.c.pregnancy_id.desc(), a.c.quantity_hundredths, a.c.activity_id)
    for ordered in (query, query.order_by(None).order_by(a.c.pregnancy_id, a.c.activity_id.desc())):
        with monkeypatch.context() as here:
            here.setattr(bulk, "CHILD_MIN_ROWS", 10**12)
            with db.unit_of_work() as connection:
                expected = read_frame(connection, ordered, schema)
        started = _children(monkeypatch)
        with db.unit_of_work() as connection:
            got = read_frame(connection, ordered, schema, many=True)
        assert started, "read in the other process"
        assert got.to_dicts() == expected.to_dicts()
        assert got["pregnancy_id"].null_count() > 0


@pytest.mark.parametrize("processes", [1, 2, 3])
def test_a_join_split_by_key_ranges_is_read_in_a_process_per_range(
    db: Database, filled: pl.DataFrame, monkeypatch: pytest.MonkeyPatch, processes: int
) -> None:
    """``_key_ranges`` cuts a key's rows into one range per process, about equal, each row in exactly one; a join
    read with ``split`` (by that key) gives the rows and order of the whole query, one process per range."""
    monkeypatch.setattr(bulk, "CHILD_PROCESSES", processes)
    monkeypatch.setattr(bulk.os, "cpu_count", lambda: 4)
    a, b = PROBE, PROBE.alias("other")
    with db.unit_of_work() as connection:
        ranges = bulk._key_ranges(connection, a.c.activity_id, bulk._processes())
        counts = [connection.execute(select(func.count()).where(r)).scalar() for r in ranges]

        def joined(where: Any) -> Any:
            return (
                select(a.c.activity_id, b.c.bsn, a.c.date)
                .join(b, b.c.activity_id == a.c.activity_id)
                .where(where, b.c.date >= date(2024, 6, 1))
                .order_by(a.c.activity_id)
            )

        schema = {"activity_id": pl.String, "bsn": pl.String, "date": pl.Date}
        expected = read_frame(connection, joined(true()), schema)
    assert len(ranges) == (processes if processes > 1 else 0)
    if ranges:
        assert sum(counts) == ROWS and max(counts) - min(counts) <= 1
    started = _children(monkeypatch)
    _only_in_child(monkeypatch)
    with db.unit_of_work() as connection:
        got = read_frame(connection, joined(true()), schema, many=True, split=(a.c.activity_id, joined))
    assert len(started) == max(len(ranges), 1)
    assert got.to_dicts() == expected.to_dicts() and 0 < got.height < ROWS


def test_several_reads_go_to_one_process_and_give_what_each_read_gives(
    db: Database, filled: pl.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``read_frames(many=True)``: one separate process reads the queries in turn; each frame is the frame
    ``read_frame`` gives (typed, dates parsed, in its query's order); small tables are read here."""
    a = PROBE
    reads = [
        (select(a.c.activity_id, a.c.date).where(a.c.bsn == "o'brien").order_by(a.c.date, a.c.activity_id), {
            "activity_id": pl.String, "date": pl.Date,
        }),
        (select(a.c.pregnancy_id, a.c.quantity_hundredths), {"pregnancy_id": pl.String, "q": pl.Int64}),
        (select(a.c.activity_id).where(a.c.bsn == "nobody"), {"activity_id": pl.String}),
    ]  # fmt: skip
    with db.unit_of_work() as connection:
        expected = [read_frame(connection, query, schema) for query, schema in reads]
    started = _children(monkeypatch)
    with monkeypatch.context() as only_there:
        _only_in_child(only_there)
        with db.unit_of_work() as connection:
            got = read_frames(connection, reads, many=True)
    assert len(started) == 1
    for frame, want in zip(got, expected, strict=True):
        assert frame.schema == want.schema
        assert frame.sort(frame.columns).to_dicts() == want.sort(want.columns).to_dicts()
    assert got[0].to_dicts() == expected[0].to_dicts()  # the ordered one in its order
    assert got[0].height > 0 and got[1].height == ROWS and got[2].height == 0
    monkeypatch.setattr(bulk, "CHILD_MIN_ROWS", 10**12)
    with db.unit_of_work() as connection:
        here = read_frames(connection, reads, many=True)
    assert len(started) == 1  # small tables: read here
    assert [f.to_dicts() for f in here] == [f.to_dicts() for f in expected]


def test_an_order_by_anything_but_a_selected_column_stays_here(
    db: Database, filled: pl.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = PROBE
    query = select(a.c.activity_id).order_by(a.c.date, a.c.activity_id)  # date is not selected
    started = _children(monkeypatch)
    with db.unit_of_work() as connection:
        got = read_frame(connection, query, {"activity_id": pl.String}, many=True)
    assert not started
    assert got["activity_id"].to_list() == filled.sort("date", "activity_id")["activity_id"].to_list()


def test_files_left_by_a_killed_reader_are_removed_by_the_next_big_read(
    db: Database, filled: pl.DataFrame, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    """A reader killed after its children wrote their files never removes them (hundreds of MiB for a national
    read): the next big read does once they are stale, and leaves the files of a reader that still runs, fresh
    files and anything else alone."""
    import os
    import sys
    import tempfile
    import time

    tmp_path = tmp_path / "temporary"
    tmp_path.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()  # a process id that no longer runs (the killed reader)
    left = [tmp_path / f"{bulk.READ_FILE_PREFIX}{ended.pid}-{n}.arrow" for n in ("a1", "b2")]
    running = tmp_path / f"{bulk.READ_FILE_PREFIX}{os.getpid()}-other.arrow"  # another read of a live process
    others = [tmp_path / f"{bulk.READ_FILE_PREFIX}notapid-x.arrow", tmp_path / f"{bulk.READ_FILE_PREFIX}{ended.pid}"]
    fresh = tmp_path / f"{bulk.READ_FILE_PREFIX}{ended.pid}-c3.arrow"  # maybe a reader this process cannot see
    long_ago = time.time() - bulk.READ_FILE_STALE_SECONDS - 60
    for path in [*left, running, *others, fresh]:
        path.write_bytes(b"x" * 1024)
        if path is not fresh:
            os.utime(path, (long_ago, long_ago))
    started = _children(monkeypatch)
    _only_in_child(monkeypatch)
    with db.unit_of_work() as connection:
        frame = load_activities(connection)
    assert started and frame.height == ROWS
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in [running, *others, fresh])
