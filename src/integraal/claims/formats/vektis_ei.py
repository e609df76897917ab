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
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from itertools import pairwise

import numpy as np
import numpy.typing as npt
import polars as pl

from integraal.claims.batch import (
    LINE_SCHEMA,
    RETURN_SCHEMA,
    ClaimBatch,
    ClaimBatchLine,
    DebitCredit,
    Problem,
    ReturnBatch,
    ReturnLine,
    claim_batch_problems,
    lines_frame,
    lines_from_frame,
    return_lines_frame,
    return_lines_from_frame,
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
    ENCODING,
    RECORD_END,
    Field,
    FieldType,
    Matrix,
    RecordLayout,
    block,
    digit_values,
    is_blank,
    record_matrix,
    record_type,
    render_records,
    split_records,
    text_values,
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


def _code_values(codes: tuple[str, ...]) -> dict[str, str | int]:
    return {f"retourcode_{i + 1:02d}": code for i, code in enumerate(codes)}


# Checks of whole columns. They may suspect a line the exact checks (``claim_batch_problems``, ``_format_problems``,
# ``_return_problems``) accept -- then those run on objects and decide -- but never pass one they refuse.


def _text_ok(column: str, max_length: int) -> pl.Expr:
    """Filled, printable ASCII, at most ``max_length``, no space at either end (``batch._text_problems``)."""
    pattern = "^[!-~]$" if max_length == 1 else f"^[!-~]([ -~]{{0,{max_length - 2}}}[!-~])?$"
    return pl.col(column).str.contains(pattern).fill_null(False)


def _codes_ok(column: str) -> pl.Expr:
    codes = pl.col(column)
    return (codes.list.len() <= MAX_RETURN_CODES) & codes.list.eval(
        pl.element().str.contains("^[0-9]{4}$").fill_null(False)
    ).list.all()


def _signed(frame: pl.DataFrame) -> pl.Expr:
    return pl.when(pl.col("debit_credit") == "C").then(-pl.col("amount_cents")).otherwise(pl.col("amount_cents"))


def _suspect_lines(frame: pl.DataFrame, creation_date: date, *, check_invoice_dates: bool, returns: bool) -> bool:
    """True unless every line surely passes the line checks of the claim (and return) file."""
    if frame.height == 0:
        return False
    digits = pl.col("bsn").str.contains("^[0-9]{9}$").fill_null(False)
    weights = (9, 8, 7, 6, 5, 4, 3, 2, -1)
    total = pl.sum_horizontal(
        pl.col("bsn").str.slice(i, 1).cast(pl.Int64, strict=False) * w for i, w in enumerate(weights)
    )
    original = pl.col("original_line_id")
    good = [
        _text_ok("line_id", 20),
        _text_ok("prestatie_code", 24),
        digits & (total % 11 == 0) & (total != 0),
        pl.col("service_end") >= pl.col("service_start"),
        pl.col("birth_date").is_null() | (pl.col("birth_date") <= pl.col("service_start")),
        pl.col("amount_cents").is_between(0, MAX_AMOUNT_CENTS),
        pl.col("quantity_hundredths").is_between(0, MAX_QUANTITY_HUNDREDTHS),
        pl.col("debit_credit").is_in(["D", "C"]),
        original.is_null() | _text_ok("original_line_id", 20),
        (pl.col("debit_credit") == "D") | original.is_not_null(),
        pl.col("comments")
        .list.eval(pl.element().str.contains("^[!-~]([ -~]{0,138}[!-~])?$").fill_null(False))
        .list.all(),
    ]
    if check_invoice_dates:
        good.append(pl.col("service_end") <= creation_date)  # the start is not after the end, checked above
    if returns:
        good += [
            pl.col("calculated_cents").abs() <= MAX_AMOUNT_CENTS,
            pl.col("awarded_cents").abs() <= MAX_AMOUNT_CENTS,
            _codes_ok("return_codes"),
            _codes_ok("insured_return_codes"),
        ]
    checked = frame.select(
        pl.all_horizontal(good).fill_null(False).all().alias("good"),
        pl.col("line_id").is_duplicated().any().alias("twice"),
        _signed(frame).sum().abs().alias("total"),
        pl.col("comments").list.len().sum().alias("comments"),
        (pl.col("awarded_cents").sum().abs() if returns else pl.lit(0)).alias("awarded"),
    ).row(0, named=True)
    return bool(
        not checked["good"]
        or checked["twice"]
        or checked["total"] > MAX_TOTAL_CENTS
        or checked["awarded"] > MAX_TOTAL_CENTS
        or frame.height > 999_999
        or (frame.height + checked["comments"]) * 2 > 9_999_999
    )


def _claim_problems(
    header: ClaimBatch, frame: pl.DataFrame, lines: tuple[ClaimBatchLine, ...] | None
) -> tuple[Problem, ...]:
    """Every problem of a claim file (as ``write_claim`` reports them); line objects only for a suspect frame."""
    if not _suspect_lines(frame, header.creation_date, check_invoice_dates=True, returns=False):
        return (*claim_batch_problems(header), *_format_problems(()))
    batch = replace(header, lines=lines_from_frame(frame) if lines is None else lines)
    return (*claim_batch_problems(batch), *_format_problems(batch.lines))


def _ymd_of(column: str) -> pl.Expr:
    """YYYYMMDD of a date column, 00000000 for null (as ``_ymd``)."""
    day = pl.col(column)
    text = pl.concat_str(
        day.dt.year().cast(pl.String).str.pad_start(4, "0"),
        day.dt.month().cast(pl.String).str.pad_start(2, "0"),
        day.dt.day().cast(pl.String).str.pad_start(2, "0"),
    )
    return pl.when(day.is_null()).then(pl.lit("00000000")).otherwise(text)


def _dc_of(cents: pl.Expr) -> pl.Expr:
    return pl.when(cents < 0).then(pl.lit(DebitCredit.CREDIT.value)).otherwise(pl.lit(DebitCredit.DEBIT.value))


def _code_exprs(column: str) -> dict[str, pl.Expr]:
    return {f"retourcode_{i + 1:02d}": pl.col(column).list.get(i, null_on_oob=True) for i in range(MAX_RETURN_CODES)}


def _constants(kind: str) -> dict[str, pl.Expr]:
    return {name: pl.lit(value) for name, value in CONSTANTS[kind].items()}


def _body(
    layouts: Mapping[str, RecordLayout], frame: pl.DataFrame, uzovi: str, returns: bool
) -> tuple[str, dict[str, str | int]]:
    """Insured/performance/comment records, as ``RECORD_END``-joined text, and the closing record's counts.

    A new 02 starts whenever the insured person (or her codes) change, so the order of the lines is kept exactly
    and reading gives back the same sequence."""
    changed = pl.col("bsn").ne_missing(pl.col("bsn").shift(1)) | pl.col("birth_date").ne_missing(
        pl.col("birth_date").shift(1)
    )
    if returns:
        insured_codes = pl.col("insured_return_codes").list.join(" ")
        changed = changed | insured_codes.ne_missing(insured_codes.shift(1))
    lines = frame.with_columns(
        changed.fill_null(True).alias("_new"),
        pl.col("comments").list.len().cast(pl.Int64).alias("_comments"),
    )
    if lines.height:
        lines = lines.with_columns(pl.col("_new").cast(pl.Int64).alias("_new"))
    else:
        lines = lines.with_columns(pl.lit(0, dtype=pl.Int64).alias("_new"))
    records = pl.col("_new") + 1 + pl.col("_comments")
    lines = lines.with_columns((records.cum_sum() - records).alias("_before"))
    lines = lines.with_columns(
        (pl.col("_before") + 1).alias("_insured_seq"), (pl.col("_before") + pl.col("_new") + 1).alias("_seq")
    )
    uz = pl.lit(uzovi)
    people = lines.filter(pl.col("_new") == 1)
    insured_values = {
        **_constants("02"),
        "identificatie_detailrecord": pl.col("_insured_seq"),
        "bsn": pl.col("bsn"),
        "uzovi": uz,
        "datum_geboorte": _ymd_of("birth_date"),
        **(_code_exprs("insured_return_codes") if returns else {}),
    }
    performance_values = {
        **_constants("04"),
        "identificatie_detailrecord": pl.col("_seq"),
        "bsn": pl.col("bsn"),
        "uzovi": uz,
        "begindatum_prestatie": _ymd_of("service_start"),
        "einddatum_prestatie": _ymd_of("service_end"),
        "prestatiecode": pl.col("prestatie_code"),
        "aantal_uitgevoerde_prestaties": pl.col("quantity_hundredths"),
        "declaratiebedrag": pl.col("amount_cents"),
        "indicatie_debet_credit": pl.col("debit_credit"),
        "referentienummer_dit_prestatierecord": pl.col("line_id"),
        "referentienummer_voorgaande_prestatierecord": pl.col("original_line_id"),
    }
    if returns:
        performance_values |= {
            "berekend_bedrag_zorgverzekeraar": pl.col("calculated_cents").abs(),
            "indicatie_debet_credit_berekend": _dc_of(pl.col("calculated_cents")),
            "toegekend_bedrag": pl.col("awarded_cents").abs(),
            "indicatie_debet_credit_toegekend": _dc_of(pl.col("awarded_cents")),
            **_code_exprs("return_codes"),
        }
    parts = [
        pl.DataFrame({"seq": people["_insured_seq"], "record": render_records(layouts["02"], people, insured_values)}),
        pl.DataFrame({"seq": lines["_seq"], "record": render_records(layouts["04"], lines, performance_values)}),
    ]
    comments = (
        lines.filter(pl.col("_comments") > 0)
        .select("_seq", "comments")
        .with_columns(pl.int_ranges(1, pl.col("comments").list.len() + 1).alias("_number"))
        .explode("comments", "_number")
    )
    if comments.height:
        comments = comments.with_columns((pl.col("_seq") + pl.col("_number")).alias("_seq"))
        comment_values = {
            "identificatie_detailrecord": pl.col("_seq"),
            "regelnummer_vrije_tekst": pl.col("_number"),
            "vrije_tekst": pl.col("comments"),
        }
        parts.append(
            pl.DataFrame({"seq": comments["_seq"], "record": render_records(layouts["98"], comments, comment_values)})
        )
    body = pl.concat(parts).sort("seq")["record"]
    counts: dict[str, str | int] = {
        "aantal_verzekerdenrecords": people.height,
        "aantal_debiteurrecords": 0,
        "aantal_prestatierecords": lines.height,
        "aantal_commentaarrecords": comments.height,
        "totaal_aantal_detailrecords": body.len(),
    }
    return _joined(body), counts


def _joined(records: pl.Series) -> str:
    """The records, each followed by ``RECORD_END``."""
    return (records + RECORD_END).str.join("")[0] if records.len() else ""


def _file(header: str, body: str, closing: str) -> bytes:
    return (header + RECORD_END + body + closing + RECORD_END).encode(ENCODING)


def write_claim_frame(header: ClaimBatch, frame: pl.DataFrame) -> bytes:
    """The KZ301-style claim file for the batch ``header`` (its own ``lines`` left empty) and the lines in
    ``frame`` (:data:`~integraal.claims.batch.LINE_SCHEMA`, in file order); byte for byte what
    :func:`write_claim` makes of the same lines. Raises ``BatchNotWritableError`` listing every problem."""
    return _write_claim(header, frame, None)


def _write_claim(header: ClaimBatch, frame: pl.DataFrame, lines: tuple[ClaimBatchLine, ...] | None) -> bytes:
    if header.lines:
        raise ValueError("the header of a frame batch carries no lines; they are in the frame")
    problems = _claim_problems(header, frame, lines)
    if problems:
        raise BatchNotWritableError("kz301", problems)
    body, counts = _body(CLAIM_LAYOUTS, frame, header.receiver_uzovi, returns=False)
    total = int(frame.select(_signed(frame).sum()).item() or 0)
    closing: dict[str, str | int] = {
        **counts,
        "totaal_declaratiebedrag": abs(total),
        "indicatie_debet_credit": _dc(total),
    }
    return _file(HEADER.render(_header_values(header)), body, CLAIM_LAYOUTS["99"].render(closing))


def write_claim(batch: ClaimBatch) -> bytes:
    """The KZ301-style claim file for ``batch``; raises ``BatchNotWritableError`` listing every problem."""
    return _write_claim(replace(batch, lines=()), lines_frame(batch.lines), batch.lines)


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


def _as_claim(batch: ReturnBatch) -> ClaimBatch:
    return ClaimBatch(
        batch.sender_agb,
        batch.receiver_uzovi,
        batch.batch_id,
        batch.creation_date,
        batch.period_start,
        batch.period_end,
        tuple(r.line for r in batch.lines),
    )


def _all_return_problems(batch: ReturnBatch) -> tuple[Problem, ...]:
    # The insurer echoes lines as it received them; service dates after the invoice date (8177/8178) are its
    # verdict on the claim, not a reason to refuse writing the return.
    as_claim = _as_claim(batch)
    claim_problems = claim_batch_problems(as_claim, check_invoice_dates=False)
    return (*claim_problems, *_format_problems(as_claim.lines), *_return_problems(batch))


def write_return_frame(header: ReturnBatch, frame: pl.DataFrame) -> bytes:
    """The KZ302-style return file for the return ``header`` (its own ``lines`` left empty) and the lines in
    ``frame`` (:data:`~integraal.claims.batch.RETURN_SCHEMA`, in file order); byte for byte what
    :func:`write_return` makes of the same lines. Raises ``BatchNotWritableError`` listing every problem."""
    return _write_return(header, frame, None)


def _write_return(header: ReturnBatch, frame: pl.DataFrame, lines: tuple[ReturnLine, ...] | None) -> bytes:
    if header.lines:
        raise ValueError("the header of a frame batch carries no lines; they are in the frame")
    if _suspect_lines(frame, header.creation_date, check_invoice_dates=False, returns=True):
        objects = return_lines_from_frame(frame) if lines is None else lines
        problems = _all_return_problems(replace(header, lines=objects))
    else:
        problems = _all_return_problems(header)
    if problems:
        raise BatchNotWritableError("kz302", tuple(problems))
    first = {
        **_header_values(header),
        "referentienummer_zorgverzekeraar": header.insurer_reference,
        "dagtekening_retourbericht": _ymd(header.return_date),
        **_code_values(header.header_return_codes),
    }
    body, counts = _body(RETURN_LAYOUTS, frame, header.receiver_uzovi, returns=True)
    claimed, awarded = frame.select(_signed(frame).sum(), pl.col("awarded_cents").sum()).row(0)
    claimed, awarded = int(claimed or 0), int(awarded or 0)
    closing = {
        **counts,
        "totaal_declaratiebedrag": abs(claimed),
        "indicatie_debet_credit": _dc(claimed),
        "totaal_toegekend_bedrag": abs(awarded),
        "indicatie_debet_credit_toegekend": _dc(awarded),
    }
    return _file(RETURN_LAYOUTS["01"].render(first), body, RETURN_LAYOUTS["99"].render(closing))


def write_return(batch: ReturnBatch) -> bytes:
    """The KZ302-style return file for ``batch``; raises ``BatchNotWritableError`` listing every problem."""
    return _write_return(replace(batch, lines=()), return_lines_frame(batch.lines), batch.lines)


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


def _read_claim_records(data: bytes) -> ClaimBatch:
    """Record by record, every check in file order: what says exactly where a bad file is wrong."""
    parsed = _parse(data, CLAIM_LAYOUTS, CLAIM_RECORD_LENGTH)
    agb, uzovi, batch_id, created, start, end = _header_fields(parsed.header)
    lines = tuple(line for _, _, line in _lines(parsed))
    _check_total(
        parsed.closing, "totaal_declaratiebedrag", "indicatie_debet_credit", sum(x.signed_cents for x in lines)
    )
    return ClaimBatch(agb, uzovi, batch_id, created, start, end, lines)


def _read_return_records(data: bytes) -> ReturnBatch:
    """Record by record, every check in file order: what says exactly where a bad file is wrong."""
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
    return _return_batch(parsed.header, (agb, uzovi, batch_id, created, start, end), tuple(returned))


def _return_batch(
    header: _Record, fields: tuple[str, str, str, date, date, date], lines: tuple[ReturnLine, ...]
) -> ReturnBatch:
    """A return batch from its header record (``fields``: what ``_header_fields`` read of it) and its lines."""
    agb, uzovi, batch_id, created, start, end = fields
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
        lines=lines,
    )


