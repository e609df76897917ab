"""Tests of the synthetic region generator (integraal.synth).

They pin what other parts of Integraal rely on: exact CSV columns, valid identifiers (BSN 11-test, AGB,
UZOVI), unique and stable ids, codes from the catalogue, trajectories that are internally consistent (no
birth care after a miscarriage, ongoing means no end date), the awkward cases being present (bundle
breakers, membership periods, a missing contract, activities without pregnancy_id), determinism, and that a
20,000-pregnancy region stays within tolerance of every calibration target.
"""

from __future__ import annotations

import csv
import io
import itertools
from importlib import resources
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from integraal.synth import COLUMNS, Region, generate_region, write_region
from integraal.synth.calibration import member_on_date, targets
from integraal.synth.generator import CODES, valid_bsns

YEAR = 2025
BIRTH_CODES = (
    "VK_BEVALLING",
    "GYN_BEVALLING",
    "KZ_PARTUS",
    "GYN_KRAAMBED",
    "KZ_UUR",
    "VK_KRAAMBED",
    "VK_NACONTROLE",
)


def _catalogue(year: int, name: str) -> list[dict[str, str]]:
    text = (resources.files("integraal") / "data" / "catalogue" / str(year) / name).read_text("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def _bsn_ok(bsn: str) -> bool:
    if len(bsn) != 9 or not bsn.isdigit() or set(bsn) == {"0"}:
        return False
    weights = (9, 8, 7, 6, 5, 4, 3, 2, -1)
    return sum(int(d) * w for d, w in zip(bsn, weights, strict=True)) % 11 == 0


@pytest.fixture(scope="module")
def region() -> Region:
    return generate_region(20_000, seed=11, year=YEAR)


@pytest.fixture(scope="module")
def small() -> Region:
    return generate_region(1_500, seed=3, year=YEAR)


# ------------------------------------------------------------------------------------------ structure


def test_columns_exactly_as_documented(small: Region) -> None:
    expected = {
        "providers": ["agb", "name", "discipline", "city"],
        "igos": ["igo_id", "agb", "name"],
        "memberships": ["igo_id", "agb", "start_date", "end_date"],
        "insurers": ["uzovi", "name"],
        "contracts": [
            "contract_id", "igo_id", "uzovi", "year", "prestatie_code", "tariff_cents", "overlap_policy",
            "partial_trajectory_policy",
        ],
        "pregnancies": [
            "pregnancy_id", "bsn", "uzovi", "igo_id", "intake_date", "due_date", "labour_date", "end_date",
            "end_reason", "referral_date", "referral_stage",
        ],
        "activities": ["activity_id", "bsn", "pregnancy_id", "agb", "activity_code", "date", "quantity"],
        "outcomes": [
            "pregnancy_id", "nulliparous", "multiple_pregnancy", "gestational_age_days", "labour_onset",
            "birth_mode", "birth_place", "perinatal_death", "nicu_admission", "blood_loss_ml",
            "breastfeeding_at_discharge", "prem_score", "prom_score",
        ],
    }  # fmt: skip
    assert {k: list(v) for k, v in COLUMNS.items()} == expected
    for kind, columns in expected.items():
        frame: pl.DataFrame = getattr(small, kind)
        assert frame.columns == columns, kind
        assert all(dtype == pl.Utf8 for dtype in frame.dtypes), kind
        assert frame.height > 0, kind


def test_formats_md_lists_the_same_columns() -> None:
    docs = Path(__file__).resolve().parents[2] / "docs" / "formats.md"
    if not docs.exists():
        pytest.skip("docs/formats.md not present")
    text = docs.read_text(encoding="utf-8")
    for kind, columns in COLUMNS.items():
        section = text.split(f"## {kind}.csv", 1)[1].split("\n## ", 1)[0]
        documented = [line.split("`")[1] for line in section.splitlines() if line.startswith("| `")]
        assert documented == list(columns), kind


def test_identifiers_are_valid(small: Region) -> None:
    assert all(_bsn_ok(b) for b in small.pregnancies["bsn"].to_list())
    assert all(_bsn_ok(b) for b in small.activities["bsn"].unique().to_list())
    agbs = small.providers["agb"]
    assert agbs.str.contains(r"^\d{8}$").all() and agbs.n_unique() == agbs.len()
    assert small.igos["agb"].str.contains(r"^53\d{6}$").all()
    assert small.insurers["uzovi"].str.contains(r"^\d{4}$").all()
    assert 4 <= small.insurers.height <= 6
    assert small.activities["agb"].is_in(agbs.implode()).all()
    assert small.memberships["agb"].is_in(agbs.implode()).all()
    assert small.igos["igo_id"].str.contains(r"^[A-Za-z0-9_-]+$").all()


def test_ids_unique_and_references_known(region: Region) -> None:
    acts, pregs = region.activities, region.pregnancies
    assert acts["activity_id"].n_unique() == acts.height
    assert pregs["pregnancy_id"].n_unique() == pregs.height
    linked = acts.filter(pl.col("pregnancy_id") != "")
    assert linked["pregnancy_id"].is_in(pregs["pregnancy_id"].implode()).all()
    # the BSN on an activity is the BSN of its trajectory
    joined = linked.join(pregs.select("pregnancy_id", pl.col("bsn").alias("p_bsn")), on="pregnancy_id")
    assert (joined["bsn"] == joined["p_bsn"]).all()
    assert pregs["igo_id"].is_in(region.igos["igo_id"].implode()).all()
    assert pregs["uzovi"].is_in(region.insurers["uzovi"].implode()).all()


def test_codes_and_disciplines_from_catalogue(region: Region) -> None:
    acts = region.activities.join(region.providers.select("agb", "discipline"), on="agb")
    for year in (YEAR - 1, YEAR):
        rows = _catalogue(year, "activity_types.csv")
        allowed = {r["code"]: set(r["disciplines"].split("|")) for r in rows}
        in_year = acts.filter(pl.col("date").str.starts_with(str(year)))
        pairs = in_year.select("activity_code", "discipline").unique().rows()
        for code, discipline in pairs:
            assert code in allowed, (year, code)
            assert discipline in allowed[code], (code, discipline)
    assert set(region.activities["activity_code"].unique().to_list()) == set(CODES)


def test_quantities_and_dates_well_formed(region: Region) -> None:
    acts = region.activities
    assert acts["date"].str.contains(r"^\d{4}-\d{2}-\d{2}$").all()
    assert acts["date"].max() <= f"{YEAR}-12-31"  # extracted at the end of the year
    qty = acts.filter(pl.col("quantity") != "")["quantity"]
    assert qty.str.contains(r"^\d+(\.\d{1,2})?$").all()
    assert (qty.cast(pl.Float64) > 0).all()
    hours = acts.filter(pl.col("activity_code").is_in(["KZ_UUR", "KZ_PARTUS"]))
    assert (hours["quantity"] != "").all()


# ---------------------------------------------------------------------------------- trajectories


def test_end_reason_consistency(region: Region) -> None:
    pregs = region.pregnancies
    reasons = {"", "birth", "miscarriage", "termination", "moved_away", "switched_provider", "maternal_death"}
    assert set(pregs["end_reason"].unique().to_list()) <= reasons
    ongoing = pregs.filter(pl.col("end_reason") == "")
    assert (ongoing["end_date"] == "").all() and (ongoing["labour_date"] == "").all()
    ended = pregs.filter(pl.col("end_reason") != "")
    assert (ended["end_date"] != "").all()
    assert (ended["end_date"] >= ended["intake_date"]).all()
    births = pregs.filter(pl.col("end_reason") == "birth")
    assert (births["labour_date"] != "").all() and (births["labour_date"] <= births["end_date"]).all()
    assert (pregs["intake_date"] < pregs["due_date"]).all()
    referred = pregs.filter(pl.col("referral_stage") != "")
    assert (referred["referral_date"] != "").all()
    assert (pregs.filter(pl.col("referral_stage") == "")["referral_date"] == "").all()
    assert (referred["referral_date"] >= referred["intake_date"]).all()
    assert (
        pregs.filter(pl.col("referral_stage") == "intake")["referral_date"]
        == pregs.filter(pl.col("referral_stage") == "intake")["intake_date"]
    ).all()
    labour = pregs.filter(pl.col("referral_stage") == "labour")
    assert (labour["referral_date"] == labour["labour_date"]).all()
    assert (ended.filter(pl.col("referral_date") != "")["referral_date"] <= ended.filter(
        pl.col("referral_date") != "")["end_date"]).all()  # fmt: skip
    # the ongoing share includes trajectories due early next year
    assert (ongoing["due_date"] > f"{YEAR}-12-31").sum() > 0


def test_no_birth_care_after_early_end(region: Region) -> None:
    pregs = region.pregnancies.select("pregnancy_id", "intake_date", "end_date", "end_reason")
    acts = region.activities.filter(pl.col("pregnancy_id") != "").join(pregs, on="pregnancy_id")
    early = acts.filter(pl.col("end_reason").is_in(["miscarriage", "termination", "moved_away", "switched_provider"]))
    assert early.filter(pl.col("activity_code").is_in(BIRTH_CODES)).height == 0
    assert early.filter(pl.col("date") > pl.col("end_date")).height == 0
    ongoing = acts.filter(pl.col("end_reason") == "")
    assert ongoing.filter(pl.col("activity_code").is_in(BIRTH_CODES)).height == 0
    before_intake = acts.filter(pl.col("date") < pl.col("intake_date"))
    assert set(before_intake["activity_code"].unique().to_list()) <= {"VK_PRECONCEPTIE"}
    births = acts.filter(pl.col("end_reason") == "birth")
    postnatal = births.filter(pl.col("activity_code").is_in(["KZ_UUR", "VK_KRAAMBED", "VK_NACONTROLE"]))
    assert (postnatal["date"] >= postnatal["end_date"]).all()


def test_some_women_have_two_trajectories(region: Region) -> None:
    pregs = region.pregnancies
    twice = pregs.filter(pl.col("bsn").is_duplicated()).sort("bsn", "intake_date")
    assert twice.height > 0
    for _, group in twice.group_by("bsn", maintain_order=True):
        first, second = group.row(0, named=True), group.row(1, named=True)
        assert first["end_reason"] == "miscarriage" and first["end_date"] < second["intake_date"]


def test_blank_pregnancy_ids_match_one_trajectory(region: Region) -> None:
    acts, pregs = region.activities, region.pregnancies
    blank = acts.filter(pl.col("pregnancy_id") == "")
    share = blank.height / acts.height
    assert 0.005 < share < 0.015
    single = pregs.filter(~pl.col("bsn").is_duplicated())
    matched = blank.join(single, on="bsn")
    assert matched.height == blank.height
    end = pl.when(pl.col("end_date") == "").then(pl.lit("9999-12-31")).otherwise(pl.col("end_date"))
    assert matched.filter((pl.col("date") < pl.col("intake_date")) | (pl.col("date") > end)).height == 0


# -------------------------------------------------------------------------- IGOs, memberships, contracts


def test_memberships_do_not_overlap_and_some_change_mid_year(region: Region) -> None:
    m = region.memberships
    assert m["igo_id"].is_in(region.igos["igo_id"].implode()).all()
    closed = m.filter(pl.col("end_date") != "")
    assert (closed["start_date"] <= closed["end_date"]).all()
    for _, periods in m.group_by("igo_id", "agb"):
        rows = periods.sort("start_date").rows(named=True)
        for a, b in itertools.pairwise(rows):
            assert a["end_date"] != "" and a["end_date"] < b["start_date"]
    assert (m["start_date"] > f"{YEAR - 1}-01-01").any()  # a member joins during the window
    assert (closed["end_date"].str.starts_with(str(YEAR))).any()  # a member leaves during `year`
    non_members = region.providers.filter(~pl.col("agb").is_in(m["agb"].implode()))
    assert set(non_members["discipline"].to_list()) >= {"kraamzorg", "ultrasound", "hospital", "gp"}


def test_contracts_cover_catalogue_with_one_missing(region: Region) -> None:
    c = region.contracts
    assert set(c["year"].unique().to_list()) == {str(YEAR - 1), str(YEAR)}
    codes = {r["code"] for r in _catalogue(YEAR, "integral_prestaties.csv")}
    current = c.filter(pl.col("year") == str(YEAR))
    for _, rows in current.group_by("contract_id"):
        assert set(rows["prestatie_code"].to_list()) == codes
        assert rows.select("igo_id", "uzovi", "overlap_policy", "partial_trajectory_policy").n_unique() == 1
    expected = region.igos.height * region.insurers.height
    assert current["contract_id"].n_unique() == expected - 1  # "contract missing" occurs
    assert c.filter(pl.col("year") == str(YEAR - 1))["contract_id"].n_unique() == expected
    assert c.select("contract_id", "prestatie_code").n_unique() == c.height
    tariffs = c["tariff_cents"].cast(pl.Int64)
    assert tariffs.min() >= 70_000 and tariffs.max() <= 250_000


def test_bundle_breakers_and_membership_edges_present(region: Region) -> None:
    in_scope = {r["code"] for r in _catalogue(YEAR, "activity_types.csv") if r["in_scope"] == "yes"}
    acts = (
        region.activities.filter(pl.col("pregnancy_id") != "", pl.col("activity_code").is_in(in_scope))
        .join(region.pregnancies.select("pregnancy_id", "igo_id"), on="pregnancy_id")
        .with_row_index("row")
    )
    periods = acts.join(region.memberships, on=["igo_id", "agb"], how="inner")
    member_rows = periods.filter(
        (pl.col("start_date") <= pl.col("date")) & ((pl.col("end_date") == "") | (pl.col("date") <= pl.col("end_date")))
    )["row"].unique()
    outside = acts.filter(~pl.col("row").is_in(member_rows.implode()))
    share = outside["pregnancy_id"].n_unique() / region.pregnancies.height
    assert 0.03 <= share <= 0.05
    # a handful of activities by providers that are members, but not on that date
    known_members = outside.filter(pl.col("agb").is_in(region.memberships["agb"].implode()))
    assert 0 < known_members.height < 0.001 * region.activities.height


def test_member_on_date_helper() -> None:
    a = np.array
    igo, prov = a([0, 0, 0, 0, 1, 1]), a([5, 5, 5, 7, 5, 2])
    day = a([10, 20, 31, 15, 15, 15])
    m_igo, m_prov, m_start, m_end = a([0, 0, 1]), a([5, 5, 5]), a([0, 25, 0]), a([19, 10**6, 12])
    got = member_on_date(igo, prov, day, m_igo, m_prov, m_start, m_end)
    assert got.tolist() == [True, False, True, False, False, False]


# ------------------------------------------------------------------------------------- determinism


def test_deterministic_and_seed_sensitive(tmp_path: Path) -> None:
    a, b = generate_region(400, seed=5), generate_region(400, seed=5)
    c = generate_region(400, seed=6)
    for kind in COLUMNS:
        assert getattr(a, kind).equals(getattr(b, kind)), kind
    assert not a.pregnancies.equals(c.pregnancies)
    assert not a.activities.equals(c.activities)
    first, second = write_region(a, tmp_path / "a"), write_region(b, tmp_path / "b")
    assert set(first) == set(COLUMNS)
    for kind, path in first.items():
        assert path.name == f"{kind}.csv"
        assert path.read_bytes() == second[kind].read_bytes()
    header = first["activities"].read_text(encoding="utf-8").splitlines()[0]
    assert header == ",".join(COLUMNS["activities"])


def test_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="pregnancies"):
        generate_region(0, seed=1)
    with pytest.raises(ValueError, match="seed"):
        generate_region(10, seed=-1)
    with pytest.raises(FileNotFoundError):
        generate_region(10, seed=1, year=1990)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(min_value=1, max_value=300), seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_any_small_region_is_well_formed(n: int, seed: int) -> None:
    r = generate_region(n, seed=seed)
    assert r.pregnancies.height == n
    assert all(_bsn_ok(b) for b in r.pregnancies["bsn"].to_list())
    assert r.activities["activity_id"].n_unique() == r.activities.height
    assert r.activities["activity_code"].is_in(list(CODES)).all()
    assert r.igos.height >= 1 and r.contracts.height > 0


