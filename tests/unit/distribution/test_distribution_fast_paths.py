"""The fast paths of a national year's distribution give exactly what the plain rules give.

Each derived view or weight that was rewritten for speed is checked here against the straightforward version it
replaced (kept below as the reference), on random inputs with the awkward cases a real input rarely has:
repeated phase records, duplicate pregnancies, claims of unknown pregnancies, counts with odd exponents.
"""

from __future__ import annotations

import dataclasses
import gc
from decimal import Decimal

import polars as pl
import pytest
from distribution_strategies import PROPERTY, YEAR, distribution_inputs
from hypothesis import given
from hypothesis import strategies as st

from integraal.distribution import (
    ActivityCount,
    ClientProfile,
    DistributionInput,
    Member,
    PregnancyRow,
    Receipt,
    ShadowClaim,
)
from integraal.distribution.allocation import fixed_point
from integraal.distribution.inputs import _made, collector_paused, rows_of
from integraal.distribution.models.capitation import (
    DEFAULT_WEIGHTS,
    CapitationParameters,
    weighted_pregnancies,
)
from integraal.domain.phase import PHASES, Phase
from integraal.domain.provider import Discipline
from integraal.rules.decision import Outcome

AGBS = ("11111111", "22222222", "33333333")
PIDS = ("P1", "P2", "P3", "P4")

# --- the plain rules, as they were written before the fast paths ------------------------------------------------


def reference_integral_shadow_claims(data: DistributionInput) -> list[ShadowClaim]:
    outcomes = {(row.pregnancy_id, phase): outcome for row in data.pregnancies for phase, outcome in row.outcomes}
    return [
        c for c in data.shadow_claims if outcomes.get((c.pregnancy_id, c.phase), Outcome.INTEGRAL) is Outcome.INTEGRAL
    ]


def reference_care_per_pregnancy(data: DistributionInput, attribution: str) -> dict[str, dict[str, int]]:
    care: dict[str, dict[str, int]] = {}
    if attribution == "claims":
        for claim in reference_integral_shadow_claims(data):
            per = care.setdefault(claim.pregnancy_id, {})
            per[claim.agb] = per.get(claim.agb, 0) + claim.amount_cents
        return care
    counts: dict[str, dict[str, Decimal]] = {}
    for row in data.activities:
        if row.pregnancy_id is not None:
            per_d = counts.setdefault(row.pregnancy_id, {})
            per_d[row.agb] = per_d.get(row.agb, Decimal(0)) + row.count
    return {pid: {agb: fixed_point(c) for agb, c in per.items()} for pid, per in counts.items()}


def care_per_pregnancy(data: DistributionInput, attribution: str) -> dict[str, dict[str, int]]:
    """``DistributionInput.care_shares`` as the reference gives it: per pregnancy, each member's share basis."""
    care: dict[str, dict[str, int]] = {}
    for pregnancy_id, agb, share in data.care_shares(attribution).iter_rows():
        care.setdefault(pregnancy_id, {})[agb] = share
    return care


def reference_weighted_pregnancies(data: DistributionInput, params: CapitationParameters) -> dict[str, int]:
    weights = dict(params.weights)
    care = reference_care_per_pregnancy(data, params.attribution)
    result = dict.fromkeys(data.member_agbs(), 0)
    for row in data.pregnancies:
        w = fixed_point(weights.get(row.profile.value, Decimal(0)))
        per = care.get(row.pregnancy_id, {})
        total = sum(per.values())
        if total == 0 or w == 0:
            continue
        for agb, share in per.items():
            result[agb] += w * share // total
    return result


# --- random awkward inputs -----------------------------------------------------------------------------------------

outcomes = st.sampled_from(list(Outcome))
counts = st.one_of(
    st.integers(0, 40).map(Decimal),
    st.decimals(min_value=0, max_value=1000, places=3, allow_nan=False, allow_infinity=False),
    st.sampled_from([Decimal("1E+1"), Decimal("2.50"), Decimal("0.000"), Decimal("0.0000001"), Decimal("3")]),
)


