"""Case-mix adjustment by indirect standardisation (DOMAIN.md §5–6: pay and compare per client profile):
observed against expected with Byar's interval, checked against a hand-computed example."""

from __future__ import annotations

import pytest
from insight_builders import birth

from integraal.distribution.inputs import ClientProfile
from integraal.insight import (
    BirthMode,
    byar_interval,
    cells,
    indirect_standardisation,
    load_indicators,
    pooled_rates,
    stratified_tallies,
)

A, B = ("low_risk_primary",), ("referred_labour",)
COUNTS = {
    "U": {A: (1, 20), B: (5, 10)},
    "V": {A: (9, 80), B: (25, 90)},
}


def test_pooled_reference_rates() -> None:
    """A: 10/100 = 0.1, B: 30/100 = 0.3."""
    assert pooled_rates(COUNTS) == {A: pytest.approx(0.1), B: pytest.approx(0.3)}


def test_observed_over_expected_by_hand() -> None:
    """U: E = 20·0.1 + 10·0.3 = 5, O = 6, O/E = 1.2, adjusted rate = 1.2 · 40/200 = 0.24.
    V: E = 80·0.1 + 90·0.3 = 35, O = 34, O/E = 34/35."""
    u, v = indirect_standardisation(COUNTS)
    assert (u.unit, u.observed, u.denominator) == ("U", 6, 30)
    assert u.expected == pytest.approx(5.0)
    assert u.ratio == pytest.approx(1.2)
    assert u.adjusted_rate == pytest.approx(0.24)
    assert u.interval == byar_interval(6, u.expected)
    assert v.expected == pytest.approx(35.0)
    assert v.ratio == pytest.approx(34 / 35)


def test_with_pooled_reference_observed_and_expected_totals_agree() -> None:
    results = indirect_standardisation(COUNTS)
    assert sum(r.observed for r in results) == pytest.approx(sum(r.expected for r in results))


def test_an_external_reference_is_used_as_given() -> None:
    (u,) = indirect_standardisation({"U": COUNTS["U"]}, reference={A: 0.05, B: 0.2}, overall_rate=0.1)
    assert u.expected == pytest.approx(20 * 0.05 + 10 * 0.2)
    assert u.ratio == pytest.approx(6 / 3)
    assert u.adjusted_rate == pytest.approx(0.2)


def test_a_stratum_without_reference_rate_is_an_error() -> None:
    with pytest.raises(ValueError, match="no reference rate"):
        indirect_standardisation(COUNTS, reference={A: 0.1})


def test_a_unit_with_more_high_risk_women_is_not_penalised() -> None:
    """Same rates per stratum, different mix: crude rates differ, O/E is 1 for both."""
    counts = {"mostly_low": {A: (9, 90), B: (3, 10)}, "mostly_high": {A: (1, 10), B: (27, 90)}}
    low, high = indirect_standardisation(counts, reference={A: 0.1, B: 0.3})
    assert low.unit == "mostly_high" and high.unit == "mostly_low"
    assert low.ratio == pytest.approx(1.0) and high.ratio == pytest.approx(1.0)


def test_strata_from_records_use_the_indicator_casemix_variables() -> None:
    records = [
        birth("1", birth_mode=BirthMode.EMERGENCY_CAESAREAN, profile=ClientProfile.REFERRED_LABOUR),
        birth("2", profile=ClientProfile.REFERRED_LABOUR),
        birth("3", nulliparous=False),
        birth("4", nulliparous=None),
    ]
    indicator = load_indicators()["caesarean_total"]
    tallies = stratified_tallies(indicator, records, lambda r: "IGO")
    assert cells(tallies) == {
        "IGO": {
            ("referred_labour", "true"): (1, 2),
            ("low_risk_primary", "false"): (0, 1),
            ("low_risk_primary", "unknown"): (0, 1),
        }
    }
