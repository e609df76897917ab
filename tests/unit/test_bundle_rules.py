"""One named test per rule of DOMAIN.md §3 (the bundle problem) and §2 (phases).

Each docstring names the rule it checks.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest
from builders import (
    AS_OF,
    ECHO_MEMBER,
    ECHO_OUTSIDER,
    HOSPITAL,
    IGO_AGB,
    KRAAMZORG,
    KRAAMZORG_OUTSIDER,
    LATE_JOINER,
    MIDWIFE,
    OTHER_BSN,
    OTHER_INSURER,
    act,
    activity_type,
    make_context,
    make_pregnancy,
    make_ruleset,
    normal_birth_activities,
)

from integraal.data.loader import load_catalogue
from integraal.domain.catalogue import RuleSet
from integraal.domain.contract import OverlapPolicy, PartialPolicy
from integraal.domain.phase import Phase
from integraal.domain.pregnancy import NO_BIRTH_ENDINGS, EndReason, ReferralStage
from integraal.domain.provider import Discipline
from integraal.rules.decision import ClaimKind, Disposition, Outcome
from integraal.rules.engine import decide_bundle
from integraal.rules.matching import TrajectoryIndex, match_activities
from integraal.rules.reasons import ReasonCode


def outcomes(decision):
    return {p.phase: p.outcome for p in decision.phases}


def disposition(decision, activity_id):
    return next(a for a in decision.activities if a.activity_id == activity_id)


def test_all_care_by_members_gives_one_integral_claim_per_phase():
    """§3: when all in-scope care stayed inside the IGO, the IGO claims the integral prestatie per phase."""
    decision = decide_bundle(make_pregnancy(), normal_birth_activities(), make_context(), AS_OF)
    assert outcomes(decision) == dict.fromkeys(Phase, Outcome.INTEGRAL)
    codes = [(c.prestatie_code, c.amount_cents, c.claimant_agb, c.kind) for c in decision.claims]
    assert codes == [
        ("IG_PRE", 120_000, IGO_AGB, ClaimKind.INTEGRAL),
        ("IG_NAT_1", 90_000, IGO_AGB, ClaimKind.INTEGRAL),
        ("IG_POST", 180_000, IGO_AGB, ClaimKind.INTEGRAL),
    ]
    assert decision.phase(Phase.PRENATAL).reason_codes == ("ALL_CARE_BY_MEMBERS",)
    assert all(a.disposition is Disposition.CLAIMED for a in decision.activities)


def test_declaration_dates_follow_phase_ends():
    """§2: prenatal ends at the start of labour, natal at the birth, postnatal 42 days after the birth."""
    labour = date(2025, 7, 29)
    decision = decide_bundle(make_pregnancy(labour=labour), normal_birth_activities(), make_context(), AS_OF)
    dates = {c.phase: c.declaration_date for c in decision.claims}
    assert dates == {
        Phase.PRENATAL: labour,
        Phase.NATAL: date(2025, 7, 30),
        Phase.POSTNATAL: date(2025, 9, 10),
    }


def test_ultrasound_by_non_member_breaks_prenatal_bundle():
    """§3: a scan at an outside ultrasound centre breaks the prenatal integral prestatie (bundelbreker)."""
    outside_scan = act("VK_TERMIJNECHO", ECHO_OUTSIDER, date(2025, 2, 3))
    decision = decide_bundle(make_pregnancy(), [*normal_birth_activities(), outside_scan], make_context(), AS_OF)
    assert outcomes(decision) == {
        Phase.PRENATAL: Outcome.FALLBACK,
        Phase.NATAL: Outcome.INTEGRAL,
        Phase.POSTNATAL: Outcome.INTEGRAL,
    }
    prenatal = decision.phase(Phase.PRENATAL)
    assert prenatal.reason_codes == ("NON_MEMBER_CARE",)
    assert prenatal.reasons[0].activity_ids == (outside_scan.activity_id,)
    assert ECHO_OUTSIDER in prenatal.reasons[0].text("en")
    # The members' own claims replace the integral prestatie: full prenatal care and their own scan.
    assert sorted((c.prestatie_code, c.claimant_agb, c.amount_cents) for c in prenatal.claims) == [
        ("ECHO", MIDWIFE, 8_000),
        ("VK_PRE_FULL", MIDWIFE, 50_000),
    ]
    assert all(c.kind is ClaimKind.MONO for c in prenatal.claims)
    assert disposition(decision, outside_scan.activity_id).reason is ReasonCode.CLAIMED_BY_NON_MEMBER


def test_non_member_kraamzorg_breaks_only_the_postnatal_phase():
    """§3: bundles are per phase; kraamzorg by a non-member organisation breaks only the postnatal one."""
    activities = [a for a in normal_birth_activities() if a.code != "KZ_UUR"]
    activities.append(act("KZ_UUR", KRAAMZORG_OUTSIDER, date(2025, 7, 31), "24"))
    decision = decide_bundle(make_pregnancy(), activities, make_context(), AS_OF)
    assert outcomes(decision)[Phase.POSTNATAL] is Outcome.FALLBACK
    assert outcomes(decision)[Phase.PRENATAL] is Outcome.INTEGRAL
    assert outcomes(decision)[Phase.NATAL] is Outcome.INTEGRAL


def test_activity_after_membership_end_date_breaks_bundle():
    """§3 membership dates: a provider counts as IGO care only while a member (member until 2025-06-30)."""
    scan = act("VK_TERMIJNECHO", ECHO_MEMBER, date(2025, 7, 1))
    decision = decide_bundle(make_pregnancy(), [*normal_birth_activities(), scan], make_context(), AS_OF)
    prenatal = decision.phase(Phase.PRENATAL)
    assert prenatal.outcome is Outcome.FALLBACK
    assert prenatal.reason_codes == ("MEMBERSHIP_NOT_ACTIVE",)
    assert "2025-07-01" in prenatal.reasons[0].text("nl")


def test_activity_on_last_membership_day_keeps_bundle():
    """§3 membership dates: the end date is inclusive."""
    scan = act("VK_TERMIJNECHO", ECHO_MEMBER, date(2025, 6, 30))
    decision = decide_bundle(make_pregnancy(), [*normal_birth_activities(), scan], make_context(), AS_OF)
    assert decision.phase(Phase.PRENATAL).outcome is Outcome.INTEGRAL


def test_activity_before_membership_start_breaks_bundle():
    """§3 membership dates: a practice that joined on 2025-03-01 was not a member on 2025-02-28."""
    before = act("VK_CONTROLE", LATE_JOINER, date(2025, 2, 28))
    after = act("VK_CONTROLE", LATE_JOINER, date(2025, 3, 1))
    broken = decide_bundle(make_pregnancy(), [*normal_birth_activities(), before], make_context(), AS_OF)
    kept = decide_bundle(make_pregnancy(), [*normal_birth_activities(), after], make_context(), AS_OF)
    assert broken.phase(Phase.PRENATAL).reason_codes == ("MEMBERSHIP_NOT_ACTIVE",)
    assert kept.phase(Phase.PRENATAL).outcome is Outcome.INTEGRAL


def _with_advanced_ultrasound(year: int) -> RuleSet:
    """The toy rule set plus ECHO_GUO, which the shipped catalogue (and the NZa scope text) excludes."""
    rules = make_ruleset(year)
    guo = activity_type("ECHO_GUO", {Discipline.HOSPITAL, Discipline.ULTRASOUND}, Phase.PRENATAL, in_scope=False)
    return replace(rules, activity_types={**rules.activity_types, "ECHO_GUO": guo})


def test_out_of_scope_care_by_non_member_never_breaks_bundle():
    """§3: out-of-scope care never breaks the bundle. Example: advanced ultrasound (GUO), which the policy
    rule excludes from integral birth care (NR/REG-2312 scope; ``ECHO_GUO`` is out of scope in every shipped
    catalogue year), done by an ultrasound centre that is not a member."""
    for year in (2024, 2025):
        assert not load_catalogue().for_year(year).activity_types["ECHO_GUO"].in_scope
    guo = act("ECHO_GUO", ECHO_OUTSIDER, date(2025, 3, 10))
    context = make_context(rulesets=[_with_advanced_ultrasound(2024), _with_advanced_ultrasound(2025)])
    decision = decide_bundle(make_pregnancy(), [*normal_birth_activities(), guo], context, AS_OF)
    assert decision.phase(Phase.PRENATAL).outcome is Outcome.INTEGRAL
    outcome = disposition(decision, guo.activity_id)
    assert (outcome.disposition, outcome.reason) == (Disposition.EXCLUDED, ReasonCode.OUT_OF_SCOPE)


def test_settle_in_contract_policy_keeps_integral_claim_and_reports_overlap():
    """§3: under the regular policy the overlap is settled in the contract instead of breaking the bundle."""
    outside_scan = act("VK_TERMIJNECHO", ECHO_OUTSIDER, date(2025, 2, 3))
    context = make_context(overlap=OverlapPolicy.SETTLE_IN_CONTRACT)
    decision = decide_bundle(make_pregnancy(), [*normal_birth_activities(), outside_scan], context, AS_OF)
    prenatal = decision.phase(Phase.PRENATAL)
    assert prenatal.outcome is Outcome.INTEGRAL
    assert prenatal.reason_codes == ("NON_MEMBER_OVERLAP_SETTLED",)
    assert [c.prestatie_code for c in prenatal.claims] == ["IG_PRE"]
    assert outside_scan.activity_id not in prenatal.claims[0].activity_ids


def test_contract_missing_for_insurer_falls_back():
    """§3: without a contract between the IGO and her insurer for the year, members claim separately."""
    decision = decide_bundle(make_pregnancy(uzovi=OTHER_INSURER), normal_birth_activities(), make_context(), AS_OF)
    assert outcomes(decision) == dict.fromkeys(Phase, Outcome.FALLBACK)
    assert decision.phase(Phase.NATAL).reason_codes == ("CONTRACT_MISSING",)
    assert {c.kind for c in decision.claims} == {ClaimKind.MONO}


def test_prestatie_not_in_contract_falls_back():
    """§3: a contract that does not include the phase's integral prestatie cannot be claimed integrally."""
    tariffs = {"IG_PRE": 120_000, "IG_POST": 180_000}
    decision = decide_bundle(make_pregnancy(), normal_birth_activities(), make_context(contract_tariffs=tariffs), AS_OF)
    assert decision.phase(Phase.NATAL).reason_codes == ("PRESTATIE_NOT_CONTRACTED",)
    assert decision.phase(Phase.PRENATAL).outcome is Outcome.INTEGRAL


