"""Property tests (hypothesis): invariants of money, identifiers and the bundle decision."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from builders import (
    AS_OF,
    ECHO_MEMBER,
    ECHO_OUTSIDER,
    HOSPITAL,
    KRAAMZORG,
    KRAAMZORG_OUTSIDER,
    LATE_JOINER,
    MIDWIFE,
    OTHER_BSN,
    OTHER_INSURER,
    VALID_BSN,
    act,
    make_context,
    make_pregnancy,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from integraal.domain.contract import OverlapPolicy, PartialPolicy
from integraal.domain.identifiers import is_valid_bsn
from integraal.domain.money import amount_for, split_largest_remainder
from integraal.domain.pregnancy import EndReason, ReferralStage
from integraal.rules.decision import Disposition
from integraal.rules.engine import decide_bundle
from integraal.rules.matching import TrajectoryIndex, match_activities

# --- money -------------------------------------------------------------------------------------------


@given(
    total=st.integers(min_value=-(10**12), max_value=10**12),
    weights=st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=40),
)
def test_split_sums_back_exactly_to_the_total(total, weights):
    parts = split_largest_remainder(total, weights)
    assert sum(parts) == total
    assert len(parts) == len(weights)


@given(
    total=st.integers(min_value=0, max_value=10**10),
    weights=st.lists(st.integers(min_value=1, max_value=10**6), min_size=1, max_size=30),
)
def test_split_parts_are_within_one_cent_of_the_exact_share(total, weights):
    parts = split_largest_remainder(total, weights)
    weight_sum = sum(weights)
    for part, weight in zip(parts, weights, strict=True):
        exact = Decimal(total) * weight / weight_sum
        assert abs(Decimal(part) - exact) < 1


@given(total=st.integers(min_value=-(10**9), max_value=10**9), weights=st.lists(st.integers(0, 1000), min_size=1))
def test_credit_split_mirrors_debit_split(total, weights):
    assert split_largest_remainder(-total, weights) == [-p for p in split_largest_remainder(total, weights)]


def test_split_tie_break_is_by_position():
    """Three equal shares of 100 cents: the first part gets the extra cent."""
    assert split_largest_remainder(100, [1, 1, 1]) == [34, 33, 33]


@given(
    quantity=st.decimals(min_value=0, max_value=1000, places=2, allow_nan=False),
    tariff=st.integers(min_value=0, max_value=10**7),
)
def test_amount_is_within_half_a_cent_of_the_exact_product(quantity, tariff):
    assert abs(Decimal(amount_for(quantity, tariff)) - quantity * tariff) <= Decimal("0.5")


# --- identifiers -------------------------------------------------------------------------------------


@given(st.lists(st.integers(0, 9), min_size=8, max_size=8))
def test_exactly_one_check_digit_completes_a_valid_bsn_or_none(digits):
    """The 11-test: for 8 leading digits at most one last digit makes a valid BSN."""
    prefix = "".join(map(str, digits))
    valid = [d for d in range(10) if is_valid_bsn(prefix + str(d))]
    assert len(valid) <= 1
    for d in valid:
        weighted = sum(int(c) * w for c, w in zip(prefix + str(d), (9, 8, 7, 6, 5, 4, 3, 2, -1), strict=True))
        assert weighted % 11 == 0


def test_known_bsns():
    assert is_valid_bsn("111222333")
    assert is_valid_bsn("123456782")
    assert not is_valid_bsn("123456789")
    assert not is_valid_bsn("000000000")
    assert not is_valid_bsn("12345678")
    assert not is_valid_bsn("12345678a")


# --- the bundle decision -----------------------------------------------------------------------------

CODES_BY_PROVIDER = {
    MIDWIFE: ["VK_INTAKE", "VK_CONTROLE", "VK_BEVALLING", "VK_KRAAMBED", "VK_TERMIJNECHO", "XX_UNKNOWN"],
    LATE_JOINER: ["VK_CONTROLE", "VK_TERMIJNECHO"],
    HOSPITAL: ["GYN_CONSULT", "GYN_BEVALLING", "VK_CONTROLE"],
    KRAAMZORG: ["KZ_UUR"],
    KRAAMZORG_OUTSIDER: ["KZ_UUR"],
    ECHO_MEMBER: ["VK_TERMIJNECHO", "ECHO_SEO"],
    ECHO_OUTSIDER: ["VK_TERMIJNECHO", "ECHO_SEO"],
    "99999999": ["VK_CONTROLE"],  # a provider nobody registered
}


@st.composite
def trajectories(draw):
    intake = date(2024, 10, 1) + timedelta(days=draw(st.integers(0, 300)))
    due = intake + timedelta(days=draw(st.integers(150, 230)))
    end_reason = draw(st.sampled_from([None, *EndReason]))
    end = None
    labour = None
    if end_reason is EndReason.BIRTH:
        end = due + timedelta(days=draw(st.integers(-40, 14)))
        end = max(end, intake + timedelta(days=1))
        if draw(st.booleans()):
            labour = end - timedelta(days=draw(st.integers(0, 1)))
    elif end_reason is not None:
        end = intake + timedelta(days=draw(st.integers(0, 150)))
    referral = draw(st.sampled_from([None, *ReferralStage]))
    pregnancy = make_pregnancy(
        intake=intake,
        due=due,
        end=end,
        end_reason=end_reason,
        labour=labour,
        uzovi=draw(st.sampled_from(["3311", OTHER_INSURER])),
        referral_date=intake + timedelta(days=30) if referral else None,
        referral_stage=referral,
    )
    span_end = (end or due) + timedelta(days=60)
    n = draw(st.integers(0, 25))
    activities = []
    for i in range(n):
        agb = draw(st.sampled_from(sorted(CODES_BY_PROVIDER)))
        code = draw(st.sampled_from(CODES_BY_PROVIDER[agb]))
        day = intake + timedelta(days=draw(st.integers(-10, (span_end - intake).days)))
        quantity = str(draw(st.decimals(min_value=Decimal("0.25"), max_value=12, places=2)))
        activities.append(act(code, agb, day, quantity, activity_id=f"A{i:03d}"))
    return pregnancy, activities


contexts = st.builds(
    make_context,
    overlap=st.sampled_from([None, *OverlapPolicy]),
    partial=st.sampled_from([None, *PartialPolicy]),
)
as_of_dates = st.dates(min_value=date(2025, 1, 1), max_value=date(2027, 1, 1))


@settings(max_examples=150, deadline=None)
@given(case=trajectories(), context=contexts, as_of=as_of_dates, data=st.data())
def test_decision_does_not_depend_on_input_order(case, context, as_of, data):
    pregnancy, activities = case
    shuffled = data.draw(st.permutations(activities))
    assert decide_bundle(pregnancy, activities, context, as_of) == decide_bundle(pregnancy, shuffled, context, as_of)


@settings(max_examples=200, deadline=None)
@given(case=trajectories(), context=contexts, as_of=as_of_dates)
def test_every_activity_is_claimed_excluded_or_reported_exactly_once(case, context, as_of):
    pregnancy, activities = case
    decision = decide_bundle(pregnancy, activities, context, as_of)
    ids = [a.activity_id for a in activities]
    assert sorted(o.activity_id for o in decision.activities) == sorted(ids)
    claimed_in_lines = [i for line in decision.claims for i in line.activity_ids]
    assert len(claimed_in_lines) == len(set(claimed_in_lines)), "an activity sits in two claim lines"
    claimed = {o.activity_id for o in decision.activities if o.disposition is Disposition.CLAIMED}
    assert claimed == set(claimed_in_lines)
    for outcome in decision.activities:
        if outcome.disposition is not Disposition.CLAIMED:
            assert outcome.reason is not None, f"{outcome.activity_id} left without a reason"


@settings(max_examples=150, deadline=None)
@given(case=trajectories(), context=contexts, as_of=as_of_dates)
def test_claim_amounts_are_exact_and_claims_follow_the_outcome(case, context, as_of):
    pregnancy, activities = case
    decision = decide_bundle(pregnancy, activities, context, as_of)
    for phase in decision.phases:
        kinds = {line.kind.value for line in phase.claims}
        if phase.outcome.value == "integral":
            assert kinds == {"integral"} and len(phase.claims) == 1
        elif phase.outcome.value == "fallback":
            assert kinds <= {"mono"}
        else:
            assert phase.claims == ()
        for line in phase.claims:
            assert line.amount_cents == amount_for(line.quantity, line.tariff_cents)
            assert line.declaration_date <= as_of


# --- a region: several pregnancies, activities matched by BSN and date -----------------------------------

THIRD_BSN = "234567806"
STRANGER_BSN = "345678910"  # nobody's trajectory: everything she receives is unmatched
TRAILING_DAYS = 42


@st.composite
def regions(draw):
    """Two to five trajectories of up to three women (a woman may have consecutive pregnancies), and
    activities that carry only the BSN, a trajectory id, a wrong or unknown id, or a BSN nobody has."""
    pregnancies = []
    for k in range(draw(st.integers(2, 5))):
        bsn = draw(st.sampled_from([VALID_BSN, OTHER_BSN, THIRD_BSN]))
        intake = date(2024, 6, 1) + timedelta(days=draw(st.integers(0, 500)))
        due = intake + timedelta(days=draw(st.integers(150, 230)))
        end_reason = draw(st.sampled_from([None, *EndReason]))
        end = labour = None
        if end_reason is EndReason.BIRTH:
            end = max(due + timedelta(days=draw(st.integers(-30, 14))), intake + timedelta(days=1))
            labour = end if draw(st.booleans()) else None
        elif end_reason is not None:
            end = intake + timedelta(days=draw(st.integers(0, 150)))
        pregnancies.append(
            make_pregnancy(
                pregnancy_id=f"P{k}", bsn=bsn, intake=intake, due=due, end=end, end_reason=end_reason, labour=labour
            )
        )
    activities = []
    for i in range(draw(st.integers(0, 30))):
        agb = draw(st.sampled_from(sorted(CODES_BY_PROVIDER)))
        code = draw(st.sampled_from(CODES_BY_PROVIDER[agb]))
        bsn = draw(st.sampled_from([VALID_BSN, OTHER_BSN, THIRD_BSN, STRANGER_BSN]))
        day = date(2024, 5, 1) + timedelta(days=draw(st.integers(0, 900)))
        pid = draw(st.sampled_from([None, None, None, "P0", "P1", "P-UNKNOWN"]))
        activities.append(act(code, agb, day, "1", bsn=bsn, pid=pid, activity_id=f"R{i:03d}"))
    return pregnancies, activities


def decide_region(pregnancies, activities, context, as_of):
    """The pure path the decision service takes: match activities to trajectories, decide each one."""
    matched, unmatched = match_activities(TrajectoryIndex(pregnancies, TRAILING_DAYS), activities)
    decisions = {p.pregnancy_id: decide_bundle(p, matched.get(p.pregnancy_id, []), context, as_of) for p in pregnancies}
    return decisions, unmatched


@settings(max_examples=150, deadline=None)
@given(region=regions(), context=contexts, as_of=as_of_dates, data=st.data())
def test_region_decisions_do_not_depend_on_the_order_of_pregnancies_or_activities(region, context, as_of, data):
    """§3 one registration: which trajectory an activity belongs to (by id, or by BSN and date) and how every
    trajectory is decided must not depend on the order in which pregnancies or activities arrive."""
    pregnancies, activities = region
    shuffled_pregnancies = data.draw(st.permutations(pregnancies))
    shuffled_activities = data.draw(st.permutations(activities))
    assert decide_region(pregnancies, activities, context, as_of) == decide_region(
        shuffled_pregnancies, shuffled_activities, context, as_of
    )


@settings(max_examples=200, deadline=None)
@given(region=regions(), context=contexts, as_of=st.sampled_from([AS_OF, date(2025, 6, 1)]))
def test_every_activity_of_a_region_ends_up_exactly_once_claimed_excluded_or_reported(region, context, as_of):
    """§3: every activity, also one that matches no trajectory, ends up exactly once as claimed, excluded or
    reported — never dropped, never counted twice — and every non-claimed one carries a reason."""
    pregnancies, activities = region
    decisions, unmatched = decide_region(pregnancies, activities, context, as_of)
    settled = [*unmatched, *(o for d in decisions.values() for o in d.activities)]
    assert sorted(o.activity_id for o in settled) == sorted(a.activity_id for a in activities)
    assert {o.disposition for o in settled} <= {Disposition.CLAIMED, Disposition.EXCLUDED, Disposition.REPORTED}
    assert all(o.reason is not None for o in settled if o.disposition is not Disposition.CLAIMED)
    assert all(o.disposition is Disposition.REPORTED for o in unmatched)
    in_lines = [i for d in decisions.values() for line in d.claims for i in line.activity_ids]
    assert len(in_lines) == len(set(in_lines)), "an activity sits in two claim lines"
    assert set(in_lines) == {o.activity_id for o in settled if o.disposition is Disposition.CLAIMED}
    strangers = {a.activity_id for a in activities if a.bsn == STRANGER_BSN}
    assert strangers <= {o.activity_id for o in unmatched}


def test_every_reason_code_has_sentences_and_short_labels_in_both_languages():
    from integraal.rules.reasons import REASONS, SHORT, ReasonCode, render

    for code in ReasonCode:
        assert code in REASONS and code in SHORT
        assert render(code, {}, "nl") != render(code, {}, "en")
