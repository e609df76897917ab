"""Claims to insurers: batches from the bundle decisions, files out, return files in (issue 4).

The use cases of the *berichtenverkeer* (DOMAIN.md §4):

- :func:`build_batches` turns the latest decision of every pregnancy and phase whose declaration date falls in
  the claim period into claim lines, one batch per IGO × insurer. Nothing is claimed twice: a decided line
  that is already claimed (same prestatie, claimant, amount and dates) is left alone; one that *changed*
  since it was booked is corrected with a linked credit and a replacement debit; a rejected line is resent
  only when its data changed (the worklist shows the others).
- :func:`export_batch` writes a batch in a registered format (KZ301-style by default) and marks it sent.
- :func:`apply_return` reads the insurer's return (KZ302-style), matches every line, applies the outcome and
  the next action of its return codes, all in one transaction (a bad file changes nothing; the same file
  twice changes nothing the second time; ``claim_returns`` records each file that answered lines, keyed by its
  SHA-256). Code 0587 on an integral line is a bundle breaker the IGO could not
  see: it is recorded and the pregnancy is decided again, which yields the members' separate claim lines.
- :func:`worklist` groups what needs a person: rejected and reduced lines by return code and next action.

State changes follow ``claims.lifecycle`` and are kept in ``claim_transitions``; every write is audited. The
use cases that write take the ``claims`` lock of ``Database.unit_of_work``, so two runs at the same time (two
builds, the same return file twice) queue instead of interleaving; sent lines and batches are immutable in
the database (migration 0006).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, update

from integraal.claims.batch import ClaimBatch, ClaimBatchLine, DebitCredit, ReturnBatch
from integraal.claims.formats import get_format
from integraal.claims.lifecycle import BOOKED_STATES, TRANSITIONS, ClaimState, IllegalTransitionError
from integraal.claims.returncodes import NextAction, return_code, return_codes
from integraal.services import audit
from integraal.services.access import (
    Action,
    NotFoundError,
    Principal,
    Role,
    pregnancy_scope,
    require,
)
from integraal.services.latest import claim_lines_of, decision_of, latest_decisions
from integraal.store import tables
from integraal.store.bulk import in_values
from integraal.store.database import Database

SYSTEM_VIEW = Principal(None, "members", Role.SUPERUSER)
"""Reads a member's own lines across IGOs (its tenant is its AGB, not an IGO); never used to write."""

BUNDLE_BREAKER_CODE = "0587"
"""Already claimed or paid, also to another provider: on an integral line, a bundle breaker (DOMAIN.md §3)."""

_ACTIVE = (ClaimState.READY, ClaimState.SENT, *BOOKED_STATES)

CLAIM_FORMATS = ("kz301", "fhir-claim", "csv")
"""Formats a claim batch can be sent in."""
RETURN_FORMATS = ("kz302", "fhir-claimresponse", "csv-return")
"""Formats an insurer's return can be read from."""


def _check_format(fmt: str, allowed_formats: tuple[str, ...], what: str) -> None:
    if fmt not in allowed_formats:
        raise ClaimsError(f"{fmt!r} is not a {what} format; use one of {', '.join(allowed_formats)}")


class ClaimsError(ValueError):
    """A claims use case that cannot proceed; the message says why, and nothing was changed."""


@dataclass(frozen=True, slots=True)
class BatchSummary:
    batch_id: str
    igo_id: str
    uzovi: str
    period_start: date
    period_end: date
    lines: int
    credits: int
    total_cents: int
    state: str


@dataclass(slots=True)
class BuildResult:
    batches: list[BatchSummary] = field(default_factory=list)
    already_claimed: int = 0  # decided lines that are claimed as they are
    waiting: int = 0  # changed lines whose earlier claim is not answered yet (sent): corrected after the answer
    unchanged_rejections: int = 0  # decided lines equal to a rejected one: not resent (see the worklist)


