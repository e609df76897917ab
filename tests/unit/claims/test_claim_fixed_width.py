"""The Vektis EI fixed-width claim (KZ301-style) and return (KZ302-style) formats.

Sources: DOMAIN.md §4; Vektis standard page KZ302-3.2 (370 positions, type ASCII); the generic EI declaration
layout (header/comment/closing records) as published for MZ301 v1.3 and PM305 v3.2; COD954 return codes
0804 (record length), 0002 (record type), 0003 (reserve), 8095 (CR/LF), 0435 (BSN), 0631 (D/C indicator).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import pytest
from claim_strategies import claim_batches, return_batches, sample_batch, sample_return
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from integraal.claims.batch import ClaimBatch, ReturnBatch
from integraal.claims.formats import (
    KZ301,
    KZ302,
    BatchNotWritableError,
    Format,
    UnknownFormatError,
    get_format,
    register,
)
from integraal.claims.formats.errors import (
    CountMismatchError,
    EncodingError,
    FieldTypeError,
    FieldValueError,
    FormatError,
    RecordLengthError,
    StructureError,
    TotalsMismatchError,
    TruncatedFileError,
    UnknownRecordTypeError,
)
from integraal.claims.formats.fixedwidth import RecordLayout
from integraal.claims.formats.vektis_ei import (
    CLAIM_LAYOUTS,
    CLAIM_RECORD_LENGTH,
    RETURN_LAYOUTS,
    RETURN_RECORD_LENGTH,
    read_claim,
    write_claim,
)

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def records(data: bytes) -> list[str]:
    return data.decode("ascii").split("\r\n")[:-1]


def join(lines: list[str]) -> bytes:
    return "".join(line + "\r\n" for line in lines).encode("ascii")


def set_field(
    data: bytes, line: int, name: str, value: str, layouts: Mapping[str, RecordLayout] = CLAIM_LAYOUTS
) -> bytes:
    """``data`` with field ``name`` of record ``line`` (1-based) overwritten by ``value`` (same width)."""
    lines = records(data)
    record = lines[line - 1]
    f = layouts[record[:2]].field(name)
    assert len(value) == f.length
    lines[line - 1] = record[: f.start - 1] + value + record[f.end :]
    return join(lines)


def closing(data: bytes, layouts: Mapping[str, RecordLayout] = CLAIM_LAYOUTS) -> dict[str, str]:
    lines = records(data)
    return layouts["99"].parse(lines[-1], len(lines))


# --- layouts ---------------------------------------------------------------------------------------------------


def test_layout_tables_tile_every_record_exactly() -> None:
    """Claim records are 310 positions (generic EI format, inferred), returns 370 (KZ302-3.2, verified)."""
    for layouts, length in ((CLAIM_LAYOUTS, CLAIM_RECORD_LENGTH), (RETURN_LAYOUTS, RETURN_RECORD_LENGTH)):
        assert set(layouts) == {"01", "02", "04", "98", "99"}
        for layout in layouts.values():
            assert layout.length == length == sum(f.length for f in layout.fields)
    assert (CLAIM_RECORD_LENGTH, RETURN_RECORD_LENGTH) == (310, 370)


def test_return_records_repeat_the_claim_record_then_add_return_fields() -> None:
    for kind, claim in CLAIM_LAYOUTS.items():
        assert RETURN_LAYOUTS[kind].fields[: len(claim.fields)] == claim.fields


# --- round trips -----------------------------------------------------------------------------------------------


def test_sample_claim_file_round_trips_with_fixed_length_crlf_records() -> None:
    batch = sample_batch()
    data = write_claim(batch)
    assert data.endswith(b"\r\n")
    assert all(len(r) == CLAIM_RECORD_LENGTH for r in records(data))
    assert [r[:2] for r in records(data)] == ["01", "02", "04", "98", "98", "02", "04", "04", "99"]
    assert read_claim(data) == batch


@SETTINGS
@given(batch=claim_batches())
def test_writing_then_reading_a_claim_batch_gives_it_back_exactly(batch: ClaimBatch) -> None:
    """Write → read is the identity, and the closing record totals and counts match the lines."""
    data = KZ301.write(batch)
    assert KZ301.read(data) == batch
    end = closing(data)
    total = sum(line.signed_cents for line in batch.lines)
    assert int(end["totaal_declaratiebedrag"]) == abs(total)
    assert end["indicatie_debet_credit"] == ("C" if total < 0 else "D")
    kinds = [r[:2] for r in records(data)]
    assert int(end["aantal_prestatierecords"]) == len(batch.lines) == kinds.count("04")
    assert int(end["aantal_commentaarrecords"]) == sum(len(line.comments) for line in batch.lines) == kinds.count("98")
    assert int(end["aantal_verzekerdenrecords"]) == kinds.count("02")
    assert int(end["totaal_aantal_detailrecords"]) == len(kinds) - 2


@SETTINGS
@given(batch=return_batches())
def test_writing_then_reading_a_return_batch_gives_it_back_exactly(batch: ReturnBatch) -> None:
    data = KZ302.write(batch)
    assert all(len(r) == RETURN_RECORD_LENGTH for r in records(data))
    assert KZ302.read(data) == batch
    end = closing(data, RETURN_LAYOUTS)
    assert int(end["totaal_toegekend_bedrag"]) == abs(batch.total_awarded_cents)


def test_return_lines_map_to_lifecycle_outcomes() -> None:
    first, credit, replacement = KZ302.read(KZ302.write(sample_return())).lines
    assert first.return_codes == ("0587",)
    assert [r.outcome().value for r in (first, credit, replacement)] == ["rejected", "accepted", "partially_accepted"]


# --- the writer refuses bad batches -----------------------------------------------------------------------


def test_writer_lists_every_problem_instead_of_writing_a_bad_file() -> None:
    """Errors are data: one exception carrying every problem (bad BSN 0435, service after invoice date 8178)."""
    batch = sample_batch()
    bad_line = replace(batch.lines[0], bsn="123456789", service_end=batch.creation_date.replace(year=2026))
    with pytest.raises(BatchNotWritableError) as caught:
        write_claim(replace(batch, sender_agb="53", lines=(bad_line,)))
    fields = {(p.line_id, p.field) for p in caught.value.problems}
    assert {(None, "sender_agb"), ("L-1", "bsn"), ("L-1", "service_end")} <= fields


# --- malformed files: each gives its own error with line, column and field -------------------------------


@pytest.fixture
def good() -> bytes:
    return write_claim(sample_batch())


def test_wrong_record_length_names_the_line_and_the_first_position_past_the_end(good: bytes) -> None:
    lines = records(good)
    lines[2] = lines[2] + "X"
    with pytest.raises(RecordLengthError) as caught:
        read_claim(join(lines))
    assert (caught.value.line, caught.value.column) == (3, CLAIM_RECORD_LENGTH + 1)
    assert "0804" in str(caught.value)


def test_bad_total_in_the_closing_record(good: bytes) -> None:
    data = set_field(good, 9, "totaal_declaratiebedrag", "00000000001")
    with pytest.raises(TotalsMismatchError) as caught:
        read_claim(data)
    assert (caught.value.line, caught.value.column, caught.value.field) == (9, 34, "totaal_declaratiebedrag")


def test_bad_count_in_the_closing_record(good: bytes) -> None:
    data = set_field(good, 9, "aantal_prestatierecords", "000004")
    with pytest.raises(CountMismatchError) as caught:
        read_claim(data)
    assert (caught.value.line, caught.value.column, caught.value.field) == (9, 15, "aantal_prestatierecords")


def test_unknown_record_type(good: bytes) -> None:
    lines = records(good)
    lines[1] = "03" + lines[1][2:]
    with pytest.raises(UnknownRecordTypeError) as caught:
        read_claim(join(lines))
    assert (caught.value.line, caught.value.column, caught.value.field) == (2, 1, "kenmerk_record")


def test_non_digit_in_a_numeric_field_names_the_exact_position(good: bytes) -> None:
    data = set_field(good, 3, "declaratiebedrag", "0001500O")
    with pytest.raises(FieldTypeError) as caught:
        read_claim(data)
    assert (caught.value.line, caught.value.column, caught.value.field) == (3, 105 + 7, "declaratiebedrag")


def test_file_without_closing_record_is_truncated(good: bytes) -> None:
    lines = records(good)[:-1]
    with pytest.raises(TruncatedFileError) as caught:
        read_claim(join(lines))
    assert (caught.value.line, caught.value.column) == (len(lines) + 1, 1)


def test_file_cut_inside_a_record_is_truncated(good: bytes) -> None:
    with pytest.raises(TruncatedFileError) as caught:
        read_claim(good[:-100])
    assert caught.value.line == 9


def test_empty_file_is_truncated() -> None:
    with pytest.raises(TruncatedFileError):
        read_claim(b"")


def test_wrong_encoding_names_line_and_column_of_the_bad_byte(good: bytes) -> None:
    """The files are 7-bit ASCII; an ISO-8859-1 'ë' in a comment is refused where it stands."""
    lines = records(good)
    position = CLAIM_LAYOUTS["98"].field("vrije_tekst").start + 3
    data = bytearray(join(lines))
    data[(CLAIM_RECORD_LENGTH + 2) * 3 + position - 1] = 0xEB
    with pytest.raises(EncodingError) as caught:
        read_claim(bytes(data))
    assert (caught.value.line, caught.value.column) == (4, position)


def test_bad_bsn_is_refused_with_its_field(good: bytes) -> None:
    data = set_field(good, 2, "bsn", "123456789")
    with pytest.raises(FieldValueError) as caught:
        read_claim(set_field(data, 3, "bsn", "123456789"))
    assert (caught.value.line, caught.value.field) == (2, "bsn")
    assert "0435" in str(caught.value)


def test_impossible_date_and_unknown_debit_credit_indicator(good: bytes) -> None:
    with pytest.raises(FieldValueError) as caught:
        read_claim(set_field(good, 3, "begindatum_prestatie", "20250231"))
    assert (caught.value.line, caught.value.column, caught.value.field) == (3, 59, "begindatum_prestatie")
    with pytest.raises(FieldValueError, match="0631"):
        read_claim(set_field(good, 3, "indicatie_debet_credit", "X"))


def test_reserve_must_be_blank(good: bytes) -> None:
    lines = records(good)
    lines[0] = lines[0][:-1] + "x"
    with pytest.raises(FieldValueError) as caught:
        read_claim(join(lines))
    assert (caught.value.line, caught.value.column, caught.value.field) == (1, CLAIM_RECORD_LENGTH, "reserve")


def test_performance_record_before_any_insured_person(good: bytes) -> None:
    lines = records(good)
    del lines[1]
    with pytest.raises(StructureError) as caught:
        read_claim(join(lines))
    assert (caught.value.line, caught.value.column, caught.value.field) == (2, 1, "kenmerk_record")


# --- the reader never fails with anything but its own errors ---------------------------------------------------


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(
    which=st.sampled_from(["kz301", "kz302"]),
    edits=st.lists(
        st.tuples(st.sampled_from(["replace", "insert", "delete"]), st.integers(0, 10_000), st.integers(0, 255)),
        min_size=1,
        max_size=4,
    ),
)
def test_fuzzed_files_raise_only_format_errors(which: str, edits: list[tuple[str, int, int]]) -> None:
    """Byte-wise mutations of a valid file either still read or raise a ``FormatError`` — never anything else."""
    fmt = get_format(which)
    data = bytearray(fmt.write(sample_batch() if which == "kz301" else sample_return()))
    for kind, position, byte in edits:
        index = position % (len(data) + (kind == "insert"))
        if kind == "replace" and data:
            data[index % len(data)] = byte
        elif kind == "insert":
            data.insert(index, byte)
        elif data:
            del data[index % len(data)]
    error: FormatError | None = None
    try:
        fmt.read(bytes(data))
    except FormatError as raised:  # any other exception fails the test
        error = raised
    assert error is None or (error.line >= 1 and error.column >= 1)


# --- registry --------------------------------------------------------------------------------------------------


def test_formats_are_registered_by_name() -> None:
    assert get_format("kz301") is KZ301 and get_format("kz302") is KZ302
    with pytest.raises(UnknownFormatError, match="kz301, kz302"):
        get_format("edifact")
    with pytest.raises(ValueError, match="already registered"):
        register(Format("kz301", "impostor", KZ301.writer, KZ301.reader))
