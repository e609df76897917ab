"""Outcome records and indicator definitions (DOMAIN.md §6): the shipped indicators parse, and each counts the
right numerator, denominator, exclusions and missing values on hand-made records."""

from __future__ import annotations

import math
from datetime import date

import pytest
from insight_builders import birth

from integraal.distribution.inputs import ClientProfile
from integraal.domain.pregnancy import EndReason
from integraal.insight import (
    BirthMode,
    BirthPlace,
    IndicatorDefinitionError,
    IndicatorKind,
    LabourOnset,
    OutcomeRecord,
    Status,
    compute_indicator,
    compute_mean,
    load_indicators,
    outcome_problems,
    parse_indicators,
    record_status,
    tally,
)

SECONDARY = BirthPlace.HOSPITAL_SECONDARY

RECORDS = [
    birth("1-term", prem_score=8.0),
    birth(
        "2-preterm-emergency-cs",
        gestational_age_days=250,
        nicu_admission=True,
        birth_mode=BirthMode.EMERGENCY_CAESAREAN,
        birth_place=SECONDARY,
        prem_score=6.0,
    ),
    birth(
        "3-perinatal-death",
        gestational_age_days=200,
        perinatal_death=True,
        breastfeeding_at_discharge=None,
        birth_place=SECONDARY,
    ),
    birth(
        "4-planned-cs-haemorrhage",
        labour_onset=LabourOnset.NO_LABOUR,
        birth_mode=BirthMode.PLANNED_CAESAREAN,
        birth_place=SECONDARY,
        blood_loss_ml=1200,
    ),
    birth("5-home", birth_place=BirthPlace.HOME, breastfeeding_at_discharge=False, prem_score=9.0),
    birth(
        "6-induced-assisted",
        labour_onset=LabourOnset.INDUCED,
        birth_mode=BirthMode.ASSISTED_VAGINAL,
        birth_place=SECONDARY,
        blood_loss_ml=1000,
    ),
    birth("7-twins", multiple_pregnancy=True, birth_mode=BirthMode.EMERGENCY_CAESAREAN, birth_place=SECONDARY),
    OutcomeRecord("8-miscarriage", end_reason=EndReason.MISCARRIAGE, end_date=date(2025, 2, 1)),
    birth("9-age-and-place-unknown", gestational_age_days=None, birth_place=None),
    birth("10-before-22-weeks", gestational_age_days=150, breastfeeding_at_discharge=None, birth_place=SECONDARY),
]

EXPECTED = {
    # indicator: (numerator, denominator, excluded, missing)
    "perinatal_mortality": (1, 6, 1, 1),
    "preterm_birth": (2, 6, 1, 1),
    "caesarean_total": (2, 8, 1, 0),
    "caesarean_emergency": (1, 8, 1, 0),
    "induction_of_labour": (1, 8, 1, 0),
    "nicu_admission": (1, 8, 1, 0),
    "postpartum_haemorrhage": (1, 8, 1, 0),
    "breastfeeding_at_discharge": (5, 6, 1, 1),
    "home_birth": (1, 7, 1, 1),
}


def test_hand_made_records_are_valid() -> None:
    """The fixtures themselves pass validation, so the counts below test the indicators, not bad data."""
    assert [p for r in RECORDS for p in outcome_problems(r)] == []


def test_shipped_indicators_cover_the_issue_list() -> None:
    """Issue 6 / DOMAIN.md §6: perinatal mortality, preterm birth, caesarean (total and emergency), induction,
    NICU admission, haemorrhage > 1 l, breastfeeding, home birth and a PREM mean."""
    indicators = load_indicators()
    assert set(EXPECTED) | {"prem_mean"} == set(indicators)
    for indicator in indicators.values():
        assert indicator.name.nl and indicator.name.en and indicator.explanation.nl and indicator.explanation.en
        assert indicator.source.name
        assert indicator.source.verified is False  # nothing is checked against the source text yet


@pytest.mark.parametrize("indicator_id", sorted(EXPECTED))
def test_indicator_counts_hand_made_records(indicator_id: str) -> None:
    """Each shipped definition counts numerator, denominator, exclusions (twins) and missing values as the
    module rules say: a miscarriage is out, a birth with an unknown needed value is missing."""
    indicator = load_indicators()[indicator_id]
    counts = tally(indicator, RECORDS)
    assert (counts.numerator, counts.denominator, counts.excluded, counts.missing) == EXPECTED[indicator_id]


