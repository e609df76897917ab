"""The year overview on the dashboard: pregnancies, outcomes per phase and euros claimed, in the caller's scope.

A pregnancy belongs to the year of its due date (*uitgerekende datum*): that is the year whose contract the
integral prestaties mostly fall under, and it does not move when a decision is re-run. Counts and amounts come
from the *latest* stored decision of each pregnancy and phase (runs may cover a subset), in set-based SQL.
Analysts get every IGO and insurers their own insured, with small numbers withheld for both, like
:func:`integraal.services.queries.decision_summary`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import ColumnElement, and_, func, select, true

from integraal.services.access import (
    Action,
    Principal,
    Role,
    allowed,
    pregnancy_scope,
    require,
    small_number_threshold,
)
from integraal.services.latest import claim_lines_of, decision_of, latest_decisions
from integraal.store import tables
from integraal.store.database import Database

PHASE_ORDER = ("prenatal", "natal", "postnatal")
OUTCOME_ORDER = ("integral", "fallback", "incomplete", "not_applicable")


@dataclass(frozen=True, slots=True)
class IgoYear:
    """One IGO's year: ``None`` in a count or amount means withheld (fewer than the minimum)."""

    igo_id: str
    name: str
    pregnancies: int | None
    with_fallback: int | None
    integral_cents: int | None
    mono_cents: int | None


@dataclass(frozen=True, slots=True)
class YearOverview:
    year: int
    years: list[int]  # years that have pregnancies in scope, newest first
    pregnancies: int | None
    decided: int | None  # pregnancies with at least one stored decision
    with_fallback: int | None  # pregnancies with at least one phase in fallback (bundle broken or other)
    outcomes: dict[str, dict[str, int | None]]  # phase → outcome → pregnancies
    integral_cents: int | None
    integral_lines: int | None
    mono_cents: int | None
    mono_lines: int | None
    igos: list[IgoYear] = field(default_factory=list)
    suppressed_below: int | None = None


def _scope(principal: Principal) -> ColumnElement[bool]:
    """Pregnancies whose aggregates the principal may read (analysts: all, as aggregates only)."""
    require(principal, Action.READ_AGGREGATES)
    return true() if principal.role is Role.ANALYST else pregnancy_scope(principal)


def years_in_scope(db: Database, principal: Principal) -> list[int]:
    """Years (of the due date) that have pregnancies the principal may aggregate, newest first."""
    p = tables.pregnancies
    year = func.extract("year", p.c.due_date)
    with db.unit_of_work() as connection:
        rows = connection.execute(select(year).where(_scope(principal)).group_by(year).order_by(year.desc())).all()
    return [int(y) for (y,) in rows if y is not None]


def year_overview(db: Database, principal: Principal, year: int | None = None) -> YearOverview:
    """The overview of ``year`` (default: the current year if it has data, else the newest year that has)."""
    scope = _scope(principal)
    years = years_in_scope(db, principal)
    if year is None:
        today = date.today().year
        year = today if today in years or not years else years[0]
    threshold = small_number_threshold(principal)

    def keep(n: int | None) -> int | None:
        return None if n is None or (threshold is not None and n < threshold) else n

    p, d, c = tables.pregnancies, tables.phase_decisions, tables.claim_lines
    in_year = and_(scope, p.c.due_date >= date(year, 1, 1), p.c.due_date < date(year + 1, 1, 1))
    latest = latest_decisions(in_year)
    on_latest = decision_of(latest)
    # An insurer sees only the claim lines addressed to it (the same rule as the pregnancy detail).
    own_lines = c.c.uzovi == principal.uzovi if principal.role is Role.INSURER else true()
    on_lines = claim_lines_of(latest)

    with db.unit_of_work() as connection:
        per_igo: dict[str, int] = {
            igo: int(n)
            for igo, n in connection.execute(select(p.c.igo_id, func.count()).where(in_year).group_by(p.c.igo_id))
        }
        # The latest decision of every pregnancy and phase, read once and counted here (one pass, not three).
        decided_rows = connection.execute(
            select(d.c.pregnancy_id, d.c.igo_id, d.c.phase, d.c.outcome).select_from(latest).join(d, on_latest)
        ).all()
        claim_rows = connection.execute(
            select(p.c.igo_id, c.c.kind, func.count(), func.sum(c.c.amount_cents))
            .select_from(latest)
            .join(c, on_lines)
            .join(p, p.c.pregnancy_id == latest.c.pregnancy_id)
            .where(own_lines)
            .group_by(p.c.igo_id, c.c.kind)
        ).all()
        names = dict(connection.execute(select(tables.igos.c.igo_id, tables.igos.c.name)).all())

    outcomes: dict[str, dict[str, int]] = {phase: dict.fromkeys(OUTCOME_ORDER, 0) for phase in PHASE_ORDER}
    decided: set[str] = set()
    fallback_per_igo: dict[str, set[str]] = defaultdict(set)
    for pregnancy_id, igo, phase, outcome in decided_rows:
        outcomes.setdefault(phase, {}).setdefault(outcome, 0)
        outcomes[phase][outcome] += 1
        decided.add(pregnancy_id)
        if outcome == "fallback":
            fallback_per_igo[igo].add(pregnancy_id)
    money: dict[tuple[str, str], tuple[int, int]] = {}
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for igo, kind, n, amount in claim_rows:
        money[(igo, kind)] = (int(n), int(amount or 0))
        totals[kind][0] += int(n)
        totals[kind][1] += int(amount or 0)

    igos = [
        IgoYear(
            igo,
            names.get(igo, igo),
            keep(n),
            keep(len(fallback_per_igo.get(igo, ()))),
            _amount(money.get((igo, "integral")), keep),
            _amount(money.get((igo, "mono")), keep),
        )
        for igo, n in sorted(per_igo.items())
    ]
    return YearOverview(
        year=year,
        years=years,
        pregnancies=keep(sum(per_igo.values())),
        decided=keep(len(decided)),
        with_fallback=keep(sum(len(ids) for ids in fallback_per_igo.values())),
        outcomes={ph: {o: keep(n) for o, n in by_outcome.items()} for ph, by_outcome in outcomes.items()},
        integral_cents=_amount(tuple(totals["integral"]) if "integral" in totals else None, keep),
        integral_lines=keep(totals["integral"][0] if "integral" in totals else 0),
        mono_cents=_amount(tuple(totals["mono"]) if "mono" in totals else None, keep),
        mono_lines=keep(totals["mono"][0] if "mono" in totals else 0),
        igos=igos,
        suppressed_below=threshold,
    )


def _amount(lines_and_cents: tuple[int, ...] | None, keep: Callable[[int | None], int | None]) -> int | None:
    """The amount of (lines, cents), withheld when the number of lines is (an amount of few lines identifies)."""
    lines, cents = lines_and_cents if lines_and_cents is not None else (0, 0)
    return cents if keep(lines) is not None else None


def can_see_overview(principal: Principal) -> bool:
    return allowed(principal, Action.READ_AGGREGATES)
