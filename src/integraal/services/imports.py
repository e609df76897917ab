"""Use case: import CSV files (providers … activities) into the database.

Per file, in one transaction: validate every row, upsert the valid rows by their key (so the same file twice
gives the same state, and a changed row replaces its earlier version), quarantine the rejected rows with file,
row, field and reason (keyed by file content and row, so a re-import does not double them), record the run
and write the audit log. A file that cannot be read at all changes nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import Column as TableColumn
from sqlalchemy import Connection, String, Table, insert, select

from integraal.data.loader import load_catalogue
from integraal.importing.fhir_outcomes import read_fhir_outcomes
from integraal.importing.formats import FORMATS, FileFormat, References, detect_kind
from integraal.importing.validation import (
    ROW,
    Check,
    Column,
    FileError,
    RowError,
    RowRule,
    Validated,
    read_csv,
    validate,
    with_header,
)
from integraal.services import audit
from integraal.store import activity_blocks, tables
from integraal.store.bulk import read_frame, upsert_frame
from integraal.store.database import Database


@dataclass(slots=True)
class ImportReport:
    """What one file did: rows read, stored, rejected, and every error."""

    file: str
    kind: str
    total: int = 0
    accepted: int = 0
    rejected: int = 0
    errors: list[RowError] = field(default_factory=list)
    run_id: int | None = None

    @property
    def ok(self) -> bool:
        return self.rejected == 0


def import_files(
    db: Database, paths: Iterable[Path], actor: str = "cli", kind: str | None = None
) -> list[ImportReport]:
    """Import files in dependency order (providers before memberships before activities …).

    A ``.json`` file (unless ``kind`` names another kind than outcomes) is a FHIR Bundle of outcomes
    (docs/formats.md, "Outcomes from FHIR"): read into the frame of an outcomes.csv, with the entries it could not
    map as row errors, then imported like that CSV."""
    order = list(FORMATS)
    planned: list[tuple[int, Path, str, pl.DataFrame, list[RowError], str]] = []
    for path in paths:
        data = path.read_bytes()  # read once: the digest is of exactly the bytes imported
        digest = hashlib.sha256(data).hexdigest()
        if path.suffix.lower() == ".json" and kind in (None, "outcomes"):
            bundle = read_fhir_outcomes(path, data)
            planned.append((order.index("outcomes"), path, "outcomes", bundle.frame, bundle.errors, digest))
            continue
        frame = read_csv(path, data)
        del data
        file_kind = kind or detect_kind([c for c in frame.columns if c != ROW])
        if file_kind is None:
            raise FileError(str(path), "cannot tell which kind of file this is from its header; use --kind")
        try:  # every header before any file is imported: a file error in one file changes nothing at all
            with_header(frame, path.name, FORMATS[file_kind].columns(References()))
        except FileError as exc:
            if kind is not None:
                raise
            # The kind was guessed from the header: a header with a typo may have been taken for another kind.
            hint = f" (taken for a {file_kind} file by its header; name the kind with --kind if it is another)"
            raise FileError(exc.file, exc.message + hint) from exc
        planned.append((order.index(file_kind), path, file_kind, frame, [], digest))
    planned.sort(key=lambda p: (p[0], str(p[1])))
    return [
        import_frame(db, path, file_kind, frame, actor, errors, digest)
        for _, path, file_kind, frame, errors, digest in planned
    ]


def import_file(db: Database, path: Path, kind: str | None = None, actor: str = "cli") -> ImportReport:
    return import_files(db, [path], actor=actor, kind=kind)[0]


def import_frame(
    db: Database,
    path: Path,
    kind: str,
    frame: pl.DataFrame,
    actor: str,
    read_errors: Sequence[RowError],
    digest: str,
) -> ImportReport:
    """``read_errors``: rows a reader could not even put in the frame (a FHIR entry it cannot map); they are
    rejected and quarantined with the validation errors, and counted as rows of the file. ``digest``: the
    SHA-256 of the file's bytes the frame was read from."""
    fmt = FORMATS[kind]
    name = str(path)
    with db.unit_of_work(lock="import") as connection:
        references = load_references(connection, kind)
        columns = _with_length_checks(fmt.columns(references), columns_table(fmt))
        # The header first: ``prepare`` joins on columns that may be optional (activities.pregnancy_id).
        prepared = fmt.prepare(with_header(frame, path.name, columns), references)
        blocks = fmt.table == activity_blocks.COLUMNS.name  # activities: stored as blocks, below
        if blocks:
            validated = validate(prepared, path.name, columns, fmt.row_rules(references), fmt.key)
            rows = fmt.to_rows(validated.valid)
        else:
            validated, rows = _validate_and_write(connection, fmt, prepared, path.name, columns, references)
        if read_errors:
            validated.errors = sorted([*validated.errors, *read_errors], key=lambda e: (e.row, e.field))
            validated.total = len(set(frame.get_column(ROW).to_list()) | {e.row for e in read_errors})
        report = ImportReport(
            file=name,
            kind=kind,
            total=validated.total,
            accepted=rows.height,
            rejected=validated.rejected_rows,
            errors=validated.errors,
        )
        run_id = connection.execute(
            insert(tables.import_runs).values(
                kind=kind,
                file_name=_fit_path(name, tables.import_runs.c.file_name),
                file_sha256=digest,
                started_at=datetime.now(UTC),
                actor=actor,
                rows_total=report.total,
                rows_accepted=report.accepted,
                rows_rejected=report.rejected,
            )
        ).inserted_primary_key
        report.run_id = int(run_id[0]) if run_id else None
        if blocks:
            activity_blocks.store(connection, rows, report.run_id, keys_unique=True)  # validate refuses repeats
        _quarantine(connection, report, digest, validated.raw)
        audit.record(
            connection,
            actor,
            "import",
            kind,
            name,
            run_id=report.run_id,
            sha256=digest,
            accepted=report.accepted,
            rejected=report.rejected,
        )
    return report


