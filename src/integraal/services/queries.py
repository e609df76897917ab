"""Read use cases: lists and details for the API, the web UI and exports — always through the principal's scope.

Every function takes the :class:`~integraal.services.access.Principal`, checks the action (role) and filters
rows with the where-clauses of :mod:`integraal.services.access` in SQL. A row outside the scope is reported as
not found, exactly like a row that does not exist, so ids of other tenants cannot be probed.

Results are plain frozen dataclasses (no web types); the adapters map them to their own schemas.

"Latest decision" of a pregnancy's phase means the stored decision of the newest run that decided it (runs may
cover some pregnancies only). A pregnancy's decisions are visible with the pregnancy; its claim lines only as
far as they are addressed to the principal (an insurer sees its own). The row-level decision list and the
aggregates work on one run: by default the newest run that decided anything in the principal's scope.
"""

from __future__ import annotations

import json
import threading
import weakref
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

import polars as pl
from sqlalchemy import ColumnElement, Connection, Select, and_, exists, func, literal, or_, select, true

from integraal.data.loader import load_catalogue
from integraal.domain.activity import Activity
from integraal.domain.catalogue import Catalogue
from integraal.domain.phase import PHASES
from integraal.domain.pregnancy import Pregnancy
from integraal.rules.decision import ActivityOutcome, PregnancyDecision
from integraal.rules.engine import DecisionContext, decide_bundle
from integraal.rules.matching import TrajectoryIndex
from integraal.rules.reasons import ReasonCode, render, short
from integraal.services.access import (
    Action,
    BsnView,
    NotFoundError,
    Principal,
    Role,
    activity_scope,
    allowed,
    audit_scope,
    bsn_view,
    claim_scope,
    contract_scope,
    decision_scope,
    igo_scope,
    pregnancy_scope,
    present_bsn,
    provider_scope,
    require,
    small_number_threshold,
    visible_igo_ids,
)
from integraal.services.latest import claim_lines_of, decision_of, latest_decisions
from integraal.store import activity_blocks, tables
from integraal.store.database import Database
from integraal.store.repositories import load_context, load_pregnancies, load_pregnancies_of_bsn

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
SMALL_NUMBER = 10
"""The default minimum cell size (``services.access.configured_minimum``): analysts and insurers see no count
(or amount) of fewer than this many; small numbers mislead and can identify."""


@dataclass(frozen=True, slots=True)
class Paging:
    limit: int = DEFAULT_LIMIT
    offset: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_LIMIT:
            raise ValueError(f"limit must be 1–{MAX_LIMIT}")
        if self.offset < 0:
            raise ValueError("offset must be ≥ 0")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


def _page(connection: Connection, query: Select[Any], paging: Paging) -> tuple[list[Any], int]:
    """Rows of one page and the total number of rows of ``query`` (ordered by the caller)."""
    total = connection.execute(select(func.count()).select_from(query.order_by(None).subquery())).scalar_one()
    rows = connection.execute(query.limit(paging.limit).offset(paging.offset)).all()
    return list(rows), int(total)


def _contains(column: Any, text: str) -> ColumnElement[bool]:
    """Case-insensitive substring match, the same on SQLite and PostgreSQL (wildcards in ``text`` escaped)."""
    return func.lower(column).contains(text.lower(), autoescape=True)


# --- register: providers and IGOs ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProviderView:
    agb: str
    name: str
    discipline: str
    city: str


@dataclass(frozen=True, slots=True)
class MembershipView:
    igo_id: str
    agb: str
    provider_name: str
    discipline: str
    start_date: date
    end_date: date | None


@dataclass(frozen=True, slots=True)
class ProviderDetail:
    agb: str
    name: str
    discipline: str
    city: str
    memberships: list[MembershipView]


@dataclass(frozen=True, slots=True)
class IgoView:
    igo_id: str
    agb: str
    name: str


@dataclass(frozen=True, slots=True)
class IgoDetail:
    igo_id: str
    agb: str
    name: str
    members: list[MembershipView]


def _memberships(connection: Connection, principal: Principal, *where: ColumnElement[bool]) -> list[MembershipView]:
    m, pr = tables.memberships, tables.providers
    rows = connection.execute(
        select(m.c.igo_id, m.c.agb, pr.c.name, pr.c.discipline, m.c.start_date, m.c.end_date)
        .join(pr, pr.c.agb == m.c.agb)
        .where(visible_igo_ids(principal), *where)
        .order_by(m.c.igo_id, pr.c.name, m.c.agb, m.c.start_date)
    ).all()
    return [MembershipView(*r) for r in rows]