def test_contract_tariff_overrides_nza_tariff_in_fallback():
    """§3 fallback: monodisciplinary lines use NZa tariffs, or the contract's tariff where one is agreed."""
    tariffs = {"VK_NATAL": 47_500}
    decision = decide_bundle(make_pregnancy(), normal_birth_activities(), make_context(contract_tariffs=tariffs), AS_OF)
    natal = decision.phase(Phase.NATAL)
    assert [(c.prestatie_code, c.amount_cents, c.tariff_source) for c in natal.claims] == [
        ("VK_NATAL", 47_500, "contract")
    ]


def test_fallback_hours_are_priced_per_hour_with_half_up_rounding():
    """§4 money: quantity × tariff rounded half-up to the cent (8 h and 6.5 h × € 55,55)."""
    context = make_context(contract_tariffs={})  # nothing contracted: everything falls back
    decision = decide_bundle(make_pregnancy(), normal_birth_activities(), context, AS_OF)
    hours = [c for c in decision.claims if c.prestatie_code == "KZ_UUR"]
    assert [(c.quantity, c.amount_cents, c.claimant_agb) for c in hours] == [
        (Decimal("8"), 44_440, KRAAMZORG),
        (Decimal("6.5"), 36_108, KRAAMZORG),  # 36 107.5 rounds up
    ]