@settings(max_examples=25, deadline=None)
@given(count=st.integers(min_value=1, max_value=2_000), seed=st.integers(min_value=0, max_value=10**9))
def test_valid_bsns_pass_the_eleven_test(count: int, seed: int) -> None:
    numbers = valid_bsns(count, np.random.default_rng(seed))
    assert numbers.size == count and np.unique(numbers).size == count
    assert all(_bsn_ok(f"{int(x):09d}") for x in numbers)


# ------------------------------------------------------------------------------------- calibration


def test_calibration_within_tolerance(region: Region) -> None:
    by_name = {row.measure: row for row in region.calibration}
    assert set(by_name) == set(targets())
    for name, target in targets().items():
        row = by_name[name]
        assert row.source and row.unit
        assert row.target == target.target
        if target.tolerance is not None:
            assert abs(row.generated - row.target) <= target.tolerance, (name, row.generated, row.target)


def test_calibration_agrees_with_the_frames(region: Region) -> None:
    """Spot-check rows that can be recomputed from the CSV frames alone."""
    by_name = {row.measure: row.generated for row in region.calibration}
    pregs = region.pregnancies
    births = pregs.filter(pl.col("end_reason") == "birth")
    assert by_name["referral_pregnancy"] == pytest.approx((births["referral_stage"] == "pregnancy").mean())
    assert by_name["miscarriage"] == pytest.approx((pregs["end_reason"] == "miscarriage").mean())
    ga = 280 - (births["due_date"].str.to_date() - births["end_date"].str.to_date()).dt.total_days()
    assert by_name["preterm"] == pytest.approx((ga < 259).mean())
    assert by_name["activities_per_pregnancy"] == pytest.approx(region.activities.height / pregs.height)


def test_calibration_targets_are_consistent() -> None:
    t = {name: x.target for name, x in targets().items()}
    stages = (1 - t["start_primary_care"]) + t["referral_pregnancy"] + t["referral_labour"]
    assert stages + t["primary_care_birth"] == pytest.approx(1.0, abs=1e-9)
    assert t["home_birth"] < t["primary_care_birth"]
    assert all(x.source and x.year >= 2000 for x in targets().values())
