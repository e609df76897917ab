"""A worked example per distribution model, computed by hand in the docstring (DOMAIN.md §5, issue 5)."""

from __future__ import annotations

from decimal import Decimal

from distribution_strategies import YEAR, claim, member, run

from integraal.distribution import (
    IGO,
    ActivityCount,
    Budget,
    ClientProfile,
    DistributionInput,
    PregnancyRow,
    QualityScore,
    Receipt,
    get_model,
    table,
)
from integraal.distribution.models.availability import AvailabilityParameters
from integraal.distribution.models.discipline_shares import DisciplineSharesParameters
from integraal.distribution.models.gain_sharing import GainSharingParameters
from integraal.distribution.models.overhead import OverheadParameters
from integraal.distribution.models.quality_pool import QualityPoolParameters
from integraal.distribution.models.relative_value import RelativeValueParameters
from integraal.domain.phase import Phase
from integraal.domain.provider import Discipline
from integraal.rules.decision import Outcome

A, B, H, K = "10000001", "10000002", "20000001", "30000001"
MEMBERS = (
    member(A, Discipline.MIDWIFE, "1"),
    member(B, Discipline.MIDWIFE, "0.5"),
    member(H, Discipline.HOSPITAL, "1"),
    member(K, Discipline.KRAAMZORG, "0"),
)
PRE, NAT, POST = Phase.PRENATAL, Phase.NATAL, Phase.POSTNATAL


def data(**tables: object) -> DistributionInput:
    return DistributionInput(YEAR, MEMBERS, **tables)  # type: ignore[arg-type]


def test_shadow_ffs_divides_each_phase_by_what_members_would_have_claimed() -> None:
    """Budget: prenatal € 1.000,00 (100000 c), postnatal € 500,00 (50000 c).

    Prenatal shadow claims A 30000, B 10000, H 20000 (total 60000):
      A 100000·30/60 = 50000; B 16666.67; H 33333.33 → floors 50000+16666+33333 = 99999, 1 cent left,
      largest remainder B (.67) → B 16667, H 33333.
    Postnatal: K 40000, A 10000 → K 40000, A 10000.
    Totals A 60000, B 16667, H 33333, K 40000 = 150000.
    """
    inp = data(
        receipts=(Receipt(PRE, 100_000), Receipt(POST, 50_000)),
        shadow_claims=(
            claim("P1", PRE, A, 30_000),
            claim("P2", PRE, B, 10_000),
            claim("P2", PRE, H, 20_000),
            claim("P1", POST, K, 40_000),
            claim("P1", POST, A, 10_000),
        ),
    )
    allocation = run("shadow_ffs", inp)
    assert allocation.amounts() == {A: 60_000, B: 16_667, H: 33_333, K: 40_000}
    assert allocation.distributed_cents == 150_000


def test_shadow_ffs_does_not_pay_twice_for_a_phase_the_member_claimed_itself() -> None:
    """DOMAIN.md §3: a broken bundle (fallback) is claimed monodisciplinarily, so its shadow claims earn nothing
    from the integral money. P2's prenatal phase fell back: only A's 30000 counts → A gets all 100000."""
    inp = data(
        receipts=(Receipt(PRE, 100_000),),
        pregnancies=(PregnancyRow("P2", ClientProfile.LOW_RISK_PRIMARY, ((PRE, Outcome.FALLBACK),)),),
        shadow_claims=(claim("P1", PRE, A, 30_000), claim("P2", PRE, B, 10_000)),
    )
    assert run("shadow_ffs", inp).amounts() == {A: 100_000}


def test_shadow_ffs_with_no_claims_leaves_the_money_with_the_igo_explained() -> None:
    allocation = run("shadow_ffs", data(receipts=(Receipt(PRE, 500),)))
    assert allocation.amounts() == {IGO: 500}
    assert "bestuur" in allocation.lines[0].text_nl and "board" in allocation.lines[0].text_en


def test_discipline_shares_fixed_percentages_per_phase_then_by_claims_within() -> None:
    """Budget prenatal 100000, natal 60000, postnatal 40000.
    Shares: prenatal midwife 70 / hospital 30; natal 50/50; postnatal kraamzorg 80 / midwife 20.
    Claims: prenatal A 30000, B 10000, H 20000; natal A 5000, H 15000; postnatal K 40000, A 10000.

    prenatal: midwives 70000 split A:B = 3:1 → A 52500, B 17500; hospital 30000 → H.
    natal: midwives 30000 → A (B has no natal claims); hospital 30000 → H.
    postnatal: kraamzorg 32000 → K; midwives 8000 → A.
    Totals A 52500+30000+8000 = 90500, B 17500, H 60000, K 32000 = 200000.
    """
    params = DisciplineSharesParameters(
        prenatal=table(midwife=70, hospital=30),
        natal=table(midwife=50, hospital=50),
        postnatal=table(kraamzorg=80, midwife=20),
    )
    inp = data(
        receipts=(Receipt(PRE, 100_000), Receipt(NAT, 60_000), Receipt(POST, 40_000)),
        shadow_claims=(
            claim("P1", PRE, A, 30_000),
            claim("P2", PRE, B, 10_000),
            claim("P2", PRE, H, 20_000),
            claim("P1", NAT, A, 5_000),
            claim("P2", NAT, H, 15_000),
            claim("P1", POST, K, 40_000),
            claim("P1", POST, A, 10_000),
        ),
    )
    assert run("discipline_shares", inp, params).amounts() == {A: 90_500, B: 17_500, H: 60_000, K: 32_000}