def test_ongoing_trajectory_is_incomplete():
    """§3: a trajectory that has not ended yet has nothing claimable: every phase is incomplete."""
    pregnancy = make_pregnancy(end=None, end_reason=None)
    activities = [a for a in normal_birth_activities() if a.day < date(2025, 7, 1)]
    decision = decide_bundle(pregnancy, activities, make_context(), AS_OF)
    assert outcomes(decision) == dict.fromkeys(Phase, Outcome.INCOMPLETE)
    assert all(a.reason is ReasonCode.PENDING for a in decision.activities)


def test_postnatal_phase_not_ended_on_decision_date_is_incomplete():
    """§2: the postnatal prestatie is claimable only after the postnatal period (42 days) has passed."""
    decision = decide_bundle(make_pregnancy(), normal_birth_activities(), make_context(), date(2025, 8, 15))
    assert outcomes(decision) == {
        Phase.PRENATAL: Outcome.INTEGRAL,
        Phase.NATAL: Outcome.INTEGRAL,
        Phase.POSTNATAL: Outcome.INCOMPLETE,
    }
    assert decision.phase(Phase.POSTNATAL).reason_codes == ("PHASE_NOT_ENDED",)


def test_miscarriage_claims_prenatal_and_later_phases_do_not_apply():
    """§3 end reasons: after a miscarriage the prenatal prestatie covers care and aftercare."""
    pregnancy = make_pregnancy(end=date(2025, 2, 20), end_reason=EndReason.MISCARRIAGE)
    activities = [
        act("VK_INTAKE", MIDWIFE, date(2025, 1, 6)),
        act("VK_CONTROLE", MIDWIFE, date(2025, 2, 20)),
        act("VK_CONTROLE", MIDWIFE, date(2025, 3, 1)),  # aftercare within 14 days
    ]
    decision = decide_bundle(pregnancy, activities, make_context(), AS_OF)
    assert outcomes(decision) == {
        Phase.PRENATAL: Outcome.INTEGRAL,
        Phase.NATAL: Outcome.NOT_APPLICABLE,
        Phase.POSTNATAL: Outcome.NOT_APPLICABLE,
    }
    assert "ENDED_MISCARRIAGE" in decision.phase(Phase.PRENATAL).reason_codes
    assert decision.phase(Phase.PRENATAL).claims[0].declaration_date == date(2025, 3, 6)


