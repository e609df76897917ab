"""The claim-line lifecycle: an explicit state machine with history, and corrections as credit/debit pairs.

This module owns the states a claim line passes through between "we decided to claim it" and "the money is in",
the table of allowed transitions (data, not ``if`` chains), and the one way to correct a line (DOMAIN.md §4:
"Corrections are credit/debit pairs: credit the old line, debit the new one"). It holds no database, no wire
format and no clock: callers pass the moment and the actor of every transition.

States (``ClaimState``)::

    draft ⇄ ready ──► sent ──┬──► accepted ────────────┬──► paid
                             ├──► partially_accepted ──┤     │
                             └──► rejected             │     │
                                      │                ▼     ▼
                                      └──────────────► corrected   (terminal: credit + replacement carry on)

Every line is an immutable ``TrackedLine``; a transition returns a new one with one more ``Transition`` in its
history. A correction closes the original line (state ``corrected``) and creates linked lines of its own (a
credit and/or a replacement debit) that run through the same lifecycle from ``draft``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType

from integraal.rules.decision import ClaimLine


class ClaimState(StrEnum):
    """Where a claim line is. Values are stable: they are stored and shown in the API."""

    DRAFT = "draft"  # built from a bundle decision, still editable
    READY = "ready"  # checked and queued for the next batch to the insurer
    SENT = "sent"  # in a batch that left for the insurer (KZ301 via VECOZO); waiting for the return (KZ302)
    ACCEPTED = "accepted"  # the insurer awarded the full amount
    PARTIALLY_ACCEPTED = "partially_accepted"  # the insurer awarded less than claimed (a return code says why)
    REJECTED = "rejected"  # the insurer awarded nothing (a return code says why)
    CORRECTED = "corrected"  # superseded by a credit and/or replacement debit; closed
    PAID = "paid"  # the awarded money was received


class LineKind(StrEnum):
    """Debit (a claim for money) or credit (taking back an earlier debit). Vektis indicator D / C."""

    DEBIT = "debit"
    CREDIT = "credit"


def _table(pairs: Mapping[ClaimState, frozenset[ClaimState]]) -> Mapping[ClaimState, frozenset[ClaimState]]:
    return MappingProxyType(dict(pairs))


S = ClaimState

#: The allowed transitions, as data. Anything not listed raises ``IllegalTransitionError``. Why each one exists:
#:
#: - draft → ready, ready → sent, sent → accepted/partially_accepted/rejected: the normal road.
#: - ready → draft: a queued line that turns out wrong is taken back for editing; nothing has left the IGO yet,
#:   so no credit is needed. Once *sent*, the only way back is a correction.
#: - accepted → paid, partially_accepted → paid: the insurer pays what it awarded; a partial award that the IGO
#:   accepts as final is settled like a full one (the difference is written off, not re-claimed).
#: - accepted → corrected, partially_accepted → corrected: the insurer booked the line, so fixing it needs a
#:   credit of the old line and a new debit (DOMAIN.md §4). For a partial award this is how the IGO disputes it.
#: - rejected → corrected: fix and resend. The insurer booked nothing for a rejected line, so the correction
#:   carries only the replacement debit, no credit (a credit of a line the insurer never booked would itself be
#:   rejected). There is no rejected → paid: nothing was awarded.
#: - paid → corrected: a settled line found wrong later (e.g. a bundle breaker surfacing after payment, return
#:   code 0587) must still be fixable; the credit claws the money back, the debit claims the right amount.
#: - corrected is terminal: the original's money now lives in the credit and replacement lines, which reach
#:   ``paid`` themselves. A corrected → paid arrow would count the same money twice.
TRANSITIONS: Mapping[ClaimState, frozenset[ClaimState]] = _table(
    {
        S.DRAFT: frozenset({S.READY}),
        S.READY: frozenset({S.DRAFT, S.SENT}),
        S.SENT: frozenset({S.ACCEPTED, S.PARTIALLY_ACCEPTED, S.REJECTED}),
        S.ACCEPTED: frozenset({S.PAID, S.CORRECTED}),
        S.PARTIALLY_ACCEPTED: frozenset({S.PAID, S.CORRECTED}),
        S.REJECTED: frozenset({S.CORRECTED}),
        S.PAID: frozenset({S.CORRECTED}),
        S.CORRECTED: frozenset(),
    }
)

#: States from which the insurer has *booked* the line, so a correction must credit it.
BOOKED_STATES: frozenset[ClaimState] = frozenset({S.ACCEPTED, S.PARTIALLY_ACCEPTED, S.PAID})


class LifecycleError(ValueError):
    """A lifecycle operation that the rules do not allow; the message says which rule."""


class IllegalTransitionError(LifecycleError):
    """A transition that is not in ``TRANSITIONS``. Names the line, the from-state and the to-state."""

    def __init__(self, line_id: str, from_state: ClaimState, to_state: ClaimState, hint: str = "") -> None:
        self.line_id = line_id
        self.from_state = from_state
        self.to_state = to_state
        allowed = ", ".join(sorted(TRANSITIONS[from_state])) or "none (terminal state)"
        message = (
            f"claim line {line_id!r}: illegal transition {from_state.value} → {to_state.value}; "
            f"allowed from {from_state.value}: {allowed}"
        )
        super().__init__(f"{message}. {hint}" if hint else message)


@dataclass(frozen=True, slots=True)
class Transition:
    """One step in a line's history: from, to, when, who and why."""

    from_state: ClaimState
    to_state: ClaimState
    at: datetime
    actor: str
    note: str = ""


