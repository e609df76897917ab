"""Availability fee (beschikbaarheidsvergoeding): a fixed amount per member per period, off the top.

Formula: ``fee_i = availability_units_i × fee_per_unit(discipline_i)`` (half-up to a cent); the slice is
``Σ fee_i``. If the fees exceed what is left of the budget, the whole budget is divided in proportion to the fees
(every member's fee shrinks by the same factor), explained on each line.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from integraal.distribution.allocation import Allocation, Budget, ExplanationLine, eur, fmt_decimal, split_exact
from integraal.distribution.inputs import DistributionInput
from integraal.distribution.models.common import DISCIPLINE_EN, DISCIPLINE_NL
from integraal.distribution.parameters import ParameterKind, ParameterProblem, Parameters, as_dict, parameter, table
from integraal.distribution.registry import Model, StepKind, register
from integraal.domain.money import amount_for
from integraal.domain.provider import Discipline


@dataclass(frozen=True, slots=True)
class AvailabilityParameters(Parameters):
    fee_per_unit: tuple[tuple[str, Decimal], ...] = parameter(
        ParameterKind.TABLE,
        table(midwife=2_500_000, gynaecologist=2_500_000, hospital=5_000_000, kraamzorg=1_500_000),
        "Vergoeding per eenheid beschikbaarheid per periode",
        "Fee per unit of availability per period",
        unit="cent",
        minimum=0,
        maximum=10**12,
        keys=tuple(d.value for d in Discipline),
        help_nl="Bijvoorbeeld per volledige deelname aan de 24/7-dienst (1 eenheid).",
        help_en="E.g. per full share in the 24/7 on-call roster (1 unit).",
    )

    def cross_checks(self) -> list[ParameterProblem]:
        return [
            ParameterProblem(f"fee_per_unit.{k}", "must be a whole number of cents")
            for k, v in self.fee_per_unit
            if v != v.to_integral_value()
        ]


def allocate(budget: Budget, data: DistributionInput, params: AvailabilityParameters, step: str) -> Allocation:
    fees = as_dict(params.fee_per_unit)
    members = sorted(data.members, key=lambda m: m.agb)
    owed = [amount_for(m.availability_units, int(fees.get(m.discipline.value, 0))) for m in members]
    due = sum(owed)
    paid = owed if due <= budget.total else split_exact(budget.total, owed)
    lines: list[ExplanationLine] = []
    for member, fee, amount in zip(members, owed, paid, strict=True):
        if fee == 0:
            continue
        units_nl = fmt_decimal(member.availability_units, "nl")
        units_en = fmt_decimal(member.availability_units, "en")
        per_unit = int(fees[member.discipline.value])
        capped_nl = "" if amount == fee else f", verlaagd van {eur(fee, 'nl')} omdat het budget ontoereikend is"
        capped_en = "" if amount == fee else f", reduced from {eur(fee, 'en')} because the budget falls short"
        lines.append(
            ExplanationLine(
                member.agb,
                step,
                MODEL.name,
                f"{member.availability_units} units x {per_unit} cents",
                amount,
                f"{eur(amount, 'nl')}: beschikbaarheid {units_nl} eenheid × {eur(per_unit, 'nl')} "
                f"({DISCIPLINE_NL[member.discipline]}){capped_nl}",
                f"{eur(amount, 'en')}: availability {units_en} units × {eur(per_unit, 'en')} "
                f"({DISCIPLINE_EN[member.discipline]}){capped_en}",
            )
        )
    return Allocation(sum(paid), tuple(lines))


MODEL = register(
    Model(
        name="availability",
        kind=StepKind.TOP_SLICE,
        title_nl="Beschikbaarheidsvergoeding",
        title_en="Availability fee",
        description_nl=(
            "Geboortezorg is ook acute zorg: 7 × 24 uur moeten verloskundigen, kraamverzorgenden, gynaecologen, "
            "verloskamers en OK klaarstaan, ook als er op dat moment geen bevalling is. Deze stap betaalt die "
            "paraatheid vooraf uit het budget, een vast bedrag per lid naar zijn toegezegde beschikbaarheid, los "
            "van het aantal cliënten."
        ),
        description_en=(
            "Birth care is also acute care: midwives, maternity carers, gynaecologists, delivery rooms and theatre "
            "must be ready 24/7, also when no one is giving birth. This step pays that readiness off the top: a "
            "fixed amount per member by its committed availability, independent of the number of clients."
        ),
        parameters=AvailabilityParameters,
        allocate=allocate,
    )
)