def test_termination_claims_prenatal_only():
    """§3 end reasons: a termination ends the trajectory in the prenatal phase."""
    pregnancy = make_pregnancy(end=date(2025, 2, 10), end_reason=EndReason.TERMINATION)
    decision = decide_bundle(pregnancy, [act("VK_INTAKE", MIDWIFE, date(2025, 1, 6))], make_context(), AS_OF)
    assert decision.phase(Phase.PRENATAL).reason_codes == ("ALL_CARE_BY_MEMBERS", "ENDED_TERMINATION")
    assert decision.phase(Phase.NATAL).reason_codes == ("PHASE_NOT_REACHED",)


def test_moved_away_under_fallback_contract_claims_partial_mono_prestatie():
    """§3 partial trajectories: moving away at 20 weeks gives the midwife the 16–28 weeks deelprestatie."""
    pregnancy = make_pregnancy(end=date(2025, 3, 14), end_reason=EndReason.MOVED_AWAY)
    activities = [act("VK_INTAKE", MIDWIFE, date(2025, 1, 6)), act("VK_CONTROLE", MIDWIFE, date(2025, 3, 14))]
    decision = decide_bundle(pregnancy, activities, make_context(), AS_OF)
    prenatal = decision.phase(Phase.PRENATAL)
    assert prenatal.outcome is Outcome.FALLBACK
    assert prenatal.reason_codes == ("PARTIAL_TRAJECTORY_FALLBACK",)
    assert [(c.prestatie_code, c.amount_cents) for c in prenatal.claims] == [("VK_PRE_16_28", 25_000)]
    assert outcomes(decision)[Phase.NATAL] is Outcome.NOT_APPLICABLE