@dataclass(slots=True)
class ReturnSummary:
    batch_id: str
    accepted: int = 0
    partially_accepted: int = 0
    rejected: int = 0
    already_applied: int = 0
    awarded_cents: int = 0
    bundle_breakers: list[str] = field(default_factory=list)  # pregnancies decided again after 0587
    rerun_ids: list[int] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class WorkItem:
    line_id: str
    batch_id: str
    pregnancy_id: str
    phase: str
    prestatie_code: str
    claimant_agb: str
    amount_cents: int
    awarded_cents: int | None
    state: str


@dataclass(frozen=True, slots=True)
class WorkGroup:
    """Lines that need the same action for the same reason."""

    return_code: str
    text_nl: str
    text_en: str
    next_action: str
    lines: list[WorkItem]

    @property
    def open_cents(self) -> int:
        return sum(i.amount_cents - (i.awarded_cents or 0) for i in self.lines)


# --- build --------------------------------------------------------------------------------------------------


def _line_key(r: Any) -> tuple[Any, ...]:
    """What makes two claim lines the same claim (the id and the run do not)."""
    return (
        r.kind,
        r.prestatie_code,
        r.claimant_agb,
        int(r.quantity_hundredths),
        int(r.amount_cents),
        r.service_start,
        r.service_end,
    )


def _latest_lines(
    connection: Connection, principal: Principal, start: date, end: date, include_mono: bool
) -> list[Any]:
    """The claim lines of the latest decision of each pregnancy and phase, declared in [start, end]."""
    p, d, c = tables.pregnancies, tables.phase_decisions, tables.claim_lines
    latest = latest_decisions(pregnancy_scope(principal))
    query = (
        select(c, p.c.bsn, p.c.igo_id, d.c.ruleset_version)
        .select_from(latest)
        .join(c, claim_lines_of(latest))
        .join(d, decision_of(latest))
        .join(p, p.c.pregnancy_id == c.c.pregnancy_id)
        # A line of zero euros (a specialist's DBC whose fee is inside the hospital's) is not sent: it claims nothing.
        .where(c.c.declaration_date >= start, c.c.declaration_date <= end, c.c.amount_cents != 0)
        .order_by(c.c.pregnancy_id, c.c.phase, c.c.line_no)
    )
    if not include_mono:
        query = query.where(c.c.kind == "integral")
    return list(connection.execute(query))


def _claimed_items(connection: Connection, pregnancy_ids: Sequence[str]) -> dict[tuple[str, str], list[Any]]:
    """Debit claim items per (pregnancy, phase) of the given pregnancies, in any state."""
    i = tables.claim_items
    found: dict[tuple[str, str], list[Any]] = defaultdict(list)
    ids = sorted(set(pregnancy_ids))
    for chunk in range(0, len(ids), 900):
        for r in connection.execute(
            select(i)
            .where(i.c.pregnancy_id.in_(ids[chunk : chunk + 900]), i.c.debit_credit == "D")
            .order_by(i.c.line_id)
        ):
            found[(r.pregnancy_id, r.phase)].append(r)
    return found


def _next_batch_number(connection: Connection) -> int:
    last = connection.execute(select(func.max(tables.claim_batches.c.batch_id))).scalar()
    return int(last[1:]) + 1 if last else 1


