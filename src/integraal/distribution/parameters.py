"""Typed parameters for distribution models: a frozen dataclass per model, with field metadata a UI can render.

Each parameter field is declared with :func:`parameter`, which records its kind, Dutch and English label, unit,
bounds, choices or table keys. :func:`schema` lists those specs (the form), :func:`parameters_from_mapping`
turns submitted values (strings from a form, numbers from JSON/YAML) into the dataclass and reports *every* bad
field by name, and :func:`parameter_problems` checks a dataclass built in code against the same rules.

Tables (e.g. a share per discipline, points per activity type) are stored as a sorted tuple of (key, value)
pairs: immutable, hashable and order-independent. Use :func:`table` to build one and :func:`as_dict` to read it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, TypeVar

Table = tuple[tuple[str, Decimal], ...]


class ParameterKind(StrEnum):
    CENTS = "cents"  # whole euro-cents (int)
    PERCENT = "percent"  # a percentage, Decimal (5 = 5 %)
    DECIMAL = "decimal"  # a plain number, Decimal (a score, a weight)
    CHOICE = "choice"  # one of ``choices`` (str)
    TABLE = "table"  # key -> Decimal; ``keys`` lists the allowed keys (empty: any key)


@dataclass(frozen=True, slots=True)
class ParameterSpec:
    """How to render and check one parameter. ``minimum``/``maximum`` bound the value (or every table value)."""

    name: str
    kind: ParameterKind
    label_nl: str
    label_en: str
    unit: str = ""
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    choices: tuple[str, ...] = ()
    keys: tuple[str, ...] = ()
    help_nl: str = ""
    help_en: str = ""
    default: object = None


@dataclass(frozen=True, slots=True)
class ParameterProblem:
    field: str
    message: str


class ParameterError(ValueError):
    """Raised with every problem found; ``problems`` names each bad field."""

    def __init__(self, problems: Iterable[ParameterProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in self.problems))

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(p.field for p in self.problems)


@dataclass(frozen=True, slots=True)
class Parameters:
    """Base of every model's parameter dataclass. Override :meth:`cross_checks` for rules across fields."""

    def cross_checks(self) -> list[ParameterProblem]:
        return []


P = TypeVar("P", bound=Parameters)

_SPEC = "integraal.parameter"


def parameter(
    kind: ParameterKind,
    default: Any,
    label_nl: str,
    label_en: str,
    *,
    unit: str = "",
    minimum: int | str | None = None,
    maximum: int | str | None = None,
    choices: tuple[str, ...] = (),
    keys: tuple[str, ...] = (),
    help_nl: str = "",
    help_en: str = "",
) -> Any:
    """A dataclass field carrying its :class:`ParameterSpec` (the name is filled in by :func:`schema`)."""
    spec = ParameterSpec(
        name="",
        kind=kind,
        label_nl=label_nl,
        label_en=label_en,
        unit=unit,
        minimum=None if minimum is None else Decimal(minimum),
        maximum=None if maximum is None else Decimal(maximum),
        choices=choices,
        keys=keys,
        help_nl=help_nl,
        help_en=help_en,
        default=default,
    )
    return dataclasses.field(default=default, metadata={_SPEC: spec})


def table(values: Mapping[str, Decimal | int | str] | None = None, /, **kwargs: Decimal | int | str) -> Table:
    """A table parameter value from a mapping (keys sorted, values as Decimal)."""
    merged: dict[str, Decimal | int | str] = {**(values or {}), **kwargs}
    return tuple(sorted((str(k), Decimal(str(v))) for k, v in merged.items()))


def as_dict(values: Table) -> dict[str, Decimal]:
    return dict(values)


def schema(params_type: type[Parameters]) -> tuple[ParameterSpec, ...]:
    """The form for a parameter dataclass, in field order."""
    specs: list[ParameterSpec] = []
    for f in dataclasses.fields(params_type):
        spec = f.metadata.get(_SPEC)
        if isinstance(spec, ParameterSpec):
            specs.append(dataclasses.replace(spec, name=f.name))
    return tuple(specs)


