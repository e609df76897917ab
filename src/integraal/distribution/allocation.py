"""The result of a distribution: amounts per recipient, each made of explained lines, summing exactly.

Also the budget a step works on and the one rounding helper every model uses. The rounding rule, once:

    Every split of an amount over recipients is :func:`integraal.domain.money.split_largest_remainder`:
    each recipient gets the floor of its exact share, and the cents left over go one each to the largest
    remainders. Recipients are always passed in ascending AGB order, so equal remainders go to the lowest
    AGB code first. :func:`split_exact` only raises the decimal precision so that the split stays exact for
    very large integer weights (Shapley denominators, fixed-point weights); it does not round differently.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, localcontext

from integraal.domain.money import format_euros, split_largest_remainder
from integraal.domain.phase import PHASES, Phase

IGO = "IGO"
"""The recipient id of the IGO itself: overhead, reserve, and money no member could be attributed."""

FIXED_POINT = 10**6
"""Decimal weights (points, scores, profile weights) become integers at a millionth, before any split."""


def split_exact(total_cents: int, weights: Sequence[int]) -> list[int]:
    """:func:`split_largest_remainder` with enough decimal precision that integer weights of any size stay exact."""
    digits = len(str(abs(total_cents))) + len(str(sum(weights))) + 10
    with localcontext() as ctx:
        ctx.prec = max(ctx.prec, digits)
        ctx.Emax = max(ctx.Emax, digits)
        return split_largest_remainder(total_cents, list(weights))


def fixed_point(value: Decimal) -> int:
    """``value`` as a whole number of millionths (half-up): how decimal weights enter a split."""
    return int((value * FIXED_POINT).to_integral_value(rounding=ROUND_HALF_UP))


def percent_of(amount_cents: int, percent: Decimal) -> int:
    """``percent`` % of an amount, rounded half-up to a cent."""
    return int((Decimal(amount_cents) * percent / 100).to_integral_value(rounding=ROUND_HALF_UP))


@dataclass(frozen=True, slots=True)
class ExplanationLine:
    """One line of a recipient's amount: which step paid it, on what basis, and a sentence in Dutch and English."""

    recipient: str
    step: str
    model: str
    basis: str
    amount_cents: int
    text_nl: str
    text_en: str


@dataclass(frozen=True, slots=True)
class Allocation:
    """``distributed_cents`` divided over recipients; the lines always sum exactly to it (checked)."""

    distributed_cents: int
    lines: tuple[ExplanationLine, ...]

    def __post_init__(self) -> None:
        total = sum(line.amount_cents for line in self.lines)
        if total != self.distributed_cents:
            raise ValueError(f"allocation lines sum to {total}, not to the {self.distributed_cents} distributed")

    def amounts(self) -> dict[str, int]:
        """Amount per recipient: members in AGB order, the IGO last."""
        totals: dict[str, int] = {}
        for line in self.lines:
            totals[line.recipient] = totals.get(line.recipient, 0) + line.amount_cents
        return {r: totals[r] for r in sorted(totals, key=lambda r: (r == IGO, r))}

    def amount(self, recipient: str) -> int:
        return sum(line.amount_cents for line in self.lines if line.recipient == recipient)

    def lines_for(self, recipient: str) -> tuple[ExplanationLine, ...]:
        return tuple(line for line in self.lines if line.recipient == recipient)


@dataclass(frozen=True, slots=True)
class Budget:
    """The money a step may divide, per phase, and the total received for the period (the base of percentages)."""

    by_phase: tuple[tuple[Phase, int], ...]
    received_cents: int

    @classmethod
    def of(cls, by_phase: Mapping[Phase, int], received_cents: int | None = None) -> Budget:
        amounts = tuple((p, by_phase.get(p, 0)) for p in PHASES)
        total = sum(a for _, a in amounts)
        return cls(amounts, total if received_cents is None else received_cents)

    @property
    def total(self) -> int:
        return sum(a for _, a in self.by_phase)

    def phase(self, phase: Phase) -> int:
        return next(a for p, a in self.by_phase if p is phase)

    def minus(self, cents: int) -> Budget:
        """The budget after a top-slice of ``cents``, taken from the phases in proportion to their amounts
        (largest remainder; ties: prenatal, natal, postnatal)."""
        if cents > self.total:
            raise ValueError("a top-slice cannot exceed the budget")
        taken = split_exact(cents, [a for _, a in self.by_phase])
        return Budget(tuple((p, a - t) for (p, a), t in zip(self.by_phase, taken, strict=True)), self.received_cents)


Texts = Callable[[str, int, int], tuple[str, str, str]]
"""(recipient, weight, amount) -> (basis, Dutch text, English text) for one line of a proportional split."""


def split_lines(
    amount: int,
    weights: Mapping[str, int],
    *,
    step: str,
    model: str,
    texts: Texts,
    no_basis: tuple[str, str] = ("geen grondslag om te verdelen", "no basis to divide on"),
) -> list[ExplanationLine]:
    """Split ``amount`` over the recipients in ``weights`` (ascending AGB order) and explain every line.

    With no positive weight at all nobody has earned the money on this basis: it goes to the IGO, explained,
    for the board to decide (never silently spread evenly). Recipients with weight zero get no line.
    """
    if amount == 0:
        return []
    order = sorted(weights)
    values = [weights[r] for r in order]
    if sum(values) <= 0:
        nl, en = no_basis
        return [
            ExplanationLine(
                IGO,
                step,
                model,
                "no basis",
                amount,
                f"{format_euros(amount, 'nl')} niet toegedeeld: {nl}; de IGO houdt het aan voor het bestuur",
                f"{format_euros(amount, 'en')} not allocated: {en}; the IGO holds it for the board",
            )
        ]
    parts = split_exact(amount, values)
    lines: list[ExplanationLine] = []
    for recipient, weight, part in zip(order, values, parts, strict=True):
        if weight == 0 and part == 0:
            continue
        basis, nl, en = texts(recipient, weight, part)
        lines.append(ExplanationLine(recipient, step, model, basis, part, nl, en))
    return lines


def igo_line(amount: int, *, step: str, model: str, basis: str, text_nl: str, text_en: str) -> ExplanationLine:
    return ExplanationLine(IGO, step, model, basis, amount, text_nl, text_en)


def eur(cents: int, lang: str) -> str:
    return format_euros(cents, lang)


def fmt_decimal(value: Decimal, lang: str, places: int = 2) -> str:
    """A decimal for a sentence: ``1,50`` in Dutch, ``1.50`` in English."""
    text = f"{value:.{places}f}"
    return text.replace(".", ",") if lang == "nl" else text