WRITE_WHILE_CHECKING = 100_000
"""Rows from which a file is written while it is validated (:func:`_validate_and_write`)."""

_SAVEPOINT = "integraal_import_rows"


def columns_table(fmt: FileFormat) -> Table:
    """The table whose columns a format's rows have (activities: their columns; they are stored as blocks)."""
    if fmt.table == activity_blocks.COLUMNS.name:
        return activity_blocks.COLUMNS
    return tables.metadata.tables[fmt.table]


def _validate_and_write(
    connection: Connection,
    fmt: FileFormat,
    prepared: pl.DataFrame,
    file: str,
    columns: Sequence[Column],
    references: References,
) -> tuple[Validated, pl.DataFrame]:
    """Validate the prepared rows and write the valid ones: what was validated and the rows written.

    A big file (a national activities file: ≈1.5 s of checks, ≈8 s of writing) is written whole *while* it is
    validated in a second thread (Polars lets go of the interpreter; the database needs it only to hand over
    the values), under a savepoint. Nearly every such file is valid throughout; if a row is not (or the unchecked
    rows cannot even be written), the savepoint is rolled back and only the valid rows are written, as for a
    small file. The rows stored and the report are the same either way. The write ahead stops as soon as the check
    has found an invalid row (before the next 100,000 rows), so a big file with a bad row costs about what it did
    when it was checked first, not two writes."""
    table = columns_table(fmt)
    rules = fmt.row_rules(references)
    if prepared.height < WRITE_WHILE_CHECKING:
        validated = validate(prepared, file, columns, rules, fmt.key)
    else:
        validated, rows = _write_while_checking(connection, fmt, table, prepared, file, columns, rules)
        if rows is not None:
            return validated, rows
    rows = fmt.to_rows(validated.valid)
    upsert_frame(connection, table, rows, fmt.key)
    return validated, rows


def _write_while_checking(
    connection: Connection,
    fmt: FileFormat,
    table: Table,
    prepared: pl.DataFrame,
    file: str,
    columns: Sequence[Column],
    rules: Sequence[RowRule],
) -> tuple[Validated, pl.DataFrame | None]:
    """:func:`_validate_and_write`'s write ahead: what was validated, and the rows written (``None``: a row was
    invalid or the write failed, and the savepoint was rolled back — the caller writes the valid rows)."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="integraal-validate") as checker:
        checking = checker.submit(validate, prepared, file, columns, rules, fmt.key)

        def invalid_found() -> bool:
            """Has the check finished and found a row to reject (or failed)? Then writing on is wasted."""
            if not checking.done():
                return False
            return checking.exception() is not None or checking.result().valid.height != prepared.height

        connection.exec_driver_sql(f"SAVEPOINT {_SAVEPOINT}")
        rows: pl.DataFrame | None
        try:
            rows = fmt.to_rows(prepared)
            upsert_frame(connection, table, rows, fmt.key, stop=invalid_found)
        except Exception:  # a row found invalid meanwhile (WriteStoppedError), or an unchecked value the table
            rows = None  # refuses: the valid rows are written by the caller, checked
        validated = checking.result()
    if rows is not None and validated.valid.height == prepared.height:  # every row valid: what was written stands
        connection.exec_driver_sql(f"RELEASE SAVEPOINT {_SAVEPOINT}")
        return validated, rows
    connection.exec_driver_sql(f"ROLLBACK TO SAVEPOINT {_SAVEPOINT}")
    connection.exec_driver_sql(f"RELEASE SAVEPOINT {_SAVEPOINT}")
    return validated, None


def _with_length_checks(columns: Sequence[Column], table: Table) -> list[Column]:
    """``columns`` where each one stored in a text column of limited length checks that length too: a longer
    value is a row error, not a failing insert (PostgreSQL refuses it; SQLite would store it as it is). The
    length is only reported for a value that passes the column's other checks (one error per field)."""
    fitted = []
    for column in columns:
        target = table.c.get(column.name)
        length = target.type.length if target is not None and isinstance(target.type, String) else None
        if length:
            check = (_at_most(length, [c for c, _ in column.checks]), f"at most {length} characters")
            column = replace(column, checks=(*column.checks, check))
        fitted.append(column)
    return fitted