def list_providers(
    db: Database,
    principal: Principal,
    *,
    discipline: str | None = None,
    search: str | None = None,
    paging: Paging = Paging(),
) -> Page[ProviderView]:
    """Providers the principal may see: members (any period) of its IGOs; a member also sees itself."""
    require(principal, Action.READ_REGISTER)
    p = tables.providers
    query = select(p.c.agb, p.c.name, p.c.discipline, p.c.city).where(provider_scope(principal)).order_by(p.c.agb)
    if discipline:
        query = query.where(p.c.discipline == discipline)
    if search:
        query = query.where(or_(_contains(p.c.name, search), p.c.agb.startswith(search, autoescape=True)))
    with db.unit_of_work() as connection:
        rows, total = _page(connection, query, paging)
    return Page([ProviderView(*r) for r in rows], total, paging.limit, paging.offset)


def get_provider(db: Database, principal: Principal, agb: str) -> ProviderDetail:
    require(principal, Action.READ_REGISTER)
    p = tables.providers
    with db.unit_of_work() as connection:
        row = connection.execute(
            select(p.c.agb, p.c.name, p.c.discipline, p.c.city).where(p.c.agb == agb, provider_scope(principal))
        ).first()
        if row is None:
            raise NotFoundError("provider", agb)
        memberships = _memberships(connection, principal, tables.memberships.c.agb == agb)
    return ProviderDetail(*row, memberships=memberships)


def list_igos(db: Database, principal: Principal, *, paging: Paging = Paging()) -> Page[IgoView]:
    require(principal, Action.READ_REGISTER)
    t = tables.igos
    query = select(t.c.igo_id, t.c.agb, t.c.name).where(igo_scope(principal)).order_by(t.c.igo_id)
    with db.unit_of_work() as connection:
        rows, total = _page(connection, query, paging)
    return Page([IgoView(*r) for r in rows], total, paging.limit, paging.offset)


def get_igo(db: Database, principal: Principal, igo_id: str) -> IgoDetail:
    require(principal, Action.READ_REGISTER)
    t = tables.igos
    with db.unit_of_work() as connection:
        row = connection.execute(
            select(t.c.igo_id, t.c.agb, t.c.name).where(t.c.igo_id == igo_id, igo_scope(principal))
        ).first()
        if row is None:
            raise NotFoundError("IGO", igo_id)
        members = _memberships(connection, principal, tables.memberships.c.igo_id == igo_id)
    return IgoDetail(*row, members=members)


# --- contracts ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ContractPrestatie:
    prestatie_code: str
    tariff_cents: int


@dataclass(frozen=True, slots=True)
class ContractView:
    contract_id: str
    igo_id: str
    uzovi: str
    year: int
    overlap_policy: str | None
    partial_trajectory_policy: str | None
    prestaties: list[ContractPrestatie]


def _contracts(connection: Connection, ids: Sequence[str]) -> list[ContractView]:
    c = tables.contracts
    rows = connection.execute(
        select(c).where(c.c.contract_id.in_(list(ids))).order_by(c.c.contract_id, c.c.prestatie_code)
    ).all()
    grouped: dict[str, list[Any]] = defaultdict(list)
    for r in rows:
        grouped[r.contract_id].append(r)
    views = []
    for contract_id in ids:
        lines = grouped[contract_id]
        head = lines[0]
        views.append(
            ContractView(
                contract_id,
                head.igo_id,
                head.uzovi,
                int(head.year),
                head.overlap_policy,
                head.partial_trajectory_policy,
                [ContractPrestatie(r.prestatie_code, int(r.tariff_cents)) for r in lines],
            )
        )
    return views


def list_contracts(
    db: Database,
    principal: Principal,
    *,
    igo_id: str | None = None,
    uzovi: str | None = None,
    year: int | None = None,
    paging: Paging = Paging(),
) -> Page[ContractView]:
    """Contracts IGO × insurer × year with their agreed tariffs (cents), one item per contract."""
    require(principal, Action.READ_CONTRACTS)
    c = tables.contracts
    query = select(c.c.contract_id).where(contract_scope(principal)).group_by(c.c.contract_id)
    for column, value in ((c.c.igo_id, igo_id), (c.c.uzovi, uzovi), (c.c.year, year)):
        if value is not None:
            query = query.where(column == value)
    with db.unit_of_work() as connection:
        rows, total = _page(connection, query.order_by(c.c.contract_id), paging)
        items = _contracts(connection, [r[0] for r in rows])
    return Page(items, total, paging.limit, paging.offset)


def get_contract(db: Database, principal: Principal, contract_id: str) -> ContractView:
    require(principal, Action.READ_CONTRACTS)
    c = tables.contracts
    with db.unit_of_work() as connection:
        found = connection.execute(
            select(c.c.contract_id).where(c.c.contract_id == contract_id, contract_scope(principal)).limit(1)
        ).first()
        if found is None:
            raise NotFoundError("contract", contract_id)
        return _contracts(connection, [contract_id])[0]


