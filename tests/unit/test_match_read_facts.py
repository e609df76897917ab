"""Matching activities to trajectories with what the reading thread found of them (their order where they name
a trajectory, the ids they name: ``services.decisions._read_for_matching``) gives what matching finds by itself:
the same frame in the same order, the same activities reported — whether the activities come in the engine's
order or not, and wherever the ones naming no trajectory sit."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from integraal.services.decisions import (
    TRAJECTORY_SCHEMA,
    _is_in_order,
    _is_in_order_around,
    _match,
    _Read,
)

DAY = date(2025, 1, 1)
TRAJECTORIES = pl.DataFrame(
    {
        "pregnancy_id": ["P1", "P2", "P3", "P4"],
        "bsn": ["111", "111", "222", "333"],
        "intake_date": [DAY, DAY + timedelta(days=200), DAY + timedelta(days=10), DAY],
        "end_date": [DAY + timedelta(days=150), None, DAY + timedelta(days=120), DAY + timedelta(days=60)],
    },
    schema=TRAJECTORY_SCHEMA,
)

activity = st.tuples(
    st.sampled_from(["111", "222", "333", "444"]),
    st.one_of(st.none(), st.sampled_from(["P1", "P2", "P3", "P4", "GONE"])),
    st.integers(0, 400),
)


def _frame(rows: list[tuple[str, str | None, int]], in_order: bool) -> pl.DataFrame:
    frame = pl.DataFrame(
        {
            "activity_id": [f"A{n:04d}" for n in range(len(rows))],
            "bsn": [bsn for bsn, _, _ in rows],
            "pregnancy_id": [pregnancy for _, pregnancy, _ in rows],
            "date": [DAY + timedelta(days=days) for _, _, days in rows],
        },
        schema={"activity_id": pl.String, "bsn": pl.String, "pregnancy_id": pl.String, "date": pl.Date},
    )
    if in_order:  # as stored: by the id named (none first), date and activity id
        frame = frame.sort("pregnancy_id", "date", "activity_id", nulls_last=False)
    return frame


def _in_place(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` in the order its rows have once matched (the engine's), the ones naming no trajectory where
    their trajectory puts them, still naming none: the order a decide service's read usually finds."""
    unnamed = frame.filter(pl.col("pregnancy_id").is_null())["activity_id"].implode()
    assigned, _ = _match(frame, TRAJECTORIES, 42, report_unmatched=False)
    return assigned.with_columns(
        pl.when(pl.col("activity_id").is_in(unnamed)).then(None).otherwise(pl.col("pregnancy_id")).alias("pregnancy_id")
    )


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(activity, max_size=40),
    order=st.sampled_from(["as given", "unnamed first", "in place"]),
    report=st.booleans(),
)
def test_matching_with_what_was_read_alongside_is_matching_alone(
    rows: list[tuple[str, str | None, int]], order: str, report: bool
) -> None:
    frame = _frame(rows, order != "as given")
    if order == "in place":
        frame = _in_place(frame)
    read = _Read.of(frame)
    alone, unmatched_alone = _match(frame, TRAJECTORIES, 42, report)
    helped, unmatched_helped = _match(frame, TRAJECTORIES, 42, report, read)
    assert helped.to_dicts() == alone.to_dicts()
    assert unmatched_helped.to_list() == unmatched_alone.to_list()
    assert _is_in_order(helped)


def test_only_the_pairs_around_the_rows_given_are_looked_at() -> None:
    frame = pl.DataFrame(
        {
            "pregnancy_id": ["P1", "P1", "P3", "P2", "P2"],
            "date": [DAY, DAY, DAY, DAY, DAY + timedelta(days=1)],
            "activity_id": ["A1", "A2", "A3", "A4", "A5"],
        }
    )
    assert not _is_in_order(frame)  # P3 before P2
    assert not _is_in_order_around(frame, pl.Series([2], dtype=pl.UInt32))  # row 2 is P3
    assert not _is_in_order_around(frame, pl.Series([3], dtype=pl.UInt32))  # … its pair with row 3
    assert _is_in_order_around(frame, pl.Series([0], dtype=pl.UInt32))  # rows 0-1 are in order
    assert _is_in_order_around(frame, pl.Series([4], dtype=pl.UInt32))  # rows 3-4 too
    assert _is_in_order_around(frame, pl.Series([], dtype=pl.UInt32))