def test_record_status_follows_the_order_of_the_rules() -> None:
    indicators = load_indicators()
    mortality = indicators["perinatal_mortality"]
    by_id = {r.pregnancy_id: r for r in RECORDS}
    assert record_status(mortality, by_id["8-miscarriage"]) is Status.OUT
    assert record_status(mortality, by_id["10-before-22-weeks"]) is Status.OUT
    assert record_status(mortality, by_id["7-twins"]) is Status.EXCLUDED
    assert record_status(mortality, by_id["9-age-and-place-unknown"]) is Status.MISSING
    assert record_status(mortality, by_id["3-perinatal-death"]) is Status.NUMERATOR
    assert record_status(mortality, by_id["1-term"]) is Status.DENOMINATOR


def test_compute_indicator_per_unit_and_period_with_intervals() -> None:
    """Results come per (unit, period), ordered by period then unit, with rate and both intervals."""
    records = [*RECORDS, birth("11-last-year", end_date=date(2024, 12, 31), birth_mode=BirthMode.PLANNED_CAESAREAN)]
    units = {r.pregnancy_id: ("VSV-B" if r.pregnancy_id.startswith(("1-", "2-", "3-")) else "VSV-A") for r in records}
    results = compute_indicator(load_indicators()["caesarean_total"], records, lambda r: units[r.pregnancy_id])
    assert [(r.period, r.unit) for r in results] == [("2024", "VSV-A"), ("2025", "VSV-A"), ("2025", "VSV-B")]
    last_year, a, b = results
    assert (last_year.numerator, last_year.denominator) == (1, 1)
    assert (b.numerator, b.denominator) == (1, 3)
    assert (a.numerator, a.denominator, a.excluded) == (1, 5, 1)
    assert a.rate == pytest.approx(0.2)
    assert a.wilson is not None and a.exact is not None
    assert a.wilson.lower < 0.2 < a.wilson.upper
    assert a.exact.lower < 0.2 < a.exact.upper


def test_records_without_unit_or_period_are_left_out() -> None:
    ongoing = OutcomeRecord("ongoing")
    results = compute_indicator(
        load_indicators()["home_birth"], [*RECORDS, ongoing], lambda r: None if r.pregnancy_id == "1-term" else "U"
    )
    assert [(r.numerator, r.denominator) for r in results] == [(1, 6)]


def test_prem_mean_over_births_with_a_score() -> None:
    indicator = load_indicators()["prem_mean"]
    assert indicator.kind is IndicatorKind.MEAN
    (result,) = compute_mean(indicator, RECORDS, lambda r: "IGO")
    assert (result.n, result.missing, result.excluded) == (3, 6, 0)
    assert result.mean == pytest.approx(23 / 3)
    sd = math.sqrt(((8 - 23 / 3) ** 2 + (6 - 23 / 3) ** 2 + (9 - 23 / 3) ** 2) / 2)
    assert result.standard_deviation == pytest.approx(sd)
    assert result.interval is not None
    assert result.interval.upper - result.mean == pytest.approx(1.959964 * sd / math.sqrt(3), rel=1e-6)


def test_proportion_and_mean_computations_refuse_the_other_kind() -> None:
    indicators = load_indicators()
    with pytest.raises(ValueError, match="compute_mean"):
        compute_indicator(indicators["prem_mean"], RECORDS, lambda r: "IGO")
    with pytest.raises(ValueError, match="not a mean"):
        compute_mean(indicators["home_birth"], RECORDS, lambda r: "IGO")


