"""``validate`` evaluates every check in one pass, yet gives exactly what one filter per check gave.

The specification is the validator as it was before: one ``frame.filter`` per required column, check and row
rule, then a group-by of the whole file for repeated keys. Hypothesis draws rows of every import format from
values that pass or fail each check (a small pool of keys, so keys repeat); the frame goes through the format's
``prepare`` as in the import, and both validators must give the same errors in the same order and the same valid
frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from integraal.domain.contract import OverlapPolicy, PartialPolicy
from integraal.domain.pregnancy import EndReason, ReferralStage
from integraal.domain.provider import Discipline
from integraal.importing.formats import FORMATS, References
from integraal.importing.validation import (
    ROW,
    Column,
    RowError,
    RowRule,
    Validated,
    as_hundredths,
    validate,
    with_header,
)
from integraal.insight.outcomes import BirthMode, BirthPlace, LabourOnset
from integraal.services.imports import _with_length_checks, columns_table


def filtering_validate(
    frame: pl.DataFrame,
    file: str,
    columns: Sequence[Column],
    row_rules: Sequence[RowRule] = (),
    key: Sequence[str] = (),
) -> Validated:
    """The validator before the one-pass version (the specification)."""
    frame = with_header(frame, file, columns)
    errors: list[RowError] = []
    for column in columns:
        col = pl.col(column.name)
        if column.required:
            errors.extend(_collect(frame, file, column.name, col == "", "required value is empty"))
        for check, reason in column.checks:
            errors.extend(_collect(frame, file, column.name, (col != "") & ~check(col).fill_null(False), reason))
    for rule in row_rules:
        errors.extend(_collect(frame, file, rule.field, rule.invalid_when.fill_null(False), rule.reason))
    if key:
        errors.extend(_duplicates(frame, file, key))
    bad_rows = {e.row for e in errors}
    valid = frame.filter(~pl.col(ROW).is_in(pl.Series(sorted(bad_rows), dtype=pl.Int64).implode()))
    errors.sort(key=lambda e: (e.row, e.field))
    return Validated(file, frame.height, valid, errors, frame)


def _collect(frame: pl.DataFrame, file: str, field_name: str, invalid: pl.Expr, reason: str) -> list[RowError]:
    hits = frame.filter(invalid).select(ROW, pl.col(field_name).alias("value"))
    return [RowError(file, row, field_name, value, reason) for row, value in hits.iter_rows()]


def _duplicates(frame: pl.DataFrame, file: str, key: Sequence[str]) -> list[RowError]:
    first = frame.group_by(list(key)).agg(pl.col(ROW).min().alias("__first"))
    later = frame.join(first, on=list(key), how="inner").filter(pl.col(ROW) != pl.col("__first"))
    label = "+".join(key)
    return [
        RowError(file, row, label, "/".join(str(v) for v in values), f"duplicate key in this file (first at row {f})")
        for row, f, *values in later.select(ROW, "__first", *key).iter_rows()
    ]


BSN_OF = {"ZT1": "111222333", "ZT2": "123456782"}  # both pass the 11-test
REFERENCES = References(
    providers=frozenset({"08000001", "08000002"}),
    igos=frozenset({"IGO-01"}),
    insurers=frozenset({"3311", "7095"}),
    pregnancies=pl.DataFrame({"pregnancy_id": list(BSN_OF), "bsn": list(BSN_OF.values())}),
    memberships=pl.DataFrame(
        {
            "igo_id": ["IGO-01", "IGO-01"],
            "agb": ["08000001", "08000002"],
            "start_date": ["2024-01-01", "2023-01-01"],
            "end_date": ["", "2023-12-31"],
        }
    ),
    pregnancy_ends=pl.DataFrame({"pregnancy_id": ["ZT1", "ZT2", "ZT3"], "end_reason": ["birth", "miscarriage", None]}),
    activity_codes_by_year={2024: frozenset({"VK_INTAKE", "VK_CONTROLE"}), 2025: frozenset({"VK_INTAKE"})},
    prestatie_codes_by_year={2024: frozenset({"IG_PRENATAAL", "IG_NATAAL"})},
)

DATES = ["2024-01-01", "2024-03-01", "2024-12-31", "2025-01-01", "2023-06-01", ""]
YES_NO = ["yes", "no", ""]
GOOD: dict[str, list[str]] = {
    "agb": ["08000001", "08000002", "53000001"],
    "name": ["De Linde", "Zilveren Kruis"],
    "discipline": [d.value for d in Discipline],
    "city": ["Tiel", ""],
    "igo_id": ["IGO-01", "IGO-02"],
    "uzovi": ["3311", "7095"],
    "contract_id": ["C1", "C2"],
    "year": ["2024", "2025"],
    "prestatie_code": ["IG_PRENATAAL", "IG_NATAAL", "MONO"],
    "tariff_cents": ["100", "0"],
    "overlap_policy": [p.value for p in OverlapPolicy] + [""],
    "partial_trajectory_policy": [p.value for p in PartialPolicy] + [""],
    "pregnancy_id": ["ZT1", "ZT2", "ZT3", ""],
    "bsn": [*BSN_OF.values(), "111222333"],
    "end_reason": [e.value for e in EndReason] + [""],
    "referral_stage": [s.value for s in ReferralStage] + [""],
    "activity_id": ["A1", "A2", "A3", "A4"],
    "activity_code": ["VK_INTAKE", "VK_CONTROLE"],
    "quantity": ["", "1", "0.25", "2.5"],
    "gestational_age_days": ["280", "0", ""],
    "labour_onset": [v.value for v in LabourOnset] + [""],
    "birth_mode": [v.value for v in BirthMode] + [""],
    "birth_place": [v.value for v in BirthPlace] + [""],
    "blood_loss_ml": ["300", ""],
    "prem_score": ["7.5", "10", ""],
    "prom_score": ["3", ""],
}
BAD = ["", "x", " ", "A 1", "٣٣٣٣٣٣٣٣٣", "1١", "123456789", "2024-02-30", "20240101", "0", "1.234", "-1", "999999"]
BAD += ["X" * 70, "yes", "birth", "IGO-99", "9999", "53", "NOPE", "1e3", "nan", "07", "2024-13-01"]


def values(name: str) -> st.SearchStrategy[str]:
    if name.endswith("_date") or name == "date":
        good = DATES
    elif name in ("nulliparous", "multiple_pregnancy", "perinatal_death", "nicu_admission"):
        good = YES_NO
    else:
        good = GOOD.get(name, ["v"]) if name != "breastfeeding_at_discharge" else YES_NO
    return st.one_of(st.sampled_from(good), st.sampled_from(good), st.sampled_from(good), st.sampled_from(BAD))


@st.composite
def files(draw: st.DrawFn, kind: str | None = None) -> tuple[str, pl.DataFrame]:
    kind = kind or draw(st.sampled_from(sorted(FORMATS)))
    names = [c.name for c in FORMATS[kind].columns(References())]
    rows = draw(st.lists(st.tuples(*(values(name) for name in names)), max_size=25))
    frame = pl.DataFrame(rows, schema=dict.fromkeys(names, pl.String), orient="row")
    return kind, frame.with_row_index(ROW, offset=1).with_columns(pl.col(ROW).cast(pl.Int64))


@settings(max_examples=400, deadline=None)
@given(case=files())
def test_one_pass_gives_what_one_filter_per_check_gave(case: tuple[str, pl.DataFrame]) -> None:
    kind, frame = case
    fmt = FORMATS[kind]
    columns = _with_length_checks(fmt.columns(REFERENCES), columns_table(fmt))
    prepared = fmt.prepare(with_header(frame, f"{kind}.csv", columns), REFERENCES)
    rules = fmt.row_rules(REFERENCES)
    expected = filtering_validate(prepared, f"{kind}.csv", columns, rules, fmt.key)
    actual = validate(prepared, f"{kind}.csv", columns, rules, fmt.key)
    assert actual.errors == expected.errors
    assert actual.total == expected.total
    assert_frame_equal(actual.valid, expected.valid)
    assert expected.raw is not None and actual.raw is not None
    assert_frame_equal(actual.raw, expected.raw)
    assert_frame_equal(fmt.to_rows(actual.valid), fmt.to_rows(expected.valid))


def test_a_file_without_checks_or_key_has_no_errors() -> None:
    frame = pl.DataFrame({ROW: [1, 2], "a": ["", "x"]})
    result = validate(frame, "f.csv", [Column("a", required=False)])
    assert result.errors == []
    assert_frame_equal(result.valid, frame)


def test_a_repeated_key_is_reported_on_every_later_row_with_the_first() -> None:
    frame = pl.DataFrame({ROW: [1, 2, 3, 4], "k": ["a", "b", "a", "a"], "j": ["1", "1", "1", "2"]})
    result = validate(frame, "f.csv", [Column("k"), Column("j")], key=("k", "j"))
    assert [str(e) for e in result.errors] == [
        "f.csv: row 3, field 'k+j' = 'a/1': duplicate key in this file (first at row 1)"
    ]
    assert result.valid.get_column(ROW).to_list() == [1, 2, 4]


@settings(max_examples=200, deadline=None)
@given(case=files("activities"))
def test_the_owner_of_a_named_trajectory_is_what_joining_the_stored_trajectories_gave(
    case: tuple[str, pl.DataFrame],
) -> None:
    """Activities' ``prepare`` looks each row's trajectory up; the specification is the left join it replaced
    (rows, their order and every column kept; no owner for an empty or unknown ``pregnancy_id``)."""
    kind, frame = case
    fmt = FORMATS[kind]
    frame = with_header(frame, f"{kind}.csv", fmt.columns(REFERENCES))
    owners = REFERENCES.pregnancies.select("pregnancy_id", pl.col("bsn").alias("__owner_bsn"))
    expected = frame.join(owners, on="pregnancy_id", how="left", maintain_order="left")
    assert_frame_equal(fmt.prepare(frame, REFERENCES), expected)


@settings(max_examples=300, deadline=None)
@given(
    whole=st.integers(min_value=0, max_value=9_999_999),
    decimals=st.sampled_from(["", ".0", ".5", ".05", ".25", ".99", ".1"]),
)
def test_a_quantity_becomes_its_exact_number_of_hundredths(whole: int, decimals: str) -> None:
    text = f"{whole}{decimals}"
    frame = pl.DataFrame({"quantity": [text, ""]})
    hundredths = frame.select(as_hundredths("quantity")).get_column("quantity").to_list()
    assert hundredths == [int(Decimal(text) * 100), 100]  # an empty quantity is one
