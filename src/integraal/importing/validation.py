"""The one CSV reading and validation helper every importer uses.

Errors are data (beancount's habit): validation returns *every* problem with file, row and field instead of
stopping at the first, so a back-office clerk can fix a file in one go. Checks are vectorised (Polars
expressions), so a national year of activities validates in seconds.

Row numbers count data rows: row 1 is the first line after the header (line 2 of the file).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

Check = Callable[[pl.Expr], pl.Expr]
"""Given a column (string values, never null), an expression that is true where the value is valid."""

ROW = "__row"


class FileError(ValueError):
    """The whole file is unusable (encoding, header, layout); nothing of it is applied."""

    def __init__(self, file: str, message: str) -> None:
        super().__init__(f"{file}: {message}")
        self.file = file
        self.message = message


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem in one field of one row."""

    file: str
    row: int
    field: str
    value: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: row {self.row}, field '{self.field}' = {self.value!r}: {self.reason}"


@dataclass(frozen=True, slots=True)
class Column:
    """A column of an import format: required or not, and the checks its non-empty values must pass."""

    name: str
    required: bool = True
    checks: tuple[tuple[Check, str], ...] = ()


@dataclass(frozen=True, slots=True)
class RowRule:
    """A check across fields of a row (``when`` true = the row is invalid), reported on ``field``."""

    field: str
    invalid_when: pl.Expr
    reason: str


@dataclass(slots=True)
class Validated:
    """The result: the valid rows (with ``__row``) and every error of the invalid ones."""

    file: str
    total: int
    valid: pl.DataFrame
    errors: list[RowError] = field(default_factory=list)
    raw: pl.DataFrame | None = None

    @property
    def rejected_rows(self) -> int:
        return len({e.row for e in self.errors})


# --- checks --------------------------------------------------------------------------------------------


def digits(n: int) -> Check:
    return lambda c: c.str.contains(rf"^\d{{{n}}}$")


def pattern(regex: str) -> Check:
    return lambda c: c.str.contains(regex)


def one_of(values: Sequence[str]) -> Check:
    allowed = pl.Series(values=list(values), dtype=pl.Utf8)
    return lambda c: c.is_in(allowed.implode())


def iso_date(c: pl.Expr) -> pl.Expr:
    return c.str.contains(r"^\d{4}-\d{2}-\d{2}$") & c.str.to_date("%Y-%m-%d", strict=False).is_not_null()


def non_negative_int(c: pl.Expr) -> pl.Expr:
    return c.str.contains(r"^\d{1,15}$")


def positive_quantity(c: pl.Expr) -> pl.Expr:
    """Up to 2 decimals, greater than zero (hours may be 0.25)."""
    return c.str.contains(r"^\d{1,7}(\.\d{1,2})?$") & c.str.contains(r"[1-9]")


def bsn_eleven_test(c: pl.Expr) -> pl.Expr:
    """Vectorised BSN 11-test (see ``integraal.domain.identifiers.is_valid_bsn``)."""
    weights = (9, 8, 7, 6, 5, 4, 3, 2, -1)
    total = pl.lit(0, dtype=pl.Int64)
    for position, weight in enumerate(weights):
        total = total + c.str.slice(position, 1).cast(pl.Int64, strict=False).fill_null(0) * weight
    return c.str.contains(r"^\d{9}$") & (total % 11 == 0) & (total != 0)


# --- conversion helpers used by importers ------------------------------------------------------------


def as_date(name: str) -> pl.Expr:
    """A validated ISO date column (empty → null)."""
    value = pl.when(pl.col(name) == "").then(None).otherwise(pl.col(name))
    return value.str.to_date("%Y-%m-%d", strict=False).alias(name)


def as_hundredths(name: str, default: str = "1") -> pl.Expr:
    """A validated quantity with up to two decimals as an integer number of hundredths (exact, no float)."""
    value = pl.when(pl.col(name) == "").then(pl.lit(default)).otherwise(pl.col(name))
    parts = value.str.split_exact(".", 1)
    whole = parts.struct.field("field_0").cast(pl.Int64)
    frac = parts.struct.field("field_1").fill_null("").str.pad_end(2, "0").str.slice(0, 2)
    frac = pl.when(frac == "").then(pl.lit("00")).otherwise(frac).cast(pl.Int64)
    return (whole * 100 + frac).alias(name)


