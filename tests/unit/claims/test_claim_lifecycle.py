"""The claim-line lifecycle: the full transition matrix, history, and credit/debit corrections.

Rules: DOMAIN.md §4 ("Corrections are credit/debit pairs: credit the old line, debit the new one") and the
transition table with its reasons in ``integraal.claims.lifecycle.TRANSITIONS``.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import product

import pytest
from hypothesis import given
from hypothesis import strategies as st

from integraal.claims.lifecycle import (
    TRANSITIONS,
    ClaimState,
    IllegalTransitionError,
    LifecycleError,
    LineKind,
    TrackedLine,
    correct,
    correction_chain,
    net_claimed_cents,
    new_debit,
    track,
    transition,
)
from integraal.domain.phase import Phase
from integraal.rules.decision import ClaimKind, ClaimLine

S = ClaimState
T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)

# The shortest road to each state from draft (corrected is reached via correct()).
ROADS: dict[ClaimState, tuple[ClaimState, ...]] = {
    S.DRAFT: (),
    S.READY: (S.READY,),
    S.SENT: (S.READY, S.SENT),
    S.ACCEPTED: (S.READY, S.SENT, S.ACCEPTED),
    S.PARTIALLY_ACCEPTED: (S.READY, S.SENT, S.PARTIALLY_ACCEPTED),
    S.REJECTED: (S.READY, S.SENT, S.REJECTED),
    S.PAID: (S.READY, S.SENT, S.ACCEPTED, S.PAID),
}


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def move(line: TrackedLine, to: ClaimState, minute: int = 0) -> TrackedLine:
    awarded = line.amount_cents // 2 if to is S.PARTIALLY_ACCEPTED else None
    return transition(line, to, at=at(minute), actor="test", awarded_cents=awarded)


def line_in(state: ClaimState, amount: int = 10_000) -> TrackedLine:
    line = new_debit("L1", amount)
    if state is S.CORRECTED:
        accepted = line_in(S.ACCEPTED, amount)
        return correct(
            accepted, new_amount_cents=amount, credit_line_id="C1", replacement_line_id="R1", at=at(9), actor="t"
        ).original
    for minute, step in enumerate(ROADS[state]):
        line = move(line, step, minute)
    return line


def test_every_state_has_a_row_in_the_transition_table() -> None:
    """The table is data and closed: every state is a key, and it cannot be changed at run time."""
    assert set(TRANSITIONS) == set(ClaimState)
    with pytest.raises(TypeError):
        TRANSITIONS[S.DRAFT] = frozenset()  # type: ignore[index]


@pytest.mark.parametrize(("source", "target"), list(product(ClaimState, ClaimState)), ids=lambda s: s.value)
def test_transition_matrix_allows_exactly_the_table(source: ClaimState, target: ClaimState) -> None:
    """Every allowed pair works and appends (from, to, at, actor, note); every other pair raises, naming both."""
    line = line_in(source)
    allowed = target in TRANSITIONS[source]
    if allowed and target is S.CORRECTED:
        result = correct(
            line, new_amount_cents=5_000, credit_line_id="Cx", replacement_line_id="Rx", at=at(60), actor="clerk"
        )
        assert result.original.state is S.CORRECTED
        assert result.original.history[-1].from_state is source
    elif allowed:
        moved = transition(
            line,
            target,
            at=at(60),
            actor="clerk",
            note="why",
            awarded_cents=1 if target is S.PARTIALLY_ACCEPTED else None,
        )
        assert moved.state is target
        step = moved.history[-1]
        assert (step.from_state, step.to_state, step.at, step.actor, step.note) == (
            source,
            target,
            at(60),
            "clerk",
            "why",
        )
        assert line.state is source  # the old record is untouched
    else:

        def attempt() -> object:
            if target is S.CORRECTED:
                return correct(
                    line, new_amount_cents=1, credit_line_id="Cx", replacement_line_id="Rx", at=at(60), actor="c"
                )
            return transition(line, target, at=at(60), actor="clerk", awarded_cents=1)

        with pytest.raises(IllegalTransitionError) as caught:
            attempt()
        assert caught.value.from_state is source
        assert caught.value.to_state is target
        assert f"{source.value} → {target.value}" in str(caught.value)


def test_corrected_is_terminal_so_its_money_is_not_paid_twice() -> None:
    """The corrected original's money lives in its credit and replacement; corrected → paid is refused."""
    assert TRANSITIONS[S.CORRECTED] == frozenset()
    with pytest.raises(IllegalTransitionError, match="corrected → paid"):
        transition(line_in(S.CORRECTED), S.PAID, at=at(99), actor="bank")


