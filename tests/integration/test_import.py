"""Imports: validation with file/row/field, quarantine, idempotency and all-or-nothing per file."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import func, select

from integraal.importing.validation import FileError
from integraal.services import imports
from integraal.services.imports import import_file, import_files
from integraal.store import activity_blocks, tables

BAD_ROWS = """activity_id,bsn,pregnancy_id,agb,activity_code,date,quantity
X-1,111222333,Z-0001,08000001,VK_CONTROLE,2025-04-07,1
X-2,111222334,Z-0001,08000001,VK_CONTROLE,2025-04-08,1
X-3,111222333,Z-0001,0800001,VK_CONTROLE,2025-04-09,1
X-4,111222333,Z-0001,08000001,VK_CONTROL,2025-04-10,1
X-5,111222333,Z-0001,08000001,VK_CONTROLE,2025-04-31,1
X-6,111222333,Z-0001,08000001,KZ_UUR,2025-08-03,-2
X-1,111222333,Z-0001,08000001,VK_CONTROLE,2025-04-07,1
X-7,111222333,Z-0001,33000001,KZ_UUR,2025-08-03,7.25
"""


ACTIVITIES = activity_blocks.COLUMNS
"""The activities' columns; they are stored as blocks, counted by ``activity_blocks.count``."""


def count(db, table) -> int:
    with db.unit_of_work() as c:
        if table is ACTIVITIES:
            return activity_blocks.count(c)
        return c.execute(select(func.count()).select_from(table)).scalar_one()


def load_examples(db, examples: Path) -> None:
    reports = import_files(db, sorted(examples.glob("*.csv")))
    assert all(r.ok for r in reports), [str(e) for r in reports for e in r.errors]


def test_file_with_bad_rows_stores_valid_rows_once_and_quarantines_the_rest(db, examples, tmp_path):
    load_examples(db, examples)
    before = count(db, ACTIVITIES)
    bad = tmp_path / "activities_april.csv"
    bad.write_text(BAD_ROWS, encoding="utf-8")

    report = import_file(db, bad)

    assert (report.total, report.accepted, report.rejected) == (8, 2, 6)
    problems = {(e.row, e.field) for e in report.errors}
    assert problems == {
        (2, "bsn"),  # fails the 11-test
        (3, "agb"),  # 7 digits
        (4, "activity_code"),  # not in the catalogue
        (5, "date"),  # 31 April
        (6, "quantity"),  # negative
        (7, "activity_id"),  # X-1 again
    }
    assert all(e.file == "activities_april.csv" for e in report.errors)
    assert count(db, ACTIVITIES) == before + 2
    assert count(db, tables.import_rejections) == 6

    again = import_file(db, bad)
    assert (again.accepted, again.rejected) == (2, 6)
    assert count(db, ACTIVITIES) == before + 2, "re-import doubled activities"
    assert count(db, tables.import_rejections) == 6, "re-import doubled the quarantine"
    with db.unit_of_work() as c:
        raw = c.execute(select(tables.import_rejections.c.raw_row).where(tables.import_rejections.c.row_number == 2))
        assert "111222334" in raw.scalar_one()


def test_reimporting_every_example_file_gives_the_same_state(db, examples):
    load_examples(db, examples)
    snapshot = {
        t.name: count(db, t)
        for t in (
            tables.providers,
            tables.memberships,
            tables.contracts,
            tables.pregnancies,
            ACTIVITIES,
            tables.outcomes,
        )
    }
    load_examples(db, examples)
    assert snapshot == {
        t.name: count(db, t)
        for t in (
            tables.providers,
            tables.memberships,
            tables.contracts,
            tables.pregnancies,
            ACTIVITIES,
            tables.outcomes,
        )
    }
    assert count(db, tables.import_runs) == 2 * len(list(examples.glob("*.csv")))


def test_changed_row_with_the_same_key_replaces_the_stored_row(db, examples, tmp_path):
    load_examples(db, examples)
    fix = tmp_path / "fix.csv"
    fix.write_text(
        "activity_id,bsn,pregnancy_id,agb,activity_code,date,quantity\n"
        "KN-4002,111222333,Z-0001,33000001,KZ_UUR,2025-07-31,9.5\n",
        encoding="utf-8",
    )
    import_file(db, fix)
    with db.unit_of_work() as c:
        stored = activity_blocks.read_all(c)
    assert stored.filter(pl.col("activity_id") == "KN-4002")["quantity_hundredths"].to_list() == [950]
    assert stored["activity_id"].is_unique().all(), "the old version was kept next to the new one"


def test_unreadable_file_is_rejected_whole_and_changes_nothing(db, examples, tmp_path):
    load_examples(db, examples)
    before = count(db, ACTIVITIES)
    latin = tmp_path / "latin1.csv"
    latin.write_bytes(
        "activity_id,bsn,pregnancy_id,agb,activity_code,date,quantity\nA,1,,08000001,Café,2025-01-01,1\n".encode(
            "latin-1"
        )
    )
    with pytest.raises(FileError, match=r"latin1.csv: not UTF-8 text \(invalid byte at line 2"):
        import_file(db, latin, kind="activities")
    assert count(db, ACTIVITIES) == before
    assert count(db, tables.import_runs) == len(list(examples.glob("*.csv")))