def build_batches(
    db: Database,
    principal: Principal,
    *,
    period_start: date,
    period_end: date,
    include_mono: bool = True,
    creation_date: date | None = None,
    at: datetime | None = None,
) -> BuildResult:
    """Claim batches for the period, one per IGO × insurer, in state ``ready``.

    ``include_mono``: the IGO also claims the members' monodisciplinary lines of fallback phases on their
    behalf (as configured per IGO); without it only integral lines are batched.
    """
    require(principal, Action.MANAGE_CLAIMS)
    if period_end < period_start:
        raise ClaimsError("the claim period ends before it starts")
    at = at or datetime.now(UTC)
    creation_date = creation_date or at.date()
    result = BuildResult()
    with db.unit_of_work(lock="claims") as connection:
        desired = _latest_lines(connection, principal, period_start, period_end, include_mono)
        claimed = _claimed_items(connection, [r.pregnancy_id for r in desired])
        by_phase: dict[tuple[str, str], list[Any]] = defaultdict(list)
        for r in desired:
            by_phase[(r.pregnancy_id, r.phase)].append(r)

        new_lines: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)  # (igo, uzovi) → new items
        closing: list[tuple[str, ClaimState, str]] = []  # (line id, to state, note) for corrected originals
        for key, lines in by_phase.items():
            existing = claimed.get(key, [])
            active = {_line_key(e): e for e in existing if e.state in _ACTIVE}
            rejected = {_line_key(e): e for e in existing if e.state == ClaimState.REJECTED}
            todo = []
            for r in lines:
                k = _line_key(r)
                if k in active:
                    del active[k]
                    result.already_claimed += 1
                elif k in rejected:
                    del rejected[k]  # unchanged since the rejection: not resent, it stays on the worklist
                    result.unchanged_rejections += 1
                else:
                    todo.append(r)
            stale = list(active.values())  # claimed lines the decision no longer supports
            if any(e.state in (ClaimState.READY, ClaimState.SENT) for e in stale):
                result.waiting += 1  # correct the phase once the outstanding line is answered
                continue
            if not todo and not stale:
                continue
            igo_id = lines[0].igo_id
            # Booked lines are credited exactly; rejected ones carried no money and are only replaced.
            replaced = stale + (list(rejected.values()) if todo else [])
            for e in replaced:
                if e.state != ClaimState.REJECTED:
                    new_lines[(igo_id, e.uzovi)].append(_credit_of(e))
                closing.append((e.line_id, ClaimState.CORRECTED, "corrected: the decision changed"))
            originals = [e.line_id for e in replaced]
            for n, r in enumerate(todo):
                new_lines[(igo_id, r.uzovi)].append(_debit_of(r, originals[n] if n < len(originals) else None))

        number = _next_batch_number(connection)
        igo_agb = dict(connection.execute(select(tables.igos.c.igo_id, tables.igos.c.agb)).all())
        for (igo_id, uzovi), items in sorted(new_lines.items()):
            batch_id = f"B{number:07d}"
            number += 1
            for n, item in enumerate(items, start=1):
                item["line_id"] = f"{batch_id}-{n:05d}"
                item["batch_id"] = batch_id
            total = sum(i["amount_cents"] * (-1 if i["debit_credit"] == "C" else 1) for i in items)
            credits = sum(1 for i in items if i["debit_credit"] == "C")
            connection.execute(
                insert(tables.claim_batches).values(
                    batch_id=batch_id,
                    igo_id=igo_id,
                    uzovi=uzovi,
                    sender_agb=igo_agb.get(igo_id, ""),
                    period_start=period_start,
                    period_end=period_end,
                    creation_date=creation_date,
                    created_at=at,
                    actor=principal.username,
                    state="ready",
                    lines=len(items),
                    total_cents=total,
                )
            )
            connection.execute(insert(tables.claim_items), items)
            _record_transitions(
                connection,
                [(i["line_id"], None, ClaimState.READY, f"claimed from decision run {i['run_id']}") for i in items],
                at,
                principal.username,
            )
            audit.record(
                connection,
                principal.username,
                "build_claims",
                "claim_batch",
                batch_id,
                igo_ids=[igo_id],
                uzovi=uzovi,
                lines=len(items),
                credits=credits,
                total_cents=total,
                period=f"{period_start.isoformat()}/{period_end.isoformat()}",
            )
            result.batches.append(
                BatchSummary(batch_id, igo_id, uzovi, period_start, period_end, len(items), credits, total, "ready")
            )
        _move(connection, closing, at, principal.username)
    return result