@st.composite
def awkward_inputs(draw: st.DrawFn) -> DistributionInput:
    """Pregnancies that may repeat (and repeat a phase within a row), claims and counts of pregnancies that may
    be unknown, or none."""
    pregnancies = draw(
        st.lists(
            st.builds(
                PregnancyRow,
                st.sampled_from(PIDS),
                st.sampled_from(list(ClientProfile)),
                st.lists(st.tuples(st.sampled_from(PHASES), outcomes), max_size=5).map(tuple),
            ),
            max_size=6,
        )
    )
    claims = draw(
        st.lists(
            st.builds(
                ShadowClaim,
                st.sampled_from((*PIDS, "P9")),
                st.sampled_from(PHASES),
                st.sampled_from(AGBS),
                st.integers(0, 300_000),
            ),
            max_size=25,
        )
    )
    activities = draw(
        st.lists(
            st.builds(
                ActivityCount,
                st.sampled_from(AGBS),
                st.sampled_from(("consult", "echo", "kraam_hour")),
                counts,
                st.sampled_from((*PIDS, "P9", None)),
            ),
            max_size=25,
        )
    )
    members = tuple(Member(agb, Discipline.MIDWIFE) for agb in AGBS)
    return DistributionInput(YEAR, members, (), tuple(pregnancies), tuple(claims), tuple(activities))


capitation_parameters = st.builds(
    CapitationParameters,
    weights=st.sampled_from(
        [
            DEFAULT_WEIGHTS,
            tuple((p.value, Decimal(i) / 3) for i, p in enumerate(ClientProfile)),
            tuple((p.value, Decimal("0.0000005")) for p in ClientProfile),
        ]
    ),
    attribution=st.sampled_from(["claims", "activities"]),
)


# --- the views --------------------------------------------------------------------------------------------------


@PROPERTY
@given(st.one_of(awkward_inputs(), distribution_inputs()))
def test_integral_shadow_claims_are_those_of_the_plain_rule(data: DistributionInput) -> None:
    """The last recorded outcome of a (pregnancy, phase) decides; a phase without one counts as integral."""
    assert data.integral_shadow_claims() == reference_integral_shadow_claims(data)


@PROPERTY
@given(st.one_of(awkward_inputs(), distribution_inputs()), capitation_parameters)
def test_capitation_weights_are_those_of_the_plain_rule(data: DistributionInput, params: CapitationParameters) -> None:
    assert care_per_pregnancy(data, params.attribution) == reference_care_per_pregnancy(data, params.attribution)
    assert weighted_pregnancies(data, params) == reference_weighted_pregnancies(data, params)


def test_integral_shadow_claims_when_every_phase_is_integral_or_unrecorded() -> None:
    claims = (ShadowClaim("P1", PHASES[0], "11111111", 5), ShadowClaim("P2", PHASES[1], "11111111", 7))
    row = PregnancyRow("P1", ClientProfile.LOW_RISK_PRIMARY, ((PHASES[0], Outcome.INTEGRAL),))
    data = DistributionInput(YEAR, (Member("11111111", Discipline.MIDWIFE),), (), (row,), claims)
    assert data.integral_shadow_claims() == list(claims)


def test_a_later_record_of_a_phase_wins_as_in_the_plain_rule() -> None:
    prenatal, natal = PHASES[0], PHASES[1]
    claims = (ShadowClaim("P1", prenatal, "11111111", 5), ShadowClaim("P1", natal, "11111111", 7))
    rows = (
        PregnancyRow(
            "P1", ClientProfile.LOW_RISK_PRIMARY, ((prenatal, Outcome.FALLBACK), (prenatal, Outcome.INTEGRAL))
        ),
        PregnancyRow("P1", ClientProfile.LOW_RISK_PRIMARY, ((natal, Outcome.INTEGRAL),)),
        PregnancyRow("P1", ClientProfile.LOW_RISK_PRIMARY, ((natal, Outcome.FALLBACK),)),
    )
    data = DistributionInput(YEAR, (Member("11111111", Discipline.MIDWIFE),), (), rows, claims)
    assert data.integral_shadow_claims() == reference_integral_shadow_claims(data) == [claims[0]]


