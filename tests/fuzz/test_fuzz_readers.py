"""Fuzz every reader of files from outside: the CSV import (reader and the whole import into a database), the
FHIR outcome bundle, and every registered claim format.

The property at every door: a bad file gives the project's own, documented error and nothing else.

- CSV import: :class:`FileError` naming the file (and the line where it can), or an import report whose bad rows
  are row errors naming row and field. After a ``FileError`` the database is exactly as before; after a report,
  the valid rows are stored and nothing but the file's own rows (and the run, its quarantine and audit) changed.
- FHIR outcomes: ``FileError`` or row errors per entry.
- Claim formats: only :class:`FormatError` subclasses, with a line and a column (and a field where one applies).

Mutations come from real files: the documented examples and what each claim format's own ``write()`` makes of
a small batch (``mutations.py`` says how they are damaged). Found bugs are pinned below as ``@example``s.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from claim_strategies import sample_batch, sample_return
from fuzzing import fuzz
from hypothesis import example, given
from hypothesis import strategies as st
from mutations import mutated_csv, mutated_json, mutated_records
from sqlalchemy import select

from dbutil import fresh_database, release
from integraal.claims.formats import FormatError, formats, get_format
from integraal.claims.formats.csv_format import CsvFormatError
from integraal.claims.formats.fhir import FhirFormatError
from integraal.importing.fhir_outcomes import read_fhir_outcomes
from integraal.importing.formats import FORMATS
from integraal.importing.validation import ROW, FileError, read_csv
from integraal.services.imports import columns_table, import_files
from integraal.store import activity_blocks, tables
from integraal.store.database import Database

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "docs" / "examples"
FHIR_EXAMPLES = EXAMPLES / "fhir"
OUTCOMES_BUNDLE = ROOT / "tests" / "data" / "fhir" / "outcomes-bundle.json"

CSV_SOURCES = {path.name: path.read_bytes() for path in sorted(EXAMPLES.glob("*.csv"))}
IMPORT_SOURCES = {**CSV_SOURCES, "outcomes.json": OUTCOMES_BUNDLE.read_bytes()}


def without_column(data: bytes, index: int) -> bytes:
    """A CSV file without its column ``index`` (0-based)."""
    lines = data.decode().splitlines()
    return "".join(",".join(v for i, v in enumerate(line.split(",")) if i != index) + "\n" for line in lines).encode()


# --- the CSV reader --------------------------------------------------------------------------------------------


@st.composite
def csv_files(draw: st.DrawFn) -> tuple[str, bytes]:
    name = draw(st.sampled_from(sorted(CSV_SOURCES)))
    return name, draw(mutated_csv(CSV_SOURCES[name]))


def assert_file_error(error: FileError, *names: str) -> None:
    """A FileError names its file (its path or its name), says what is wrong and carries no traceback text."""
    assert error.file in names
    assert str(error).startswith(f"{error.file}: ")
    assert len(error.message) < 2_000, "a message one can read"
    assert error.message.strip()
    assert "Traceback" not in error.message


@fuzz(share=8)
@given(case=csv_files())
@example(case=("activities.csv", b"__row,activity_id\n1,A\n"))  # was polars DuplicateError
@example(case=("providers.csv", b"agb,name,discipline,city\n08000001,De\x00Linde,midwife,Tiel\n"))  # NUL byte
@example(case=("providers.csv", b"agb,agb,name\n1,2,3\n"))  # was "unknown column agb_duplicated_0"
@example(case=("providers.csv", b'agb,name\n08000001,"De Linde\n08000002,x\n'))  # unterminated quote
@example(case=("providers.csv", b"agb,name\n08000001,a,b\n"))  # more fields than the header
@example(case=("providers.csv", CSV_SOURCES["providers.csv"].replace(b"\n", b"\r")))  # was a 2 kB header error
@example(case=("providers.csv", "agb,name\n1,é\n".encode("utf-16")))  # says UTF-16
@example(case=("providers.csv", b"agb," + b"x" * 70_000 + b"\n1,2\n"))  # was a 70 kB message
def test_read_csv_gives_a_frame_of_strings_or_a_file_error(case: tuple[str, bytes]) -> None:
    name, content = case
    try:
        frame = read_csv(name, data=content)
    except FileError as error:
        assert_file_error(error, name)
        return
    assert frame.columns[0] == ROW
    assert frame.schema[ROW] == pl.Int64
    assert frame.get_column(ROW).to_list() == list(range(1, frame.height + 1))
    for column in frame.columns[1:]:
        assert frame.schema[column] == pl.String, column
        assert frame.get_column(column).null_count() == 0, column
        assert "\x00" not in column


# --- the whole import, into a database with the examples -------------------------------------------------------

UNSCOPED = {"import_runs", "import_rejections", "audit_log", "audit_scopes"}  # what every import writes
BLOCKS = {"activity_blocks", "activity_block_keys"}  # how the activities are stored: compared as activities


@pytest.fixture(scope="module")
def example_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    folder = tmp_path_factory.mktemp("fuzz-import")
    db = fresh_database(folder, "fuzz")
    reports = import_files(db, sorted(EXAMPLES.glob("*.csv")))
    assert all(r.ok for r in reports), [str(e) for r in reports for e in r.errors]
    yield db
    release(db)


def snapshot(db: Database) -> dict[str, set[tuple[Any, ...]]]:
    """Every table's rows, and the stored activities (kept as blocks) under the name of their format's table."""
    with db.unit_of_work() as connection:
        found = {t.name: {tuple(row) for row in connection.execute(select(t))} for t in tables.metadata.sorted_tables}
        found[activity_blocks.COLUMNS.name] = set(activity_blocks.read_all(connection).iter_rows())
    return found


def key_of(row: dict[str, Any], key: tuple[str, ...]) -> tuple[str, ...]:
    return tuple("" if row[k] is None else str(row[k]) for k in key)


@st.composite
def import_files_cases(draw: st.DrawFn) -> tuple[str, bytes]:
    name = draw(st.sampled_from(sorted(IMPORT_SOURCES)))
    good = IMPORT_SOURCES[name]
    return name, draw(mutated_json(good) if name.endswith(".json") else mutated_csv(good))


NUL_PROVIDER = b"agb,name,discipline,city\n08000001,De\x00Linde,midwife,Tiel\n"  # PostgreSQL: DataError
LONG_NAME = b"agb,name,discipline,city\n08000009," + b"n" * 300 + b",midwife,Tiel\n"  # PostgreSQL: varchar(200)
LONG_IGO = b"igo_id,agb,name\n" + b"I" * 50 + b",53000009,IGO Lang\n"  # PostgreSQL: varchar(40)
NUL_BUNDLE = OUTCOMES_BUNDLE.read_bytes().replace(b'"Z-0001"', b'"Z-\\u00001"')  # PostgreSQL: NUL in quarantine
TYPO = CSV_SOURCES["activities.csv"].replace(b"activity_id", b"ACTIVITY_ID", 1)  # taken for pregnancies.csv


@fuzz(share=4)
@given(case=import_files_cases(), companion=st.booleans())
@example(case=("providers.csv", NUL_PROVIDER), companion=False)
@example(case=("activities.csv", b"__row,activity_id\n1,A\n"), companion=False)  # was polars DuplicateError
@example(case=("activities.csv", b"activity_id\nA-1\n"), companion=False)  # was polars ColumnNotFoundError
@example(case=("activities.csv", without_column(CSV_SOURCES["activities.csv"], 2)), companion=False)  # idem
@example(case=("providers.csv", LONG_NAME), companion=False)
@example(case=("igos.csv", LONG_IGO), companion=False)
@example(case=("outcomes.json", NUL_BUNDLE), companion=False)
@example(case=("activities.csv", TYPO), companion=True)  # providers.csv was imported before the header error
def test_import_keeps_valid_rows_and_changes_nothing_on_a_file_error(
    example_db: Database, case: tuple[str, bytes], companion: bool
) -> None:
    """``companion``: the good providers.csv is imported in the same call (and before, by the kinds' order): a
    file error in the damaged file must leave that one unimported as well."""
    name, content = case
    before = snapshot(example_db)
    with tempfile.TemporaryDirectory(prefix="integraal-fuzz-") as folder:
        path = Path(folder) / name
        path.write_bytes(content)
        paths = [path]
        if companion:
            (Path(folder) / "companion").mkdir()
            paths.append(Path(folder) / "companion" / "providers.csv")
            paths[-1].write_bytes(CSV_SOURCES["providers.csv"])
        try:
            reports = import_files(example_db, paths, actor="fuzz")
        except FileError as error:
            assert_file_error(error, str(path), path.name)
            assert snapshot(example_db) == before, "a file error must change nothing"
            return
        after = snapshot(example_db)
        [report] = [r for r in reports if r.file == str(path)]
        # The companion restores the example providers (an earlier example may have changed them).
        unchecked = UNSCOPED | BLOCKS | ({"providers"} if companion else set())
        fmt = FORMATS[report.kind]
        assert report.accepted + report.rejected == report.total
        bad_rows = {e.row for e in report.errors}
        assert len(bad_rows) == report.rejected
        assert all(e.row >= 1 and e.field and e.reason for e in report.errors)

        # Every valid row of the file is stored (CSV: the rows without errors; a bundle: its frame's rows).
        if name.endswith(".json"):
            read = read_fhir_outcomes(path)
            valid = [r for r in read.frame.to_dicts() if r[ROW] not in bad_rows]
        else:
            valid = [r for r in read_csv(path).to_dicts() if r[ROW] not in bad_rows]
    target = columns_table(fmt)
    columns = [c.name for c in target.c]
    stored = {key_of(dict(zip(columns, row, strict=True)), fmt.key) for row in after[fmt.table]}
    file_keys = {key_of(r, fmt.key) for r in valid}
    assert file_keys <= stored, f"valid rows not stored: {sorted(file_keys - stored)[:5]}"
    assert len(file_keys) == report.accepted

    # Nothing else changed: other tables as before, and rows of the target table with other keys as before.
    for table, rows in before.items():
        if table in unchecked:
            continue
        if table == fmt.table:

            def others(rows: set[tuple[Any, ...]]) -> set[tuple[Any, ...]]:
                return {r for r in rows if key_of(dict(zip(columns, r, strict=True)), fmt.key) not in file_keys}

            assert others(after[table]) == others(rows), "rows of other keys changed"
        else:
            assert after[table] == rows, f"{table} changed by an import of {report.kind}"


# --- the FHIR outcome bundle ------------------------------------------------------------------------------------


@fuzz(share=4)
@given(content=mutated_json(OUTCOMES_BUNDLE.read_bytes()))
@example(content=b"[" * 100_000)
@example(content=b'{"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {"x": 1e400}}]}')
def test_outcome_bundles_give_row_errors_or_a_file_error(content: bytes) -> None:
    try:
        read = read_fhir_outcomes("fuzz.json", data=content)
    except FileError as error:
        assert_file_error(error, "fuzz.json")
        return
    assert all(e.file == "fuzz.json" and e.row >= 1 and e.field and e.reason for e in read.errors)
    assert not set(read.frame.get_column(ROW).to_list()) & {e.row for e in read.errors}
    assert all(read.frame.schema[c] == pl.String for c in read.frame.columns if c != ROW)


# --- the claim formats -----------------------------------------------------------------------------------------


def _good_file(name: str) -> bytes:
    """What the format's own writer makes: of the shared sample batch, or (FHIR, whose codes must be known) of
    the committed example read back."""
    fmt = get_format(name)
    if name.startswith("fhir-"):
        sample = {"fhir-claim": "claim-bundle.json", "fhir-claimresponse": "claimresponse-bundle.json"}
        committed = (FHIR_EXAMPLES / sample.get(name, "paymentreconciliation.json")).read_bytes()
        return fmt.write(fmt.read(committed))
    return fmt.write(sample_return() if name in ("kz302", "csv-return") else sample_batch())


GOOD_CLAIM_FILES = {name: _good_file(name) for name in sorted(formats())}


def _mutator(name: str, good: bytes) -> st.SearchStrategy[bytes]:
    if name.startswith("fhir-"):
        return mutated_json(good)
    if name.startswith("csv"):
        return mutated_csv(good, terminator="\r\n")
    return mutated_records(good)


@st.composite
def claim_files(draw: st.DrawFn) -> tuple[str, bytes]:
    name = draw(st.sampled_from(sorted(GOOD_CLAIM_FILES)))
    if draw(st.integers(0, 9)) == 0:  # another format's file, as when the wrong format is chosen
        return name, GOOD_CLAIM_FILES[draw(st.sampled_from(sorted(GOOD_CLAIM_FILES)))]
    return name, draw(_mutator(name, GOOD_CLAIM_FILES[name]))


def test_the_good_files_read() -> None:
    """The fuzz starts from files that read: the damage, not the sample, makes an error."""
    assert set(GOOD_CLAIM_FILES) >= {"kz301", "kz302", "csv", "csv-return", "fhir-claim", "fhir-payment"}
    for name, good in GOOD_CLAIM_FILES.items():
        get_format(name).read(good)
    json.loads(GOOD_CLAIM_FILES["fhir-claim"])


@fuzz(share=10)
@given(case=claim_files())
@example(case=("csv", GOOD_CLAIM_FILES["csv"].replace(b"batch_id", b"x" * 70_000, 1)))  # was a 70 kB message
@example(case=("fhir-claim", b'{"resourceType": "Bundle", "type": "collection", "entry": ' + b"[" * 50_000))
def test_claim_readers_raise_only_format_errors(case: tuple[str, bytes]) -> None:
    name, content = case
    try:
        get_format(name).read(content)
    except FormatError as error:  # anything else fails the test
        assert_format_error(error)


def assert_format_error(error: FormatError) -> None:
    """A reading error says where: a line and a column (CSV: the row), a FHIR one its JSON path."""
    assert error.reason.strip()
    assert len(str(error)) < 2_000, "a message one can read"
    if isinstance(error, FhirFormatError):  # a JSON path, and a line and column where the text has a place
        assert str(error).startswith(error.path or "(document)")
        assert (error.line >= 1 and error.column >= 1) or (error.line, error.column) == (0, 0)
    else:
        assert error.line >= 1 and error.column >= 1, error
        what = "row" if isinstance(error, CsvFormatError) else "line"
        assert str(error).startswith(f"{what} {error.line}, column {error.column}"), error
