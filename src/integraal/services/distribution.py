"""Simulating distribution plans side by side (issue 5, part 4): nothing is booked.

For one IGO and year, every candidate plan runs on the same input (``services.distribution_input``). Per
member: the amount under each plan, the difference with the current plan in euros and percent, and what the
plan pays per unit of care — per pregnancy cared for and per activity — so a board sees the incentive a plan
sets before it decides. Plans come from ``data/distribution/plans.yaml`` (or are passed in).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from integraal.distribution import IGO, Allocation, DistributionInput, DistributionPlan, plan_from_mapping, run_plan
from integraal.services.access import Principal
from integraal.services.distribution_input import distribution_input
from integraal.store.database import Database


@dataclass(frozen=True, slots=True)
class PlanInfo:
    key: str
    name_nl: str
    name_en: str
    steps: tuple[Mapping[str, Any], ...]


@lru_cache(maxsize=1)
def plan_presets() -> tuple[str, dict[str, PlanInfo]]:
    """(key of the current plan, plans by key) from the shipped data file."""
    text = resources.files("integraal.data").joinpath("distribution/plans.yaml").read_text(encoding="utf-8")
    raw = yaml.safe_load(text)
    plans = {
        key: PlanInfo(key, value["name_nl"], value["name_en"], tuple(value["steps"]))
        for key, value in raw["plans"].items()
    }
    if raw["current"] not in plans:
        raise ValueError(f"plans.yaml: the current plan {raw['current']!r} is not among the plans")
    return raw["current"], plans


def build_plan(info: PlanInfo, year: int) -> DistributionPlan:
    return plan_from_mapping(year, info.steps, info.name_nl)


@dataclass(frozen=True, slots=True)
class MemberRow:
    recipient: str  # AGB, or IGO for the IGO's own share
    name: str
    discipline: str
    amounts: dict[str, int]  # plan key → cents
    pregnancies: int  # pregnancies this member cared for (shadow claims)
    activities: int

    def difference(self, plan: str, current: str) -> int:
        return self.amounts[plan] - self.amounts[current]

    def percent(self, plan: str, current: str) -> Decimal | None:
        base = self.amounts[current]
        return None if base == 0 else (Decimal(self.difference(plan, current)) * 100 / base).quantize(Decimal("0.1"))

    def per_pregnancy(self, plan: str) -> int | None:
        return None if not self.pregnancies else self.amounts[plan] // self.pregnancies

    def per_activity(self, plan: str) -> int | None:
        return None if not self.activities else self.amounts[plan] // self.activities


@dataclass(slots=True)
class Simulation:
    igo_id: str
    year: int
    current: str
    plans: dict[str, PlanInfo]
    received_cents: int
    rows: list[MemberRow] = field(default_factory=list)
    allocations: dict[str, Allocation] = field(default_factory=dict)


def simulate(
    db: Database,
    principal: Principal,
    igo_id: str,
    year: int,
    plan_keys: list[str] | None = None,
    *,
    data: DistributionInput | None = None,
) -> Simulation:
    """Run the chosen plans (default: every preset) on the same year; the current plan always runs too."""
    current, presets = plan_presets()
    keys = [current, *[k for k in (plan_keys or list(presets)) if k != current]]
    unknown = [k for k in keys if k not in presets]
    if unknown:
        raise KeyError(f"unknown plan(s): {', '.join(unknown)}; known: {', '.join(presets)}")
    data = data or distribution_input(db, principal, igo_id, year)
    allocations = {key: run_plan(build_plan(presets[key], year), data) for key in keys}
    received = sum(r.amount_cents for r in data.receipts)
    pregnancies: dict[str, set[str]] = {}
    for claim in data.shadow_claims:
        pregnancies.setdefault(claim.agb, set()).add(claim.pregnancy_id)
    activities: dict[str, int] = {}
    for count in data.activities:
        activities[count.agb] = activities.get(count.agb, 0) + int(count.count)
    simulation = Simulation(igo_id, year, current, {k: presets[k] for k in keys}, received, allocations=allocations)
    for member in data.members:
        simulation.rows.append(
            MemberRow(
                member.agb,
                member.name,
                member.discipline.value,
                {key: allocation.amount(member.agb) for key, allocation in allocations.items()},
                len(pregnancies.get(member.agb, ())),
                activities.get(member.agb, 0),
            )
        )
    simulation.rows.append(
        MemberRow(IGO, "IGO", "", {key: allocation.amount(IGO) for key, allocation in allocations.items()}, 0, 0)
    )
    return simulation