# --- pregnancies ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PregnancyFilter:
    """Filters of the pregnancy list; ``None`` = no filter. ``outcome`` is that of the latest decision of
    ``phase`` (or of any phase when ``phase`` is not given)."""

    igo_id: str | None = None
    uzovi: str | None = None
    end_reason: str | None = None
    ongoing: bool | None = None
    phase: str | None = None
    outcome: str | None = None
    intake_from: date | None = None
    intake_to: date | None = None
    search: str | None = None


@dataclass(frozen=True, slots=True)
class PhaseOutcomes:
    """The outcome of the latest stored decision per phase (``None``: never decided)."""

    prenatal: str | None = None
    natal: str | None = None
    postnatal: str | None = None


@dataclass(frozen=True, slots=True)
class PregnancyRow:
    pregnancy_id: str
    bsn: str | None
    client_pseudonym: str | None
    uzovi: str
    igo_id: str
    intake_date: date
    due_date: date
    labour_date: date | None
    end_date: date | None
    end_reason: str | None
    referral_date: date | None
    referral_stage: str | None
    decisions: PhaseOutcomes


def _latest_run_of(d: Any) -> Any:
    """Correlated: the newest run that decided ``d``'s pregnancy and phase (an index seek per row)."""
    d2 = tables.phase_decisions.alias("d2")
    return (
        select(func.max(d2.c.run_id))
        .where(d2.c.pregnancy_id == d.c.pregnancy_id, d2.c.phase == d.c.phase)
        .scalar_subquery()
    )


def _latest_outcome(pregnancy_id: Any, phase: str) -> Any:
    """Correlated: the outcome of the newest decision of the pregnancy's ``phase`` (one covering-index seek)."""
    d = tables.phase_decisions.alias(f"latest_{phase}")
    return (
        select(d.c.outcome)
        .where(d.c.pregnancy_id == pregnancy_id, d.c.phase == phase)
        .order_by(d.c.run_id.desc())
        .limit(1)
        .scalar_subquery()
    )


def _pregnancy_query(principal: Principal, where: PregnancyFilter) -> Select[Any]:
    p = tables.pregnancies
    query = select(p).where(pregnancy_scope(principal))
    for column, value in (
        (p.c.igo_id, where.igo_id),
        (p.c.uzovi, where.uzovi),
        (p.c.end_reason, where.end_reason),
    ):
        if value is not None:
            query = query.where(column == value)
    if where.ongoing is not None:
        query = query.where(p.c.end_reason.is_(None) if where.ongoing else p.c.end_reason.is_not(None))
    if where.intake_from is not None:
        query = query.where(p.c.intake_date >= where.intake_from)
    if where.intake_to is not None:
        query = query.where(p.c.intake_date <= where.intake_to)
    if where.search:
        text = where.search.strip()
        matches = [_contains(p.c.pregnancy_id, text)]
        if bsn_view(principal) is BsnView.CLEAR and text.isdigit() and len(text) == 9:
            matches.append(p.c.bsn == text)
        query = query.where(or_(*matches))
    if where.outcome is not None or where.phase is not None:
        phases = [where.phase] if where.phase is not None else [phase.value for phase in PHASES]
        latest = [_latest_outcome(p.c.pregnancy_id, phase) for phase in phases]
        if where.outcome is not None:
            query = query.where(or_(*(outcome == where.outcome for outcome in latest)))
        else:
            query = query.where(or_(*(outcome.is_not(None) for outcome in latest)))
    return query.order_by(p.c.pregnancy_id)


def _latest_outcomes(connection: Connection, principal: Principal, ids: Sequence[str]) -> dict[str, dict[str, str]]:
    if not ids:
        return {}
    d = tables.phase_decisions.alias("d")
    rows = connection.execute(
        select(d.c.pregnancy_id, d.c.phase, d.c.outcome).where(
            d.c.pregnancy_id.in_(list(ids)), d.c.run_id == _latest_run_of(d)
        )
    ).all()
    found: dict[str, dict[str, str]] = defaultdict(dict)
    for pregnancy_id, phase, outcome in rows:
        found[pregnancy_id][phase] = outcome
    return found


def _pregnancy_row(principal: Principal, r: Any, outcomes: dict[str, str], key: bytes) -> PregnancyRow:
    bsn, pseudonym = present_bsn(principal, r.bsn, key)
    return PregnancyRow(
        r.pregnancy_id,
        bsn,
        pseudonym,
        r.uzovi,
        r.igo_id,
        r.intake_date,
        r.due_date,
        r.labour_date,
        r.end_date,
        r.end_reason,
        r.referral_date,
        r.referral_stage,
        PhaseOutcomes(**{phase: outcomes.get(phase) for phase in ("prenatal", "natal", "postnatal")}),
    )


