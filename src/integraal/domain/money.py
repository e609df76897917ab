"""Money: integer euro-cents, exact arithmetic and the one splitting function every model uses.

Amounts are plain ``int`` cents inside the core (fast, exact, easy to store); ``Decimal`` appears only where a
quantity (hours) multiplies a tariff, and the rounding rule for that lives here, once.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def amount_for(quantity: Decimal, tariff_cents: int) -> int:
    """Quantity × tariff, rounded half-up to a whole cent (the usual rule on Dutch claims)."""
    return int((quantity * tariff_cents).to_integral_value(rounding=ROUND_HALF_UP))


def to_euros(cents: int) -> Decimal:
    """Cents as a Decimal number of euros with exactly two decimals."""
    return (Decimal(cents) / 100).quantize(CENT)


def format_euros(cents: int, lang: str = "nl") -> str:
    """Human form: ``€ 1.234,56`` in Dutch, ``€1,234.56`` in English."""
    sign = "-" if cents < 0 else ""
    whole, rest = divmod(abs(cents), 100)
    grouped = f"{whole:,}"
    if lang == "nl":
        return f"{sign}€ {grouped.replace(',', '.')},{rest:02d}"
    return f"{sign}€{grouped}.{rest:02d}"


def split_largest_remainder(total_cents: int, weights: Sequence[int | Decimal]) -> list[int]:
    """Split ``total_cents`` in proportion to ``weights`` so that the parts sum exactly to the total.

    Largest-remainder (Hamilton) rounding: every part gets the floor of its exact share, and the cents left
    over go one each to the parts with the largest remainders. Ties are broken by position (earlier first),
    so the result is deterministic for a given order of weights. Negative totals are split as the negation
    of the split of the positive total, so a credit mirrors its debit exactly. All weights zero: an even
    split (the same rule applied to equal weights).
    """
    n = len(weights)
    if n == 0:
        if total_cents != 0:
            raise ValueError("cannot split a non-zero amount over no parts")
        return []
    if any(w < 0 for w in weights):
        raise ValueError("weights must not be negative")
    if total_cents < 0:
        return [-part for part in split_largest_remainder(-total_cents, weights)]
    exact = [Decimal(w) for w in weights]
    weight_sum = sum(exact, Decimal(0))
    if weight_sum == 0:
        exact = [Decimal(1)] * n
        weight_sum = Decimal(n)
    parts: list[int] = []
    remainders: list[tuple[Decimal, int]] = []
    for index, weight in enumerate(exact):
        numerator = weight * total_cents
        floor = int(numerator // weight_sum)
        parts.append(floor)
        remainders.append((numerator - floor * weight_sum, index))
    left = total_cents - sum(parts)
    # Largest remainder first; equal remainders: lowest index first.
    for _, index in sorted(remainders, key=lambda r: (-r[0], r[1]))[:left]:
        parts[index] += 1
    return parts
