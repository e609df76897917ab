"""Funnel limits (Spiegelhalter 2005, Stat Med 24:1185–1202) against hand values, scipy.stats.binom and the normal
formula, and the classification of units — without ranking."""

from __future__ import annotations

import math

import pytest
from scipy import stats

from integraal.insight import Position, exact_limits, funnel_plot, normal_limits
from integraal.insight.funnel import exact_limit


def spiegelhalter(p: float, n: int, probability: float) -> float:
    """Reference: r_P = binom.ppf(P), α = (F(r_P) − P)/(F(r_P) − F(r_P − 1)), limit = (r_P − α)/n."""
    r = stats.binom.ppf(probability, n, p)
    at_r, below_r = stats.binom.cdf(r, n, p), stats.binom.cdf(r - 1, n, p)
    return min(1.0, max(0.0, (r - (at_r - probability) / (at_r - below_r)) / n))


def test_exact_limit_by_hand() -> None:
    """p = ½, n = 10, P = 0.975: F(7) = 968/1024, F(8) = 1013/1024, so r = 8,
    α = (1013/1024 − 0.975)/(45/1024) = 14.6/45 and the limit is (8 − 14.6/45)/10 = 0.767556."""
    assert exact_limit(0.5, 10, 0.975) == pytest.approx((8 - 14.6 / 45) / 10, rel=1e-12)
    # P = 0.025: F(1) = 11/1024 < 0.025 ≤ F(2) = 56/1024, so r = 2, α = (56 − 25.6)/45 and the limit is
    # (2 − 30.4/45)/10 = 0.132444 — not 1 − 0.767556: interpolating the right-continuous cdf is not symmetric.
    assert exact_limit(0.5, 10, 0.025) == pytest.approx((2 - 30.4 / 45) / 10, rel=1e-12)


@pytest.mark.parametrize("p", [0.008, 0.07, 0.17, 0.5, 0.88])
@pytest.mark.parametrize("n", [1, 10, 50, 200, 1000, 5000, 170_000])
@pytest.mark.parametrize("level", [0.95, 0.998])
def test_exact_limits_match_scipy_binomial(p: float, n: int, level: float) -> None:
    tail = (1 - level) / 2
    limits = exact_limits(p, n, level)
    assert limits.lower == pytest.approx(spiegelhalter(p, n, tail), rel=1e-9, abs=1e-12)
    assert limits.upper == pytest.approx(spiegelhalter(p, n, 1 - tail), rel=1e-9, abs=1e-12)
    if n * min(p, 1 - p) >= 1:  # for a unit too small to expect one event the band may exclude p itself
        assert limits.lower <= p <= limits.upper


@pytest.mark.parametrize("p", [0.008, 0.17, 0.5])
@pytest.mark.parametrize("n", [10, 200, 5000])
@pytest.mark.parametrize(("level", "z"), [(0.95, 1.959963985), (0.998, 3.090232306)])
def test_normal_limits_follow_the_formula(p: float, n: int, level: float, z: float) -> None:
    half = z * math.sqrt(p * (1 - p) / n)
    limits = normal_limits(p, n, level)
    assert limits.lower == pytest.approx(max(0.0, p - half), rel=1e-8, abs=1e-15)
    assert limits.upper == pytest.approx(min(1.0, p + half), rel=1e-8)


def test_exact_and_normal_limits_converge_for_large_units() -> None:
    exact, normal = exact_limits(0.17, 170_000, 0.95), normal_limits(0.17, 170_000, 0.95)
    assert exact.lower == pytest.approx(normal.lower, rel=1e-3)
    assert exact.upper == pytest.approx(normal.upper, rel=1e-3)


def test_limits_narrow_as_units_grow() -> None:
    widths = [exact_limits(0.07, n, 0.998).upper - exact_limits(0.07, n, 0.998).lower for n in (20, 100, 500, 2500)]
    assert widths == sorted(widths, reverse=True)


def test_units_are_classified_per_band_and_not_ranked() -> None:
    """Target 17 % (DOMAIN.md §7 caesarean rate). Limits for n = 400: 95 % ≈ [13.3, 20.6] %, 99.8 % ≈
    [11.3, 22.9] %. A unit at 22 % is above the warning band and within the alarm band."""
    cells = [("Zuid", 88, 400), ("Noord", 68, 400), ("Oost", 120, 400), ("West", 2, 10), ("Midden", 40, 400)]
    plot = funnel_plot(cells, target=0.17)
    assert [p.unit for p in plot.points] == ["Midden", "Noord", "Oost", "West", "Zuid"]  # by name, never by rate
    by_unit = {p.unit: p for p in plot.points}
    assert by_unit["Zuid"].position(0.95) is Position.ABOVE
    assert by_unit["Zuid"].position(0.998) is Position.WITHIN
    assert by_unit["Noord"].position(0.95) is Position.WITHIN
    assert by_unit["Oost"].position(0.998) is Position.ABOVE
    assert by_unit["Midden"].position(0.998) is Position.BELOW
    assert by_unit["West"].position(0.95) is Position.WITHIN  # 20 % of 10 is noise
    assert not any("rank" in name for name in dir(plot.points[0]))


def test_target_defaults_to_the_pooled_rate_and_curve_spans_the_sizes() -> None:
    plot = funnel_plot([("A", 10, 100), ("B", 30, 300), ("C", 0, 0)])
    assert plot.target == pytest.approx(0.1)
    assert [p.unit for p in plot.points] == ["A", "B"]
    sizes = sorted({limits.n for limits in plot.curve})
    assert sizes[0] == 1 and sizes[-1] == 300
    assert {limits.level for limits in plot.curve} == {0.95, 0.998}


def test_funnel_needs_a_unit() -> None:
    with pytest.raises(ValueError, match="at least one unit"):
        funnel_plot([("A", 0, 0)])
