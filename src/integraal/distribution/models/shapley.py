"""Shapley value between disciplines (Shapley-waarde), a fairness reference and a main model.

The Shapley value gives each player its average marginal contribution over all orders in which the coalition
could have been formed: ``φ_i = Σ_{S ⊆ N∖{i}} |S|! (n−|S|−1)! / n! × (v(S ∪ {i}) − v(S))``. It is the only
division that is efficient (sums to ``v(N)``), symmetric, gives a null player nothing, and is additive.
:func:`shapley_values` computes it exactly (fractions) by enumerating all 2ⁿ coalitions: fine up to about 20
players; there are 8 disciplines.

The characteristic function (``characteristic`` parameter):

- ``integral_money`` (default): ``v(S) = Σ π_p`` over the pregnancies whose care lies *entirely* within the
  disciplines of S, where ``π_p`` is the integral money received for pregnancy p (its integral shadow claims
  where the money is not known per pregnancy). The idea: a coalition of disciplines can, on its own, only earn
  the integral money of the women it can care for completely. This game is a sum of unanimity games, so the
  Shapley value has a closed form: *each pregnancy's value is split equally among the disciplines involved in
  her care* — which is also how it is explained to a board.
- ``standalone``: ``v(S) = Σ_{d∈S}`` the shadow claims of discipline d — an additive game whose Shapley value is
  each discipline's own monodisciplinary value (shadow fee-for-service at discipline level): the reference point
  that shows what integral working adds.

As a model: the budget is split over the disciplines in proportion to ``φ``, then within a discipline by shadow
claims, activity counts or in equal parts.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from math import factorial, lcm
from typing import TypeVar

from integraal.distribution.allocation import Allocation, Budget, ExplanationLine, eur, split_exact, split_lines
from integraal.distribution.inputs import DistributionInput
from integraal.distribution.models.common import (
    DISCIPLINE_EN,
    DISCIPLINE_NL,
    WITHIN_CHOICES,
    WITHIN_EN,
    WITHIN_NL,
    within_discipline_weights,
)
from integraal.distribution.parameters import ParameterKind, Parameters, parameter
from integraal.distribution.registry import Model, StepKind, register
from integraal.domain.provider import Discipline

T = TypeVar("T", bound=Hashable)

MAX_PLAYERS = 20


def shapley_values(players: Sequence[T], value: Callable[[frozenset[T]], int | Fraction]) -> dict[T, Fraction]:
    """The exact Shapley value of each player of the game ``value`` (with ``value(∅) = 0``)."""
    n = len(players)
    if n > MAX_PLAYERS:
        raise ValueError(f"exact Shapley values are computed for at most {MAX_PLAYERS} players, not {n}")
    if len(set(players)) != n:
        raise ValueError("players must be distinct")
    v: list[int | Fraction] = [
        value(frozenset(players[j] for j in range(n) if mask >> j & 1)) for mask in range(1 << n)
    ]
    if v[0] != 0:
        raise ValueError("the empty coalition must have value 0")
    fact = [factorial(k) for k in range(n + 1)]
    coefficient = [fact[s] * fact[n - s - 1] for s in range(n)]
    sizes = [mask.bit_count() for mask in range(1 << n)]
    result: dict[T, Fraction] = {}
    for i, player in enumerate(players):
        bit = 1 << i
        total: int | Fraction = 0
        for mask in range(1 << n):
            if not mask & bit:
                total += coefficient[sizes[mask]] * (v[mask | bit] - v[mask])
        result[player] = Fraction(total) / fact[n] if n else Fraction(0)
    return result


@dataclass(frozen=True, slots=True)
class ShapleyParameters(Parameters):
    characteristic: str = parameter(
        ParameterKind.CHOICE,
        "integral_money",
        "Waarde van een coalitie van disciplines",
        "Value of a coalition of disciplines",
        choices=("integral_money", "standalone"),
        help_nl="Integraal geld van de zwangeren die de coalitie helemaal zelf kan verzorgen, of de eigen "
        "monodisciplinaire waarde.",
        help_en="Integral money of the women the coalition can care for entirely on its own, or its own "
        "monodisciplinary value.",
    )
    within: str = parameter(
        ParameterKind.CHOICE,
        "claims",
        "Verdeling binnen een discipline",
        "Split within a discipline",
        choices=WITHIN_CHOICES,
    )


def discipline_game(data: DistributionInput, characteristic: str) -> tuple[list[Discipline], dict[int, int]]:
    """The players (disciplines with members, enum order) and the value per *care pattern* (bitmask of the
    disciplines involved in a pregnancy, or one bit per discipline for ``standalone``)."""
    discipline_of = {m.agb: m.discipline for m in data.members}
    players = [d for d in Discipline if d in discipline_of.values()]
    bit = {d: 1 << i for i, d in enumerate(players)}
    patterns: dict[int, int] = {}
    if characteristic == "standalone":
        for claim in data.integral_shadow_claims():
            b = bit[discipline_of[claim.agb]]
            patterns[b] = patterns.get(b, 0) + claim.amount_cents
        return players, patterns
    involved: dict[str, int] = {}
    mono: dict[str, int] = {}
    for claim in data.integral_shadow_claims():
        if claim.amount_cents > 0:
            involved[claim.pregnancy_id] = involved.get(claim.pregnancy_id, 0) | bit[discipline_of[claim.agb]]
            mono[claim.pregnancy_id] = mono.get(claim.pregnancy_id, 0) + claim.amount_cents
    for row in data.activities:
        if row.pregnancy_id is not None and row.count > 0:
            involved[row.pregnancy_id] = involved.get(row.pregnancy_id, 0) | bit[discipline_of[row.agb]]
    money = data.received_by_pregnancy()
    for pid, mask in involved.items():
        patterns[mask] = patterns.get(mask, 0) + money.get(pid, mono.get(pid, 0))
    return players, patterns


def discipline_shapley(data: DistributionInput, characteristic: str) -> dict[Discipline, Fraction]:
    """Shapley value per discipline (in cents, exact) of the chosen characteristic function."""
    players, patterns = discipline_game(data, characteristic)
    n = len(players)
    # v(S) = Σ of the pattern values contained in S: a subset-sum (zeta) transform over the bitmasks.
    v = [0] * (1 << n)
    for mask, amount in patterns.items():
        v[mask] += amount
    for i in range(n):
        for mask in range(1 << n):
            if mask >> i & 1:
                v[mask] += v[mask ^ (1 << i)]
    index = {d: i for i, d in enumerate(players)}
    return shapley_values(players, lambda s: v[sum(1 << index[d] for d in s)])


def allocate(budget: Budget, data: DistributionInput, params: ShapleyParameters, step: str) -> Allocation:
    phi = discipline_shapley(data, params.characteristic)
    disciplines = list(phi)
    denominator = lcm(*(f.denominator for f in phi.values())) if phi else 1
    weights = [int(phi[d] * denominator) for d in disciplines]
    grand = sum(phi.values(), Fraction(0))
    if sum(weights) <= 0:
        lines = split_lines(
            budget.total,
            {},
            step=step,
            model=MODEL.name,
            texts=lambda a, w, p: ("", "", ""),
            no_basis=("geen coalitiewaarde", "no coalition value"),
        )
        return Allocation(budget.total, tuple(lines))
    parts = split_exact(budget.total, weights)
    result: list[ExplanationLine] = []
    for discipline, part in zip(disciplines, parts, strict=True):
        value = round(phi[discipline])
        member_weights = within_discipline_weights(data, discipline, params.within, None)

        def texts(
            agb: str, weight: int, share: int, d: Discipline = discipline, part: int = part, value: int = value
        ) -> tuple[str, str, str]:
            return (
                f"shapley {d.value} {phi[d]} of {grand}; {params.within} {weight}",
                f"{eur(share, 'nl')}: Shapley-waarde {DISCIPLINE_NL[d]} {eur(value, 'nl')} van "
                f"{eur(round(grand), 'nl')} (deel {eur(part, 'nl')}), verdeeld naar {WITHIN_NL[params.within]}",
                f"{eur(share, 'en')}: Shapley value of {DISCIPLINE_EN[d]} {eur(value, 'en')} of "
                f"{eur(round(grand), 'en')} (share {eur(part, 'en')}), split by {WITHIN_EN[params.within]}",
            )

        result.extend(
            split_lines(
                part,
                member_weights,
                step=step,
                model=MODEL.name,
                texts=texts,
                no_basis=(
                    f"geen lid van {DISCIPLINE_NL[discipline]} met zorg",
                    f"no {DISCIPLINE_EN[discipline]} member with care",
                ),
            )
        )
    return Allocation(budget.total, tuple(result))


MODEL = register(
    Model(
        name="shapley",
        kind=StepKind.MAIN,
        title_nl="Shapley-waarde tussen disciplines (eerlijkheidsreferentie)",
        title_en="Shapley value between disciplines (fairness reference)",
        description_nl=(
            "De speltheoretisch 'eerlijke' verdeling: iedere discipline krijgt haar gemiddelde bijdrage aan wat de "
            "samenwerking oplevert. Met de standaardinstelling komt dat neer op: het geld van iedere zwangere wordt "
            "gelijk verdeeld over de disciplines die haar zorg leverden. Vooral bruikbaar als ijkpunt naast het "
            "gekozen model: wie krijgt meer of minder dan zijn eerlijke deel?"
        ),
        description_en=(
            "The game-theoretically 'fair' division: each discipline gets its average contribution to what the "
            "cooperation earns. With the default setting this amounts to: each woman's money is split equally over "
            "the disciplines that cared for her. Most useful as a yardstick next to the chosen model: who gets more "
            "or less than its fair share?"
        ),
        parameters=ShapleyParameters,
        allocate=allocate,
    )
)
