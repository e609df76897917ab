"""The decide service's columnar matching (``services.decisions._assign``) is ``TrajectoryIndex.running_on``.

Hypothesis draws women with several trajectories on few days (equal intakes, ongoing ones, ends far apart and
touching, the trailing days from none to many) and activities on and around every edge, naming a trajectory,
none, or one that does not exist; the frame comes in storage order or shuffled. Every activity must get the
trajectory ``running_on`` gives (or be reported), and the frame must come back in (trajectory, date, id) order.
"""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from integraal.domain.pregnancy import Pregnancy
from integraal.rules.decision import ActivityOutcome, Disposition
from integraal.rules.matching import TrajectoryIndex
from integraal.rules.reasons import ReasonCode
from integraal.services.decisions import _assign
from integraal.store.repositories import ACTIVITY_SCHEMA

DAY0 = date(2025, 1, 1)
BSNS = ("111111110", "222222220", "333333330")


@st.composite
def trajectories(draw: st.DrawFn) -> list[Pregnancy]:
    count = draw(st.integers(0, 7))
    result = []
    for k in range(count):
        intake = DAY0 + timedelta(days=draw(st.integers(0, 40)))
        end = None if draw(st.integers(0, 4)) == 0 else intake + timedelta(days=draw(st.integers(0, 30)))
        result.append(
            Pregnancy(
                draw(st.sampled_from(["P1", "P2", "P3", "P10", "Pa", "Q"])) + f"-{k}",
                draw(st.sampled_from(BSNS)),
                "3311",
                "IGO",
                intake,
                intake + timedelta(days=200),
                None,
                end,
                None,
                None,
                None,
            )
        )
    return result


@st.composite
def worlds(draw: st.DrawFn) -> tuple[list[Pregnancy], int, pl.DataFrame, bool]:
    pregnancies = draw(trajectories())
    trailing = draw(st.sampled_from([0, 1, 5, 42]))
    edges = [DAY0 - timedelta(days=1)]
    for p in pregnancies:
        edges += [p.intake_date - timedelta(days=1), p.intake_date]
        if p.end_date is not None:
            edges += [p.end_date + timedelta(days=trailing + k) for k in (-1, 0, 1)]
    ids = [p.pregnancy_id for p in pregnancies] + ["GONE"]
    rows = []
    for n in range(draw(st.integers(0, 40))):
        day = draw(st.sampled_from(edges) | st.builds(lambda d: DAY0 + timedelta(days=d), st.integers(-5, 90)))
        named = draw(st.none() | st.sampled_from(ids)) if draw(st.booleans()) else None
        rows.append((f"A{n:03d}", draw(st.sampled_from((*BSNS, "999999990"))), named, "12345678", "X", day, 100))
    frame = pl.DataFrame(rows, schema=ACTIVITY_SCHEMA, orient="row")
    shuffle = draw(st.booleans())
    if shuffle:
        frame = frame.sample(fraction=1.0, shuffle=True, seed=draw(st.integers(0, 99)))
    else:  # storage order: the engine's order, activities naming no trajectory where they will belong
        index = TrajectoryIndex(pregnancies, trailing)
        owner = [
            named or (running.pregnancy_id if (running := index.running_on(bsn, day)) else "")
            for _, bsn, named, *_, day, _ in rows
        ]
        frame = frame.with_columns(_owner=pl.Series(owner, dtype=pl.String)).sort("_owner", "date", "activity_id")
        frame = frame.drop("_owner")
    return pregnancies, trailing, frame, draw(st.booleans())


@settings(max_examples=300, deadline=None)
@given(worlds())
def test_assign_gives_every_activity_the_trajectory_running_on_gives(world) -> None:
    pregnancies, trailing, frame, report = world
    index = TrajectoryIndex(pregnancies, trailing)
    assigned, unmatched = _assign(frame, index, report)

    expected_rows = []
    expected_unmatched = []
    for row in frame.iter_rows(named=True):
        pregnancy_id = row["pregnancy_id"]
        if pregnancy_id is None:
            running = index.running_on(row["bsn"], row["date"])
            if running is None:
                expected_unmatched.append(row["activity_id"])
                continue
            pregnancy_id = running.pregnancy_id
        elif index.get(pregnancy_id) is None:
            expected_unmatched.append(row["activity_id"])  # reported, and kept in the frame
        expected_rows.append({**row, "pregnancy_id": pregnancy_id})
    expected = pl.DataFrame(expected_rows, schema=ACTIVITY_SCHEMA).sort("pregnancy_id", "date", "activity_id")
    assert_frame_equal(assigned, expected)
    reported = [ActivityOutcome(a, Disposition.REPORTED, ReasonCode.NO_TRAJECTORY) for a in sorted(expected_unmatched)]
    assert unmatched == (reported if report else [])


def test_assign_without_trajectories_or_activities() -> None:
    empty = pl.DataFrame(schema=ACTIVITY_SCHEMA)
    assigned, unmatched = _assign(empty, TrajectoryIndex([], 42), True)
    assert assigned.height == 0 and unmatched == []
    one = pl.DataFrame([("A1", BSNS[0], None, "12345678", "X", DAY0, 100)], schema=ACTIVITY_SCHEMA, orient="row")
    assigned, unmatched = _assign(one, TrajectoryIndex([], 42), True)
    assert assigned.height == 0
    assert unmatched == [ActivityOutcome("A1", Disposition.REPORTED, ReasonCode.NO_TRAJECTORY)]