def test_corrected_is_reached_only_through_correct() -> None:
    """A bare transition to corrected would leave no credit/debit pair (DOMAIN.md §4)."""
    with pytest.raises(LifecycleError, match="use correct"):
        transition(line_in(S.ACCEPTED), S.CORRECTED, at=at(9), actor="clerk")


def test_records_are_immutable() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        line_in(S.DRAFT).state = S.PAID  # type: ignore[misc]


def test_history_must_run_forward_in_time() -> None:
    line = move(new_debit("L1", 100), S.READY, 10)
    with pytest.raises(LifecycleError, match="before the previous"):
        transition(line, S.SENT, at=at(5), actor="clerk")


def test_every_transition_needs_an_actor() -> None:
    with pytest.raises(LifecycleError, match="actor"):
        transition(new_debit("L1", 100), S.READY, at=at(1), actor="")


def test_outcomes_fix_the_awarded_amount() -> None:
    """Accepted awards everything, rejected nothing, a partial award lies strictly in between."""
    sent = line_in(S.SENT, 10_000)
    assert transition(sent, S.ACCEPTED, at=at(9), actor="zv").awarded_cents == 10_000
    assert transition(sent, S.REJECTED, at=at(9), actor="zv").awarded_cents == 0
    assert transition(sent, S.PARTIALLY_ACCEPTED, at=at(9), actor="zv", awarded_cents=7_500).awarded_cents == 7_500
    for bad in (None, 0, 10_000, 12_000):
        with pytest.raises(LifecycleError, match="partial award"):
            transition(sent, S.PARTIALLY_ACCEPTED, at=at(9), actor="zv", awarded_cents=bad)
    with pytest.raises(LifecycleError, match="sign of the claim"):
        transition(sent, S.PARTIALLY_ACCEPTED, at=at(9), actor="zv", awarded_cents=-5)


def test_debit_must_claim_a_positive_amount() -> None:
    with pytest.raises(LifecycleError, match="positive"):
        new_debit("L1", 0)


def test_correcting_a_booked_line_makes_a_linked_credit_and_debit() -> None:
    """Credit the old line (exact negation) and debit the new amount; all three point at each other."""
    result = correct(
        line_in(S.PARTIALLY_ACCEPTED, 10_000),
        new_amount_cents=8_000,
        credit_line_id="C1",
        replacement_line_id="R1",
        at=at(30),
        actor="clerk",
        note="tariff per contract (0611)",
    )
    assert result.credit is not None and result.replacement is not None
    assert (result.credit.kind, result.credit.amount_cents, result.credit.reverses) == (LineKind.CREDIT, -10_000, "L1")
    assert (result.replacement.kind, result.replacement.amount_cents, result.replacement.replaces) == (
        LineKind.DEBIT,
        8_000,
        "L1",
    )
    assert (result.original.credit_line_id, result.original.replacement_line_id) == ("C1", "R1")
    assert result.credit.state is S.DRAFT and result.replacement.state is S.DRAFT
    assert net_claimed_cents(result.lines) == 8_000


def test_correcting_a_rejected_line_sends_only_the_replacement() -> None:
    """The insurer booked nothing for a rejected line, so there is nothing to credit: fix and resend."""
    result = correct(
        line_in(S.REJECTED, 10_000),
        new_amount_cents=9_000,
        credit_line_id="C1",
        replacement_line_id="R1",
        at=at(30),
        actor="c",
    )
    assert result.credit is None
    assert result.replacement is not None and result.replacement.amount_cents == 9_000
    assert net_claimed_cents(result.lines) == 9_000


