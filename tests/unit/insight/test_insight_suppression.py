"""Suppression of small numbers outside the IGO (DOMAIN.md §6): no count below the minimum survives, nothing
derived from a hidden row is shown, and no hidden value can be recovered from the shown rows and totals."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from integraal.insight import Suppressed, publish_results, suppression_pattern
from integraal.insight.indicators import Tally, proportion_result

Row = tuple[str, int, int]


@st.composite
def tables(draw: st.DrawFn) -> tuple[list[Row], int]:
    minimum = draw(st.integers(min_value=1, max_value=15))
    size = draw(st.integers(min_value=1, max_value=7))
    rows = []
    for i in range(size):
        n = draw(st.integers(min_value=0, max_value=80))
        x = draw(st.integers(min_value=0, max_value=n))
        rows.append((f"unit-{i}", x, n))
    return rows, minimum


def shown_numbers(rows: list[Row], minimum: int) -> list[int]:
    """Every count a reader sees or derives by one subtraction within a row: x, n and n − x per shown row, and the
    same for the total row when it is shown."""
    pattern = suppression_pattern(rows, minimum)
    numbers = []
    for unit, x, n in rows:
        if unit not in pattern.hidden_units:
            numbers += [x, n, n - x]
    if not pattern.total_hidden:
        total_x, total_n = sum(r[1] for r in rows), sum(r[2] for r in rows)
        numbers += [total_x, total_n, total_n - total_x]
    return numbers


@settings(max_examples=150, deadline=None)
@given(tables())
def test_no_shown_number_is_below_the_minimum(table: tuple[list[Row], int]) -> None:
    rows, minimum = table
    assert all(number >= minimum for number in shown_numbers(rows, minimum))


def recoverable(rows: list[Row], minimum: int) -> list[str]:
    """An attacker's linear programme: unknowns x_j, y_j ≥ 0 (n_j = x_j + y_j) for the hidden rows, constrained
    by the shown totals. A hidden value is recovered when its minimum equals its maximum (the constraint matrix is
    totally unimodular, so the LP optimum is an integer and min < max means at least two integer solutions)."""
    pattern = suppression_pattern(rows, minimum)
    hidden = [(u, x, n) for u, x, n in rows if u in pattern.hidden_units]
    if not hidden or pattern.total_hidden:
        return []  # without a total nothing bounds a hidden row from above
    k = len(hidden)
    shown = [r for r in rows if r[0] not in pattern.hidden_units]
    sum_x = sum(r[1] for r in rows) - sum(r[1] for r in shown)
    sum_y = sum(r[2] - r[1] for r in rows) - sum(r[2] - r[1] for r in shown)
    equality = np.zeros((2, 2 * k))
    equality[0, :k] = 1
    equality[1, k:] = 1
    found = []
    for j, (unit, _, _) in enumerate(hidden):
        for name, objective in (
            ("x", np.eye(2 * k)[j]),
            ("y", np.eye(2 * k)[k + j]),
            ("n", np.eye(2 * k)[j] + np.eye(2 * k)[k + j]),
        ):
            low = linprog(objective, A_eq=equality, b_eq=[sum_x, sum_y], bounds=(0, None))
            high = linprog(-objective, A_eq=equality, b_eq=[sum_x, sum_y], bounds=(0, None))
            assert low.status == 0 and high.status == 0
            if -high.fun - low.fun < 0.5:
                found.append(f"{name} of {unit}")
    return found


@settings(max_examples=100, deadline=None)
@given(tables())
def test_no_hidden_value_can_be_recovered_from_the_row_total(table: tuple[list[Row], int]) -> None:
    rows, minimum = table
    assert recoverable(rows, minimum) == []


def test_one_small_row_gets_a_complementary_partner() -> None:
    """A: 5 of 50 is small; with the total shown, A = total − B − C, so the shown row with the smallest
    denominator (B) is hidden too."""
    rows = [("A", 5, 50), ("B", 20, 100), ("C", 30, 120)]
    pattern = suppression_pattern(rows)
    assert pattern.hidden == (("A", Suppressed.PRIMARY), ("B", Suppressed.COMPLEMENTARY))
    assert not pattern.total_hidden


def test_a_small_complement_counts_as_small() -> None:
    """95 of 100 breastfeeding shows that 5 women did not: the row is hidden."""
    pattern = suppression_pattern([("A", 95, 100), ("B", 50, 60), ("C", 40, 50)])
    assert pattern.reason("A") is Suppressed.PRIMARY


def test_hidden_rows_that_are_all_zero_get_a_partner() -> None:
    """Two rows with 0 events: the hidden sum is 0, which would reveal both; a third row is hidden."""
    pattern = suppression_pattern([("A", 0, 40), ("B", 0, 30), ("C", 20, 200), ("D", 30, 300)])
    assert pattern.hidden_units == {"A", "B", "C"}


def test_a_small_total_hides_everything() -> None:
    pattern = suppression_pattern([("A", 3, 40), ("B", 4, 30)])
    assert pattern.total_hidden and pattern.hidden_units == {"A", "B"}


def test_a_single_row_table_hides_the_total_with_the_row() -> None:
    pattern = suppression_pattern([("A", 3, 400)])
    assert pattern.total_hidden


def test_minimum_is_configurable() -> None:
    rows = [("A", 5, 50), ("B", 20, 100), ("C", 30, 120)]
    assert suppression_pattern(rows, minimum=5).hidden == ()
    pattern = suppression_pattern(rows, minimum=25)  # A and B both small: two hidden rows need no partner
    assert pattern.hidden == (("A", Suppressed.PRIMARY), ("B", Suppressed.PRIMARY))


def test_published_table_blanks_counts_rates_and_intervals() -> None:
    results = [
        proportion_result("caesarean_total", unit, "2025", Tally(x, n))
        for unit, x, n in [("A", 5, 50), ("B", 20, 100), ("C", 30, 120)]
    ]
    table = publish_results(results)
    a, b, c = table.rows
    for hidden in (a, b):
        assert (hidden.numerator, hidden.denominator, hidden.rate, hidden.wilson, hidden.exact) == (None,) * 5
    assert a.suppressed is Suppressed.PRIMARY and b.suppressed is Suppressed.COMPLEMENTARY
    assert (c.numerator, c.denominator, c.suppressed) == (30, 120, None)
    assert c.rate == pytest.approx(0.25) and c.exact is not None
    assert (table.total.numerator, table.total.denominator) == (55, 270)


def test_publish_refuses_mixed_tables() -> None:
    results = [proportion_result("a", "U", "2025", Tally(20, 100)), proportion_result("b", "U", "2025", Tally(20, 90))]
    with pytest.raises(ValueError, match="one indicator and one period"):
        publish_results(results)


@pytest.mark.parametrize(
    ("rows", "message"),
    [([("A", 5, 4)], "numerator"), ([("A", 1, 4), ("A", 1, 4)], "only once")],
)
def test_invalid_tables_are_refused(rows: list[Row], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        suppression_pattern(rows)
