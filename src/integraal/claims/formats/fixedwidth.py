"""A small engine for fixed-width record files: layouts as tables of fields, used to write, read and document.

A :class:`RecordLayout` is data (record type, length, fields with start, length, type N/AN and description);
the same table renders a record, parses one and is printed in ``docs/claims.md``. Nothing here knows about
claims: the Vektis EI formats in :mod:`integraal.claims.formats.vektis_ei` supply the tables.

Conventions (the Vektis EI conventions): positions are 1-based; N fields hold only digits, right-aligned and
zero-padded; AN fields are left-aligned and space-padded; reserve fields are all spaces (return code 0003);
every record ends with CR LF (return code 8095).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt
import polars as pl

from integraal.claims.formats.errors import (
    EncodingError,
    FieldTypeError,
    FieldValueError,
    RecordLengthError,
    TruncatedFileError,
    UnknownRecordTypeError,
)

RECORD_END = "\r\n"
ENCODING = "ascii"

Matrix = npt.NDArray[np.uint8]
"""The records of a file as a byte matrix: one row per record (without CR LF), one column per position."""


class FieldType(StrEnum):
    N = "N"  # numeric: digits only
    AN = "AN"  # alphanumeric: printable ASCII


@dataclass(frozen=True, slots=True)
class Field:
    """One field of a record: where it is, how long, which type, and what it means."""

    name: str
    start: int
    length: int
    type: FieldType
    description: str

    @property
    def end(self) -> int:
        return self.start + self.length - 1

    @property
    def is_reserve(self) -> bool:
        return self.name.startswith("reserve")


class LayoutError(ValueError):
    """A layout table that does not tile its record exactly (a programming error, caught at import)."""


@dataclass(frozen=True, slots=True)
class RecordLayout:
    """The fields of one record type. Fields tile positions 1..length with no gap and no overlap."""

    record_type: str
    name: str
    length: int
    fields: tuple[Field, ...]

    def __post_init__(self) -> None:
        position = 1
        for f in self.fields:
            if f.start != position or f.length < 1:
                raise LayoutError(
                    f"record {self.record_type}: field {f.name!r} starts at {f.start}, expected {position}"
                )
            position = f.end + 1
        if position != self.length + 1:
            raise LayoutError(f"record {self.record_type}: fields end at {position - 1}, record is {self.length} long")
        if self.fields[0].name != "kenmerk_record" or self.fields[0].length != 2:
            raise LayoutError(f"record {self.record_type}: the first field must be kenmerk_record (2 positions)")
        names = [f.name for f in self.fields]
        if len(set(names)) != len(names):
            raise LayoutError(f"record {self.record_type}: duplicate field names")

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"record {self.record_type} has no field {name!r}")

    def extended(self, extra: tuple[Field, ...], length: int) -> RecordLayout:
        """This layout grown to ``length`` positions with ``extra`` fields after the last one."""
        return RecordLayout(self.record_type, self.name, length, (*self.fields, *extra))

    def render(self, values: Mapping[str, str | int]) -> str:
        """The record as text. N fields take non-negative ints, AN fields str; missing fields are blank/zero.

        Callers validate values first (see ``claims.batch.claim_batch_problems``); a value that still does not
        fit is a programming error and raises ``ValueError``.
        """
        unknown = set(values) - {f.name for f in self.fields}
        if unknown:
            raise ValueError(f"record {self.record_type}: no fields named {sorted(unknown)}")
        parts: list[str] = []
        for f in self.fields:
            value = values.get(f.name)
            if f.name == "kenmerk_record":
                value = self.record_type
            if f.type is FieldType.N:
                number = 0 if value is None else value
                text = number if isinstance(number, str) else str(number)
                if not (text.isascii() and text.isdigit()) or len(text) > f.length:
                    raise ValueError(f"record {self.record_type}, field {f.name!r}: {value!r} does not fit N{f.length}")
                parts.append(text.rjust(f.length, "0"))
            else:
                text = "" if value is None else str(value)
                if len(text) > f.length or not all(" " <= ch <= "~" for ch in text):
                    raise ValueError(
                        f"record {self.record_type}, field {f.name!r}: {value!r} does not fit AN{f.length}"
                    )
                parts.append(text.ljust(f.length))
        return "".join(parts)

    def parse(self, record: str, line: int) -> dict[str, str]:
        """Field values of one record (AN right-stripped, N as digit strings), checking every character.

        Raises ``FieldTypeError`` for a non-digit in an N field or a control character anywhere, and
        ``FieldValueError`` for a reserve field that is not blank.
        """
        values: dict[str, str] = {}
        for f in self.fields:
            raw = record[f.start - 1 : f.end]
            for offset, ch in enumerate(raw):
                if f.type is FieldType.N and not "0" <= ch <= "9":
                    raise FieldTypeError(
                        f"numeric field holds {ch!r}; only digits 0-9 are allowed",
                        line=line,
                        column=f.start + offset,
                        field=f.name,
                    )
                if not " " <= ch <= "~":
                    raise FieldTypeError(
                        f"control character {ch!r} in a text field", line=line, column=f.start + offset, field=f.name
                    )
            if f.is_reserve and raw.strip(" "):
                column = f.start + next(i for i, ch in enumerate(raw) if ch != " ")
                raise FieldValueError("reserve positions must be blank", line=line, column=column, field=f.name)
            values[f.name] = raw if f.type is FieldType.N else raw.rstrip(" ")
        return values


def split_records(data: bytes, record_length: int) -> list[str]:
    """Decode ``data`` (7-bit ASCII) and cut it into records of exactly ``record_length`` characters.

    Raises ``EncodingError`` (with the line and column of the first bad byte), ``TruncatedFileError`` for an
    empty file or one that ends inside a record without CR LF, and ``RecordLengthError`` for a record of the
    wrong length (column: the first position past the expected end, or just past the short record's end).
    """
    try:
        text = data.decode(ENCODING)
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\r\n") + 1
        column = exc.start - (before.rfind(b"\r\n") + 2 if b"\r\n" in before else 0) + 1
        raise EncodingError(
            f"byte 0x{data[exc.start]:02X} is not 7-bit ASCII (the file encoding)", line=line, column=column
        ) from None
    if not text:
        raise TruncatedFileError("empty file: no header record", line=1, column=1)
    pieces = text.split(RECORD_END)
    if pieces[-1]:
        raise TruncatedFileError(
            f"file ends inside record {len(pieces)}: no CR LF after {len(pieces[-1])} characters",
            line=len(pieces),
            column=len(pieces[-1]) + 1,
        )
    records = pieces[:-1]
    for number, record in enumerate(records, 1):
        if len(record) != record_length:
            column = min(len(record), record_length) + 1
            raise RecordLengthError(
                f"record is {len(record)} characters, expected {record_length}", line=number, column=column
            )
    return records


def record_type(record: str, line: int, layouts: Mapping[str, RecordLayout]) -> RecordLayout:
    """The layout for a record by its kenmerk (positions 1-2); ``UnknownRecordTypeError`` if none."""
    kind = record[:2]
    if kind not in layouts:
        known = ", ".join(sorted(layouts))
        raise UnknownRecordTypeError(
            f"unknown record type {kind!r}; this format has {known}", line=line, column=1, field="kenmerk_record"
        )
    return layouts[kind]


def markdown_table(layout: RecordLayout) -> str:
    """The layout as a Markdown table (as shown in ``docs/claims.md``), from the same data that reads and writes."""
    rows = [
        f"| {f.name} | {f.start} | {f.end} | {f.length} | {f.type.value} | {f.description} |" for f in layout.fields
    ]
    header = "| field | start | end | length | type | description |\n|---|---:|---:|---:|---|---|"
    return "\n".join([f"**{layout.record_type} — {layout.name}** ({layout.length} positions)", "", header, *rows])


# --- columnar: whole files at once (a national batch has half a million records) ------------------------------


def render_records(layout: RecordLayout, frame: pl.DataFrame, values: Mapping[str, pl.Expr]) -> pl.Series:
    """One record per row of ``frame``, like :meth:`RecordLayout.render` but for all rows in one go.

    ``values`` maps field names to expressions on ``frame``: N fields give non-negative integers or digit strings,
    AN fields strings; missing fields and nulls are blank/zero. A value that does not fit is a programming error
    (callers validate first) and raises ``ValueError``, as ``render`` does.
    """
    unknown = set(values) - {f.name for f in layout.fields}
    if unknown:
        raise ValueError(f"record {layout.record_type}: no fields named {sorted(unknown)}")
    parts: list[pl.Expr] = []
    for f in layout.fields:
        value = values.get(f.name)
        if f.name == "kenmerk_record":
            parts.append(pl.lit(layout.record_type))
        elif value is None:
            parts.append(pl.lit(("0" if f.type is FieldType.N else " ") * f.length))
        elif f.type is FieldType.N:
            parts.append(value.cast(pl.String).fill_null("0").str.pad_start(f.length, "0"))
        else:
            parts.append(value.fill_null("").str.pad_end(f.length, " "))
    records = frame.select(pl.concat_str(parts).alias("record")).to_series()
    if records.len() and not (records.str.len_bytes() == layout.length).all():
        raise ValueError(f"record {layout.record_type}: a value does not fit its field")
    return records


def record_matrix(data: bytes, record_length: int) -> Matrix | None:
    """The records of ``data`` as a byte matrix, or ``None`` unless every record is exactly ``record_length``
    printable ASCII characters followed by CR LF. ``None`` means: let :func:`split_records` and
    :meth:`RecordLayout.parse` say what is wrong (or accept what this quick test does not)."""
    width = record_length + len(RECORD_END)
    if not data or len(data) % width:
        return None
    rows = np.frombuffer(data, dtype=np.uint8).reshape(-1, width)
    if not ((rows[:, record_length] == ord("\r")).all() and (rows[:, record_length + 1] == ord("\n")).all()):
        return None
    body = rows[:, :record_length]
    if body.min() < ord(" ") or body.max() > ord("~"):
        return None
    return body


def block(matrix: Matrix, f: Field) -> Matrix:
    """The positions of field ``f`` in every row of ``matrix``."""
    return matrix[:, f.start - 1 : f.end]


def digit_values(positions: Matrix) -> npt.NDArray[np.int64] | None:
    """The numbers in an N block (one per row), or ``None`` if any position is not a digit 0-9."""
    if positions.shape[0] and (positions.min() < ord("0") or positions.max() > ord("9")):
        return None
    weights = 10 ** np.arange(positions.shape[1] - 1, -1, -1, dtype=np.int64)
    values: npt.NDArray[np.int64] = (positions.astype(np.int64) - ord("0")) @ weights
    return values


def text_values(positions: Matrix) -> pl.Series:
    """The text of an AN block (one per row), right-stripped as :meth:`RecordLayout.parse` does."""
    raw = np.ascontiguousarray(positions).view(f"S{positions.shape[1]}").ravel()
    return pl.Series(raw, dtype=pl.Binary).cast(pl.String).str.strip_chars_end(" ")


def is_blank(positions: Matrix) -> npt.NDArray[np.bool_]:
    """Per row: every position of the block is a space."""
    result: npt.NDArray[np.bool_] = (positions == ord(" ")).all(axis=1)
    return result
