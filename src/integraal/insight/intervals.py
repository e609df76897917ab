"""Intervals for rates and ratios, and the binomial distribution, without scipy.

- :func:`wilson_interval`: the Wilson score interval for a proportion (closed form).
- :func:`clopper_pearson_interval`: the exact ("conservative") binomial interval via beta quantiles.
- :func:`byar_interval`: Byar's approximation to the exact Poisson interval, for an observed/expected ratio.
- :func:`regularized_incomplete_beta` (I_x(a, b)) by the continued fraction of Numerical Recipes §6.4 evaluated
  with the modified Lentz method, and :func:`beta_quantile`, its inverse in x by bisection — slow but robust:
  I_x is monotone in x, so bisection cannot diverge where Newton's method could.
- :func:`binomial_cdf` and :func:`binomial_quantile` (same definition as ``scipy.stats.binom.ppf``: the smallest
  r with P(X ≤ r) ≥ q), used by the exact funnel limits.

The core must not depend on scipy; the tests check every function against it. Normal quantiles come from the
standard library (``statistics.NormalDist``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

_TINY = 1e-300
_EPS = 1e-16
_MAX_ITERATIONS = 100_000


@dataclass(frozen=True, slots=True)
class Interval:
    """A two-sided interval ``[lower, upper]`` at confidence ``level`` (e.g. 0.95)."""

    lower: float
    upper: float
    level: float

    def contains(self, value: float) -> bool:
        return self.lower <= value <= self.upper


def _check_level(level: float) -> None:
    if not 0.0 < level < 1.0:
        raise ValueError(f"confidence level must lie strictly between 0 and 1, got {level}")


def _check_counts(x: int, n: int) -> None:
    if n <= 0:
        raise ValueError(f"an interval needs a positive denominator, got n={n}")
    if not 0 <= x <= n:
        raise ValueError(f"numerator must lie between 0 and n={n}, got x={x}")


def normal_quantile(probability: float) -> float:
    """The standard normal quantile (z for ``probability``)."""
    return NormalDist().inv_cdf(probability)


def two_sided_z(level: float) -> float:
    """z such that a standard normal lies within ±z with probability ``level`` (1.96 for 0.95)."""
    _check_level(level)
    return normal_quantile(0.5 + level / 2.0)


# --- the incomplete beta function and its inverse -----------------------------------------------------------


def _beta_continued_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction for I_x(a, b) (Numerical Recipes ``betacf``), by the modified Lentz method."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = 1.0
    d = 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) >= _TINY else _TINY)
    h = d
    for m in range(1, _MAX_ITERATIONS):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) >= _TINY else _TINY)
        c = 1.0 + aa / c
        c = c if abs(c) >= _TINY else _TINY
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) >= _TINY else _TINY)
        c = 1.0 + aa / c
        c = c if abs(c) >= _TINY else _TINY
        delta = d * c
        h *= delta
        if abs(delta - 1.0) <= _EPS:
            return h
    raise ArithmeticError(f"incomplete beta continued fraction did not converge for a={a}, b={b}, x={x}")


def regularized_incomplete_beta(a: float, b: float, x: float) -> float:
    """I_x(a, b) = B(x; a, b) / B(a, b) for a, b > 0 and 0 ≤ x ≤ 1: the cdf of the Beta(a, b) distribution."""
    if a <= 0.0 or b <= 0.0:
        raise ValueError(f"incomplete beta needs a, b > 0, got a={a}, b={b}")
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    # The fraction converges fast for x < (a+1)/(a+b+2); otherwise use the symmetry I_x(a,b) = 1 − I_{1−x}(b,a).
    if x < (a + 1.0) / (a + b + 2.0):
        return min(1.0, math.exp(log_front) * _beta_continued_fraction(a, b, x) / a)
    return max(0.0, 1.0 - math.exp(log_front) * _beta_continued_fraction(b, a, 1.0 - x) / b)


def beta_quantile(probability: float, a: float, b: float) -> float:
    """The x with I_x(a, b) = ``probability`` (the Beta(a, b) quantile), by bisection to full double precision."""
    if not 0.0 <= probability <= 1.0:
        raise ValueError(f"probability must lie between 0 and 1, got {probability}")
    if probability == 0.0:
        return 0.0
    if probability == 1.0:
        return 1.0
    low, high = 0.0, 1.0
    for _ in range(2000):
        middle = (low + high) / 2.0
        if middle in (low, high):
            break
        if regularized_incomplete_beta(a, b, middle) < probability:
            low = middle
        else:
            high = middle
        # Stop on a relative width: small quantiles (x = 1 of 100 000) need relative, not absolute, precision.
        if high - low <= 1e-15 * high:
            break
    return (low + high) / 2.0


# --- the binomial distribution ------------------------------------------------------------------------------


def binomial_cdf(r: int, n: int, p: float) -> float:
    """P(X ≤ r) for X ~ Binomial(n, p), as I_{1−p}(n − r, r + 1)."""
    if n < 0 or not 0.0 <= p <= 1.0:
        raise ValueError(f"binomial needs n ≥ 0 and 0 ≤ p ≤ 1, got n={n}, p={p}")
    if r < 0:
        return 0.0
    if r >= n:
        return 1.0
    if p == 0.0:
        return 1.0
    if p == 1.0:
        return 0.0
    return regularized_incomplete_beta(n - r, r + 1, 1.0 - p)


def binomial_quantile(q: float, n: int, p: float) -> int:
    """The smallest r with P(X ≤ r) ≥ q for X ~ Binomial(n, p) (as ``scipy.stats.binom.ppf`` for 0 < q < 1).

    The comparison allows a relative 1e-12 for rounding in the cdf, so an exact tie (P(X ≤ 28) = 0.5 for
    n = 57, p = ½) lands on the same r as scipy. The interpolated funnel limit is continuous at such ties, so
    either choice gives the same limit.
    """
    if not 0.0 < q < 1.0:
        raise ValueError(f"quantile level must lie strictly between 0 and 1, got {q}")
    low, high = 0, n  # P(X ≤ n) = 1 ≥ q, so the answer lies in [0, n]
    while low < high:
        middle = (low + high) // 2
        if binomial_cdf(middle, n, p) >= q * (1.0 - 1e-12):
            high = middle
        else:
            low = middle + 1
    return low


# --- intervals ----------------------------------------------------------------------------------------------


def wilson_interval(x: int, n: int, level: float = 0.95) -> Interval:
    """Wilson score interval: (x + z²/2) / (n + z²) ± z / (n + z²) · sqrt(x(n − x)/n + z²/4)."""
    _check_counts(x, n)
    z = two_sided_z(level)
    z2 = z * z
    centre = (x + z2 / 2.0) / (n + z2)
    half = z / (n + z2) * math.sqrt(x * (n - x) / n + z2 / 4.0)
    # At x = 0 (x = n) the limit is exactly 0 (1); the subtraction would leave a rounding residue of ~1e-17.
    lower = 0.0 if x == 0 else max(0.0, centre - half)
    upper = 1.0 if x == n else min(1.0, centre + half)
    return Interval(lower, upper, level)


def clopper_pearson_interval(x: int, n: int, level: float = 0.95) -> Interval:
    """Clopper–Pearson exact interval: [B(α/2; x, n−x+1), B(1−α/2; x+1, n−x)], with 0 for x = 0 and 1 for x = n,
    where B(q; a, b) is the Beta(a, b) quantile and α = 1 − level."""
    _check_counts(x, n)
    _check_level(level)
    alpha = 1.0 - level
    lower = 0.0 if x == 0 else beta_quantile(alpha / 2.0, x, n - x + 1)
    upper = 1.0 if x == n else beta_quantile(1.0 - alpha / 2.0, x + 1, n - x)
    return Interval(lower, upper, level)


def byar_interval(observed: int, expected: float, level: float = 0.95) -> Interval:
    """Byar's approximation to the exact Poisson interval for the ratio observed/expected (O/E)::

        lower = O · (1 − 1/(9O) − z/(3√O))³ / E                (0 when O = 0)
        upper = (O+1) · (1 − 1/(9(O+1)) + z/(3√(O+1)))³ / E

    (Breslow & Day 1987, vol. II §2.2). Accurate to a few per cent from O ≈ 5 upwards.
    """
    if observed < 0:
        raise ValueError(f"observed count must not be negative, got {observed}")
    if not expected > 0.0:
        raise ValueError(f"expected count must be positive, got {expected}")
    z = two_sided_z(level)
    if observed == 0:
        lower = 0.0
    else:
        o = float(observed)
        lower = max(0.0, o * (1.0 - 1.0 / (9.0 * o) - z / (3.0 * math.sqrt(o))) ** 3 / expected)
    o1 = observed + 1.0
    upper = o1 * (1.0 - 1.0 / (9.0 * o1) + z / (3.0 * math.sqrt(o1))) ** 3 / expected
    return Interval(lower, upper, level)
