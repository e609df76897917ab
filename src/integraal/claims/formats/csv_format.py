"""Spreadsheet-friendly CSV for claim batches (``csv``) and return batches (``csv-return``).

What this module owns: one row per claim line, carrying the batch columns too, so a back-office clerk can open a
batch or a return in a spreadsheet, filter it and sum it; and reading such a file back exactly. Column tables
and choices are in ``docs/claims-fhir-csv.md``. No files, no network: bytes in, bytes out.

- UTF-8 without BOM on writing (a BOM is accepted on reading, as spreadsheets add one), RFC 4180: comma,
  double quotes, CR LF. A header row with our column names, in our order.
- Dates ISO ``YYYY-MM-DD``. Amounts twice, signed (negative for a credit): ``*_eur`` with a dot and exactly
  two decimals for people and spreadsheet sums, ``*_cents`` as an integer for machines. Reading demands both
  and that they agree, so neither can be edited alone.
- Several comments of a line share one cell, one per line of the cell (a comment never holds a line break).
  Return codes share one cell separated by single spaces.
- Text cells starting with ``= + - @`` or ``'`` are written with a leading ``'`` (spreadsheet formula
  injection); reading removes exactly that one quote again.
- An empty batch is one row with the batch columns filled and every line column empty, so its header survives.

Reading raises only :class:`CsvFormatError` subclasses (all :class:`~integraal.claims.formats.errors.FormatError`)
naming the row (the spreadsheet row: the header is row 1, a record with line breaks inside a cell is still one
row), the column (1-based) and the column name.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
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
    EncodingError,
    FieldValueError,
    FormatError,
    StructureError,
)
from integraal.claims.formats.registry import Format, register
from integraal.domain.identifiers import is_valid_agb, is_valid_bsn, is_valid_uzovi

CLAIM_BATCH_COLUMNS = ("batch_id", "sender_agb", "receiver_uzovi", "creation_date", "period_start", "period_end")
RETURN_BATCH_COLUMNS = (*CLAIM_BATCH_COLUMNS, "insurer_reference", "return_date", "header_return_codes")
LINE_COLUMNS = (
    "line_id",
    "bsn",
    "birth_date",
    "prestatie_code",
    "service_start",
    "service_end",
    "quantity",
    "debit_credit",
    "amount_eur",
    "amount_cents",
    "original_line_id",
    "comments",
)
RETURN_LINE_COLUMNS = (
    "calculated_eur",
    "calculated_cents",
    "awarded_eur",
    "awarded_cents",
    "outcome",
    "return_codes",
    "insured_return_codes",
)
CLAIM_COLUMNS = (*CLAIM_BATCH_COLUMNS, *LINE_COLUMNS)
RETURN_COLUMNS = (*RETURN_BATCH_COLUMNS, *LINE_COLUMNS, *RETURN_LINE_COLUMNS)

_FORMULA_START = "=+-@'"
_EUROS = re.compile(r"-?[0-9]{1,13}\.[0-9]{2}")
_CENTS = re.compile(r"-?[0-9]{1,15}")
_QUANTITY = re.compile(r"[0-9]{1,9}(\.[0-9]{1,2})?")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_CODES = re.compile(r"[0-9]{4}( [0-9]{4})*")


# --- errors ----------------------------------------------------------------------------------------------------


class CsvFormatError(FormatError):
    """A CSV file that does not match the format. ``line`` is the row (header = 1), ``column`` the 1-based
    column and ``field`` the column name where one applies."""

    def __init__(self, message: str, *, line: int, column: int, field: str | None = None) -> None:
        super().__init__(message, line=line, column=column, field=field)
        self.args = (str(self),)

    @property
    def row(self) -> int:
        return self.line

    def __str__(self) -> str:
        name = f" ({self.field})" if self.field else ""
        return f"row {self.line}, column {self.column}{name}: {self.reason}"


class CsvEncodingError(CsvFormatError, EncodingError):
    """Bytes that are not UTF-8. Before decoding there are no rows yet: ``line`` is the text line."""


class CsvHeaderError(CsvFormatError, StructureError):
    """A missing, extra or misnamed column in the header row."""


class CsvStructureError(CsvFormatError, StructureError):
    """Not CSV (bad quoting), a row with the wrong number of cells, no rows, or rows of different batches."""


class CsvFieldError(CsvFormatError, FieldValueError):
    """A cell whose value the column does not allow (date, amount, BSN, code, ...)."""


# --- writing ---------------------------------------------------------------------------------------------------


def _text_cell(value: str) -> str:
    return "'" + value if value[:1] and value[0] in _FORMULA_START else value


def _euros(cents: int) -> str:
    return format(Decimal(cents).scaleb(-2), "f")


def _batch_cells(batch: ClaimBatch | ReturnBatch) -> list[str]:
    return [
        _text_cell(batch.batch_id),
        batch.sender_agb,
        batch.receiver_uzovi,
        batch.creation_date.isoformat(),
        batch.period_start.isoformat(),
        batch.period_end.isoformat(),
    ]


def _line_cells(line: ClaimBatchLine) -> list[str]:
    return [
        _text_cell(line.line_id),
        line.bsn,
        "" if line.birth_date is None else line.birth_date.isoformat(),
        _text_cell(line.prestatie_code),
        line.service_start.isoformat(),
        line.service_end.isoformat(),
        format(line.quantity.quantize(Decimal("0.01")), "f"),
        line.debit_credit.value,
        _euros(line.signed_cents),
        str(line.signed_cents),
        "" if line.original_line_id is None else _text_cell(line.original_line_id),
        _text_cell("\n".join(line.comments)),
    ]


def _csv(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def write_claim(batch: ClaimBatch) -> bytes:
    """The ``csv`` file for ``batch``; raises ``BatchNotWritableError`` listing every problem."""
    problems = claim_batch_problems(batch)
    if problems:
        raise BatchNotWritableError("csv", problems)
    head = _batch_cells(batch)
    rows = [head + _line_cells(line) for line in batch.lines] or [head + [""] * len(LINE_COLUMNS)]
    return _csv(CLAIM_COLUMNS, rows)


def _return_problems(batch: ReturnBatch) -> list[Problem]:
    problems: list[Problem] = []
    ref = batch.insurer_reference
    if ref != ref.strip(" ") or any(not " " <= ch <= "~" for ch in ref):
        problems.append(Problem(None, "insurer_reference", "printable ASCII without outer spaces (may be empty)"))
    groups: list[tuple[str | None, str, tuple[str, ...]]] = [(None, "header_return_codes", batch.header_return_codes)]
    for r in batch.lines:
        lid = r.line.line_id
        groups += [(lid, "return_codes", r.return_codes), (lid, "insured_return_codes", r.insured_return_codes)]
    for where, name, codes in groups:
        if codes and not _CODES.fullmatch(" ".join(codes)):
            problems.append(Problem(where, name, "return codes are 4 digits each (COD954)"))
    return problems


def write_return(batch: ReturnBatch) -> bytes:
    """The ``csv-return`` file for ``batch``; raises ``BatchNotWritableError`` listing every problem."""
    as_claim = ClaimBatch(
        batch.sender_agb,
        batch.receiver_uzovi,
        batch.batch_id,
        batch.creation_date,
        batch.period_start,
        batch.period_end,
        tuple(r.line for r in batch.lines),
    )
    # As in KZ302: the insurer echoes the lines as received; service dates after the invoice date are its verdict.
    problems = (*claim_batch_problems(as_claim, check_invoice_dates=False), *_return_problems(batch))
    if problems:
        raise BatchNotWritableError("csv-return", problems)
    head = [
        *_batch_cells(batch),
        _text_cell(batch.insurer_reference),
        batch.return_date.isoformat(),
        " ".join(batch.header_return_codes),
    ]
    rows = [
        [
            *head,
            *_line_cells(r.line),
            _euros(r.calculated_cents),
            str(r.calculated_cents),
            _euros(r.awarded_cents),
            str(r.awarded_cents),
            r.outcome().value,
            " ".join(r.return_codes),
            " ".join(r.insured_return_codes),
        ]
        for r in batch.lines
    ] or [head + [""] * (len(LINE_COLUMNS) + len(RETURN_LINE_COLUMNS))]
    return _csv(RETURN_COLUMNS, rows)


# --- reading ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Row:
    """One data row: its spreadsheet row number and its cells by column name."""

    number: int
    cells: dict[str, str]
    columns: tuple[str, ...]

    def fail(self, name: str, message: str, kind: type[CsvFormatError] = CsvFieldError) -> CsvFormatError:
        return kind(message, line=self.number, column=self.columns.index(name) + 1, field=name)

    def text(self, name: str) -> str:
        """A text cell with the formula-injection quote removed; empty allowed (checked by the caller)."""
        value = self.cells[name]
        return value[1:] if len(value) > 1 and value[0] == "'" and value[1] in _FORMULA_START else value

    def required(self, name: str) -> str:
        value = self.text(name)
        if not value:
            raise self.fail(name, "must not be empty")
        return value

    def code(self, name: str, valid: bool, what: str) -> str:
        if not valid:
            raise self.fail(name, f"{self.cells[name]!r} is not {what}")
        return self.cells[name]

    def day(self, name: str) -> date:
        value = self.cells[name]
        if not _DATE.fullmatch(value):
            raise self.fail(name, f"{value!r} is not a date (YYYY-MM-DD)")
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise self.fail(name, f"{value!r} is not a date that exists") from None

    def optional_day(self, name: str) -> date | None:
        return None if self.cells[name] == "" else self.day(name)

    def signed_cents(self, euros: str, cents: str) -> int:
        """The amount in the ``euros`` and ``cents`` columns, which must agree exactly."""
        if not _EUROS.fullmatch(self.cells[euros]):
            raise self.fail(euros, f"{self.cells[euros]!r} is not an amount in euros with two decimals (-12.34)")
        if not _CENTS.fullmatch(self.cells[cents]):
            raise self.fail(cents, f"{self.cells[cents]!r} is not a whole number of cents")
        value = int(self.cells[cents])
        if Decimal(self.cells[euros]).scaleb(2) != value:
            raise self.fail(cents, f"{value} cents is not {self.cells[euros]} euros")
        return value

    def codes(self, name: str) -> tuple[str, ...]:
        value = self.cells[name]
        if value and not _CODES.fullmatch(value):
            raise self.fail(name, f"{value!r} is not return codes of 4 digits separated by single spaces")
        return tuple(value.split(" ")) if value else ()


def _records(data: bytes, columns: tuple[str, ...]) -> list[_Row]:
    """Decode, split into records and check the header and the cell count of every row."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise CsvEncodingError(f"byte {exc.start} is not UTF-8", line=line, column=column) from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records: list[list[str]] = []
    try:
        for record in reader:
            records.append(record)
    except csv.Error as exc:
        raise CsvStructureError(f"not CSV: {exc}", line=len(records) + 1, column=1) from None
    if not records:
        raise CsvHeaderError("empty file: the header row is missing", line=1, column=1)
    header = tuple(records[0])
    for index, expected in enumerate(columns):
        found = header[index] if index < len(header) else None
        if found != expected:
            message = f"expected column {expected!r}, found " + ("nothing" if found is None else repr(found))
            raise CsvHeaderError(message, line=1, column=index + 1, field=expected)
    if len(header) > len(columns):
        raise CsvHeaderError(f"unexpected column {header[len(columns)]!r}", line=1, column=len(columns) + 1)
    if len(records) == 1:
        raise CsvStructureError(
            "no rows: even an empty batch has one row with its batch columns", line=2, column=1, field=columns[0]
        )
    rows: list[_Row] = []
    for number, record in enumerate(records[1:], 2):
        if len(record) != len(columns):
            raise CsvStructureError(
                f"{len(record)} cells, the header has {len(columns)}",
                line=number,
                column=min(len(record), len(columns)) + 1,
            )
        rows.append(_Row(number, dict(zip(columns, record, strict=True)), columns))
    return rows


