"""Playing the insurer on a region's own data, for demos and tests: what it knows, and a month run through it.

The simulated insurer (``claims.simulator``) needs what a real one knows: who is insured with it, the tariffs
it agreed with the IGO and the NZa maximum tariffs, what it already paid — including claims by providers
outside the IGO that the IGO never sees. :func:`insurer_view` derives that from the stored region: the women
with a trajectory insured with it, the contracts, the catalogue, the paid lines, and the non-members' in-scope
care that the decisions report as claimed by the non-member itself. ``hidden_outside_share`` adds, seeded,
outside scans the IGO did not register (the collisions that come back as 0587).

:func:`run_month` is the berichtenverkeer of one month: build the batches, write each as a KZ301 file, let the
insurer answer with a KZ302 file, apply the answers (as the day's post: one re-decision for all of them), and
build the follow-up batch that the returns caused.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import polars as pl
from sqlalchemy import func, select

from integraal.claims.formats import get_format
from integraal.claims.simulator import (
    InsuredPeriod,
    InsurerView,
    MonodisciplinaryClaim,
    PaidClaim,
    RandomRejection,
    simulate_return,
)
from integraal.data.loader import load_catalogue
from integraal.domain.contract import OverlapPolicy
from integraal.rules.reasons import ReasonCode
from integraal.services import claims
from integraal.services.access import Principal
from integraal.store import activity_blocks, tables
from integraal.store.database import Database

OUTSIDE_SCAN_AGB = "08999999"
"""The AGB of the made-up outside ultrasound centre whose unregistered scans the demo insurer has paid."""


def insurer_view(db: Database, uzovi: str, *, hidden_outside_share: float = 0.0, seed: int = 0) -> InsurerView:
    """What insurer ``uzovi`` knows of the region in ``db`` (see the module docstring)."""
    catalogue = load_catalogue()
    integral_codes = {p.code for y in catalogue.years if (r := catalogue.for_year(y)) for p in r.integral_prestaties}
    maximum: dict[str, int] = {}
    for year in catalogue.years:
        ruleset = catalogue.for_year(year)
        for m in ruleset.mono_prestaties if ruleset else ():
            maximum[m.code] = max(maximum.get(m.code, 0), m.tariff_cents)
    p, c, o, i = (tables.pregnancies, tables.contracts, tables.activity_outcomes, tables.claim_items)
    with db.unit_of_work() as connection:
        insured: dict[str, list[InsuredPeriod]] = defaultdict(list)
        for bsn, first, last in connection.execute(
            select(p.c.bsn, func.min(p.c.intake_date), func.max(func.coalesce(p.c.end_date, p.c.due_date)))
            .where(p.c.uzovi == uzovi)
            .group_by(p.c.bsn)
        ):
            # Insured from well before the intake to well after the trajectory: the demo region has no switches.
            insured[bsn].append(InsuredPeriod(first - timedelta(days=365), last + timedelta(days=365)))
        contract_tariffs: dict[str, int] = {}
        overlap_ban = False
        for code, cents, policy in connection.execute(
            select(c.c.prestatie_code, c.c.tariff_cents, c.c.overlap_policy).where(c.c.uzovi == uzovi)
        ):
            if code in integral_codes:
                contract_tariffs[code] = max(contract_tariffs.get(code, 0), int(cents))
            else:
                maximum[code] = int(cents)  # a contract tariff for a monodisciplinary code replaces the NZa one
            overlap_ban = overlap_ban or policy == OverlapPolicy.BREAK_BUNDLE.value
        d = tables.phase_decisions
        # Each pregnancy's own latest run: runs may cover a few pregnancies (a re-decision after a 0587).
        latest_run = select(func.max(d.c.run_id)).where(d.c.pregnancy_id == o.c.pregnancy_id).scalar_subquery()
        outside_ids = connection.execute(
            select(o.c.activity_id)
            .join(p, p.c.pregnancy_id == o.c.pregnancy_id)
            .where(o.c.run_id == latest_run, o.c.reason == ReasonCode.CLAIMED_BY_NON_MEMBER.value, p.c.uzovi == uzovi)
        ).scalars()
        # The activities themselves are stored as columnar blocks (store.activity_blocks).
        outside_activities = (
            activity_blocks.read_all(connection, ["activity_id", "bsn", "date", "agb", "activity_code"])
            .filter(pl.col("activity_id").is_in(list(outside_ids)))
            .sort("activity_id")
        )
        outside = [
            MonodisciplinaryClaim(bsn, day, day, agb, code) for _, bsn, day, agb, code in outside_activities.iter_rows()
        ]
        paid = [
            PaidClaim(r.bsn, r.prestatie_code, r.service_start, r.service_end, r.line_id)
            for r in connection.execute(
                select(i).where(i.c.uzovi == uzovi, i.c.state.in_(["accepted", "partially_accepted", "paid"]))
            )
        ]
        if hidden_outside_share > 0:
            rng = random.Random(seed)
            for bsn, start, end in connection.execute(
                select(p.c.bsn, p.c.intake_date, p.c.labour_date)
                .where(p.c.uzovi == uzovi, p.c.labour_date.is_not(None))
                .order_by(p.c.pregnancy_id)
            ):
                if rng.random() < hidden_outside_share and end > start:
                    day = start + timedelta(days=rng.randrange((end - start).days))
                    outside.append(MonodisciplinaryClaim(bsn, day, day, OUTSIDE_SCAN_AGB, "MONO_ECHO_SPECIFIEK"))
    for code in contract_tariffs:
        maximum.pop(code, None)
    return InsurerView(
        uzovi=uzovi,
        insured={bsn: tuple(periods) for bsn, periods in insured.items()},
        contract_tariffs=contract_tariffs,
        maximum_tariffs=maximum,
        paid=tuple(paid),
        monodisciplinary_paid=tuple(outside),
        overlap_ban=overlap_ban or hidden_outside_share > 0,
    )


@dataclass(frozen=True, slots=True)
class BatchRound:
    batch_id: str
    uzovi: str
    lines: int
    claimed_cents: int
    accepted: int
    partially_accepted: int
    rejected: int
    awarded_cents: int
    bundle_breakers: int


@dataclass(slots=True)
class MonthRun:
    rounds: list[BatchRound] = field(default_factory=list)
    follow_up_batches: list[claims.BatchSummary] = field(default_factory=list)


def run_month(
    db: Database,
    principal: Principal,
    month_start: date,
    month_end: date,
    *,
    hidden_outside_share: float = 0.01,
    reject_share: float = 0.0,
    reject_code: str = "0613",
    seed: int = 1,
    at: datetime | None = None,
) -> MonthRun:
    """Claim one month end to end through the simulated insurer (see the module docstring)."""
    at = at or datetime.now(UTC)
    run = MonthRun()
    # Built and sent in one step, as a back office that sends what it builds does.
    built = claims.build_batches(db, principal, period_start=month_start, period_end=month_end, at=at, send="kz301")
    views: dict[str, InsurerView] = {}
    answers: list[tuple[str, bytes]] = []
    for batch in built.batches:
        sent = built.files[batch.batch_id]
        view = views.get(batch.uzovi) or insurer_view(
            db, batch.uzovi, hidden_outside_share=hidden_outside_share, seed=seed
        )
        views[batch.uzovi] = view
        returned = simulate_return(
            get_format("kz301").read(sent),
            view,
            return_date=at.date(),
            reference=f"SIM-{batch.batch_id}",
            random_rejection=RandomRejection(reject_share, reject_code, seed) if reject_share else None,
        )
        answers.append((batch.batch_id, get_format("kz302").write(returned)))
    # The month's post at once: the bundle breakers of all batches are decided again in one run. An insurer's
    # view does not depend on the other insurers' answers (its own women, contracts and paid lines).
    applied = claims.apply_returns(db, principal, answers, "kz302", at=at, as_of=at.date())
    if applied.refused:
        name, error = applied.refused[0]
        raise claims.ClaimsError(f"the simulated return of {name} was refused: {error}")
    summaries = dict(applied.applied)
    for batch in built.batches:
        summary = summaries[batch.batch_id]
        run.rounds.append(
            BatchRound(
                batch.batch_id,
                batch.uzovi,
                batch.lines,
                batch.total_cents,
                summary.accepted,
                summary.partially_accepted,
                summary.rejected,
                summary.awarded_cents,
                len(summary.bundle_breakers),
            )
        )
    run.follow_up_batches = claims.build_batches(
        db, principal, period_start=month_start, period_end=month_end, at=at
    ).batches
    return run


def busiest_month(db: Database) -> tuple[date, date] | None:
    """The calendar month with the most declared claim lines (first and last day), for a representative demo."""
    c = tables.claim_lines
    with db.unit_of_work() as connection:
        dates = connection.execute(select(c.c.declaration_date)).scalars().all()
    if not dates:
        return None
    per_month: dict[tuple[int, int], int] = defaultdict(int)
    for day in dates:
        per_month[(day.year, day.month)] += 1
    year, month = max(per_month, key=lambda k: (per_month[k], k))
    start = date(year, month, 1)
    return start, last_day_of_month(start)


def last_day_of_month(day: date) -> date:
    """The last day of ``day``'s calendar month."""
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
