"""Empirical-Bayes shrinkage of unit rates towards the overall rate (beta-binomial), as an option.

A unit with 40 births and 0 caesareans is not a unit with a 0 % caesarean rate. Shrinkage assumes each unit's
true rate θ_i comes from a Beta(a, b) prior fitted to all units, and reports the posterior mean

    θ̂_i = (x_i + a) / (n_i + M),  M = a + b,   =  w_i · x_i/n_i + (1 − w_i) · p,   w_i = n_i / (n_i + M),

a weighted mean of the unit's raw rate and the overall rate p = Σx/Σn: small units move most.

The prior is estimated by the method of moments (Kleinman 1973, "Proportions with extraneous variance"): with
k units, N = Σn_i and S = Σ n_i (x_i/n_i − p)², E[S] = p(1 − p) · ((k − 1) + ρ · (N − Σn_i²/N)), where
ρ = 1/(M + 1) is the intra-unit correlation. So

    ρ̂ = (S / (p(1 − p)) − (k − 1)) / (N − Σn_i²/N),    M = 1/ρ̂ − 1,   a = p·M,   b = (1 − p)·M.

When ρ̂ ≤ 0 the units vary no more than chance predicts: M is infinite and every unit is shrunk all the way to p
(reported as ``prior_size = None``). When ρ̂ ≥ 1 there is nothing to pool and the raw rates stand (M = 0).
The interval is the central posterior Beta(x_i + a, n_i − x_i + b) interval.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from integraal.insight.intervals import Interval, beta_quantile


@dataclass(frozen=True, slots=True)
class ShrunkRate:
    unit: str
    numerator: int
    denominator: int
    raw_rate: float
    shrunk_rate: float
    weight: float  # w_i: the weight of the unit's own rate (1 − w_i: of the overall rate)
    interval: Interval | None  # None when the prior is infinite (complete pooling)


@dataclass(frozen=True, slots=True)
class Shrinkage:
    overall_rate: float
    prior_size: float | None  # M = a + b; None: infinite (complete pooling)
    rates: tuple[ShrunkRate, ...]  # ordered by unit


def estimate_prior_size(cells: list[tuple[str, int, int]]) -> tuple[float, float | None]:
    """(p, M) by the method of moments (module docstring)."""
    total_x = sum(x for _, x, _ in cells)
    total_n = sum(n for _, _, n in cells)
    p = total_x / total_n
    k = len(cells)
    spread = total_n - sum(n * n for _, _, n in cells) / total_n
    if p in (0.0, 1.0) or k < 2 or spread <= 0:
        return p, None
    s = sum(n * (x / n - p) ** 2 for _, x, n in cells)
    rho = (s / (p * (1.0 - p)) - (k - 1)) / spread
    if rho <= 0.0:
        return p, None
    if rho >= 1.0:
        return p, 0.0
    return p, 1.0 / rho - 1.0


def shrink_rates(cells: Iterable[tuple[str, int, int]], level: float = 0.95) -> Shrinkage:
    """Shrunken rates for (unit, numerator, denominator) cells; units without a denominator are left out."""
    rows = sorted((unit, x, n) for unit, x, n in cells if n > 0)
    if not rows:
        raise ValueError("shrinkage needs at least one unit with a denominator")
    for unit, x, n in rows:
        if not 0 <= x <= n:
            raise ValueError(f"unit {unit!r}: expected 0 ≤ numerator ≤ denominator, got {x} of {n}")
    p, size = estimate_prior_size(rows)
    tail = (1.0 - level) / 2.0
    rates = []
    for unit, x, n in rows:
        raw = x / n
        if size is None:
            rates.append(ShrunkRate(unit, x, n, raw, p, 0.0, None))
            continue
        a, b = p * size, (1.0 - p) * size
        weight = n / (n + size)
        shrunk = weight * raw + (1.0 - weight) * p
        # Beta(0, ·) is degenerate: with M = 0 the posterior is the raw Beta(x, n − x), defined for 0 < x < n.
        post_a, post_b = x + a, n - x + b
        interval = None
        if post_a > 0 and post_b > 0:
            interval = Interval(beta_quantile(tail, post_a, post_b), beta_quantile(1.0 - tail, post_a, post_b), level)
        rates.append(ShrunkRate(unit, x, n, raw, shrunk, weight, interval))
    return Shrinkage(p, size, tuple(rates))