def test_switched_provider_under_integral_contract_claims_integral():
    """§3 partial trajectories: the integral contract may let the IGO claim the phase anyway."""
    pregnancy = make_pregnancy(end=date(2025, 3, 14), end_reason=EndReason.SWITCHED_PROVIDER)
    context = make_context(partial=PartialPolicy.INTEGRAL)
    decision = decide_bundle(pregnancy, [act("VK_INTAKE", MIDWIFE, date(2025, 1, 6))], context, AS_OF)
    prenatal = decision.phase(Phase.PRENATAL)
    assert prenatal.outcome is Outcome.INTEGRAL
    assert "PARTIAL_TRAJECTORY_INTEGRAL" in prenatal.reason_codes


def test_maternal_death_is_an_explicit_partial_trajectory():
    """§3 partial trajectories: death is decided explicitly, with its reason."""
    pregnancy = make_pregnancy(end=date(2025, 5, 1), end_reason=EndReason.MATERNAL_DEATH)
    decision = decide_bundle(pregnancy, [act("VK_INTAKE", MIDWIFE, date(2025, 1, 6))], make_context(), AS_OF)
    assert decision.phase(Phase.PRENATAL).reason_codes == ("PARTIAL_TRAJECTORY_FALLBACK",)
    assert decision.phase(Phase.POSTNATAL).outcome is Outcome.NOT_APPLICABLE


def test_referral_in_pregnancy_gives_midwife_partial_prestatie_after_29_weeks():
    """§2 mono world: referred to the hospital at 31 weeks → 'prenatal care after 29 weeks before birth'."""
    pregnancy = make_pregnancy(referral_date=date(2025, 5, 30), referral_stage=ReferralStage.PREGNANCY)
    activities = [
        act("VK_INTAKE", MIDWIFE, date(2025, 1, 6)),
        act("VK_CONTROLE", MIDWIFE, date(2025, 5, 30)),
        act("GYN_CONSULT", HOSPITAL, date(2025, 6, 10)),
        act("GYN_BEVALLING", HOSPITAL, date(2025, 7, 30)),
    ]
    decision = decide_bundle(pregnancy, activities, make_context(contract_tariffs={}), AS_OF)
    prenatal = sorted((c.prestatie_code, c.claimant_agb) for c in decision.phase(Phase.PRENATAL).claims)
    assert prenatal == [("DBC_PRE", HOSPITAL), ("VK_PRE_GE29", MIDWIFE)]


def test_secondary_care_in_labour_selects_the_secondary_natal_prestatie():
    """§2: the natal integral prestatie depends on whether secondary care was involved."""
    activities = [*normal_birth_activities()[:4], act("GYN_BEVALLING", HOSPITAL, date(2025, 7, 30))]
    decision = decide_bundle(make_pregnancy(), activities, make_context(), AS_OF)
    assert [c.prestatie_code for c in decision.phase(Phase.NATAL).claims] == ["IG_NAT_2"]


def test_checkup_on_labour_day_belongs_to_natal_phase():
    """§2 boundaries: the start of labour ends the prenatal phase; that day is natal."""
    labour = date(2025, 7, 29)
    on_labour = act("VK_CONTROLE", MIDWIFE, labour)
    day_before = act("VK_CONTROLE", MIDWIFE, date(2025, 7, 28))
    decision = decide_bundle(make_pregnancy(labour=labour), [on_labour, day_before], make_context(), AS_OF)
    assert disposition(decision, on_labour.activity_id).phase is Phase.NATAL
    assert disposition(decision, day_before.activity_id).phase is Phase.PRENATAL


def test_postnatal_window_ends_after_postnatal_days():
    """§2 boundaries: the postnatal phase runs up to 42 days after the birth; later care is outside."""
    last = act("VK_KRAAMBED", MIDWIFE, date(2025, 9, 10))
    late = act("VK_KRAAMBED", MIDWIFE, date(2025, 9, 11))
    decision = decide_bundle(make_pregnancy(), [*normal_birth_activities(), last, late], make_context(), AS_OF)
    assert disposition(decision, last.activity_id).phase is Phase.POSTNATAL
    assert disposition(decision, late.activity_id).reason is ReasonCode.OUTSIDE_TRAJECTORY


