"""Distribution input: client profiles from the trajectory (DOMAIN.md §5, seed 003 §2.2), input problems as
data, parameters and the model registry."""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal

import pytest
from distribution_strategies import YEAR, claim, member

from integraal.distribution import (
    ActivityCount,
    Budget,
    ClientProfile,
    DistributionInput,
    InvalidInputError,
    ParameterError,
    ParameterKind,
    QualityScore,
    Receipt,
    UnknownModelError,
    derive_client_profile,
    get_model,
    models,
    parameters_from_mapping,
    pregnancy_row,
    register,
    shadow_claims_from_lines,
)
from integraal.distribution.models.discipline_shares import DisciplineSharesParameters
from integraal.domain.phase import Phase
from integraal.domain.pregnancy import EndReason, Pregnancy, ReferralStage
from integraal.domain.provider import Discipline
from integraal.rules.decision import ClaimKind, ClaimLine, Outcome, PhaseDecision, PregnancyDecision


def pregnancy(**kwargs: object) -> Pregnancy:
    base: dict[str, object] = {
        "pregnancy_id": "P1",
        "bsn": "111222333",
        "uzovi": "3311",
        "igo_id": "IGO1",
        "intake_date": date(2025, 1, 10),
        "due_date": date(2025, 8, 1),
    }
    return Pregnancy(**{**base, **kwargs})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "profile"),
    [
        ({}, ClientProfile.LOW_RISK_PRIMARY),
        ({"end_reason": EndReason.BIRTH, "end_date": date(2025, 7, 30)}, ClientProfile.LOW_RISK_PRIMARY),
        ({"referral_stage": ReferralStage.INTAKE}, ClientProfile.MEDICAL_INDICATION),
        ({"referral_stage": ReferralStage.PREGNANCY}, ClientProfile.REFERRED_PREGNANCY),
        ({"referral_stage": ReferralStage.LABOUR}, ClientProfile.REFERRED_LABOUR),
        ({"end_reason": EndReason.MISCARRIAGE, "end_date": date(2025, 3, 1)}, ClientProfile.ENDED_EARLY),
        (
            {"end_reason": EndReason.TERMINATION, "referral_stage": ReferralStage.INTAKE},
            ClientProfile.ENDED_EARLY,
        ),
        ({"referral_date": date(2025, 1, 10)}, ClientProfile.MEDICAL_INDICATION),
        ({"referral_date": date(2025, 5, 1), "labour_date": date(2025, 7, 29)}, ClientProfile.REFERRED_PREGNANCY),
        ({"referral_date": date(2025, 7, 29), "labour_date": date(2025, 7, 29)}, ClientProfile.REFERRED_LABOUR),
    ],
)
def test_client_profile_follows_the_trajectory(kwargs: dict[str, object], profile: ClientProfile) -> None:
    """DOMAIN.md §5: low risk stayed in primary care, referred during pregnancy, referred during labour,
    medical indication from the start; an early end (miscarriage, termination) is its own short care path."""
    assert derive_client_profile(pregnancy(**kwargs)) is profile


def test_pregnancy_row_and_shadow_claims_from_a_decision() -> None:
    line = ClaimLine(
        "P1",
        Phase.PRENATAL,
        ClaimKind.MONO,
        "X",
        "10000001",
        "3311",
        Decimal(1),
        100,
        100,
        date(2025, 1, 10),
        date(2025, 7, 1),
        date(2025, 7, 2),
        (),
        "nza",
    )
    integral = ClaimLine(
        "P1",
        Phase.NATAL,
        ClaimKind.INTEGRAL,
        "Y",
        "IGO",
        "3311",
        Decimal(1),
        500,
        500,
        date(2025, 7, 1),
        date(2025, 7, 2),
        date(2025, 7, 3),
        (),
        "contract",
    )
    decision = PregnancyDecision(
        "P1", date(2025, 9, 1), (PhaseDecision(Phase.PRENATAL, Outcome.FALLBACK, (), (line,)),), ()
    )
    row = pregnancy_row(pregnancy(referral_stage=ReferralStage.LABOUR), decision)
    assert row.profile is ClientProfile.REFERRED_LABOUR
    assert row.outcome(Phase.PRENATAL) is Outcome.FALLBACK
    assert [c.agb for c in shadow_claims_from_lines([line, integral])] == ["10000001"]


def test_input_problems_are_all_reported_with_their_location() -> None:
    data = DistributionInput(
        YEAR,
        (member("1", Discipline.MIDWIFE), member("1", Discipline.HOSPITAL)),
        receipts=(Receipt(Phase.NATAL, -5),),
        shadow_claims=(claim("P1", Phase.PRENATAL, "9", 10),),
        activities=(ActivityCount("1", "consult", Decimal(-1)),),
        quality=(QualityScore("1", "x", Decimal("1.5")),),
    )
    problems = {(p.table, p.key) for p in data.problems()}
    assert problems == {
        ("members", "1"),
        ("receipts", "natal"),
        ("shadow_claims", "P1/prenatal/9"),
        ("activities", "1/consult"),
        ("quality", "1/x"),
    }
    model = get_model("shadow_ffs")
    with pytest.raises(InvalidInputError):
        model.run(Budget.of({}), data, model.default_parameters())


def test_every_model_has_a_bilingual_description_and_a_renderable_schema() -> None:
    assert set(models()) == {
        "availability",
        "capitation",
        "discipline_shares",
        "gain_sharing",
        "overhead",
        "quality_pool",
        "relative_value",
        "shadow_ffs",
        "shapley",
    }
    for model in models().values():
        assert model.title_nl and model.title_en and model.description_nl and model.description_en
        for spec in model.schema():
            assert spec.name and spec.label_nl and spec.label_en
            if spec.kind is ParameterKind.CHOICE:
                assert spec.default in spec.choices
        assert model.parameters_from_mapping({}) == model.default_parameters()


def test_parameters_from_mapping_names_every_bad_field() -> None:
    with pytest.raises(ParameterError) as error:
        parameters_from_mapping(
            DisciplineSharesParameters,
            {"prenatal": {"midwife": "abc", "hospital": 30}, "within": "by_mood", "natal": {"midwife": 150}},
        )
    assert set(error.value.fields) == {"prenatal.midwife", "within", "natal.midwife"}


def test_discipline_shares_must_add_up_to_one_hundred_per_phase() -> None:
    with pytest.raises(ParameterError) as error:
        parameters_from_mapping(DisciplineSharesParameters, {"natal": {"midwife": 50, "hospital": 40}})
    assert error.value.fields == ("natal",)


def test_unknown_model_names_the_registered_ones_and_names_cannot_be_taken_twice() -> None:
    with pytest.raises(UnknownModelError, match="shadow_ffs"):
        get_model("magic")
    impostor = dataclasses.replace(get_model("overhead"), description_en="another overhead")
    with pytest.raises(ValueError, match="already registered"):
        register(impostor)
