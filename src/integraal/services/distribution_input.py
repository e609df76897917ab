"""What the distribution models divide, read from the database: the input of one IGO for one year.

- **receipts**: the integral claim lines of the latest decision of each of the IGO's pregnancies whose
  declaration date falls in the year — the bundled money the IGO receives for them;
- **pregnancies**: each with its client profile (derived from the trajectory) and its phase outcomes;
- **shadow claims**: what each member would have claimed on its own (*schaduwdeclaratie*). The trajectories are
  decided once more without contracts, so every phase falls back and the engine prices each member's care at the
  NZa tariffs, exactly as in a real fallback; done by the columnar engine for the whole year at once;
- **activity counts** per member and activity type, and the **members** with their discipline.

Members are the providers with a membership of the IGO in the year. Availability units default to one for the
disciplines that keep 24/7 readiness (midwives, hospital, gynaecologists, kraamzorg) and zero for the others;
quality scores come from the outcome indicators (``insight.quality``): per member, over the pregnancies it cared
for, case-mix adjusted against the country's pregnancies that ended in the year or the year before; without
registered outcomes there are none and a quality pool stays with the IGO as a quality fund.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal

import polars as pl
from sqlalchemy import or_, select

from integraal.data.loader import load_catalogue
from integraal.distribution import (
    ActivityCount,
    DistributionInput,
    Member,
    PregnancyRow,
    QualityScore,
    Receipt,
    ShadowClaim,
    derive_client_profile,
)
from integraal.domain.contract import ContractBook
from integraal.domain.phase import Phase
from integraal.domain.provider import Discipline
from integraal.insight import load_indicators
from integraal.insight.quality import member_scores
from integraal.rules.bulk import decide_frames
from integraal.rules.decision import Outcome
from integraal.rules.engine import DecisionContext
from integraal.rules.matching import TrajectoryIndex
from integraal.services.access import Action, NotFoundError, Principal, Role, require
from integraal.services.decisions import _assign
from integraal.services.insight import outcome_frame
from integraal.services.latest import claim_lines_of, decision_of, latest_decisions
from integraal.store import tables
from integraal.store.bulk import in_values, read_frame
from integraal.store.database import Database
from integraal.store.repositories import load_activities, load_context, load_pregnancies

READY_DISCIPLINES = frozenset({Discipline.MIDWIFE, Discipline.HOSPITAL, Discipline.GYNAECOLOGIST, Discipline.KRAAMZORG})

PREGNANCY_FRAME = {
    "pregnancy_id": pl.String(),
    "bsn": pl.String(),
    "uzovi": pl.String(),
    "igo_id": pl.String(),
    "intake_date": pl.Date(),
    "due_date": pl.Date(),
    "labour_date": pl.Date(),
    "end_date": pl.Date(),
    "end_reason": pl.String(),
    "referral_date": pl.Date(),
    "referral_stage": pl.String(),
}


def distribution_input(db: Database, principal: Principal, igo_id: str, year: int) -> DistributionInput:
    """The input of ``igo_id``'s distribution for ``year`` (see the module docstring)."""
    require(principal, Action.SIMULATE_DISTRIBUTION)
    if principal.role is not Role.SUPERUSER and principal.igo_id != igo_id:
        raise NotFoundError("igo", igo_id)
    start, end = date(year, 1, 1), date(year, 12, 31)
    p, d, c, m, prov = (
        tables.pregnancies,
        tables.phase_decisions,
        tables.claim_lines,
        tables.memberships,
        tables.providers,
    )
    catalogue = load_catalogue()
    with db.unit_of_work() as connection:
        if connection.execute(select(tables.igos.c.igo_id).where(tables.igos.c.igo_id == igo_id)).first() is None:
            raise NotFoundError("igo", igo_id)
        members = tuple(
            Member(agb, Discipline(discipline), name, Decimal(1 if Discipline(discipline) in READY_DISCIPLINES else 0))
            for agb, discipline, name in connection.execute(
                select(prov.c.agb, prov.c.discipline, prov.c.name)
                .join(m, m.c.agb == prov.c.agb)
                .where(
                    m.c.igo_id == igo_id,
                    m.c.start_date <= end,
                    or_(m.c.end_date.is_(None), m.c.end_date >= start),
                )
                .group_by(prov.c.agb, prov.c.discipline, prov.c.name)
                .order_by(prov.c.agb)
            )
        )
        latest = latest_decisions(p.c.igo_id == igo_id)
        receipts = [
            Receipt(Phase(phase), int(amount), pregnancy_id)
            for pregnancy_id, phase, amount in connection.execute(
                select(c.c.pregnancy_id, c.c.phase, c.c.amount_cents)
                .select_from(latest)
                .join(c, claim_lines_of(latest))
                .where(c.c.kind == "integral", c.c.declaration_date >= start, c.c.declaration_date <= end)
                .order_by(c.c.pregnancy_id, c.c.phase)
            )
        ]
        paid_for = sorted({r.pregnancy_id for r in receipts if r.pregnancy_id})
        outcomes: dict[str, list[tuple[Phase, Outcome]]] = defaultdict(list)
        for pregnancy_id, phase, outcome in connection.execute(
            select(d.c.pregnancy_id, d.c.phase, d.c.outcome).select_from(latest).join(d, decision_of(latest))
        ):
            outcomes[pregnancy_id].append((Phase(phase), Outcome(outcome)))
        pregnancies = load_pregnancies(connection, paid_for) if paid_for else []
        context = load_context(connection, catalogue)
        pregnancy_frame = (
            read_frame(
                connection,
                select(*(p.c[name] for name in PREGNANCY_FRAME)).where(in_values(p.c.pregnancy_id, paid_for)),
                PREGNANCY_FRAME,
            )
            if paid_for
            else pl.DataFrame(schema=PREGNANCY_FRAME)
        )
        activities = load_activities(connection, sorted({x.bsn for x in pregnancies})) if pregnancies else None

    rows = tuple(
        PregnancyRow(x.pregnancy_id, derive_client_profile(x), tuple(sorted(outcomes.get(x.pregnancy_id, ()))))
        for x in pregnancies
    )
    shadow: list[ShadowClaim] = []
    counts: list[ActivityCount] = []
    quality: list[QualityScore] = []
    if activities is not None and activities.height:
        trailing = max((r.postnatal_days for y in catalogue.years if (r := catalogue.for_year(y))), default=42)
        assigned, _ = _assign(activities, TrajectoryIndex(pregnancies, trailing), False)
        assigned = assigned.filter(pl.col("pregnancy_id").is_in(paid_for))
        # No contracts: every phase falls back and the members' care is priced as they would claim it alone.
        no_contracts = DecisionContext(catalogue, context.providers, context.igos, context.memberships, ContractBook())
        bulk = decide_frames(pregnancy_frame, assigned, no_contracts, end)
        agbs = {member.agb for member in members}
        claims = bulk.claims.filter(pl.col("kind") == "mono", pl.col("claimant_agb").is_in(list(agbs)))
        grouped = claims.group_by("pregnancy_id", "phase", "claimant_agb").agg(pl.col("amount_cents").sum())
        shadow = [
            ShadowClaim(pregnancy_id, Phase(phase), agb, int(amount))
            for pregnancy_id, phase, agb, amount in grouped.sort("pregnancy_id", "phase", "claimant_agb").iter_rows()
            if amount
        ]
        per_type = (
            assigned.filter(pl.col("agb").is_in(list(agbs)))
            .group_by("agb", "activity_code", "pregnancy_id")
            .agg(pl.len().alias("n"))
            .sort("agb", "activity_code", "pregnancy_id")
        )
        counts = [
            ActivityCount(agb, code, Decimal(int(n)), pregnancy_id)
            for agb, code, pregnancy_id, n in per_type.iter_rows()
        ]
        quality = _quality_scores(db, igo_id, year, paid_for, assigned.filter(pl.col("agb").is_in(list(agbs))))
    return DistributionInput(
        year=year,
        members=members,
        receipts=tuple(receipts),
        pregnancies=rows,
        shadow_claims=tuple(shadow),
        activities=tuple(counts),
        quality=tuple(quality),
    )


def _quality_scores(
    db: Database, igo_id: str, year: int, paid_for: list[str], care: pl.DataFrame
) -> list[QualityScore]:
    """Each member's indicator scores over the pregnancies it cared for (module docstring)."""
    p = tables.pregnancies
    own = outcome_frame(db, p.c.igo_id == igo_id, financing=False).filter(pl.col("pregnancy_id").is_in(paid_for))
    if own.is_empty():
        return []
    reference = outcome_frame(db, p.c.igo_id.is_not(None), [year - 1, year], financing=False)
    scores = member_scores(load_indicators().values(), own, care.select("agb", "pregnancy_id"), reference)
    return [QualityScore(s.agb, s.indicator_id, s.score) for s in scores]
