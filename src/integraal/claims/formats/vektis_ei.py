"""Vektis EI fixed-width claim (KZ301-style) and return (KZ302-style) files for integral birth care.

Modelled on the Vektis EI standard "Declaratie kraamzorg en integrale geboortezorg" KZ301 / KZ302 version 3.2
(DOMAIN.md §4). What is verified and what is ours (details and sources in ``docs/claims.md``):

- KZ302 v3.2 records are 370 positions, type ASCII (Vektis standard page KZ302-3.2).
- KZ301 v3.2 has no debtor record (03): it was removed with the move to IBAN (KZ301/KZ302 v3.2 standard
  description, revision history). Record types are 01 header, 02 insured person, 04 performance, 98 comment,
  99 closing.
- The header (01), comment (98) and closing (99) records follow the *generic EI declaration format* that
  KZ301 v3.2 is aligned with ("gen. format declaratie EI-standaarden"), whose positions we took from public
  layouts of MZ301 v1.3 and PM305 v3.2. In that format a claim record is 310 positions and the return record
  repeats it and adds 60 return positions (310 + 60 = 370, the verified KZ302 length). **The KZ301 record
  length of 310 is inferred, not seen**; DOMAIN.md's "370" is verified for KZ302 only.
- The insured (02) and performance (04) records are Integraal's own compact layout on generic positions where
  we had them; KZ301-specific positions (e.g. begin/end date of kraamzorg) are **estimated**.
- The COD002 message code of KZ301/KZ302 is unverified; we write the placeholder ``000``, which Vektis rejects
  (COD954 0010) — a file from this writer must not be sent to an insurer before the real code is filled in.

Encoding: strict 7-bit ASCII (the standard's type "Ascii"); any byte ≥ 0x80 is an ``EncodingError``. We chose
ASCII over ISO-8859-1 because it makes a wrong encoding detectable (every byte is valid ISO-8859-1) and the
fields we write (codes, numbers, dates, ids) need nothing else; free-text comments must be ASCII too.
Records end with CR LF (COD954 8095). Amounts are cents, unsigned, with a separate D/C indicator.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from integraal.claims.batch import (
    ClaimBatch,
    ClaimBatchLine,
    DebitCredit,
    Problem,
    ReturnBatch,
    ReturnLine,
    claim_batch_problems,
)
from integraal.claims.formats.errors import (
    BatchNotWritableError,
    CountMismatchError,
    FieldValueError,
    FormatError,
    StructureError,
    TotalsMismatchError,
    TruncatedFileError,
)
from integraal.claims.formats.fixedwidth import (
    RECORD_END,
    Field,
    FieldType,
    RecordLayout,
    record_type,
    split_records,
)
from integraal.claims.returncodes import return_codes
from integraal.domain.identifiers import is_valid_bsn

N, AN = FieldType.N, FieldType.AN

CLAIM_RECORD_LENGTH = 310  # inferred from the generic EI format (see module docstring); not seen for KZ301
RETURN_RECORD_LENGTH = 370  # verified: Vektis standard page KZ302-3.2

EI_MESSAGE_CODE = "000"  # PLACEHOLDER: the real COD002 code of KZ301 is unverified (see module docstring)
VERSION = "03"
SUBVERSION = "02"
MESSAGE_KIND = "P"  # soort bericht: production (COD856, unverified)
SOFTWARE_VERSION = "INTEGRAAL"
CURRENCY = "EUR"
MAX_AMOUNT_CENTS = 99_999_999  # N8
MAX_TOTAL_CENTS = 99_999_999_999  # N11
MAX_QUANTITY_HUNDREDTHS = 999_999  # N6 with two implied decimals
MAX_RETURN_CODES = 3


def _f(name: str, start: int, length: int, kind: FieldType, description: str) -> Field:
    return Field(name, start, length, kind, description)


# --- KZ301-style claim layouts (310 positions) -------------------------------------------------------------

HEADER = RecordLayout(
    "01",
    "Voorlooprecord (header)",
    CLAIM_RECORD_LENGTH,
    (
        _f("kenmerk_record", 1, 2, N, "Record type, always 01"),
        _f(
            "code_ei_bericht", 3, 3, N, "Code externe-integratiebericht (COD002); placeholder 000, real code unverified"
        ),
        _f("versienummer", 6, 2, N, "Version of the message standard: 03"),
        _f("subversienummer", 8, 2, N, "Subversion of the message standard: 02"),
        _f("soort_bericht", 10, 1, AN, "Kind of message (COD856): P = production (unverified)"),
        _f("code_informatiesysteem", 11, 6, N, "Software supplier code (COD805); Integraal has none: zeros"),
        _f("versie_informatiesysteem", 17, 10, AN, "Software version: INTEGRAAL"),
        _f("uzovi", 27, 4, N, "Receiver: the insurer's UZOVI code"),
        _f("code_servicebureau", 31, 8, N, "Service bureau code: zeros (the IGO sends itself)"),
        _f("zorgverlenerscode", 39, 8, N, "Individual care provider code: zeros"),
        _f("praktijkcode", 47, 8, N, "Practice code: zeros"),
        _f("instellingscode", 55, 8, N, "Sender: the IGO's AGB code (zorgsoort 53) as institution code (our choice)"),
        _f("identificatiecode_betaling_aan", 63, 2, N, "Pay-to code (COD833): zeros, value unverified"),
        _f("begindatum_declaratieperiode", 65, 8, N, "Claim period start, YYYYMMDD"),
        _f("einddatum_declaratieperiode", 73, 8, N, "Claim period end, YYYYMMDD"),
        _f("factuurnummer_declarant", 81, 12, AN, "Invoice number = batch id"),
        _f("dagtekening_factuur", 93, 8, N, "Invoice date = batch creation date, YYYYMMDD"),
        _f("btw_identificatienummer", 101, 14, AN, "VAT id: blank (birth care is VAT-exempt)"),
        _f("valutacode", 115, 3, AN, "Currency: EUR"),
        _f("reserve", 118, 193, AN, "Reserve: blank"),
    ),
)

INSURED = RecordLayout(
    "02",
    "Verzekerdenrecord (insured person)",
    CLAIM_RECORD_LENGTH,
    (
        _f("kenmerk_record", 1, 2, N, "Record type, always 02"),
        _f("identificatie_detailrecord", 3, 12, N, "Sequence number of this detail record in the file (1, 2, ...)"),
        _f("bsn", 15, 9, N, "BSN of the insured person (11-test)"),
        _f("uzovi", 24, 4, N, "UZOVI code of the insurer, same as the header"),
        _f("verzekerdennummer", 28, 15, AN, "Insurer's member number: blank (BSN identifies)"),
        _f("patientnummer", 43, 11, AN, "Patient number: blank"),
        _f("datum_geboorte", 54, 8, N, "Birth date YYYYMMDD, 00000000 when not given"),
        _f("reserve", 62, 249, AN, "Reserve: blank (names and address are not sent by Integraal)"),
    ),
)

PERFORMANCE = RecordLayout(
    "04",
    "Prestatierecord (performance line)",
    CLAIM_RECORD_LENGTH,
    (
        _f("kenmerk_record", 1, 2, N, "Record type, always 04"),
        _f("identificatie_detailrecord", 3, 12, N, "Sequence number of this detail record in the file"),
        _f("bsn", 15, 9, N, "BSN of the insured person, same as the preceding 02 record"),
        _f("uzovi", 24, 4, N, "UZOVI code of the insurer, same as the header"),
        _f("verzekerdennummer", 28, 15, AN, "Insurer's member number: blank"),
        _f("machtigingsnummer", 43, 15, AN, "Authorisation number: blank"),
        _f("doorsturen_toegestaan", 58, 1, N, "Forwarding allowed: 1 (COD954 8179)"),
        _f("begindatum_prestatie", 59, 8, N, "Service start date, YYYYMMDD (estimated position)"),
        _f("einddatum_prestatie", 67, 8, N, "Service end date, YYYYMMDD (estimated position)"),
        _f(
            "prestatiecode",
            75,
            24,
            AN,
            "Prestatie code: 24 positions (our choice, from the reserve) so the catalogue's codes fit until the "
            "real 6-position Vektis codes are known",
        ),
        _f("aantal_uitgevoerde_prestaties", 99, 6, N, "Quantity in hundredths (hours for kraamzorg), estimated"),
        _f("declaratiebedrag", 105, 8, N, "Claimed amount in cents, unsigned"),
        _f("indicatie_debet_credit", 113, 1, AN, "D = debit, C = credit (COD043)"),
        _f("referentienummer_dit_prestatierecord", 114, 20, AN, "Stable line id"),
        _f("referentienummer_voorgaande_prestatierecord", 134, 20, AN, "Line id this credit/replacement refers to"),
        _f("reserve", 154, 157, AN, "Reserve: blank"),
    ),
)

COMMENT = RecordLayout(
    "98",
    "Commentaarrecord (comment)",
    CLAIM_RECORD_LENGTH,
    (
        _f("kenmerk_record", 1, 2, N, "Record type, always 98"),
        _f("identificatie_detailrecord", 3, 12, N, "Sequence number of this detail record in the file"),
        _f("regelnummer_vrije_tekst", 15, 4, N, "Line number of the free text under its performance record: 1, 2, ..."),
        _f("vrije_tekst", 19, 140, AN, "Free text (ASCII)"),
        _f("reserve", 159, 152, AN, "Reserve: blank"),
    ),
)

CLOSING = RecordLayout(
    "99",
    "Sluitrecord (closing record)",
    CLAIM_RECORD_LENGTH,
    (
        _f("kenmerk_record", 1, 2, N, "Record type, always 99"),
        _f("aantal_verzekerdenrecords", 3, 6, N, "Number of 02 records"),
        _f("aantal_debiteurrecords", 9, 6, N, "Number of 03 records: always 0 (no debtor record in v3.2)"),
        _f("aantal_prestatierecords", 15, 6, N, "Number of 04 records"),
        _f("aantal_commentaarrecords", 21, 6, N, "Number of 98 records"),
        _f("totaal_aantal_detailrecords", 27, 7, N, "Number of all records except 01 and 99"),
        _f("totaal_declaratiebedrag", 34, 11, N, "Net claimed amount in cents (debits minus credits), unsigned"),
        _f("indicatie_debet_credit", 45, 1, AN, "Sign of the total: D or C"),
        _f("reserve", 46, 265, AN, "Reserve: blank"),
    ),
)

CLAIM_LAYOUTS: Mapping[str, RecordLayout] = {r.record_type: r for r in (HEADER, INSURED, PERFORMANCE, COMMENT, CLOSING)}


def _codes(start: int) -> tuple[Field, ...]:
    return tuple(
        _f(f"retourcode_{i + 1:02d}", start + 4 * i, 4, AN, f"Return code ({i + 1:02d}), COD954; blank if none")
        for i in range(MAX_RETURN_CODES)
    )


# --- KZ302-style return layouts (370 = the claim record + 60 return positions) -----------------------------

RETURN_LAYOUTS: Mapping[str, RecordLayout] = {
    "01": HEADER.extended(
        (
            _f("referentienummer_zorgverzekeraar", 311, 24, AN, "Insurer's reference for this return"),
            _f("dagtekening_retourbericht", 335, 8, N, "Date of the return message, YYYYMMDD"),
            *_codes(343),
            _f("reserve_retour", 355, 16, AN, "Reserve: blank"),
        ),
        RETURN_RECORD_LENGTH,
    ),
    "02": INSURED.extended((*_codes(311), _f("reserve_retour", 323, 48, AN, "Reserve: blank")), RETURN_RECORD_LENGTH),
    "04": PERFORMANCE.extended(
        (
            _f("berekend_bedrag_zorgverzekeraar", 311, 8, N, "Amount the insurer calculated, cents"),
            _f("indicatie_debet_credit_berekend", 319, 1, AN, "D or C for the calculated amount"),
            _f("toegekend_bedrag", 320, 8, N, "Amount awarded, cents"),
            _f("indicatie_debet_credit_toegekend", 328, 1, AN, "D or C for the awarded amount"),
            *_codes(329),
            _f("reserve_retour", 341, 30, AN, "Reserve: blank"),
        ),
        RETURN_RECORD_LENGTH,
    ),
    "98": COMMENT.extended((_f("reserve_retour", 311, 60, AN, "Reserve: blank"),), RETURN_RECORD_LENGTH),
    "99": CLOSING.extended(
        (
            _f("totaal_toegekend_bedrag", 311, 11, N, "Net awarded amount in cents, unsigned (estimated field)"),
            _f("indicatie_debet_credit_toegekend", 322, 1, AN, "Sign of the awarded total: D or C"),
            _f("reserve_retour", 323, 48, AN, "Reserve: blank"),
        ),
        RETURN_RECORD_LENGTH,
    ),
}

#: Fields whose value is fixed in Integraal's dialect; reading anything else is a ``FieldValueError``.
CONSTANTS: Mapping[str, Mapping[str, str]] = {
    "01": {
        "code_ei_bericht": EI_MESSAGE_CODE,
        "versienummer": VERSION,
        "subversienummer": SUBVERSION,
        "soort_bericht": MESSAGE_KIND,
        "code_informatiesysteem": "000000",
        "versie_informatiesysteem": SOFTWARE_VERSION,
        "code_servicebureau": "00000000",
        "zorgverlenerscode": "00000000",
        "praktijkcode": "00000000",
        "identificatiecode_betaling_aan": "00",
        "btw_identificatienummer": "",
        "valutacode": CURRENCY,
    },
    "02": {"verzekerdennummer": "", "patientnummer": ""},
    "04": {"verzekerdennummer": "", "machtigingsnummer": "", "doorsturen_toegestaan": "1"},
    "98": {},
    "99": {"aantal_debiteurrecords": "000000"},
}


# --- writing -------------------------------------------------------------------------------------------------


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


# --- reading -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Record:
    line: int
    layout: RecordLayout
    values: Mapping[str, str]

    def error_at(self, name: str, message: str, kind: type[FormatError] = FieldValueError) -> FormatError:
        return kind(message, line=self.line, column=self.layout.field(name).start, field=name)


@dataclass(slots=True)
class _Performance:
    record: _Record
    comments: list[_Record] = field(default_factory=list)


@dataclass(slots=True)
class _Insured:
    record: _Record
    lines: list[_Performance] = field(default_factory=list)


@dataclass(slots=True)
class _File:
    header: _Record
    insured: list[_Insured]
    closing: _Record


def _misplaced(record: _Record, message: str) -> StructureError:
    return StructureError(message, line=record.line, column=1, field="kenmerk_record")


def _parse(data: bytes, layouts: Mapping[str, RecordLayout], record_length: int) -> _File:
    """Records → structure, with every per-record and structural check; amounts are checked by the caller."""
    texts = split_records(data, record_length)
    records: list[_Record] = []
    for number, text in enumerate(texts, 1):
        layout = record_type(text, number, layouts)
        values = layout.parse(text, number)
        record = _Record(number, layout, values)
        for name, expected in CONSTANTS[layout.record_type].items():
            if values[name] != expected:
                raise record.error_at(name, f"expected {expected!r} in Integraal's KZ dialect, found {values[name]!r}")
        records.append(record)
    first = records[0]
    if first.layout.record_type != "01":
        raise StructureError("the first record must be the header (01)", line=1, column=1, field="kenmerk_record")
    insured: list[_Insured] = []
    closing: _Record | None = None
    sequence = 0
    for record in records[1:]:
        kind = record.layout.record_type
        if closing is not None:
            raise _misplaced(record, "record after the closing record (99)")
        if kind == "01":
            raise _misplaced(record, "a second header record (01)")
        if kind in ("02", "99") and insured and not insured[-1].lines:
            raise _misplaced(record, "insured person (02) without a performance record (04)")
        if kind == "99":
            closing = record
            continue
        if kind == "04" and not insured:
            raise _misplaced(record, "performance record (04) before any insured person (02)")
        if kind == "98" and (not insured or not insured[-1].lines):
            raise _misplaced(record, "comment (98) must follow a performance record (04)")
        sequence += 1
        if int(record.values["identificatie_detailrecord"]) != sequence:
            raise record.error_at("identificatie_detailrecord", f"expected detail record number {sequence}")
        if kind == "02":
            insured.append(_Insured(record))
        elif kind == "04":
            insured[-1].lines.append(_Performance(record))
        else:  # 98
            comments = insured[-1].lines[-1].comments
            number = len(comments) + 1
            if int(record.values["regelnummer_vrije_tekst"]) != number:
                raise record.error_at("regelnummer_vrije_tekst", f"expected comment line number {number}")
            comments.append(record)
    if closing is None:
        raise TruncatedFileError("no closing record (99): the file is truncated", line=len(records) + 1, column=1)
    counts = {
        "aantal_verzekerdenrecords": len(insured),
        "aantal_prestatierecords": sum(len(i.lines) for i in insured),
        "aantal_commentaarrecords": sum(len(p.comments) for i in insured for p in i.lines),
        "totaal_aantal_detailrecords": sequence,
    }
    for name, actual in counts.items():
        if int(closing.values[name]) != actual:
            raise closing.error_at(
                name, f"closing record says {int(closing.values[name])}, file has {actual}", CountMismatchError
            )
    return _File(first, insured, closing)


def _date(record: _Record, name: str, *, optional: bool = False) -> date | None:
    raw = record.values[name]
    if optional and raw == "00000000":
        return None
    try:
        return date(int(raw[:4]), int(raw[4:6]), int(raw[6:]))
    except ValueError:
        raise record.error_at(name, f"{raw!r} is not a date (YYYYMMDD)") from None


def _required_date(record: _Record, name: str) -> date:
    day = _date(record, name)
    assert day is not None  # not optional, so _date returned a date or raised
    return day


def _sign(record: _Record, name: str) -> int:
    value = record.values[name]
    if value not in ("D", "C"):
        raise record.error_at(name, f"debit/credit indicator is {value!r}, expected D or C (COD954 0631)")
    return -1 if value == "C" else 1


def _text(record: _Record, name: str) -> str:
    value = record.values[name]
    if not value or value[0] == " ":
        raise record.error_at(name, "must be filled and start at the first position")
    return value


def _return_codes(record: _Record) -> tuple[str, ...]:
    codes: list[str] = []
    for i in range(MAX_RETURN_CODES):
        name = f"retourcode_{i + 1:02d}"
        value = record.values[name]
        if not value:
            continue
        if len(codes) != i:
            raise record.error_at(name, "return codes must fill the first slots without gaps")
        if len(value) != 4 or not value.isdigit():
            raise record.error_at(name, f"return code {value!r} is not 4 digits (COD954)")
        if value not in return_codes():
            raise record.error_at(name, f"return code {value} is not in the COD954 list")
        codes.append(value)
    return tuple(codes)


def _header_fields(header: _Record) -> tuple[str, str, str, date, date, date]:
    agb = header.values["instellingscode"]
    start = _required_date(header, "begindatum_declaratieperiode")
    end = _required_date(header, "einddatum_declaratieperiode")
    if end < start:
        raise header.error_at("einddatum_declaratieperiode", "claim period ends before it starts (COD954 0021)")
    return (
        agb,
        header.values["uzovi"],
        _text(header, "factuurnummer_declarant"),
        _required_date(header, "dagtekening_factuur"),
        start,
        end,
    )


def _lines(parsed: _File) -> list[tuple[_Insured, _Performance, ClaimBatchLine]]:
    uzovi = parsed.header.values["uzovi"]
    seen: set[str] = set()
    result: list[tuple[_Insured, _Performance, ClaimBatchLine]] = []
    for person in parsed.insured:
        bsn = person.record.values["bsn"]
        if not is_valid_bsn(bsn):
            raise person.record.error_at("bsn", "BSN fails the 11-test (COD954 0435)")
        if person.record.values["uzovi"] != uzovi:
            raise person.record.error_at("uzovi", f"UZOVI differs from the header's {uzovi}")
        birth = _date(person.record, "datum_geboorte", optional=True)
        for performance in person.lines:
            rec = performance.record
            if rec.values["bsn"] != bsn:
                raise rec.error_at("bsn", f"BSN differs from the insured record's (line {person.record.line})")
            if rec.values["uzovi"] != uzovi:
                raise rec.error_at("uzovi", f"UZOVI differs from the header's {uzovi}")
            start = _required_date(rec, "begindatum_prestatie")
            end = _required_date(rec, "einddatum_prestatie")
            if end < start:
                raise rec.error_at("einddatum_prestatie", "service ends before it starts (COD954 8007)")
            line_id = _text(rec, "referentienummer_dit_prestatierecord")
            if line_id in seen:
                raise rec.error_at("referentienummer_dit_prestatierecord", f"line id {line_id!r} appears twice")
            seen.add(line_id)
            sign = _sign(rec, "indicatie_debet_credit")
            original = rec.values["referentienummer_voorgaande_prestatierecord"] or None
            if original is not None:
                _text(rec, "referentienummer_voorgaande_prestatierecord")
            if sign < 0 and original is None:
                raise rec.error_at(
                    "referentienummer_voorgaande_prestatierecord", "a credit must name the line it takes back"
                )
            line = ClaimBatchLine(
                line_id=line_id,
                bsn=bsn,
                prestatie_code=_text(rec, "prestatiecode"),
                service_start=start,
                service_end=end,
                quantity=Decimal(int(rec.values["aantal_uitgevoerde_prestaties"])) / 100,
                amount_cents=int(rec.values["declaratiebedrag"]),
                debit_credit=DebitCredit.CREDIT if sign < 0 else DebitCredit.DEBIT,
                original_line_id=original,
                birth_date=birth,
                comments=tuple(_text(c, "vrije_tekst") for c in performance.comments),
            )
            result.append((person, performance, line))
    return result


def _check_total(closing: _Record, amount: str, indicator: str, actual: int) -> None:
    stated = _sign(closing, indicator) * int(closing.values[amount])
    if stated != actual:
        raise closing.error_at(
            amount, f"closing record total is {stated} cents, the lines sum to {actual}", TotalsMismatchError
        )


def read_claim(data: bytes) -> ClaimBatch:
    """Parse a KZ301-style claim file; raises a ``FormatError`` subclass naming line, column and field."""
    parsed = _parse(data, CLAIM_LAYOUTS, CLAIM_RECORD_LENGTH)
    agb, uzovi, batch_id, created, start, end = _header_fields(parsed.header)
    lines = tuple(line for _, _, line in _lines(parsed))
    _check_total(
        parsed.closing, "totaal_declaratiebedrag", "indicatie_debet_credit", sum(x.signed_cents for x in lines)
    )
    return ClaimBatch(agb, uzovi, batch_id, created, start, end, lines)


def read_return(data: bytes) -> ReturnBatch:
    """Parse a KZ302-style return file; raises a ``FormatError`` subclass naming line, column and field."""
    parsed = _parse(data, RETURN_LAYOUTS, RETURN_RECORD_LENGTH)
    agb, uzovi, batch_id, created, start, end = _header_fields(parsed.header)
    returned: list[ReturnLine] = []
    for person, performance, line in _lines(parsed):
        rec = performance.record
        returned.append(
            ReturnLine(
                line=line,
                calculated_cents=_sign(rec, "indicatie_debet_credit_berekend")
                * int(rec.values["berekend_bedrag_zorgverzekeraar"]),
                awarded_cents=_sign(rec, "indicatie_debet_credit_toegekend") * int(rec.values["toegekend_bedrag"]),
                return_codes=_return_codes(rec),
                insured_return_codes=_return_codes(person.record),
            )
        )
    closing = parsed.closing
    _check_total(
        closing, "totaal_declaratiebedrag", "indicatie_debet_credit", sum(r.line.signed_cents for r in returned)
    )
    _check_total(
        closing, "totaal_toegekend_bedrag", "indicatie_debet_credit_toegekend", sum(r.awarded_cents for r in returned)
    )
    header = parsed.header
    return ReturnBatch(
        sender_agb=agb,
        receiver_uzovi=uzovi,
        batch_id=batch_id,
        creation_date=created,
        period_start=start,
        period_end=end,
        insurer_reference=header.values["referentienummer_zorgverzekeraar"],
        return_date=_required_date(header, "dagtekening_retourbericht"),
        header_return_codes=_return_codes(header),
        lines=tuple(returned),
    )