# --- reading whole columns ---------------------------------------------------------------------------------------
# A file that passes every check below is read column by column; one that does not (or that these checks cannot
# vouch for) is read record by record above, which raises the error naming line, column and field. The checks
# below may refuse a file the record reader accepts, never the other way round (tests/unit/claims compare both).

_DC = np.array([ord("D"), ord("C")], dtype=np.uint8)
_BSN_WEIGHTS = np.array([9, 8, 7, 6, 5, 4, 3, 2, -1], dtype=np.int64)
_DAYS_IN_MONTH = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)
_PREVIOUS = {2: (1, 4, 98), 4: (2, 4, 98), 98: (4, 98), 99: (1, 4, 98)}  # kinds a record may follow


def _valid_days(values: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    """Per YYYYMMDD number: a real date (as ``datetime.date`` accepts it)."""
    year, rest = np.divmod(values, 10_000)
    month, day = np.divmod(rest, 100)
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    last = _DAYS_IN_MONTH[np.clip(month, 0, 12)] + (leap & (month == 2))
    valid: npt.NDArray[np.bool_] = (year >= 1) & (month >= 1) & (month <= 12) & (day >= 1) & (day <= last)
    return valid


def _days(values: npt.NDArray[np.int64]) -> pl.Series:
    """Valid YYYYMMDD numbers as a date column, 0 as null (days from the civil date, proleptic Gregorian)."""
    year, rest = np.divmod(values, 10_000)
    month, day = np.divmod(rest, 100)
    year = year - (month <= 2)
    era = year // 400
    of_era = year - era * 400
    of_year = (153 * (month + np.where(month > 2, -3, 9)) + 2) // 5 + day - 1
    days = era * 146_097 + of_era * 365 + of_era // 4 - of_era // 100 + of_year - 719_468
    frame = pl.DataFrame({"days": days, "given": values != 0})
    return frame.select(pl.when(pl.col("given")).then(pl.col("days").cast(pl.Int32).cast(pl.Date))).to_series()


def _first_filled(positions: Matrix) -> npt.NDArray[np.bool_]:
    """Per row: the text starts at the first position (so it is also not empty), as ``_text`` demands."""
    result: npt.NDArray[np.bool_] = positions[:, 0] != ord(" ")
    return result


@dataclass(frozen=True, slots=True)
class _Columns:
    header: _Record
    closing: _Record
    lines: pl.DataFrame


def _fields_ok(rows: Matrix, layout: RecordLayout) -> bool:
    """The checks of ``RecordLayout.parse`` and of ``CONSTANTS`` on every row of one record type."""
    constants = CONSTANTS[layout.record_type]
    for f in layout.fields:
        positions = block(rows, f)
        if f.type is FieldType.N and digit_values(positions) is None:
            return False
        if f.is_reserve and not is_blank(positions).all():
            return False
        if f.name in constants:
            expected = constants[f.name]
            if f.type is FieldType.AN:
                expected = expected.ljust(f.length)
            if len(expected) != f.length or not (positions == np.frombuffer(expected.encode(), np.uint8)).all():
                return False
    return True


def _codes_column(rows: Matrix, layout: RecordLayout) -> pl.Series | None:
    """The return codes of every row (a list each), or ``None`` unless ``_return_codes`` accepts them all.

    Most lines of a return have no code: the lists are made for the rows that have one and every other row gets
    an empty list (a list per row of the whole file costs twenty times more)."""
    known = np.array(sorted(int(code) for code in return_codes()), dtype=np.int64)
    blocks = [block(rows, layout.field(f"retourcode_{i + 1:02d}")) for i in range(MAX_RETURN_CODES)]
    filled = [~is_blank(positions) for positions in blocks]
    for before, after in pairwise(filled):
        if (after & ~before).any():
            return None  # a gap before a filled slot
    for positions, mask in zip(blocks, filled, strict=True):
        numbers = digit_values(positions[mask])
        if numbers is None or not np.isin(numbers, known).all():
            return None
    coded = np.flatnonzero(filled[0])  # no gaps: a row with a code has one in the first slot
    lists = pl.DataFrame(
        [pl.Series(f"slot{i}", text_values(positions[coded])).replace("", None) for i, positions in enumerate(blocks)]
    ).select(pl.Series("row", coded, dtype=pl.Int64), pl.concat_list(pl.all()).list.drop_nulls().alias("codes"))
    every = pl.DataFrame({"row": pl.int_range(0, rows.shape[0], dtype=pl.Int64, eager=True)})
    return (
        every.join(lists, on="row", how="left", maintain_order="left")
        .select(pl.col("codes").fill_null(pl.lit([], dtype=pl.List(pl.String))))
        .to_series()
    )


def _read_columns(data: bytes, layouts: Mapping[str, RecordLayout], record_length: int) -> _Columns | None:
    """The file's lines as a frame (:data:`LINE_SCHEMA`, or :data:`RETURN_SCHEMA` for a return) with its header
    and closing record, or ``None`` when any check fails: then the record reader must say why."""
    matrix = record_matrix(data, record_length)
    if matrix is None or matrix.shape[0] < 2:
        return None
    kinds = digit_values(matrix[:, :2])
    if kinds is None or kinds[0] != 1 or kinds[-1] != 99 or not np.isin(kinds[1:-1], (2, 4, 98)).all():
        return None
    for kind, allowed in _PREVIOUS.items():
        if not np.isin(kinds[:-1][kinds[1:] == kind], allowed).all():
            return None
    try:
        header, closing = (_record_of(matrix, index, layouts) for index in (0, matrix.shape[0] - 1))
        uzovi = _header_fields(header)[1]
    except FormatError:
        return None
    returns = layouts is RETURN_LAYOUTS
    detail, detail_kinds = matrix[1:-1], kinds[1:-1]
    rows = {kind: detail[detail_kinds == kind] for kind in (2, 4, 98)}
    for kind, selected in rows.items():
        if not _fields_ok(selected, layouts[f"{kind:02d}"]):
            return None
    number = digit_values(block(detail, INSURED.field("identificatie_detailrecord")))
    if number is None or not (number == np.arange(1, detail.shape[0] + 1)).all():
        return None
    position = np.arange(detail.shape[0])
    owner = np.maximum.accumulate(np.where(detail_kinds == 4, position, -1))  # the 04 above each record
    person = np.maximum.accumulate(np.where(detail_kinds == 2, position, -1))  # the 02 above each record
    comment = COMMENT.field("regelnummer_vrije_tekst")
    comment_numbers = digit_values(block(rows[98], comment))
    if comment_numbers is None or not (comment_numbers == (position - owner)[detail_kinds == 98]).all():
        return None
    counts = {
        "aantal_verzekerdenrecords": rows[2].shape[0],
        "aantal_prestatierecords": rows[4].shape[0],
        "aantal_commentaarrecords": rows[98].shape[0],
        "totaal_aantal_detailrecords": detail.shape[0],
    }
    if any(int(closing.values[name]) != actual for name, actual in counts.items()):
        return None
    people, lines = rows[2], rows[4]
    uzovi_bytes = np.frombuffer(uzovi.encode(), np.uint8)
    bsn = INSURED.field("bsn")
    bsn_digits = block(people, bsn).astype(np.int64) - ord("0")
    total = bsn_digits @ _BSN_WEIGHTS
    if not ((total % 11 == 0) & (total != 0)).all():
        return None
    births = digit_values(block(people, INSURED.field("datum_geboorte")))
    if births is None or not ((births == 0) | _valid_days(births)).all():
        return None
    for selected, layout in ((people, INSURED), (lines, PERFORMANCE)):
        if not (block(selected, layout.field("uzovi")) == uzovi_bytes).all():
            return None
    person_of_line = person[detail_kinds == 4]  # index into detail
    person_rows = np.searchsorted(np.flatnonzero(detail_kinds == 2), person_of_line)  # index into people
    if (person_of_line < 0).any() or not (block(lines, bsn) == block(people, bsn)[person_rows]).all():
        return None
    f = PERFORMANCE.field
    starts = digit_values(block(lines, f("begindatum_prestatie")))
    ends = digit_values(block(lines, f("einddatum_prestatie")))
    if starts is None or ends is None or not (_valid_days(starts) & _valid_days(ends) & (ends >= starts)).all():
        return None
    line_ids = block(lines, f("referentienummer_dit_prestatierecord"))
    originals = block(lines, f("referentienummer_voorgaande_prestatierecord"))
    no_original = is_blank(originals)
    signs = block(lines, f("indicatie_debet_credit"))[:, 0]
    if not (
        _first_filled(line_ids).all()
        and _first_filled(block(lines, f("prestatiecode"))).all()
        and (no_original | _first_filled(originals)).all()
        and np.isin(signs, _DC).all()
        and not (no_original & (signs == ord("C"))).any()
        and _first_filled(block(rows[98], COMMENT.field("vrije_tekst"))).all()
    ):
        return None
    ids = text_values(line_ids)
    if ids.is_duplicated().any():
        return None
    amounts = digit_values(block(lines, f("declaratiebedrag")))
    quantities = digit_values(block(lines, f("aantal_uitgevoerde_prestaties")))
    assert amounts is not None and quantities is not None  # N fields, checked above
    signed = np.where(signs == ord("C"), -amounts, amounts)
    frame = pl.DataFrame(
        {
            "line_id": ids,
            "bsn": text_values(block(lines, bsn)),
            "prestatie_code": text_values(block(lines, f("prestatiecode"))),
            "service_start": _days(starts),
            "service_end": _days(ends),
            "quantity_hundredths": quantities,
            "amount_cents": amounts,
            "debit_credit": text_values(block(lines, f("indicatie_debet_credit"))),
            "original_line_id": text_values(originals).replace("", None),
            "birth_date": _days(births[person_rows]),
        }
    )
    if rows[98].shape[0]:
        texts = pl.DataFrame(
            {
                "_line": np.searchsorted(np.flatnonzero(detail_kinds == 4), owner[detail_kinds == 98]),
                "comments": text_values(block(rows[98], COMMENT.field("vrije_tekst"))),
            }
        )
        per_line = texts.group_by("_line", maintain_order=True).agg(pl.col("comments"))
        frame = (
            frame.with_row_index("_line")
            .with_columns(pl.col("_line").cast(pl.Int64))
            .join(per_line.with_columns(pl.col("_line").cast(pl.Int64)), on="_line", how="left", maintain_order="left")
            .drop("_line")
        )
    else:
        frame = frame.with_columns(pl.lit([], dtype=pl.List(pl.String)).alias("comments"))
    try:
        _check_total(closing, "totaal_declaratiebedrag", "indicatie_debet_credit", int(signed.sum()))
    except FormatError:
        return None
    if returns:
        layout = layouts["04"]
        answers: dict[str, npt.NDArray[np.int64]] = {}
        for amount, indicator in (
            ("berekend_bedrag_zorgverzekeraar", "indicatie_debet_credit_berekend"),
            ("toegekend_bedrag", "indicatie_debet_credit_toegekend"),
        ):
            sign = block(lines, layout.field(indicator))[:, 0]
            value = digit_values(block(lines, layout.field(amount)))
            if value is None or not np.isin(sign, _DC).all():
                return None
            answers[amount] = np.where(sign == ord("C"), -value, value)
        line_codes = _codes_column(lines, layout)
        person_codes = _codes_column(people, layouts["02"])
        if line_codes is None or person_codes is None:
            return None
        try:
            _return_codes(header)
            _required_date(header, "dagtekening_retourbericht")
            _check_total(
                closing,
                "totaal_toegekend_bedrag",
                "indicatie_debet_credit_toegekend",
                int(answers["toegekend_bedrag"].sum()),
            )
        except FormatError:
            return None
        frame = frame.with_columns(
            pl.Series("calculated_cents", answers["berekend_bedrag_zorgverzekeraar"]),
            pl.Series("awarded_cents", answers["toegekend_bedrag"]),
            line_codes.alias("return_codes"),
            person_codes.gather(person_rows).alias("insured_return_codes"),
        )
    schema = RETURN_SCHEMA if returns else LINE_SCHEMA
    return _Columns(header, closing, frame.select(pl.col(name).cast(dtype) for name, dtype in schema.items()))


def _record_of(matrix: Matrix, index: int, layouts: Mapping[str, RecordLayout]) -> _Record:
    """Row ``index`` parsed and checked as ``_parse`` does it (raises its ``FormatError``)."""
    text = matrix[index].tobytes().decode(ENCODING)
    layout = record_type(text, index + 1, layouts)
    record = _Record(index + 1, layout, layout.parse(text, index + 1))
    for name, expected in CONSTANTS[layout.record_type].items():
        if record.values[name] != expected:
            raise record.error_at(name, "not Integraal's dialect")
    return record


def _claim_header(columns: _Columns) -> ClaimBatch:
    agb, uzovi, batch_id, created, start, end = _header_fields(columns.header)
    return ClaimBatch(agb, uzovi, batch_id, created, start, end, ())


def _return_header(columns: _Columns) -> ReturnBatch:
    return _return_batch(columns.header, _header_fields(columns.header), ())


def read_claim_frame(data: bytes) -> tuple[ClaimBatch, pl.DataFrame]:
    """A KZ301-style claim file as its header (a batch without lines) and its lines as a frame of
    :data:`~integraal.claims.batch.LINE_SCHEMA`; raises what :func:`read_claim` raises."""
    columns = _read_columns(data, CLAIM_LAYOUTS, CLAIM_RECORD_LENGTH)
    if columns is None:
        batch = _read_claim_records(data)
        return replace(batch, lines=()), lines_frame(batch.lines)
    return _claim_header(columns), columns.lines


def read_return_frame(data: bytes) -> tuple[ReturnBatch, pl.DataFrame]:
    """A KZ302-style return file as its header (a return without lines) and its lines as a frame of
    :data:`~integraal.claims.batch.RETURN_SCHEMA`; raises what :func:`read_return` raises."""
    columns = _read_columns(data, RETURN_LAYOUTS, RETURN_RECORD_LENGTH)
    if columns is None:
        batch = _read_return_records(data)
        return replace(batch, lines=()), return_lines_frame(batch.lines)
    return _return_header(columns), columns.lines


def read_claim(data: bytes) -> ClaimBatch:
    """Parse a KZ301-style claim file; raises a ``FormatError`` subclass naming line, column and field."""
    columns = _read_columns(data, CLAIM_LAYOUTS, CLAIM_RECORD_LENGTH)
    if columns is None:
        return _read_claim_records(data)
    return replace(_claim_header(columns), lines=lines_from_frame(columns.lines))


def read_return(data: bytes) -> ReturnBatch:
    """Parse a KZ302-style return file; raises a ``FormatError`` subclass naming line, column and field."""
    columns = _read_columns(data, RETURN_LAYOUTS, RETURN_RECORD_LENGTH)
    if columns is None:
        return _read_return_records(data)
    return replace(_return_header(columns), lines=return_lines_from_frame(columns.lines))
