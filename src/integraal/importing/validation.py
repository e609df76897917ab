"""The one CSV reading and validation helper every importer uses.

Errors are data (beancount's habit): validation returns *every* problem with file, row and field instead of
stopping at the first, so a back-office clerk can fix a file in one go. Checks are vectorised (Polars
expressions), so a national year of activities validates in seconds.

Row numbers count data rows: row 1 is the first line after the header (line 2 of the file).
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

Check = Callable[[pl.Expr], pl.Expr]
"""Given a column (string values, never null), an expression that is true where the value is valid."""

ROW = "__row"


MAX_MESSAGE = 1_000


class FileError(ValueError):
    """The whole file is unusable (encoding, header, layout); nothing of it is applied.

    A message longer than ``MAX_MESSAGE`` is cut in the middle (a header cell may hold a whole pasted text)."""

    def __init__(self, file: str, message: str) -> None:
        if len(message) > MAX_MESSAGE:
            head, tail = MAX_MESSAGE * 2 // 3, MAX_MESSAGE // 4
            message = f"{message[:head]} … ({len(message) - head - tail} characters left out) … {message[-tail:]}"
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
    """A column of an import format: required or not, and the checks its non-empty values must pass.

    ``repeats``: the column's values repeat over many rows (a woman's BSN on each of her activities), so its
    checks are evaluated once per distinct value (a national activities file: 170,000 BSNs in 4.4 million rows)."""

    name: str
    required: bool = True
    checks: tuple[tuple[Check, str], ...] = ()
    repeats: bool = False


@dataclass(frozen=True, slots=True)
class RowRule:
    """A check across fields of a row (``when`` true = the row is invalid), reported on ``field``.

    ``over``: every column ``invalid_when`` reads, when their combinations repeat over many rows (an activity's
    date and code): the rule is first evaluated once per distinct combination, and on the rows only when one
    fails."""

    field: str
    invalid_when: pl.Expr
    reason: str
    over: tuple[str, ...] = ()


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
    return lambda c: c.str.contains(rf"^[0-9]{{{n}}}$")


def pattern(regex: str) -> Check:
    return lambda c: c.str.contains(regex)


def one_of(values: Sequence[str]) -> Check:
    allowed = pl.Series(values=list(values), dtype=pl.Utf8)
    return lambda c: c.is_in(allowed.implode())


def iso_date(c: pl.Expr) -> pl.Expr:
    return c.str.contains(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$") & c.str.to_date("%Y-%m-%d", strict=False).is_not_null()


def non_negative_int(c: pl.Expr) -> pl.Expr:
    return c.str.contains(r"^[0-9]{1,15}$")


def positive_quantity(c: pl.Expr) -> pl.Expr:
    """Up to 2 decimals, greater than zero (hours may be 0.25)."""
    return c.str.contains(r"^[0-9]{1,7}(\.[0-9]{1,2})?$") & c.str.contains(r"[1-9]")


def bsn_eleven_test(c: pl.Expr) -> pl.Expr:
    """Vectorised BSN 11-test (see ``integraal.domain.identifiers.is_valid_bsn``)."""
    weights = (9, 8, 7, 6, 5, 4, 3, 2, -1)
    total = pl.lit(0, dtype=pl.Int64)
    for position, weight in enumerate(weights):
        total = total + c.str.slice(position, 1).cast(pl.Int64, strict=False).fill_null(0) * weight
    return c.str.contains(r"^[0-9]{9}$") & (total % 11 == 0) & (total != 0)


# --- conversion helpers used by importers ------------------------------------------------------------


def as_date(name: str) -> pl.Expr:
    """A validated ISO date column (empty → null)."""
    value = pl.when(pl.col(name) == "").then(None).otherwise(pl.col(name))
    return value.str.to_date("%Y-%m-%d", strict=False).alias(name)


def as_hundredths(name: str, default: str = "1") -> pl.Expr:
    """A validated quantity with up to two decimals as an integer number of hundredths (exact, no float)."""
    value = pl.when(pl.col(name) == "").then(pl.lit(default)).otherwise(pl.col(name))
    # Through Polars' decimal (integer-backed, exact): "2.5" → 2.50 → 250.
    return (value.cast(pl.Decimal(18, 2)) * 100).cast(pl.Int64).alias(name)


# --- reading and validating ----------------------------------------------------------------------------


def read_csv(path: Path | str, data: bytes | None = None) -> pl.DataFrame:
    """Read a CSV as strings only (no type guessing), stripped, empty cells as ``""``; adds ``__row``.

    Raises :class:`FileError` for a file that is no UTF-8 CSV text (naming the line where it can): another
    encoding, a NUL byte, a header with an empty, repeated or reserved (``__``) column name, a record with more
    fields than the header, a quote that is not closed. A record with fewer fields has empty trailing cells.
    """
    name = str(path)
    raw = Path(path).read_bytes() if data is None else data
    plain = _plain_csv(raw)
    if plain is None:
        return _read_text(name, raw)
    body, header = plain
    _check_header(name, header)
    try:
        frame = pl.read_csv(body, infer_schema=False, has_header=True)
    except (pl.exceptions.PolarsError, ValueError):
        return _read_text(name, raw)  # raises the FileError that names the line
    return _as_strings(frame, strip=not _bare(body))


def _plain_csv(raw: bytes) -> tuple[bytes, str] | None:
    """The bytes Polars may read as they are, and the header line, where the file is plain UTF-8 text: no NUL
    byte, at least one line end, a header line without quotes that is not blank. None for any other file, which
    :func:`_read_text` reads (and names what is wrong).

    This is what a national file takes: checking bytes costs a fraction of decoding them to a ``str`` and giving
    Polars that (which encodes it back to the same bytes). Valid UTF-8 decodes and encodes back to itself, so
    Polars gets the same bytes either way."""
    body = raw[len(codecs.BOM_UTF8) :] if raw.startswith(codecs.BOM_UTF8) else raw
    end = body.find(b"\n")
    if end < 0 or b'"' in body[:end] or b"\x00" in body or not _is_utf8(body):
        return None
    header = body[: end + 1].decode("utf-8")  # a line end is a character boundary: valid on its own
    return (body, header) if header.strip() else None


def _is_utf8(data: bytes) -> bool:
    """Whether ``data`` is valid UTF-8, decoded in pieces (not one ``str`` of the whole file)."""
    if data.isascii():
        return True
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        for start in range(0, len(data), _PIECE):
            decoder.decode(data[start : start + _PIECE])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


_PIECE = 1 << 20


def _bare(body: bytes) -> bool:
    """Whether no value of the file can have white space around it: ASCII without white space other than line
    feeds and without quotes (a quoted value may hold a line feed). Stripping every value of such a file changes
    nothing and costs a pass over all of them; looking for these bytes costs a fraction of that."""
    return body.isascii() and not any(byte in body for byte in (b" ", b'"', b"\t", b"\r", b"\x0b", b"\x0c"))


def _read_text(name: str, raw: bytes) -> pl.DataFrame:
    """Read a file that is not plain UTF-8 CSV text (see :func:`_plain_csv`) by decoding it: CR line ends, a
    quoted header, or a file with something wrong, for which it raises the :class:`FileError` that says what and
    where."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise FileError(name, "not UTF-8 text: the file is UTF-16 (or UTF-32); save it as CSV in UTF-8")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise FileError(
            name, f"not UTF-8 text (invalid byte at line {line}, byte {exc.start}); save it as CSV in UTF-8"
        ) from exc
    if not text.strip():
        raise FileError(name, "the file is empty (a header row is required)")
    nul = text.find("\x00")
    if nul >= 0:
        line = text.count("\n", 0, nul) + 1
        raise FileError(name, f"a NUL byte at line {line}: not a text file (save it as CSV in UTF-8)")
    if "\n" not in text and "\r" in text:
        text = text.replace("\r", "\n")  # classic Mac line ends (CR only), as some spreadsheets still write
    _check_header(name, text)
    try:
        frame = pl.read_csv(io.StringIO(text), infer_schema=False, has_header=True)
    except (pl.exceptions.PolarsError, ValueError) as exc:
        where = _diagnose(text)
        if where:
            raise FileError(name, f"not a readable CSV file: {where}") from exc
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise FileError(name, f"not a readable CSV file ({exc.__class__.__name__}: {first[:200]})") from exc
    return _as_strings(frame)


