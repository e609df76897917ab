"""Hypothesis strategies and small builders for the distribution tests."""

from __future__ import annotations

from decimal import Decimal
from random import Random

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from integraal.distribution import (
    ActivityCount,
    Allocation,
    Budget,
    ClientProfile,
    DistributionInput,
    Member,
    PregnancyRow,
    QualityScore,
    Receipt,
    ShadowClaim,
    get_model,
)
from integraal.distribution.parameters import Parameters
from integraal.domain.phase import PHASES, Phase
from integraal.domain.provider import Discipline
from integraal.rules.decision import Outcome

YEAR = 2025
PROPERTY = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ACTIVITY_TYPES = ("consult", "echo", "delivery", "kraam_hour")
INDICATORS = ("experience", "outcome", "process")
DISCIPLINES = (Discipline.MIDWIFE, Discipline.HOSPITAL, Discipline.GYNAECOLOGIST, Discipline.KRAAMZORG)


def member(agb: str, discipline: Discipline, units: str = "0") -> Member:
    return Member(agb, discipline, availability_units=Decimal(units))


def claim(pregnancy_id: str, phase: Phase, agb: str, cents: int) -> ShadowClaim:
    return ShadowClaim(pregnancy_id, phase, agb, cents)


def budget_of(data: DistributionInput) -> Budget:
    return Budget.of(data.received_by_phase())


def run(
    model: str, data: DistributionInput, params: Parameters | None = None, budget: Budget | None = None
) -> Allocation:
    m = get_model(model)
    return m.run(budget or budget_of(data), data, params if params is not None else m.default_parameters())


@st.composite
def distribution_inputs(draw: st.DrawFn, max_members: int = 6, max_pregnancies: int = 8) -> DistributionInput:
    agbs = draw(st.lists(st.integers(10_000_000, 99_999_999), min_size=1, max_size=max_members, unique=True))
    members = tuple(
        Member(
            str(a),
            draw(st.sampled_from(DISCIPLINES)),
            availability_units=Decimal(draw(st.integers(0, 8))) / 4,
        )
        for a in agbs
    )
    agb_list = [m.agb for m in members]
    pregnancy_ids = [f"P{i}" for i in range(draw(st.integers(0, max_pregnancies)))]
    pregnancies = tuple(
        PregnancyRow(
            pid,
            draw(st.sampled_from(list(ClientProfile))),
            tuple(
                (phase, draw(st.sampled_from([Outcome.INTEGRAL, Outcome.INTEGRAL, Outcome.FALLBACK])))
                for phase in PHASES
            ),
        )
        for pid in pregnancy_ids
    )
    claims: list[ShadowClaim] = []
    activities: list[ActivityCount] = []
    for pid in pregnancy_ids:
        for agb in draw(st.lists(st.sampled_from(agb_list), max_size=3, unique=True)):
            phase = draw(st.sampled_from(PHASES))
            claims.append(ShadowClaim(pid, phase, agb, draw(st.integers(0, 300_000))))
            activities.append(
                ActivityCount(agb, draw(st.sampled_from(ACTIVITY_TYPES)), Decimal(draw(st.integers(0, 40))) / 2, pid)
            )
    receipts = [Receipt(phase, draw(st.integers(0, 5_000_000))) for phase in PHASES]
    receipts += [Receipt(draw(st.sampled_from(PHASES)), draw(st.integers(0, 200_000)), pid) for pid in pregnancy_ids]
    quality = tuple(
        QualityScore(agb, indicator, Decimal(draw(st.integers(0, 100))) / 100)
        for agb in agb_list
        for indicator in INDICATORS
        if draw(st.booleans())
    )
    return DistributionInput(
        YEAR,
        members,
        tuple(receipts),
        pregnancies,
        tuple(claims),
        tuple(activities),
        quality,
    )


def shuffled(data: DistributionInput, seed: int) -> DistributionInput:
    """The same input with every table in another order (and the phase receipts split differently)."""
    rng = Random(seed)

    def mix(rows: tuple[object, ...]) -> tuple[object, ...]:
        out = list(rows)
        rng.shuffle(out)
        return tuple(out)

    return data.replace(
        members=mix(data.members),
        receipts=mix(data.receipts),
        pregnancies=mix(data.pregnancies),
        shadow_claims=mix(data.shadow_claims),
        activities=mix(data.activities),
        quality=mix(data.quality),
    )
