"""Overhead and reserve for the IGO itself (afdracht IGO: ICT, management, reserve), off the top.

Formula: ``slice = fixed + percentage × received`` (half-up to a cent), at most what is left of the budget. The
percentage is of the total received for the period, so the order of top-slices only matters when money runs out.
The slice goes to the recipient ``IGO``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from integraal.distribution.allocation import Allocation, Budget, eur, fmt_decimal, igo_line, percent_of
from integraal.distribution.inputs import DistributionInput
from integraal.distribution.parameters import ParameterKind, Parameters, parameter
from integraal.distribution.registry import Model, StepKind, register

PURPOSES = {
    "ict": ("ICT en gegevensuitwisseling", "ICT and data exchange"),
    "management": ("bestuur en bedrijfsvoering", "management and administration"),
    "reserve": ("reserve", "reserve"),
    "other": ("overige IGO-kosten", "other IGO costs"),
}


@dataclass(frozen=True, slots=True)
class OverheadParameters(Parameters):
    purpose: str = parameter(ParameterKind.CHOICE, "management", "Doel", "Purpose", choices=tuple(PURPOSES))
    percentage: Decimal = parameter(  # noqa: RUF009 (parameter() is dataclasses.field with metadata)
        ParameterKind.PERCENT,
        Decimal(0),
        "Percentage van de ontvangsten",
        "Percentage of the money received",
        unit="%",
        minimum=0,
        maximum=100,
    )
    fixed_cents: int = parameter(
        ParameterKind.CENTS, 0, "Vast bedrag per periode", "Fixed amount per period", unit="cent", minimum=0
    )


def allocate(budget: Budget, data: DistributionInput, params: OverheadParameters, step: str) -> Allocation:
    wanted = params.fixed_cents + percent_of(budget.received_cents, params.percentage)
    amount = min(wanted, budget.total)
    if amount == 0:
        return Allocation(0, ())
    nl, en = PURPOSES[params.purpose]
    short_nl = "" if amount == wanted else f" (beperkt tot het resterende budget; gevraagd {eur(wanted, 'nl')})"
    short_en = "" if amount == wanted else f" (limited to the budget left; asked {eur(wanted, 'en')})"
    line = igo_line(
        amount,
        step=step,
        model=MODEL.name,
        basis=f"{params.fixed_cents} cents + {params.percentage}% of {budget.received_cents}",
        text_nl=f"{eur(amount, 'nl')}: afdracht IGO voor {nl}: {eur(params.fixed_cents, 'nl')} vast + "
        f"{fmt_decimal(params.percentage, 'nl')} % van {eur(budget.received_cents, 'nl')}{short_nl}",
        text_en=f"{eur(amount, 'en')}: IGO share for {en}: {eur(params.fixed_cents, 'en')} fixed + "
        f"{fmt_decimal(params.percentage, 'en')} % of {eur(budget.received_cents, 'en')}{short_en}",
    )
    return Allocation(amount, (line,))


MODEL = register(
    Model(
        name="overhead",
        kind=StepKind.TOP_SLICE,
        title_nl="Afdracht voor de IGO (ICT, bestuur, reserve)",
        title_en="Overhead and reserve for the IGO",
        description_nl=(
            "De IGO zelf heeft kosten: ICT en gegevensuitwisseling, bestuur en bedrijfsvoering, en een reserve "
            "voor tegenvallers. Deze stap houdt daarvoor een vast bedrag en/of een percentage van de ontvangsten "
            "in, voordat de leden delen."
        ),
        description_en=(
            "The IGO itself has costs: ICT and data exchange, management and administration, and a reserve for "
            "setbacks. This step keeps a fixed amount and/or a percentage of the money received for them, before "
            "the members share."
        ),
        parameters=OverheadParameters,
        allocate=allocate,
    )
)
