"""``rules.bulk.decide_run`` keeps exactly what a stored run needs of ``decide_frames`` (``run_of``).

The decide service stores the claim lines, phase decisions and only the activities that were not claimed;
``decide_run`` builds just those (and the counts) instead of an outcome for every activity. Here both run on
the random worlds of ``test_bulk_equivalence`` (where ``decide_frames`` is checked against the pure engine)
and on the shipped catalogue with a synthetic region; the faster internals (pregnancy positions per run of
equal ids, member ids per sorted group) are checked against their plain versions on hand-made frames.
"""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
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
from integraal.importing.formats import FORMATS
from integraal.rules.bulk import (
    TALLY_SCHEMA,
    UNCLAIMED_SCHEMA,
    BulkRun,
    _member_ids,
    _ordered_ids,
    _positions,
    decide_frames,
    decide_run,
    run_of,
)
from integraal.rules.engine import DecisionContext
from integraal.synth import generate_region

TALLY_KEY = ["disposition", "reason"]


def assert_same_run(
    pregnancies: pl.DataFrame, activities: pl.DataFrame, context: DecisionContext, as_of: date
) -> BulkRun:
    run = decide_run(pregnancies, activities, context, as_of)
    spec = run_of(decide_frames(pregnancies, activities, context, as_of))
    assert_frame_equal(run.phases, spec.phases)
    assert_frame_equal(run.claims, spec.claims)
    assert run.unclaimed.schema == pl.Schema(UNCLAIMED_SCHEMA)
    assert_frame_equal(run.unclaimed, spec.unclaimed)
    assert run.tally.schema == pl.Schema(TALLY_SCHEMA)
    assert_frame_equal(run.tally.sort(TALLY_KEY), spec.tally.sort(TALLY_KEY))
    return run


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases())
def test_decide_run_is_what_a_run_keeps_of_decide_frames_on_random_worlds(case: Case) -> None:
    pregnancies, activities, context, as_of = case
    assert_same_run(pregnancies_frame(pregnancies), activities_frame(activities), context, as_of)


def test_decide_run_of_nothing() -> None:
    from builders import AS_OF, make_context

    run = assert_same_run(pregnancies_frame([]), activities_frame([]), make_context(), AS_OF)
    assert run.unclaimed.height == run.tally.height == 0


def test_decide_run_counts_claimed_activities_without_listing_them() -> None:
    from builders import AS_OF, make_context, make_pregnancy, normal_birth_activities

    acts = normal_birth_activities()
    run = assert_same_run(pregnancies_frame([make_pregnancy()]), activities_frame(acts), make_context(), AS_OF)
    claimed = run.tally.filter(pl.col("disposition") == "claimed")
    assert claimed["n"].sum() == len(acts) - run.unclaimed.height > 0
    assert claimed["reason"].null_count() == claimed.height


@pytest.mark.parametrize(("seed", "as_of", "ordered"), [(7, date(2026, 6, 30), True), (8, date(2025, 9, 30), False)])
def test_decide_run_on_a_synthetic_region(seed: int, as_of: date, ordered: bool) -> None:
    catalogue = load_catalogue()
    region = generate_region(2_000, seed=seed)
    context = context_from_region(region, catalogue)
    pregnancy_frame = FORMATS["pregnancies"].to_rows(region.pregnancies)
    trailing = max(r.postnatal_days for y in catalogue.years if (r := catalogue.for_year(y)))
    activity_frame = assign_trajectories(
        FORMATS["activities"].to_rows(region.activities), pregnancies_from_frame(pregnancy_frame), trailing
    )
    if ordered:  # as services.decisions._match returns them
        activity_frame = activity_frame.sort("pregnancy_id", "date", "activity_id")
    run = assert_same_run(pregnancy_frame, activity_frame, context, as_of)
    assert {"claimed", "reported", "excluded"} <= set(run.tally["disposition"])


def test_positions_look_up_every_row_of_broken_runs() -> None:
    windows = pl.DataFrame({"pregnancy_id": ["a", "b", "c"], "_p": [0, 1, 2]})
    ids = pl.Series("pregnancy_id", ["b", "b", "a", "b", None, None, "zz", "c", "a", "a"], dtype=pl.String)
    expected = ids.to_frame().join(windows, on="pregnancy_id", how="left", maintain_order="left")["_p"]
    assert _positions(ids, windows).to_list() == expected.to_list() == [1, 1, 0, 1, None, None, None, 2, 0, 0]


@pytest.mark.parametrize(
    "rows",
    [
        # (_pp, day, id): sorted keys in engine order (the fast path), …
        [(0, 1, "a1"), (0, 1, "a2"), (0, 3, "a0"), (1, 3, "b"), (4, 1, "c2"), (4, 2, "c1")],
        # … a phase's members interleaved with another's on a boundary day (keys not sorted), …
        [(0, 1, "a1"), (1, 1, "a2"), (0, 1, "a3"), (1, 2, "a4")],
        # … and not in engine order (sorted per group).
        [(0, 3, "a1"), (0, 1, "a2"), (1, 2, "b2"), (1, 2, "b1"), (3, 1, "c")],
    ],
)
def test_member_ids_are_in_engine_order_per_phase(rows: list[tuple[int, int, str]]) -> None:
    members = pl.DataFrame(
        {
            "_pp": [r[0] for r in rows],
            "date": [date(2025, 1, r[1]) for r in rows],
            "activity_id": [r[2] for r in rows],
        }
    )
    got = _member_ids(members).collect().sort("_pp")
    expected = members.group_by("_pp").agg(_ordered_ids()).sort("_pp")
    assert_frame_equal(got, expected)
