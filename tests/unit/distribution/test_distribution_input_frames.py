"""An input held as columns is the same input as one held as rows: the same rows when asked, the same views, the
same allocation from every model; and a plan run on columns never makes the row objects (issue 7: a national
IGO's million rows were most of the distribution stage)."""

from __future__ import annotations

import copy
import pickle
from decimal import Decimal

import polars as pl
import pytest
from distribution_strategies import PROPERTY, YEAR, distribution_inputs, run
from hypothesis import given
from hypothesis import strategies as st
from test_distribution_fast_paths import awkward_inputs, reference_integral_shadow_claims

from integraal.distribution import (
    ActivityCount,
    ClientProfile,
    DistributionInput,
    InputFrames,
    InputProblem,
    Member,
    PregnancyRow,
    QualityScore,
    Receipt,
    ShadowClaim,
    models,
)
from integraal.distribution.plan import plan_from_mapping, run_plan
from integraal.domain.phase import Phase
from integraal.domain.provider import Discipline
from integraal.rules.decision import Outcome

TABLES = ("receipts", "pregnancies", "outcomes", "shadow_claims", "activities")


def as_columns(data: DistributionInput) -> DistributionInput:
    """The same input, made from its tables as columns (no rows held)."""
    frames = InputFrames(*(data.frame(name) for name in TABLES))
    return DistributionInput.from_frames(data.year, data.members, frames, data.quality)


def views(data: DistributionInput) -> dict[str, object]:
    return {
        "received_by_phase": data.received_by_phase(),
        "received_by_pregnancy": data.received_by_pregnancy(),
        "integral_shadow_claims": data.integral_shadow_claims(),
        "shadow_by_member": {p: data.shadow_by_member(p) for p in (None, *Phase)},
        "activity_by_member": data.activity_by_member(),
        "problems": data.problems(),
    }


@PROPERTY
@given(st.one_of(awkward_inputs(), distribution_inputs()))
def test_the_rows_of_an_input_made_from_columns_are_the_rows_it_was_made_of(data: DistributionInput) -> None:
    columns = as_columns(data)
    assert columns.receipts == data.receipts
    assert columns.pregnancies == data.pregnancies or _repeated(data)  # see _repeated
    assert columns.shadow_claims == data.shadow_claims
    assert columns.activities == data.activities
    assert [a.count for a in columns.activities] == [a.count for a in data.activities]  # the same numbers


def _repeated(data: DistributionInput) -> bool:
    """A pregnancy listed twice (an input ``problems`` refuses) shares one list of outcomes as columns."""
    ids = [row.pregnancy_id for row in data.pregnancies]
    return len(ids) != len(set(ids))


@PROPERTY
@given(st.one_of(awkward_inputs(), distribution_inputs()))
def test_the_views_of_an_input_made_from_columns_are_those_of_its_rows(data: DistributionInput) -> None:
    columns = as_columns(data)
    assert views(columns) == views(data)
    assert columns.integral_shadow_claims() == reference_integral_shadow_claims(data)


@PROPERTY
@given(distribution_inputs(), st.sampled_from(sorted(models())))
def test_every_model_allocates_the_same_from_columns(data: DistributionInput, name: str) -> None:
    assert run(name, as_columns(data)) == run(name, data)


def national_like() -> DistributionInput:
    members = (Member("11111111", Discipline.MIDWIFE, "", Decimal(1)), Member("22222222", Discipline.KRAAMZORG))
    frames = InputFrames(
        receipts=pl.DataFrame(
            {"phase": ["prenatal", "natal"], "amount_cents": [90_000, 60_000], "pregnancy_id": ["P1", "P2"]}
        ),
        pregnancies=pl.DataFrame({"pregnancy_id": ["P1", "P2"], "profile": ["low_risk_primary", "referred_labour"]}),
        outcomes=pl.DataFrame(
            {"pregnancy_id": ["P1", "P2"], "phase": ["prenatal", "natal"], "outcome": ["integral", "fallback"]}
        ),
        shadow_claims=pl.DataFrame(
            {
                "pregnancy_id": ["P1", "P2", "P2"],
                "phase": ["prenatal", "natal", "prenatal"],
                "agb": ["11111111", "11111111", "22222222"],
                "amount_cents": [30_000, 20_000, 10_000],
            }
        ),
        activities=pl.DataFrame(
            {
                "agb": ["11111111", "22222222"],
                "activity_type": ["consult", "kraam_hour"],
                "count": [3, 40],
                "pregnancy_id": ["P1", "P2"],
            }
        ),
    )
    return DistributionInput.from_frames(YEAR, members, frames)


