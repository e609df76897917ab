"""Relative value points (verrichtingenpunten) under the fixed budget.

Formula: every activity type has a number of points; ``points_i = Σ_t count_i,t × points_t`` (types not in the
table count ``default_points``); the point value is ``budget / Σ_j points_j`` and ``amount_i = points_i × point
value`` (largest remainder; points enter the split as whole millionths). The budget does not grow with the
points: more points for everyone lowers the point value (a closed budget, gesloten budget).
Promise (monotonicity): with everything else fixed, a member with more activities never gets less.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from integraal.distribution.allocation import (
    FIXED_POINT,
    Allocation,
    Budget,
    eur,
    fixed_point,
    fmt_decimal,
    split_lines,
)
from integraal.distribution.inputs import DistributionInput
from integraal.distribution.parameters import ParameterKind, Parameters, as_dict, parameter, table
from integraal.distribution.registry import Model, StepKind, register


@dataclass(frozen=True, slots=True)
class RelativeValueParameters(Parameters):
    points: tuple[tuple[str, Decimal], ...] = parameter(
        ParameterKind.TABLE,
        table(),
        "Punten per activiteitsoort",
        "Points per activity type",
        unit="punten",
        minimum=0,
        maximum=100000,
        help_nl="Relatieve waarde van één activiteit (of één uur) van deze soort.",
        help_en="Relative value of one activity (or one hour) of this type.",
    )
    default_points: Decimal = parameter(  # noqa: RUF009 (parameter() is dataclasses.field with metadata)
        ParameterKind.DECIMAL,
        Decimal(1),
        "Punten voor overige activiteiten",
        "Points for other activity types",
        unit="punten",
        minimum=0,
        maximum=100000,
    )


def member_points(data: DistributionInput, params: RelativeValueParameters) -> dict[str, Decimal]:
    points = as_dict(params.points)
    return {
        agb: sum((count * points.get(kind, params.default_points) for kind, count in per_type.items()), Decimal(0))
        for agb, per_type in data.activity_by_member().items()
    }


def allocate(budget: Budget, data: DistributionInput, params: RelativeValueParameters, step: str) -> Allocation:
    weights = {agb: fixed_point(p) for agb, p in member_points(data, params).items()}
    total = sum(weights.values())

    def texts(agb: str, weight: int, part: int) -> tuple[str, str, str]:
        pts = Decimal(weight) / FIXED_POINT
        all_pts = Decimal(total) / FIXED_POINT
        value = Decimal(budget.total) / all_pts / 100 if all_pts else Decimal(0)
        return (
            f"points {pts}/{all_pts}",
            f"{eur(part, 'nl')}: {fmt_decimal(pts, 'nl')} van {fmt_decimal(all_pts, 'nl')} punten "
            f"(puntwaarde € {fmt_decimal(value, 'nl', 4)})",
            f"{eur(part, 'en')}: {fmt_decimal(pts, 'en')} of {fmt_decimal(all_pts, 'en')} points "
            f"(point value €{fmt_decimal(value, 'en', 4)})",
        )

    lines = split_lines(
        budget.total,
        weights,
        step=step,
        model=MODEL.name,
        texts=texts,
        no_basis=("geen activiteiten met punten", "no activities with points"),
    )
    return Allocation(budget.total, tuple(lines))


MODEL = register(
    Model(
        name="relative_value",
        kind=StepKind.MAIN,
        title_nl="Verrichtingenpunten binnen een vast budget",
        title_en="Relative value points under a fixed budget",
        description_nl=(
            "Iedere soort activiteit krijgt punten naar haar relatieve zwaarte, vastgesteld door de IGO zelf in "
            "plaats van door de landelijke tarieven. Het budget staat vast: de waarde van een punt is het budget "
            "gedeeld door alle punten. Geschikt als de IGO de onderlinge waardering van het werk wil herijken."
        ),
        description_en=(
            "Every activity type gets points for its relative weight, set by the IGO itself rather than by the "
            "national tariffs. The budget is fixed: a point is worth the budget divided by all points. Suits an "
            "IGO that wants to re-balance how the members' work is valued."
        ),
        parameters=RelativeValueParameters,
        allocate=allocate,
    )
)
