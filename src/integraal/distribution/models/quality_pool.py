"""Quality bonus pool (kwaliteitspot): a percentage off the top, paid out by quality indicator scores.

Formula: ``pool = pool_pct × received`` (half-up, at most the budget left). A member's score is the weighted
mean of its indicator scores, ``s_i = Σ_k w_k × score_i,k / Σ_k w_k`` (missing score: 0; no weights given: every
indicator in the data weighs 1). Members with ``s_i ≥ threshold`` qualify (the gate) and share the pool in
proportion to ``s_i × size_i``, where ``size`` is 1 (``equal``) or the member's shadow claims (``shadow``, so a
large and a small member with the same score get the same bonus *rate*). If nobody qualifies, the pool stays with
the IGO as a quality fund, to be reinvested in improvement (seed 003 §2.4).
Promise (monotonicity): with everything else fixed, a member with a higher score never gets less.
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
    percent_of,
    split_lines,
)
from integraal.distribution.inputs import DistributionInput
from integraal.distribution.parameters import ParameterKind, Parameters, as_dict, parameter, table
from integraal.distribution.registry import Model, StepKind, register


@dataclass(frozen=True, slots=True)
class QualityPoolParameters(Parameters):
    pool_pct: Decimal = parameter(  # noqa: RUF009 (parameter() is dataclasses.field with metadata)
        ParameterKind.PERCENT,
        Decimal(3),
        "Omvang kwaliteitspot (% van de ontvangsten)",
        "Size of the quality pool (% of money received)",
        unit="%",
        minimum=0,
        maximum=100,
    )
    threshold: Decimal = parameter(  # noqa: RUF009 (parameter() is dataclasses.field with metadata)
        ParameterKind.DECIMAL,
        Decimal("0.6"),
        "Drempel (minimale score om mee te delen)",
        "Threshold (minimum score to share)",
        unit="score 0–1",
        minimum=0,
        maximum=1,
    )
    indicator_weights: tuple[tuple[str, Decimal], ...] = parameter(
        ParameterKind.TABLE,
        table(),
        "Gewicht per indicator",
        "Weight per indicator",
        minimum=0,
        maximum=1000,
        help_nl="Leeg: alle indicatoren tellen even zwaar.",
        help_en="Empty: all indicators weigh the same.",
    )
    size_basis: str = parameter(
        ParameterKind.CHOICE,
        "shadow",
        "Omvang van een lid",
        "Size of a member",
        choices=("equal", "shadow"),
        help_nl="Gelijk per lid, of naar de omvang van zijn zorg (schaduwdeclaraties).",
        help_en="Equal per member, or by the size of its care (shadow claims).",
    )


def member_scores(data: DistributionInput, params: QualityPoolParameters) -> dict[str, tuple[Decimal, Decimal]]:
    """Per member (weighted score sum, weight sum); the score is their quotient."""
    weights = as_dict(params.indicator_weights)
    if not weights:
        weights = {q.indicator: Decimal(1) for q in data.quality}
    total_weight = sum(weights.values(), Decimal(0))
    sums = dict.fromkeys(data.member_agbs(), Decimal(0))
    for q in data.quality:
        sums[q.agb] += weights.get(q.indicator, Decimal(0)) * q.score
    return {agb: (s, total_weight) for agb, s in sums.items()}


def allocate(budget: Budget, data: DistributionInput, params: QualityPoolParameters, step: str) -> Allocation:
    pool = min(percent_of(budget.received_cents, params.pool_pct), budget.total)
    size = data.shadow_by_member() if params.size_basis == "shadow" else dict.fromkeys(data.member_agbs(), 1)
    scores = member_scores(data, params)
    weights: dict[str, int] = {}
    for agb, (score_sum, weight_sum) in scores.items():
        qualifies = weight_sum > 0 and score_sum >= params.threshold * weight_sum
        weights[agb] = fixed_point(score_sum / weight_sum) * size[agb] if qualifies else 0

    def texts(agb: str, weight: int, part: int) -> tuple[str, str, str]:
        score_sum, weight_sum = scores[agb]
        score = score_sum / weight_sum
        return (
            f"score {fixed_point(score) / FIXED_POINT} x size {size[agb]}",
            f"{eur(part, 'nl')}: kwaliteitspot {eur(pool, 'nl')}, score {fmt_decimal(score, 'nl', 3)} "
            f"(drempel {fmt_decimal(params.threshold, 'nl', 3)})",
            f"{eur(part, 'en')}: quality pool {eur(pool, 'en')}, score {fmt_decimal(score, 'en', 3)} "
            f"(threshold {fmt_decimal(params.threshold, 'en', 3)})",
        )

    lines = split_lines(
        pool,
        weights,
        step=step,
        model=MODEL.name,
        texts=texts,
        no_basis=(
            "geen lid haalde de kwaliteitsdrempel; kwaliteitsfonds voor herinvestering",
            "no member reached the quality threshold; quality fund for reinvestment",
        ),
    )
    return Allocation(pool, tuple(lines))


MODEL = register(
    Model(
        name="quality_pool",
        kind=StepKind.TOP_SLICE,
        title_nl="Kwaliteitspot",
        title_en="Quality bonus pool",
        description_nl=(
            "Kwaliteit voorop, geld volgt: een percentage van de ontvangsten gaat naar een pot die wordt "
            "uitgekeerd aan leden die op de afgesproken kwaliteitsindicatoren boven de drempel scoren, naar hun "
            "score. Haalt niemand de drempel, dan blijft het geld als kwaliteitsfonds bij de IGO voor verbetering."
        ),
        description_en=(
            "Quality leads, money follows: a percentage of the money received goes into a pool paid to members "
            "who score above the threshold on the agreed quality indicators, by their score. If nobody reaches the "
            "threshold, the money stays with the IGO as a quality fund for improvement."
        ),
        parameters=QualityPoolParameters,
        allocate=allocate,
    )
)