def list_pregnancies(
    db: Database,
    principal: Principal,
    where: PregnancyFilter = PregnancyFilter(),
    *,
    paging: Paging = Paging(),
    pseudonym_key: bytes,
) -> Page[PregnancyRow]:
    """Care trajectories in scope, filtered, ordered by id, with the latest outcome per phase."""
    require(principal, Action.READ_PREGNANCIES)
    with db.unit_of_work() as connection:
        rows, total = _page(connection, _pregnancy_query(principal, where), paging)
        outcomes = _latest_outcomes(connection, principal, [r.pregnancy_id for r in rows])
    items = [_pregnancy_row(principal, r, outcomes.get(r.pregnancy_id, {}), pseudonym_key) for r in rows]
    return Page(items, total, paging.limit, paging.offset)


@dataclass(frozen=True, slots=True)
class ReasonView:
    """A reason as a code and as sentences in Dutch and English, with the activities it is about."""

    code: str
    text_nl: str
    text_en: str
    activity_ids: list[str]


@dataclass(frozen=True, slots=True)
class PhaseView:
    phase: str
    outcome: str
    reasons: list[ReasonView]
    run_id: int
    as_of: date
    ruleset_version: str | None
    contract_id: str | None


@dataclass(frozen=True, slots=True)
class ClaimLineView:
    run_id: int
    line_no: int
    phase: str
    kind: str
    prestatie_code: str
    claimant_agb: str
    uzovi: str
    quantity: str
    tariff_cents: int
    amount_cents: int
    service_start: date
    service_end: date
    declaration_date: date
    tariff_source: str
    activity_ids: list[str]


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One activity on the trajectory's timeline, with what the decision did with it."""

    activity_id: str
    date: date
    gestational_week: int
    agb: str
    provider_name: str | None
    discipline: str | None
    activity_code: str
    quantity: str
    member: bool  # the provider was a member of the pregnancy's IGO on that date
    phase: str | None
    disposition: str | None  # claimed, excluded, reported
    reason: str | None
    prestatie_code: str | None


@dataclass(frozen=True, slots=True)
class PregnancyDetail:
    pregnancy_id: str
    bsn: str | None
    client_pseudonym: str | None
    uzovi: str
    igo_id: str
    intake_date: date
    due_date: date
    labour_date: date | None
    end_date: date | None
    end_reason: str | None
    referral_date: date | None
    referral_stage: str | None
    phases: list[PhaseView]
    claim_lines: list[ClaimLineView]
    timeline: list[TimelineEntry] | None  # None: the role sees decisions and claims, not activities
    explanation_current: bool
    """False when the stored decision differs from one made now on the stored data (data changed since the
    run): the reasons then carry their short texts only. Re-run the decisions to bring them up to date."""


_CONTEXTS: weakref.WeakKeyDictionary[Database, tuple[int, DecisionContext]] = weakref.WeakKeyDictionary()
_CONTEXTS_LOCK = threading.Lock()


def _context(connection: Connection, db: Database, catalogue: Catalogue) -> DecisionContext:
    """The decision context (providers, IGOs, memberships, contracts), cached until the next import."""
    mark = int(connection.execute(select(func.coalesce(func.max(tables.import_runs.c.run_id), 0))).scalar_one())
    with _CONTEXTS_LOCK:  # requests run in a thread pool
        cached = _CONTEXTS.get(db)
    if cached is not None and cached[0] == mark:
        return cached[1]
    context = load_context(connection, catalogue)
    with _CONTEXTS_LOCK:
        _CONTEXTS[db] = (mark, context)
    return context


def trailing_days(catalogue: Catalogue) -> int:
    """How long after its end a trajectory still takes activities (as the decide use case matches them)."""
    return max((r.postnatal_days for y in catalogue.years if (r := catalogue.for_year(y))), default=42)


def _activities_of(connection: Connection, pregnancy_id: str, bsn: str, catalogue: Catalogue) -> list[Activity]:
    """The pregnancy's activities: those naming it, and those of her BSN naming none that match it by date."""
    frame = activity_blocks.read_for(connection, [pregnancy_id], [bsn]).sort("date", "activity_id")
    rows = frame.iter_rows(named=True)
    index: TrajectoryIndex | None = None
    found = []
    for r in rows:
        if r["pregnancy_id"] is None:
            if index is None:
                index = TrajectoryIndex(load_pregnancies_of_bsn(connection, bsn), trailing_days(catalogue))
            running = index.running_on(r["bsn"], r["date"])
            if running is None or running.pregnancy_id != pregnancy_id:
                continue
        found.append(
            Activity(
                r["activity_id"],
                r["bsn"],
                r["agb"],
                r["activity_code"],
                r["date"],
                Decimal(int(r["quantity_hundredths"])) / 100,
                r["pregnancy_id"] or pregnancy_id,
            )
        )
    return found


def _quantity(value: Decimal | int) -> str:
    """A quantity as exact decimal text without trailing zeros: ``1``, ``3.5``, ``0.25``."""
    return format(Decimal(value).normalize(), "f")


