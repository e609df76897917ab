"""Member quality scores from the indicators (insight.quality; issue 6 part 6, issue 5 "incentive per quality
point"): observed against case-mix expected adverse outcomes, a credible ratio, and a score between 0 and 1."""

from __future__ import annotations

from decimal import Decimal

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from insight_builders import birth, frame_of

from integraal.distribution.inputs import ClientProfile
from integraal.insight import BirthMode, BirthPlace, LabourOnset, OutcomeRecord, load_indicators
from integraal.insight.quality import CREDIBILITY_EVENTS, member_scores, score_of

CAESAREAN = {"birth_mode": BirthMode.EMERGENCY_CAESAREAN, "birth_place": BirthPlace.HOSPITAL_SECONDARY}
LOW = {"profile": ClientProfile.LOW_RISK_PRIMARY, "nulliparous": False}
HIGH = {"profile": ClientProfile.REFERRED_PREGNANCY, "nulliparous": True, "labour_onset": LabourOnset.INDUCED}


def group(prefix: str, n: int, events: int, stratum: dict, event: dict) -> list[OutcomeRecord]:
    return [birth(f"{prefix}{k}", **stratum, **(event if k < events else {})) for k in range(n)]


def reference() -> list[OutcomeRecord]:
    """Low-risk women: 10 % caesarean; referred first-time mothers: 40 %."""
    return group("ra", 50, 5, LOW, CAESAREAN) + group("rb", 50, 20, HIGH, CAESAREAN)


def test_score_is_one_minus_half_the_credible_ratio():
    """As expected → 0.5; nothing adverse with much expected → towards 1; twice expected or worse → 0."""
    assert score_of(10, 10) == (1.0, Decimal("0.5000"))
    ratio, score = score_of(0, 95)
    assert ratio == pytest.approx(5 / 100) and score == Decimal("0.9750")
    assert score_of(40, 15)[1] == Decimal("0.0000")


def test_caesarean_score_of_a_member_is_worked_out_by_hand():
    """Member M: 10 low-risk women (0 caesareans) and 10 referred first-time mothers (4 caesareans).
    Expected at the reference rates: 10 × 0.1 + 10 × 0.4 = 5; observed 4; R = (4 + 5) / (5 + 5) = 0.9;
    score = 1 − 0.9 / 2 = 0.55."""
    own = group("ma", 10, 0, LOW, CAESAREAN) + group("mb", 10, 4, HIGH, CAESAREAN)
    care = pl.DataFrame({"agb": ["M"] * 20, "pregnancy_id": [r.pregnancy_id for r in own]})
    scores = member_scores([load_indicators()["caesarean_total"]], frame_of(own), care, frame_of(reference()))
    (score,) = scores
    assert (score.agb, score.pregnancies, score.observed) == ("M", 20, 4.0)
    assert score.expected == pytest.approx(5.0)
    assert score.ratio == pytest.approx((4 + CREDIBILITY_EVENTS) / (5 + CREDIBILITY_EVENTS))
    assert score.score == Decimal("0.5500")


def test_a_higher_is_better_indicator_counts_the_women_without_it_as_adverse():
    """Breastfeeding at discharge: reference 80 %; a member with 10 of 10 breastfeeding has 0 adverse against
    2 expected: R = 5 / 7, score = 1 − 5 / 14."""
    ref = [birth(f"r{k}", **LOW, breastfeeding_at_discharge=k < 80) for k in range(100)]
    own = [birth(f"m{k}", **LOW, breastfeeding_at_discharge=True) for k in range(10)]
    care = pl.DataFrame({"agb": ["M"] * 10, "pregnancy_id": [r.pregnancy_id for r in own]})
    (score,) = member_scores([load_indicators()["breastfeeding_at_discharge"]], frame_of(own), care, frame_of(ref))
    assert score.observed == 0 and score.expected == pytest.approx(2.0)
    assert float(score.score) == pytest.approx(1 - (5 / 7) / 2, abs=5e-5)


def test_indicators_without_a_direction_give_no_score():
    own = group("m", 10, 2, LOW, {"birth_place": BirthPlace.HOME})
    care = pl.DataFrame({"agb": ["M"] * 10, "pregnancy_id": [r.pregnancy_id for r in own]})
    assert member_scores([load_indicators()["home_birth"]], frame_of(own), care) == []


def test_members_sharing_a_pregnancy_share_its_outcome():
    own = group("m", 20, 5, HIGH, CAESAREAN)
    care = pl.DataFrame(
        {
            "agb": ["A"] * 20 + ["B"] * 10,
            "pregnancy_id": [r.pregnancy_id for r in own] + [r.pregnancy_id for r in own[:10]],
        }
    )
    scores = {
        s.agb: s
        for s in member_scores([load_indicators()["caesarean_total"]], frame_of(own), care, frame_of(reference()))
    }
    assert scores["A"].observed == 5 and scores["B"].observed == 5  # B cared for the first ten, all five caesareans
    assert scores["B"].score < scores["A"].score


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 19), st.integers(1, 20))
def test_one_more_adverse_outcome_never_raises_a_score(events, size):
    events = min(events, size - 1)
    indicator = load_indicators()["caesarean_total"]
    before = group("m", size, events, HIGH, CAESAREAN)
    after = group("m", size, events + 1, HIGH, CAESAREAN)
    care = pl.DataFrame({"agb": ["M"] * size, "pregnancy_id": [r.pregnancy_id for r in before]})
    (a,) = member_scores([indicator], frame_of(before), care, frame_of(reference()))
    (b,) = member_scores([indicator], frame_of(after), care, frame_of(reference()))
    assert b.score <= a.score
