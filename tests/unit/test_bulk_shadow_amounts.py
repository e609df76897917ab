"""``rules.bulk.shadow_amounts`` is the mono lines of ``decide_frames``, summed per pregnancy, phase and claimant.

The distribution's shadow claims (*schaduwdeclaratie*, DOMAIN.md) are what each member would have claimed
alone: the mono lines of a decision without contracts. ``shadow_amounts`` prices them with the same steps as
``decide_frames`` but builds no lines; here both run on the random worlds of ``test_bulk_equivalence`` (random
rule sets, memberships, contracts, trajectories and activities), with their contracts and without any (as
``services.distribution_input`` calls it), and on the shipped catalogue with a synthetic region.
"""

from __future__ import annotations

import dataclasses
from datetime import date

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal
from test_bulk_equivalence import (
    Case,
    activities_frame,
    assign_trajectories,
    cases,
    context_from_region,
    pregnancies_frame,
    pregnancies_from_frame,
)

from integraal.data.loader import load_catalogue
from integraal.domain.contract import ContractBook
from integraal.importing.formats import FORMATS
from integraal.rules.bulk import SHADOW_SCHEMA, decide_frames, shadow_amounts
from integraal.rules.engine import DecisionContext
from integraal.synth import generate_region

KEY = ["pregnancy_id", "phase", "claimant_agb"]


def grouped_mono_lines(
    pregnancies: pl.DataFrame, activities: pl.DataFrame, context: DecisionContext, as_of: date
) -> pl.DataFrame:
    """The specification: ``decide_frames``' mono lines summed per pregnancy, phase and claimant."""
    claims = decide_frames(pregnancies, activities, context, as_of).claims
    return (
        claims.filter(pl.col("kind") == "mono")
        .group_by(KEY)
        .agg(pl.col("amount_cents").sum())
        .select(*(pl.col(name).cast(dtype) for name, dtype in SHADOW_SCHEMA.items()))
    )


def assert_same_sums(
    pregnancies: pl.DataFrame, activities: pl.DataFrame, context: DecisionContext, as_of: date
) -> pl.DataFrame:
    shadow = shadow_amounts(pregnancies, activities, context, as_of)
    assert shadow.schema == pl.Schema(SHADOW_SCHEMA)
    assert shadow.select(KEY).is_duplicated().sum() == 0
    assert_frame_equal(shadow.sort(KEY), grouped_mono_lines(pregnancies, activities, context, as_of).sort(KEY))
    return shadow


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases(), without_contracts=st.booleans())
def test_shadow_amounts_are_the_summed_mono_lines_on_random_worlds(case: Case, without_contracts: bool) -> None:
    """Every fallback phase's member lines (per activity, per hour and per phase, contract or NZa tariff)."""
    pregnancies, activities, context, as_of = case
    if without_contracts:  # as the distribution input decides: every decided phase falls back
        context = dataclasses.replace(context, contracts=ContractBook())
    assert_same_sums(pregnancies_frame(pregnancies), activities_frame(activities), context, as_of)


def test_shadow_amounts_come_in_pregnancy_phase_and_claimant_order() -> None:
    from builders import AS_OF, KRAAMZORG, MIDWIFE, act, make_context, make_pregnancy

    context = make_context(contract_tariffs={})  # no tariff for the integral prestatie: every phase falls back
    acts = [
        act("VK_CONTROLE", MIDWIFE, date(2025, 2, 3)),
        act("KZ_UUR", KRAAMZORG, date(2025, 7, 31), "0.5"),
        act("KZ_UUR", KRAAMZORG, date(2025, 8, 1), "2.35"),
    ]
    shadow = assert_same_sums(pregnancies_frame([make_pregnancy()]), activities_frame(acts), context, AS_OF)
    assert shadow.height > 0
    phase_order = {"prenatal": 0, "natal": 1, "postnatal": 2}
    keys = [(p, phase_order[ph], agb) for p, ph, agb in shadow.select(KEY).iter_rows()]
    assert keys == sorted(keys)


def test_shadow_amounts_of_nothing_is_an_empty_frame() -> None:
    from builders import AS_OF, make_context

    shadow = assert_same_sums(pregnancies_frame([]), activities_frame([]), make_context(), AS_OF)
    assert shadow.height == 0


@pytest.mark.parametrize(("seed", "as_of"), [(7, date(2026, 6, 30)), (8, date(2025, 9, 30))])
def test_shadow_amounts_on_a_synthetic_region_without_contracts(seed: int, as_of: date) -> None:
    """The shipped catalogue, realistic care and no contracts: every decided phase is priced member by member."""
    catalogue = load_catalogue()
    region = generate_region(2_000, seed=seed)
    context = dataclasses.replace(context_from_region(region, catalogue), contracts=ContractBook())
    pregnancy_frame = FORMATS["pregnancies"].to_rows(region.pregnancies)
    trailing = max(r.postnatal_days for y in catalogue.years if (r := catalogue.for_year(y)))
    pregnancies = pregnancies_from_frame(pregnancy_frame)
    activity_frame = assign_trajectories(FORMATS["activities"].to_rows(region.activities), pregnancies, trailing)
    shadow = assert_same_sums(pregnancy_frame, activity_frame, context, as_of)
    assert shadow.height > 1_000
