"""Shadow fee-for-service (schaduwdeclaratie): each member in proportion to what it would have claimed alone.

Formula, per phase p: ``amount_i,p = budget_p × shadow_i,p / Σ_j shadow_j,p``, where ``shadow`` is the
monodisciplinary value (tariff × quantity) of the member's care in integral phases. A phase with no shadow claims
at all is divided by the whole period's shadow claims; with none in the whole period the money goes to the IGO.
Promise (monotonicity): with everything else fixed, a member with more claimable care never gets less.
"""

from __future__ import annotations

from dataclasses import dataclass

from integraal.distribution.allocation import Allocation, Budget, ExplanationLine, eur, split_lines
from integraal.distribution.inputs import DistributionInput
from integraal.distribution.models.common import PHASE_EN, PHASE_NL
from integraal.distribution.parameters import ParameterKind, Parameters, parameter
from integraal.distribution.registry import Model, StepKind, register


@dataclass(frozen=True, slots=True)
class ShadowFeeForServiceParameters(Parameters):
    basis: str = parameter(
        ParameterKind.CHOICE,
        "per_phase",
        "Verdeelgrondslag",
        "Basis",
        choices=("per_phase", "whole_period"),
        help_nl="Per fase verdelen naar de schaduwdeclaraties van die fase, of alles naar de hele periode.",
        help_en="Divide each phase by that phase's shadow claims, or everything by the whole period's.",
    )


def allocate(budget: Budget, data: DistributionInput, params: ShadowFeeForServiceParameters, step: str) -> Allocation:
    whole = data.shadow_by_member()
    lines: list[ExplanationLine] = []
    parts = [(None, budget.total)] if params.basis == "whole_period" else list(budget.by_phase)
    for phase, amount in parts:
        weights = whole if phase is None else data.shadow_by_member(phase)
        if phase is not None and sum(weights.values()) == 0:
            weights = whole
        total = sum(weights.values())
        where_nl = "de hele periode" if phase is None else PHASE_NL[phase]
        where_en = "the whole period" if phase is None else PHASE_EN[phase]

        def texts(
            agb: str, weight: int, part: int, total: int = total, nl: str = where_nl, en: str = where_en
        ) -> tuple[str, str, str]:
            return (
                f"shadow {weight}/{total} cents ({en})",
                f"{eur(part, 'nl')}: schaduwdeclaratie {eur(weight, 'nl')} van {eur(total, 'nl')} in {nl}",
                f"{eur(part, 'en')}: shadow claims {eur(weight, 'en')} of {eur(total, 'en')} in {en}",
            )

        lines.extend(split_lines(amount, weights, step=step, model=MODEL.name, texts=texts))
    return Allocation(budget.total, tuple(lines))


MODEL = register(
    Model(
        name="shadow_ffs",
        kind=StepKind.MAIN,
        title_nl="Schaduwdeclaratie (verdeling naar monodisciplinaire tarieven)",
        title_en="Shadow fee-for-service",
        description_nl=(
            "Ieder lid krijgt naar rato van wat het zelf zou hebben gedeclareerd (tarief × aantal) voor de zorg "
            "in integraal gedeclareerde fasen. De gebruikelijke startsituatie: niemand gaat erop voor- of "
            "achteruit ten opzichte van de oude bekostiging, maar er zit geen prikkel in voor kwaliteit of "
            "samenwerking."
        ),
        description_en=(
            "Each member gets a share in proportion to what it would have claimed on its own (tariff × quantity) "
            "for care in integrally claimed phases. The usual starting point: nobody wins or loses against the old "
            "funding, but it rewards volume, not quality or cooperation."
        ),
        parameters=ShadowFeeForServiceParameters,
        allocate=allocate,
    )
)