def test_activity_before_intake_is_outside_the_trajectory():
    """§2 boundaries: the prenatal phase starts at the physical intake."""
    early = act("VK_TERMIJNECHO", ECHO_OUTSIDER, date(2025, 1, 2))
    decision = decide_bundle(make_pregnancy(), [*normal_birth_activities(), early], make_context(), AS_OF)
    assert disposition(decision, early.activity_id).reason is ReasonCode.OUTSIDE_TRAJECTORY
    assert decision.phase(Phase.PRENATAL).outcome is Outcome.INTEGRAL  # reported, does not break


def test_activity_outside_any_trajectory_is_reported():
    """§3: an activity that matches no trajectory is reported, never dropped."""
    index = TrajectoryIndex([make_pregnancy()], trailing_days=42)
    stray = act("VK_CONTROLE", MIDWIFE, date(2025, 3, 1), bsn=OTHER_BSN, pid=None)
    late = act("VK_CONTROLE", MIDWIFE, date(2025, 12, 1), pid=None)
    matched, unmatched = match_activities(index, [stray, late])
    assert matched == {}
    assert {(o.activity_id, o.reason) for o in unmatched} == {
        (stray.activity_id, ReasonCode.NO_TRAJECTORY),
        (late.activity_id, ReasonCode.NO_TRAJECTORY),
    }


def test_activity_without_trajectory_id_is_matched_on_bsn_and_date():
    """§3 one registration: activities carry the BSN; the running trajectory on that date is found."""
    earlier = make_pregnancy(
        pregnancy_id="P0",
        intake=date(2024, 5, 1),
        end=date(2024, 7, 1),
        end_reason=EndReason.MISCARRIAGE,
        due=date(2025, 1, 1),
    )
    index = TrajectoryIndex([earlier, make_pregnancy()], trailing_days=42)
    a1 = act("VK_CONTROLE", MIDWIFE, date(2024, 6, 1), pid=None)
    a2 = act("VK_CONTROLE", MIDWIFE, date(2025, 3, 1), pid=None)
    matched, unmatched = match_activities(index, [a1, a2])
    assert unmatched == []
    assert {k: [a.activity_id for a in v] for k, v in matched.items()} == {
        "P0": [a1.activity_id],
        "P1": [a2.activity_id],
    }


def test_activity_naming_another_womans_trajectory_is_reported():
    """Data safety: a trajectory id with a different BSN is a registration error, reported."""
    index = TrajectoryIndex([make_pregnancy()], trailing_days=42)
    wrong = act("VK_CONTROLE", MIDWIFE, date(2025, 3, 1), bsn=OTHER_BSN, pid="P1")
    _, unmatched = match_activities(index, [wrong])
    assert [o.reason for o in unmatched] == [ReasonCode.BSN_MISMATCH]


def test_activity_by_wrong_discipline_is_reported_not_claimed():
    """Data safety: a kraamzorg organisation cannot deliver a birth; the line is reported."""
    odd = act("VK_BEVALLING", KRAAMZORG, date(2025, 7, 30))
    decision = decide_bundle(make_pregnancy(), [*normal_birth_activities(), odd], make_context(), AS_OF)
    assert disposition(decision, odd.activity_id).reason is ReasonCode.DISCIPLINE_MISMATCH


def test_unknown_activity_code_is_reported():
    """Catalogue as data: a code not in the year's catalogue is reported with its reason."""
    odd = act("XX_UNKNOWN", MIDWIFE, date(2025, 3, 1))
    decision = decide_bundle(make_pregnancy(), [*normal_birth_activities(), odd], make_context(), AS_OF)
    assert disposition(decision, odd.activity_id).reason is ReasonCode.UNKNOWN_ACTIVITY_CODE


def test_missing_ruleset_for_the_year_makes_phases_incomplete():
    """Rules are data per year: without a rule set for the year nothing is decided."""
    context = make_context(rulesets=[make_ruleset(2024)])
    decision = decide_bundle(make_pregnancy(), normal_birth_activities(), context, AS_OF)
    assert outcomes(decision) == dict.fromkeys(Phase, Outcome.INCOMPLETE)
    assert decision.phase(Phase.PRENATAL).reason_codes == ("NO_RULESET",)


