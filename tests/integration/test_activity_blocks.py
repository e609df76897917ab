"""The activities, stored as columnar blocks (``store.activity_blocks``), are exactly what the imports gave after
every import — new activities, new versions of stored ones, invalid rows, a failed import, many small files — each
once, and the index of their trajectories and women finds each one's blocks. Both databases."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from alembic import command
from sqlalchemy import select

from integraal.services import imports
from integraal.services.imports import import_file, import_files
from integraal.store import activity_blocks, tables
from integraal.store.activity_blocks import SCHEMA
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


def _stored(db: Database) -> pl.DataFrame:
    with db.unit_of_work() as connection:
        return _sorted(activity_blocks.read_all(connection))


def _assert_consistent(db: Database) -> None:
    """Every activity once; the blocks' counts and keys are those of their rows; a read of one trajectory or woman
    through the keys is the same as picking them out of every activity."""
    b, k = tables.activity_blocks, tables.activity_block_keys
    with db.unit_of_work() as connection:
        blocks = connection.execute(select(b.c.block_id, b.c.row_count, b.c.data)).all()
        keys = {tuple(row) for row in connection.execute(select(k.c.block_id, k.c.pregnancy_id, k.c.bsn))}
        every = activity_blocks.read_all(connection)
        assert activity_blocks.count(connection) == every.height
        for pregnancy_id in every["pregnancy_id"].drop_nulls().unique().to_list()[:20]:
            expected = every.filter(pl.col("pregnancy_id") == pregnancy_id)
            assert _sorted(activity_blocks.read_for(connection, [pregnancy_id], [])).equals(_sorted(expected))
        for bsn in every["bsn"].unique().to_list()[:20]:
            expected = every.filter(pl.col("pregnancy_id").is_null(), pl.col("bsn") == bsn)
            assert _sorted(activity_blocks.read_for(connection, [], [bsn])).equals(_sorted(expected))
    assert every["activity_id"].is_unique().all()  # every activity in one block, once
    expected_keys = set()
    for block_id, row_count, data in blocks:
        block = activity_blocks.decode(data)
        assert block.height == row_count > 0
        expected_keys |= {(block_id, p, None) for p in block["pregnancy_id"].drop_nulls().to_list()}
        expected_keys |= {(block_id, None, s) for s in block.filter(pl.col("pregnancy_id").is_null())["bsn"].to_list()}
    assert keys == expected_keys


@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks of three rows: the example files fill several, so a new version rewrites some and not others."""
    monkeypatch.setattr(activity_blocks, "BLOCK_ROWS", 3)


def test_the_stored_activities_are_those_imported_after_every_import(db, examples, tmp_path, small_blocks):
    assert _stored(db).is_empty()
    assert all(r.ok for r in import_files(db, sorted(examples.glob("*.csv"))))
    _assert_consistent(db)
    before = _stored(db)
    with db.unit_of_work() as connection:
        first = connection.execute(select(tables.activity_blocks.c.block_id)).scalars().all()
    assert len(first) > 2

    changed = tmp_path / "activities_changed.csv"
    changed.write_text(CHANGED, encoding="utf-8")
    assert import_file(db, changed).ok
    _assert_consistent(db)
    after = _stored(db)
    assert after.height == before.height + 2
    moved = after.filter(pl.col("activity_id") == "VL-1002").row(0, named=True)
    assert (moved["pregnancy_id"], moved["date"]) == (None, date(2025, 3, 4))
    assert after.filter(pl.col("activity_id") == "KN-4002")["quantity_hundredths"].to_list() == [250]

    half_bad = tmp_path / "activities_half_bad.csv"
    half_bad.write_text(HALF_BAD, encoding="utf-8")
    report = import_file(db, half_bad)
    assert (report.accepted, report.rejected) == (2, 2)
    _assert_consistent(db)
    assert "N-3" not in _stored(db)["activity_id"].to_list()

    # The same file again (idempotent): every row replaces itself; nothing is counted twice.
    assert import_file(db, changed).ok
    _assert_consistent(db)
    assert _stored(db).height == after.height + 1  # N-4


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
        _assert_consistent(db)
    # Three one-row blocks are one too many: merged into one of three rows, which names no import.
    assert sorted(row_count for _, row_count in blocks()) == [3, 18]
    assert [run for run, row_count in blocks() if row_count == 3] == [None]


