"""Simulating distribution plans side by side (issue 5, part 4): nothing is booked.

For one IGO and year, every candidate plan runs on the same input (``services.distribution_input``). Per
member: the amount under each plan, the difference with the current plan in euros and percent, and what the
plan pays per unit of care — per pregnancy cared for and per activity — so a board sees the incentive a plan
sets before it decides. Plans come from ``data/distribution/plans.yaml`` (or are passed in).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from functools import lru_cache
from importlib import resources
from typing import Any

import polars as pl
import yaml

from integraal.distribution import (
    IGO,
    Allocation,
    ClientProfile,
    Corridor,
    DistributionInput,
    DistributionPlan,
    InputFrames,
    TransitionYear,
    plan_from_mapping,
    run_plan,
    run_transition,
)
from integraal.services.access import Principal
from integraal.services.distribution_input import distribution_input
from integraal.store.database import Database


@dataclass(frozen=True, slots=True)
class PlanInfo:
    key: str
    name_nl: str
    name_en: str
    steps: tuple[Mapping[str, Any], ...]


@dataclass(frozen=True, slots=True)
class TransitionInfo:
    """A year on the way from the current plan to ``to``: ``alpha`` of the new plan, with a corridor."""

    key: str
    name_nl: str
    name_en: str
    to: str
    alpha: Decimal
    max_loss_pct: Decimal | None
    max_gain_pct: Decimal | None = None
    steps: tuple[Mapping[str, Any], ...] = ()


@lru_cache(maxsize=1)
def plan_presets() -> tuple[str, dict[str, PlanInfo | TransitionInfo]]:
    """(key of the current plan, plans and transitions by key) from the shipped data file."""
    text = resources.files("integraal.data").joinpath("distribution/plans.yaml").read_text(encoding="utf-8")
    raw = yaml.safe_load(text)
    plans: dict[str, PlanInfo | TransitionInfo] = {
        key: PlanInfo(key, value["name_nl"], value["name_en"], tuple(value["steps"]))
        for key, value in raw["plans"].items()
    }
    if raw["current"] not in plans:
        raise ValueError(f"plans.yaml: the current plan {raw['current']!r} is not among the plans")
    for key, value in (raw.get("transitions") or {}).items():
        if value["to"] not in plans:
            raise ValueError(f"plans.yaml: transition {key!r} goes to an unknown plan {value['to']!r}")
        plans[key] = TransitionInfo(
            key,
            value["name_nl"],
            value["name_en"],
            value["to"],
            Decimal(str(value["alpha"])),
            Decimal(str(value["max_loss_pct"])) if value.get("max_loss_pct") is not None else None,
            Decimal(str(value["max_gain_pct"])) if value.get("max_gain_pct") is not None else None,
        )
    return raw["current"], plans


def build_plan(info: PlanInfo | TransitionInfo, year: int) -> DistributionPlan:
    if isinstance(info, TransitionInfo):
        raise TypeError(f"{info.key} is a transition, not a plan: use allocate()")
    return plan_from_mapping(year, info.steps, info.name_nl)


def allocate(key: str, year: int, data: DistributionInput) -> Allocation:
    """The allocation of a plan or of a transition year (blend of current and new, within its corridor)."""
    current, presets = plan_presets()
    info = presets[key]
    if isinstance(info, PlanInfo):
        return run_plan(build_plan(info, year), data)
    old, new = presets[current], presets[info.to]
    assert isinstance(old, PlanInfo) and isinstance(new, PlanInfo)
    corridor = Corridor(info.max_loss_pct, info.max_gain_pct) if info.max_loss_pct is not None else None
    result = run_transition(
        build_plan(old, year), build_plan(new, year), data, TransitionYear(year, info.alpha, corridor)
    )
    return result.allocation


@dataclass(frozen=True, slots=True)
class MemberRow:
    recipient: str  # AGB, or IGO for the IGO's own share
    name: str
    discipline: str
    amounts: dict[str, int]  # plan key → cents
    pregnancies: int  # pregnancies this member cared for (shadow claims)
    activities: int
    referred: int = 0  # of those, pregnancies referred during pregnancy or labour
    without_referrals: dict[str, int] = field(default_factory=dict)  # plan → cents had they stayed in primary care
    with_better_quality: dict[str, int] = field(default_factory=dict)  # plan → cents with every score +QUALITY_STEP

    def difference(self, plan: str, current: str) -> int:
        return self.amounts[plan] - self.amounts[current]

    def percent(self, plan: str, current: str) -> Decimal | None:
        base = self.amounts[current]
        return None if base == 0 else (Decimal(self.difference(plan, current)) * 100 / base).quantize(Decimal("0.1"))

    def per_pregnancy(self, plan: str) -> int | None:
        return None if not self.pregnancies else self.amounts[plan] // self.pregnancies

    def per_activity(self, plan: str) -> int | None:
        return None if not self.activities else self.amounts[plan] // self.activities

    def per_referral_avoided(self, plan: str) -> int | None:
        """What the member gains (negative: loses) per referral avoided, on average: the change in its amount had
        its referred pregnancies stayed in primary care (their profile only — the care stays as it was), divided
        by their number. Zero under plans that do not look at profiles."""
        if not self.referred or plan not in self.without_referrals:
            return None
        return (self.without_referrals[plan] - self.amounts[plan]) // self.referred

    def per_quality_point(self, plan: str) -> int | None:
        """What the member gains per quality point (1 point = 0.01 on the 0–1 indicator score), averaged over the
        next ten points: its amount with every indicator score 0.10 higher (at most 1), minus its amount, divided
        by ten. Zero under plans without a quality pool; ``None`` for a member without scores."""
        if plan not in self.with_better_quality:
            return None
        return (self.with_better_quality[plan] - self.amounts[plan]) // QUALITY_POINTS


@dataclass(slots=True)
class Simulation:
    igo_id: str
    year: int
    current: str
    plans: dict[str, PlanInfo | TransitionInfo]
    received_cents: int
    rows: list[MemberRow] = field(default_factory=list)
    allocations: dict[str, Allocation] = field(default_factory=dict)


REFERRED = frozenset({ClientProfile.REFERRED_PREGNANCY, ClientProfile.REFERRED_LABOUR})
QUALITY_POINTS = 10
QUALITY_STEP = Decimal(QUALITY_POINTS) / 100


def _uses_quality(key: str, presets: Mapping[str, PlanInfo | TransitionInfo]) -> bool:
    """Whether a plan (or the plan a transition moves to) has a quality pool step."""
    info = presets[key]
    steps = list(info.steps)
    if isinstance(info, TransitionInfo) and info.to in presets:
        steps += list(presets[info.to].steps)
    return any(step.get("model") == "quality_pool" for step in steps)


def _better_quality(data: DistributionInput, agb: str) -> DistributionInput:
    """The same year with member ``agb``'s every indicator score ``QUALITY_STEP`` higher (at most 1)."""
    scores = tuple(
        replace(q, score=min(Decimal(1), q.score + QUALITY_STEP)) if q.agb == agb else q for q in data.quality
    )
    return data.replace(quality=scores)