def test_withdrawing_a_paid_line_credits_it_to_zero() -> None:
    """A bundle breaker found after payment (0587): credit only, no replacement; the net is zero."""
    result = correct(
        line_in(S.PAID, 10_000),
        new_amount_cents=None,
        credit_line_id="C1",
        replacement_line_id="R1",
        at=at(30),
        actor="c",
    )
    assert result.replacement is None
    assert net_claimed_cents(result.lines) == 0


def test_a_rejected_line_with_no_replacement_is_written_off_not_corrected() -> None:
    with pytest.raises(LifecycleError, match="written off"):
        correct(
            line_in(S.REJECTED),
            new_amount_cents=None,
            credit_line_id="C1",
            replacement_line_id="R1",
            at=at(9),
            actor="c",
        )


def test_credit_lines_are_not_corrected_and_ids_must_differ() -> None:
    result = correct(
        line_in(S.ACCEPTED), new_amount_cents=1, credit_line_id="C1", replacement_line_id="R1", at=at(9), actor="c"
    )
    assert result.credit is not None
    credit = move(move(move(result.credit, S.READY, 10), S.SENT, 11), S.ACCEPTED, 12)
    with pytest.raises(LifecycleError, match="credit line is not corrected"):
        correct(credit, new_amount_cents=1, credit_line_id="C2", replacement_line_id="R2", at=at(20), actor="c")
    with pytest.raises(LifecycleError, match="distinct ids"):
        correct(
            line_in(S.ACCEPTED), new_amount_cents=1, credit_line_id="X", replacement_line_id="X", at=at(9), actor="c"
        )


def test_a_claim_line_from_the_bundle_decision_starts_as_a_draft_debit() -> None:
    claim = ClaimLine(
        pregnancy_id="P1",
        phase=Phase.PRENATAL,
        kind=ClaimKind.INTEGRAL,
        prestatie_code="IG_PRENATAAL",
        claimant_agb="53001234",
        uzovi="3311",
        quantity=Decimal(1),
        tariff_cents=150_000,
        amount_cents=150_000,
        service_start=date(2025, 1, 6),
        service_end=date(2025, 2, 3),
        declaration_date=date(2025, 3, 1),
        activity_ids=("A1",),
        tariff_source="contract",
    )
    tracked = track(claim, "L-1")
    assert (tracked.state, tracked.kind, tracked.amount_cents, tracked.history) == (
        S.DRAFT,
        LineKind.DEBIT,
        150_000,
        (),
    )


OUTCOMES = st.sampled_from([S.ACCEPTED, S.PARTIALLY_ACCEPTED, S.REJECTED, S.PAID])


@given(
    first=st.integers(2, 10**9),
    steps=st.lists(st.tuples(OUTCOMES, st.integers(2, 10**9)), min_size=1, max_size=6),
)
def test_net_money_of_a_correction_history_is_the_last_amount_to_the_cent(
    first: int, steps: list[tuple[ClaimState, int]]
) -> None:
    """Whatever the insurer did with each version, the chain nets to the latest debit, exactly in cents.

    Also: every credit is the exact negation of the line it reverses, so original + credit = 0 (DOMAIN.md §4).
    """
    lines: list[TrackedLine] = []
    current = new_debit("V0", first)
    minute = 0
    for number, (outcome, new_amount) in enumerate(steps, 1):
        for step in ROADS[outcome]:
            minute += 1
            current = move(current, step, minute)
        result = correct(
            current,
            new_amount_cents=new_amount,
            credit_line_id=f"C{number}",
            replacement_line_id=f"V{number}",
            at=at(minute),
            actor="clerk",
        )
        lines += [line for line in (result.original, result.credit) if line is not None]
        if result.credit is not None:
            assert result.original.amount_cents + result.credit.amount_cents == 0
        assert result.replacement is not None
        current = result.replacement
    lines.append(current)
    chain = correction_chain(lines, "V0")
    assert {line.line_id for line in chain} == {line.line_id for line in lines}
    assert net_claimed_cents(chain) == steps[-1][1]
    rejected = sum(line.amount_cents for line in lines if line.was_rejected)
    assert sum(line.amount_cents for line in lines) == net_claimed_cents(chain) + rejected
