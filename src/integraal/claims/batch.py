"""The in-memory claim batch and return batch, independent of any wire format.

A ``ClaimBatch`` is what the IGO sends an insurer in one file (KZ301-style): who sends (the IGO's AGB code),
who receives (the insurer's UZOVI code), the batch id (the invoice number), the creation date, the claim period
and the lines. A ``ReturnBatch`` is what comes back (KZ302-style): the same lines with what the insurer
calculated, what it awarded and up to three COD954 return codes per record.

Checking a batch follows the beancount habit, errors are data: :func:`claim_batch_problems` returns every
problem with where it is, instead of stopping at the first. Formats refuse to write a batch with problems.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any

import polars as pl

from integraal.claims.lifecycle import ClaimState
from integraal.domain.identifiers import is_valid_agb, is_valid_bsn, is_valid_uzovi
from integraal.rules.decision import ClaimLine


class DebitCredit(StrEnum):
    """Vektis "indicatie debet/credit" (COD043): D claims money, C takes an earlier claim back."""

    DEBIT = "D"
    CREDIT = "C"


@dataclass(frozen=True, slots=True)
class ClaimBatchLine:
    """One performance line (prestatierecord) with the insured person it belongs to.

    ``amount_cents`` is never negative; ``debit_credit`` gives the direction and :attr:`signed_cents` the signed
    amount. ``line_id`` is stable across resends (Vektis "referentienummer dit prestatierecord");
    ``original_line_id`` points to the line a credit takes back or a replacement debit replaces
    ("referentienummer voorgaande gerelateerde prestatierecord"). ``birth_date`` is optional.
    """

    line_id: str
    bsn: str
    prestatie_code: str
    service_start: date
    service_end: date
    quantity: Decimal
    amount_cents: int
    debit_credit: DebitCredit = DebitCredit.DEBIT
    original_line_id: str | None = None
    birth_date: date | None = None
    comments: tuple[str, ...] = ()

    @property
    def signed_cents(self) -> int:
        return -self.amount_cents if self.debit_credit is DebitCredit.CREDIT else self.amount_cents

    @classmethod
    def from_claim_line(
        cls, claim: ClaimLine, *, line_id: str, bsn: str, birth_date: date | None = None
    ) -> ClaimBatchLine:
        """A debit line for a claim line of the bundle decision (``rules.decision.ClaimLine``)."""
        return cls(
            line_id=line_id,
            bsn=bsn,
            prestatie_code=claim.prestatie_code,
            service_start=claim.service_start,
            service_end=claim.service_end,
            quantity=claim.quantity,
            amount_cents=claim.amount_cents,
            birth_date=birth_date,
        )


@dataclass(frozen=True, slots=True)
class ClaimBatch:
    """One claim file from the IGO to one insurer."""

    sender_agb: str
    receiver_uzovi: str
    batch_id: str
    creation_date: date
    period_start: date
    period_end: date
    lines: tuple[ClaimBatchLine, ...]

    @property
    def total_signed_cents(self) -> int:
        return sum(line.signed_cents for line in self.lines)


@dataclass(frozen=True, slots=True)
class ReturnLine:
    """One line as it came back: the claim line echoed, plus the insurer's amounts and return codes.

    Amounts are signed cents (negative for a credit). ``insured_return_codes`` are the codes on the insured
    person's record (e.g. 0320 not insured), shared by every line of that person in the file.
    """

    line: ClaimBatchLine
    calculated_cents: int
    awarded_cents: int
    return_codes: tuple[str, ...] = ()
    insured_return_codes: tuple[str, ...] = ()

    def outcome(self) -> ClaimState:
        """The lifecycle state this return puts the line in: accepted, partially accepted or rejected."""
        claimed = self.line.signed_cents
        if self.awarded_cents == 0 and (claimed != 0 or self.return_codes or self.insured_return_codes):
            return ClaimState.REJECTED  # nothing paid: rejected, also for a zero-cent line that carries codes
        if self.awarded_cents == claimed:
            return ClaimState.ACCEPTED
        return ClaimState.PARTIALLY_ACCEPTED


@dataclass(frozen=True, slots=True)
class ReturnBatch:
    """One return file (KZ302-style) from the insurer, answering one claim batch."""

    sender_agb: str
    receiver_uzovi: str
    batch_id: str
    creation_date: date
    period_start: date
    period_end: date
    insurer_reference: str
    return_date: date
    header_return_codes: tuple[str, ...]
    lines: tuple[ReturnLine, ...]

    @property
    def total_claimed_cents(self) -> int:
        return sum(r.line.signed_cents for r in self.lines)

    @property
    def total_awarded_cents(self) -> int:
        return sum(r.awarded_cents for r in self.lines)


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a batch: where (``line_id`` or ``None`` for the batch), which field, and what."""

    line_id: str | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"line {self.line_id!r}" if self.line_id is not None else "batch"
        return f"{where}, field {self.field!r}: {self.message}"


