"""Reconciliation (afletteren): payments received from insurers, matched to the claim lines they pay.

An insurer pays what it awarded, usually in one transfer for many lines and netting credits against debits. A
payment is recorded once (its reference is the key: recording it twice is refused, so money is never counted
twice). Its allocation is either given (a ``PaymentReconciliation`` file names the lines) or matched here:
credits first, then debits in claim order, each in full while the money lasts, the last one partly; what is
left matches no open line and stays visible as unallocated. A line whose awarded amount is paid in full
moves to ``paid``. :func:`open_amounts` shows, per IGO and insurer, what was awarded and is not yet received.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, true

from integraal.claims.formats import get_format
from integraal.claims.lifecycle import ClaimState
from integraal.claims.payment import Payment
from integraal.services import audit
from integraal.services.access import Action, Principal, Role, require
from integraal.services.claims import ClaimsError, _batch_scope, _move
from integraal.store import tables
from integraal.store.database import Database

PAYABLE = (ClaimState.ACCEPTED.value, ClaimState.PARTIALLY_ACCEPTED.value)


@dataclass(frozen=True, slots=True)
class PaymentResult:
    payment_id: str
    igo_id: str
    uzovi: str
    total_cents: int
    allocated_cents: int
    unallocated_cents: int
    lines_paid: int  # now paid in full
    lines_part_paid: int


@dataclass(frozen=True, slots=True)
class OpenAmount:
    """Per IGO and insurer: what was awarded on lines not yet paid in full, what of that arrived, what is open."""

    igo_id: str
    uzovi: str
    lines: int
    awarded_cents: int
    received_cents: int
    unallocated_cents: int  # received on payments that matched no open line

    @property
    def open_cents(self) -> int:
        return self.awarded_cents - self.received_cents


def _open_lines(connection: Connection, igo_id: str, uzovi: str) -> list[Any]:
    """Awarded lines of the IGO at the insurer that are not fully paid, with what they received so far."""
    i, b, a = tables.claim_items, tables.claim_batches, tables.payment_allocations
    received = select(a.c.line_id, func.sum(a.c.amount_cents).label("received")).group_by(a.c.line_id).subquery()
    rows = connection.execute(
        select(i.c.line_id, i.c.state, i.c.awarded_cents, func.coalesce(received.c.received, 0).label("received"))
        .join(b, b.c.batch_id == i.c.batch_id)
        .outerjoin(received, received.c.line_id == i.c.line_id)
        .where(b.c.igo_id == igo_id, i.c.uzovi == uzovi, i.c.state.in_(PAYABLE))
        .order_by(i.c.batch_id, i.c.line_id)
    ).all()
    return [r for r in rows if int(r.awarded_cents) != int(r.received)]


def _match(lines: Sequence[Any], total_cents: int) -> list[tuple[str, int]]:
    """Credits first (they add to what there is to spend), then debits in claim order while the money lasts."""
    credits = [r for r in lines if int(r.awarded_cents) < 0]
    debits = [r for r in lines if int(r.awarded_cents) >= 0]
    left = total_cents
    allocations = []
    for r in credits:
        part = int(r.awarded_cents) - int(r.received)
        allocations.append((r.line_id, part))
        left -= part
    for r in debits:
        if left <= 0:
            break
        part = min(int(r.awarded_cents) - int(r.received), left)
        allocations.append((r.line_id, part))
        left -= part
    if left < 0:  # the credits exceed the payment: match the debits alone, leave the credits open
        return _match(debits, total_cents) if credits else []
    return allocations


def record_payment(
    db: Database,
    principal: Principal,
    *,
    payment_id: str,
    uzovi: str,
    received_on: date,
    total_cents: int,
    igo_id: str | None = None,
    allocations: Sequence[tuple[str, int]] | None = None,
    at: datetime | None = None,
) -> PaymentResult:
    """Record a payment and allocate it (given, or matched as the module docstring says); once per reference."""
    require(principal, Action.MANAGE_CLAIMS)
    igo = principal.igo_id if principal.role is not Role.SUPERUSER else igo_id
    if not igo:
        raise ClaimsError("name the IGO the payment is for")
    at = at or datetime.now(UTC)
    p, a = tables.payments, tables.payment_allocations
    with db.unit_of_work(lock="claims") as connection:
        if connection.execute(select(p.c.payment_id).where(p.c.payment_id == payment_id)).first():
            raise ClaimsError(f"payment {payment_id!r} is already recorded; a payment counts once")
        open_lines = {r.line_id: r for r in _open_lines(connection, igo, uzovi)}
        if allocations is None:
            chosen = _match(list(open_lines.values()), total_cents)
        else:
            chosen = [(line_id, int(cents)) for line_id, cents in allocations]
            _check_allocations(chosen, open_lines, total_cents)
        allocated = sum(cents for _, cents in chosen)
        connection.execute(
            insert(p).values(
                payment_id=payment_id,
                uzovi=uzovi,
                igo_id=igo,
                received_on=received_on,
                total_cents=total_cents,
                unallocated_cents=total_cents - allocated,
                recorded_at=at,
                actor=principal.username,
            )
        )
        if chosen:
            connection.execute(
                insert(a), [{"payment_id": payment_id, "line_id": lid, "amount_cents": c} for lid, c in chosen]
            )
        full = [
            lid for lid, cents in chosen if int(open_lines[lid].received) + cents == int(open_lines[lid].awarded_cents)
        ]
        _move(connection, [(lid, ClaimState.PAID, f"paid by {payment_id}") for lid in full], at, principal.username)
        audit.record(
            connection,
            principal.username,
            "record_payment",
            "payment",
            payment_id,
            igo_ids=[igo],
            uzovi=uzovi,
            total_cents=total_cents,
            allocated_cents=allocated,
            lines=len(chosen),
        )
    return PaymentResult(
        payment_id, igo, uzovi, total_cents, allocated, total_cents - allocated, len(full), len(chosen) - len(full)
    )


def _check_allocations(chosen: Sequence[tuple[str, int]], open_lines: dict[str, Any], total_cents: int) -> None:
    seen: set[str] = set()
    for line_id, cents in chosen:
        line = open_lines.get(line_id)
        if line is None:
            raise ClaimsError(f"line {line_id}: not an awarded, unpaid line of this IGO at this insurer")
        if line_id in seen:
            raise ClaimsError(f"line {line_id}: allocated twice in one payment")
        seen.add(line_id)
        still_open = int(line.awarded_cents) - int(line.received)
        if cents == 0 or (cents > 0) != (still_open > 0) or abs(cents) > abs(still_open):
            raise ClaimsError(f"line {line_id}: {cents} cents does not fit the {still_open} cents still open")
    if sum(c for _, c in chosen) != total_cents:
        raise ClaimsError("the allocations do not add up to the payment's total")


def record_payment_file(
    db: Database, principal: Principal, data: bytes, fmt: str = "fhir-payment", *, igo_id: str | None = None
) -> PaymentResult:
    """Record a payment from a file (a FHIR ``PaymentReconciliation`` names the lines it pays)."""
    payment: Payment = get_format(fmt).read(data)
    if principal.role is Role.SUPERUSER and igo_id is None:
        with db.unit_of_work() as connection:
            igo_id = connection.execute(
                select(tables.igos.c.igo_id).where(tables.igos.c.agb == payment.igo_agb)
            ).scalar_one_or_none()
    elif principal.igo_id is not None:
        with db.unit_of_work() as connection:
            agb = connection.execute(
                select(tables.igos.c.agb).where(tables.igos.c.igo_id == principal.igo_id)
            ).scalar_one_or_none()
        if agb != payment.igo_agb:
            raise ClaimsError(f"the payment is for AGB {payment.igo_agb}, not for your IGO")
    return record_payment(
        db,
        principal,
        payment_id=payment.payment_id,
        uzovi=payment.uzovi,
        received_on=payment.date,
        total_cents=payment.total_cents,
        igo_id=igo_id,
        allocations=payment.allocations,
    )


def _payment_scope(principal: Principal) -> Any:
    p = tables.payments
    if principal.role is Role.SUPERUSER:
        return true()
    if principal.role is Role.INSURER:
        return p.c.uzovi == principal.uzovi
    return p.c.igo_id == principal.igo_id


def open_amounts(db: Database, principal: Principal) -> list[OpenAmount]:
    """Per IGO and insurer in scope: awarded lines not yet paid in full and what of them was received."""
    require(principal, Action.READ_CLAIMS)
    i, b, a, p = tables.claim_items, tables.claim_batches, tables.payment_allocations, tables.payments
    received = select(a.c.line_id, func.sum(a.c.amount_cents).label("received")).group_by(a.c.line_id).subquery()
    with db.unit_of_work() as connection:
        rows = connection.execute(
            select(
                b.c.igo_id,
                i.c.uzovi,
                func.count(),
                func.sum(i.c.awarded_cents),
                func.sum(func.coalesce(received.c.received, 0)),
            )
            .join(b, b.c.batch_id == i.c.batch_id)
            .outerjoin(received, received.c.line_id == i.c.line_id)
            .where(i.c.state.in_(PAYABLE), _batch_scope(principal))
            .group_by(b.c.igo_id, i.c.uzovi)
            .order_by(b.c.igo_id, i.c.uzovi)
        ).all()
        unallocated: dict[tuple[str, str], int] = defaultdict(int)
        for igo, uzovi, cents in connection.execute(
            select(p.c.igo_id, p.c.uzovi, func.sum(p.c.unallocated_cents))
            .where(_payment_scope(principal))
            .group_by(p.c.igo_id, p.c.uzovi)
        ):
            unallocated[(igo, uzovi)] = int(cents or 0)
    return [
        OpenAmount(igo, uzovi, int(n), int(awarded or 0), int(got or 0), unallocated.get((igo, uzovi), 0))
        for igo, uzovi, n, awarded, got in rows
    ]