def _debit_of(r: Any, replaces: str | None) -> dict[str, Any]:
    return {
        "run_id": r.run_id,
        "decision_line_no": r.line_no,
        "debit_credit": "D",
        "pregnancy_id": r.pregnancy_id,
        "phase": r.phase,
        "kind": r.kind,
        "prestatie_code": r.prestatie_code,
        "claimant_agb": r.claimant_agb,
        "uzovi": r.uzovi,
        "bsn": r.bsn,
        "service_start": r.service_start,
        "service_end": r.service_end,
        "quantity_hundredths": int(r.quantity_hundredths),
        "amount_cents": int(r.amount_cents),
        "original_line_id": replaces,
        "ruleset_version": r.ruleset_version,
        "state": ClaimState.READY.value,
        "attempt": 0,
    }


def _credit_of(e: Any) -> dict[str, Any]:
    """The credit that takes back booked line ``e`` exactly (same cents, other direction)."""
    item = {
        name: getattr(e, name)
        for name in (
            "run_id",
            "decision_line_no",
            "pregnancy_id",
            "phase",
            "kind",
            "prestatie_code",
            "claimant_agb",
            "uzovi",
            "bsn",
            "service_start",
            "service_end",
            "quantity_hundredths",
            "amount_cents",
            "ruleset_version",
        )
    }
    return item | {
        "debit_credit": "C",
        "original_line_id": e.line_id,
        "state": ClaimState.READY.value,
        "attempt": e.attempt,
    }


def _record_transitions(
    connection: Connection, steps: Sequence[tuple[str, ClaimState | None, ClaimState, str]], at: datetime, actor: str
) -> None:
    if steps:
        connection.execute(
            insert(tables.claim_transitions),
            [
                {
                    "line_id": line_id,
                    "from_state": before.value if before else None,
                    "to_state": after.value,
                    "at": at,
                    "actor": actor,
                    "note": note,
                }
                for line_id, before, after, note in steps
            ],
        )


def _move(connection: Connection, moves: Sequence[tuple[str, ClaimState, str]], at: datetime, actor: str) -> None:
    """Move lines to new states, each step checked against the lifecycle table; set-based (national batches)."""
    i = tables.claim_items
    current: dict[str, ClaimState] = {}
    ids = [line_id for line_id, _, _ in moves]
    for chunk in range(0, len(ids), 900):
        for line_id, state in connection.execute(
            select(i.c.line_id, i.c.state).where(i.c.line_id.in_(ids[chunk : chunk + 900]))
        ):
            current[line_id] = ClaimState(state)
    targets: dict[ClaimState, list[str]] = defaultdict(list)
    steps = []
    for line_id, to, note in moves:
        state = current[line_id]
        if to not in TRANSITIONS[state]:
            raise IllegalTransitionError(line_id, state, to)
        targets[to].append(line_id)
        steps.append((line_id, state, to, note))
    for to, line_ids in targets.items():
        for chunk in range(0, len(line_ids), 900):
            connection.execute(update(i).where(i.c.line_id.in_(line_ids[chunk : chunk + 900])).values(state=to.value))
    _record_transitions(connection, steps, at, actor)


