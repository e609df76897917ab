"""The KZ301/KZ302 writers as they were before issue 7 made them columnar: record by record through
``RecordLayout.render``. Kept as the reference the columnar writers must match byte for byte."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from integraal.claims.batch import (
    ClaimBatch,
    ClaimBatchLine,
    DebitCredit,
    Problem,
    ReturnBatch,
    claim_batch_problems,
)
from integraal.claims.formats.errors import BatchNotWritableError
from integraal.claims.formats.fixedwidth import RECORD_END, RecordLayout
from integraal.claims.formats.vektis_ei import (
    CLAIM_LAYOUTS,
    CONSTANTS,
    MAX_AMOUNT_CENTS,
    MAX_QUANTITY_HUNDREDTHS,
    MAX_RETURN_CODES,
    MAX_TOTAL_CENTS,
    RETURN_LAYOUTS,
)


def _ymd(day: date | None) -> str:
    return "00000000" if day is None else f"{day.year:04d}{day.month:02d}{day.day:02d}"


def _dc(cents: int) -> str:
    return DebitCredit.CREDIT.value if cents < 0 else DebitCredit.DEBIT.value


@dataclass(slots=True)
class _Out:
    """Builds the records of one file and counts them for the closing record."""

    layouts: Mapping[str, RecordLayout]
    records: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: {"02": 0, "04": 0, "98": 0})
    sequence: int = 0

    def add(self, kind: str, values: Mapping[str, str | int]) -> None:
        if kind in self.counts:
            self.counts[kind] += 1
            self.sequence += 1
            values = {**values, "identificatie_detailrecord": self.sequence}
        self.records.append(self.layouts[kind].render(values))

    def closing_counts(self) -> dict[str, str | int]:
        return {
            "aantal_verzekerdenrecords": self.counts["02"],
            "aantal_debiteurrecords": 0,
            "aantal_prestatierecords": self.counts["04"],
            "aantal_commentaarrecords": self.counts["98"],
            "totaal_aantal_detailrecords": self.sequence,
        }

    def bytes(self) -> bytes:
        return "".join(record + RECORD_END for record in self.records).encode("ascii")


def _header_values(b: ClaimBatch | ReturnBatch) -> dict[str, str | int]:
    return {
        **CONSTANTS["01"],
        "uzovi": b.receiver_uzovi,
        "instellingscode": b.sender_agb,
        "begindatum_declaratieperiode": _ymd(b.period_start),
        "einddatum_declaratieperiode": _ymd(b.period_end),
        "factuurnummer_declarant": b.batch_id,
        "dagtekening_factuur": _ymd(b.creation_date),
    }


def _line_values(line: ClaimBatchLine, uzovi: str) -> dict[str, str | int]:
    return {
        **CONSTANTS["04"],
        "bsn": line.bsn,
        "uzovi": uzovi,
        "begindatum_prestatie": _ymd(line.service_start),
        "einddatum_prestatie": _ymd(line.service_end),
        "prestatiecode": line.prestatie_code,
        "aantal_uitgevoerde_prestaties": int(line.quantity * 100),
        "declaratiebedrag": line.amount_cents,
        "indicatie_debet_credit": line.debit_credit.value,
        "referentienummer_dit_prestatierecord": line.line_id,
        "referentienummer_voorgaande_prestatierecord": line.original_line_id or "",
    }


def _format_problems(lines: Sequence[ClaimBatchLine]) -> list[Problem]:
    """Limits of the field widths, which ``claim_batch_problems`` (format-independent) does not know."""
    problems: list[Problem] = []
    for line in lines:
        if line.amount_cents > MAX_AMOUNT_CENTS:
            problems.append(Problem(line.line_id, "amount_cents", f"more than {MAX_AMOUNT_CENTS} cents (field N8)"))
        if line.quantity * 100 > MAX_QUANTITY_HUNDREDTHS:
            problems.append(Problem(line.line_id, "quantity", "more than 9999.99 (field N6 in hundredths)"))
    if abs(sum(line.signed_cents for line in lines)) > MAX_TOTAL_CENTS:
        problems.append(Problem(None, "lines", f"net total exceeds {MAX_TOTAL_CENTS} cents (field N11)"))
    if len(lines) > 999_999 or sum(1 + len(line.comments) for line in lines) * 2 > 9_999_999:
        problems.append(Problem(None, "lines", "too many records for the closing record's counters"))
    return problems


def _write_body(out: _Out, items: Sequence[tuple[ClaimBatchLine, Mapping[str, str | int], tuple[str, ...]]]) -> None:
    """Insured/performance/comment records. A new 02 starts whenever the insured person (or her codes) change,
    so the order of the lines is kept exactly and reading gives back the same sequence."""
    previous: tuple[str, date | None, tuple[str, ...]] | None = None
    for line, extra, insured_codes in items:
        key = (line.bsn, line.birth_date, insured_codes)
        if key != previous:
            insured: dict[str, str | int] = {
                **CONSTANTS["02"],
                "bsn": line.bsn,
                "uzovi": str(extra["uzovi"]),
                "datum_geboorte": _ymd(line.birth_date),
            }
            insured.update(_code_values(insured_codes))
            out.add("02", insured)
            previous = key
        out.add("04", extra)
        for number, text in enumerate(line.comments, 1):
            out.add("98", {"regelnummer_vrije_tekst": number, "vrije_tekst": text})


def _code_values(codes: tuple[str, ...]) -> dict[str, str | int]:
    return {f"retourcode_{i + 1:02d}": code for i, code in enumerate(codes)}


def write_claim(batch: ClaimBatch) -> bytes:
    """The KZ301-style claim file for ``batch``; raises ``BatchNotWritableError`` listing every problem."""
    problems = (*claim_batch_problems(batch), *_format_problems(batch.lines))
    if problems:
        raise BatchNotWritableError("kz301", problems)
    out = _Out(CLAIM_LAYOUTS)
    out.add("01", _header_values(batch))
    _write_body(out, [(line, _line_values(line, batch.receiver_uzovi), ()) for line in batch.lines])
    total = batch.total_signed_cents
    out.add("99", {**out.closing_counts(), "totaal_declaratiebedrag": abs(total), "indicatie_debet_credit": _dc(total)})
    return out.bytes()


def _return_problems(batch: ReturnBatch) -> list[Problem]:
    problems: list[Problem] = []
    if len(batch.insurer_reference) > 24 or any(not " " <= ch <= "~" for ch in batch.insurer_reference):
        problems.append(Problem(None, "insurer_reference", "at most 24 printable ASCII characters"))
    elif batch.insurer_reference != batch.insurer_reference.strip(" "):
        problems.append(Problem(None, "insurer_reference", "must not start or end with a space"))
    groups: list[tuple[str | None, str, tuple[str, ...]]] = [(None, "header_return_codes", batch.header_return_codes)]
    for r in batch.lines:
        lid = r.line.line_id
        groups += [(lid, "return_codes", r.return_codes), (lid, "insured_return_codes", r.insured_return_codes)]
        for name, cents in (("calculated_cents", r.calculated_cents), ("awarded_cents", r.awarded_cents)):
            if abs(cents) > MAX_AMOUNT_CENTS:
                problems.append(Problem(lid, name, f"more than {MAX_AMOUNT_CENTS} cents (field N8)"))
    for where, name, codes in groups:
        if len(codes) > MAX_RETURN_CODES or not all(len(c) == 4 and c.isascii() and c.isdigit() for c in codes):
            problems.append(Problem(where, name, f"at most {MAX_RETURN_CODES} codes of 4 digits"))
    if abs(batch.total_awarded_cents) > MAX_TOTAL_CENTS:
        problems.append(Problem(None, "lines", f"awarded total exceeds {MAX_TOTAL_CENTS} cents (field N11)"))
    return problems


def write_return(batch: ReturnBatch) -> bytes:
    """The KZ302-style return file for ``batch``; raises ``BatchNotWritableError`` listing every problem."""
    as_claim = ClaimBatch(
        batch.sender_agb,
        batch.receiver_uzovi,
        batch.batch_id,
        batch.creation_date,
        batch.period_start,
        batch.period_end,
        tuple(r.line for r in batch.lines),
    )
    # The insurer echoes lines as it received them; service dates after the invoice date (8177/8178) are its
    # verdict on the claim, not a reason to refuse writing the return.
    claim_problems = claim_batch_problems(as_claim, check_invoice_dates=False)
    problems = (*claim_problems, *_format_problems(as_claim.lines), *_return_problems(batch))
    if problems:
        raise BatchNotWritableError("kz302", tuple(problems))
    out = _Out(RETURN_LAYOUTS)
    out.add(
        "01",
        {
            **_header_values(batch),
            "referentienummer_zorgverzekeraar": batch.insurer_reference,
            "dagtekening_retourbericht": _ymd(batch.return_date),
            **_code_values(batch.header_return_codes),
        },
    )
    items = []
    for r in batch.lines:
        values = {
            **_line_values(r.line, batch.receiver_uzovi),
            "berekend_bedrag_zorgverzekeraar": abs(r.calculated_cents),
            "indicatie_debet_credit_berekend": _dc(r.calculated_cents),
            "toegekend_bedrag": abs(r.awarded_cents),
            "indicatie_debet_credit_toegekend": _dc(r.awarded_cents),
            **_code_values(r.return_codes),
        }
        items.append((r.line, values, r.insured_return_codes))
    _write_body(out, items)
    claimed, awarded = batch.total_claimed_cents, batch.total_awarded_cents
    out.add(
        "99",
        {
            **out.closing_counts(),
            "totaal_declaratiebedrag": abs(claimed),
            "indicatie_debet_credit": _dc(claimed),
            "totaal_toegekend_bedrag": abs(awarded),
            "indicatie_debet_credit_toegekend": _dc(awarded),
        },
    )
    return out.bytes()
