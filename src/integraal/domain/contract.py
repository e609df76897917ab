"""Insurers and contracts: IGO × insurer × year, with free tariffs per integral prestatie."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class OverlapPolicy(StrEnum):
    """What happens when a non-member gives in-scope care during a phase (DOMAIN.md §3)."""

    BREAK_BUNDLE = "break_bundle"  # experiment: the integral prestatie breaks, members claim separately
    SETTLE_IN_CONTRACT = "settle_in_contract"  # regular policy: claim integral, report overlap for settlement


class PartialPolicy(StrEnum):
    """How a trajectory that ends early (moved away, switched provider, death) is claimed by the IGO."""

    FALLBACK = "fallback"  # members claim what they delivered as (partial) monodisciplinary prestaties
    INTEGRAL = "integral"  # the IGO claims the integral prestatie of each phase with care


@dataclass(frozen=True, slots=True)
class Insurer:
    """A health insurer (zorgverzekeraar), identified by its 4-digit UZOVI code."""

    uzovi: str
    name: str


@dataclass(frozen=True, slots=True)
class Contract:
    """One contract year between an IGO and an insurer.

    ``tariffs`` maps prestatie code to the agreed tariff in cents: integral prestaties, and optionally
    monodisciplinary ones where the contract fixes the fallback tariff. Policies left ``None`` take the
    rule set's default for the year.
    """

    contract_id: str
    igo_id: str
    uzovi: str
    year: int
    tariffs: Mapping[str, int] = field(default_factory=dict)
    overlap_policy: OverlapPolicy | None = None
    partial_policy: PartialPolicy | None = None


class ContractBook:
    """Contracts indexed by (IGO, insurer, year)."""

    __slots__ = ("_by_key",)

    def __init__(self, contracts: Iterable[Contract] = ()) -> None:
        self._by_key = {(c.igo_id, c.uzovi, c.year): c for c in contracts}

    def find(self, igo_id: str, uzovi: str, year: int) -> Contract | None:
        return self._by_key.get((igo_id, uzovi, year))

    def __len__(self) -> int:
        return len(self._by_key)