@dataclass(frozen=True, slots=True)
class TrackedLine:
    """A claim line under lifecycle control. Amounts in cents; ``amount_cents`` is signed (credit < 0).

    Links: a credit line ``reverses`` the original; a replacement debit ``replaces`` it; the corrected original
    names both (``credit_line_id``, ``replacement_line_id``). ``awarded_cents`` is what the insurer granted,
    known from the outcome transition on.
    """

    line_id: str
    kind: LineKind
    amount_cents: int
    state: ClaimState = ClaimState.DRAFT
    history: tuple[Transition, ...] = ()
    awarded_cents: int | None = None
    reverses: str | None = None
    replaces: str | None = None
    credit_line_id: str | None = None
    replacement_line_id: str | None = None

    @property
    def was_rejected(self) -> bool:
        """True once the insurer rejected this line: it never carried money, whatever happened after."""
        return any(step.to_state is ClaimState.REJECTED for step in self.history)


def new_debit(line_id: str, amount_cents: int, *, replaces: str | None = None) -> TrackedLine:
    """A new debit line in ``draft``. Debits claim a positive amount."""
    if amount_cents <= 0:
        raise LifecycleError(f"claim line {line_id!r}: a debit must claim a positive amount, got {amount_cents}")
    return TrackedLine(line_id=line_id, kind=LineKind.DEBIT, amount_cents=amount_cents, replaces=replaces)


def track(claim: ClaimLine, line_id: str) -> TrackedLine:
    """Put a claim line from the bundle decision (``rules.decision.ClaimLine``) under lifecycle control."""
    return new_debit(line_id, claim.amount_cents)


def _check_time(line: TrackedLine, at: datetime) -> None:
    if line.history and at < line.history[-1].at:
        raise LifecycleError(
            f"claim line {line.line_id!r}: transition at {at.isoformat()} is before the previous one "
            f"({line.history[-1].at.isoformat()}); history must be in time order"
        )


def _step(line: TrackedLine, to: ClaimState, at: datetime, actor: str, note: str) -> TrackedLine:
    if to not in TRANSITIONS[line.state]:
        raise IllegalTransitionError(line.line_id, line.state, to)
    if not actor:
        raise LifecycleError(f"claim line {line.line_id!r}: every transition needs an actor")
    _check_time(line, at)
    return replace(line, state=to, history=(*line.history, Transition(line.state, to, at, actor, note)))


def transition(
    line: TrackedLine,
    to: ClaimState,
    *,
    at: datetime,
    actor: str,
    note: str = "",
    awarded_cents: int | None = None,
) -> TrackedLine:
    """Move ``line`` to ``to`` and return the new record; raise ``IllegalTransitionError`` if the table forbids it.

    The outcome states fix ``awarded_cents``: ``accepted`` awards the full amount, ``rejected`` nothing, and
    ``partially_accepted`` needs the awarded amount, strictly between nothing and the full amount (same sign).
    ``corrected`` is reached only through :func:`correct`, which builds the credit/debit pair.
    """
    if to is ClaimState.CORRECTED:
        if to not in TRANSITIONS[line.state]:
            raise IllegalTransitionError(line.line_id, line.state, to)
        raise LifecycleError(f"claim line {line.line_id!r}: use correct() to correct a line, so the pair exists")
    moved = _step(line, to, at, actor, note)
    if to is ClaimState.ACCEPTED:
        return replace(moved, awarded_cents=line.amount_cents)
    if to is ClaimState.REJECTED:
        return replace(moved, awarded_cents=0)
    if to is ClaimState.PARTIALLY_ACCEPTED:
        if awarded_cents is None or not 0 < abs(awarded_cents) < abs(line.amount_cents):
            raise LifecycleError(
                f"claim line {line.line_id!r}: a partial award must lie strictly between 0 and "
                f"{line.amount_cents} cents, got {awarded_cents}"
            )
        if (awarded_cents < 0) != (line.amount_cents < 0):
            raise LifecycleError(f"claim line {line.line_id!r}: the award must have the sign of the claim")
        return replace(moved, awarded_cents=awarded_cents)
    if awarded_cents is not None:
        raise LifecycleError(f"claim line {line.line_id!r}: an award belongs to an outcome, not to {to.value}")
    return moved


