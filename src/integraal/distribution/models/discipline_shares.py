"""Fixed shares per discipline per phase (vaste verdeelsleutel per discipline), then within a discipline.

Formula: ``amount_d,p = budget_p × share_d,p / 100`` for every discipline d and phase p (largest remainder over
the disciplines, in the order of the ``Discipline`` enum); then each discipline's amount is divided over its
members by shadow claims, activity counts or in equal parts. A discipline with a share but no member (or no
care to divide on) leaves its share with the IGO, explained, for the board to decide.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from integraal.distribution.allocation import (
    Allocation,
    Budget,
    ExplanationLine,
    eur,
    fmt_decimal,
    split_exact,
    split_lines,
)
from integraal.distribution.inputs import DistributionInput
from integraal.distribution.models.common import (
    DISCIPLINE_EN,
    DISCIPLINE_NL,
    PHASE_EN,
    PHASE_NL,
    WITHIN_CHOICES,
    WITHIN_EN,
    WITHIN_NL,
    within_discipline_weights,
)
from integraal.distribution.parameters import (
    ParameterKind,
    ParameterProblem,
    Parameters,
    as_dict,
    parameter,
    table,
)
from integraal.distribution.registry import Model, StepKind, register
from integraal.domain.phase import Phase
from integraal.domain.provider import Discipline

DISCIPLINES = tuple(d.value for d in Discipline)


_SHARE_OPTIONS: dict[str, Any] = {
    "unit": "%",
    "minimum": 0,
    "maximum": 100,
    "keys": DISCIPLINES,
    "help_nl": "Percentages per discipline die samen 100 zijn.",
    "help_en": "Percentages per discipline adding up to 100.",
}


@dataclass(frozen=True, slots=True)
class DisciplineSharesParameters(Parameters):
    prenatal: tuple[tuple[str, Decimal], ...] = parameter(
        ParameterKind.TABLE,
        table(midwife=60, gynaecologist=15, hospital=15, ultrasound=10),
        "Aandeel per discipline, prenatale fase",
        "Share per discipline, prenatal phase",
        **_SHARE_OPTIONS,
    )
    natal: tuple[tuple[str, Decimal], ...] = parameter(
        ParameterKind.TABLE,
        table(midwife=30, gynaecologist=25, hospital=45),
        "Aandeel per discipline, natale fase",
        "Share per discipline, natal phase",
        **_SHARE_OPTIONS,
    )
    postnatal: tuple[tuple[str, Decimal], ...] = parameter(
        ParameterKind.TABLE,
        table(kraamzorg=75, midwife=20, hospital=5),
        "Aandeel per discipline, postnatale fase",
        "Share per discipline, postnatal phase",
        **_SHARE_OPTIONS,
    )
    within: str = parameter(
        ParameterKind.CHOICE,
        "claims",
        "Verdeling binnen een discipline",
        "Split within a discipline",
        choices=WITHIN_CHOICES,
        help_nl="Naar schaduwdeclaraties, naar aantal activiteiten, of in gelijke delen.",
        help_en="By shadow claims, by activity counts, or in equal parts.",
    )

    def shares(self, phase: Phase) -> dict[str, Decimal]:
        return as_dict(getattr(self, phase.value))

    def cross_checks(self) -> list[ParameterProblem]:
        problems = [
            ParameterProblem(f"{phase.value}.{key}", "at most two decimals")
            for phase in Phase
            for key, pct in self.shares(phase).items()
            if pct != pct.quantize(Decimal("0.01"))
        ]
        return problems + [
            ParameterProblem(phase.value, f"shares add up to {total} %, not 100 %")
            for phase in Phase
            if (total := sum(self.shares(phase).values(), Decimal(0))) != 100
        ]


def allocate(budget: Budget, data: DistributionInput, params: DisciplineSharesParameters, step: str) -> Allocation:
    lines: list[ExplanationLine] = []
    for phase, amount in budget.by_phase:
        shares = params.shares(phase)
        disciplines = [d for d in Discipline if d.value in shares]
        # Percentages with up to two decimals become whole hundredths before the split.
        parts = split_exact(amount, [int(shares[d.value] * 100) for d in disciplines])
        for discipline, part in zip(disciplines, parts, strict=True):
            pct = shares[discipline.value]
            weights = within_discipline_weights(data, discipline, params.within, phase)
            total = sum(weights.values())

            def texts(
                agb: str,
                weight: int,
                share: int,
                d: Discipline = discipline,
                pct: Decimal = pct,
                total: int = total,
                p: Phase = phase,
                part: int = part,
            ) -> tuple[str, str, str]:
                return (
                    f"{pct}% {d.value} {p.value}; {params.within} {weight}/{total}",
                    f"{eur(share, 'nl')}: {fmt_decimal(pct, 'nl')} % voor {DISCIPLINE_NL[d]} in de {PHASE_NL[p]} "
                    f"({eur(part, 'nl')}), verdeeld naar {WITHIN_NL[params.within]}",
                    f"{eur(share, 'en')}: {fmt_decimal(pct, 'en')} % for {DISCIPLINE_EN[d]} in the {PHASE_EN[p]} "
                    f"({eur(part, 'en')}), split by {WITHIN_EN[params.within]}",
                )

            lines.extend(
                split_lines(
                    part,
                    weights,
                    step=step,
                    model=MODEL.name,
                    texts=texts,
                    no_basis=(
                        f"aandeel {DISCIPLINE_NL[discipline]} in de {PHASE_NL[phase]}: geen lid met zorg",
                        f"share of {DISCIPLINE_EN[discipline]} in the {PHASE_EN[phase]}: no member with care",
                    ),
                )
            )
    return Allocation(budget.total, tuple(lines))


MODEL = register(
    Model(
        name="discipline_shares",
        kind=StepKind.MAIN,
        title_nl="Vaste verdeelsleutel per discipline per fase",
        title_en="Fixed shares per discipline per phase",
        description_nl=(
            "Het bestuur spreekt per fase een vast percentage per discipline af (bijvoorbeeld prenataal 70 % "
            "verloskundigen, 30 % ziekenhuis). Binnen een discipline wordt verdeeld naar geleverde zorg. De eerste "
            "stap weg van de schaduwdeclaratie: voorspelbaar en eenvoudig, los van de tarieven per handeling."
        ),
        description_en=(
            "The board agrees a fixed percentage per discipline per phase (e.g. prenatal 70 % midwives, 30 % "
            "hospital). Within a discipline the money follows the care delivered. The usual first step away from "
            "shadow fee-for-service: predictable and simple, independent of the tariff per act."
        ),
        parameters=DisciplineSharesParameters,
        allocate=allocate,
    )
)
