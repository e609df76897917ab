"""Indicator definitions (as data) and their computation per unit and period.

An indicator is a numerator, a denominator and exclusions, each a condition in the safe expression language of
:mod:`integraal.insight.expression`, plus names and explanations in Dutch and English, a direction, case-mix
variables and a source. The shipped set lives in ``data/indicators/indicators.yaml``; :func:`load_indicators`
reads it through ``importlib.resources`` and reports every problem with the file and the indicator.

How one record counts for a proportion indicator (three-valued logic, see ``expression``):

1. denominator false → not in the population;
2. an exclusion true → *excluded* (an exclusion that is unknown does not exclude);
3. denominator unknown → *missing*;
4. numerator true → numerator (and denominator); false → denominator only; unknown → *missing*.

Rates are computed over complete cases; the missing and excluded counts are reported next to them, because a
unit that registers less must not look better.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from typing import Any

import yaml

from integraal.insight.expression import Condition, ExpressionError, parse_condition
from integraal.insight.intervals import Interval, clopper_pearson_interval, two_sided_z, wilson_interval
from integraal.insight.outcomes import OUTCOME_FIELDS, FieldKind, OutcomeRecord

INDICATORS_RESOURCE = "indicators/indicators.yaml"


class Direction(StrEnum):
    LOWER_IS_BETTER = "lower_is_better"
    HIGHER_IS_BETTER = "higher_is_better"
    NONE = "none"  # a choice or a process measure: no value judgement (e.g. the home-birth share)


class IndicatorKind(StrEnum):
    PROPORTION = "proportion"  # numerator / denominator
    MEAN = "mean"  # the mean of a number field over the denominator (e.g. a PREM score)


@dataclass(frozen=True, slots=True)
class Text:
    nl: str
    en: str


@dataclass(frozen=True, slots=True)
class Source:
    """Where the definition comes from. ``verified`` is false until checked against the source's own text."""

    name: str
    verified: bool
    note: str = ""


@dataclass(frozen=True, slots=True)
class Indicator:
    id: str
    name: Text
    explanation: Text
    kind: IndicatorKind
    denominator: Condition
    direction: Direction
    source: Source
    numerator: Condition | None = None  # proportion indicators
    value_field: str | None = None  # mean indicators
    exclusions: tuple[Condition, ...] = ()
    casemix: tuple[str, ...] = ()
    per: int = 100  # display scale: 100 for a percentage, 1000 for per mille


class Status(StrEnum):
    """How one record counts for one indicator."""

    OUT = "out"
    EXCLUDED = "excluded"
    MISSING = "missing"
    DENOMINATOR = "denominator"  # in the denominator, not in the numerator
    NUMERATOR = "numerator"  # in both


def record_status(indicator: Indicator, record: OutcomeRecord) -> Status:
    """How ``record`` counts for ``indicator`` (see the module docstring for the order of the rules)."""
    in_population = indicator.denominator.evaluate(record)
    if in_population is False:
        return Status.OUT
    if any(exclusion.evaluate(record) is True for exclusion in indicator.exclusions):
        return Status.EXCLUDED
    if in_population is None:
        return Status.MISSING
    if indicator.kind is IndicatorKind.MEAN:
        assert indicator.value_field is not None
        return Status.MISSING if getattr(record, indicator.value_field) is None else Status.DENOMINATOR
    assert indicator.numerator is not None
    event = indicator.numerator.evaluate(record)
    if event is None:
        return Status.MISSING
    return Status.NUMERATOR if event else Status.DENOMINATOR


@dataclass(frozen=True, slots=True)
class Tally:
    numerator: int = 0
    denominator: int = 0
    excluded: int = 0
    missing: int = 0

    def add(self, status: Status) -> Tally:
        return Tally(
            self.numerator + (status is Status.NUMERATOR),
            self.denominator + (status in (Status.NUMERATOR, Status.DENOMINATOR)),
            self.excluded + (status is Status.EXCLUDED),
            self.missing + (status is Status.MISSING),
        )