def test_unknown_column_rejects_the_whole_file(db, examples, tmp_path):
    load_examples(db, examples)
    typo = tmp_path / "typo.csv"
    typo.write_text("activity_id,bsn,pregnancy_id,agb,activity_cod,date,quantity\n", encoding="utf-8")
    with pytest.raises(FileError, match=r"missing column.*activity_code.*unknown column.*activity_cod"):
        import_file(db, typo, kind="activities")


def test_a_failure_halfway_leaves_the_database_as_before(db, examples, tmp_path, monkeypatch):
    """Never half-apply a file: the activities' blocks and keys are written inside the file's one transaction."""
    load_examples(db, examples)
    before = count(db, ACTIVITIES)
    rows = ["activity_id,bsn,pregnancy_id,agb,activity_code,date,quantity"]
    rows += [f"B-{i},111222333,Z-0001,08000001,VK_CONTROLE,2025-04-0{1 + i % 9},1" for i in range(30)]
    big = tmp_path / "big.csv"
    big.write_text("\n".join(rows) + "\n", encoding="utf-8")
    calls = {"n": 0}
    real_quarantine = imports._quarantine

    def failing_quarantine(*args, **kwargs):
        calls["n"] += 1
        raise RuntimeError("disk full")

    monkeypatch.setattr(imports, "_quarantine", failing_quarantine)
    with pytest.raises(RuntimeError, match="disk full"):
        import_file(db, big)
    assert calls["n"] == 1
    assert count(db, ACTIVITIES) == before
    monkeypatch.setattr(imports, "_quarantine", real_quarantine)
    assert import_file(db, big).accepted == 30
    assert count(db, ACTIVITIES) == before + 30


def test_memberships_and_contracts_are_checked_against_stored_keys(db, examples, tmp_path):
    load_examples(db, examples)
    bad = tmp_path / "contracts_bad.csv"
    bad.write_text(
        "contract_id,igo_id,uzovi,year,prestatie_code,tariff_cents,overlap_policy,partial_trajectory_policy\n"
        "C1,IGO-XXX,3311,2025,IG_PRENATAAL,100,,\n"
        "C2,IGO-RIV,3311,2031,IG_PRENATAAL,100,,\n"
        "C3,IGO-RIV,3311,2025,IG_NOPE,100,,\n"
        "C4,IGO-RIV,3311,2025,IG_PRENATAAL,12.50,,\n"
        "C5,IGO-RIV,3311,2025,IG_PRENATAAL,100,sometimes,\n",
        encoding="utf-8",
    )
    report = import_file(db, bad)
    assert {(e.row, e.field) for e in report.errors} == {
        (1, "igo_id"),
        (2, "year"),
        (3, "prestatie_code"),
        (4, "tariff_cents"),
        (5, "overlap_policy"),
    }


def test_overlapping_membership_periods_are_rejected(db, examples, tmp_path):
    """A provider is a member of an IGO in one period at a time; overlaps would make dates ambiguous."""
    load_examples(db, examples)
    periods = tmp_path / "memberships_2026.csv"
    periods.write_text(
        "igo_id,agb,start_date,end_date\n"
        "IGO-RIV,24000001,2025-06-01,2025-12-31\n"  # overlaps the stored 2020-01-01..2025-06-30
        "IGO-RIV,24000001,2026-01-01,\n"  # fine: after the stored period
        "IGO-RIV,33000002,2025-01-01,2025-12-31\n"
        "IGO-RIV,33000002,2025-12-31,\n",  # overlaps the row above on one day
        encoding="utf-8",
    )
    report = import_file(db, periods)
    assert {(e.row, e.field) for e in report.errors} == {(1, "start_date"), (3, "start_date"), (4, "start_date")}
    assert report.accepted == 1


def test_digits_of_other_scripts_are_row_errors_not_numbers(db, examples, tmp_path):
    """``\\d`` in a regular expression also matches Arabic-Indic and other Unicode digits: a quantity ``1١``
    once passed the check and crashed the import, a BSN of such digits was 11-tested as zeros. Only 0-9 count."""
    load_examples(db, examples)
    before = count(db, ACTIVITIES)
    bad = tmp_path / "activities_digits.csv"
    bad.write_text(
        "activity_id,bsn,pregnancy_id,agb,activity_code,date,quantity\n"
        "U-1,111222333,Z-0001,08000001,KZ_UUR,2025-08-03,1\u0661\n"
        "U-2,\u0661\u0661\u0661222333,Z-0001,08000001,VK_CONTROLE,2025-04-07,1\n"
        "U-3,111222333,Z-0001,0800000\u0661,VK_CONTROLE,2025-04-07,1\n"
        "U-4,111222333,Z-0001,08000001,VK_CONTROLE,2025-04-0\u0667,1\n"
        "U-5,111222333,Z-0001,08000001,VK_CONTROLE,2025-04-07,1\n",
        encoding="utf-8",
    )
    report = import_file(db, bad)
    assert {(e.row, e.field) for e in report.errors} == {(1, "quantity"), (2, "bsn"), (3, "agb"), (4, "date")}
    assert (report.accepted, report.rejected) == (1, 4)
    assert count(db, ACTIVITIES) == before + 1
