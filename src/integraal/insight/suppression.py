"""Suppression of small numbers in anything shown outside the IGO (DOMAIN.md §6: small numbers can mislead and
can identify a woman).

The table model is the simple one of mirror information: one row per unit with a numerator x and a denominator
n, and a total row (X, N) that is shown too. Besides x and n a reader also knows the complement y = n − x (the
women *without* the event) and Y = N − X. The rule, with a configurable ``minimum`` (default 10):

1. **Primary suppression.** A row is hidden when x, n or n − x is below the minimum (zero included). A hidden
   row shows no count and nothing derived from it: no rate, no interval, no funnel position, no O/E, no shrunken
   rate. The whole row goes, not just the small cell: a shown denominator next to a hidden numerator would let a
   reader bound the small count.
2. **Complementary suppression.** With the totals shown, the hidden rows H satisfy Σ_H x = X − Σ_shown x and
   Σ_H y = Y − Σ_shown y. Because the x's and the y's of hidden rows are otherwise free (n = x + y), a hidden
   value can be recovered exactly only when H is a single row, or when every hidden x is 0 (Σ_H x = 0), or every
   hidden y is 0 (Σ_H y = 0). In each of these cases one more row is hidden: the shown row with the smallest
   denominator (ties: the first unit by name). A shown row has x ≥ minimum > 0 and y ≥ minimum > 0, so one such
   row repairs all three cases at once.
3. **Totals.** The total row is hidden when X, N or N − X is below the minimum, or when rule 2 needs a row but
   none is left to hide (then every row is hidden and the hidden total leaves nothing to subtract from).

What this does *not* cover: linked tables (the same births by IGO and by VSV, or one unit over several periods
whose sum is published elsewhere) need one suppression pattern across the tables; publish one table per
indicator, period and level of units, or coordinate the patterns before publishing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from integraal.insight.indicators import IndicatorResult, Tally, proportion_result
from integraal.insight.intervals import Interval

DEFAULT_MINIMUM = 10


class Suppressed(StrEnum):
    PRIMARY = "primary"  # a count of this row is below the minimum
    COMPLEMENTARY = "complementary"  # hidden so that another hidden row cannot be recovered by subtraction


@dataclass(frozen=True, slots=True)
class SuppressionPattern:
    """Which rows (units) and whether the totals are hidden, and why."""

    hidden: tuple[tuple[str, Suppressed], ...]
    total_hidden: bool

    @property
    def hidden_units(self) -> frozenset[str]:
        return frozenset(unit for unit, _ in self.hidden)

    def reason(self, unit: str) -> Suppressed | None:
        return dict(self.hidden).get(unit)


def _small(x: int, n: int, minimum: int) -> bool:
    return x < minimum or n < minimum or n - x < minimum


def suppression_pattern(rows: Sequence[tuple[str, int, int]], minimum: int = DEFAULT_MINIMUM) -> SuppressionPattern:
    """The suppression pattern for rows of (unit, numerator, denominator) with a shown total (module rules)."""
    if minimum < 1:
        raise ValueError(f"the minimum must be at least 1, got {minimum}")
    units = [unit for unit, _, _ in rows]
    if len(set(units)) != len(units):
        raise ValueError("each unit may appear only once in a table")
    for unit, x, n in rows:
        if not 0 <= x <= n:
            raise ValueError(f"unit {unit!r}: expected 0 ≤ numerator ≤ denominator, got {x} of {n}")
    hidden: dict[str, Suppressed] = {unit: Suppressed.PRIMARY for unit, x, n in rows if _small(x, n, minimum)}
    total_x = sum(x for _, x, _ in rows)
    total_n = sum(n for _, _, n in rows)
    total_hidden = _small(total_x, total_n, minimum)
    if hidden and not total_hidden:
        hidden_x = sum(x for unit, x, _ in rows if unit in hidden)
        hidden_y = sum(n - x for unit, x, n in rows if unit in hidden)
        if len(hidden) == 1 or hidden_x == 0 or hidden_y == 0:
            shown = sorted((n, unit) for unit, _, n in rows if unit not in hidden)
            if shown:
                hidden[shown[0][1]] = Suppressed.COMPLEMENTARY
            else:
                total_hidden = True
    return SuppressionPattern(tuple(sorted(hidden.items())), total_hidden)


@dataclass(frozen=True, slots=True)
class PublishedResult:
    """An indicator result as shown outside the IGO: ``None`` wherever suppression applies.

    Excluded and missing counts are not published per unit (they are small numbers of their own); the IGO's own
    view keeps them.
    """

    indicator_id: str
    unit: str
    period: str
    numerator: int | None
    denominator: int | None
    rate: float | None
    wilson: Interval | None
    exact: Interval | None
    suppressed: Suppressed | None


@dataclass(frozen=True, slots=True)
class PublishedTable:
    rows: tuple[PublishedResult, ...]
    total: PublishedResult
    minimum: int


TOTAL = "(total)"


def _published(result: IndicatorResult, reason: Suppressed | None) -> PublishedResult:
    if reason is not None:
        return PublishedResult(result.indicator_id, result.unit, result.period, None, None, None, None, None, reason)
    return PublishedResult(
        result.indicator_id,
        result.unit,
        result.period,
        result.numerator,
        result.denominator,
        result.rate,
        result.wilson,
        result.exact,
        None,
    )


def publish_results(
    results: Iterable[IndicatorResult], minimum: int = DEFAULT_MINIMUM, level: float = 0.95
) -> PublishedTable:
    """Suppress one table of results (one indicator, one period, one level of units) for publication."""
    rows = sorted(results, key=lambda r: r.unit)
    keys = {(r.indicator_id, r.period) for r in rows}
    if len(keys) > 1:
        raise ValueError(f"one table is one indicator and one period, got {sorted(keys)}")
    indicator_id, period = next(iter(keys)) if keys else ("", "")
    pattern = suppression_pattern([(r.unit, r.numerator, r.denominator) for r in rows], minimum)
    total_counts = Tally(sum(r.numerator for r in rows), sum(r.denominator for r in rows))
    total = proportion_result(indicator_id, TOTAL, period, total_counts, level)
    return PublishedTable(
        tuple(_published(r, pattern.reason(r.unit)) for r in rows),
        _published(total, Suppressed.PRIMARY if pattern.total_hidden else None),
        minimum,
    )
