"""The Shapley value (fairness reference): exact, and with its defining properties (efficiency, symmetry,
null player), plus the closed form of the 'integral money' game (docs/distribution.md)."""

from __future__ import annotations

from fractions import Fraction

import pytest
from distribution_strategies import PROPERTY, distribution_inputs
from hypothesis import given
from hypothesis import strategies as st

from integraal.distribution import DistributionInput, shapley_values
from integraal.distribution.models.shapley import discipline_game, discipline_shapley


@st.composite
def games(draw: st.DrawFn, max_players: int = 6) -> tuple[list[str], dict[frozenset[str], int]]:
    n = draw(st.integers(0, max_players))
    players = [f"p{i}" for i in range(n)]
    values: dict[frozenset[str], int] = {frozenset(): 0}
    for mask in range(1, 1 << n):
        values[frozenset(p for j, p in enumerate(players) if mask >> j & 1)] = draw(st.integers(-1000, 10_000))
    return players, values


def test_shapley_of_a_three_player_glove_game_by_hand() -> None:
    """Glove game: L owns a left glove, R1 and R2 a right glove; a pair is worth 60.
    v(L,R1) = v(L,R2) = v(L,R1,R2) = 60, all else 0. Orders (6): L is pivotal in 4 of 6 (when it comes 2nd or
    3rd), so φ_L = 60·4/6 = 40; R1 is pivotal only in L,R1,R2 → 60/6 = 10; R2 likewise 10.
    """
    pair = 60

    def v(s: frozenset[str]) -> int:
        return pair if "L" in s and ({"R1", "R2"} & s) else 0

    assert shapley_values(["L", "R1", "R2"], v) == {"L": Fraction(40), "R1": Fraction(10), "R2": Fraction(10)}


@PROPERTY
@given(game=games())
def test_shapley_is_efficient(game: tuple[list[str], dict[frozenset[str], int]]) -> None:
    players, values = game
    phi = shapley_values(players, values.__getitem__)
    assert sum(phi.values(), Fraction(0)) == values[frozenset(players)]


@PROPERTY
@given(game=games(), data=st.data())
def test_shapley_gives_a_null_player_nothing(
    game: tuple[list[str], dict[frozenset[str], int]], data: st.DataObject
) -> None:
    """Add a player 'z' who adds nothing to any coalition: its value is 0 and nobody else's changes."""
    players, values = game
    phi = shapley_values(players, values.__getitem__)
    extended = shapley_values([*players, "z"], lambda s: values[s - {"z"}])
    assert extended["z"] == 0
    assert all(extended[p] == phi[p] for p in players)


@PROPERTY
@given(game=games(max_players=5))
def test_shapley_treats_symmetric_players_alike(game: tuple[list[str], dict[frozenset[str], int]]) -> None:
    """Make 'a' and 'b' interchangeable (v depends only on how many of them a coalition holds): equal values."""
    players, base = game
    others = players

    def v(s: frozenset[str]) -> int:
        rest = s - {"a", "b"}
        count = len(s & {"a", "b"})
        return base[rest] + count * 7 + (count == 2) * 11

    phi = shapley_values([*others, "a", "b"], v)
    assert phi["a"] == phi["b"]


def test_shapley_refuses_more_players_than_it_can_enumerate() -> None:
    with pytest.raises(ValueError, match="at most"):
        shapley_values([str(i) for i in range(21)], lambda s: 0)


def test_shapley_fifteen_players_exact_and_quick() -> None:
    """15 players, v(S) = |S|²: symmetric, so each gets v(N)/15 = 225/15 = 15."""
    phi = shapley_values(list(range(15)), lambda s: len(s) ** 2)
    assert set(phi.values()) == {Fraction(15)}


@PROPERTY
@given(data=distribution_inputs())
def test_integral_money_game_has_the_equal_split_closed_form(data: DistributionInput) -> None:
    """v(S) = money of pregnancies whose care lies within S is a sum of unanimity games, so φ_d = Σ over the
    pregnancies d cared for of π_p / |D(p)| (docs/distribution.md)."""
    players, patterns = discipline_game(data, "integral_money")
    expected = {d: Fraction(0) for d in players}
    for mask, amount in patterns.items():
        involved = [d for i, d in enumerate(players) if mask >> i & 1]
        for d in involved:
            expected[d] += Fraction(amount, len(involved))
    assert discipline_shapley(data, "integral_money") == expected


@PROPERTY
@given(data=distribution_inputs())
def test_standalone_game_gives_each_discipline_its_own_shadow_value(data: DistributionInput) -> None:
    phi = discipline_shapley(data, "standalone")
    own: dict[object, int] = {}
    for claim in data.integral_shadow_claims():
        d = data.member(claim.agb).discipline
        own[d] = own.get(d, 0) + claim.amount_cents
    assert {d: v for d, v in phi.items() if v} == {d: Fraction(v) for d, v in own.items() if v}