def resubmit(
    db: Database, principal: Principal, line_ids: Sequence[str], *, at: datetime | None = None
) -> list[BatchSummary]:
    """Send rejected lines again, unchanged (after the cause was fixed elsewhere, e.g. the insurer corrected the
    insurance record): each gets a replacement debit linked to it in a new batch, and is closed as corrected."""
    require(principal, Action.MANAGE_CLAIMS)
    at = at or datetime.now(UTC)
    i, b = tables.claim_items, tables.claim_batches
    summaries = []
    with db.unit_of_work(lock="claims") as connection:
        rows = list(
            connection.execute(
                select(i, b.c.igo_id, b.c.sender_agb, b.c.period_start, b.c.period_end)
                .join(b, b.c.batch_id == i.c.batch_id)
                .where(in_values(i.c.line_id, line_ids), _batch_scope(principal))
                .order_by(i.c.line_id)
            )
        )
        found = {r.line_id for r in rows}
        missing = [line_id for line_id in line_ids if line_id not in found]
        if missing:
            raise NotFoundError("claim line", missing[0])
        not_rejected = [r.line_id for r in rows if r.state != ClaimState.REJECTED]
        if not_rejected:
            raise ClaimsError(f"only rejected lines can be sent again; not rejected: {', '.join(not_rejected[:5])}")
        groups: dict[tuple[str, str], list[Any]] = defaultdict(list)
        for r in rows:
            groups[(r.igo_id, r.uzovi)].append(r)
        number = _next_batch_number(connection)
        for (igo_id, uzovi), group in sorted(groups.items()):
            batch_id = f"B{number:07d}"
            number += 1
            items = []
            for n, r in enumerate(group, start=1):
                copy = _credit_of(r) | {"debit_credit": "D", "original_line_id": r.line_id, "attempt": r.attempt + 1}
                items.append(copy | {"line_id": f"{batch_id}-{n:05d}", "batch_id": batch_id})
            total = sum(int(r.amount_cents) for r in group)
            start, end = min(r.period_start for r in group), max(r.period_end for r in group)
            connection.execute(
                insert(b).values(
                    batch_id=batch_id,
                    igo_id=igo_id,
                    uzovi=uzovi,
                    sender_agb=group[0].sender_agb,
                    period_start=start,
                    period_end=end,
                    creation_date=at.date(),
                    created_at=at,
                    actor=principal.username,
                    state="ready",
                    lines=len(items),
                    total_cents=total,
                )
            )
            connection.execute(insert(i), items)
            _record_transitions(
                connection,
                [(it["line_id"], None, ClaimState.READY, f"resent: {it['original_line_id']}") for it in items],
                at,
                principal.username,
            )
            _move(
                connection,
                [(r.line_id, ClaimState.CORRECTED, f"resent in {batch_id}") for r in group],
                at,
                principal.username,
            )
            audit.record(
                connection,
                principal.username,
                "resubmit_claims",
                "claim_batch",
                batch_id,
                igo_ids=[igo_id],
                lines=[r.line_id for r in group],
                total_cents=total,
            )
            summaries.append(
                BatchSummary(
                    batch_id,
                    igo_id,
                    uzovi,
                    items[0]["service_start"],
                    items[0]["service_end"],
                    len(items),
                    0,
                    total,
                    "ready",
                )
            )
    return summaries


# --- export ---------------------------------------------------------------------------------------------------


def _batch_row(connection: Connection, principal: Principal, batch_id: str) -> Any:
    b = tables.claim_batches
    row = connection.execute(select(b).where(b.c.batch_id == batch_id)).first()
    if row is None or not _may_see_batch(principal, row):
        raise NotFoundError("claim batch", batch_id)
    return row


def _may_see_batch(principal: Principal, row: Any) -> bool:
    if principal.role is Role.SUPERUSER:
        return True
    if principal.role in (Role.IGO_ADMIN, Role.IGO_BOARD):
        return bool(row.igo_id == principal.igo_id)
    if principal.role is Role.INSURER:
        return bool(row.uzovi == principal.uzovi)
    return False


def claim_batch(connection: Connection, row: Any) -> ClaimBatch:
    """The stored batch as the in-memory model the formats write."""
    i = tables.claim_items
    lines = tuple(
        ClaimBatchLine(
            line_id=r.line_id,
            bsn=r.bsn,
            prestatie_code=r.prestatie_code,
            service_start=r.service_start,
            service_end=r.service_end,
            quantity=Decimal(int(r.quantity_hundredths)) / 100,
            amount_cents=int(r.amount_cents),
            debit_credit=DebitCredit(r.debit_credit),
            original_line_id=r.original_line_id,
        )
        for r in connection.execute(select(i).where(i.c.batch_id == row.batch_id).order_by(i.c.bsn, i.c.line_id))
    )
    return ClaimBatch(
        sender_agb=row.sender_agb,
        receiver_uzovi=row.uzovi,
        batch_id=row.batch_id,
        creation_date=row.creation_date,
        period_start=row.period_start,
        period_end=row.period_end,
        lines=lines,
    )