def tally(indicator: Indicator, records: Iterable[OutcomeRecord]) -> Tally:
    """Numerator, denominator, excluded and missing counts of ``indicator`` over ``records``."""
    counts = dict.fromkeys(Status, 0)
    for record in records:
        counts[record_status(indicator, record)] += 1
    return Tally(
        counts[Status.NUMERATOR],
        counts[Status.NUMERATOR] + counts[Status.DENOMINATOR],
        counts[Status.EXCLUDED],
        counts[Status.MISSING],
    )


@dataclass(frozen=True, slots=True)
class IndicatorResult:
    """A proportion indicator for one unit (IGO, VSV, region …) and one period."""

    indicator_id: str
    unit: str
    period: str
    numerator: int
    denominator: int
    excluded: int
    missing: int
    rate: float | None  # None when the denominator is 0
    wilson: Interval | None
    exact: Interval | None  # Clopper–Pearson


@dataclass(frozen=True, slots=True)
class MeanResult:
    """A mean indicator (e.g. a PREM score) for one unit and period, with a normal-approximation interval."""

    indicator_id: str
    unit: str
    period: str
    n: int
    excluded: int
    missing: int
    mean: float | None
    standard_deviation: float | None
    interval: Interval | None  # mean ± z·sd/√n (n ≥ 2)


def year_of_end(record: OutcomeRecord) -> str | None:
    """The default period: the calendar year the trajectory ended (the birth year); ongoing ones have none."""
    return None if record.end_date is None else str(record.end_date.year)


UnitOf = Callable[[OutcomeRecord], str | None]
PeriodOf = Callable[[OutcomeRecord], str | None]


def group_records(
    records: Iterable[OutcomeRecord], unit_of: UnitOf, period_of: PeriodOf = year_of_end
) -> dict[tuple[str, str], list[OutcomeRecord]]:
    """Records by (unit, period); a record whose unit or period is ``None`` is left out."""
    groups: dict[tuple[str, str], list[OutcomeRecord]] = {}
    for record in records:
        unit, period = unit_of(record), period_of(record)
        if unit is not None and period is not None:
            groups.setdefault((unit, period), []).append(record)
    return groups


def proportion_result(indicator_id: str, unit: str, period: str, counts: Tally, level: float = 0.95) -> IndicatorResult:
    """The rate and both intervals for one cell of counts."""
    n, x = counts.denominator, counts.numerator
    return IndicatorResult(
        indicator_id,
        unit,
        period,
        x,
        n,
        counts.excluded,
        counts.missing,
        x / n if n else None,
        wilson_interval(x, n, level) if n else None,
        clopper_pearson_interval(x, n, level) if n else None,
    )


def compute_indicator(
    indicator: Indicator,
    records: Iterable[OutcomeRecord],
    unit_of: UnitOf,
    period_of: PeriodOf = year_of_end,
    level: float = 0.95,
) -> list[IndicatorResult]:
    """A proportion indicator per (unit, period), ordered by period then unit — never by rate."""
    if indicator.kind is not IndicatorKind.PROPORTION:
        raise ValueError(f"indicator {indicator.id!r} is a {indicator.kind.value}: use compute_mean")
    groups = group_records(records, unit_of, period_of)
    return [
        proportion_result(indicator.id, unit, period, tally(indicator, groups[unit, period]), level)
        for unit, period in sorted(groups, key=lambda key: (key[1], key[0]))
    ]


def compute_mean(
    indicator: Indicator,
    records: Iterable[OutcomeRecord],
    unit_of: UnitOf,
    period_of: PeriodOf = year_of_end,
    level: float = 0.95,
) -> list[MeanResult]:
    """A mean indicator per (unit, period), ordered by period then unit."""
    if indicator.kind is not IndicatorKind.MEAN or indicator.value_field is None:
        raise ValueError(f"indicator {indicator.id!r} is not a mean indicator")
    field = indicator.value_field
    z = two_sided_z(level)
    results = []
    groups = group_records(records, unit_of, period_of)
    for unit, period in sorted(groups, key=lambda key: (key[1], key[0])):
        values: list[float] = []
        excluded = missing = 0
        for record in groups[unit, period]:
            status = record_status(indicator, record)
            if status is Status.EXCLUDED:
                excluded += 1
            elif status is Status.MISSING:
                missing += 1
            elif status is Status.DENOMINATOR:
                values.append(float(getattr(record, field)))
        n = len(values)
        mean = math.fsum(values) / n if n else None
        sd = None
        interval = None
        if mean is not None and n >= 2:
            sd = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))
            half = z * sd / math.sqrt(n)
            interval = Interval(mean - half, mean + half, level)
        results.append(MeanResult(indicator.id, unit, period, n, excluded, missing, mean, sd, interval))
    return results