def _line_key(line: Any) -> tuple[str, str, str, int, tuple[str, ...]]:
    """What identifies a claim line, for a stored row and a freshly decided ``ClaimLine`` alike."""
    kind = line.kind if isinstance(line.kind, str) else line.kind.value
    ids = tuple(line.activity_ids.split()) if isinstance(line.activity_ids, str) else tuple(line.activity_ids)
    return (kind, line.prestatie_code, line.claimant_agb, int(line.amount_cents), ids)


def _reason_views(stored_codes: list[str], live: Any | None) -> list[ReasonView]:
    if live is not None:
        return [ReasonView(r.code.value, r.text("nl"), r.text("en"), list(r.activity_ids)) for r in live.reasons]
    views = []
    for code in stored_codes:
        try:
            reason = ReasonCode(code)
        except ValueError:
            views.append(ReasonView(code, code, code, []))
            continue
        # Without the parameters of the decision, the short text reads well; the full one would show {agb}.
        views.append(ReasonView(code, _sentence(reason, "nl"), _sentence(reason, "en"), []))
    return views


def _sentence(code: ReasonCode, lang: str) -> str:
    text = render(code, {}, lang)
    return short(code, lang) if "{" in text else text


def _claim_line_view(r: Any) -> ClaimLineView:
    return ClaimLineView(
        int(r.run_id),
        int(r.line_no),
        r.phase,
        r.kind,
        r.prestatie_code,
        r.claimant_agb,
        r.uzovi,
        _quantity(Decimal(int(r.quantity_hundredths)) / 100),
        int(r.tariff_cents),
        int(r.amount_cents),
        r.service_start,
        r.service_end,
        r.declaration_date,
        r.tariff_source,
        r.activity_ids.split(),
    )


def _timeline(
    pregnancy: Pregnancy, activities: list[Activity], live: PregnancyDecision, context: DecisionContext
) -> list[TimelineEntry]:
    """The activities by date, each with its provider, membership on that day and what the decision did."""
    outcome_of: dict[str, ActivityOutcome] = {o.activity_id: o for o in live.activities}
    timeline = []
    for act in sorted(activities, key=lambda x: (x.day, x.agb, x.activity_id)):
        provider = context.providers.get(act.agb)
        fate = outcome_of.get(act.activity_id)
        timeline.append(
            TimelineEntry(
                act.activity_id,
                act.day,
                pregnancy.gestational_week(act.day),
                act.agb,
                provider.name if provider else None,
                provider.discipline.value if provider else None,
                act.code,
                _quantity(act.quantity),
                context.memberships.is_member(pregnancy.igo_id, act.agb, act.day),
                fate.phase.value if fate and fate.phase else None,
                fate.disposition.value if fate else None,
                fate.reason.value if fate and fate.reason else None,
                fate.prestatie_code if fate else None,
            )
        )
    return timeline


def get_pregnancy(db: Database, principal: Principal, pregnancy_id: str, *, pseudonym_key: bytes) -> PregnancyDetail:
    """One trajectory: timeline of activities, the latest decision per phase with reasons, and claim lines."""
    require(principal, Action.READ_PREGNANCIES)
    p, d, c = tables.pregnancies, tables.phase_decisions.alias("d"), tables.claim_lines
    catalogue = load_catalogue()
    with db.unit_of_work() as connection:
        row = connection.execute(select(p).where(p.c.pregnancy_id == pregnancy_id, pregnancy_scope(principal))).first()
        if row is None:
            raise NotFoundError("pregnancy", pregnancy_id)
        runs = tables.decision_runs
        stored = connection.execute(
            select(d.c.phase, d.c.outcome, d.c.reasons, d.c.run_id, d.c.ruleset_version, d.c.contract_id, runs.c.as_of)
            .join(runs, runs.c.run_id == d.c.run_id)
            .where(d.c.pregnancy_id == pregnancy_id, d.c.run_id == _latest_run_of(d))
        ).all()
        run_ids = sorted({int(s.run_id) for s in stored})
        lines = (
            connection.execute(
                select(c)
                .where(c.c.pregnancy_id == pregnancy_id, claim_scope(principal))
                .order_by(c.c.run_id, c.c.line_no)
            ).all()
            if run_ids
            else []
        )
        pregnancy = load_pregnancies(connection, [pregnancy_id])[0]
        activities = _activities_of(connection, pregnancy_id, row.bsn, catalogue)
        context = _context(connection, db, catalogue)

    as_of = max((s.as_of for s in stored), default=date.today())
    live: PregnancyDecision = decide_bundle(pregnancy, activities, context, as_of)
    live_phases = {ph.phase.value: ph for ph in live.phases}
    by_phase = {s.phase: s for s in stored}
    current = True
    phases = []
    for phase in PHASES:
        s = by_phase.get(phase.value)
        if s is None:
            continue
        codes = s.reasons.split()
        candidate = live_phases.get(phase.value)
        same = (
            candidate is not None
            and candidate.outcome.value == s.outcome
            and list(candidate.reason_codes) == codes
            and s.as_of == as_of
            and sorted(_line_key(line) for line in candidate.claims)
            == sorted(_line_key(r) for r in lines if int(r.run_id) == int(s.run_id) and r.phase == phase.value)
        )
        current = current and same
        phases.append(
            PhaseView(
                phase.value,
                s.outcome,
                _reason_views(codes, candidate if same else None),
                int(s.run_id),
                s.as_of,
                s.ruleset_version,
                s.contract_id,
            )
        )
    wanted = {(int(s.run_id), s.phase) for s in stored}
    claim_lines = [_claim_line_view(r) for r in lines if (int(r.run_id), r.phase) in wanted]
    timeline = _timeline(pregnancy, activities, live, context) if allowed(principal, Action.READ_ACTIVITIES) else None
    bsn, pseudonym = present_bsn(principal, row.bsn, pseudonym_key)
    return PregnancyDetail(
        row.pregnancy_id,
        bsn,
        pseudonym,
        row.uzovi,
        row.igo_id,
        row.intake_date,
        row.due_date,
        row.labour_date,
        row.end_date,
        row.end_reason,
        row.referral_date,
        row.referral_stage,
        phases,
        claim_lines,
        timeline,
        current and bool(phases),
    )