def _text_problems(line_id: str | None, field: str, value: str, max_length: int, *, required: bool) -> list[Problem]:
    problems: list[Problem] = []
    if required and not value:
        problems.append(Problem(line_id, field, "must not be empty"))
    if len(value) > max_length:
        problems.append(Problem(line_id, field, f"{len(value)} characters, at most {max_length} allowed"))
    if any(not " " <= ch <= "~" for ch in value):
        problems.append(Problem(line_id, field, "only printable ASCII is allowed (the EI files are ASCII)"))
    if value != value.strip(" "):
        problems.append(Problem(line_id, field, "must not start or end with a space (fixed-width padding)"))
    return problems


def claim_batch_problems(batch: ClaimBatch, *, check_invoice_dates: bool = True) -> tuple[Problem, ...]:
    """Every problem that stops ``batch`` from being a valid claim file; empty when it is fine.

    Checks mirror the insurer's return codes where one exists (0435 BSN, 8177/8178 service dates after the
    invoice date, 0631 debit/credit, 0020/0021 period), so a file we write does not come back for them.
    ``check_invoice_dates=False`` skips 8177/8178, for echoing lines in a return file.
    """
    problems: list[Problem] = []
    if not is_valid_agb(batch.sender_agb):
        problems.append(Problem(None, "sender_agb", f"{batch.sender_agb!r} is not an 8-digit AGB code"))
    if not is_valid_uzovi(batch.receiver_uzovi):
        problems.append(Problem(None, "receiver_uzovi", f"{batch.receiver_uzovi!r} is not a 4-digit UZOVI code"))
    problems += _text_problems(None, "batch_id", batch.batch_id, 12, required=True)
    if batch.period_end < batch.period_start:
        problems.append(Problem(None, "period_end", "claim period ends before it starts (return code 0021)"))
    seen: set[str] = set()
    for line in batch.lines:
        lid = line.line_id
        problems += _text_problems(lid, "line_id", lid, 20, required=True)
        if lid in seen:
            problems.append(Problem(lid, "line_id", "line id used twice in one batch"))
        seen.add(lid)
        if not is_valid_bsn(line.bsn):
            problems.append(Problem(lid, "bsn", "BSN fails the 11-test (return code 0435)"))
        problems += _text_problems(lid, "prestatie_code", line.prestatie_code, 24, required=True)
        if line.service_end < line.service_start:
            problems.append(Problem(lid, "service_end", "service ends before it starts (return code 8007)"))
        if check_invoice_dates and line.service_start > batch.creation_date:
            problems.append(Problem(lid, "service_start", "service starts after the invoice date (return code 8177)"))
        if check_invoice_dates and line.service_end > batch.creation_date:
            problems.append(Problem(lid, "service_end", "service ends after the invoice date (return code 8178)"))
        if line.birth_date is not None and line.birth_date > line.service_start:
            problems.append(Problem(lid, "birth_date", "insured person born after the service started"))
        if line.amount_cents < 0:
            problems.append(Problem(lid, "amount_cents", "must not be negative; use debit_credit for the sign"))
        quantity_hundredths = line.quantity * 100
        if line.quantity < 0 or quantity_hundredths != quantity_hundredths.to_integral_value():
            problems.append(Problem(lid, "quantity", "must be non-negative with at most two decimals"))
        if line.debit_credit is DebitCredit.CREDIT and not line.original_line_id:
            problems.append(Problem(lid, "original_line_id", "a credit must name the line it takes back"))
        if line.original_line_id is not None:
            problems += _text_problems(lid, "original_line_id", line.original_line_id, 20, required=True)
        for comment in line.comments:
            problems += _text_problems(lid, "comments", comment, 140, required=True)
    return tuple(problems)