# --- loading definitions -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DefinitionProblem:
    """One thing wrong in an indicator file: which file, which indicator, which key, what."""

    source: str
    indicator: str
    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.source}: indicator {self.indicator!r}, {self.key}: {self.message}"


class IndicatorDefinitionError(ValueError):
    """An indicator file is malformed; lists every problem with its file and indicator."""

    def __init__(self, problems: Iterable[DefinitionProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


_REQUIRED = ("id", "name", "explanation", "denominator", "direction", "source")
_ALLOWED = frozenset(
    {*_REQUIRED, "kind", "numerator", "value", "exclusions", "casemix", "per"},
)


class _Reader:
    """Reads one indicator entry, collecting problems instead of stopping at the first."""

    def __init__(self, source: str, entry: Mapping[str, Any], label: str) -> None:
        self.source = source
        self.entry = entry
        self.label = label
        self.problems: list[DefinitionProblem] = []

    def problem(self, key: str, message: str) -> None:
        self.problems.append(DefinitionProblem(self.source, self.label, key, message))

    def text(self, key: str) -> Text:
        value = self.entry.get(key)
        if not isinstance(value, Mapping) or not all(isinstance(value.get(lang), str) for lang in ("nl", "en")):
            self.problem(key, "expected a mapping with Dutch ('nl') and English ('en') text")
            return Text("", "")
        return Text(value["nl"].strip(), value["en"].strip())

    def condition(self, key: str, value: Any) -> Condition | None:
        if not isinstance(value, str):
            self.problem(key, f"expected a condition as text, found {type(value).__name__}")
            return None
        try:
            return parse_condition(value)
        except ExpressionError as error:
            self.problem(key, str(error))
            return None

    def choice(self, key: str, enum: type[StrEnum], default: str | None = None) -> Any:
        value = self.entry.get(key, default)
        allowed = [str(member.value) for member in enum]
        if value not in allowed:
            self.problem(key, f"{value!r} is not one of {', '.join(allowed)}")
            return None
        return enum(value)


def _read_indicator(
    source: str, entry: Mapping[str, Any], position: int
) -> tuple[Indicator | None, list[DefinitionProblem]]:
    label = str(entry.get("id", f"#{position}"))
    reader = _Reader(source, entry, label)
    for key in _REQUIRED:
        if key not in entry:
            reader.problem(key, "missing")
    for key in sorted(set(entry) - _ALLOWED):
        reader.problem(key, f"unknown key; allowed keys: {', '.join(sorted(_ALLOWED))}")
    if not isinstance(entry.get("id"), str) or not str(entry.get("id")).replace("_", "").isalnum():
        reader.problem("id", "expected an identifier of letters, digits and '_'")
    name, explanation = reader.text("name"), reader.text("explanation")
    kind = reader.choice("kind", IndicatorKind, IndicatorKind.PROPORTION.value)
    direction = reader.choice("direction", Direction)
    denominator = reader.condition("denominator", entry.get("denominator"))
    numerator = None
    value_field = None
    if kind is IndicatorKind.PROPORTION:
        if "numerator" not in entry:
            reader.problem("numerator", "a proportion indicator needs a numerator")
        else:
            numerator = reader.condition("numerator", entry["numerator"])
        if "value" in entry:
            reader.problem("value", "only a mean indicator has a value field")
    elif kind is IndicatorKind.MEAN:
        value_field = entry.get("value")
        spec = OUTCOME_FIELDS.get(value_field) if isinstance(value_field, str) else None
        if spec is None or spec.kind not in (FieldKind.INTEGER, FieldKind.NUMBER):
            numbers = [n for n, s in OUTCOME_FIELDS.items() if s.kind in (FieldKind.INTEGER, FieldKind.NUMBER)]
            reader.problem("value", f"{value_field!r} is not a number field; number fields: {', '.join(numbers)}")
        if "numerator" in entry:
            reader.problem("numerator", "a mean indicator has no numerator")
    raw_exclusions = entry.get("exclusions", [])
    exclusions: list[Condition | None] = []
    if not isinstance(raw_exclusions, list):
        reader.problem("exclusions", "expected a list of conditions")
    else:
        exclusions = [reader.condition(f"exclusions[{i}]", text) for i, text in enumerate(raw_exclusions)]
    raw_casemix = entry.get("casemix", [])
    casemix: list[str] = []
    if not isinstance(raw_casemix, list) or not all(isinstance(name, str) for name in raw_casemix):
        reader.problem("casemix", "expected a list of field names")
    else:
        for variable in raw_casemix:
            spec = OUTCOME_FIELDS.get(variable)
            if spec is None or spec.kind not in (FieldKind.CATEGORY, FieldKind.BOOLEAN):
                reader.problem("casemix", f"{variable!r} is not a category or yes/no field of the outcome record")
            else:
                casemix.append(variable)
    per = entry.get("per", 100)
    if per not in (100, 1000):
        reader.problem("per", f"expected 100 (percent) or 1000 (per mille), found {per!r}")
    raw_source = entry.get("source")
    source_value = Source("", False)
    if (
        not isinstance(raw_source, Mapping)
        or not isinstance(raw_source.get("name"), str)
        or not isinstance(raw_source.get("verified"), bool)
    ):
        reader.problem("source", "expected a mapping with 'name' (text) and 'verified' (true/false)")
    else:
        source_value = Source(raw_source["name"], raw_source["verified"], str(raw_source.get("note", "")).strip())
    if reader.problems:
        return None, reader.problems
    assert denominator is not None and kind is not None and direction is not None
    return (
        Indicator(
            id=label,
            name=name,
            explanation=explanation,
            kind=kind,
            denominator=denominator,
            direction=direction,
            source=source_value,
            numerator=numerator,
            value_field=value_field,
            exclusions=tuple(e for e in exclusions if e is not None),
            casemix=tuple(casemix),
            per=per,
        ),
        [],
    )


def parse_indicators(text: str, source: str = "<text>") -> dict[str, Indicator]:
    """Indicators from YAML ``text``; raise :class:`IndicatorDefinitionError` listing every problem."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise IndicatorDefinitionError([DefinitionProblem(source, "-", "yaml", str(error))]) from error
    entries = document.get("indicators") if isinstance(document, Mapping) else None
    if not isinstance(entries, list):
        raise IndicatorDefinitionError([DefinitionProblem(source, "-", "indicators", "expected a list 'indicators'")])
    indicators: dict[str, Indicator] = {}
    problems: list[DefinitionProblem] = []
    for position, entry in enumerate(entries, 1):
        if not isinstance(entry, Mapping):
            problems.append(DefinitionProblem(source, f"#{position}", "-", "expected a mapping"))
            continue
        indicator, found = _read_indicator(source, entry, position)
        problems.extend(found)
        if indicator is not None:
            if indicator.id in indicators:
                problems.append(DefinitionProblem(source, indicator.id, "id", "duplicate indicator id"))
            indicators[indicator.id] = indicator
    if problems:
        raise IndicatorDefinitionError(problems)
    return indicators


def load_indicators() -> dict[str, Indicator]:
    """The shipped indicator set (``integraal/data/indicators/indicators.yaml``), by id in file order (a fresh
    dict each call; the definitions are parsed once per process)."""
    return dict(_shipped_indicators())


@functools.cache
def _shipped_indicators() -> dict[str, Indicator]:
    resource = resources.files("integraal.data").joinpath(INDICATORS_RESOURCE)
    return parse_indicators(resource.read_text(encoding="utf-8"), f"integraal/data/{INDICATORS_RESOURCE}")
