"""A payment from an insurer to the IGO, allocated to claim lines.

The insurer pays what it awarded (``docs/claims.md`` §1: accepted/partially accepted → paid); one payment covers
many lines, possibly of several claim batches, and may net credits against debits. A :class:`Payment` says who
paid whom, when, how much in total, and how the total is allocated to the stable claim line ids, so each line
can move to ``paid`` with the amount actually received.

Pure value objects; the wire format (FHIR ``PaymentReconciliation``) lives in
:mod:`integraal.claims.formats.fhir`. Like the batches, a payment is checked with a function that returns every
problem (:func:`payment_problems`) instead of raising on the first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from integraal.claims.batch import Problem
from integraal.domain.identifiers import is_valid_agb, is_valid_uzovi


@dataclass(frozen=True, slots=True)
class Payment:
    """One payment by insurer ``uzovi`` to the IGO ``igo_agb`` on ``date``.

    Amounts are signed integer cents: an allocation is negative where the insurer takes back money for a
    credit line. ``allocations`` pairs a claim line id with the cents paid for it; they add up to
    ``total_cents`` exactly (a payment that does not reconcile is a problem, not a rounding difference).
    """

    payment_id: str
    uzovi: str
    igo_agb: str
    date: date
    total_cents: int
    allocations: tuple[tuple[str, int], ...]


def _is_printable_ascii(value: str) -> bool:
    return all(" " <= ch <= "~" for ch in value)


def payment_problems(payment: Payment) -> tuple[Problem, ...]:
    """Every problem that stops ``payment`` from being written; empty when it is fine.

    ``Problem.line_id`` is the allocation's line id (``None`` for the payment itself).
    """
    problems: list[Problem] = []
    pid = payment.payment_id
    if not pid or pid != pid.strip(" ") or not _is_printable_ascii(pid):
        problems.append(Problem(None, "payment_id", "must be printable ASCII, not empty, without outer spaces"))
    if not is_valid_uzovi(payment.uzovi):
        problems.append(Problem(None, "uzovi", f"{payment.uzovi!r} is not a 4-digit UZOVI code"))
    if not is_valid_agb(payment.igo_agb):
        problems.append(Problem(None, "igo_agb", f"{payment.igo_agb!r} is not an 8-digit AGB code"))
    seen: set[str] = set()
    for line_id, _cents in payment.allocations:
        if not line_id or line_id != line_id.strip(" ") or not _is_printable_ascii(line_id):
            problems.append(Problem(line_id, "allocations", "line id must be printable ASCII without outer spaces"))
        if line_id in seen:
            problems.append(Problem(line_id, "allocations", "line id allocated twice in one payment"))
        seen.add(line_id)
    allocated = sum(cents for _line_id, cents in payment.allocations)
    if allocated != payment.total_cents:
        problems.append(
            Problem(None, "total_cents", f"allocations add up to {allocated} cents, the total is {payment.total_cents}")
        )
    return tuple(problems)