def _at_most(length: int, others: Sequence[Check]) -> Check:
    def check(value: pl.Expr) -> pl.Expr:
        fits = value.str.len_chars() <= length
        if not others:
            return fits
        return fits | ~pl.all_horizontal([other(value).fill_null(False) for other in others])

    return check


def _fit_path(name: str, column: TableColumn[Any]) -> str:
    """A file's path as stored: its end (with the file's own name) where the whole is longer than the column."""
    length = column.type.length if isinstance(column.type, String) else None
    return name if not length or len(name) <= length else "…" + name[-(length - 1) :]


def load_references(connection: Connection, kind: str) -> References:
    """The stored keys that rows of ``kind`` may refer to (only what that kind needs)."""

    def keys(table: Table, column: str) -> frozenset[str]:
        return frozenset(connection.execute(select(table.c[column])).scalars())

    catalogue = load_catalogue()
    years = catalogue.years
    rulesets = [catalogue.for_year(y) for y in years]
    refs: dict[str, Any] = {
        "activity_codes_by_year": {r.year: frozenset(r.activity_types) for r in rulesets if r},
        "prestatie_codes_by_year": {
            r.year: frozenset(p.code for p in r.integral_prestaties) | frozenset(m.code for m in r.mono_prestaties)
            for r in rulesets
            if r
        },
    }
    if kind == "memberships":
        refs["providers"] = keys(tables.providers, "agb")
        m = tables.memberships
        stored = connection.execute(select(m.c.igo_id, m.c.agb, m.c.start_date, m.c.end_date)).all()
        refs["memberships"] = pl.DataFrame(
            [(r[0], r[1], r[2].isoformat(), r[3].isoformat() if r[3] else "") for r in stored],
            schema={"igo_id": pl.Utf8, "agb": pl.Utf8, "start_date": pl.Utf8, "end_date": pl.Utf8},
            orient="row",
        )
    if kind in ("memberships", "contracts", "pregnancies"):
        refs["igos"] = keys(tables.igos, "igo_id")
    if kind in ("contracts", "pregnancies"):
        refs["insurers"] = keys(tables.insurers, "uzovi")
    p = tables.pregnancies
    if kind == "activities":  # column-wise: a national year's 170,000 trajectories
        refs["pregnancies"] = read_frame(
            connection, select(p.c.pregnancy_id, p.c.bsn), {"pregnancy_id": pl.Utf8, "bsn": pl.Utf8}
        )
    if kind == "outcomes":
        refs["pregnancy_ends"] = read_frame(
            connection, select(p.c.pregnancy_id, p.c.end_reason), {"pregnancy_id": pl.Utf8, "end_reason": pl.Utf8}
        )
    return References(**refs)


def _quarantine(connection: Connection, report: ImportReport, digest: str, raw: pl.DataFrame | None) -> None:
    """Store rejected rows with the whole raw row, once per (file content, row, field)."""
    if not report.errors:
        return
    raw_rows: dict[int, str] = {}
    if raw is not None:
        bad = sorted({e.row for e in report.errors})
        subset = raw.filter(pl.col(ROW).is_in(bad))
        for record in subset.to_dicts():
            row_number = record.pop(ROW)
            raw_rows[row_number] = json.dumps(
                {k: v for k, v in record.items() if not k.startswith("__")}, ensure_ascii=False
            )
    quarantined = pl.DataFrame(
        {
            "run_id": [report.run_id] * len(report.errors),
            "kind": [report.kind] * len(report.errors),
            "file_name": [_fit_path(report.file, tables.import_rejections.c.file_name)] * len(report.errors),
            "file_sha256": [digest] * len(report.errors),
            "row_number": [e.row for e in report.errors],
            "field": [e.field for e in report.errors],
            # PostgreSQL cannot store a NUL character (a FHIR bundle may hold "\u0000"): shown, not stored
            "value": [e.value.replace("\x00", "\\x00") for e in report.errors],
            "reason": [e.reason.replace("\x00", "\\x00") for e in report.errors],
            "raw_row": [raw_rows.get(e.row, "{}") for e in report.errors],
        }
    )
    key = ("file_sha256", "row_number", "field")
    upsert_frame(connection, tables.import_rejections, quarantined, key, replace=False)


def summarise(reports: Sequence[ImportReport]) -> tuple[int, int, int]:
    return (
        sum(r.total for r in reports),
        sum(r.accepted for r in reports),
        sum(r.rejected for r in reports),
    )