def export_batch(
    db: Database, principal: Principal, batch_id: str, fmt: str = "kz301", *, at: datetime | None = None
) -> bytes:
    """The batch as a file in format ``fmt``; a batch still ``ready`` becomes ``sent`` (its lines too).

    Exporting a sent batch again gives the same lines (a resend), without changing any state.
    """
    require(principal, Action.MANAGE_CLAIMS)
    _check_format(fmt, CLAIM_FORMATS, "claim file")
    at = at or datetime.now(UTC)
    with db.unit_of_work(lock="claims") as connection:
        row = _batch_row(connection, principal, batch_id)
        data = get_format(fmt).write(claim_batch(connection, row))
        if row.state == "ready":
            i = tables.claim_items
            ids = list(connection.execute(select(i.c.line_id).where(i.c.batch_id == batch_id)).scalars())
            _move(
                connection,
                [(line_id, ClaimState.SENT, f"sent in {fmt} file") for line_id in ids],
                at,
                principal.username,
            )
            sha = hashlib.sha256(data).hexdigest()
            connection.execute(
                update(tables.claim_batches)
                .where(tables.claim_batches.c.batch_id == batch_id)
                .values(state="sent", format=fmt, file_sha256=sha, sent_at=at)
            )
            audit.record(
                connection,
                principal.username,
                "send_claims",
                "claim_batch",
                batch_id,
                igo_ids=[row.igo_id],
                format=fmt,
                sha256=sha,
                lines=row.lines,
                total_cents=row.total_cents,
            )
    return data


# --- returns --------------------------------------------------------------------------------------------------


def apply_return(
    db: Database,
    principal: Principal,
    data: bytes,
    fmt: str = "kz302",
    *,
    at: datetime | None = None,
    as_of: date | None = None,
) -> ReturnSummary:
    """Apply the insurer's return file; raises the format's error (naming line and position) on a bad file.

    ``as_of``: the date the pregnancies hit by a bundle breaker (0587) are decided again (default: today).
    """
    require(principal, Action.MANAGE_CLAIMS)
    _check_format(fmt, RETURN_FORMATS, "return file")
    returned: ReturnBatch = get_format(fmt).read(data)
    at = at or datetime.now(UTC)
    summary = ReturnSummary(returned.batch_id)
    breakers: set[str] = set()
    i = tables.claim_items
    with db.unit_of_work(lock="claims") as connection:
        row = _batch_row(connection, principal, returned.batch_id)
        if row.uzovi != returned.receiver_uzovi or row.sender_agb != returned.sender_agb:
            raise ClaimsError(
                f"the return names sender {returned.sender_agb} and insurer {returned.receiver_uzovi}, "
                f"batch {row.batch_id} was sent by {row.sender_agb} to {row.uzovi}"
            )
        items = {r.line_id: r for r in connection.execute(select(i).where(i.c.batch_id == row.batch_id))}
        unknown = [r.line.line_id for r in returned.lines if r.line.line_id not in items]
        if unknown:
            raise ClaimsError(f"return lines not in batch {row.batch_id}: {', '.join(unknown[:5])}")
        known = return_codes()
        for r in returned.lines:
            for code in (*r.insured_return_codes, *r.return_codes):
                if code not in known:
                    raise ClaimsError(f"line {r.line.line_id}: return code {code} is not in the COD954 list")
        moves: list[tuple[str, ClaimState, str]] = []
        outcomes: list[dict[str, Any]] = []
        for r in returned.lines:
            item = items[r.line.line_id]
            if item.state != ClaimState.SENT:
                summary.already_applied += 1
                continue
            outcome = r.outcome()
            codes = [*r.insured_return_codes, *r.return_codes]
            action = next_action_for(codes, outcome)
            outcomes.append(
                {
                    "b_line": item.line_id,
                    "b_awarded": r.awarded_cents,
                    "b_codes": " ".join(codes) or None,
                    "b_action": action,
                }
            )
            moves.append((item.line_id, outcome, f"return {returned.insurer_reference}: {' '.join(codes) or 'ok'}"))
            summary.awarded_cents += r.awarded_cents
            if outcome is ClaimState.ACCEPTED:
                summary.accepted += 1
            elif outcome is ClaimState.PARTIALLY_ACCEPTED:
                summary.partially_accepted += 1
            else:
                summary.rejected += 1
            if BUNDLE_BREAKER_CODE in codes and item.kind == "integral" and item.debit_credit == "D":
                breakers.add(item.pregnancy_id)
                connection.execute(
                    insert(tables.reported_overlaps).values(
                        pregnancy_id=item.pregnancy_id,
                        phase=item.phase,
                        line_id=item.line_id,
                        return_code=BUNDLE_BREAKER_CODE,
                        reported_at=at,
                    )
                )
        if outcomes:
            connection.execute(
                update(i)
                .where(i.c.line_id == bindparam("b_line"))
                .values(
                    awarded_cents=bindparam("b_awarded"),
                    return_codes=bindparam("b_codes"),
                    next_action=bindparam("b_action"),
                ),
                outcomes,
            )
        _move(connection, moves, at, principal.username)
        if moves:
            # The file's identity is unique in the database: the same return is booked once (migration 0006).
            connection.execute(
                insert(tables.claim_returns).values(
                    file_sha256=hashlib.sha256(data).hexdigest(),
                    batch_id=row.batch_id,
                    format=fmt,
                    reference=returned.insurer_reference[:100],
                    lines=len(moves),
                    awarded_cents=summary.awarded_cents,
                    applied_at=at,
                    actor=principal.username,
                )
            )
            connection.execute(
                update(tables.claim_batches)
                .where(tables.claim_batches.c.batch_id == row.batch_id)
                .values(state="returned", returned_at=at, return_reference=returned.insurer_reference[:24])
            )
            audit.record(
                connection,
                principal.username,
                "apply_return",
                "claim_batch",
                row.batch_id,
                igo_ids=[row.igo_id],
                reference=returned.insurer_reference,
                accepted=summary.accepted,
                partially_accepted=summary.partially_accepted,
                rejected=summary.rejected,
                awarded_cents=summary.awarded_cents,
                bundle_breakers=sorted(breakers),
            )
    if breakers:
        # Decided again with the reported overlap: the phase falls back and the members' lines appear.
        from integraal.services.reruns import rerun_decisions

        rerun = rerun_decisions(db, principal, as_of or at.date(), sorted(breakers))
        summary.bundle_breakers = sorted(breakers)
        summary.rerun_ids = rerun.run_ids
    return summary


