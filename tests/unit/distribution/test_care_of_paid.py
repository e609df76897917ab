"""Which activities are each IGO's care in the distribution input (``services.distribution_input``:
``_assign_to_paid`` says which rows, ``_care`` takes them out), on a small case with every kind of activity
written out: named, naming none (assigned to the trajectory it falls in, in each IGO paid for the woman),
naming another woman's trajectory, and ones that are no IGO's care."""

from __future__ import annotations

from datetime import date

import polars as pl

from integraal.services.distribution_input import _assign_to_paid, _care
from integraal.store.repositories import ACTIVITY_SCHEMA

TRAILING = 42

PAID = pl.DataFrame(
    {
        "pregnancy_id": ["P1", "P2", "P3"],
        "igo_id": ["IGO-A", "IGO-B", "IGO-A"],
        "bsn": ["W1", "W1", "W2"],
        "intake_date": [date(2025, 1, 1), date(2025, 6, 1), date(2025, 2, 1)],
        "end_date": [date(2025, 9, 30), None, date(2025, 10, 1)],
    }
)

ACTIVITIES = pl.DataFrame(
    [
        ("a1", "W1", "P1", "AGB1", "X1", date(2025, 2, 1), 100),  # named: P1's (IGO-A)
        ("a2", "W1", None, "AGB2", "X2", date(2025, 3, 1), 100),  # none named: falls in P1 only
        ("a3", "W1", None, "AGB3", "X3", date(2025, 7, 1), 250),  # none named: P1 in IGO-A, P2 in IGO-B
        ("a4", "W1", "P3", "AGB1", "X1", date(2025, 4, 1), 100),  # W2's trajectory, W1 paid for in IGO-A too
        ("a5", "W3", "P3", "AGB1", "X1", date(2025, 4, 1), 100),  # W2's trajectory, W3 paid for nowhere
        ("a6", "W2", None, "AGB2", "X2", date(2025, 10, 20), 100),  # after P3's end, within the trailing days
        ("a7", "W2", None, "AGB2", "X2", date(2026, 1, 1), 100),  # after the trailing days: nobody's
        ("a8", "W4", "P9", "AGB1", "X1", date(2025, 4, 1), 100),  # a trajectory not paid for
    ],
    schema=ACTIVITY_SCHEMA,
    orient="row",
)


def _care_of(igo_id: str) -> dict[str, str]:
    rows = _assign_to_paid(ACTIVITIES, PAID, TRAILING)[(igo_id,)]
    care = _care(ACTIVITIES, rows)
    assert care.schema == pl.Schema(ACTIVITY_SCHEMA)
    return dict(care.select("activity_id", "pregnancy_id").iter_rows())


def test_each_igo_gets_its_care_with_the_trajectory_each_activity_is_for() -> None:
    assert _care_of("IGO-A") == {"a1": "P1", "a2": "P1", "a3": "P1", "a4": "P3", "a6": "P3"}
    assert _care_of("IGO-B") == {"a3": "P2"}
    assert set(_assign_to_paid(ACTIVITIES, PAID, TRAILING)) == {("IGO-A",), ("IGO-B",)}


def test_the_rows_taken_out_are_the_activities_themselves() -> None:
    rows = _assign_to_paid(ACTIVITIES, PAID, TRAILING)[("IGO-B",)]
    (a3,) = _care(ACTIVITIES, rows).iter_rows(named=True)
    assert a3 == {
        "activity_id": "a3",
        "bsn": "W1",
        "pregnancy_id": "P2",
        "agb": "AGB3",
        "activity_code": "X3",
        "date": date(2025, 7, 1),
        "quantity_hundredths": 250,
    }
