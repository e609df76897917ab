"""The spreadsheet-friendly CSV formats: ``csv`` (claim batch) and ``csv-return`` (return batch).

Sources: DOMAIN.md §4 (claims, credit/debit, COD954 return codes); ``docs/claims-fhir-csv.md`` (the columns);
RFC 4180 (CSV); OWASP "CSV injection" (why text cells starting with ``=`` get a leading quote).
"""

from __future__ import annotations

import contextlib
import csv
import io
from dataclasses import replace

import pytest
from claim_strategies import claim_batches, return_batches, sample_batch, sample_return
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from integraal.claims.batch import ClaimBatch, ReturnBatch
from integraal.claims.formats import BatchNotWritableError, get_format
from integraal.claims.formats.csv_format import (
    CLAIM_COLUMNS,
    CSV_CLAIM,
    CSV_RETURN,
    RETURN_COLUMNS,
    CsvEncodingError,
    CsvFieldError,
    CsvFormatError,
    CsvHeaderError,
    CsvStructureError,
)
from integraal.claims.formats.errors import EncodingError, FieldValueError, FormatError

SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CLAIM = CSV_CLAIM.write(sample_batch())
RETURN = CSV_RETURN.write(sample_return())


def cells(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def from_cells(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode("utf-8")


EVERY = 0  # a batch column, changed on every row (they must agree); the error names the first data row


def with_cell(data: bytes, row: int, column: str, value: str) -> bytes:
    """``data`` with the cell in spreadsheet row ``row`` (header = 1; ``EVERY``: all data rows) of ``column``."""
    rows = cells(data)
    for number in range(2, len(rows) + 1) if row == EVERY else [row]:
        rows[number - 1][rows[0].index(column)] = value
    return from_cells(rows)


def raised(fmt: object, data: bytes) -> CsvFormatError:
    with pytest.raises(CsvFormatError) as info:
        fmt.read(data)  # type: ignore[attr-defined]
    return info.value


def test_formats_are_registered_by_name() -> None:
    assert get_format("csv") is CSV_CLAIM
    assert get_format("csv-return") is CSV_RETURN


@SETTINGS
@given(claim_batches())
def test_writing_then_reading_a_claim_csv_gives_the_batch_back_exactly(batch: ClaimBatch) -> None:
    assert CSV_CLAIM.read(CSV_CLAIM.write(batch)) == batch


@SETTINGS
@given(return_batches())
def test_writing_then_reading_a_return_csv_gives_the_return_back_exactly(batch: ReturnBatch) -> None:
    assert CSV_RETURN.read(CSV_RETURN.write(batch)) == batch


def test_one_row_per_line_with_batch_columns_signed_euros_and_cents() -> None:
    rows = cells(CLAIM)
    assert tuple(rows[0]) == CLAIM_COLUMNS
    assert len(rows) == 1 + len(sample_batch().lines)
    credit = dict(zip(CLAIM_COLUMNS, rows[2], strict=True))
    assert (credit["batch_id"], credit["debit_credit"], credit["amount_eur"], credit["amount_cents"]) == (
        "IGO-2025-007",
        "C",
        "-1500.00",
        "-150000",
    )
    first = dict(zip(CLAIM_COLUMNS, rows[1], strict=True))
    assert first["comments"] == "prenatal phase, all care by members\nsecond line"
    assert first["quantity"] == "1.00"
    returned = dict(zip(RETURN_COLUMNS, cells(RETURN)[3], strict=True))
    assert (returned["awarded_eur"], returned["outcome"], returned["return_codes"]) == (
        "1000.00",
        "partially_accepted",
        "0611",
    )


def test_empty_batch_is_one_row_of_batch_columns_and_round_trips() -> None:
    empty = replace(sample_batch(), lines=())
    data = CSV_CLAIM.write(empty)
    assert cells(data)[1][6:] == [""] * (len(CLAIM_COLUMNS) - 6)
    assert CSV_CLAIM.read(data) == empty
    empty_return = replace(sample_return(), lines=(), header_return_codes=("0001",))
    assert CSV_RETURN.read(CSV_RETURN.write(empty_return)) == empty_return


def test_text_that_a_spreadsheet_would_run_as_a_formula_is_quoted_and_read_back() -> None:
    """OWASP CSV injection: ``=``, ``+``, ``-``, ``@`` (and ``'`` itself) at the start get one leading quote."""
    batch = sample_batch()
    line = replace(batch.lines[0], line_id="=HYPERLINK(1)", comments=("@risk", "'quoted"))
    tricky = replace(batch, batch_id="-12", lines=(line, *batch.lines[1:]))
    data = CSV_CLAIM.write(tricky)
    row = dict(zip(CLAIM_COLUMNS, cells(data)[1], strict=True))
    assert (row["batch_id"], row["line_id"], row["comments"]) == ("'-12", "'=HYPERLINK(1)", "'@risk\n'quoted")
    assert CSV_CLAIM.read(data) == tricky


def test_a_byte_order_mark_from_a_spreadsheet_is_accepted() -> None:
    assert CSV_CLAIM.read(b"\xef\xbb\xbf" + CLAIM) == sample_batch()


@pytest.mark.parametrize(
    ("row", "column", "value", "fragment"),
    [
        (2, "bsn", "123456789", "11-test"),
        (3, "bsn", "12345678", "11-test"),
        (EVERY, "sender_agb", "5300123", "8-digit AGB"),
        (EVERY, "receiver_uzovi", "331", "4-digit UZOVI"),
        (2, "service_start", "2025-02-30", "not a date that exists"),
        (3, "service_end", "10-02-2025", "not a date (YYYY-MM-DD)"),
        (2, "amount_eur", "1500.001", "two decimals"),
        (2, "amount_eur", "1500,00", "two decimals"),
        (2, "amount_cents", "150001", "is not 1500.00 euros"),
        (2, "debit_credit", "X", "D (debit) or C (credit)"),
        (2, "debit_credit", "C", "a credit must not be 150000 cents"),
        (2, "quantity", "1.005", "quantity"),
        (2, "prestatie_code", "", "must not be empty"),
        (4, "line_id", "L-1", "line id used twice"),
        (3, "batch_id", "OTHER", "differs from row 2"),
        (2, "comments", "caf\u00e9", "printable ASCII"),
        (EVERY, "period_end", "2024-12-31", "ends before it starts"),
    ],
)
def test_claim_field_errors_name_row_and_column(row: int, column: str, value: str, fragment: str) -> None:
    error = raised(CSV_CLAIM, with_cell(CLAIM, row, column, value))
    row = 2 if row == EVERY else row
    assert isinstance(error, CsvFieldError), error
    assert isinstance(error, FieldValueError)
    assert (error.row, error.column, error.field) == (row, CLAIM_COLUMNS.index(column) + 1, column), error
    assert fragment in str(error), error
    assert str(error).startswith(f"row {row}, column {CLAIM_COLUMNS.index(column) + 1} ({column}): ")


@pytest.mark.parametrize(
    ("row", "column", "value", "fragment"),
    [
        (4, "outcome", "accepted", "does not match the amounts"),
        (2, "return_codes", "587", "4 digits separated by single spaces"),
        (2, "return_codes", "0587  0611", "4 digits separated by single spaces"),
        (3, "awarded_cents", "-1", "is not -1500.00 euros"),
        (EVERY, "return_date", "2025-3-20", "not a date"),
        (3, "insurer_reference", "ZV-REF-43", "differs from row 2"),
    ],
)
def test_return_field_errors_name_row_and_column(row: int, column: str, value: str, fragment: str) -> None:
    error = raised(CSV_RETURN, with_cell(RETURN, row, column, value))
    row = 2 if row == EVERY else row
    assert isinstance(error, CsvFieldError), error
    assert (error.row, error.field) == (row, column), error
    assert fragment in str(error), error


def test_header_must_name_every_column_in_order() -> None:
    rows = cells(CLAIM)
    rows[0][7] = "BSN"
    error = raised(CSV_CLAIM, from_cells(rows))
    assert isinstance(error, CsvHeaderError)
    assert (error.row, error.column, error.field) == (1, 8, "bsn")
    assert "expected column 'bsn', found 'BSN'" in str(error)
    error = raised(CSV_CLAIM, from_cells([row[:-1] for row in cells(CLAIM)]))
    assert "expected column 'comments', found nothing" in str(error)
    error = raised(CSV_CLAIM, from_cells([[*row, "x"] for row in cells(CLAIM)]))
    assert (error.column, str(error).split(": ", 1)[1]) == (len(CLAIM_COLUMNS) + 1, "unexpected column 'x'")
    assert isinstance(raised(CSV_CLAIM, RETURN), CsvHeaderError)


def test_file_structure_errors() -> None:
    assert isinstance(raised(CSV_CLAIM, b""), CsvHeaderError)
    header_only = raised(CSV_CLAIM, CLAIM.split(b"\r\n")[0] + b"\r\n")
    assert isinstance(header_only, CsvStructureError)
    assert "no rows" in str(header_only)
    rows = cells(CLAIM)
    rows[2] = rows[2][:5]
    short = raised(CSV_CLAIM, from_cells(rows))
    assert (short.row, short.column, short.reason) == (3, 6, f"5 cells, the header has {len(CLAIM_COLUMNS)}")
    bad_quote = raised(CSV_CLAIM, CLAIM + b'x,"unterminated\r\n')
    assert isinstance(bad_quote, CsvStructureError)
    assert bad_quote.row == 5


def test_not_utf8_is_an_encoding_error_with_line_and_column() -> None:
    data = CLAIM.replace(b"IGPRE1", b"IGPR\xc31", 1)
    error = raised(CSV_CLAIM, data)
    assert isinstance(error, CsvEncodingError)
    assert isinstance(error, EncodingError)
    assert error.line == 2
    assert error.column == data.split(b"\r\n")[1].index(b"\xc3") + 1


def test_writer_refuses_a_batch_with_problems_listing_them_all() -> None:
    batch = sample_batch()
    bad = replace(batch, sender_agb="1", lines=(replace(batch.lines[0], bsn="123456789"), *batch.lines[1:]))
    with pytest.raises(BatchNotWritableError) as info:
        CSV_CLAIM.write(bad)
    assert {p.field for p in info.value.problems} == {"sender_agb", "bsn"}
    with pytest.raises(BatchNotWritableError, match="4 digits"):
        CSV_RETURN.write(replace(sample_return(), header_return_codes=("12345",)))


# --- fuzz: readers raise only FormatError subclasses -----------------------------------------------------------

cell_values = st.text(max_size=12) | st.sampled_from(
    ["", "D", "C", "-0.00", "1e3", "2025-02-30", "0587 0611", "'=1", "\n", '"', "99999999999999999999", "accepted"]
)
FUZZ_SOURCES = {"claim": (CSV_CLAIM, CLAIM), "return": (CSV_RETURN, RETURN)}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(st.sampled_from(sorted(FUZZ_SOURCES)), st.sampled_from(["cell", "row", "bytes"]), st.data())
def test_fuzzed_files_raise_only_format_errors(which: str, how: str, data: st.DataObject) -> None:
    """Whatever the mutation, reading returns a batch or raises a FormatError subclass: nothing else escapes."""
    fmt, good = FUZZ_SOURCES[which]
    if how == "bytes":
        raw = bytearray(good)
        for _ in range(data.draw(st.integers(1, 4))):
            raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
        mutated = bytes(raw)
    else:
        rows = cells(good)
        index = data.draw(st.integers(0, len(rows) - 1))
        if how == "cell":
            rows[index][data.draw(st.integers(0, len(rows[index]) - 1))] = data.draw(cell_values)
        elif data.draw(st.booleans()):
            del rows[index]
        else:
            rows.insert(index, list(rows[index]))
        mutated = from_cells(rows)
    with contextlib.suppress(FormatError):
        fmt.read(mutated)