def next_action_for(codes: Sequence[str], outcome: ClaimState) -> str | None:
    """The action for a line: that of its first return code with one (0587 first: it changes the decision)."""
    if outcome is ClaimState.ACCEPTED:
        return None
    if BUNDLE_BREAKER_CODE in codes:
        return NextAction(return_code(BUNDLE_BREAKER_CODE).next_action).value
    for code in codes:
        action = return_code(code).next_action
        if action is not NextAction.NONE:
            return NextAction(action).value
    return NextAction.FIX_AND_RESEND.value if outcome is ClaimState.REJECTED else NextAction.ASK_MEMBER.value


# --- worklist and status ----------------------------------------------------------------------------------------


def worklist(db: Database, principal: Principal) -> list[WorkGroup]:
    """Rejected and reduced lines in scope, grouped by return code and next action, largest group first."""
    require(principal, Action.READ_CLAIMS)
    i, b = tables.claim_items, tables.claim_batches
    query = (
        select(i)
        .join(b, b.c.batch_id == i.c.batch_id)
        .where(i.c.state.in_([ClaimState.REJECTED.value, ClaimState.PARTIALLY_ACCEPTED.value]), _batch_scope(principal))
        .order_by(i.c.line_id)
    )
    groups: dict[tuple[str, str], list[WorkItem]] = defaultdict(list)
    with db.unit_of_work() as connection:
        for r in connection.execute(query):
            code = (r.return_codes or "").split(" ")[0] or "-"
            groups[(code, r.next_action or "")].append(
                WorkItem(
                    r.line_id,
                    r.batch_id,
                    r.pregnancy_id,
                    r.phase,
                    r.prestatie_code,
                    r.claimant_agb,
                    int(r.amount_cents),
                    int(r.awarded_cents) if r.awarded_cents is not None else None,
                    r.state,
                )
            )
    out = []
    for (code, action), items in groups.items():
        known = return_code(code) if code != "-" else None
        out.append(WorkGroup(code, known.text_nl if known else "", known.text_en if known else "", action, items))
    return sorted(out, key=lambda g: (-len(g.lines), g.return_code))


