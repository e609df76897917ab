"""IGOs (integrale geboortezorgorganisaties) and dated membership.

Membership has dates because a provider's activity counts as IGO care only if it was a member on that date
(DOMAIN.md §3). The register answers exactly that question.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True, slots=True)
class Igo:
    """An integrated birth-care organisation: contracts insurers and claims the integral prestaties."""

    igo_id: str
    agb: str
    name: str


@dataclass(frozen=True, slots=True)
class MembershipPeriod:
    """Provider ``agb`` is a member of ``igo_id`` from ``start`` to ``end`` inclusive (``None``: open)."""

    igo_id: str
    agb: str
    start: date
    end: date | None = None

    def covers(self, day: date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)


class MembershipRegister:
    """All membership periods, indexed for the question 'was AGB a member of IGO on this day?'."""

    __slots__ = ("_periods",)

    def __init__(self, periods: Iterable[MembershipPeriod] = ()) -> None:
        self._periods: dict[tuple[str, str], list[MembershipPeriod]] = {}
        for period in periods:
            self._periods.setdefault((period.igo_id, period.agb), []).append(period)

    def is_member(self, igo_id: str, agb: str, day: date) -> bool:
        return any(p.covers(day) for p in self._periods.get((igo_id, agb), ()))

    def ever_member(self, igo_id: str, agb: str) -> bool:
        return (igo_id, agb) in self._periods

    def periods(self, igo_id: str, agb: str) -> tuple[MembershipPeriod, ...]:
        return tuple(sorted(self._periods.get((igo_id, agb), ()), key=lambda p: p.start))

    def members(self, igo_id: str) -> set[str]:
        return {agb for (igo, agb) in self._periods if igo == igo_id}
