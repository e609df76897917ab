"""The columnar KZ301/KZ302 writers and readers (issue 7) against the record-by-record ones.

Writers: byte for byte what the reference writer (``kz_reference``, the pre-issue-7 code) makes, and the same
problems for a batch that cannot be written. Readers: the column reader either reads exactly what the record
reader reads or steps aside (``None``), and it never accepts a file the record reader refuses.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import kz_reference
import pytest
from claim_strategies import claim_batches, return_batches, sample_batch, sample_return
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from integraal.claims.batch import (
    ClaimBatch,
    ClaimBatchLine,
    DebitCredit,
    ReturnBatch,
    lines_frame,
    return_lines_frame,
)
from integraal.claims.formats import BatchNotWritableError, FormatError
from integraal.claims.formats import vektis_ei as kz

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _outcome(write, batch):  # type: ignore[no-untyped-def]
    try:
        return write(batch)
    except BatchNotWritableError as error:
        return ("not writable", error.problems)
    except ValueError as error:  # a value that does not fit a field (a programming error)
        return ("does not fit", type(error))


@st.composite
def broken_lines(draw: st.DrawFn, line: ClaimBatchLine) -> ClaimBatchLine:
    """``line`` with one thing wrong that a writer must refuse (or at least notice)."""
    how = draw(
        st.sampled_from(
            [
                {"bsn": "123456789"},
                {"bsn": "12345678"},
                {"amount_cents": -1},
                {"amount_cents": 100_000_000},
                {"quantity": Decimal("0.001")},
                {"quantity": Decimal("-1")},
                {"quantity": Decimal("10000")},
                {"line_id": " L"},
                {"line_id": ""},
                {"line_id": "x" * 21},
                {"prestatie_code": "é"},
                {"prestatie_code": "A" * 25},
                {"original_line_id": ""},
                {"debit_credit": DebitCredit.CREDIT, "original_line_id": None},
                {"service_end": line.service_start - timedelta(days=1)},
                {"service_start": line.service_start + timedelta(days=4000)},
                {"birth_date": line.service_start + timedelta(days=1)},
                {"comments": ("ok", " bad")},
                {"comments": ("x" * 141,)},
            ]
        )
    )
    return replace(line, **how)


@st.composite
def claim_batches_maybe_broken(draw: st.DrawFn) -> ClaimBatch:
    batch = draw(claim_batches())
    if batch.lines and draw(st.booleans()):
        index = draw(st.integers(0, len(batch.lines) - 1))
        lines = list(batch.lines)
        lines[index] = draw(broken_lines(lines[index]))
        batch = replace(batch, lines=tuple(lines))
    if draw(st.integers(0, 9)) == 0:
        batch = replace(batch, sender_agb="53")
    return batch


@SETTINGS
@given(batch=claim_batches_maybe_broken())
def test_claim_writer_matches_the_record_writer(batch: ClaimBatch) -> None:
    assert _outcome(kz.write_claim, batch) == _outcome(kz_reference.write_claim, batch)


@SETTINGS
@given(batch=return_batches(), data=st.data())
def test_return_writer_matches_the_record_writer(batch: ReturnBatch, data: st.DataObject) -> None:
    if batch.lines and data.draw(st.booleans()):
        index = data.draw(st.integers(0, len(batch.lines) - 1))
        lines = list(batch.lines)
        change = data.draw(
            st.sampled_from(
                [
                    {"return_codes": ("1", "2")},
                    {"return_codes": ("0001", "0002", "0003", "0004")},
                    {"awarded_cents": 10**9},
                    {"calculated_cents": -(10**9)},
                    {"line": data.draw(broken_lines(lines[index].line))},
                ]
            )
        )
        lines[index] = replace(lines[index], **change)
        batch = replace(batch, lines=tuple(lines))
    assert _outcome(kz.write_return, batch) == _outcome(kz_reference.write_return, batch)


def test_frame_writers_write_the_same_bytes() -> None:
    batch, returned = sample_batch(), sample_return()
    assert kz.write_claim_frame(replace(batch, lines=()), lines_frame(batch.lines)) == kz_reference.write_claim(batch)
    frame = return_lines_frame(returned.lines)
    assert kz.write_return_frame(replace(returned, lines=()), frame) == kz_reference.write_return(returned)


def test_empty_batches_are_written_alike() -> None:
    batch = replace(sample_batch(), lines=())
    assert kz.write_claim(batch) == kz_reference.write_claim(batch)
    assert kz.read_claim(kz.write_claim(batch)) == batch


# --- readers ----------------------------------------------------------------------------------------------------


def _record_read(which: str, data: bytes):  # type: ignore[no-untyped-def]
    read = kz._read_claim_records if which == "kz301" else kz._read_return_records
    try:
        return read(data)
    except FormatError as error:
        return error


def _column_read(which: str, data: bytes):  # type: ignore[no-untyped-def]
    if which == "kz301":
        columns = kz._read_columns(data, kz.CLAIM_LAYOUTS, kz.CLAIM_RECORD_LENGTH)
        return None if columns is None else replace(kz._claim_header(columns), lines=kz.lines_from_frame(columns.lines))
    columns = kz._read_columns(data, kz.RETURN_LAYOUTS, kz.RETURN_RECORD_LENGTH)
    if columns is None:
        return None
    return replace(kz._return_header(columns), lines=kz.return_lines_from_frame(columns.lines))


def assert_readers_agree(which: str, data: bytes) -> None:
    exact = _record_read(which, data)
    columns = _column_read(which, data)
    if isinstance(exact, FormatError):
        assert columns is None, f"the column reader accepted a file the record reader refuses: {exact}"
    else:
        assert columns is None or columns == exact


@SETTINGS
@given(batch=claim_batches())
def test_column_reader_reads_every_written_claim_file(batch: ClaimBatch) -> None:
    data = kz.write_claim(batch)
    assert _column_read("kz301", data) == kz._read_claim_records(data) == batch


@SETTINGS
@given(batch=return_batches())
def test_column_reader_reads_every_written_return_file(batch: ReturnBatch) -> None:
    data = kz.write_return(batch)
    assert _column_read("kz302", data) == kz._read_return_records(data) == batch


FIELD_VALUES = [b" ", b"0", b"9", b"C", b"D", b"x", b"00", b"99", b"0587", b"9999", b"\x7f", b"~"]


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    which=st.sampled_from(["kz301", "kz302"]),
    source=st.sampled_from(["sample", "generated"]),
    data=st.data(),
    edits=st.lists(
        st.tuples(st.integers(0, 10_000), st.sampled_from(FIELD_VALUES) | st.binary(min_size=1, max_size=3)),
        min_size=1,
        max_size=3,
    ),
)
def test_column_reader_never_accepts_what_the_record_reader_refuses(
    which: str, source: str, data: st.DataObject, edits: list[tuple[int, bytes]]
) -> None:
    """Overwrite a few positions (same length) of a good file: both readers agree, or the column one steps aside."""
    if which == "kz301":
        batch = sample_batch() if source == "sample" else data.draw(claim_batches())
        good = kz.write_claim(batch)
    else:
        returned = sample_return() if source == "sample" else data.draw(return_batches())
        good = kz.write_return(returned)
    bad = bytearray(good)
    for position, value in edits:
        index = position % len(bad)
        bad[index : index + len(value)] = value
        del bad[len(good) :]
    assert_readers_agree(which, bytes(bad))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    which=st.sampled_from(["kz301", "kz302"]),
    record=st.integers(0, 50),
    swap=st.integers(0, 50),
    how=st.sampled_from(["delete", "duplicate", "swap"]),
)
def test_column_reader_agrees_on_records_moved_around(which: str, record: int, swap: int, how: str) -> None:
    good = kz.write_claim(sample_batch()) if which == "kz301" else kz.write_return(sample_return())
    records = good.split(b"\r\n")[:-1]
    i, j = record % len(records), swap % len(records)
    if how == "delete":
        del records[i]
    elif how == "duplicate":
        records.insert(i, records[i])
    else:
        records[i], records[j] = records[j], records[i]
    assert_readers_agree(which, b"".join(r + b"\r\n" for r in records))


@pytest.mark.parametrize("which", ["kz301", "kz302"])
def test_frame_readers_give_the_lines_of_the_object_readers(which: str) -> None:
    if which == "kz301":
        data = kz.write_claim(sample_batch())
        header, frame = kz.read_claim_frame(data)
        assert replace(header, lines=kz.lines_from_frame(frame)) == kz.read_claim(data) == sample_batch()
    else:
        data = kz.write_return(sample_return())
        header, frame = kz.read_return_frame(data)
        assert replace(header, lines=kz.return_lines_from_frame(frame)) == kz.read_return(data) == sample_return()


@pytest.mark.parametrize("kind", ["02", "04"])
@pytest.mark.parametrize("slot", [2, 3])
def test_a_return_code_after_an_empty_slot_is_refused_by_both_readers(kind: str, slot: int) -> None:
    """Codes fill the first slots: one in slot 2 or 3 behind an empty first slot is an error, never dropped."""
    records = kz.write_return(sample_return()).split(b"\r\n")[:-1]
    field = kz.RETURN_LAYOUTS[kind].field(f"retourcode_{slot:02d}")
    first = kz.RETURN_LAYOUTS[kind].field("retourcode_01")
    at = next(i for i, r in enumerate(records) if r[:2] == kind.encode() and r[first.start - 1 : first.end].isspace())
    record = bytearray(records[at])
    record[field.start - 1 : field.end] = b"0587"
    records[at] = bytes(record)
    data = b"".join(r + b"\r\n" for r in records)
    assert _column_read("kz302", data) is None
    with pytest.raises(FormatError, match="without gaps"):
        kz._read_return_records(data)
