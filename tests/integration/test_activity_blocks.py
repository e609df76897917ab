"""The activities kept a second time as columnar blocks (``store.activity_blocks``) hold exactly the stored rows
after every import — new rows, new versions of stored ones, invalid rows, a write ahead taken back, a failed
import — and are not trusted after a change made by hand until an import makes them again. Both databases."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from alembic import command
from sqlalchemy import select, text

from integraal.services import imports
from integraal.services.decisions import decide_all
from integraal.services.imports import import_file, import_files
from integraal.store import activity_blocks, tables
from integraal.store.activity_blocks import SCHEMA
from integraal.store.bulk import read_frame
from integraal.store.database import Database, alembic_config
from integraal.store.repositories import load_activities

CHANGED = """activity_id,bsn,pregnancy_id,agb,activity_code,date,quantity
VL-1001,111222333,Z-0001,08000001,VK_INTAKE,2025-01-06,
VL-1002,111222333,,08000001,VK_CONTROLE,2025-03-04,1
KN-4002,111222333,Z-0001,33000001,KZ_UUR,2025-07-31,2.5
N-1,111222333,Z-0001,08000001,VK_CONTROLE,2025-05-01,1
N-2,111222333,,08000001,VK_CONTROLE,2025-05-02,1
"""
"""New versions of three stored activities (VL-1001 the same; VL-1002 names no trajectory and moves a day;
KN-4002 has other hours) and two new ones."""

HALF_BAD = """activity_id,bsn,pregnancy_id,agb,activity_code,date,quantity
VL-2002,123456782,Z-0002,08000001,VK_CONTROLE,2025-04-15,1
VL-2003,123456783,Z-0002,08000001,VK_CONTROLE,2025-06-03,1
N-3,111222333,Z-0001,08000001,VK_CONTROLE,2025-05-03,-1
N-4,111222333,Z-0001,08000001,VK_CONTROLE,2025-05-04,1
"""
"""A new version of VL-2002 and a new N-4 (valid); VL-2003 (BSN fails the 11-test) and N-3 (negative) are
refused."""


NEW_AND_BAD = """N-5,111222333,Z-0001,08000001,VK_CONTROLE,2025-05-05,1
N-6,111222334,Z-0001,08000001,VK_CONTROLE,2025-05-06,1
"""


def _sorted(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select(*SCHEMA).sort("activity_id")


def _rows(db: Database) -> pl.DataFrame:
    t = tables.activities
    with db.unit_of_work() as connection:
        return _sorted(read_frame(connection, select(*(t.c[name] for name in SCHEMA)), SCHEMA))


def _blocks(db: Database) -> pl.DataFrame | None:
    with db.unit_of_work() as connection:
        found = activity_blocks.read_all(connection)
    return None if found is None else _sorted(found)


def _assert_blocks_are_the_rows(db: Database) -> None:
    rows, blocks = _rows(db), _blocks(db)
    assert blocks is not None, "the blocks are not trusted"
    assert blocks.equals(rows), (blocks, rows)
    assert blocks["activity_id"].is_unique().all()  # every activity in one block


@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks of three rows: the example files fill several, so a new version rewrites some and not others."""
    monkeypatch.setattr(activity_blocks, "BLOCK_ROWS", 3)


def test_the_blocks_hold_the_stored_activities_after_every_import(db, examples, tmp_path, small_blocks):
    assert _blocks(db) is not None and _blocks(db).is_empty()
    assert all(r.ok for r in import_files(db, sorted(examples.glob("*.csv"))))
    _assert_blocks_are_the_rows(db)
    before = _blocks(db)
    with db.unit_of_work() as connection:
        first = connection.execute(select(tables.activity_blocks.c.block_id)).scalars().all()
    assert len(first) > 2

    changed = tmp_path / "activities_changed.csv"
    changed.write_text(CHANGED, encoding="utf-8")
    assert import_file(db, changed).ok
    _assert_blocks_are_the_rows(db)
    after = _blocks(db)
    assert after.height == before.height + 2
    moved = after.filter(pl.col("activity_id") == "VL-1002").row(0, named=True)
    assert (moved["pregnancy_id"], moved["date"]) == (None, date(2025, 3, 4))
    assert after.filter(pl.col("activity_id") == "KN-4002")["quantity_hundredths"].to_list() == [250]

    half_bad = tmp_path / "activities_half_bad.csv"
    half_bad.write_text(HALF_BAD, encoding="utf-8")
    report = import_file(db, half_bad)
    assert (report.accepted, report.rejected) == (2, 2)
    _assert_blocks_are_the_rows(db)
    assert "N-3" not in _blocks(db)["activity_id"].to_list()

    # The same file again (idempotent): every row replaces itself; nothing is counted twice.
    assert import_file(db, changed).ok
    _assert_blocks_are_the_rows(db)
    assert _blocks(db).height == after.height + 1  # N-4


