"""Transition (issue 5, part 3): blend old and new model with α per year, and a corridor on each member's
change, funded within the budget. Feasibility: Σ lo_i ≤ B ≤ Σ hi_i (docs/distribution.md)."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from distribution_strategies import PROPERTY, YEAR, distribution_inputs
from hypothesis import given
from hypothesis import strategies as st

from integraal.distribution import (
    IGO,
    Allocation,
    Corridor,
    DistributionInput,
    DistributionPlan,
    ExplanationLine,
    PlanStep,
    TransitionSchedule,
    TransitionYear,
    apply_corridor,
    blend,
    run_transition,
)
from integraal.distribution.models.overhead import OverheadParameters
from integraal.domain.money import split_largest_remainder

A, H = "10000001", "20000001"


def allocation(amounts: dict[str, int]) -> Allocation:
    lines = tuple(ExplanationLine(r, "test", "test", "", a, "", "") for r, a in amounts.items())
    return Allocation(sum(amounts.values()), lines)


OLD = allocation({A: 60_000, H: 40_000})
NEW = allocation({A: 40_000, H: 50_000, IGO: 10_000})


def test_blend_a_quarter_of_the_new_model() -> None:
    """α = 0.25: IGO 0.75·0 + 0.25·10000 = 2500; A 0.75·60000 + 0.25·40000 = 55000;
    H 0.75·40000 + 0.25·50000 = 42500. Sum 100000."""
    assert blend(OLD, NEW, Decimal("0.25")).amounts() == {A: 55_000, H: 42_500, IGO: 2_500}


def test_blend_at_alpha_zero_and_one_is_the_old_and_the_new_model() -> None:
    assert blend(OLD, NEW, Decimal(0)).amounts() == {**OLD.amounts(), IGO: 0}
    assert blend(OLD, NEW, Decimal(1)).amounts() == NEW.amounts()


def test_corridor_holds_a_member_at_its_floor_paid_from_the_others_gain() -> None:
    """Blend at α 0.25 (above): A 55000, H 42500, IGO 2500. Corridor −5 %: A's floor 60000 − 3000 = 57000.
    A is held up by 2000; H's gain over its reference is 42500 − 40000 = 2500, so H pays the 2000 → 40500.
    A 57000 + H 40500 + IGO 2500 = 100000."""
    result = apply_corridor(OLD, blend(OLD, NEW, Decimal("0.25")), Corridor(Decimal(5)))
    assert result.allocation.amounts() == {A: 57_000, H: 40_500, IGO: 2_500}
    assert result.held_up == (A,)
    assert result.feasible
    assert "bodem" in result.allocation.lines_for(A)[-1].text_nl


def test_corridor_with_a_gain_cap_releases_the_excess_first() -> None:
    """Corridor −5 % / +5 %: H's cap is 42000, so 500 is released to A (55500). A is still below its floor
    57000: held up by 1500, paid from H's remaining gain (42000 − 40000 = 2000) → H 40500."""
    result = apply_corridor(OLD, blend(OLD, NEW, Decimal("0.25")), Corridor(Decimal(5), Decimal(5)))
    assert result.allocation.amounts() == {A: 57_000, H: 40_500, IGO: 2_500}
    assert result.capped == (H,)


def test_infeasible_corridor_is_reported_and_still_sums_exactly() -> None:
    """Reference A 100000, H 100000; target gives the IGO 50000 of 200000: B = 150000 < Σ floors 190000.
    Members get B in proportion to their floors (95000 : 95000) → 75000 each; flagged infeasible."""
    result = apply_corridor(
        allocation({A: 100_000, H: 100_000}), allocation({A: 150_000, IGO: 50_000}), Corridor(Decimal(5))
    )
    assert not result.feasible
    assert result.allocation.amounts() == {A: 75_000, H: 75_000, IGO: 50_000}


@st.composite
def reference_and_target(draw: st.DrawFn, same_igo: bool = False) -> tuple[Allocation, Allocation]:
    agbs = [str(a) for a in draw(st.lists(st.integers(10_000_000, 99_999_999), min_size=1, max_size=7, unique=True))]
    reference = {a: draw(st.integers(0, 1_000_000)) for a in agbs}
    reference[IGO] = draw(st.integers(0, 200_000))
    total = sum(reference.values())
    igo = reference[IGO] if same_igo else draw(st.integers(0, total))
    weights = [draw(st.integers(0, 1_000)) for _ in agbs]
    target = dict(zip(agbs, split_largest_remainder(total - igo, weights), strict=True))
    target[IGO] = igo
    return allocation(reference), allocation(target)


