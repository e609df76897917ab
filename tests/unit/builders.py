"""Small, readable building blocks for rule tests: a toy catalogue and a toy region.

Tariffs here are round numbers chosen for the tests, not the shipped NZa figures, so a test's expectation
can be checked by hand.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from integraal.domain.activity import Activity
from integraal.domain.catalogue import (
    ActivityType,
    Catalogue,
    Completion,
    IntegralPrestatie,
    MonoPrestatie,
    RuleSet,
    Unit,
)
from integraal.domain.contract import Contract, ContractBook, OverlapPolicy, PartialPolicy
from integraal.domain.igo import Igo, MembershipPeriod, MembershipRegister
from integraal.domain.phase import Phase
from integraal.domain.pregnancy import EndReason, Pregnancy, ReferralStage
from integraal.domain.provider import Discipline, Provider
from integraal.rules.engine import DecisionContext

D = Discipline
P = Phase

MIDWIFE = "08000001"
HOSPITAL = "06000001"
KRAAMZORG = "33000001"
ECHO_MEMBER = "24000001"
ECHO_OUTSIDER = "24000002"
KRAAMZORG_OUTSIDER = "33000002"
LATE_JOINER = "08000002"  # midwife practice that joins the IGO on 2025-03-01
IGO_AGB = "53000001"
INSURER = "3311"
OTHER_INSURER = "7029"  # no contract with the IGO
VALID_BSN = "111222333"
OTHER_BSN = "123456782"


def activity_type(
    code: str, disciplines: set[Discipline], phase: Phase | None, mono: str = "phase", in_scope: bool = True
) -> ActivityType:
    return ActivityType(code, frozenset(disciplines), phase, in_scope, mono if in_scope else "", code, code)


def mono(
    code: str,
    discipline: Discipline,
    phase: Phase,
    unit: Unit,
    tariff: int,
    *,
    end_min: int | None = None,
    end_max: int | None = None,
    start_min: int | None = None,
    completed: Completion = Completion.ANY,
    priority: int = 10,
) -> MonoPrestatie:
    return MonoPrestatie(
        code,
        discipline,
        phase,
        unit,
        tariff,
        start_min,
        None,
        end_min,
        end_max,
        completed,
        priority,
        False,
        code,
        code,
    )


def make_ruleset(
    year: int = 2025,
    overlap: OverlapPolicy = OverlapPolicy.BREAK_BUNDLE,
    partial: PartialPolicy = PartialPolicy.FALLBACK,
) -> RuleSet:
    types = [
        activity_type("VK_INTAKE", {D.MIDWIFE}, P.PRENATAL),
        activity_type("VK_CONTROLE", {D.MIDWIFE}, None),
        activity_type("VK_BEVALLING", {D.MIDWIFE}, P.NATAL),
        activity_type("VK_KRAAMBED", {D.MIDWIFE}, P.POSTNATAL),
        activity_type("VK_TERMIJNECHO", {D.MIDWIFE, D.ULTRASOUND}, P.PRENATAL, mono="ECHO"),
        activity_type("ECHO_SEO", {D.ULTRASOUND}, P.PRENATAL, in_scope=False),
        activity_type("KZ_UUR", {D.KRAAMZORG}, P.POSTNATAL, mono="KZ_UUR"),
        activity_type("GYN_CONSULT", {D.HOSPITAL}, None),
        activity_type("GYN_BEVALLING", {D.HOSPITAL}, P.NATAL),
    ]
    monos = [
        mono("VK_PRE_FULL", D.MIDWIFE, P.PRENATAL, Unit.PHASE, 50_000, completed=Completion.YES),
        mono("VK_PRE_LT16", D.MIDWIFE, P.PRENATAL, Unit.PHASE, 10_000, end_max=15, completed=Completion.NO),
        mono(
            "VK_PRE_16_28",
            D.MIDWIFE,
            P.PRENATAL,
            Unit.PHASE,
            25_000,
            end_min=16,
            end_max=28,
            completed=Completion.NO,
        ),
        mono("VK_PRE_GE29", D.MIDWIFE, P.PRENATAL, Unit.PHASE, 40_000, end_min=29, completed=Completion.NO),
        mono("VK_NATAL", D.MIDWIFE, P.NATAL, Unit.PHASE, 45_000),
        mono("VK_POST", D.MIDWIFE, P.POSTNATAL, Unit.PHASE, 30_000),
        mono("ECHO", D.MIDWIFE, P.PRENATAL, Unit.ACTIVITY, 8_000),
        mono("ECHO", D.ULTRASOUND, P.PRENATAL, Unit.ACTIVITY, 8_500),
        mono("KZ_UUR", D.KRAAMZORG, P.POSTNATAL, Unit.HOUR, 5_555),
        mono("DBC_PRE", D.HOSPITAL, P.PRENATAL, Unit.PHASE, 90_000),
        mono("DBC_NATAL", D.HOSPITAL, P.NATAL, Unit.PHASE, 200_000),
    ]
    integral = (
        IntegralPrestatie("IG_PRE", P.PRENATAL, "always", 10, 0, "pre", "pre"),
        IntegralPrestatie("IG_NAT_1", P.NATAL, "primary_only", 10, 0, "nat1", "nat1"),
        IntegralPrestatie("IG_NAT_2", P.NATAL, "secondary", 20, 0, "nat2", "nat2"),
        IntegralPrestatie("IG_POST", P.POSTNATAL, "always", 10, 0, "post", "post"),
    )
    return RuleSet(
        version=f"{year}.test",
        year=year,
        policy_rule="test",
        overlap_policy=overlap,
        partial_policy=partial,
        postnatal_days=42,
        aftercare_days=14,
        activity_types={t.code: t for t in types},
        integral_prestaties=integral,
        mono_prestaties=tuple(monos),
    )


INTEGRAL_TARIFFS = {"IG_PRE": 120_000, "IG_NAT_1": 90_000, "IG_NAT_2": 150_000, "IG_POST": 180_000}


def make_context(
    *,
    rulesets: list[RuleSet] | None = None,
    contract_tariffs: dict[str, int] | None = None,
    overlap: OverlapPolicy | None = None,
    partial: PartialPolicy | None = None,
    years: tuple[int, ...] = (2024, 2025),
) -> DecisionContext:
    providers = [
        Provider(MIDWIFE, "Verloskundigen De Linde", D.MIDWIFE),
        Provider(HOSPITAL, "Ziekenhuis Rivierenland", D.HOSPITAL),
        Provider(KRAAMZORG, "Kraamzorg Het Nest", D.KRAAMZORG),
        Provider(ECHO_MEMBER, "Echocentrum Binnen", D.ULTRASOUND),
        Provider(ECHO_OUTSIDER, "Echopunt Buiten", D.ULTRASOUND),
        Provider(KRAAMZORG_OUTSIDER, "Kraamzorg Elders", D.KRAAMZORG),
        Provider(LATE_JOINER, "Verloskundigen Nieuwkomer", D.MIDWIFE),
    ]
    start = date(2020, 1, 1)
    memberships = MembershipRegister(
        [
            MembershipPeriod("IGO1", MIDWIFE, start),
            MembershipPeriod("IGO1", HOSPITAL, start),
            MembershipPeriod("IGO1", KRAAMZORG, start),
            MembershipPeriod("IGO1", ECHO_MEMBER, start, date(2025, 6, 30)),
            MembershipPeriod("IGO1", LATE_JOINER, date(2025, 3, 1)),
        ]
    )
    tariffs = dict(INTEGRAL_TARIFFS if contract_tariffs is None else contract_tariffs)
    contracts = ContractBook(Contract(f"C{year}", "IGO1", INSURER, year, tariffs, overlap, partial) for year in years)
    return DecisionContext(
        catalogue=Catalogue(rulesets if rulesets is not None else [make_ruleset(2024), make_ruleset(2025)]),
        providers={p.agb: p for p in providers},
        igos={"IGO1": Igo("IGO1", IGO_AGB, "IGO Rivierenland")},
        memberships=memberships,
        contracts=contracts,
    )


def make_pregnancy(
    *,
    pregnancy_id: str = "P1",
    intake: date = date(2025, 1, 6),
    due: date = date(2025, 8, 1),
    end: date | None = date(2025, 7, 30),
    end_reason: EndReason | None = EndReason.BIRTH,
    labour: date | None = None,
    uzovi: str = INSURER,
    referral_date: date | None = None,
    referral_stage: ReferralStage | None = None,
    bsn: str = VALID_BSN,
) -> Pregnancy:
    return Pregnancy(
        pregnancy_id, bsn, uzovi, "IGO1", intake, due, labour, end, end_reason, referral_date, referral_stage
    )


_counter = iter(range(1, 10**9))


def act(
    code: str,
    agb: str,
    day: date,
    quantity: str = "1",
    *,
    bsn: str = VALID_BSN,
    pid: str | None = "P1",
    activity_id: str | None = None,
) -> Activity:
    return Activity(activity_id or f"A{next(_counter):06d}", bsn, agb, code, day, Decimal(quantity), pid)


def normal_birth_activities(birth: date = date(2025, 7, 30)) -> list[Activity]:
    """An uncomplicated primary-care trajectory, all by members."""
    return [
        act("VK_INTAKE", MIDWIFE, date(2025, 1, 6)),
        act("VK_TERMIJNECHO", MIDWIFE, date(2025, 1, 20)),
        act("VK_CONTROLE", MIDWIFE, date(2025, 3, 3)),
        act("VK_CONTROLE", MIDWIFE, date(2025, 6, 2)),
        act("VK_BEVALLING", MIDWIFE, birth),
        act("KZ_UUR", KRAAMZORG, date(2025, 7, 31), "8"),
        act("KZ_UUR", KRAAMZORG, date(2025, 8, 1), "6.5"),
        act("VK_KRAAMBED", MIDWIFE, date(2025, 8, 2)),
    ]


AS_OF = date(2026, 6, 30)