@dataclass(frozen=True, slots=True)
class _Header:
    batch_id: str
    sender_agb: str
    receiver_uzovi: str
    creation_date: date
    period_start: date
    period_end: date


def _header(rows: list[_Row], batch_columns: tuple[str, ...]) -> _Header:
    """The batch columns of the first row, which every other row must repeat exactly."""
    first = rows[0]
    for row in rows[1:]:
        for name in batch_columns:
            if row.cells[name] != first.cells[name]:
                raise row.fail(name, f"differs from row {first.number}: every row carries the same batch columns")
    start, end = first.day("period_start"), first.day("period_end")
    if end < start:
        raise first.fail("period_end", "claim period ends before it starts (COD954 0021)")
    return _Header(
        batch_id=first.required("batch_id"),
        sender_agb=first.code("sender_agb", is_valid_agb(first.cells["sender_agb"]), "an 8-digit AGB code"),
        receiver_uzovi=first.code(
            "receiver_uzovi", is_valid_uzovi(first.cells["receiver_uzovi"]), "a 4-digit UZOVI code"
        ),
        creation_date=first.day("creation_date"),
        period_start=start,
        period_end=end,
    )


def _is_batch_only(rows: list[_Row]) -> bool:
    """The one row of an empty batch: every line column (and return column) empty."""
    first = rows[0]
    batch_only = all(first.cells[name] == "" for name in (*LINE_COLUMNS, *RETURN_LINE_COLUMNS) if name in first.cells)
    return len(rows) == 1 and batch_only


