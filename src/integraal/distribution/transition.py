"""Transition from the old to the new distribution model: a blend per year and a corridor per member.

**Blend** (ingroeipad): ``amount_i = (1 − α) × old_i + α × new_i``, with α per year (e.g. 0.25 → 0.5 → 1).
Exact in cents: the IGO's blended share is rounded half-up; the members' exact blends are integer weights
(``(1 − α) × old_i + α × new_i`` times α's denominator), and the rest of the money is split over them by largest
remainder (ties: lowest AGB). Every member ends within a cent of its exact blend and the total is exact.

**Corridor** (overgangscorridor): no member may lose more than ``max_loss_pct`` of its reference amount (by
default the old model's allocation for the same year), and — optionally — gain more than ``max_gain_pct``. With
``r_i`` the reference, the bounds are ``lo_i = r_i − ⌊r_i × loss⌋`` and ``hi_i = r_i + ⌊r_i × gain⌋`` (no cap for
a member with ``r_i = 0``, e.g. a new member). The IGO's own share stays at its target; the members share
``B = total − IGO``. The corridor is funded within that budget:

1. *caps*: members above ``hi_i`` are set to ``hi_i``; what that releases goes to the other (uncapped) members in
   proportion to their target amounts; repeat until no member is above its cap (at most one round per member);
2. *floors*: members below ``lo_i`` are held up to ``lo_i``; the cost is paid by scaling down the other members'
   gains (``x_i − r_i`` where positive) proportionally; if those gains do not suffice, the rest comes from the
   others' room above their own floor (``x_i − lo_i``), proportionally. No cut takes anyone below ``r_i`` (first
   round) or ``lo_i`` (second), and cuts never push anyone above a cap, so one pass suffices.

**Feasibility**: every member ends within its corridor iff ``Σ lo_i ≤ B ≤ Σ hi_i`` (``hi_i = ∞`` where uncapped).
It always holds when the reference and the target give the IGO the same share, because then ``B = Σ r_i``. When
it does not hold the result says so (``feasible = False``): with ``Σ lo_i > B`` the members get ``B`` split in
proportion to their floors (all lose the same fraction beyond the corridor); with ``B > Σ hi_i`` every member gets
its cap and the rest stays with the IGO.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from fractions import Fraction
from math import floor

from integraal.distribution.allocation import IGO, Allocation, ExplanationLine, eur, fmt_decimal, split_exact
from integraal.distribution.inputs import DistributionInput
from integraal.distribution.plan import DistributionPlan, run_plan


@dataclass(frozen=True, slots=True)
class Corridor:
    """At most ``max_loss_pct`` % less than the reference per year; optionally at most ``max_gain_pct`` % more."""

    max_loss_pct: Decimal
    max_gain_pct: Decimal | None = None

    def __post_init__(self) -> None:
        if not Decimal(0) <= self.max_loss_pct <= Decimal(100):
            raise ValueError("max_loss_pct must lie between 0 and 100")
        if self.max_gain_pct is not None and self.max_gain_pct < 0:
            raise ValueError("max_gain_pct must not be negative")

    def floor(self, reference: int) -> int:
        return reference - _pct_floor(reference, self.max_loss_pct)

    def cap(self, reference: int) -> int | None:
        if self.max_gain_pct is None or reference <= 0:
            return None
        return reference + _pct_floor(reference, self.max_gain_pct)


@dataclass(frozen=True, slots=True)
class TransitionYear:
    """The transition setting for one year: the weight α of the new model and the corridor (if any)."""

    year: int
    alpha: Decimal
    corridor: Corridor | None = None

    def __post_init__(self) -> None:
        if not Decimal(0) <= self.alpha <= Decimal(1):
            raise ValueError("alpha must lie between 0 and 1")


@dataclass(frozen=True, slots=True)
class TransitionSchedule:
    """The path from the old to the new model, e.g. 2025: α 0.25, 2026: α 0.5, 2027: α 1 — each with a corridor."""

    years: tuple[TransitionYear, ...]

    def for_year(self, year: int) -> TransitionYear:
        """The setting for ``year``; after the last year the last setting holds, before the first: α = 0."""
        ordered = sorted(self.years, key=lambda y: y.year)
        if not ordered or year < ordered[0].year:
            return TransitionYear(year, Decimal(0))
        return next(y for y in reversed(ordered) if y.year <= year)


@dataclass(frozen=True, slots=True)
class CorridorResult:
    allocation: Allocation
    feasible: bool
    held_up: tuple[str, ...]  # members raised to their floor
    capped: tuple[str, ...]  # members limited to their cap
    rounds: int  # cap rounds until stable


@dataclass(frozen=True, slots=True)
class TransitionResult:
    old: Allocation
    new: Allocation
    blended: Allocation
    allocation: Allocation  # the blend after the corridor: what is paid
    feasible: bool
    held_up: tuple[str, ...]
    capped: tuple[str, ...]


def _pct_floor(amount: int, pct: Decimal) -> int:
    return int((Decimal(amount) * pct / 100).to_integral_value(rounding=ROUND_FLOOR))


def _members(*allocations: Allocation) -> list[str]:
    return sorted({line.recipient for a in allocations for line in a.lines} - {IGO})


def blend(old: Allocation, new: Allocation, alpha: Decimal, *, step: str = "transition") -> Allocation:
    """``(1 − α) × old + α × new`` per recipient, exact in cents (see the module docstring)."""
    if old.distributed_cents != new.distributed_cents:
        raise ValueError("the old and new allocation must divide the same amount")
    if not Decimal(0) <= alpha <= Decimal(1):
        raise ValueError("alpha must lie between 0 and 1")
    a = Fraction(alpha)
    total = old.distributed_cents
    old_amounts, new_amounts = old.amounts(), new.amounts()
    igo_exact = (1 - a) * old_amounts.get(IGO, 0) + a * new_amounts.get(IGO, 0)
    igo = floor(igo_exact + Fraction(1, 2))
    members = _members(old, new)
    weights: list[int] = []
    for agb in members:
        before, after = old_amounts.get(agb, 0), new_amounts.get(agb, 0)
        if before < 0 or after < 0:
            raise ValueError(f"member {agb} has a negative amount; only the IGO may")
        weights.append(int(((1 - a) * before + a * after) * a.denominator))
    parts = split_exact(total - igo, weights) if members else []
    pct_old = fmt_decimal((1 - alpha) * 100, "nl", 0)
    pct_new = fmt_decimal(alpha * 100, "nl", 0)
    lines: list[ExplanationLine] = []
    for recipient, amount in [*zip(members, parts, strict=True), (IGO, igo)]:
        before, after = old_amounts.get(recipient, 0), new_amounts.get(recipient, 0)
        if amount == 0 and before == 0 and after == 0:
            continue
        lines.append(
            ExplanationLine(
                recipient,
                step,
                "transition",
                f"(1-{alpha}) x {before} + {alpha} x {after}",
                amount,
                f"{eur(amount, 'nl')}: {pct_old} % oud model ({eur(before, 'nl')}) + {pct_new} % nieuw model "
                f"({eur(after, 'nl')})",
                f"{eur(amount, 'en')}: {pct_old} % old model ({eur(before, 'en')}) + {pct_new} % new model "
                f"({eur(after, 'en')})",
            )
        )
    return Allocation(total, tuple(lines))


def apply_corridor(
    reference: Allocation,
    target: Allocation,
    corridor: Corridor,
    *,
    members: Iterable[str] | None = None,
    step: str = "corridor",
) -> CorridorResult:
    """Keep every member's amount within the corridor around its reference, funded within the budget.

    ``members``: who the corridor protects (default: every non-IGO recipient of either allocation); recipients
    outside it keep their target. The algorithm and the feasibility condition are in the module docstring.
    """
    ref, tgt = reference.amounts(), target.amounts()
    protected = sorted(set(members) - {IGO}) if members is not None else _members(reference, target)
    x = {agb: tgt.get(agb, 0) for agb in protected}
    budget = sum(x.values())
    lo = {agb: corridor.floor(ref.get(agb, 0)) for agb in protected}
    hi = {agb: corridor.cap(ref.get(agb, 0)) for agb in protected}
    extra_lines: list[ExplanationLine] = []
    held_up: list[str] = []
    capped: list[str] = []
    rounds = 0
    feasible = sum(lo.values()) <= budget and (
        any(h is None for h in hi.values()) or budget <= sum(h for h in hi.values() if h is not None)
    )
    if sum(lo.values()) > budget:
        parts = split_exact(budget, [lo[a] for a in protected]) if protected else []
        x = dict(zip(protected, parts, strict=True))
        held_up = [a for a in protected if x[a] != tgt.get(a, 0)]
    else:
        # 1. caps, until stable.
        free = list(protected)
        while True:
            over = [a for a in free if (h := hi[a]) is not None and x[a] > h]
            if not over:
                break
            rounds += 1
            surplus = 0
            for agb in over:
                cap = hi[agb]
                assert cap is not None
                surplus += x[agb] - cap
                x[agb] = cap
                capped.append(agb)
            free = [a for a in free if a not in over]
            if not free:
                extra_lines.append(_surplus_line(surplus, step))
                break
            for agb, part in zip(free, split_exact(surplus, [tgt.get(a, 0) for a in free]), strict=True):
                x[agb] += part
        # 2. floors, in one pass.
        under = [a for a in protected if x[a] < lo[a]]
        if under:
            deficit = sum(lo[a] - x[a] for a in under)
            for agb in under:
                x[agb] = lo[agb]
            held_up = under
            others = [a for a in protected if a not in under]
            gains = [max(x[a] - ref.get(a, 0), 0) for a in others]
            from_gains = min(deficit, sum(gains))
            _cut(x, others, from_gains, gains)
            rest = deficit - from_gains
            if rest:
                _cut(x, others, rest, [x[a] - lo[a] for a in others])
    lines = list(target.lines) + extra_lines
    for agb in protected:
        change = x[agb] - tgt.get(agb, 0)
        if change:
            lines.append(_corridor_line(agb, change, ref.get(agb, 0), corridor, agb in held_up, agb in capped, step))
    return CorridorResult(
        Allocation(target.distributed_cents, tuple(lines)),
        feasible,
        tuple(sorted(held_up)),
        tuple(sorted(capped)),
        rounds,
    )


def _cut(x: dict[str, int], who: Sequence[str], amount: int, weights: Sequence[int]) -> None:
    if amount == 0:
        return
    for agb, part in zip(who, split_exact(amount, list(weights)), strict=True):
        x[agb] -= part


def _surplus_line(amount: int, step: str) -> ExplanationLine:
    return ExplanationLine(
        IGO,
        step,
        "corridor",
        "above all caps",
        amount,
        f"{eur(amount, 'nl')}: boven de plafonds van alle leden; blijft bij de IGO",
        f"{eur(amount, 'en')}: above every member's cap; stays with the IGO",
    )


def _corridor_line(
    agb: str, change: int, reference: int, corridor: Corridor, held: bool, capped: bool, step: str
) -> ExplanationLine:
    loss_nl, loss_en = fmt_decimal(corridor.max_loss_pct, "nl"), fmt_decimal(corridor.max_loss_pct, "en")
    if held:
        nl = f"aangevuld tot de bodem van de corridor (hoogstens −{loss_nl} % t.o.v. {eur(reference, 'nl')})"
        en = f"raised to the corridor floor (at most −{loss_en} % against {eur(reference, 'en')})"
        basis = f"floor {corridor.max_loss_pct}% of {reference}"
    elif capped and change < 0:
        gain = corridor.max_gain_pct or Decimal(0)
        nl = (
            f"begrensd op het plafond van de corridor (hoogstens +{fmt_decimal(gain, 'nl')} % "
            f"t.o.v. {eur(reference, 'nl')})"
        )
        en = f"limited to the corridor cap (at most +{fmt_decimal(gain, 'en')} % against {eur(reference, 'en')})"
        basis = f"cap {gain}% of {reference}"
    elif change < 0:
        nl, en, basis = (
            "bijdrage aan de corridor van andere leden",
            "contribution to other members' corridor",
            "funds floors",
        )
    else:
        nl, en, basis = (
            "aandeel in wat boven de plafonds vrijkwam",
            "share of what the caps released",
            "released by caps",
        )
    return ExplanationLine(
        agb, step, "corridor", basis, change, f"{eur(change, 'nl')}: {nl}", f"{eur(change, 'en')}: {en}"
    )


def run_transition(
    old_plan: DistributionPlan,
    new_plan: DistributionPlan,
    data: DistributionInput,
    setting: TransitionYear,
    reference: Allocation | None = None,
) -> TransitionResult:
    """Run both plans on the year's data, blend them with α, and apply the corridor against ``reference``
    (default: the old model's allocation of the same year)."""
    if setting.year != data.year:
        raise ValueError(f"the transition setting is for {setting.year}, the data for {data.year}")
    old = run_plan(old_plan, data)
    new = run_plan(new_plan, data)
    blended = blend(old, new, setting.alpha)
    if setting.corridor is None:
        return TransitionResult(old, new, blended, blended, True, (), ())
    result = apply_corridor(reference or old, blended, setting.corridor, members=data.member_agbs())
    return TransitionResult(old, new, blended, result.allocation, result.feasible, result.held_up, result.capped)
