"""Closing a distribution period (issue 5, part 5): book a plan's allocation once, and correct it only forward.

:func:`close_period` runs the chosen plan on the IGO's year and *books* it: the exact plan (every parameter) and
input (every row) as JSON with a SHA-256 fingerprint, every explanation line, and the money per pregnancy and
phase it rested on. A closed period never changes: the service only inserts, the database refuses UPDATE and
DELETE on the booking tables (migration 0004), and closing the same IGO × year twice is refused.

**The money of a period** (:func:`period_money`), per pregnancy and phase: the integral claim lines the IGO
claimed for it (declaration date in the year), each counted at what the insurer awarded (signed: a credit
counts negative, a rejection zero) or, while unanswered, at what was claimed; a phase not claimed yet counts at
its latest decided integral amount. Claims are the money, once they exist; until then the decision is.

**Adjustments.** Money for a closed period can still change: a line rejected or credited after closing, a phase
decided again. Closing a later year first looks at every earlier closed period of the IGO: if its money per
pregnancy and phase differs from what its bookings rested on, the earlier period's *own plan* runs again on its
*own stored input* with the corrected money, and the difference with everything booked for it so far (per
recipient, step and phase) is booked in the new period as ``adjustment`` lines naming the earlier period and the
cause. Both runs sum exactly to their money, so the adjustments sum exactly to the money difference; rounding
follows the models' one rule. The earlier period's rows are never touched. See ``docs/statements.md``.

This module must not render statements (``services.statements``) and never updates or deletes a booked row.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, false, insert, or_, select, true

from integraal.claims.lifecycle import ClaimState
from integraal.distribution import (
    IGO,
    ActivityCount,
    Allocation,
    Corridor,
    DistributionInput,
    DistributionPlan,
    ExplanationLine,
    InvalidInputError,
    Member,
    ParameterError,
    Parameters,
    PregnancyRow,
    QualityScore,
    Receipt,
    ShadowClaim,
    StepKind,
    TransitionYear,
    get_model,
    plan_from_mapping,
    run_plan,
    run_transition,
)
from integraal.distribution.inputs import ClientProfile
from integraal.distribution.models.common import PHASE_EN, PHASE_NL
from integraal.domain.money import format_euros
from integraal.domain.phase import PHASES, Phase
from integraal.domain.provider import Discipline
from integraal.rules.decision import Outcome
from integraal.services import audit
from integraal.services.access import Action, NotFoundError, Principal, Role, require
from integraal.services.distribution import TransitionInfo, build_plan, plan_presets
from integraal.services.distribution_input import distribution_input
from integraal.services.latest import claim_lines_of, latest_decisions
from integraal.store import tables
from integraal.store.database import Database

FORMAT_VERSION = 1
"""Layout of ``plan_json`` and ``input_json``; a reader of old bookings checks it."""

ALLOCATION = "allocation"
ADJUSTMENT = "adjustment"


class PeriodError(ValueError):
    """Closing cannot proceed; the message says why, and nothing was changed."""


@dataclass(frozen=True, slots=True)
class Period:
    """A closed period: what was booked, on which plan and input, by whom and when."""

    period_id: str
    igo_id: str
    year: int
    status: str
    plan_key: str
    plan_name: str
    received_cents: int  # the year's own money, divided by the allocation
    adjustment_cents: int  # corrections of earlier periods booked in this one
    input_fingerprint: str
    closed_at: datetime
    actor: str

    @property
    def total_cents(self) -> int:
        return self.received_cents + self.adjustment_cents


@dataclass(frozen=True, slots=True)
class BookedLine:
    """One booked line. ``kind``: ``allocation`` (this period's plan) or ``adjustment`` (of ``adjusts_period_id``)."""

    period_id: str
    line_no: int
    kind: str
    recipient: str  # a member's AGB, or IGO
    step: str
    model: str
    phase: str | None  # the phase a main-model line divides; None: the whole period (or a top-slice)
    basis: str
    amount_cents: int
    text_nl: str
    text_en: str
    adjusts_period_id: str | None = None
    source: str | None = None


@dataclass(frozen=True, slots=True)
class ClosedPeriod:
    period: Period
    lines: tuple[BookedLine, ...]
    adjusted_periods: tuple[str, ...] = ()  # earlier periods corrected by this closing

    def amounts(self) -> dict[str, int]:
        """Booked amount per recipient (allocation and adjustments), members in AGB order, the IGO last."""
        totals: dict[str, int] = defaultdict(int)
        for line in self.lines:
            totals[line.recipient] += line.amount_cents
        return {r: totals[r] for r in sorted(totals, key=lambda r: (r == IGO, r))}


@dataclass(frozen=True, slots=True)
class Money:
    """The money of one pregnancy and phase in a period, and where it comes from."""

    amount_cents: int
    cause: str  # decided, claimed, rejected, credited, reduced
    note: str  # the claim lines (id, state, return codes), or "decided, not claimed yet"


def period_id_for(igo_id: str, year: int) -> str:
    return f"{igo_id}-{year}"


# --- the money of a period ----------------------------------------------------------------------------------

_PENDING = (ClaimState.READY.value, ClaimState.SENT.value)


def _item_value(r: Any) -> int:
    """What a claim item brings in: the insurer's award (signed) once answered; the claim while it is pending."""
    if r.awarded_cents is not None:
        return int(r.awarded_cents)
    if r.state in _PENDING:
        return -int(r.amount_cents) if r.debit_credit == "C" else int(r.amount_cents)
    return 0  # a draft claims nothing


def period_money(connection: Connection, igo_id: str, year: int) -> dict[tuple[str, Phase], Money]:
    """The integral money of ``igo_id`` for ``year`` per (pregnancy, phase), as the module docstring defines it."""
    start, end = date(year, 1, 1), date(year, 12, 31)
    p, c = tables.pregnancies, tables.claim_lines
    latest = latest_decisions(p.c.igo_id == igo_id)
    money: dict[tuple[str, Phase], Money] = {}
    decided: dict[tuple[str, Phase], int] = defaultdict(int)
    for pregnancy_id, phase, amount in connection.execute(
        select(c.c.pregnancy_id, c.c.phase, c.c.amount_cents)
        .select_from(latest)
        .join(c, claim_lines_of(latest))
        .where(c.c.kind == "integral", c.c.declaration_date >= start, c.c.declaration_date <= end)
    ):
        decided[(pregnancy_id, Phase(phase))] += int(amount)
    for key, amount in decided.items():
        money[key] = Money(amount, "decided", "decided, not claimed yet")

    i, b = tables.claim_items, tables.claim_batches
    claimed: dict[tuple[str, Phase], list[Any]] = defaultdict(list)
    for r in connection.execute(
        select(
            i.c.line_id,
            i.c.pregnancy_id,
            i.c.phase,
            i.c.debit_credit,
            i.c.amount_cents,
            i.c.awarded_cents,
            i.c.state,
            i.c.return_codes,
        )
        .join(b, b.c.batch_id == i.c.batch_id)
        .join(c, and_(c.c.run_id == i.c.run_id, c.c.line_no == i.c.decision_line_no))
        .where(
            b.c.igo_id == igo_id,
            i.c.kind == "integral",
            c.c.declaration_date >= start,
            c.c.declaration_date <= end,
        )
        .order_by(i.c.line_id)
    ):
        claimed[(r.pregnancy_id, Phase(r.phase))].append(r)
    for key, items in claimed.items():
        states = {r.state for r in items}
        if ClaimState.REJECTED.value in states:
            cause = "rejected"
        elif any(r.debit_credit == "C" for r in items):
            cause = "credited"
        elif ClaimState.PARTIALLY_ACCEPTED.value in states:
            cause = "reduced"
        else:
            cause = "claimed"
        note = ", ".join(
            f"{r.line_id} {r.debit_credit} {r.state}" + (f" {r.return_codes}" if r.return_codes else "") for r in items
        )
        money[key] = Money(sum(_item_value(r) for r in items), cause, note)
    return dict(sorted(money.items(), key=lambda kv: (kv[0][0], PHASES.index(kv[0][1]))))


def receipts_from_money(money: Mapping[tuple[str, Phase], Money]) -> tuple[Receipt, ...]:
    return tuple(Receipt(phase, m.amount_cents, pregnancy) for (pregnancy, phase), m in money.items() if m.amount_cents)


# --- plan and input as JSON (what makes a booking reproducible) --------------------------------------------


def _parameter_values(params: Parameters) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for f in dataclasses.fields(params):
        value = getattr(params, f.name)
        if isinstance(value, tuple):  # a table: sorted (key, Decimal) pairs
            values[f.name] = {str(k): str(v) for k, v in value}
        elif isinstance(value, Decimal):
            values[f.name] = str(value)
        else:
            values[f.name] = value
    return values


def plan_to_json(plan: DistributionPlan, key: str) -> str:
    """The plan with every parameter spelled out (defaults filled in), readable by :func:`plan_from_json`."""
    steps = []
    for step in plan.steps:
        model = get_model(step.model)
        params = step.parameters if step.parameters is not None else model.default_parameters()
        steps.append({"model": step.model, "label": step.label, "parameters": _parameter_values(params)})
    document = {"format_version": FORMAT_VERSION, "key": key, "name": plan.name, "year": plan.year, "steps": steps}
    return json.dumps(document, sort_keys=True, ensure_ascii=False)


def plan_from_json(text: str) -> DistributionPlan:
    """The plan of a stored recipe; for a transition year the new plan (its steps explain the booking)."""
    document = json.loads(text)
    if "transition" in document:
        document = document["transition"]["new"]
    return plan_from_mapping(int(document["year"]), document["steps"], str(document["name"]))


def recipe_to_json(key: str, year: int) -> str:
    """What a booking re-runs: a preset plan with every parameter spelled out, or a transition year (the
    current and the new plan, alpha and the corridor), so adjustments and checks give the same lines."""
    current, presets = plan_presets()
    info = presets[key]
    if not isinstance(info, TransitionInfo):
        return plan_to_json(build_plan(info, year), key)
    old, new = presets[current], presets[info.to]
    document = {
        "transition": {
            "key": key,
            "name": info.name_nl,
            "old": json.loads(plan_to_json(build_plan(old, year), current)),
            "new": json.loads(plan_to_json(build_plan(new, year), info.to)),
            "alpha": str(info.alpha),
            "max_loss_pct": None if info.max_loss_pct is None else str(info.max_loss_pct),
            "max_gain_pct": None if info.max_gain_pct is None else str(info.max_gain_pct),
        }
    }
    return json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def allocate_from_json(text: str, data: DistributionInput) -> Allocation:
    """Run a stored recipe (plan or transition year) on ``data``."""
    document = json.loads(text)
    if "transition" not in document:
        return run_plan(plan_from_json(text), data)
    t = document["transition"]
    old = plan_from_mapping(int(t["old"]["year"]), t["old"]["steps"], str(t["old"]["name"]))
    new = plan_from_mapping(int(t["new"]["year"]), t["new"]["steps"], str(t["new"]["name"]))
    loss, gain = t["max_loss_pct"], t["max_gain_pct"]
    corridor = Corridor(Decimal(loss), Decimal(gain) if gain is not None else None) if loss is not None else None
    return run_transition(old, new, data, TransitionYear(old.year, Decimal(t["alpha"]), corridor)).allocation


def _rows(rows: Iterable[list[Any]]) -> list[list[Any]]:
    return sorted(rows, key=lambda row: json.dumps(row, sort_keys=True))


def input_to_json(data: DistributionInput) -> str:
    """Every row of the input, each table sorted, so equal inputs give equal text (and fingerprints)."""
    document = {
        "format_version": FORMAT_VERSION,
        "year": data.year,
        "members": _rows([m.agb, m.discipline.value, m.name, str(m.availability_units)] for m in data.members),
        "receipts": _rows([r.phase.value, r.amount_cents, r.pregnancy_id] for r in data.receipts),
        "pregnancies": _rows(
            [p.pregnancy_id, p.profile.value, sorted([ph.value, o.value] for ph, o in p.outcomes)]
            for p in data.pregnancies
        ),
        "shadow_claims": _rows([s.pregnancy_id, s.phase.value, s.agb, s.amount_cents] for s in data.shadow_claims),
        "activities": _rows([a.agb, a.activity_type, str(a.count), a.pregnancy_id] for a in data.activities),
        "quality": _rows([q.agb, q.indicator, str(q.score)] for q in data.quality),
    }
    return json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def input_from_json(text: str) -> DistributionInput:
    d = json.loads(text)
    if d.get("format_version") != FORMAT_VERSION:
        raise PeriodError(f"stored input has format version {d.get('format_version')}, expected {FORMAT_VERSION}")
    return DistributionInput(
        year=int(d["year"]),
        members=tuple(Member(agb, Discipline(disc), name, Decimal(units)) for agb, disc, name, units in d["members"]),
        receipts=tuple(Receipt(Phase(phase), int(amount), preg) for phase, amount, preg in d["receipts"]),
        pregnancies=tuple(
            PregnancyRow(pid, ClientProfile(profile), tuple((Phase(ph), Outcome(o)) for ph, o in outcomes))
            for pid, profile, outcomes in d["pregnancies"]
        ),
        shadow_claims=tuple(ShadowClaim(preg, Phase(ph), agb, int(a)) for preg, ph, agb, a in d["shadow_claims"]),
        activities=tuple(ActivityCount(agb, t, Decimal(n), preg) for agb, t, n, preg in d["activities"]),
        quality=tuple(QualityScore(agb, ind, Decimal(s)) for agb, ind, s in d["quality"]),
    )


def fingerprint(input_json: str) -> str:
    return hashlib.sha256(input_json.encode("utf-8")).hexdigest()


# --- explanation lines as booked lines ------------------------------------------------------------------------

_PHASE_WORD = re.compile(r"\b(prenatal|natal|postnatal)\b")


TRANSITION_MODELS = frozenset({"transition", "corridor"})
"""The lines of a transition year: the blend of the current and new plan, and the corridor's corrections."""


def line_phase(line: ExplanationLine) -> str | None:
    """The phase a main-model line divides, read from its basis (the models write the phase's English name
    there, e.g. ``shadow 1/2 cents (prenatal phase)``); None for top-slices and whole-period lines."""
    if line.model in TRANSITION_MODELS or get_model(line.model).kind is not StepKind.MAIN:
        return None  # a transition's blend and corridor lines cover the whole period
    found = _PHASE_WORD.search(line.basis)
    return found.group(1) if found else None


def _line_key(recipient: str, step: str, model: str, phase: str | None) -> tuple[str, str, str, str]:
    return (recipient, step, model, phase or "")


# --- closing ------------------------------------------------------------------------------------------------


def _check_igo(principal: Principal, igo_id: str) -> None:
    if principal.role is not Role.SUPERUSER and principal.igo_id != igo_id:
        raise NotFoundError("igo", igo_id)


def _existing(connection: Connection, period_id: str) -> Any:
    dp = tables.distribution_periods
    return connection.execute(select(dp.c.closed_at, dp.c.actor).where(dp.c.period_id == period_id)).first()


def _refuse_if_closed(connection: Connection, period_id: str) -> None:
    row = _existing(connection, period_id)
    if row is not None:
        raise PeriodError(
            f"{period_id} is already closed (at {row.closed_at:%Y-%m-%d %H:%M}, by {row.actor}); a closed period "
            "never changes: later corrections are booked as adjustments when the next period is closed"
        )


def close_period(
    db: Database,
    principal: Principal,
    igo_id: str,
    year: int,
    plan_key: str,
    *,
    at: datetime | None = None,
) -> ClosedPeriod:
    """Close ``igo_id``'s ``year`` with preset plan ``plan_key``: book its allocation and the adjustments of
    earlier closed periods whose money changed since (module docstring). Everything in one transaction."""
    require(principal, Action.CLOSE_PERIOD)
    _check_igo(principal, igo_id)
    _, presets = plan_presets()
    if plan_key not in presets:
        raise PeriodError(f"unknown plan {plan_key!r}; known: {', '.join(presets)}")
    at = (at or datetime.now(UTC)).astimezone(UTC)
    period_id = period_id_for(igo_id, year)
    with db.unit_of_work() as connection:
        _refuse_if_closed(connection, period_id)  # before the input is read: that is the slow part
    data = distribution_input(db, principal, igo_id, year)
    recipe = recipe_to_json(plan_key, year)

    with db.unit_of_work(lock="claims") as connection:
        _refuse_if_closed(connection, period_id)
        money = period_money(connection, igo_id, year)
        data = data.replace(receipts=receipts_from_money(money))
        try:
            allocation = allocate_from_json(recipe, data)
        except (InvalidInputError, ParameterError) as error:
            raise PeriodError(f"plan {plan_key!r} cannot run on {period_id}: {error}") from error
        lines = [
            _line_row(
                period_id,
                n,
                ALLOCATION,
                line.recipient,
                line.step,
                line.model,
                line_phase(line),
                line.basis,
                line.amount_cents,
                line.text_nl,
                line.text_en,
            )
            for n, line in enumerate(allocation.lines, start=1)
        ]
        adjustments, receipt_changes, adjusted = _adjustments(connection, igo_id, year, period_id, len(lines) + 1)
        lines += adjustments
        input_json = input_to_json(data)
        row = {
            "period_id": period_id,
            "igo_id": igo_id,
            "year": year,
            "status": "closed",
            "plan_key": plan_key,
            "plan_name": presets[plan_key].name_nl,
            "plan_json": recipe,
            "input_json": input_json,
            "input_fingerprint": fingerprint(input_json),
            "format_version": FORMAT_VERSION,
            "received_cents": allocation.distributed_cents,
            "adjustment_cents": sum(line["amount_cents"] for line in adjustments),
            "closed_at": at,
            "actor": principal.username,
        }
        connection.execute(insert(tables.distribution_periods).values(**row))
        if lines:
            connection.execute(insert(tables.booked_lines), lines)
        receipts = [
            {
                "period_id": period_id,
                "booked_in": period_id,
                "pregnancy_id": pregnancy,
                "phase": phase.value,
                "amount_cents": m.amount_cents,
                "note": m.note,
            }
            for (pregnancy, phase), m in money.items()
        ]
        if receipts + receipt_changes:
            connection.execute(insert(tables.booked_receipts), receipts + receipt_changes)
        audit.record(
            connection,
            principal.username,
            "close_period",
            "distribution_period",
            period_id,
            igo_ids=[igo_id],
            year=year,
            plan_key=plan_key,
            received_cents=row["received_cents"],
            adjustment_cents=row["adjustment_cents"],
            lines=len(lines),
            adjusted_periods=adjusted,
            input_fingerprint=row["input_fingerprint"],
        )
    period = period_from_row(row)
    return ClosedPeriod(period, tuple(booked_line(line) for line in lines), tuple(adjusted))


def _line_row(
    period_id: str,
    line_no: int,
    kind: str,
    recipient: str,
    step: str,
    model: str,
    phase: str | None,
    basis: str,
    amount_cents: int,
    text_nl: str,
    text_en: str,
    adjusts_period_id: str | None = None,
    source: str | None = None,
) -> dict[str, Any]:
    return {
        "period_id": period_id,
        "line_no": line_no,
        "kind": kind,
        "recipient": recipient,
        "step": step,
        "model": model,
        "phase": phase,
        "basis": basis,
        "amount_cents": amount_cents,
        "text_nl": text_nl,
        "text_en": text_en,
        "adjusts_period_id": adjusts_period_id,
        "source": source,
    }


_CAUSE = {
    "decided": ("nieuwe of gewijzigde beslissing", "new or changed decision"),
    "claimed": ("gedeclareerd", "claimed"),
    "rejected": ("afgewezen door de zorgverzekeraar", "rejected by the insurer"),
    "credited": ("gecrediteerd", "credited"),
    "reduced": ("lager toegekend", "awarded less"),
    "lapsed": ("niet meer integraal beslist", "no longer decided integral"),
}
_SHOWN_CHANGES = 3
_SOURCE_CHANGES = 20


def _adjustments(
    connection: Connection, igo_id: str, year: int, booked_in: str, first_line_no: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[str]]:
    """Adjustment lines and receipt changes for every earlier closed period of the IGO whose money changed."""
    dp, bl, br = tables.distribution_periods, tables.booked_lines, tables.booked_receipts
    lines: list[dict[str, Any]] = []
    changes_out: list[dict[str, Any]] = []
    adjusted: list[str] = []
    earlier = connection.execute(
        select(dp.c.period_id, dp.c.year, dp.c.plan_json, dp.c.input_json)
        .where(dp.c.igo_id == igo_id, dp.c.year < year)
        .order_by(dp.c.year)
    ).all()
    for period in earlier:
        money = period_money(connection, igo_id, period.year)
        accounted: dict[tuple[str, Phase], int] = defaultdict(int)
        for pregnancy, phase, amount in connection.execute(
            select(br.c.pregnancy_id, br.c.phase, br.c.amount_cents).where(br.c.period_id == period.period_id)
        ):
            accounted[(pregnancy, Phase(phase))] += int(amount)
        changes: list[tuple[tuple[str, Phase], int, int, Money]] = []  # (key, before, after, money now)
        for key in sorted(set(money) | set(accounted), key=lambda k: (k[0], PHASES.index(k[1]))):
            now = money.get(key, Money(0, "lapsed", "no integral decision or claim any more"))
            if now.amount_cents != accounted.get(key, 0):
                changes.append((key, accounted.get(key, 0), now.amount_cents, now))
        if not changes:
            continue
        corrected = input_from_json(period.input_json).replace(receipts=receipts_from_money(money))
        try:
            allocation = allocate_from_json(period.plan_json, corrected)
        except (InvalidInputError, ParameterError) as error:
            raise PeriodError(f"{period.period_id} cannot be re-run on its corrected money: {error}") from error
        target: dict[tuple[str, str, str, str], int] = defaultdict(int)
        for line in allocation.lines:
            target[_line_key(line.recipient, line.step, line.model, line_phase(line))] += line.amount_cents
        booked: dict[tuple[str, str, str, str], int] = defaultdict(int)
        for r in connection.execute(
            select(bl.c.recipient, bl.c.step, bl.c.model, bl.c.phase, bl.c.amount_cents).where(
                or_(
                    and_(bl.c.period_id == period.period_id, bl.c.kind == ALLOCATION),
                    bl.c.adjusts_period_id == period.period_id,
                )
            )
        ):
            booked[_line_key(r.recipient, r.step, r.model, r.phase)] += int(r.amount_cents)
        difference = sum(after - before for _, before, after, _ in changes)
        deltas = {k: target[k] - booked[k] for k in set(target) | set(booked) if target[k] != booked[k]}
        if sum(deltas.values()) != difference:  # both runs are exact, so this is a broken booking
            raise AssertionError(f"adjustments of {period.period_id} do not add up to {difference}")

        described = [
            (
                f"{pregnancy} {PHASE_NL[phase]}: {format_euros(before, 'nl')} → {format_euros(after, 'nl')} "
                f"({_CAUSE[now.cause][0]})",
                f"{pregnancy} {PHASE_EN[phase]}: {format_euros(before, 'en')} → {format_euros(after, 'en')} "
                f"({_CAUSE[now.cause][1]})",
            )
            for (pregnancy, phase), before, after, now in changes
        ]
        more = len(changes) - _SHOWN_CHANGES
        cause_nl = "; ".join(nl for nl, _ in described[:_SHOWN_CHANGES]) + (f"; en {more} andere" if more > 0 else "")
        cause_en = "; ".join(en for _, en in described[:_SHOWN_CHANGES]) + (f"; and {more} more" if more > 0 else "")
        source = f"{period.period_id}: " + "; ".join(
            f"{pregnancy}/{phase.value} {before}->{after} cents [{now.note}]"
            for (pregnancy, phase), before, after, now in changes[:_SOURCE_CHANGES]
        )
        if len(changes) > _SOURCE_CHANGES:
            source += f"; +{len(changes) - _SOURCE_CHANGES} more (booked_receipts)"
        step_order = {step.name: n for n, step in enumerate(plan_from_json(period.plan_json).steps)}
        phase_order = {"prenatal": 0, "natal": 1, "postnatal": 2, "": 3}
        for slot in sorted(deltas, key=lambda k: (k[0] == IGO, k[0], step_order.get(k[1], 99), phase_order[k[3]])):
            recipient, step, model, phase_name = slot
            delta = deltas[slot]
            where_nl = f"{step}, {PHASE_NL[Phase(phase_name)]}" if phase_name else step
            where_en = f"{step}, {PHASE_EN[Phase(phase_name)]}" if phase_name else step
            lines.append(
                _line_row(
                    booked_in,
                    first_line_no + len(lines),
                    ADJUSTMENT,
                    recipient,
                    step,
                    model,
                    phase_name or None,
                    f"adjustment of {period.period_id}: {booked[slot]} -> {target[slot]} cents",
                    delta,
                    f"{format_euros(delta, 'nl')}: correctie over {period.period_id} ({where_nl}); het geld van die "
                    f"periode wijzigde met {format_euros(difference, 'nl')}: {cause_nl}",
                    f"{format_euros(delta, 'en')}: correction of {period.period_id} ({where_en}); that period's "
                    f"money changed by {format_euros(difference, 'en')}: {cause_en}",
                    period.period_id,
                    source,
                )
            )
        changes_out += [
            {
                "period_id": period.period_id,
                "booked_in": booked_in,
                "pregnancy_id": pregnancy,
                "phase": phase.value,
                "amount_cents": after - before,
                "note": f"{_CAUSE[now.cause][1]}: {now.note}",
            }
            for (pregnancy, phase), before, after, now in changes
        ]
        adjusted.append(period.period_id)
    return lines, changes_out, adjusted


# --- reading --------------------------------------------------------------------------------------------------


def _mapping(row: Any) -> Mapping[str, Any]:
    return row if isinstance(row, Mapping) else row._mapping


def period_from_row(row: Any) -> Period:
    m = _mapping(row)
    closed_at: datetime = m["closed_at"]
    if closed_at.tzinfo is None:  # SQLite keeps no offset; closing stores UTC
        closed_at = closed_at.replace(tzinfo=UTC)
    return Period(
        period_id=m["period_id"],
        igo_id=m["igo_id"],
        year=int(m["year"]),
        status=m["status"],
        plan_key=m["plan_key"],
        plan_name=m["plan_name"],
        received_cents=int(m["received_cents"]),
        adjustment_cents=int(m["adjustment_cents"]),
        input_fingerprint=m["input_fingerprint"],
        closed_at=closed_at,
        actor=m["actor"],
    )


def booked_line(row: Any) -> BookedLine:
    m = _mapping(row)
    return BookedLine(
        period_id=m["period_id"],
        line_no=int(m["line_no"]),
        kind=m["kind"],
        recipient=m["recipient"],
        step=m["step"],
        model=m["model"],
        phase=m["phase"],
        basis=m["basis"],
        amount_cents=int(m["amount_cents"]),
        text_nl=m["text_nl"],
        text_en=m["text_en"],
        adjusts_period_id=m["adjusts_period_id"],
        source=m["source"],
    )


def period_scope(principal: Principal) -> ColumnElement[bool]:
    """Closed periods the principal may read: its IGO's; a member: those of the IGOs it is a member of."""
    dp, m = tables.distribution_periods, tables.memberships
    if principal.role is Role.SUPERUSER:
        return true()
    if principal.role in (Role.IGO_ADMIN, Role.IGO_BOARD):
        return dp.c.igo_id == principal.igo_id
    if principal.role is Role.MEMBER and principal.agb:
        return dp.c.igo_id.in_(select(m.c.igo_id).where(m.c.agb == principal.agb))
    return false()


_SUMMARY = [c for c in tables.distribution_periods.c if c.name not in ("plan_json", "input_json")]


def list_periods(db: Database, principal: Principal, igo_id: str | None = None) -> list[Period]:
    """Closed periods in scope (optionally of one IGO), oldest first."""
    require(principal, Action.READ_STATEMENTS)
    dp = tables.distribution_periods
    query = select(*_SUMMARY).where(period_scope(principal)).order_by(dp.c.igo_id, dp.c.year)
    if igo_id is not None:
        query = query.where(dp.c.igo_id == igo_id)
    with db.unit_of_work() as connection:
        return [period_from_row(r) for r in connection.execute(query)]


def get_period(db: Database, principal: Principal, period_id: str) -> Period:
    require(principal, Action.READ_STATEMENTS)
    with db.unit_of_work() as connection:
        return period_from_row(period_row(connection, principal, period_id))


def period_row(connection: Connection, principal: Principal, period_id: str, *columns: Any) -> Any:
    dp = tables.distribution_periods
    row = connection.execute(
        select(*(columns or _SUMMARY)).where(dp.c.period_id == period_id, period_scope(principal))
    ).first()
    if row is None:
        raise NotFoundError("distribution period", period_id)
    return row


def period_lines(
    db: Database, principal: Principal, period_id: str, *, recipient: str | None = None
) -> list[BookedLine]:
    """The booked lines of a period in line order; a member sees only its own lines."""
    require(principal, Action.READ_STATEMENTS)
    if principal.role is Role.MEMBER:
        if recipient not in (None, principal.agb):
            raise NotFoundError("statement", f"{period_id}/{recipient}")
        recipient = principal.agb
    bl = tables.booked_lines
    with db.unit_of_work() as connection:
        period_row(connection, principal, period_id)
        query = select(bl).where(bl.c.period_id == period_id).order_by(bl.c.line_no)
        if recipient is not None:
            query = query.where(bl.c.recipient == recipient)
        return [booked_line(r) for r in connection.execute(query)]


def verify_period(db: Database, principal: Principal, period_id: str) -> list[str]:
    """Re-run the booked plan on the booked input: every difference with the booking, as text (empty: it holds).

    The fingerprint must match the stored input, and the allocation lines must come out identical.
    """
    require(principal, Action.READ_STATEMENTS)
    dp, bl = tables.distribution_periods, tables.booked_lines
    with db.unit_of_work() as connection:
        row = period_row(connection, principal, period_id, dp.c.plan_json, dp.c.input_json, dp.c.input_fingerprint)
        booked = [
            (r.recipient, r.step, r.model, r.basis, int(r.amount_cents), r.text_nl, r.text_en)
            for r in connection.execute(
                select(bl).where(bl.c.period_id == period_id, bl.c.kind == ALLOCATION).order_by(bl.c.line_no)
            )
        ]
    problems = []
    if fingerprint(row.input_json) != row.input_fingerprint:
        problems.append("the stored input does not match its fingerprint")
    rerun = [
        (x.recipient, x.step, x.model, x.basis, x.amount_cents, x.text_nl, x.text_en)
        for x in allocate_from_json(row.plan_json, input_from_json(row.input_json)).lines
    ]
    if rerun != booked:
        problems.append(f"re-running the plan gives {len(rerun)} lines that differ from the {len(booked)} booked")
    return problems


def igo_name(connection: Connection, igo_id: str) -> str:
    return str(connection.execute(select(tables.igos.c.name).where(tables.igos.c.igo_id == igo_id)).scalar() or "")


def members_of(input_json: str) -> dict[str, Member]:
    """The members as booked (from a period's stored input)."""
    return {m.agb: m for m in input_from_json(input_json).members}