def _as_strings(frame: pl.DataFrame, strip: bool = True) -> pl.DataFrame:
    """Cells stripped (``strip``: where some may need it), empty ones ``""`` (not null), and the row number column
    ``__row`` first."""
    cells = pl.all().fill_null("")
    frame = frame.with_columns(cells.str.strip_chars() if strip else cells)
    return frame.with_row_index(ROW, offset=1).with_columns(pl.col(ROW).cast(pl.Int64))


def _records(text: str) -> Iterator[tuple[int, int, list[str]]]:
    """(first line, last line, fields) of every record, as Python's csv module reads them strictly."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    while True:
        start = reader.line_num + 1
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise _CsvSyntaxError(start, str(exc)) from exc
        yield start, reader.line_num, record


class _CsvSyntaxError(ValueError):
    def __init__(self, line: int, reason: str) -> None:
        super().__init__(reason)
        self.line = line
        self.reason = reason


def _check_header(name: str, text: str) -> None:
    """The header row: every column named, once, and no name of the reader's own helper columns (``__``)."""
    first_line = text[: text.find("\n") + 1] if "\n" in text else text
    head = first_line if '"' not in first_line else text  # a quoted header cell may span lines
    try:
        header = next(_records(head), (1, 1, []))[2]
    except _CsvSyntaxError as exc:
        raise FileError(name, f"not a readable CSV file: the header row (line 1): {exc.reason}") from exc
    seen: set[str] = set()
    for position, column in enumerate(header, start=1):
        if not column.strip():
            raise FileError(name, f"column {position} of the header row has no name")
        if column.startswith("__"):
            raise FileError(
                name, f"column name {_shown(column)} (column {position}) is reserved: names may not start with __"
            )
        if "\ufeff" in column:
            raise FileError(name, f"column {position} of the header row has a byte order mark (BOM) in its name")
        if column in seen:
            raise FileError(
                name, f"column {_shown(column)} appears more than once in the header row (column {position})"
            )
        seen.add(column)