def test_the_collector_is_paused_in_the_block_and_restored_after() -> None:
    def fail_while_paused() -> None:
        with collector_paused():
            assert not gc.isenabled()
            raise RuntimeError("restored even so")

    was = gc.isenabled()
    try:
        gc.enable()
        with pytest.raises(RuntimeError):
            fail_while_paused()
        assert gc.isenabled()
        gc.disable()
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # a caller that paused it keeps it paused
    finally:
        (gc.enable if was else gc.disable)()


# --- rows made from columns (services.distribution_input) ----------------------------------------------------


@PROPERTY
@given(
    st.lists(
        st.tuples(
            st.sampled_from(PIDS), st.sampled_from(PHASES), st.sampled_from(AGBS), st.integers(-(10**12), 10**12)
        ),
        max_size=30,
    ),
    st.lists(
        st.tuples(st.sampled_from(AGBS), st.text(max_size=3), counts, st.sampled_from((*PIDS, None))), max_size=30
    ),
)
def test_rows_made_from_columns_are_the_rows_the_constructor_makes(
    claims: list[tuple[str, Phase, str, int]], activities: list[tuple[str, str, Decimal, str | None]]
) -> None:
    """Equal, same hash and repr, still frozen; the converted values are shared, equal objects."""
    frame = pl.DataFrame(
        [(pid, phase.value, agb, cents) for pid, phase, agb, cents in claims],
        schema={"pregnancy_id": pl.String, "phase": pl.String, "agb": pl.String, "amount_cents": pl.Int64},
        orient="row",
    )
    phases = {p.value: p for p in PHASES}
    made = rows_of(ShadowClaim, frame, "pregnancy_id", ("phase", phases.__getitem__), "agb", "amount_cents")
    expected = tuple(ShadowClaim(*row) for row in claims)
    assert made == expected
    assert [hash(r) for r in made] == [hash(r) for r in expected]
    assert [repr(r) for r in made] == [repr(r) for r in expected]
    for row in made:
        with pytest.raises(dataclasses.FrozenInstanceError):
            row.amount_cents = 0  # type: ignore[misc]

    decimal_frame = pl.DataFrame(
        [(agb, kind, str(n), pid) for agb, kind, n, pid in activities],
        schema={"agb": pl.String, "kind": pl.String, "n": pl.String, "pid": pl.String},
        orient="row",
    )
    counted = rows_of(ActivityCount, decimal_frame, "agb", "kind", ("n", Decimal), "pid")
    assert counted == tuple(ActivityCount(agb, kind, n, pid) for agb, kind, n, pid in activities)
    assert [str(r.count) for r in counted] == [str(n) for _, _, n, _ in activities]


@pytest.mark.parametrize("kind", [Receipt, PregnancyRow, ShadowClaim, ActivityCount])
def test_the_row_types_made_from_columns_only_store_their_fields(kind: type) -> None:
    """What lets ``_made`` skip their ``__init__``: it stores each argument as it is, and nothing else."""
    names = [f.name for f in dataclasses.fields(kind)]
    values = [object() for _ in names]
    built = kind(*values)
    assert not hasattr(kind, "__post_init__") and not hasattr(built, "__dict__")
    assert all(getattr(built, name) is value for name, value in zip(names, values, strict=True))
    (made,) = _made(kind, [[value] for value in values], 1)
    assert type(made) is kind and made == built and repr(made) == repr(built)


def test_rows_of_a_kind_that_checks_its_values_are_made_by_its_constructor() -> None:
    """A kind with a ``__post_init__`` (or without slots) is built through ``__init__``, so its checks run."""

    @dataclasses.dataclass(frozen=True, slots=True)
    class Checked:
        cents: int

        def __post_init__(self) -> None:
            if self.cents < 0:
                raise ValueError("negative")

    @dataclasses.dataclass(frozen=True)
    class Plain:
        cents: int

    frame = pl.DataFrame({"cents": [1, -1]})
    with pytest.raises(ValueError, match="negative"):
        rows_of(Checked, frame, "cents")
    assert rows_of(Plain, frame, "cents") == (Plain(1), Plain(-1))
    assert (
        rows_of(
            Receipt,
            pl.DataFrame({"p": [], "c": [], "i": []}, schema=[("p", pl.String), ("c", pl.Int64), ("i", pl.String)]),
            "p",
            "c",
            "i",
        )
        == ()
    )