def test_discipline_share_without_a_member_of_that_discipline_stays_with_the_igo() -> None:
    """Prenatal 10000: midwife 60 %, ultrasound 40 % — there is no ultrasound member → 4000 to the IGO."""
    params = DisciplineSharesParameters(prenatal=table(midwife=60, ultrasound=40), within="equal")
    allocation = run("discipline_shares", data(receipts=(Receipt(PRE, 10_000),)), params)
    assert allocation.amounts() == {A: 3_000, B: 3_000, IGO: 4_000}


def test_relative_value_points_under_a_fixed_budget() -> None:
    """Points: consult 1, echo 2.5. A: 10 consults + 2 echos = 15 points; B: 5 consults = 5; H: 4 echos = 10.
    Total 30 points; budget 90001 cents (point value 3000.03 c).
    A 90001·15/30 = 45000.5, B 15000.17, H 30000.33 → floors 90000, 1 cent to the largest remainder A.
    A 45001, B 15000, H 30000.
    """
    inp = data(
        receipts=(Receipt(PRE, 90_001),),
        activities=(
            ActivityCount(A, "consult", Decimal(10)),
            ActivityCount(A, "echo", Decimal(2)),
            ActivityCount(B, "consult", Decimal(5)),
            ActivityCount(H, "echo", Decimal(4)),
        ),
    )
    params = RelativeValueParameters(points=table(consult=1, echo="2.5"))
    assert run("relative_value", inp, params).amounts() == {A: 45_001, B: 15_000, H: 30_000}


def test_capitation_pays_weighted_pregnancies_attributed_by_share_of_care() -> None:
    """Default weights: low risk 1.0, referred during pregnancy 1.6, medical indication 2.0.
    P1 low risk: claims A 30000, K 10000 → A 0.75, K 0.25.
    P2 referred in pregnancy: A 10000, H 30000 → A 0.4, H 1.2.
    P3 medical indication: H only → H 2.0.
    Weighted pregnancies: A 1.15, K 0.25, H 3.2; total 4.6. Budget 46000 → A 11500, K 2500, H 32000.
    """
    inp = data(
        receipts=(Receipt(PRE, 46_000),),
        pregnancies=(
            PregnancyRow("P1", ClientProfile.LOW_RISK_PRIMARY),
            PregnancyRow("P2", ClientProfile.REFERRED_PREGNANCY),
            PregnancyRow("P3", ClientProfile.MEDICAL_INDICATION),
        ),
        shadow_claims=(
            claim("P1", PRE, A, 30_000),
            claim("P1", POST, K, 10_000),
            claim("P2", PRE, A, 10_000),
            claim("P2", NAT, H, 30_000),
            claim("P3", PRE, H, 40_000),
        ),
    )
    assert run("capitation", inp).amounts() == {A: 11_500, K: 2_500, H: 32_000}


def test_availability_fee_per_committed_unit_off_the_top() -> None:
    """Fees per unit: midwife 1000000 c, hospital 3000000 c. Units: A 1, B 0.5, H 1, K 0.
    Budget 10000000 → A 1000000, B 500000, H 3000000; slice 4500000.
    """
    params = AvailabilityParameters(fee_per_unit=table(midwife=1_000_000, hospital=3_000_000))
    allocation = run("availability", data(), params, Budget.of({PRE: 10_000_000}))
    assert allocation.amounts() == {A: 1_000_000, B: 500_000, H: 3_000_000}
    assert allocation.distributed_cents == 4_500_000


def test_availability_fees_shrink_together_when_the_budget_falls_short() -> None:
    """Same fees, budget only 3000000: split 1000000:500000:3000000 = 2:1:6 →
    A 666666.67, B 333333.33, H 2000000 → floors sum 2999999, 1 cent to A (.67). A 666667, B 333333, H 2000000.
    """
    params = AvailabilityParameters(fee_per_unit=table(midwife=1_000_000, hospital=3_000_000))
    allocation = run("availability", data(), params, Budget.of({PRE: 3_000_000}))
    assert allocation.amounts() == {A: 666_667, B: 333_333, H: 2_000_000}
    assert "verlaagd" in allocation.lines_for(A)[0].text_nl