def _diagnose(text: str) -> str | None:
    """Where and why a file that Polars refuses is no CSV: the first bad record, read with Python's csv module."""
    lines = io.StringIO(text, newline="").readlines()  # the lines the csv module counts
    width: int | None = None
    try:
        for first, last, record in _records(text):
            if width is None:
                width = len(record)
            elif len(record) > width:
                return f"line {first} has {len(record)} fields, the header has {width}"
            raw = "".join(lines[first - 1 : last])
            for value in record:
                if '"' in value and '"' + value.replace('"', '""') + '"' not in raw:
                    return f"line {first}: a double quote inside a value that is not quoted as a whole"
    except _CsvSyntaxError as exc:
        if "unexpected end of data" in exc.reason:
            return f'line {exc.line}: a quoted value is not closed (a " without its closing ")'
        if "expected after" in exc.reason:
            return f"line {exc.line}: text after the closing quote of a quoted value"
        return f"line {exc.line}: {exc.reason}"
    return None


def _shown(name: str) -> str:
    """A column name as shown in a message: quoted if it holds invisible characters, long ones shortened."""
    short = name if len(name) <= 60 else name[:57] + "…"
    return short if short.isprintable() else repr(short)


def with_header(frame: pl.DataFrame, file: str, columns: Sequence[Column]) -> pl.DataFrame:
    """``frame`` with every column of ``columns`` (a missing optional one empty); :class:`FileError` for a
    missing required column or an unknown one. Columns starting with ``__`` are helpers and not checked."""
    known = {c.name for c in columns}
    present = [c for c in frame.columns if not c.startswith("__")]
    missing = [c.name for c in columns if c.required and c.name not in present]
    unknown = [c for c in present if c not in known]
    if missing or unknown:
        parts = []
        if missing:
            parts.append("missing column(s) " + ", ".join(missing))
        if unknown:
            shown = ", ".join(_shown(c) for c in unknown[:10])
            more = f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""
            parts.append(f"unknown column(s) {shown}{more} (expected: " + ", ".join(sorted(known)) + ")")
        raise FileError(file, "; ".join(parts))
    return frame.with_columns(pl.lit("").alias(c.name) for c in columns if c.name not in present)


def validate(
    frame: pl.DataFrame,
    file: str,
    columns: Sequence[Column],
    row_rules: Sequence[RowRule] = (),
    key: Sequence[str] = (),
) -> Validated:
    """Check header, every field and every row rule; split valid rows from errors."""
    frame = with_header(frame, file, columns)

    tests: list[tuple[str, pl.Expr, str]] = []  # (field, true where invalid, reason), in the order reported
    distinct, combinations = _distinct(frame, columns, row_rules)
    for column in columns:
        col = pl.col(column.name)
        if column.required:
            tests.append((column.name, col == "", "required value is empty"))
        for check, reason in column.checks:
            invalid = (col != "") & ~check(col).fill_null(False)
            if column.name in distinct:
                invalid = _failing_values(column.name, distinct[column.name], invalid)
            tests.append((column.name, invalid, reason))
    for i, rule in enumerate(row_rules):
        tests.append((rule.field, _rows_to_test(rule, combinations.get(i)), rule.reason))
    errors = _failures(frame, file, tests, key)
    bad_rows = {e.row for e in errors}
    valid = (
        frame.filter(~pl.col(ROW).is_in(pl.Series(sorted(bad_rows), dtype=pl.Int64).implode())) if bad_rows else frame
    )
    errors.sort(key=lambda e: (e.row, e.field))
    return Validated(file, frame.height, valid, errors, frame)


