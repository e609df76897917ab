"""Case-mix adjustment by indirect standardisation.

A unit that cares for more high-risk women will have more caesareans without giving worse care. Indirect
standardisation asks: how many events would this unit have had if each of its women had the *reference* rate of
her stratum (the combination of the indicator's case-mix variables, e.g. client profile × first birth)?

    expected E = Σ over strata s of  n(unit, s) × p_ref(s)
    O/E        = observed / expected
    adjusted   = O/E × p_ref(overall)        (the indirectly standardised rate)

The reference rates default to the pooled rates of all units in the table. The interval for O/E is **Byar's
approximation to the exact Poisson interval** for O, divided by E (E treated as fixed, as is usual when the
reference population is much larger than the unit): see :func:`integraal.insight.intervals.byar_interval`.

A missing case-mix value is its own stratum (``"unknown"``), so no record drops out silently.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from integraal.insight.indicators import Indicator, Status, Tally, UnitOf, record_status
from integraal.insight.intervals import Interval, byar_interval
from integraal.insight.outcomes import OutcomeRecord, field_value

Stratum = tuple[str, ...]
"""The values of an indicator's case-mix variables for one record, in the order the indicator lists them."""
UNKNOWN = "unknown"


def stratum_of(record: OutcomeRecord, variables: Iterable[str]) -> Stratum:
    values = []
    for name in variables:
        value = field_value(record, name)
        values.append(UNKNOWN if value is None else str(value).lower())
    return tuple(values)


def stratified_tallies(
    indicator: Indicator, records: Iterable[OutcomeRecord], unit_of: UnitOf
) -> dict[str, dict[Stratum, Tally]]:
    """Counts per unit per stratum of ``indicator``'s case-mix variables (pass the records of one period)."""
    tallies: dict[str, dict[Stratum, Tally]] = {}
    for record in records:
        unit = unit_of(record)
        if unit is None:
            continue
        status = record_status(indicator, record)
        if status is Status.OUT:
            continue
        per_stratum = tallies.setdefault(unit, {})
        stratum = stratum_of(record, indicator.casemix)
        per_stratum[stratum] = per_stratum.get(stratum, Tally()).add(status)
    return tallies


Cell = tuple[int, int]
"""(numerator, denominator) of one stratum."""


def pooled_rates(counts: Mapping[str, Mapping[Stratum, Cell]]) -> dict[Stratum, float]:
    """The reference rate per stratum: all units pooled (strata with no denominator are left out)."""
    numerators: dict[Stratum, int] = {}
    denominators: dict[Stratum, int] = {}
    for per_stratum in counts.values():
        for stratum, (x, n) in per_stratum.items():
            numerators[stratum] = numerators.get(stratum, 0) + x
            denominators[stratum] = denominators.get(stratum, 0) + n
    return {s: numerators[s] / n for s, n in denominators.items() if n > 0}


@dataclass(frozen=True, slots=True)
class StandardisedResult:
    """Observed against expected for one unit."""

    unit: str
    observed: int
    denominator: int
    expected: float
    ratio: float | None  # O/E; None when E = 0
    interval: Interval | None  # Byar
    adjusted_rate: float | None  # O/E × overall reference rate


def cells(tallies: Mapping[str, Mapping[Stratum, Tally]]) -> dict[str, dict[Stratum, Cell]]:
    """(numerator, denominator) per unit and stratum from tallies (missing and excluded records drop out)."""
    return {
        unit: {s: (t.numerator, t.denominator) for s, t in per_stratum.items()} for unit, per_stratum in tallies.items()
    }


def indirect_standardisation(
    counts: Mapping[str, Mapping[Stratum, Cell]],
    reference: Mapping[Stratum, float] | None = None,
    overall_rate: float | None = None,
    level: float = 0.95,
) -> list[StandardisedResult]:
    """O/E per unit (ordered by unit), against ``reference`` rates per stratum (default: all units pooled).

    ``overall_rate`` (for the adjusted rate) defaults to the pooled rate of ``counts``. A stratum of a unit with a
    denominator but no reference rate is an error: the unit cannot be compared on it.
    """
    rates = pooled_rates(counts) if reference is None else dict(reference)
    if overall_rate is None:
        total_x = sum(x for per_stratum in counts.values() for x, _ in per_stratum.values())
        total_n = sum(n for per_stratum in counts.values() for _, n in per_stratum.values())
        overall_rate = total_x / total_n if total_n else None
    results = []
    for unit in sorted(counts):
        observed = denominator = 0
        expected = 0.0
        for stratum, (x, n) in sorted(counts[unit].items()):
            if n == 0:
                continue
            if stratum not in rates:
                raise ValueError(f"unit {unit!r}: no reference rate for stratum {stratum}")
            observed += x
            denominator += n
            expected += n * rates[stratum]
        ratio = observed / expected if expected > 0 else None
        results.append(
            StandardisedResult(
                unit,
                observed,
                denominator,
                expected,
                ratio,
                byar_interval(observed, expected, level) if expected > 0 else None,
                None if ratio is None or overall_rate is None else ratio * overall_rate,
            )
        )
    return results
