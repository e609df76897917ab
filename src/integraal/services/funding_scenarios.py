"""Funding scenarios for the region (issue 5, part 6; seed 003's "stip op de horizon").

For the same year of care of one IGO, what each member and each insurer would receive and pay under:

- **(a) monodisciplinary funding**: every member claims its own care at the NZa tariffs (the shadow claims);
- **(b) the current integral contract**: the insurers pay the integral prestaties; the IGO divides them by its
  current plan;
- **(c) client-profile funding** with availability and cooperation fees: the insurers pay per pregnancy a rate
  weighted by its client profile, a fixed availability fee per member for 24/7 readiness, and a cooperation fee
  per pregnancy to the IGO; the profile money is divided over the members by their care for each woman.

Care by non-members is the same in every scenario and left out. Parameters of (c) are data
(``data/distribution/funding_scenarios.yaml``); with ``budget_neutral`` the base rate is set so the insurers pay
what they pay under (b), so the scenarios differ only in who receives what. All money in integer cents; every
total is split with the one largest-remainder function.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml
from sqlalchemy import select

from integraal.distribution import (
    IGO,
    ClientProfile,
    DistributionInput,
    Receipt,
    get_model,
    run_plan,
)
from integraal.distribution.plan import DistributionPlan, PlanStep
from integraal.domain.money import split_largest_remainder
from integraal.domain.phase import Phase
from integraal.services.access import Principal
from integraal.services.distribution import allocate, plan_presets
from integraal.services.distribution_input import distribution_input
from integraal.store import tables
from integraal.store.database import Database

SCENARIOS = ("mono", "integral", "profiles")


@lru_cache(maxsize=1)
def scenario_parameters() -> dict[str, Any]:
    text = resources.files("integraal.data").joinpath("distribution/funding_scenarios.yaml").read_text("utf-8")
    raw: dict[str, Any] = yaml.safe_load(text)
    unknown = set(raw["profile_weights"]) - {p.value for p in ClientProfile}
    if unknown:
        raise ValueError(f"funding_scenarios.yaml: unknown client profiles {sorted(unknown)}")
    return raw


@dataclass(frozen=True, slots=True)
class ProfileLine:
    profile: str
    pregnancies: int
    weight: Decimal
    rate_cents: int  # (c): what the insurer pays for one pregnancy of this profile
    integral_average_cents: int | None  # (b): what the integral prestaties average for this profile


@dataclass(slots=True)
class FundingScenarios:
    igo_id: str
    year: int
    budget_neutral: bool
    base_rate_cents: int
    cooperation_fee_cents: int
    members: list[tuple[str, str, str, dict[str, int]]] = field(
        default_factory=list
    )  # agb, name, discipline, per scenario
    insurers: dict[str, dict[str, int]] = field(default_factory=dict)  # uzovi → scenario → paid
    profiles: list[ProfileLine] = field(default_factory=list)
    totals: dict[str, int] = field(default_factory=dict)  # scenario → paid by all insurers


def funding_scenarios(
    db: Database, principal: Principal, igo_id: str, year: int, *, data: DistributionInput | None = None
) -> FundingScenarios:
    params = scenario_parameters()
    data = data or distribution_input(db, principal, igo_id, year)
    with db.unit_of_work() as connection:
        p = tables.pregnancies
        ids = [row.pregnancy_id for row in data.pregnancies]
        uzovi_of: dict[str, str] = {}
        for chunk in range(0, len(ids), 900):
            uzovi_of.update(
                connection.execute(
                    select(p.c.pregnancy_id, p.c.uzovi).where(p.c.pregnancy_id.in_(ids[chunk : chunk + 900]))
                ).all()
            )
    insurers: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(SCENARIOS, 0))
    members: dict[str, dict[str, int]] = {m.agb: dict.fromkeys(SCENARIOS, 0) for m in data.members}

    # (a) every member claims its own care.
    for claim in data.shadow_claims:
        members[claim.agb]["mono"] += claim.amount_cents
        insurers[uzovi_of[claim.pregnancy_id]]["mono"] += claim.amount_cents

    # (b) the integral prestaties, divided by the IGO's current plan.
    current, _ = plan_presets()
    current_allocation = allocate(current, year, data)
    for agb in members:
        members[agb]["integral"] = current_allocation.amount(agb)
    for receipt in data.receipts:
        insurers[uzovi_of[receipt.pregnancy_id or ""]]["integral"] += receipt.amount_cents
    integral_total = sum(r.amount_cents for r in data.receipts)

    # (c) profile rates, availability and cooperation fees.
    weights = {ClientProfile(k): Decimal(str(v)) for k, v in params["profile_weights"].items()}
    fees = {m.agb: int(params["availability_fee_cents"].get(m.discipline.value, 0)) for m in data.members}
    cooperation = int(params["cooperation_fee_cents"])
    rows = data.pregnancies
    fixed = sum(fees.values()) + cooperation * len(rows)
    weighted = sum((weights[row.profile] for row in rows), Decimal(0))
    if params["budget_neutral"] and weighted:
        base = int((Decimal(integral_total - fixed) / weighted).to_integral_value())
    else:
        base = int(params["base_rate_cents"])
    base = max(base, 0)
    rate = {profile: int((weight * base).to_integral_value()) for profile, weight in weights.items()}
    profile_money: list[Receipt] = []
    for row in rows:
        amount = rate[row.profile]
        insurers[uzovi_of[row.pregnancy_id]]["profiles"] += amount + cooperation
        profile_money.append(Receipt(Phase.PRENATAL, amount, row.pregnancy_id))
    # Availability fees are paid by the insurers in proportion to their pregnancies.
    per_insurer: dict[str, int] = defaultdict(int)
    for row in rows:
        per_insurer[uzovi_of[row.pregnancy_id]] += 1
    order = sorted(per_insurer)
    for uzovi, share in zip(
        order, split_largest_remainder(sum(fees.values()), [per_insurer[u] for u in order]), strict=True
    ):
        insurers[uzovi]["profiles"] += share
    # The profile money goes to the members by their care for each woman (capitation by activities).
    capitation = get_model("capitation")
    plan = DistributionPlan(
        year,
        (PlanStep("capitation", capitation.parameters_from_mapping({"attribution": "activities"}), "profielgeld"),),
        "profielen",
    )
    allocation = run_plan(plan, data.replace(receipts=tuple(profile_money)))
    for agb in members:
        members[agb]["profiles"] = allocation.amount(agb) + fees[agb]

    by_profile: dict[ClientProfile, list[str]] = defaultdict(list)
    for row in rows:
        by_profile[row.profile].append(row.pregnancy_id)
    integral_per_pregnancy: dict[str, int] = defaultdict(int)
    for receipt in data.receipts:
        integral_per_pregnancy[receipt.pregnancy_id or ""] += receipt.amount_cents
    profiles = [
        ProfileLine(
            profile.value,
            len(by_profile[profile]),
            weights[profile],
            rate[profile],
            (sum(integral_per_pregnancy[i] for i in by_profile[profile]) // len(by_profile[profile]))
            if by_profile[profile]
            else None,
        )
        for profile in ClientProfile
    ]
    names = {m.agb: (m.name, m.discipline.value) for m in data.members}
    result = FundingScenarios(igo_id, year, bool(params["budget_neutral"]), base, cooperation)
    result.members = [(agb, *names[agb], amounts) for agb, amounts in members.items()]
    result.members.append(
        (
            IGO,
            "IGO",
            "",
            {
                "mono": 0,
                "integral": current_allocation.amount(IGO),
                "profiles": allocation.amount(IGO) + cooperation * len(rows),
            },
        )
    )
    result.insurers = {u: dict(v) for u, v in sorted(insurers.items())}
    result.profiles = profiles
    result.totals = {s: sum(v[s] for v in insurers.values()) for s in SCENARIOS}
    return result