def _batch_scope(principal: Principal) -> Any:
    b = tables.claim_batches
    if principal.role is Role.SUPERUSER:
        return b.c.batch_id.is_not(None)
    if principal.role in (Role.IGO_ADMIN, Role.IGO_BOARD):
        return b.c.igo_id == principal.igo_id
    if principal.role is Role.INSURER:
        return b.c.uzovi == principal.uzovi
    return b.c.batch_id.is_(None)


def list_batches(db: Database, principal: Principal) -> list[BatchSummary]:
    require(principal, Action.READ_CLAIMS)
    b, i = tables.claim_batches, tables.claim_items
    credits = (
        select(i.c.batch_id, func.count().label("n")).where(i.c.debit_credit == "C").group_by(i.c.batch_id).subquery()
    )
    with db.unit_of_work() as connection:
        rows = connection.execute(
            select(b, func.coalesce(credits.c.n, 0).label("credits"))
            .outerjoin(credits, credits.c.batch_id == b.c.batch_id)
            .where(_batch_scope(principal))
            .order_by(b.c.batch_id)
        ).all()
    return [
        BatchSummary(
            r.batch_id,
            r.igo_id,
            r.uzovi,
            r.period_start,
            r.period_end,
            r.lines,
            int(r.credits),
            int(r.total_cents),
            r.state,
        )
        for r in rows
    ]


# --- members who claim themselves -----------------------------------------------------------------------------


def member_batches(
    db: Database, principal: Principal, agb: str, *, period_start: date, period_end: date
) -> list[ClaimBatch]:
    """The monodisciplinary lines of member ``agb`` (fallback phases) declared in the period, one batch per
    insurer with the member as sender, for members that claim their separate lines themselves. Lines the IGO
    already claimed on the member's behalf are left out, so nothing is claimed by both."""
    if principal.role is Role.MEMBER and principal.agb != agb:
        raise NotFoundError("provider", agb)
    require(principal, Action.READ_CLAIMS if principal.role is not Role.MEMBER else Action.READ_ACTIVITIES)
    scope = principal if principal.role is not Role.MEMBER else SYSTEM_VIEW
    i = tables.claim_items
    with db.unit_of_work() as connection:
        lines = [
            r
            for r in _latest_lines(connection, scope, period_start, period_end, include_mono=True)
            if r.kind == "mono" and r.claimant_agb == agb
        ]
        claimed = {
            (r.run_id, r.decision_line_no)
            for chunk in range(0, len(lines), 900)
            for r in connection.execute(
                select(i.c.run_id, i.c.decision_line_no).where(
                    i.c.pregnancy_id.in_({line.pregnancy_id for line in lines[chunk : chunk + 900]})
                )
            )
        }
    per_insurer: dict[str, list[ClaimBatchLine]] = defaultdict(list)
    for r in lines:
        if (r.run_id, r.line_no) in claimed:
            continue
        per_insurer[r.uzovi].append(
            ClaimBatchLine(
                line_id=f"M{r.run_id:06d}-{r.line_no:08d}",
                bsn=r.bsn,
                prestatie_code=r.prestatie_code,
                service_start=r.service_start,
                service_end=r.service_end,
                quantity=Decimal(int(r.quantity_hundredths)) / 100,
                amount_cents=int(r.amount_cents),
            )
        )
    return [
        ClaimBatch(agb, uzovi, f"{agb}{n:04d}", date.today(), period_start, period_end, tuple(batch))
        for n, (uzovi, batch) in enumerate(sorted(per_insurer.items()), start=1)
    ]
