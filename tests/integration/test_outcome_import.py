"""Outcome registration from CSV (issue 6, part 1; docs/formats.md, outcomes.csv): every measure may be unknown,
birth measures only for births, clear errors per row and field, quarantine, idempotent re-import."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from integraal.services.imports import import_file, import_files
from integraal.store import tables

HEADER = (
    "pregnancy_id,nulliparous,multiple_pregnancy,gestational_age_days,labour_onset,birth_mode,birth_place,"
    "perinatal_death,nicu_admission,blood_loss_ml,breastfeeding_at_discharge,prem_score,prom_score\n"
)


def load_examples(db, examples: Path) -> None:
    reports = import_files(db, sorted(examples.glob("*.csv")))
    assert all(r.ok for r in reports), [str(e) for r in reports for e in r.errors]


def stored(db) -> dict[str, tuple]:
    o = tables.outcomes
    with db.unit_of_work() as c:
        return {row[0]: tuple(row[1:]) for row in c.execute(select(o).order_by(o.c.pregnancy_id))}


def test_example_outcomes_are_stored_typed_with_unknowns_as_null(db, examples):
    load_examples(db, examples)
    rows = stored(db)
    assert set(rows) == {"Z-0001", "Z-0002", "Z-0003"}
    o = tables.outcomes
    names = [c.name for c in o.columns][1:]
    z1 = dict(zip(names, rows["Z-0001"], strict=True))
    assert z1["nulliparous"] is False
    assert z1["gestational_age_days"] == 278
    assert z1["birth_place"] == "home"
    assert z1["breastfeeding_at_discharge"] is True
    assert z1["prem_score"] == 9.1
    z3 = dict(zip(names, rows["Z-0003"], strict=True))
    assert z3["nulliparous"] is True
    assert all(z3[name] is None for name in names if name != "nulliparous" and name != "multiple_pregnancy")


def test_bad_outcome_rows_name_row_and_field_and_the_good_rows_are_kept(db, examples, tmp_path):
    load_examples(db, examples)
    path = tmp_path / "outcomes.csv"
    path.write_text(
        HEADER
        + "Z-0001,maybe,no,400,no_labour,spontaneous_vaginal,home,no,no,300,yes,11,\n"  # row 1: four problems
        + "Z-0003,no,,280,,,,,,,,,\n"  # row 2: a birth measure for a miscarriage
        + "Z-9999,no,,,,,,,,,,,\n"  # row 3: unknown trajectory
        + "Z-0002,yes,no,250,no_labour,planned_caesarean,hospital_secondary,no,yes,900,no,6,40\n",  # row 4: good
        encoding="utf-8",
    )
    report = import_file(db, path)
    found = {(e.row, e.field) for e in report.errors}
    assert found == {
        (1, "nulliparous"),
        (1, "gestational_age_days"),
        (1, "labour_onset"),
        (1, "prem_score"),
        (2, "gestational_age_days"),
        (3, "pregnancy_id"),
    }
    assert all(e.file == "outcomes.csv" and e.reason for e in report.errors)
    assert (report.total, report.accepted, report.rejected) == (4, 1, 3)
    rows = stored(db)
    assert rows["Z-0002"][3] == "no_labour" and rows["Z-0002"][5] == "hospital_secondary"
    assert rows["Z-0001"][2] == 278  # the rejected row did not replace the stored one
    with db.unit_of_work() as c:
        quarantined = c.execute(
            select(func.count())
            .select_from(tables.import_rejections)
            .where(tables.import_rejections.c.kind == "outcomes")
        ).scalar_one()
    assert quarantined == 6
    import_file(db, path)  # the same file again: same state, nothing doubled
    assert stored(db) == rows
    with db.unit_of_work() as c:
        again = c.execute(
            select(func.count())
            .select_from(tables.import_rejections)
            .where(tables.import_rejections.c.kind == "outcomes")
        ).scalar_one()
    assert again == quarantined


def test_outcome_file_is_recognised_by_its_header(db, examples, tmp_path):
    load_examples(db, examples)
    path = tmp_path / "whatever.csv"
    path.write_text(HEADER + "Z-0001,yes,no,,,,,,,,,,\n", encoding="utf-8")
    (report,) = import_files(db, [path])
    assert report.kind == "outcomes" and report.ok
    assert stored(db)["Z-0001"][0] is True
    assert stored(db)["Z-0001"][2] is None  # a later file replaces the row as a whole


def test_a_caesarean_outside_secondary_care_and_a_repeated_pregnancy_are_rejected(db, examples, tmp_path):
    load_examples(db, examples)
    path = tmp_path / "outcomes.csv"
    path.write_text(
        HEADER
        + "Z-0002,yes,no,250,no_labour,planned_caesarean,home,no,yes,900,no,6,40\n"
        + "Z-0001,no,no,278,spontaneous,spontaneous_vaginal,home,no,no,350,yes,9.1,82.5\n"
        + "Z-0001,no,no,279,spontaneous,spontaneous_vaginal,home,no,no,350,yes,9.1,82.5\n",
        encoding="utf-8",
    )
    report = import_file(db, path)
    assert {(e.row, e.field) for e in report.errors} >= {(1, "birth_place"), (3, "pregnancy_id")}
    assert stored(db)["Z-0002"][5] == "hospital_secondary"  # the example row stays
