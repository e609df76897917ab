"""Distribution plans: top-slices then one main model, per year, summing exactly (issue 5, part 1)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from distribution_strategies import PROPERTY, YEAR, claim, distribution_inputs, member, shuffled
from hypothesis import given
from hypothesis import strategies as st

from integraal.distribution import (
    IGO,
    DistributionInput,
    DistributionPlan,
    ParameterError,
    PlanStep,
    Receipt,
    plan_from_mapping,
    run_plan,
    run_plan_detailed,
    table,
)
from integraal.distribution.models.availability import AvailabilityParameters
from integraal.distribution.models.overhead import OverheadParameters
from integraal.distribution.models.quality_pool import QualityPoolParameters
from integraal.domain.phase import Phase
from integraal.domain.provider import Discipline

A, H, K = "10000001", "20000001", "30000001"


def test_plan_takes_top_slices_from_the_phases_then_the_main_model_divides_the_rest() -> None:
    """Received: prenatal 600000, postnatal 400000 (1000000).
    1. overhead 2 % = 20000 → IGO; taken 600:400 → prenatal 588000, postnatal 392000.
    2. availability: A 1 unit × 100000 → A; taken 588:392 → 60000/40000 → prenatal 528000, postnatal 352000.
    3. shadow FFS: prenatal A 30000 : H 30000 → 264000 each; postnatal only K → 352000.
    A 100000+264000 = 364000, H 264000, K 352000, IGO 20000 = 1000000.
    """
    data = DistributionInput(
        YEAR,
        (member(A, Discipline.MIDWIFE, "1"), member(H, Discipline.HOSPITAL), member(K, Discipline.KRAAMZORG)),
        receipts=(Receipt(Phase.PRENATAL, 600_000), Receipt(Phase.POSTNATAL, 400_000)),
        shadow_claims=(
            claim("P1", Phase.PRENATAL, A, 30_000),
            claim("P1", Phase.PRENATAL, H, 30_000),
            claim("P1", Phase.POSTNATAL, K, 50_000),
        ),
    )
    plan = DistributionPlan(
        YEAR,
        (
            PlanStep("overhead", OverheadParameters(percentage=Decimal(2))),
            PlanStep("availability", AvailabilityParameters(fee_per_unit=table(midwife=100_000))),
            PlanStep("shadow_ffs"),
        ),
    )
    detailed = run_plan_detailed(plan, data)
    assert detailed.allocation.amounts() == {A: 364_000, H: 264_000, K: 352_000, IGO: 20_000}
    assert detailed.steps == (("overhead", 20_000), ("availability", 100_000), ("shadow_ffs", 880_000))
    assert {line.step for line in detailed.allocation.lines_for(A)} == {"availability", "shadow_ffs"}


def test_plan_must_end_with_exactly_one_main_model() -> None:
    bad = DistributionPlan(YEAR, (PlanStep("shadow_ffs"), PlanStep("overhead")))
    fields = [p.field for p in bad.problems()]
    assert fields == ["steps[0]", "steps[1]"]
    with pytest.raises(ParameterError):
        run_plan(bad, DistributionInput(YEAR, ()))


def test_plan_for_another_year_is_refused() -> None:
    with pytest.raises(ValueError, match="2024"):
        run_plan(DistributionPlan(2024, (PlanStep("shadow_ffs"),)), DistributionInput(YEAR, ()))


def test_plan_from_plain_data_names_every_bad_field() -> None:
    with pytest.raises(ParameterError) as error:
        plan_from_mapping(
            YEAR,
            [
                {"model": "overhead", "parameters": {"percentage": "150", "colour": "red"}},
                {"model": "nonsense"},
                {"model": "discipline_shares", "parameters": {"prenatal": {"midwife": 70}}},
            ],
        )
    fields = set(error.value.fields)
    assert {"steps[0].percentage", "steps[0].colour", "steps[1].model", "steps[2].prenatal"} <= fields


def test_plan_from_plain_data_builds_typed_steps() -> None:
    plan = plan_from_mapping(
        YEAR,
        [
            {"model": "quality_pool", "parameters": {"pool_pct": "2,5", "threshold": 0.5}, "label": "kwaliteit"},
            {"model": "capitation"},
        ],
    )
    assert plan.steps[0].parameters == QualityPoolParameters(pool_pct=Decimal("2.5"), threshold=Decimal("0.5"))
    assert plan.steps[0].name == "kwaliteit"


STANDARD_PLAN = DistributionPlan(
    YEAR,
    (
        PlanStep("overhead", OverheadParameters(percentage=Decimal(3), fixed_cents=50_000), label="ict"),
        PlanStep("overhead", OverheadParameters(purpose="reserve", percentage=Decimal(1)), label="reserve"),
        PlanStep("availability"),
        PlanStep("quality_pool"),
        PlanStep("capitation"),
    ),
)


@PROPERTY
@given(data=distribution_inputs(), main=st.sampled_from(["capitation", "shadow_ffs", "gain_sharing", "shapley"]))
def test_plan_run_sums_exactly_to_the_money_received(data: DistributionInput, main: str) -> None:
    plan = DistributionPlan(YEAR, (*STANDARD_PLAN.steps[:-1], PlanStep(main)))
    allocation = run_plan(plan, data)
    assert allocation.distributed_cents == sum(r.amount_cents for r in data.receipts)
    assert sum(allocation.amounts().values()) == allocation.distributed_cents
    assert all(amount >= 0 for recipient, amount in allocation.amounts().items() if recipient != IGO)


@PROPERTY
@given(data=distribution_inputs(), seed=st.integers(0, 2**32))
def test_plan_run_is_order_independent(data: DistributionInput, seed: int) -> None:
    assert run_plan(STANDARD_PLAN, shuffled(data, seed)) == run_plan(STANDARD_PLAN, data)