def test_a_plan_run_on_columns_makes_no_row_objects() -> None:
    data = national_like()
    steps = [
        {"model": "overhead"},
        {"model": "availability"},
        {"model": "quality_pool"},
        {"model": "capitation", "parameters": {"attribution": "activities"}},
    ]
    allocation = run_plan(plan_from_mapping(YEAR, steps, "test"), data)
    assert sum(allocation.amounts().values()) == allocation.distributed_cents == 150_000
    assert data._rows == {}  # no table was turned into rows
    assert data.receipts == (Receipt(Phase.PRENATAL, 90_000, "P1"), Receipt(Phase.NATAL, 60_000, "P2"))
    assert set(data._rows) == {"receipts"}  # made when asked, that table only


def test_columns_are_checked_and_converted_when_given() -> None:
    data = national_like()
    assert data.frame("activities").schema["count"] == pl.Decimal(38, 0)  # whole counts as exact decimals
    assert data.activities[1] == ActivityCount("22222222", "kraam_hour", Decimal(40), "P2")
    assert data.pregnancies[1] == PregnancyRow("P2", ClientProfile.REFERRED_LABOUR, ((Phase.NATAL, Outcome.FALLBACK),))
    wrong = InputFrames(*(data.frame(name) for name in TABLES))
    with pytest.raises(ValueError, match="shadow_claims: columns"):
        DistributionInput.from_frames(
            YEAR, data.members, InputFrames(**{**_fields(wrong), "shadow_claims": pl.DataFrame({"agb": ["1"]})})
        )


def _fields(frames: InputFrames) -> dict[str, pl.DataFrame]:
    return {name: getattr(frames, name) for name in TABLES}


def test_replace_shares_what_it_keeps_and_drops_what_it_changes() -> None:
    data = national_like()
    fewer = data.replace(pregnancies=(PregnancyRow("P1", ClientProfile.LOW_RISK_PRIMARY),))
    assert fewer.frame("shadow_claims") is data.frame("shadow_claims")  # kept as it was held: no copy
    assert fewer.frame("outcomes").is_empty()  # the outcomes were those of the pregnancies replaced
    assert fewer.integral_shadow_claims() == [
        ShadowClaim("P1", Phase.PRENATAL, "11111111", 30_000),
        ShadowClaim("P2", Phase.NATAL, "11111111", 20_000),  # no recorded outcome any more: integral
        ShadowClaim("P2", Phase.PRENATAL, "22222222", 10_000),
    ]
    assert data.integral_shadow_claims()[1:] == [ShadowClaim("P2", Phase.PRENATAL, "22222222", 10_000)]
    with pytest.raises(TypeError, match="no field"):
        data.replace(receipt=())


def test_an_input_is_immutable_and_survives_pickle_and_copy() -> None:
    data = national_like()
    with pytest.raises(AttributeError, match="immutable"):
        data.year = 2000  # type: ignore[misc]
    for again in (pickle.loads(pickle.dumps(data)), copy.deepcopy(data), copy.copy(data)):
        assert again == data
        assert again.shadow_by_member() == data.shadow_by_member()
    assert data != data.replace(year=YEAR + 1)
    assert "shadow_claims=3" in repr(data)


def test_a_count_that_is_not_a_number_is_refused_when_made_columns() -> None:
    data = DistributionInput(YEAR, (), activities=(ActivityCount("1", "consult", Decimal("NaN")),))
    with pytest.raises(ValueError, match="not a finite number"):
        data.activity_by_member()


def test_replace_keeps_the_views_of_what_it_did_not_change_and_derives_the_others_again() -> None:
    data = national_like()
    for view in (data.shadow_by_member, data.activity_by_member, data.problems):
        view()
    data.care_shares("activities")
    scored = data.replace(quality=(QualityScore("11111111", "sectio", Decimal(2)),))
    assert scored.shadow_by_member() is not None and "shadow_by_member" in scored._memo  # kept, not derived again
    assert ("care_shares", "activities") in scored._memo
    assert scored.problems() == [InputProblem("quality", "11111111/sectio", "score must lie between 0 and 1")]
    assert data.problems() == []

    more = data.replace(shadow_claims=(*data.shadow_claims, ShadowClaim("P1", Phase.NATAL, "22222222", 5_000)))
    assert "shadow_by_member" not in more._memo and ("care_shares", "activities") not in more._memo
    assert more.shadow_by_member()["22222222"] == data.shadow_by_member()["22222222"] + 5_000
    assert more.activity_by_member() == data.activity_by_member()
    fewer = data.replace(members=data.members[:1])
    assert fewer.problems() == [
        InputProblem("shadow_claims", "P2/prenatal/22222222", "not a member"),
        InputProblem("activities", "22222222/kraam_hour", "not a member"),
    ]


def test_care_shares_know_two_attributions() -> None:
    data = national_like()
    assert data.care_shares("activities").rows() == [("P1", "11111111", 3_000_000), ("P2", "22222222", 40_000_000)]
    assert data.care_shares("claims").sort("pregnancy_id").rows() == [
        ("P1", "11111111", 30_000),
        ("P2", "22222222", 10_000),  # the natal claim of P2 is of a phase that fell back
    ]
    with pytest.raises(ValueError, match="unknown attribution"):
        data.care_shares("hours")
