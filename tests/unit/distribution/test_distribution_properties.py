"""Hypothesis properties of every distribution model (issue 5, part 2): exact sums, no negative shares unless the
model allows them, order-independence, and monotonicity where a model promises it."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest
from distribution_strategies import PROPERTY, budget_of, distribution_inputs, run, shuffled
from hypothesis import given
from hypothesis import strategies as st

from integraal.distribution import (
    IGO,
    ActivityCount,
    ClientProfile,
    DistributionInput,
    PregnancyRow,
    QualityScore,
    ShadowClaim,
    StepKind,
    get_model,
    models,
    table,
)
from integraal.distribution.models.availability import AvailabilityParameters
from integraal.distribution.models.discipline_shares import DisciplineSharesParameters
from integraal.distribution.models.gain_sharing import GainSharingParameters
from integraal.distribution.models.overhead import OverheadParameters
from integraal.distribution.models.quality_pool import QualityPoolParameters
from integraal.distribution.models.relative_value import RelativeValueParameters
from integraal.distribution.parameters import Parameters
from integraal.domain.phase import PHASES, Phase
from integraal.rules.decision import Outcome

ALL_MODELS = sorted(models())

# Parameter sets that exercise more than the defaults (a binding cap, a small pool, tight shares ...).
GAIN_VARIANT = GainSharingParameters(member_share_pct=Decimal(80), max_gain_pct=Decimal(3))
VARIANTS: dict[str, Parameters] = {
    "availability": AvailabilityParameters(fee_per_unit=table(midwife=3_000_000, hospital=900_000, kraamzorg=1)),
    "discipline_shares": DisciplineSharesParameters(
        prenatal=table(midwife="33.33", hospital="66.67"), within="activities"
    ),
    "gain_sharing": GAIN_VARIANT,
    "overhead": OverheadParameters(percentage=Decimal("7.5"), fixed_cents=333),
    "quality_pool": QualityPoolParameters(pool_pct=Decimal(10), threshold=Decimal("0.3"), size_basis="equal"),
    "relative_value": RelativeValueParameters(points=table(consult=1, echo="2.5", kraam_hour="0.25")),
}


def params_for(name: str, variant: bool) -> Parameters | None:
    return VARIANTS.get(name) if variant else None


@pytest.mark.parametrize("name", ALL_MODELS)
@pytest.mark.parametrize("variant", [False, True])
@PROPERTY
@given(data=distribution_inputs())
def test_every_model_sums_exactly_and_pays_no_member_a_negative_amount(
    name: str, variant: bool, data: DistributionInput
) -> None:
    """Issue 5 §2: all money in cents; a main model distributes exactly the budget, a top-slice at most it; members
    never get a negative amount; only a model that declares it (gain sharing) may leave the IGO negative."""
    model = get_model(name)
    budget = budget_of(data)
    allocation = run(name, data, params_for(name, variant), budget)
    assert sum(allocation.amounts().values()) == allocation.distributed_cents
    if model.kind is StepKind.MAIN:
        assert allocation.distributed_cents == budget.total
    else:
        assert 0 <= allocation.distributed_cents <= budget.total
    for recipient, amount in allocation.amounts().items():
        if recipient == IGO and model.negative_igo:
            continue
        assert amount >= 0, (recipient, amount)
    assert set(allocation.amounts()) <= {m.agb for m in data.members} | {IGO}


@pytest.mark.parametrize("name", ALL_MODELS)
@PROPERTY
@given(data=distribution_inputs(), seed=st.integers(0, 2**32))
def test_every_model_is_independent_of_the_order_of_members_and_pregnancies(
    name: str, data: DistributionInput, seed: int
) -> None:
    """Shuffling every input table gives the very same allocation, line for line (ties go by AGB, not position)."""
    params = params_for(name, True)
    assert run(name, shuffled(data, seed), params) == run(name, data, params)


def _integral(data: DistributionInput, pregnancy_id: str) -> bool:
    return all(
        o is Outcome.INTEGRAL for row in data.pregnancies if row.pregnancy_id == pregnancy_id for _, o in row.outcomes
    )


@pytest.mark.parametrize("name", ["shadow_ffs", "discipline_shares"])
@PROPERTY
@given(
    data=distribution_inputs(), pick=st.integers(0, 100), extra=st.integers(1, 500_000), phase=st.sampled_from(PHASES)
)
def test_more_claimable_care_never_earns_a_member_less(
    name: str, data: DistributionInput, pick: int, extra: int, phase: Phase
) -> None:
    """Shadow FFS (and shares within a discipline by claims): one more integral shadow claim for a member, all
    else equal, never lowers its amount."""
    agb = data.members[pick % len(data.members)].agb
    more = data.replace(shadow_claims=(*data.shadow_claims, ShadowClaim("NEW", phase, agb, extra)))
    assert run(name, more).amount(agb) >= run(name, data).amount(agb)


@PROPERTY
@given(
    data=distribution_inputs(),
    pick=st.integers(0, 100),
    count=st.integers(1, 50),
    kind=st.sampled_from(["consult", "echo"]),
)
def test_relative_value_more_activities_never_earn_less(
    data: DistributionInput, pick: int, count: int, kind: str
) -> None:
    agb = data.members[pick % len(data.members)].agb
    params = VARIANTS["relative_value"]
    more = data.replace(activities=(*data.activities, ActivityCount(agb, kind, Decimal(count))))
    assert run("relative_value", more, params).amount(agb) >= run("relative_value", data, params).amount(agb)


@PROPERTY
@given(
    data=distribution_inputs(),
    pick=st.integers(0, 100),
    profile=st.sampled_from(list(ClientProfile)),
    care=st.integers(1, 300_000),
)
def test_capitation_one_more_weighted_pregnancy_never_earns_less(
    data: DistributionInput, pick: int, profile: ClientProfile, care: int
) -> None:
    """A member who alone cares for one more pregnancy (any profile with positive weight) never gets less."""
    agb = data.members[pick % len(data.members)].agb
    more = data.replace(
        pregnancies=(*data.pregnancies, PregnancyRow("NEW", profile)),
        shadow_claims=(*data.shadow_claims, ShadowClaim("NEW", PHASES[0], agb, care)),
    )
    assert run("capitation", more).amount(agb) >= run("capitation", data).amount(agb)


@PROPERTY
@given(data=distribution_inputs(), pick=st.integers(0, 100), heavier=st.sampled_from(list(ClientProfile)))
def test_capitation_a_heavier_profile_for_a_members_own_pregnancy_never_earns_it_less(
    data: DistributionInput, pick: int, heavier: ClientProfile
) -> None:
    agb = data.members[pick % len(data.members)].agb
    light = data.replace(
        pregnancies=(*data.pregnancies, PregnancyRow("OWN", ClientProfile.ENDED_EARLY)),
        shadow_claims=(*data.shadow_claims, ShadowClaim("OWN", PHASES[0], agb, 1_000)),
    )
    heavy = light.replace(pregnancies=(*data.pregnancies, PregnancyRow("OWN", heavier)))
    # ENDED_EARLY has the lowest default weight, so any other profile is at least as heavy.
    assert run("capitation", heavy).amount(agb) >= run("capitation", light).amount(agb)


@PROPERTY
@given(data=distribution_inputs(), pick=st.integers(0, 100), indicator=st.sampled_from(["experience", "outcome"]))
def test_quality_pool_a_higher_score_never_earns_less(data: DistributionInput, pick: int, indicator: str) -> None:
    agb = data.members[pick % len(data.members)].agb
    others = tuple(q for q in data.quality if (q.agb, q.indicator) != (agb, indicator))
    low = data.replace(quality=(*others, QualityScore(agb, indicator, Decimal("0.2"))))
    high = data.replace(quality=(*others, QualityScore(agb, indicator, Decimal("0.9"))))
    for params in (QualityPoolParameters(), VARIANTS["quality_pool"]):
        assert run("quality_pool", high, params).amount(agb) >= run("quality_pool", low, params).amount(agb)


@PROPERTY
@given(data=distribution_inputs(), pick=st.integers(0, 100), extra=st.integers(1, 8))
def test_availability_more_committed_units_never_earn_less(data: DistributionInput, pick: int, extra: int) -> None:
    target = data.members[pick % len(data.members)]
    bigger = dataclasses.replace(target, availability_units=target.availability_units + extra)
    more = data.replace(members=tuple(bigger if m is target else m for m in data.members))
    params = VARIANTS["availability"]
    assert run("availability", more, params).amount(target.agb) >= run("availability", data, params).amount(target.agb)


@PROPERTY
@given(data=distribution_inputs(), variant=st.booleans())
def test_gain_sharing_keeps_every_member_between_its_floor_and_cap(data: DistributionInput, variant: bool) -> None:
    """Promise: b_i − ⌊b_i·loss⌋ ≤ amount_i ≤ b_i + ⌊b_i·gain⌋, with b_i the member's benchmark line."""
    params = GAIN_VARIANT if variant else GainSharingParameters()
    allocation = run("gain_sharing", data, params)
    for agb in data.member_agbs():
        lines = [line for line in allocation.lines_for(agb) if line.basis.startswith("benchmark")]
        bench = lines[0].amount_cents if lines else 0
        change = allocation.amount(agb) - bench
        assert -int(bench * params.max_loss_pct / 100) <= change <= int(bench * params.max_gain_pct / 100)
        assert allocation.amount(agb) >= 0