def test_phase_reached_without_any_registered_care_is_incomplete():
    """§3: nothing claimable yet when a phase has no registered in-scope care."""
    activities = [a for a in normal_birth_activities() if a.code != "VK_BEVALLING"]
    decision = decide_bundle(make_pregnancy(), activities, make_context(), AS_OF)
    assert decision.phase(Phase.NATAL).reason_codes == ("NO_CARE_IN_PHASE",)


def test_contract_year_follows_the_phase_start_date():
    """Contracts are per year; a phase is claimed under the contract of the year it started in."""
    pregnancy = make_pregnancy(intake=date(2024, 11, 4), due=date(2025, 6, 1), end=date(2025, 5, 28))
    activities = [
        act("VK_INTAKE", MIDWIFE, date(2024, 11, 4)),
        act("VK_BEVALLING", MIDWIFE, date(2025, 5, 28)),
    ]
    context = make_context(years=(2024,))
    decision = decide_bundle(pregnancy, activities, context, AS_OF)
    assert decision.phase(Phase.PRENATAL).contract_id == "C2024"
    assert decision.phase(Phase.PRENATAL).outcome is Outcome.INTEGRAL
    assert decision.phase(Phase.NATAL).reason_codes == ("CONTRACT_MISSING",)


def test_trajectory_ending_in_birth_decides_and_claims_all_three_phases():
    """§2/§3 end reason birth: the trajectory reaches every phase, so each of prenatal (intake → start of
    labour), natal (labour → birth) and postnatal (birth → 42 days) is decided and claimed once, and every
    activity is claimed in the phase its date falls in."""
    labour, birth = date(2025, 7, 29), date(2025, 7, 30)
    pregnancy = make_pregnancy(labour=labour, end=birth, end_reason=EndReason.BIRTH)
    activities = normal_birth_activities(birth)
    decision = decide_bundle(pregnancy, activities, make_context(), AS_OF)

    assert outcomes(decision) == dict.fromkeys(Phase, Outcome.INTEGRAL)
    assert all(p.reason_codes == ("ALL_CARE_BY_MEMBERS",) for p in decision.phases)
    windows = {c.phase: (c.prestatie_code, c.service_start, c.service_end) for c in decision.claims}
    assert windows == {
        Phase.PRENATAL: ("IG_PRE", date(2025, 1, 6), labour),
        Phase.NATAL: ("IG_NAT_1", labour, birth),
        Phase.POSTNATAL: ("IG_POST", birth, birth + timedelta(days=42)),
    }
    by_phase = {c.phase: set(c.activity_ids) for c in decision.claims}
    for a in activities:
        expected = Phase.NATAL if a.code == "VK_BEVALLING" else Phase.PRENATAL if a.day < labour else Phase.POSTNATAL
        assert a.activity_id in by_phase[expected], a.code
    assert all(a.disposition is Disposition.CLAIMED for a in decision.activities)


def test_birth_day_is_natal_for_date_driven_care_and_the_next_day_is_postnatal():
    """§2 boundaries (ruleset.yaml): the natal phase runs to 2 hours after the placenta and the postnatal
    phase starts there; with dates only, the birth day is shared. A date-driven activity (a check-up) on the
    birth day belongs to the natal phase (labour wins the boundary day), one on the next day to the postnatal
    phase; an activity whose type is postnatal (a kraambed visit) on the birth day stays postnatal."""
    labour, birth = date(2025, 7, 29), date(2025, 7, 30)
    on_labour_day = act("VK_CONTROLE", MIDWIFE, labour)
    on_birth_day = act("VK_CONTROLE", MIDWIFE, birth)
    day_after = act("VK_CONTROLE", MIDWIFE, birth + timedelta(days=1))
    kraambed_on_birth_day = act("VK_KRAAMBED", MIDWIFE, birth)
    extra = [on_labour_day, on_birth_day, day_after, kraambed_on_birth_day]
    pregnancy = make_pregnancy(labour=labour, end=birth)
    decision = decide_bundle(pregnancy, [*normal_birth_activities(birth), *extra], make_context(), AS_OF)
    assert disposition(decision, on_labour_day.activity_id).phase is Phase.NATAL
    assert disposition(decision, on_birth_day.activity_id).phase is Phase.NATAL
    assert disposition(decision, day_after.activity_id).phase is Phase.POSTNATAL
    assert disposition(decision, kraambed_on_birth_day.activity_id).phase is Phase.POSTNATAL