def _distinct(
    frame: pl.DataFrame, columns: Sequence[Column], row_rules: Sequence[RowRule]
) -> tuple[dict[str, pl.Series], dict[int, pl.DataFrame]]:
    """The distinct values of each repeating column with checks, and the distinct combinations of each row
    rule's ``over`` columns (by the rule's position), found together in one parallel pass over the frame."""
    names = [c.name for c in columns if c.repeats and c.checks]
    spread = [(i, rule.over) for i, rule in enumerate(row_rules) if rule.over]
    found = pl.collect_all(
        [frame.lazy().select(pl.col(name).unique()) for name in names]
        + [frame.lazy().select(list(over)).unique() for _, over in spread]
    )
    values = {name: found[i].get_column(name) for i, name in enumerate(names)}
    return values, {i: combinations for (i, _), combinations in zip(spread, found[len(names) :], strict=True)}


def _failing_values(name: str, values: pl.Series, invalid: pl.Expr) -> pl.Expr:
    """``invalid`` (an expression of the column ``name`` alone) as a test of whether a row's value is one of the
    ``values`` it holds for: each distinct value checked once, not on every row it appears in."""
    failing = pl.DataFrame({name: values}).filter(invalid.fill_null(False)).get_column(name)
    return pl.col(name).is_in(failing.implode()) if failing.len() else pl.lit(False)


def _rows_to_test(rule: RowRule, combinations: pl.DataFrame | None) -> pl.Expr:
    """The rule's test of the rows: none where no distinct combination of its ``over`` columns fails it."""
    if combinations is None or combinations.select(rule.invalid_when.fill_null(False).any()).item():
        return rule.invalid_when
    return pl.lit(False)


def _failures(
    frame: pl.DataFrame, file: str, tests: Sequence[tuple[str, pl.Expr, str]], key: Sequence[str]
) -> list[RowError]:
    """Every failed test and repeated key, per test in frame order, then the repeated keys (as ``validate`` sorts
    them: by row and field, ties in this order).

    One lazy pass evaluates every test (Polars evaluates them in parallel and a subexpression two tests share,
    such as a column's checks inside its length check, once) and keeps only the rows with a failure; the reasons
    are read from those. A key is first tested for repeats (cheap); only the rows of a repeated key are grouped."""
    flags = [f"__invalid_{i}" for i in range(len(tests))]
    flagged = [invalid.fill_null(False).alias(flag) for (_, invalid, _), flag in zip(tests, flags, strict=True)]
    repeats = bool(key) and _may_repeat(frame, key)
    if repeats:
        flags.append(_REPEATED)
        flagged.append(pl.struct(list(key)).is_duplicated().alias(_REPEATED))
    if not flags:
        return []
    kept = list(dict.fromkeys([ROW, *(field_name for field_name, _, _ in tests), *key]))
    bad = frame.lazy().with_columns(flagged).filter(pl.any_horizontal(flags)).select(*kept, *flags).collect()
    errors: list[RowError] = []
    for (field_name, _, reason), flag in zip(tests, flags[: len(tests)], strict=True):
        hits = bad.filter(pl.col(flag)).select(ROW, pl.col(field_name).alias("value"))
        errors.extend(RowError(file, row, field_name, value, reason) for row, value in hits.iter_rows())
    if repeats:
        errors.extend(_duplicates(bad.filter(pl.col(_REPEATED)), file, key))
    return errors


_REPEATED = "__repeated_key"


def _may_repeat(frame: pl.DataFrame, key: Sequence[str]) -> bool:
    """False where no key occurs twice: every key's hash differs (equal keys hash alike). Counting distinct
    hashes is several times cheaper than finding repeated keys; an equal hash of two different keys only
    sends the file the slower way."""
    keys = pl.col(key[0]) if len(key) == 1 else pl.struct(list(key))
    hashes = frame.select(keys.hash().n_unique()).item()
    return bool(hashes != frame.height)


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