def _to_decimal(value: object) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int | float | str):
        try:
            result = Decimal(str(value).strip().replace(",", "."))
        except InvalidOperation:
            return None
    else:
        return None
    return result if result.is_finite() else None


def _check_bounds(spec: ParameterSpec, field: str, value: Decimal) -> list[ParameterProblem]:
    problems = []
    if spec.minimum is not None and value < spec.minimum:
        problems.append(ParameterProblem(field, f"must be at least {spec.minimum}"))
    if spec.maximum is not None and value > spec.maximum:
        problems.append(ParameterProblem(field, f"must be at most {spec.maximum}"))
    return problems


def _convert(spec: ParameterSpec, raw: object) -> tuple[object, list[ParameterProblem]]:
    """Convert one submitted value; returns (value, problems)."""
    name = spec.name
    if spec.kind is ParameterKind.CHOICE:
        text = str(raw)
        if text not in spec.choices:
            return None, [ParameterProblem(name, f"must be one of {', '.join(spec.choices)}")]
        return text, []
    if spec.kind is ParameterKind.TABLE:
        if not isinstance(raw, Mapping):
            return None, [ParameterProblem(name, "must be a table of key: number")]
        rows: list[tuple[str, Decimal]] = []
        problems: list[ParameterProblem] = []
        for key, cell in raw.items():
            number = _to_decimal(cell)
            if number is None:
                problems.append(ParameterProblem(f"{name}.{key}", "must be a number"))
            else:
                rows.append((str(key), number))
        return tuple(sorted(rows)), problems
    number = _to_decimal(raw)
    if number is None:
        return None, [ParameterProblem(name, "must be a number")]
    if spec.kind is ParameterKind.CENTS:
        if number != number.to_integral_value():
            return None, [ParameterProblem(name, "must be a whole number of cents")]
        return int(number), []
    return number, []


def parameter_problems(params: Parameters) -> list[ParameterProblem]:
    """Every problem with a parameter dataclass: bounds, choices, table keys, and the model's cross-checks."""
    return _field_problems(params) + params.cross_checks()


def _field_problems(params: Parameters) -> list[ParameterProblem]:
    problems: list[ParameterProblem] = []
    for spec in schema(type(params)):
        value = getattr(params, spec.name)
        if spec.kind is ParameterKind.CHOICE:
            if value not in spec.choices:
                problems.append(ParameterProblem(spec.name, f"must be one of {', '.join(spec.choices)}"))
        elif spec.kind is ParameterKind.TABLE:
            seen: set[str] = set()
            for key, cell in value:
                if key in seen:
                    problems.append(ParameterProblem(f"{spec.name}.{key}", "duplicate key"))
                seen.add(key)
                if spec.keys and key not in spec.keys:
                    problems.append(ParameterProblem(f"{spec.name}.{key}", f"unknown key; use {', '.join(spec.keys)}"))
                problems.extend(_check_bounds(spec, f"{spec.name}.{key}", cell))
        else:
            problems.extend(_check_bounds(spec, spec.name, Decimal(value)))
    return problems


def parameters_from_mapping(params_type: type[P], values: Mapping[str, object]) -> P:
    """Build ``params_type`` from submitted ``values`` (missing fields keep their default).

    Raises :class:`ParameterError` naming every bad field (unknown names, wrong types, out of bounds, failed
    cross-checks) — all at once, so a form can mark them all.
    """
    specs = {spec.name: spec for spec in schema(params_type)}
    problems = [ParameterProblem(name, "unknown parameter") for name in values if name not in specs]
    converted: dict[str, object] = {}
    for name, raw in values.items():
        if name in specs:
            value, found = _convert(specs[name], raw)
            problems.extend(found)
            if not found:
                converted[name] = value
    params = params_type(**converted)
    # Bounds of the fields that did convert are reported too; cross-field rules only once every field is valid.
    problems += _field_problems(params)
    if not problems:
        problems = params.cross_checks()
    if problems:
        raise ParameterError(problems)
    return params
