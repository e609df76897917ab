"""Tests of the synthetic birth outcomes (outcomes.csv, integraal.synth.outcomes).

They pin what the insight layer and the importer rely on: every generated row passes the real importer, birth
fields only for births, the consistency rules (caesarean in secondary care, no vaginal birth without labour,
primary-care places only without referral), gestational age from the dates, realistic missing data, national
rates within the tolerances of calibration.yaml (read from the file, never repeated here), the risk gradients
(referral, parity, prematurity, multiples), variation between units, and determinism.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from dbutil import fresh_database, release
from integraal.services.imports import import_files
from integraal.synth import COLUMNS, Region, generate_region, write_region
from integraal.synth.calibration import END_REASONS, REFERRAL_STAGES, targets
from integraal.synth.outcomes import OUTCOME_COLUMNS, outcome_frame, simulate_outcomes

YEAR = 2025
BIRTH_ONLY = (
    "gestational_age_days",
    "labour_onset",
    "birth_mode",
    "birth_place",
    "perinatal_death",
    "nicu_admission",
    "blood_loss_ml",
    "breastfeeding_at_discharge",
)
CAESAREAN = ("planned_caesarean", "emergency_caesarean")
PRIMARY_PLACES = ("home", "birth_centre", "hospital_primary")


def _joined(region: Region) -> pl.DataFrame:
    """outcomes.csv with the trajectory it belongs to."""
    trajectories = region.pregnancies.select(
        "pregnancy_id", "end_reason", "referral_stage", "igo_id", "due_date", "end_date"
    )
    return region.outcomes.join(trajectories, on="pregnancy_id", how="left")


def _births(region: Region) -> pl.DataFrame:
    return _joined(region).filter(pl.col("end_reason") == "birth")


def _share(frame: pl.DataFrame, column: str, values: tuple[str, ...]) -> float:
    """Share of rows with one of `values` among rows where `column` is known."""
    known = frame.filter(pl.col(column) != "")
    return float(known[column].is_in(list(values)).mean())


@pytest.fixture(scope="module")
def small() -> Region:
    return generate_region(1_200, seed=3, year=YEAR)


@pytest.fixture(scope="module")
def large() -> Region:
    return generate_region(50_000, seed=21, year=YEAR)


# ------------------------------------------------------------------------------------------- structure


def test_one_row_per_pregnancy_with_the_documented_columns(small: Region) -> None:
    assert COLUMNS["outcomes"] == OUTCOME_COLUMNS
    assert small.outcomes.columns == list(OUTCOME_COLUMNS)
    assert all(dtype == pl.Utf8 for dtype in small.outcomes.dtypes)
    assert small.outcomes["pregnancy_id"].to_list() == small.pregnancies["pregnancy_id"].to_list()


def test_every_generated_row_passes_the_importer(small: Region, tmp_path: Path) -> None:
    paths = write_region(small, tmp_path / "region")
    assert paths["outcomes"].read_text(encoding="utf-8").splitlines()[0] == ",".join(OUTCOME_COLUMNS)
    db = fresh_database(tmp_path, "import")
    try:
        reports = import_files(db, list(paths.values()))
    finally:
        release(db)
    by_kind = {r.kind: r for r in reports}
    outcomes = by_kind["outcomes"]  # recognised from its header
    assert outcomes.ok, [str(e) for e in outcomes.errors][:5]
    assert (outcomes.total, outcomes.accepted, outcomes.rejected) == (small.outcomes.height,) * 2 + (0,)
    assert sum(r.rejected for r in reports) == 0


def test_value_formats(large: Region) -> None:
    o = large.outcomes
    for column in ("nulliparous", "multiple_pregnancy", "perinatal_death", "nicu_admission"):
        assert set(o[column].unique().to_list()) <= {"", "yes", "no"}, column
    assert set(o["breastfeeding_at_discharge"].unique().to_list()) <= {"", "yes", "no"}
    assert set(o["labour_onset"].unique().to_list()) <= {"", "spontaneous", "induced", "no_labour"}
    assert set(o["birth_mode"].unique().to_list()) <= {"", "spontaneous_vaginal", "assisted_vaginal", *CAESAREAN}
    assert set(o["birth_place"].unique().to_list()) <= {"", *PRIMARY_PLACES, "hospital_secondary"}
    ga = o.filter(pl.col("gestational_age_days") != "")["gestational_age_days"]
    assert ga.str.contains(r"^\d+$").all()
    assert ga.cast(pl.Int64).min() >= 154 and ga.cast(pl.Int64).max() <= 322
    blood = o.filter(pl.col("blood_loss_ml") != "")["blood_loss_ml"]
    assert blood.str.contains(r"^\d+$").all() and blood.cast(pl.Int64).max() <= 20_000
    for column, top in (("prem_score", 10.0), ("prom_score", 100.0)):
        scores = o.filter(pl.col(column) != "")[column]
        assert scores.str.contains(r"^\d{1,3}(\.\d{1,2})?$").all(), column
        values = scores.cast(pl.Float64)
        assert values.min() >= 0 and values.max() <= top, column
        assert values.std() > 0.5, column


# --------------------------------------------------------------------------------- consistency rules


def test_birth_fields_only_for_births(large: Region) -> None:
    f = _joined(large)
    other = f.filter(pl.col("end_reason") != "birth")
    assert other.height > 0
    for column in BIRTH_ONLY:
        assert (other[column] == "").all(), column
    ongoing = f.filter(pl.col("end_reason") == "")
    assert ongoing.height > 0
    for column in (*BIRTH_ONLY, "prem_score", "prom_score"):
        assert (ongoing[column] == "").all(), column
    assert (ongoing["nulliparous"] != "").mean() > 0.99
    assert (ongoing["multiple_pregnancy"] != "").mean() > 0.99
    births = f.filter(pl.col("end_reason") == "birth")
    for column in BIRTH_ONLY:
        assert (births[column] != "").mean() > 0.95, column


def test_mode_place_and_onset_fit_together_and_fit_the_trajectory(large: Region) -> None:
    b = _births(large)
    caesareans = b.filter(pl.col("birth_mode").is_in(CAESAREAN))
    assert (caesareans.filter(pl.col("birth_place") != "")["birth_place"] == "hospital_secondary").all()
    assert (caesareans["referral_stage"] != "").all()  # a caesarean only in secondary care
    vaginal = b.filter(pl.col("birth_mode").is_in(["spontaneous_vaginal", "assisted_vaginal"]))
    assert (vaginal["labour_onset"] != "no_labour").all()
    planned = b.filter(pl.col("birth_mode") == "planned_caesarean", pl.col("labour_onset") != "")
    assert (planned["labour_onset"] == "no_labour").mean() > 0.85
    assert (planned["referral_stage"].is_in(["intake", "pregnancy"])).all()
    primary_places = b.filter(pl.col("birth_place").is_in(PRIMARY_PLACES))
    assert (primary_places["referral_stage"] == "").all()  # home etc. only without referral
    secondary = b.filter(pl.col("referral_stage") != "", pl.col("birth_place") != "")
    assert (secondary["birth_place"] == "hospital_secondary").all()
    primary = b.filter(pl.col("referral_stage") == "")
    assert set(primary["birth_mode"].unique().to_list()) <= {"spontaneous_vaginal", ""}
    assert set(primary["labour_onset"].unique().to_list()) <= {"spontaneous", ""}
    induced = b.filter(pl.col("labour_onset") == "induced")
    assert induced["referral_stage"].is_in(["intake", "pregnancy"]).all()
    multiples = _joined(large).filter(pl.col("multiple_pregnancy") == "yes")
    assert multiples["referral_stage"].is_in(["intake", "pregnancy"]).all()  # obstetrician-led care


def test_gestational_age_follows_the_dates(large: Region) -> None:
    b = _births(large).filter(pl.col("gestational_age_days") != "")
    from_dates = 280 + (b["end_date"].str.to_date() - b["due_date"].str.to_date()).dt.total_days()
    assert (b["gestational_age_days"].cast(pl.Int64) == from_dates).all()
    stillborn_or_died = b.filter(pl.col("perinatal_death") == "yes")
    assert (stillborn_or_died["breastfeeding_at_discharge"] == "").all()  # not applicable


def test_missing_data_at_realistic_rates(large: Region) -> None:
    b = _births(large)

    def unknown(column: str) -> float:
        return float((b[column] == "").mean())

    assert 0.01 <= unknown("blood_loss_ml") <= 0.03
    live = b.filter(pl.col("perinatal_death") == "no")
    assert 0.02 <= float((live["breastfeeding_at_discharge"] == "").mean()) <= 0.04
    assert 0.55 <= unknown("prem_score") <= 0.65  # ~40 % respond
    assert ((b["prem_score"] == "") == (b["prom_score"] == "")).all()  # one questionnaire
    for column in ("gestational_age_days", "birth_mode", "perinatal_death"):
        assert unknown(column) < 0.01, column


# ----------------------------------------------------------------------------------------------- rates


def test_rates_close_to_the_calibration_targets(large: Region) -> None:
    """Measured on the CSV frames (not on the generator's own arrays), against calibration.yaml."""
    b = _births(large)
    live = b.filter(pl.col("perinatal_death") == "no")
    ga = b.filter(pl.col("gestational_age_days") != "")["gestational_age_days"].cast(pl.Int64)
    blood = b.filter(pl.col("blood_loss_ml") != "")["blood_loss_ml"].cast(pl.Int64)
    measured = {
        "nulliparous": _share(b, "nulliparous", ("yes",)),
        "multiple_pregnancy": _share(b, "multiple_pregnancy", ("yes",)),
        "perinatal_mortality": 1000 * _share(b, "perinatal_death", ("yes",)),
        "preterm": float((ga < 259).mean()),
        "caesarean": _share(b, "birth_mode", CAESAREAN),
        "caesarean_planned": _share(b, "birth_mode", ("planned_caesarean",)),
        "caesarean_emergency": _share(b, "birth_mode", ("emergency_caesarean",)),
        "assisted_vaginal": _share(b, "birth_mode", ("assisted_vaginal",)),
        "induction": _share(b, "labour_onset", ("induced",)),
        "home_birth": _share(b, "birth_place", ("home",)),
        "primary_care_birth": _share(b, "birth_place", PRIMARY_PLACES),
        "nicu_admission": _share(b, "nicu_admission", ("yes",)),
        "postpartum_haemorrhage": float((blood > 1000).mean()),
        "breastfeeding_at_discharge": _share(live, "breastfeeding_at_discharge", ("yes",)),
        "prem_response": float((b["prem_score"] != "").mean()),
    }
    goals = targets()
    for name, value in measured.items():
        goal = goals[name]
        assert goal.tolerance is not None, name
        assert abs(value - goal.target) <= goal.tolerance, (name, value, goal.target)
    # the calibration rows that `integraal synth` prints measure the same thing
    printed = {row.measure: row.generated for row in large.calibration}
    for name in set(measured) - {"caesarean", "home_birth", "primary_care_birth", "preterm"}:
        assert printed[name] == pytest.approx(measured[name], rel=1e-9), name
    assert printed["caesarean"] == pytest.approx(measured["caesarean"], abs=0.003)  # true value, no unknowns


def test_outcome_targets_are_consistent() -> None:
    t = {name: x.target for name, x in targets().items()}
    assert t["caesarean_planned"] + t["caesarean_emergency"] == pytest.approx(t["caesarean"], abs=1e-9)
    assert t["home_birth"] < t["primary_care_birth"]
    for name in ("nulliparous", "multiple_pregnancy", "perinatal_mortality", "induction", "nicu_admission"):
        assert targets()[name].source and targets()[name].tolerance is not None, name


# -------------------------------------------------------------------------------------------- gradients


def test_risk_follows_the_trajectory(large: Region) -> None:
    b = _births(large)
    referred = b.filter(pl.col("referral_stage") != "")
    not_referred = b.filter(pl.col("referral_stage") == "")
    assert _share(referred, "birth_mode", CAESAREAN) > 0.2 > _share(not_referred, "birth_mode", CAESAREAN)
    nulliparous = b.filter(pl.col("nulliparous") == "yes")
    multiparous = b.filter(pl.col("nulliparous") == "no")
    for mode in ("emergency_caesarean", "assisted_vaginal"):
        assert _share(nulliparous, "birth_mode", (mode,)) > 2 * _share(multiparous, "birth_mode", (mode,)), mode
    ga = pl.col("gestational_age_days").cast(pl.Int64, strict=False)
    preterm, term = b.filter(ga < 259), b.filter(ga >= 259)
    assert _share(preterm, "nicu_admission", ("yes",)) > 5 * _share(term, "nicu_admission", ("yes",))
    assert _share(preterm, "perinatal_death", ("yes",)) > 10 * _share(term, "perinatal_death", ("yes",))
    assert _share(preterm, "multiple_pregnancy", ("yes",)) > 5 * _share(term, "multiple_pregnancy", ("yes",))

    def haemorrhage(frame: pl.DataFrame) -> float:
        blood = frame.filter(pl.col("blood_loss_ml") != "")["blood_loss_ml"].cast(pl.Int64)
        return float((blood > 1000).mean())

    assert haemorrhage(referred) > 2 * haemorrhage(not_referred)
    home = b.filter(pl.col("birth_place") == "home")
    assert _share(home, "nulliparous", ("no",)) > _share(b, "nulliparous", ("no",))


def test_caesareans_drive_the_hospital_stay(large: Region) -> None:
    """The activities use the same caesareans as outcomes.csv: most are followed by a postnatal hospital stay."""
    stays = large.activities.filter(pl.col("activity_code") == "GYN_KRAAMBED")["pregnancy_id"].unique()
    b = _births(large).with_columns(stay=pl.col("pregnancy_id").is_in(stays.implode()))
    caesareans = b.filter(pl.col("birth_mode").is_in(CAESAREAN))
    vaginal_secondary = b.filter(pl.col("birth_mode") == "spontaneous_vaginal", pl.col("referral_stage") != "")
    assert caesareans["stay"].mean() > 0.75 > 0.4 > vaginal_secondary["stay"].mean()


def _units(n: int, n_igo: int, seed: int) -> pl.DataFrame:
    """simulate_outcomes on a made-up region of term births split over `n_igo` IGOs (one VSV each)."""
    rng = np.random.default_rng(seed)
    igo = rng.integers(0, n_igo, n)
    stage = rng.choice(len(REFERRAL_STAGES), size=n, p=[0.28, 0.12, 0.40, 0.20])
    outcomes = simulate_outcomes(
        np.random.default_rng(seed + 1),
        end_reason=np.full(n, END_REASONS.index("birth")),
        born=np.ones(n, dtype=np.bool_),
        birth_ga=rng.integers(259, 295, n),
        referral_stage=stage,
        igo=igo,
        vsv=igo,
        n_igo=n_igo,
        n_vsv=n_igo,
    )
    ids = pl.Series([f"P{i}" for i in range(n)])
    return outcome_frame(outcomes, ids).with_columns(igo=pl.Series(igo), stage=pl.Series(stage))


def test_units_vary_more_than_chance() -> None:
    """Random IGO/VSV effects: between-unit spread of the caesarean rate exceeds binomial noise (funnel plots)."""
    frame = _units(120_000, 30, seed=4)
    per_unit = frame.group_by("igo").agg(
        n=pl.len(), x=pl.col("birth_mode").is_in(list(CAESAREAN)).sum(), known=(pl.col("birth_mode") != "").sum()
    )
    p = per_unit["x"].sum() / per_unit["known"].sum()
    rates = per_unit["x"] / per_unit["known"]
    chi2 = float((((rates - p) ** 2) * per_unit["known"] / (p * (1 - p))).sum())
    assert chi2 > 3 * (per_unit.height - 1)  # far more spread than 29 degrees of freedom of chance


def test_pure_function_keeps_its_rules_on_any_mix() -> None:
    frame = _units(5_000, 2, seed=9)
    primary = frame.filter(pl.col("stage") == 0)
    assert primary["birth_place"].is_in([*PRIMARY_PLACES, ""]).all()
    assert (frame.filter(pl.col("stage") > 0)["birth_place"].is_in(["hospital_secondary", ""])).all()


# ------------------------------------------------------------------------------------------- determinism


def test_same_seed_same_outcomes_other_seed_other_outcomes() -> None:
    a, b = generate_region(600, seed=8), generate_region(600, seed=8)
    c = generate_region(600, seed=9)
    assert a.outcomes.equals(b.outcomes)
    assert not a.outcomes.equals(c.outcomes)


def test_tiny_regions_are_well_formed() -> None:
    for n in (1, 2, 7):
        region = generate_region(n, seed=n)
        assert region.outcomes.height == n
        assert region.outcomes.columns == list(OUTCOME_COLUMNS)