@dataclass(frozen=True, slots=True)
class Correction:
    """The result of correcting a line: the closed original and its linked credit and/or replacement debit.

    ``credit`` is ``None`` when the original was rejected (the insurer booked nothing to take back);
    ``replacement`` is ``None`` when the claim is withdrawn rather than replaced (e.g. the bundle broke).
    """

    original: TrackedLine
    credit: TrackedLine | None
    replacement: TrackedLine | None

    @property
    def lines(self) -> tuple[TrackedLine, ...]:
        return tuple(line for line in (self.original, self.credit, self.replacement) if line is not None)


def correct(
    line: TrackedLine,
    *,
    new_amount_cents: int | None,
    credit_line_id: str,
    replacement_line_id: str,
    at: datetime,
    actor: str,
    note: str = "",
) -> Correction:
    """Correct a sent-and-answered line: credit it (if the insurer booked it) and debit the new amount.

    The credit is the exact negation of the original (same cents, opposite sign), so original + credit is
    zero to the cent. ``new_amount_cents=None`` withdraws the claim (credit only). Credits themselves are not
    corrected: a wrong credit is fixed by a new debit, never by a credit of a credit.
    """
    if line.kind is LineKind.CREDIT:
        raise LifecycleError(f"claim line {line.line_id!r}: a credit line is not corrected; send a new debit")
    if ClaimState.CORRECTED not in TRANSITIONS[line.state]:
        raise IllegalTransitionError(line.line_id, line.state, ClaimState.CORRECTED)
    booked = line.state in BOOKED_STATES
    if not booked and new_amount_cents is None:
        raise LifecycleError(
            f"claim line {line.line_id!r}: a rejected line with nothing to replace it is written off, not corrected"
        )
    if credit_line_id == replacement_line_id or line.line_id in (credit_line_id, replacement_line_id):
        raise LifecycleError(f"claim line {line.line_id!r}: the original, credit and replacement need distinct ids")
    credit = (
        TrackedLine(
            line_id=credit_line_id, kind=LineKind.CREDIT, amount_cents=-line.amount_cents, reverses=line.line_id
        )
        if booked
        else None
    )
    replacement = (
        new_debit(replacement_line_id, new_amount_cents, replaces=line.line_id)
        if new_amount_cents is not None
        else None
    )
    closed = _step(line, ClaimState.CORRECTED, at, actor, note)
    closed = replace(
        closed,
        credit_line_id=credit.line_id if credit else None,
        replacement_line_id=replacement.line_id if replacement else None,
    )
    return Correction(original=closed, credit=credit, replacement=replacement)


def net_claimed_cents(chain: Iterable[TrackedLine]) -> int:
    """The net money a line's whole correction history claims, exactly in cents.

    ``chain`` is the original line with every credit and replacement that descends from it (see
    :func:`correction_chain`). Each line counts with its signed amount, except lines the insurer rejected:
    they never carried money. For a chain whose lines are all booked this equals the latest replacement's
    amount (or zero after a withdrawal).
    """
    return sum(line.amount_cents for line in chain if not line.was_rejected)


def correction_chain(lines: Iterable[TrackedLine], root_id: str) -> tuple[TrackedLine, ...]:
    """The line ``root_id`` and every credit and replacement that descends from it, in creation order."""
    by_id = {line.line_id: line for line in lines}
    if root_id not in by_id:
        raise LifecycleError(f"claim line {root_id!r} is not among the lines given")
    chain: list[TrackedLine] = []
    pending = [root_id]
    while pending:
        current = by_id[pending.pop(0)]
        chain.append(current)
        for child in (current.credit_line_id, current.replacement_line_id):
            if child is not None:
                if child not in by_id:
                    raise LifecycleError(f"claim line {current.line_id!r} links to {child!r}, which is missing")
                pending.append(child)
    return tuple(chain)