# --- reading and validating ----------------------------------------------------------------------------


def read_csv(path: Path | str, data: bytes | None = None) -> pl.DataFrame:
    """Read a CSV as strings only (no type guessing), stripped, empty cells as ``""``; adds ``__row``."""
    name = str(path)
    raw = Path(path).read_bytes() if data is None else data
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise FileError(name, f"not UTF-8 text (invalid byte at line {line}, byte {exc.start})") from exc
    if not text.strip():
        raise FileError(name, "the file is empty (a header row is required)")
    try:
        frame = pl.read_csv(io.StringIO(text), infer_schema=False, has_header=True)
    except (pl.exceptions.PolarsError, ValueError) as exc:
        raise FileError(name, f"not a readable CSV file ({exc.__class__.__name__}: {str(exc)[:200]})") from exc
    frame = frame.with_columns(pl.all().fill_null("").str.strip_chars())
    return frame.with_row_index(ROW, offset=1).with_columns(pl.col(ROW).cast(pl.Int64))


def validate(
    frame: pl.DataFrame,
    file: str,
    columns: Sequence[Column],
    row_rules: Sequence[RowRule] = (),
    key: Sequence[str] = (),
) -> Validated:
    """Check header, every field and every row rule; split valid rows from errors."""
    known = {c.name for c in columns}
    present = [c for c in frame.columns if not c.startswith("__")]  # "__" columns are helpers
    missing = [c.name for c in columns if c.required and c.name not in present]
    unknown = [c for c in present if c not in known]
    if missing or unknown:
        parts = []
        if missing:
            parts.append("missing column(s) " + ", ".join(missing))
        if unknown:
            parts.append("unknown column(s) " + ", ".join(unknown) + " (expected: " + ", ".join(sorted(known)) + ")")
        raise FileError(file, "; ".join(parts))
    frame = frame.with_columns(pl.lit("").alias(c.name) for c in columns if c.name not in present)

    errors: list[RowError] = []
    for column in columns:
        col = pl.col(column.name)
        if column.required:
            errors.extend(_collect(frame, file, column.name, col == "", "required value is empty"))
        for check, reason in column.checks:
            errors.extend(_collect(frame, file, column.name, (col != "") & ~check(col).fill_null(False), reason))
    for rule in row_rules:
        errors.extend(_collect(frame, file, rule.field, rule.invalid_when.fill_null(False), rule.reason))
    if key:
        errors.extend(_duplicates(frame, file, key))
    bad_rows = {e.row for e in errors}
    valid = frame.filter(~pl.col(ROW).is_in(pl.Series(sorted(bad_rows), dtype=pl.Int64).implode()))
    errors.sort(key=lambda e: (e.row, e.field))
    return Validated(file, frame.height, valid, errors, frame)


def _collect(frame: pl.DataFrame, file: str, field_name: str, invalid: pl.Expr, reason: str) -> list[RowError]:
    hits = frame.filter(invalid).select(ROW, pl.col(field_name).alias("value"))
    return [RowError(file, row, field_name, value, reason) for row, value in hits.iter_rows()]


def _duplicates(frame: pl.DataFrame, file: str, key: Sequence[str]) -> list[RowError]:
    """A key that occurs again is an error on every later occurrence, naming the first row."""
    first = frame.group_by(list(key)).agg(pl.col(ROW).min().alias("__first"))
    later = frame.join(first, on=list(key), how="inner").filter(pl.col(ROW) != pl.col("__first"))
    label = "+".join(key)
    return [
        RowError(
            file,
            row,
            label,
            "/".join(str(v) for v in values),
            f"duplicate key in this file (first at row {first_row})",
        )
        for row, first_row, *values in later.select(ROW, "__first", *key).iter_rows()
    ]