def test_birth_day_without_recorded_labour_is_both_natal_start_and_end():
    """§2 boundaries: without a labour date the natal phase is the birth day itself; a check-up that day is
    natal, the day before prenatal and the day after postnatal."""
    birth = date(2025, 7, 30)
    before, on, after = (act("VK_CONTROLE", MIDWIFE, birth + timedelta(days=d)) for d in (-1, 0, 1))
    decision = decide_bundle(make_pregnancy(end=birth), [before, on, after], make_context(), AS_OF)
    assert [disposition(decision, a.activity_id).phase for a in (before, on, after)] == [
        Phase.PRENATAL,
        Phase.NATAL,
        Phase.POSTNATAL,
    ]


EARLY_ENDINGS = [e for e in EndReason if e is not EndReason.BIRTH]


@pytest.mark.parametrize("policy", list(PartialPolicy))
@pytest.mark.parametrize("end_reason", EARLY_ENDINGS)
def test_every_early_ending_is_decided_explicitly_under_both_partial_policies(end_reason, policy):
    """§3 partial trajectories: every early ending gets an explicit decision with its reason, under either
    policy. Miscarriage and termination stay in 'geboortezorg prenataal' whatever the policy (NZa 2023:
    care and aftercare after a miscarriage belong to the prenatal prestatie); moving away, switching to a
    provider outside the IGO and maternal death follow the contract's partial-trajectory policy: ``fallback``
    gives the midwife her deelprestatie, ``integral`` lets the IGO claim the phase. The later phases were
    never reached."""
    end = date(2025, 3, 14)  # 20 completed weeks
    pregnancy = make_pregnancy(end=end, end_reason=end_reason)
    activities = [act("VK_INTAKE", MIDWIFE, date(2025, 1, 6)), act("VK_CONTROLE", MIDWIFE, end)]
    decision = decide_bundle(pregnancy, activities, make_context(partial=policy), AS_OF)

    prenatal = decision.phase(Phase.PRENATAL)
    if end_reason in NO_BIRTH_ENDINGS:
        ended = "ENDED_MISCARRIAGE" if end_reason is EndReason.MISCARRIAGE else "ENDED_TERMINATION"
        assert prenatal.outcome is Outcome.INTEGRAL
        assert prenatal.reason_codes == ("ALL_CARE_BY_MEMBERS", ended)
        assert [c.prestatie_code for c in prenatal.claims] == ["IG_PRE"]
    elif policy is PartialPolicy.FALLBACK:
        assert prenatal.outcome is Outcome.FALLBACK
        assert prenatal.reason_codes == ("PARTIAL_TRAJECTORY_FALLBACK",)
        assert prenatal.reasons[0].params == (("end_reason", end_reason.value),)
        assert [(c.prestatie_code, c.claimant_agb, c.kind) for c in prenatal.claims] == [
            ("VK_PRE_16_28", MIDWIFE, ClaimKind.MONO)
        ]
    else:
        assert prenatal.outcome is Outcome.INTEGRAL
        assert prenatal.reason_codes == ("ALL_CARE_BY_MEMBERS", "PARTIAL_TRAJECTORY_INTEGRAL")
        assert [c.prestatie_code for c in prenatal.claims] == ["IG_PRE"]
    for later in (Phase.NATAL, Phase.POSTNATAL):
        assert decision.phase(later).outcome is Outcome.NOT_APPLICABLE
        assert decision.phase(later).reason_codes == ("PHASE_NOT_REACHED",)
    assert {a.disposition for a in decision.activities} == {Disposition.CLAIMED}