# --- activities -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ActivityView:
    activity_id: str
    bsn: str | None
    client_pseudonym: str | None
    pregnancy_id: str | None
    agb: str
    activity_code: str
    date: date
    quantity: str


def list_activities(
    db: Database,
    principal: Principal,
    *,
    pregnancy_id: str | None = None,
    agb: str | None = None,
    activity_code: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    paging: Paging = Paging(),
    pseudonym_key: bytes,
) -> Page[ActivityView]:
    """Registered care activities in scope (a member: its own), ordered by id."""
    require(principal, Action.READ_ACTIVITIES)
    wanted = [
        pl.col(name) == value for name, value in (("agb", agb), ("activity_code", activity_code)) if value is not None
    ]
    if date_from is not None:
        wanted.append(pl.col("date") >= date_from)
    if date_to is not None:
        wanted.append(pl.col("date") <= date_to)
    with db.unit_of_work() as connection:
        # The activities are stored as columnar blocks (store.activity_blocks): filtered and ordered here.
        if pregnancy_id is not None:
            found = activity_blocks.read_for(connection, [pregnancy_id], [])
        else:
            found = activity_blocks.read_all(connection)
        found = found.filter(activity_scope(connection, principal), *wanted)
    total = found.height
    rows = list(found.sort("activity_id").slice(paging.offset, paging.limit).iter_rows(named=True))
    items = []
    for r in rows:
        bsn, pseudonym = present_bsn(principal, r["bsn"], pseudonym_key)
        items.append(
            ActivityView(
                r["activity_id"],
                bsn,
                pseudonym,
                r["pregnancy_id"],
                r["agb"],
                r["activity_code"],
                r["date"],
                _quantity(Decimal(int(r["quantity_hundredths"])) / 100),
            )
        )
    return Page(items, total, paging.limit, paging.offset)


# --- decisions --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RunView:
    run_id: int
    as_of: date
    created_at: datetime
    actor: str
    pregnancies: int | None  # None: withheld (a small number, for readers outside the IGO)
    ruleset_versions: list[str]


@dataclass(frozen=True, slots=True)
class DecisionRow:
    run_id: int
    pregnancy_id: str
    phase: str
    outcome: str
    reasons: list[str]
    ruleset_version: str | None
    contract_id: str | None
    igo_id: str
    uzovi: str


@dataclass(frozen=True, slots=True)
class DecisionPage:
    run: RunView | None
    items: list[DecisionRow]
    total: int
    limit: int
    offset: int


def _runs_in_scope(principal: Principal) -> Select[Any]:
    r, d = tables.decision_runs, tables.phase_decisions
    has_rows = exists(select(literal(1)).select_from(d).where(d.c.run_id == r.c.run_id, decision_scope(principal)))
    return select(r).where(has_rows).order_by(r.c.run_id.desc())