def _without_referrals(data: DistributionInput) -> DistributionInput:
    """The same year as if every referred pregnancy had stayed in primary care (its profile; the care stays)."""
    referred = pl.col("profile").is_in([p.value for p in REFERRED])
    profiles = data.frame("pregnancies").with_columns(
        pl.when(referred)
        .then(pl.lit(ClientProfile.LOW_RISK_PRIMARY.value))
        .otherwise(pl.col("profile"))
        .alias("profile")
    )
    frames = InputFrames(
        receipts=data.frame("receipts"),
        pregnancies=profiles,
        outcomes=data.frame("outcomes"),
        shadow_claims=data.frame("shadow_claims"),
        activities=data.frame("activities"),
    )
    return DistributionInput.from_frames(data.year, data.members, frames, data.quality)


def _care_figures(data: DistributionInput) -> tuple[int, dict[str, tuple[int, int, int]]]:
    """The money received, and per member: the pregnancies it has shadow claims for, its activities (each
    count truncated to a whole number, as ``int``), and the referred pregnancies among those it cared for."""
    received = int(data.frame("receipts")["amount_cents"].sum())
    referred = (
        data.frame("pregnancies")
        .filter(pl.col("profile").is_in([p.value for p in REFERRED]))
        .select("pregnancy_id")
        .unique()
    )
    claimed = data.frame("shadow_claims").select("agb", "pregnancy_id").unique()
    counted = data.frame("activities")
    cared = pl.concat(
        [claimed, counted.filter(pl.col("pregnancy_id").is_not_null()).select("agb", "pregnancy_id")]
    ).unique()
    figures: dict[str, list[int]] = {}
    for agb, n in claimed.group_by("agb").len().iter_rows():
        figures.setdefault(agb, [0, 0, 0])[0] = n
    for agb, n in counted.group_by("agb").agg(pl.col("count").cast(pl.Int64).sum()).iter_rows():
        figures.setdefault(agb, [0, 0, 0])[1] = n
    for agb, n in cared.join(referred, on="pregnancy_id", how="semi").group_by("agb").len().iter_rows():
        figures.setdefault(agb, [0, 0, 0])[2] = n
    return received, {agb: (a, b, c) for agb, (a, b, c) in figures.items()}


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
    allocations = {key: allocate(key, year, data) for key in keys}
    primary_only = _without_referrals(data)
    without = {key: allocate(key, year, primary_only) for key in keys}
    received, figures = _care_figures(data)
    simulation = Simulation(igo_id, year, current, {k: presets[k] for k in keys}, received, allocations=allocations)
    scored = {q.agb for q in data.quality}
    quality_plans = [key for key in keys if _uses_quality(key, presets)]
    for member in data.members:
        better = {key: allocations[key].amount(member.agb) for key in keys} if member.agb in scored else {}
        if member.agb in scored and quality_plans:
            improved = _better_quality(data, member.agb)
            better |= {key: allocate(key, year, improved).amount(member.agb) for key in quality_plans}
        simulation.rows.append(
            MemberRow(
                member.agb,
                member.name,
                member.discipline.value,
                {key: allocation.amount(member.agb) for key, allocation in allocations.items()},
                *figures.get(member.agb, (0, 0, 0)),
                {key: allocation.amount(member.agb) for key, allocation in without.items()},
                better,
            )
        )
    simulation.rows.append(
        MemberRow(
            IGO,
            "IGO",
            "",
            {key: allocation.amount(IGO) for key, allocation in allocations.items()},
            0,
            0,
            0,
            {key: allocation.amount(IGO) for key, allocation in without.items()},
        )
    )
    return simulation
