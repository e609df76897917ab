"""Funnel plots: control limits around a target rate, by unit size, and where each unit falls.

A funnel plot shows each unit's rate against its size with limits that narrow as the size grows, so a small unit
is not flagged for noise and nobody is ranked. Limits at 95 % ("warning") and 99.8 % ("alarm") around the
target p (by default the pooled rate), for a unit of size n:

- **normal approximation**: p ± z · sqrt(p(1 − p) / n), clipped to [0, 1];
- **exact binomial with interpolation** (Spiegelhalter 2005, "Funnel plots for comparing institutional
  performance", Stat Med 24:1185–1202, appendix A.1.1): for a probability P (0.025 and 0.975 for 95 %; 0.001 and
  0.999 for 99.8 %), let r_P be the smallest r with F(r) = P(R ≤ r) ≥ P for R ~ Binomial(n, p), and

      α = (F(r_P) − P) / (F(r_P) − F(r_P − 1)),      limit = (r_P − α) / n,   clipped to [0, 1].

Units are classified against the exact limits (the normal limits fail for small n·p, exactly where it matters);
a rate on a limit is within. The output is ordered by unit name: there is no rank.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from integraal.insight.indicators import IndicatorResult
from integraal.insight.intervals import binomial_cdf, binomial_quantile, two_sided_z

LEVELS: tuple[float, ...] = (0.95, 0.998)


@dataclass(frozen=True, slots=True)
class Limits:
    lower: float
    upper: float


@dataclass(frozen=True, slots=True)
class FunnelLimits:
    """Both kinds of limits for a unit of size ``n`` at one ``level``."""

    n: int
    level: float
    normal: Limits
    exact: Limits


def _check(target: float, n: int, level: float) -> None:
    if not 0.0 <= target <= 1.0:
        raise ValueError(f"target rate must lie between 0 and 1, got {target}")
    if n <= 0:
        raise ValueError(f"unit size must be positive, got {n}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie strictly between 0 and 1, got {level}")


def normal_limits(target: float, n: int, level: float) -> Limits:
    """p ± z·sqrt(p(1 − p)/n), clipped to [0, 1]."""
    _check(target, n, level)
    half = two_sided_z(level) * math.sqrt(target * (1.0 - target) / n)
    return Limits(max(0.0, target - half), min(1.0, target + half))


def exact_limit(target: float, n: int, probability: float) -> float:
    """Spiegelhalter's interpolated binomial limit at ``probability`` (see the module docstring)."""
    r = binomial_quantile(probability, n, target)
    at_r = binomial_cdf(r, n, target)
    below_r = binomial_cdf(r - 1, n, target)
    alpha = (at_r - probability) / (at_r - below_r)
    return min(1.0, max(0.0, (r - alpha) / n))


def exact_limits(target: float, n: int, level: float) -> Limits:
    _check(target, n, level)
    tail = (1.0 - level) / 2.0
    return Limits(exact_limit(target, n, tail), exact_limit(target, n, 1.0 - tail))


def funnel_limits(target: float, n: int, level: float) -> FunnelLimits:
    return FunnelLimits(n, level, normal_limits(target, n, level), exact_limits(target, n, level))


class Position(StrEnum):
    BELOW = "below"
    WITHIN = "within"
    ABOVE = "above"


def classify(rate: float, limits: Limits) -> Position:
    if rate < limits.lower:
        return Position.BELOW
    if rate > limits.upper:
        return Position.ABOVE
    return Position.WITHIN


@dataclass(frozen=True, slots=True)
class FunnelPoint:
    """One unit on the funnel: its counts, rate, the limits at its size and its position per level (exact)."""

    unit: str
    numerator: int
    denominator: int
    rate: float
    limits: tuple[FunnelLimits, ...]
    positions: tuple[tuple[float, Position], ...]

    def position(self, level: float) -> Position:
        return dict(self.positions)[level]


@dataclass(frozen=True, slots=True)
class FunnelPlot:
    """Target, points (ordered by unit) and the limit curves at ``curve_sizes`` for drawing."""

    target: float
    levels: tuple[float, ...]
    points: tuple[FunnelPoint, ...]
    curve: tuple[FunnelLimits, ...]


def curve_sizes(largest: int, steps: int = 40) -> tuple[int, ...]:
    """Unit sizes from 1 to ``largest``, spaced evenly on a log scale, for drawing the funnel."""
    if largest <= 1:
        return (1,)
    sizes = {max(1, round(math.exp(math.log(largest) * i / (steps - 1)))) for i in range(steps)}
    return tuple(sorted(sizes))


def funnel_plot(
    cells: Iterable[tuple[str, int, int]],
    target: float | None = None,
    levels: Sequence[float] = LEVELS,
    steps: int = 40,
) -> FunnelPlot:
    """A funnel plot of ``cells`` (unit, numerator, denominator); units with no denominator are left out.

    ``target`` defaults to the pooled rate Σ numerators / Σ denominators.
    """
    rows = sorted((unit, x, n) for unit, x, n in cells if n > 0)
    if not rows:
        raise ValueError("a funnel plot needs at least one unit with a denominator")
    if target is None:
        target = sum(x for _, x, _ in rows) / sum(n for _, _, n in rows)
    points = []
    for unit, x, n in rows:
        limits = tuple(funnel_limits(target, n, level) for level in levels)
        rate = x / n
        positions = tuple((lim.level, classify(rate, lim.exact)) for lim in limits)
        points.append(FunnelPoint(unit, x, n, rate, limits, positions))
    largest = max(n for _, _, n in rows)
    curve = tuple(funnel_limits(target, n, level) for n in curve_sizes(largest, steps) for level in levels)
    return FunnelPlot(target, tuple(levels), tuple(points), curve)


def funnel_from_results(
    results: Iterable[IndicatorResult], target: float | None = None, levels: Sequence[float] = LEVELS
) -> FunnelPlot:
    """A funnel plot of indicator results (one period, one level of units)."""
    return funnel_plot(((r.unit, r.numerator, r.denominator) for r in results), target, levels)