def _utc(value: datetime) -> datetime:
    """Stored times are UTC; SQLite hands them back without a zone."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _run_view(r: Any) -> RunView:
    created = _utc(r.created_at)
    return RunView(int(r.run_id), r.as_of, created, r.actor, int(r.pregnancies), (r.ruleset_versions or "").split())


def _run(connection: Connection, principal: Principal, run_id: int | None) -> RunView | None:
    """The run asked for (if it decided anything in scope), or the newest such run."""
    query = _runs_in_scope(principal)
    if run_id is not None:
        query = query.where(tables.decision_runs.c.run_id == run_id)
    row = connection.execute(query.limit(1)).first()
    if row is None and run_id is not None:
        raise NotFoundError("decision run", str(run_id))
    return _run_view(row) if row else None


def list_runs(db: Database, principal: Principal, *, paging: Paging = Paging()) -> Page[RunView]:
    require(principal, Action.READ_DECISIONS)
    with db.unit_of_work() as connection:
        rows, total = _page(connection, _runs_in_scope(principal), paging)
    return Page([_run_view(r) for r in rows], total, paging.limit, paging.offset)


def _decision_row(r: Any) -> DecisionRow:
    return DecisionRow(
        int(r.run_id),
        r.pregnancy_id,
        r.phase,
        r.outcome,
        r.reasons.split(),
        r.ruleset_version,
        r.contract_id,
        r.igo_id,
        r.uzovi,
    )


def list_decisions(
    db: Database,
    principal: Principal,
    *,
    run_id: int | None = None,
    phase: str | None = None,
    outcome: str | None = None,
    reason: str | None = None,
    igo_id: str | None = None,
    uzovi: str | None = None,
    paging: Paging = Paging(),
) -> DecisionPage:
    """Phase decisions of one run (default: the newest run with decisions in scope), in scope and filtered."""
    require(principal, Action.READ_DECISIONS)
    d = tables.phase_decisions
    with db.unit_of_work() as connection:
        run = _run(connection, principal, run_id)
        if run is None:
            return DecisionPage(None, [], 0, paging.limit, paging.offset)
        query = select(d).where(d.c.run_id == run.run_id, decision_scope(principal))
        for column, value in ((d.c.phase, phase), (d.c.outcome, outcome), (d.c.igo_id, igo_id), (d.c.uzovi, uzovi)):
            if value is not None:
                query = query.where(column == value)
        if reason is not None:
            query = query.where((literal(" ") + d.c.reasons + literal(" ")).contains(f" {reason} ", autoescape=True))
        rows, total = _page(connection, query.order_by(d.c.pregnancy_id, d.c.phase), paging)
    return DecisionPage(run, [_decision_row(r) for r in rows], total, paging.limit, paging.offset)


@dataclass(frozen=True, slots=True)
class PregnancyDecisions:
    pregnancy_id: str
    latest: list[DecisionRow]
    history: list[DecisionRow]  # every stored decision of the pregnancy, newest run first


def pregnancy_decisions(db: Database, principal: Principal, pregnancy_id: str) -> PregnancyDecisions:
    """Every stored decision of one pregnancy in scope, and the latest one per phase."""
    require(principal, Action.READ_DECISIONS)
    p, d = tables.pregnancies, tables.phase_decisions
    with db.unit_of_work() as connection:
        found = connection.execute(
            select(p.c.pregnancy_id).where(p.c.pregnancy_id == pregnancy_id, pregnancy_scope(principal))
        ).first()
        if found is None:
            raise NotFoundError("pregnancy", pregnancy_id)
        rows = connection.execute(
            select(d).where(d.c.pregnancy_id == pregnancy_id).order_by(d.c.run_id.desc(), d.c.phase)
        ).all()
    history = [_decision_row(r) for r in rows]
    latest: dict[str, DecisionRow] = {}
    for row in history:
        latest.setdefault(row.phase, row)
    order = {phase.value: i for i, phase in enumerate(PHASES)}
    return PregnancyDecisions(pregnancy_id, sorted(latest.values(), key=lambda r: order.get(r.phase, 9)), history)


@dataclass(frozen=True, slots=True)
class OutcomeCount:
    igo_id: str
    phase: str
    outcome: str
    pregnancies: int | None  # None: suppressed (fewer than SMALL_NUMBER)


@dataclass(frozen=True, slots=True)
class ClaimTotal:
    igo_id: str
    kind: str
    lines: int | None
    amount_cents: int | None  # None: suppressed


@dataclass(frozen=True, slots=True)
class DecisionSummary:
    run: RunView | None
    outcomes: list[OutcomeCount]
    claims: list[ClaimTotal]
    suppressed_below: int | None  # counts under this are withheld (analysts), else None
    igo_names: dict[str, str] = field(default_factory=dict)


def decision_summary(db: Database, principal: Principal, *, run_id: int | None = None) -> DecisionSummary:
    """Counts per IGO × phase × outcome and claim totals per IGO × kind, in scope: of the run ``run_id``, or
    without it of the *current* decisions (each pregnancy and phase by the newest run that decided it; ``run``
    is then the newest run, for reference). Runs may cover a few pregnancies (a re-decision), so "the newest
    run" alone would count only those.

    Analysts get every IGO, insurers their own insured; for both, counts below the minimum cell size are
    withheld (``services.access.small_number_threshold``). Others get their own scope in full.
    """
    require(principal, Action.READ_AGGREGATES)
    d, c = tables.phase_decisions, tables.claim_lines
    threshold = small_number_threshold(principal)
    # Analysts see no claim line, only these totals over every line of the run.
    claims_in_scope = true() if principal.role is Role.ANALYST else claim_scope(principal)

    def keep(n: int) -> int | None:
        return None if threshold is not None and n < threshold else n

    with db.unit_of_work() as connection:
        run = _run(connection, principal, run_id)
        if run is None:
            return DecisionSummary(None, [], [], threshold)
        if run_id is not None:
            outcome_query = select(d.c.igo_id, d.c.phase, d.c.outcome, func.count()).where(
                d.c.run_id == run.run_id, decision_scope(principal)
            )
            claim_query = (
                select(d.c.igo_id, c.c.kind, func.count(), func.sum(c.c.amount_cents))
                .select_from(c)
                .join(d, and_(d.c.run_id == c.c.run_id, d.c.pregnancy_id == c.c.pregnancy_id, d.c.phase == c.c.phase))
                .where(c.c.run_id == run.run_id, decision_scope(principal), claims_in_scope)
            )
        else:
            latest = latest_decisions(true() if principal.role is Role.ANALYST else pregnancy_scope(principal))
            outcome_query = (
                select(d.c.igo_id, d.c.phase, d.c.outcome, func.count())
                .select_from(latest)
                .join(d, decision_of(latest))
            )
            claim_query = (
                select(d.c.igo_id, c.c.kind, func.count(), func.sum(c.c.amount_cents))
                .select_from(latest)
                .join(d, decision_of(latest))
                .join(c, claim_lines_of(latest))
                .where(claims_in_scope)
            )
        outcome_rows = connection.execute(
            outcome_query.group_by(d.c.igo_id, d.c.phase, d.c.outcome).order_by(d.c.igo_id, d.c.phase, d.c.outcome)
        ).all()
        claim_rows = connection.execute(claim_query.group_by(d.c.igo_id, c.c.kind).order_by(d.c.igo_id, c.c.kind)).all()
        names = dict(connection.execute(select(tables.igos.c.igo_id, tables.igos.c.name)).all())
    outcomes = [OutcomeCount(igo, phase, outcome, keep(int(n))) for igo, phase, outcome, n in outcome_rows]
    claims = []
    for igo, kind, n, amount in claim_rows:
        shown = keep(int(n))
        claims.append(ClaimTotal(igo, kind, shown, int(amount or 0) if shown is not None else None))
    seen = {o.igo_id for o in outcomes}
    # The run is shown without its actor to analysts (a user name is not an aggregate).
    if principal.role is Role.ANALYST:
        run = RunView(run.run_id, run.as_of, run.created_at, "", run.pregnancies, run.ruleset_versions)
    if threshold is not None:  # how many pregnancies a run decided is a count too
        run = replace(run, pregnancies=keep(run.pregnancies or 0))
    return DecisionSummary(run, outcomes, claims, threshold, {k: v for k, v in names.items() if k in seen})


# --- audit ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    entity: str
    entity_id: str
    detail: dict[str, Any]
    igo_ids: list[str]


def list_audit(
    db: Database,
    principal: Principal,
    *,
    action: str | None = None,
    entity: str | None = None,
    actor: str | None = None,
    paging: Paging = Paging(),
) -> Page[AuditEntry]:
    """Audit entries in scope, newest first (an IGO's back office: the entries of its IGO)."""
    require(principal, Action.READ_AUDIT)
    log_, s = tables.audit_log, tables.audit_scopes
    query = select(log_).where(audit_scope(principal)).order_by(log_.c.id.desc())
    for column, value in ((log_.c.action, action), (log_.c.entity, entity), (log_.c.actor, actor)):
        if value is not None:
            query = query.where(column == value)
    with db.unit_of_work() as connection:
        rows, total = _page(connection, query, paging)
        ids = [int(r.id) for r in rows]
        scopes: dict[int, list[str]] = defaultdict(list)
        if ids:
            for audit_id, igo in connection.execute(
                select(s.c.audit_id, s.c.igo_id).where(s.c.audit_id.in_(ids)).order_by(s.c.igo_id)
            ):
                scopes[int(audit_id)].append(igo)
    items = [
        AuditEntry(
            int(r.id),
            _utc(r.at),
            r.actor,
            r.action,
            r.entity,
            r.entity_id,
            _detail(r.detail),
            # An IGO's back office sees only its own IGO among the scopes of an entry.
            [i for i in scopes[int(r.id)] if principal.role is Role.SUPERUSER or i == principal.igo_id],
        )
        for r in rows
    ]
    return Page(items, total, paging.limit, paging.offset)


def _detail(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {"text": text}
    return value if isinstance(value, dict) else {"value": value}