def test_a_failed_import_leaves_the_blocks_and_keys_as_they_were(db, examples, tmp_path, small_blocks, monkeypatch):
    assert all(r.ok for r in import_files(db, sorted(examples.glob("*.csv"))))
    stored = _stored(db)
    changed = tmp_path / "activities_changed.csv"
    changed.write_text(CHANGED, encoding="utf-8")

    def fail(*args, **kwargs):
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(imports.audit, "record", fail)  # after the rows and the blocks were written
    with pytest.raises(RuntimeError):
        import_file(db, changed)
    assert _stored(db).equals(stored)
    _assert_consistent(db)


def test_the_activities_of_some_women_are_theirs_named_or_unnamed(db, examples, tmp_path, small_blocks):
    assert all(r.ok for r in import_files(db, sorted(examples.glob("*.csv"))))
    changed = tmp_path / "activities_changed.csv"
    changed.write_text(CHANGED, encoding="utf-8")
    assert import_file(db, changed).ok
    with db.unit_of_work() as connection:
        every = activity_blocks.read_all(connection)
        theirs = _sorted(load_activities(connection, ["111222333"]))
    assert {"VL-1002", "N-2"} <= set(theirs["activity_id"])  # naming no trajectory: by her BSN
    assert theirs.equals(_sorted(every.filter(pl.col("bsn") == "111222333")))
    assert theirs.height < every.height


@pytest.mark.parametrize("via", ["0009", "0008"])
def test_the_migration_makes_blocks_of_the_activities_stored_as_rows(db: Database, examples, tmp_path, via):
    """Down to the rows of 0009 (or before the blocks, 0008) and up again: the same activities, as blocks."""
    assert all(r.ok for r in import_files(db, sorted(examples.glob("*.csv"))))
    changed = tmp_path / "activities_changed.csv"
    changed.write_text(CHANGED, encoding="utf-8")
    assert import_file(db, changed).ok
    before = _stored(db)
    config = alembic_config(db.url)
    command.downgrade(config, via)
    with db.engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM activities").scalar_one() == before.height
    command.upgrade(config, "head")
    assert _stored(db).equals(before)
    _assert_consistent(db)


def test_a_rewritten_block_lists_only_the_trajectories_it_still_holds(db, examples, tmp_path, small_blocks):
    """A new version that names no trajectory takes its activity out of a block that keeps another one: the block's
    keys lose the trajectory it no longer holds and the woman's new one is found by her BSN."""
    assert all(r.ok for r in import_files(db, sorted(examples.glob("*.csv"))))
    header = HALF_BAD.splitlines()[0]
    first, second = tmp_path / "activities_first.csv", tmp_path / "activities_second.csv"
    first.write_text(
        f"{header}\nM-1,123456782,Z-0002,08000001,VK_CONTROLE,2025-03-03,1\n"
        "M-2,123456782,Z-0002,08000001,VK_CONTROLE,2025-03-04,1\nM-3,234567806,Z-0003,08000001,VK_CONTROLE,2025-03-05,1\n",
        encoding="utf-8",
    )
    second.write_text(
        f"{header}\nM-1,123456782,,08000001,VK_CONTROLE,2025-03-03,1\nM-2,123456782,,08000001,VK_CONTROLE,2025-03-04,1\n",
        encoding="utf-8",
    )
    assert import_file(db, first).ok and import_file(db, second).ok
    _assert_consistent(db)
    k, b = tables.activity_block_keys, tables.activity_blocks
    with db.unit_of_work() as connection:
        [(kept,)] = connection.execute(select(b.c.block_id).where(b.c.row_count == 1)).all()  # M-3 alone
        assert connection.execute(select(k.c.pregnancy_id, k.c.bsn).where(k.c.block_id == kept)).all() == [
            ("Z-0003", None)
        ]
        moved = activity_blocks.read_for(connection, [], ["123456782"])
    assert sorted(moved["activity_id"]) == ["M-1", "M-2"]