def test_the_write_ahead_of_a_big_file_taken_back_leaves_the_blocks_right(
    db, examples, tmp_path, small_blocks, monkeypatch
):
    monkeypatch.setattr(imports, "WRITE_WHILE_CHECKING", 1)  # every file takes the national file's road
    assert all(r.ok for r in import_files(db, sorted(examples.glob("*.csv"))))
    _assert_blocks_are_the_rows(db)
    half_bad = tmp_path / "activities_half_bad.csv"
    half_bad.write_text(HALF_BAD, encoding="utf-8")
    report = import_file(db, half_bad)
    assert (report.accepted, report.rejected) == (2, 2)
    _assert_blocks_are_the_rows(db)
    assert _blocks(db).filter(pl.col("activity_id") == "VL-2003")["bsn"].to_list() == ["123456782"]
    # Only new activities, one refused: the blocks encoded ahead (of both) are not the ones kept.
    new_and_bad = tmp_path / "activities_new_and_bad.csv"
    new_and_bad.write_text(HALF_BAD.splitlines()[0] + "\n" + NEW_AND_BAD, encoding="utf-8")
    report = import_file(db, new_and_bad)
    assert (report.accepted, report.rejected) == (1, 1)
    _assert_blocks_are_the_rows(db)
    assert "N-6" not in _blocks(db)["activity_id"].to_list()
    assert _blocks(db).filter(pl.col("activity_id") == "VL-2002")["date"].to_list() == [date(2025, 4, 15)]


def test_small_blocks_are_merged_once_there_are_too_many(db, examples, tmp_path, monkeypatch):
    monkeypatch.setattr(activity_blocks, "BLOCK_ROWS", 40)  # small: under 10 rows
    monkeypatch.setattr(activity_blocks, "SMALL_BLOCKS", 2)
    assert all(r.ok for r in import_files(db, sorted(examples.glob("*.csv"))))  # 18 rows: one block, not small

    def blocks() -> list[tuple[int | None, int]]:
        b = tables.activity_blocks
        with db.unit_of_work() as connection:
            return [tuple(row) for row in connection.execute(select(b.c.import_run_id, b.c.row_count))]

    for number, text_of in enumerate(["N-7", "N-8", "N-9"]):
        monthly = tmp_path / f"activities_{number}.csv"
        monthly.write_text(
            f"{HALF_BAD.splitlines()[0]}\n{text_of},111222333,Z-0001,08000001,VK_CONTROLE,2025-05-0{number + 7},1\n",
            encoding="utf-8",
        )
        assert import_file(db, monthly).ok
        _assert_blocks_are_the_rows(db)
    # Three one-row blocks are one too many: merged into one of three rows, which names no import.
    assert sorted(row_count for _, row_count in blocks()) == [3, 18]
    assert [run for run, row_count in blocks() if row_count == 3] == [None]


def test_a_failed_import_leaves_rows_and_blocks_as_they_were(db, examples, tmp_path, small_blocks, monkeypatch):
    assert all(r.ok for r in import_files(db, sorted(examples.glob("*.csv"))))
    rows = _rows(db)
    changed = tmp_path / "activities_changed.csv"
    changed.write_text(CHANGED, encoding="utf-8")

    def fail(*args, **kwargs):
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(imports.audit, "record", fail)  # after the rows and the blocks were written
    with pytest.raises(RuntimeError):
        import_file(db, changed)
    assert _rows(db).equals(rows)
    _assert_blocks_are_the_rows(db)


@pytest.mark.parametrize(
    "change",
    [
        "UPDATE activities SET date = '2025-04-30' WHERE activity_id = 'VL-1001'",
        "DELETE FROM activities WHERE activity_id = 'VL-1001'",
        "INSERT INTO activities (activity_id, bsn, pregnancy_id, agb, activity_code, date, quantity_hundredths) "
        "VALUES ('H-1', '111222333', NULL, '08000001', 'VK_CONTROLE', '2025-04-30', 100)",
    ],
    ids=["update", "delete", "insert"],
)
def test_a_change_by_hand_is_read_from_the_rows_until_an_import_makes_the_blocks_again(db, examples, tmp_path, change):
    assert all(r.ok for r in import_files(db, sorted(examples.glob("*.csv"))))
    with db.engine.begin() as connection:
        connection.execute(text(change))
    assert _blocks(db) is None  # not trusted
    with db.unit_of_work() as connection:
        read = _sorted(load_activities(connection))
    assert read.equals(_rows(db))  # every activity is still read, from the rows, with the change
    changed = tmp_path / "activities_changed.csv"
    changed.write_text(CHANGED, encoding="utf-8")
    assert import_file(db, changed).ok
    _assert_blocks_are_the_rows(db)


def test_a_decision_run_is_the_same_from_the_blocks_as_from_the_rows(db, examples, monkeypatch):
    assert all(r.ok for r in import_files(db, sorted(examples.glob("*.csv"))))
    read = []
    real = activity_blocks.read_all

    def spied(connection):
        found = real(connection)
        read.append(found is not None)
        return found

    monkeypatch.setattr(activity_blocks, "read_all", spied)
    from_blocks = decide_all(db, date(2026, 1, 1), store=False)
    monkeypatch.setattr(activity_blocks, "read_all", lambda connection: None)
    from_rows = decide_all(db, date(2026, 1, 1), store=False)
    assert read == [True]
    assert from_blocks == from_rows
    assert from_blocks.activities == _rows(db).height


def test_the_migration_makes_blocks_of_the_activities_stored_before_it(db: Database, examples):
    assert all(r.ok for r in import_files(db, sorted(examples.glob("*.csv"))))
    config = alembic_config(db.url)
    command.downgrade(config, "0008")
    command.upgrade(config, "head")
    _assert_blocks_are_the_rows(db)
    assert not _rows(db).is_empty()
