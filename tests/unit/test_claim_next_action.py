"""Issue 4: every rejected (or reduced) line leads to exactly one next action, whatever codes it carries."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from integraal.claims.lifecycle import ClaimState
from integraal.claims.returncodes import NextAction, return_codes
from integraal.services.claims import BUNDLE_BREAKER_CODE, next_action_for

CODES = sorted(return_codes())
ACTIONS = {a.value for a in NextAction} - {NextAction.NONE.value}


@settings(max_examples=300, deadline=None)
@given(
    codes=st.lists(st.sampled_from(CODES), max_size=6),
    outcome=st.sampled_from([ClaimState.REJECTED, ClaimState.PARTIALLY_ACCEPTED]),
)
def test_every_unpaid_or_reduced_line_gets_exactly_one_action(codes, outcome):
    action = next_action_for(codes, outcome)
    assert isinstance(action, str) and action in ACTIONS
    if BUNDLE_BREAKER_CODE in codes:
        assert action == NextAction.REBUNDLE.value  # the bundle breaker changes the decision first


@given(codes=st.lists(st.sampled_from(CODES), max_size=6))
def test_an_accepted_line_needs_no_action(codes):
    assert next_action_for(codes, ClaimState.ACCEPTED) is None


def test_a_rejection_without_codes_is_checked_and_sent_again():
    assert next_action_for([], ClaimState.REJECTED) == NextAction.FIX_AND_RESEND.value