def test_quality_pool_pays_members_above_the_threshold_by_score() -> None:
    """Pool 5 % of 1000000 = 50000. Indicator weights experience 1, outcome 3; threshold 0.6; size equal.
    A: (1.0·1 + 0.8·3)/4 = 0.85; B: (0.2 + 0.4·3)/4 = 0.35 → below the gate; H: (0.6 + 0.6·3)/4 = 0.6 → qualifies.
    A 50000·0.85/1.45 = 29310.34, H 50000·0.6/1.45 = 20689.66 → floors 49999, 1 cent to H (.66).
    A 29310, H 20690.
    """
    inp = data(
        receipts=(Receipt(PRE, 1_000_000),),
        quality=(
            QualityScore(A, "experience", Decimal("1.0")),
            QualityScore(A, "outcome", Decimal("0.8")),
            QualityScore(B, "experience", Decimal("0.2")),
            QualityScore(B, "outcome", Decimal("0.4")),
            QualityScore(H, "experience", Decimal("0.6")),
            QualityScore(H, "outcome", Decimal("0.6")),
        ),
    )
    params = QualityPoolParameters(
        pool_pct=Decimal(5),
        threshold=Decimal("0.6"),
        indicator_weights=table(experience=1, outcome=3),
        size_basis="equal",
    )
    allocation = run("quality_pool", inp, params)
    assert allocation.amounts() == {A: 29_310, H: 20_690}
    assert allocation.distributed_cents == 50_000


def test_quality_pool_nobody_qualifies_becomes_the_igo_quality_fund() -> None:
    inp = data(receipts=(Receipt(PRE, 100_000),), quality=(QualityScore(A, "x", Decimal("0.1")),))
    allocation = run("quality_pool", inp, QualityPoolParameters(pool_pct=Decimal(3)))
    assert allocation.amounts() == {IGO: 3_000}
    assert "reinvestment" in allocation.lines[0].text_en


def test_overhead_fixed_plus_percentage_to_the_igo() -> None:
    """Received 1000000: 2.5 % = 25000, plus fixed 10000 → 35000 to the IGO; with only 20000 left → 20000."""
    params = OverheadParameters(purpose="ict", percentage=Decimal("2.5"), fixed_cents=10_000)
    assert run("overhead", data(), params, Budget.of({PRE: 1_000_000})).amounts() == {IGO: 35_000}
    short = Budget(((PRE, 20_000), (NAT, 0), (POST, 0)), received_cents=1_000_000)
    assert run("overhead", data(), params, short).amounts() == {IGO: 20_000}


def _gain_input(received: int) -> DistributionInput:
    return data(
        receipts=(Receipt(PRE, received),),
        shadow_claims=(claim("P1", PRE, A, 40_000), claim("P1", NAT, H, 60_000)),
    )


def test_gain_sharing_members_share_half_the_gain_within_their_caps() -> None:
    """Shadow A 40000, H 60000 = benchmark 100000 (100 %). Budget 120000 → gain 20000.
    Members 50 % = 10000 → A 4000, H 6000 (caps 10 %: 4000 and 6000, not binding); IGO 10000.
    A 44000, H 66000, IGO 10000.
    """
    assert run("gain_sharing", _gain_input(120_000)).amounts() == {A: 44_000, H: 66_000, IGO: 10_000}


def test_gain_sharing_cuts_gains_above_the_cap_to_the_igo() -> None:
    """Members' share 100 %: A 8000, H 12000, capped at 10 % → 4000 and 6000; 10000 cut off → IGO."""
    params = GainSharingParameters(member_share_pct=Decimal(100))
    assert run("gain_sharing", _gain_input(120_000), params).amounts() == {A: 44_000, H: 66_000, IGO: 10_000}


def test_gain_sharing_loss_beyond_the_floor_is_borne_by_the_igo_reserve() -> None:
    """Budget 80000 → loss −20000; members −10000 (A −4000, H −6000), IGO −10000.
    Floors 5 %: A −2000, H −3000; cut off −5000 → IGO −15000. A 38000, H 57000, IGO −15000 (= 80000).
    """
    allocation = run("gain_sharing", _gain_input(80_000))
    assert allocation.amounts() == {A: 38_000, H: 57_000, IGO: -15_000}
    assert get_model("gain_sharing").negative_igo


def test_shapley_splits_each_pregnancys_money_equally_over_the_disciplines_in_her_care() -> None:
    """P1 cared for by midwife A and kraamzorg K, 90000 received; P2 by A and hospital H, 60000; P3 by H, 30000.
    v(M)=0, v(H)=30000, v(K)=0, v(MH)=90000, v(MK)=90000, v(HK)=30000, v(MHK)=180000.
    φ_M = ⅓·0 + ⅙·(90000−30000) + ⅙·(90000−0) + ⅓·(180000−30000) = 10000+15000+50000 = 75000;
    closed form: M 45000+30000 = 75000, K 45000, H 30000+30000 = 60000. Budget 180000 → the same.
    """
    inp = DistributionInput(
        YEAR,
        (member(A, Discipline.MIDWIFE), member(H, Discipline.HOSPITAL), member(K, Discipline.KRAAMZORG)),
        receipts=(Receipt(PRE, 90_000, "P1"), Receipt(PRE, 60_000, "P2"), Receipt(NAT, 30_000, "P3")),
        shadow_claims=(
            claim("P1", PRE, A, 1),
            claim("P1", POST, K, 1),
            claim("P2", PRE, A, 1),
            claim("P2", NAT, H, 1),
            claim("P3", NAT, H, 1),
        ),
    )
    assert run("shapley", inp).amounts() == {A: 75_000, H: 60_000, K: 45_000}