# --- the same lines as columns (a national batch holds half a million lines) ------------------------------------

LINE_SCHEMA: dict[str, Any] = {
    "line_id": pl.String,
    "bsn": pl.String,
    "prestatie_code": pl.String,
    "service_start": pl.Date,
    "service_end": pl.Date,
    "quantity_hundredths": pl.Int64,
    "amount_cents": pl.Int64,
    "debit_credit": pl.String,
    "original_line_id": pl.String,
    "birth_date": pl.Date,
    "comments": pl.List(pl.String),
}
"""Columns of a frame of :class:`ClaimBatchLine` (quantity in hundredths), in file order."""

RETURN_SCHEMA: dict[str, Any] = {
    **LINE_SCHEMA,
    "calculated_cents": pl.Int64,
    "awarded_cents": pl.Int64,
    "return_codes": pl.List(pl.String),
    "insured_return_codes": pl.List(pl.String),
}
"""Columns of a frame of :class:`ReturnLine`: the claim line's columns and the insurer's answer."""


def _line_row(line: ClaimBatchLine) -> tuple[Any, ...]:
    hundredths = line.quantity * 100
    return (
        line.line_id,
        line.bsn,
        line.prestatie_code,
        line.service_start,
        line.service_end,
        # Not whole hundredths or out of range: -1, which every writer's check refuses (then it names the line).
        int(hundredths) if hundredths == hundredths.to_integral_value() and 0 <= hundredths < 2**62 else -1,
        line.amount_cents,
        line.debit_credit.value,
        line.original_line_id,
        line.birth_date,
        list(line.comments),
    )


def lines_frame(lines: Sequence[ClaimBatchLine]) -> pl.DataFrame:
    """``lines`` as a frame of :data:`LINE_SCHEMA`."""
    return pl.DataFrame([_line_row(line) for line in lines], schema=LINE_SCHEMA, orient="row")


def return_lines_frame(lines: Sequence[ReturnLine]) -> pl.DataFrame:
    """``lines`` as a frame of :data:`RETURN_SCHEMA`."""
    rows = [
        (*_line_row(r.line), r.calculated_cents, r.awarded_cents, list(r.return_codes), list(r.insured_return_codes))
        for r in lines
    ]
    return pl.DataFrame(rows, schema=RETURN_SCHEMA, orient="row")


def lines_from_frame(frame: pl.DataFrame) -> tuple[ClaimBatchLine, ...]:
    """The lines of a frame of :data:`LINE_SCHEMA` as objects."""
    return tuple(
        ClaimBatchLine(
            line_id=line_id,
            bsn=bsn,
            prestatie_code=code,
            service_start=start,
            service_end=end,
            quantity=Decimal(int(hundredths)) / 100,
            amount_cents=int(cents),
            debit_credit=DebitCredit(dc),
            original_line_id=original,
            birth_date=birth,
            comments=tuple(comments or ()),
        )
        for line_id, bsn, code, start, end, hundredths, cents, dc, original, birth, comments in frame.select(
            list(LINE_SCHEMA)
        ).iter_rows()
    )


def return_lines_from_frame(frame: pl.DataFrame) -> tuple[ReturnLine, ...]:
    """The lines of a frame of :data:`RETURN_SCHEMA` as objects."""
    answers = frame.select("calculated_cents", "awarded_cents", "return_codes", "insured_return_codes").iter_rows()
    return tuple(
        ReturnLine(line, int(calculated), int(awarded), tuple(codes or ()), tuple(insured or ()))
        for line, (calculated, awarded, codes, insured) in zip(lines_from_frame(frame), answers, strict=True)
    )
