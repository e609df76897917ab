"""Empirical-Bayes (beta-binomial) shrinkage towards the overall rate: the shrunken rate lies between the raw rate
and the overall rate, and small units move more than large ones."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from integraal.insight import shrink_rates
from integraal.insight.shrinkage import estimate_prior_size


@st.composite
def unit_cells(draw: st.DrawFn) -> list[tuple[str, int, int]]:
    size = draw(st.integers(min_value=2, max_value=10))
    cells = []
    for i in range(size):
        n = draw(st.integers(min_value=1, max_value=500))
        cells.append((f"u{i}", draw(st.integers(min_value=0, max_value=n)), n))
    return cells


@settings(max_examples=150, deadline=None)
@given(unit_cells())
def test_shrunk_rate_lies_between_raw_and_overall(cells: list[tuple[str, int, int]]) -> None:
    result = shrink_rates(cells)
    p = result.overall_rate
    for rate in result.rates:
        low, high = sorted((rate.raw_rate, p))
        assert low - 1e-12 <= rate.shrunk_rate <= high + 1e-12
        assert 0.0 <= rate.weight <= 1.0


@settings(max_examples=150, deadline=None)
@given(unit_cells())
def test_small_units_move_more_than_large_ones(cells: list[tuple[str, int, int]]) -> None:
    """The weight of the unit's own rate, n/(n + M), grows with n: so for the same distance from the overall
    rate a smaller unit moves further."""
    rates = sorted(shrink_rates(cells).rates, key=lambda r: r.denominator)
    for smaller, larger in itertools.pairwise(rates):
        assert smaller.weight <= larger.weight + 1e-12


def test_same_raw_rate_small_unit_moves_further() -> None:
    cells = [("small", 2, 10), ("large", 200, 1000), ("a", 50, 1000), ("b", 100, 1000), ("c", 30, 300)]
    result = shrink_rates(cells)
    assert result.prior_size is not None
    by_unit = {r.unit: r for r in result.rates}
    small, large = by_unit["small"], by_unit["large"]
    assert small.raw_rate == large.raw_rate == 0.2
    assert abs(small.shrunk_rate - small.raw_rate) > abs(large.shrunk_rate - large.raw_rate)
    assert small.interval is not None and small.interval.lower < small.shrunk_rate < small.interval.upper


def test_method_of_moments_by_hand() -> None:
    """Two units of 100: 10 and 30 events. p = 0.2, S = 100·0.01 + 100·0.01 = 2, p(1 − p) = 0.16, k = 2,
    N − Σn²/N = 200 − 100 = 100: ρ = (2/0.16 − 1)/100 = 0.115, M = 1/0.115 − 1 = 7.6957."""
    p, size = estimate_prior_size([("a", 10, 100), ("b", 30, 100)])
    assert p == pytest.approx(0.2)
    assert size == pytest.approx(1 / 0.115 - 1)
    result = shrink_rates([("a", 10, 100), ("b", 30, 100)])
    assert result.rates[0].shrunk_rate == pytest.approx((10 + 0.2 * size) / (100 + size))


def test_no_more_variation_than_chance_pools_completely() -> None:
    result = shrink_rates([("a", 10, 100), ("b", 10, 100), ("c", 20, 200)])
    assert result.prior_size is None
    assert all(r.shrunk_rate == pytest.approx(0.1) and r.interval is None for r in result.rates)


def test_shrinkage_needs_a_unit() -> None:
    with pytest.raises(ValueError, match="at least one unit"):
        shrink_rates([("a", 0, 0)])