# --- outcome validation --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("record", "field"),
    [
        (birth("x", gestational_age_days=400), "gestational_age_days"),
        (birth("x", gestational_age_days=-1), "gestational_age_days"),
        (birth("x", blood_loss_ml=-5), "blood_loss_ml"),
        (birth("x", labour_onset=LabourOnset.NO_LABOUR), "labour_onset"),
        (birth("x", birth_mode=BirthMode.EMERGENCY_CAESAREAN, birth_place=BirthPlace.HOME), "birth_place"),
        (birth("x", birth_mode=BirthMode.PLANNED_CAESAREAN), "birth_place"),
        (birth("x", prem_score=11.0), "prem_score"),
        (birth("x", prom_score=float("nan")), "prom_score"),
        (birth("x", end_date=None), "end_date"),
        (OutcomeRecord("x", end_date=date(2025, 1, 1)), "end_reason"),
        (
            OutcomeRecord("x", end_reason=EndReason.MISCARRIAGE, end_date=date(2025, 1, 1), nicu_admission=False),
            "nicu_admission",
        ),
        (birth(""), "pregnancy_id"),
    ],
)
def test_outcome_problems_name_the_field(record: OutcomeRecord, field: str) -> None:
    """Errors as data (STYLE.md): a problem names the pregnancy and the field, and nothing is raised."""
    problems = outcome_problems(record)
    assert field in {p.field for p in problems}
    assert all(p.pregnancy_id == record.pregnancy_id for p in problems)


def test_outcome_problems_collects_every_problem() -> None:
    record = birth("x", gestational_age_days=999, blood_loss_ml=50_000, prem_score=-1.0)
    assert {p.field for p in outcome_problems(record)} == {"gestational_age_days", "blood_loss_ml", "prem_score"}


# --- loading definitions -------------------------------------------------------------------------------------

VALID = """
indicators:
  - id: demo
    name: {nl: Demo, en: Demo}
    explanation: {nl: Uitleg, en: Explanation}
    numerator: nicu_admission
    denominator: end_reason == birth
    direction: lower_is_better
    casemix: [profile]
    source: {name: test, verified: false}
"""


def test_parse_indicators_reads_a_valid_definition() -> None:
    demo = parse_indicators(VALID, "demo.yaml")["demo"]
    assert demo.casemix == ("profile",)
    assert demo.per == 100
    assert demo.numerator is not None and demo.numerator.fields == {"nicu_admission"}


def test_loader_error_names_file_indicator_and_key() -> None:
    broken = VALID.replace("numerator: nicu_admission", "numerator: nicu_admision == true")
    with pytest.raises(IndicatorDefinitionError) as caught:
        parse_indicators(broken, "demo.yaml")
    message = str(caught.value)
    assert "demo.yaml" in message and "'demo'" in message and "numerator" in message and "nicu_admision" in message


def test_loader_reports_every_problem_at_once() -> None:
    broken = (
        VALID.replace("direction: lower_is_better", "direction: sideways")
        .replace("casemix: [profile]", "casemix: [gestational_age_days]")
        .replace("source: {name: test, verified: false}", "source: {name: test}\n    colour: red")
    )
    with pytest.raises(IndicatorDefinitionError) as caught:
        parse_indicators(broken, "demo.yaml")
    keys = {p.key for p in caught.value.problems}
    assert {"direction", "casemix", "source", "colour"} <= keys
    assert all(p.source == "demo.yaml" and p.indicator == "demo" for p in caught.value.problems)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        (VALID + VALID.replace("indicators:\n", ""), "id"),
        (VALID.replace("    numerator: nicu_admission\n", ""), "numerator"),
        (VALID.replace("numerator: nicu_admission", "numerator: 3"), "numerator"),
        (VALID.replace("name: {nl: Demo, en: Demo}", "name: Demo"), "name"),
        (VALID.replace("    denominator: end_reason == birth\n", ""), "denominator"),
        ("indicators: {}", "indicators"),
        ("indicators: [\n", "yaml"),
    ],
)
def test_loader_refuses_malformed_definitions(text: str, key: str) -> None:
    with pytest.raises(IndicatorDefinitionError) as caught:
        parse_indicators(text, "demo.yaml")
    assert key in {p.key for p in caught.value.problems}


def test_mean_indicator_needs_a_number_field() -> None:
    text = VALID.replace("numerator: nicu_admission", "kind: mean\n    value: birth_mode")
    with pytest.raises(IndicatorDefinitionError, match="not a number field"):
        parse_indicators(text, "demo.yaml")


def test_profile_values_in_conditions_are_the_client_profiles() -> None:
    text = VALID.replace("numerator: nicu_admission", "numerator: profile == referred_labour")
    demo = parse_indicators(text)["demo"]
    referred = birth("r", profile=ClientProfile.REFERRED_LABOUR)
    assert record_status(demo, referred) is Status.NUMERATOR
    assert record_status(demo, birth("p")) is Status.DENOMINATOR
