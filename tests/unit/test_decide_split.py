"""A stored run's parts (``services.decisions._split``): the pregnancies in nearly equal slices, each with exactly
its own activities, whether the activities come in pregnancy order (cut, no copy) or not (looked up)."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from integraal.services.decisions import _split


@settings(max_examples=150, deadline=None)
@given(
    ids=st.sets(st.integers(0, 60), min_size=1, max_size=30),
    named=st.lists(st.integers(0, 70), max_size=120),
    parts=st.integers(1, 6),
    seed=st.integers(0, 2**16),
)
def test_each_part_holds_its_pregnancies_and_exactly_their_activities(
    ids: set[int], named: list[int], parts: int, seed: int
) -> None:
    pregnancies = pl.DataFrame({"pregnancy_id": sorted(f"P{n:03d}" for n in ids)})
    activities = pl.DataFrame(
        {"pregnancy_id": [f"P{n:03d}" for n in named], "activity_id": [f"A{i:04d}" for i in range(len(named))]}
    )
    known = set(pregnancies["pregnancy_id"])
    for given_order in (activities.sort("pregnancy_id", "activity_id"), activities.sample(fraction=1, seed=seed)):
        split = _split(pregnancies, given_order, min(parts, pregnancies.height))
        # The pregnancies in order, in parts that differ by at most one.
        assert pl.concat([p for p, _ in split])["pregnancy_id"].to_list() == pregnancies["pregnancy_id"].to_list()
        sizes = [p.height for p, _ in split]
        assert max(sizes) - min(sizes) <= 1
        # Every activity in exactly one part; one of a known pregnancy in that pregnancy's part.
        assert sorted(pl.concat([a for _, a in split])["activity_id"].to_list()) == activities["activity_id"].to_list()
        for own, theirs in split:
            mine = set(own["pregnancy_id"])
            assert {p for p in theirs["pregnancy_id"] if p in known} <= mine
            assert (
                given_order.filter(pl.col("pregnancy_id").is_in(list(mine))).height
                == theirs.filter(pl.col("pregnancy_id").is_in(list(mine))).height
            )