corridors = st.builds(
    Corridor,
    st.integers(0, 30).map(Decimal),
    st.one_of(st.none(), st.integers(0, 30).map(Decimal)),
)


@PROPERTY
@given(pair=reference_and_target(), corridor=corridors)
def test_corridor_keeps_every_member_within_its_band_when_feasible(
    pair: tuple[Allocation, Allocation], corridor: Corridor
) -> None:
    """Feasible iff Σ lo_i ≤ B ≤ Σ hi_i; then lo_i ≤ x_i ≤ hi_i for every member; always an exact total."""
    reference, target = pair
    result = apply_corridor(reference, target, corridor)
    ref, out = reference.amounts(), result.allocation.amounts()
    members = [r for r in ref if r != IGO]
    budget = target.distributed_cents - target.amount(IGO)
    lows = {a: corridor.floor(ref[a]) for a in members}
    highs = {a: corridor.cap(ref[a]) for a in members}
    condition = sum(lows.values()) <= budget and (
        any(h is None for h in highs.values()) or budget <= sum(h for h in highs.values() if h is not None)
    )
    assert result.feasible == condition
    assert sum(out.values()) == target.distributed_cents
    if condition:
        for a in members:
            high = highs[a]
            assert lows[a] <= out.get(a, 0), (a, lows[a], out.get(a, 0))
            assert high is None or out.get(a, 0) <= high
        assert out.get(IGO, 0) == target.amount(IGO)


@PROPERTY
@given(pair=reference_and_target(same_igo=True), corridor=corridors)
def test_corridor_is_always_feasible_when_the_igo_share_is_unchanged(
    pair: tuple[Allocation, Allocation], corridor: Corridor
) -> None:
    assert apply_corridor(*pair, corridor).feasible


@PROPERTY
@given(pair=reference_and_target(), new_pair=reference_and_target(), alpha=st.integers(0, 100))
def test_blend_is_exact_and_within_a_cent_of_the_exact_mix(
    pair: tuple[Allocation, Allocation], new_pair: tuple[Allocation, Allocation], alpha: int
) -> None:
    old = pair[0]
    total = old.distributed_cents
    # Rescale the other allocation to the same total (members only, so it is a valid allocation).
    members = [r for r in new_pair[1].amounts() if r != IGO]
    new = allocation(
        dict(zip(members, split_largest_remainder(total, [new_pair[1].amount(m) for m in members]), strict=True))
    )
    a = Decimal(alpha) / 100
    mixed = blend(old, new, a)
    assert mixed.distributed_cents == total
    for recipient, amount in mixed.amounts().items():
        exact = (1 - Fraction(a)) * old.amount(recipient) + Fraction(a) * new.amount(recipient)
        assert abs(amount - exact) < Fraction(3, 2), (recipient, amount, exact)


OLD_PLAN = DistributionPlan(YEAR, (PlanStep("shadow_ffs"),))
NEW_PLAN = DistributionPlan(
    YEAR,
    (PlanStep("overhead", OverheadParameters(percentage=Decimal(2))), PlanStep("quality_pool"), PlanStep("capitation")),
)


@PROPERTY
@given(data=distribution_inputs(), alpha=st.sampled_from(["0.25", "0.5", "1"]), loss=st.integers(0, 10))
def test_transition_year_sums_exactly_and_respects_the_corridor_when_feasible(
    data: DistributionInput, alpha: str, loss: int
) -> None:
    setting = TransitionYear(YEAR, Decimal(alpha), Corridor(Decimal(loss)))
    result = run_transition(OLD_PLAN, NEW_PLAN, data, setting)
    paid = result.allocation.amounts()
    assert sum(paid.values()) == sum(r.amount_cents for r in data.receipts)
    old = result.old.amounts()
    if result.feasible:
        for agb in data.member_agbs():
            assert paid.get(agb, 0) >= old.get(agb, 0) - old.get(agb, 0) * loss // 100


def test_schedule_picks_the_setting_of_the_year() -> None:
    schedule = TransitionSchedule(
        (TransitionYear(2025, Decimal("0.25")), TransitionYear(2026, Decimal("0.5")), TransitionYear(2027, Decimal(1)))
    )
    assert schedule.for_year(2024).alpha == 0
    assert schedule.for_year(2026).alpha == Decimal("0.5")
    assert schedule.for_year(2030).alpha == 1


def test_alpha_outside_zero_to_one_is_refused() -> None:
    with pytest.raises(ValueError, match="alpha"):
        TransitionYear(YEAR, Decimal("1.5"))
    with pytest.raises(ValueError, match="max_loss_pct"):
        Corridor(Decimal(-1))