def _line(row: _Row) -> ClaimBatchLine:
    line_id = row.required("line_id")
    dc = row.cells["debit_credit"]
    if dc not in ("D", "C"):
        raise row.fail("debit_credit", f"{dc!r} is not D (debit) or C (credit) (COD954 0631)")
    signed = row.signed_cents("amount_eur", "amount_cents")
    if (dc == "C" and signed > 0) or (dc == "D" and signed < 0):
        raise row.fail("debit_credit", f"a {'credit' if dc == 'C' else 'debit'} must not be {signed} cents")
    if not _QUANTITY.fullmatch(row.cells["quantity"]):
        raise row.fail("quantity", f"{row.cells['quantity']!r} is not a quantity (at most two decimals, a dot)")
    bsn = row.cells["bsn"]
    comments = row.text("comments")
    original = row.text("original_line_id")
    return ClaimBatchLine(
        line_id=line_id,
        bsn=row.code("bsn", is_valid_bsn(bsn), "a BSN that passes the 11-test (COD954 0435)"),
        prestatie_code=row.required("prestatie_code"),
        service_start=row.day("service_start"),
        service_end=row.day("service_end"),
        quantity=Decimal(row.cells["quantity"]),
        amount_cents=abs(signed),
        debit_credit=DebitCredit(dc),
        original_line_id=original or None,
        birth_date=row.optional_day("birth_date"),
        comments=tuple(comments.split("\n")) if comments else (),
    )


