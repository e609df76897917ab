"""Intervals for rates without scipy in the core (DOMAIN.md §6: small numbers need intervals). Each function is
checked against scipy (the reference implementation) or an independent form of the formula."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import special, stats

from integraal.insight import (
    beta_quantile,
    binomial_cdf,
    binomial_quantile,
    byar_interval,
    clopper_pearson_interval,
    regularized_incomplete_beta,
    wilson_interval,
)

SIZES = (1, 2, 3, 5, 10, 37, 100, 1000, 12_345, 170_000)
LEVELS = (0.8, 0.95, 0.998)


def grid() -> list[tuple[int, int]]:
    cells = set()
    for n in SIZES:
        for x in (0, 1, 2, n // 10, n // 3, n // 2, n - 1, n):
            if 0 <= x <= n:
                cells.add((x, n))
    return sorted(cells)


@pytest.mark.parametrize(("x", "n"), grid())
@pytest.mark.parametrize("level", LEVELS)
def test_clopper_pearson_matches_scipy_beta_ppf(x: int, n: int, level: float) -> None:
    """Exact interval [B(α/2; x, n−x+1), B(1−α/2; x+1, n−x)], 0 at x = 0 and 1 at x = n."""
    alpha = 1 - level
    lower = 0.0 if x == 0 else stats.beta.ppf(alpha / 2, x, n - x + 1)
    upper = 1.0 if x == n else stats.beta.ppf(1 - alpha / 2, x + 1, n - x)
    interval = clopper_pearson_interval(x, n, level)
    assert interval.lower == pytest.approx(lower, rel=1e-9, abs=1e-15)
    assert interval.upper == pytest.approx(upper, rel=1e-9, abs=1e-15)


@pytest.mark.parametrize(("x", "n"), grid())
@pytest.mark.parametrize("level", LEVELS)
def test_wilson_matches_the_roots_of_the_score_equation(x: int, n: int, level: float) -> None:
    """Wilson's interval is the set of p with (p̂ − p)² ≤ z² p(1 − p)/n: the roots of
    (1 + z²/n) p² − (2p̂ + z²/n) p + p̂² = 0 (an independent form of the closed formula)."""
    z = stats.norm.ppf(0.5 + level / 2)
    p_hat = x / n
    a, b, c = 1 + z * z / n, -(2 * p_hat + z * z / n), p_hat * p_hat
    root = math.sqrt(b * b - 4 * a * c)
    interval = wilson_interval(x, n, level)
    assert interval.lower == pytest.approx((-b - root) / (2 * a), rel=1e-9, abs=1e-12)
    assert interval.upper == pytest.approx((-b + root) / (2 * a), rel=1e-9, abs=1e-12)


@pytest.mark.parametrize(("x", "n"), grid())
def test_both_intervals_contain_the_rate_and_stay_within_zero_and_one(x: int, n: int) -> None:
    for interval in (wilson_interval(x, n), clopper_pearson_interval(x, n)):
        assert 0.0 <= interval.lower <= x / n <= interval.upper <= 1.0
    exact = clopper_pearson_interval(x, n)
    assert (exact.lower == 0.0) == (x == 0)
    assert (exact.upper == 1.0) == (x == n)


@pytest.mark.parametrize(
    ("a", "b", "x"),
    [
        (a, b, x)
        for a in (0.3, 1, 2.5, 40, 5000)
        for b in (0.7, 1, 3, 600, 80_000)
        for x in (1e-6, 0.01, 0.3, 0.5, 0.99)
    ],
)
def test_incomplete_beta_matches_scipy_betainc(a: float, b: float, x: float) -> None:
    assert regularized_incomplete_beta(a, b, x) == pytest.approx(special.betainc(a, b, x), rel=1e-9, abs=1e-300)


@settings(max_examples=150, deadline=None)
@given(
    st.floats(min_value=0.05, max_value=2000),
    st.floats(min_value=0.05, max_value=2000),
    st.floats(min_value=1e-6, max_value=1 - 1e-6),
)
def test_beta_quantile_inverts_the_incomplete_beta(a: float, b: float, q: float) -> None:
    x = beta_quantile(q, a, b)
    assert x == pytest.approx(stats.beta.ppf(q, a, b), rel=1e-7, abs=1e-12)


@pytest.mark.parametrize("n", [1, 10, 57, 1000, 20_000])
@pytest.mark.parametrize("p", [0.0, 0.008, 0.07, 0.5, 0.93, 1.0])
def test_binomial_cdf_and_quantile_match_scipy(n: int, p: float) -> None:
    for r in sorted({-1, 0, 1, n // 4, n // 2, n - 1, n}):
        assert binomial_cdf(r, n, p) == pytest.approx(stats.binom.cdf(r, n, p), rel=1e-9, abs=1e-15)
    for q in (0.001, 0.025, 0.5, 0.975, 0.999):
        if 0 < p < 1:
            assert binomial_quantile(q, n, p) == int(stats.binom.ppf(q, n, p))


def test_byar_interval_by_hand() -> None:
    """O = 10, E = 8, z = 1.959964:
    lower = 10·(1 − 1/90 − z/(3√10))³ / 8 = 10 · 0.782291³ / 8 = 0.59843,
    upper = 11·(1 − 1/99 + z/(3√11))³ / 8 = 11 · 1.186882³ / 8 = 2.29893."""
    interval = byar_interval(10, 8.0)
    assert interval.lower == pytest.approx(0.59843, abs=2e-5)
    assert interval.upper == pytest.approx(2.29893, abs=2e-5)


@pytest.mark.parametrize("observed", [0, 1, 5, 10, 40, 200])
def test_byar_is_close_to_the_exact_poisson_interval(observed: int) -> None:
    """Exact Poisson limits: χ²(α/2; 2O)/2 and χ²(1−α/2; 2O+2)/2. Byar's upper limit is within 1 % throughout;
    its lower limit within 1.5 % from O = 5 on (for O = 1 it is about half the exact one: docs/insight.md)."""
    expected = 7.5
    interval = byar_interval(observed, expected)
    exact_lower = 0.0 if observed == 0 else stats.chi2.ppf(0.025, 2 * observed) / 2 / expected
    exact_upper = stats.chi2.ppf(0.975, 2 * observed + 2) / 2 / expected
    assert interval.upper == pytest.approx(exact_upper, rel=0.01)
    if observed >= 5 or observed == 0:
        assert interval.lower == pytest.approx(exact_lower, rel=0.015)
    else:
        assert 0.0 < interval.lower < exact_lower


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: wilson_interval(1, 0), "positive denominator"),
        (lambda: clopper_pearson_interval(5, 4), "between 0 and n"),
        (lambda: clopper_pearson_interval(1, 4, 1.0), "level"),
        (lambda: byar_interval(3, 0.0), "expected count"),
        (lambda: beta_quantile(1.5, 1, 1), "probability"),
        (lambda: binomial_quantile(0.0, 10, 0.5), "quantile level"),
    ],
)
def test_invalid_arguments_are_refused(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]