def _first_problem(problems: Sequence[Problem], rows: list[_Row], lines: Sequence[ClaimBatchLine]) -> None:
    """Raise the first problem ``claim_batch_problems`` found, at its row (the later one for a duplicate id)."""
    if not problems:
        return
    p = problems[0]
    by_line = {line.line_id: row for row, line in zip(rows, lines, strict=False)}
    row = by_line.get(p.line_id, rows[0]) if p.line_id is not None else rows[0]
    name = p.field if p.field in row.columns else "line_id"
    raise row.fail(name, p.message)


def read_claim(data: bytes) -> ClaimBatch:
    """Parse a ``csv`` claim file; raises a :class:`CsvFormatError` subclass naming row and column."""
    rows = _records(data, CLAIM_COLUMNS)
    head = _header(rows, CLAIM_BATCH_COLUMNS)
    lines = () if _is_batch_only(rows) else tuple(_line(row) for row in rows)
    batch = ClaimBatch(
        head.sender_agb,
        head.receiver_uzovi,
        head.batch_id,
        head.creation_date,
        head.period_start,
        head.period_end,
        lines,
    )
    _first_problem(claim_batch_problems(batch, check_invoice_dates=False), rows, lines)
    return batch


def _returned(row: _Row) -> ReturnLine:
    returned = ReturnLine(
        line=_line(row),
        calculated_cents=row.signed_cents("calculated_eur", "calculated_cents"),
        awarded_cents=row.signed_cents("awarded_eur", "awarded_cents"),
        return_codes=row.codes("return_codes"),
        insured_return_codes=row.codes("insured_return_codes"),
    )
    if row.cells["outcome"] != returned.outcome().value:
        raise row.fail("outcome", f"{row.cells['outcome']!r} does not match the amounts: {returned.outcome().value}")
    return returned


def read_return(data: bytes) -> ReturnBatch:
    """Parse a ``csv-return`` file; raises a :class:`CsvFormatError` subclass naming row and column."""
    rows = _records(data, RETURN_COLUMNS)
    head = _header(rows, RETURN_BATCH_COLUMNS)
    first = rows[0]
    reference = first.text("insurer_reference")
    if reference != reference.strip(" ") or any(not " " <= ch <= "~" for ch in reference):
        raise first.fail("insurer_reference", "printable ASCII without outer spaces (may be empty)")
    returned = () if _is_batch_only(rows) else tuple(_returned(row) for row in rows)
    lines = tuple(r.line for r in returned)
    as_claim = ClaimBatch(
        head.sender_agb,
        head.receiver_uzovi,
        head.batch_id,
        head.creation_date,
        head.period_start,
        head.period_end,
        lines,
    )
    _first_problem(claim_batch_problems(as_claim, check_invoice_dates=False), rows, lines)
    return ReturnBatch(
        sender_agb=head.sender_agb,
        receiver_uzovi=head.receiver_uzovi,
        batch_id=head.batch_id,
        creation_date=head.creation_date,
        period_start=head.period_start,
        period_end=head.period_end,
        insurer_reference=reference,
        return_date=first.day("return_date"),
        header_return_codes=first.codes("header_return_codes"),
        lines=returned,
    )


CSV_CLAIM: Format[ClaimBatch] = Format(
    "csv", "Spreadsheet-friendly CSV claim batch: one row per line, batch columns repeated", write_claim, read_claim
)
CSV_RETURN: Format[ReturnBatch] = Format(
    "csv-return",
    "Spreadsheet-friendly CSV return batch: one row per line with awarded amounts and return codes",
    write_return,
    read_return,
)
register(CSV_CLAIM)
register(CSV_RETURN)
