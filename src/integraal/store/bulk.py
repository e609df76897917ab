"""Set-wise reads and writes between Polars frames and the database, without a Python object per row.

SQLAlchemy compiles each statement once for the connection's dialect (so nothing here is SQLite-only). On
SQLite the rows go straight to the driver's ``executemany`` / ``fetchmany`` as tuples (built column-wise: a
national year's 4.4 million activities are the biggest write there is). On PostgreSQL writes use ``COPY``, the
server's bulk path: a frame becomes CSV in Polars and streams in on the same connection and transaction
(an upsert copies into a temporary table first, then inserts from it with ``ON CONFLICT``). Dates travel as
ISO text, which SQLite stores as-is and PostgreSQL casts on input.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl
from sqlalchemy import (
    Boolean,
    Connection,
    Select,
    Table,
    Text,
    any_,
    bindparam,
    cast,
    func,
    literal,
    literal_column,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import operators
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement, UnaryExpression
from sqlalchemy.sql.util import find_tables

from integraal.store.database import CHANGES_AT_LOCK

BATCH = 100_000


def _driver_rows(frame: pl.DataFrame) -> pl.DataFrame:
    """Dates (and datetimes) as ISO text; everything else as is."""
    return frame.with_columns(pl.col(pl.Date, pl.Datetime).dt.to_string("%Y-%m-%d"))


ROWS_PER_STATEMENT = 500
"""SQLite: rows per ``INSERT … VALUES (…), (…), …``; one statement per 500 rows binds the same values as 500
statements but steps the engine once, about 40 % faster for a national year's activities."""


class WriteStoppedError(Exception):
    """A write of rows was stopped half way by its caller (``stop``): roll back to before it."""


def _check(stop: Callable[[], bool] | None) -> None:
    if stop is not None and stop():
        raise WriteStoppedError


def _sqlite_write(
    connection: Connection,
    table: Table,
    frame: pl.DataFrame | PreparedRows,
    conflict: Callable[[Any], Any] | None = None,
    stop: Callable[[], bool] | None = None,
    constants: Mapping[str, Any] | None = None,
) -> None:
    """SQLite: write the rows of ``frame`` in multi-row ``INSERT`` statements, ``conflict`` adding the
    ``ON CONFLICT`` clause of an upsert. Later rows of one statement see the earlier ones, as one by one. Columns
    whose values repeat go through a table of keys (:func:`_sqlite_write_keyed`). ``frame`` may come prepared
    (:func:`prepare_rows`); ``constants``: columns of one value in every row."""
    prepared = frame if isinstance(frame, PreparedRows) else _prepared_for_sqlite(table, frame)
    constants = dict(constants or {})
    given = set(prepared.rows.columns) | set(constants)
    columns = [c.name for c in table.columns if c.name in given]  # the order SQLAlchemy writes them in
    if len(columns) != len(given) or len(given) != prepared.rows.width + len(constants):
        raise ValueError(f"columns not in {table.name} or given twice: {sorted(given - set(columns))}")
    per = max(1, min(ROWS_PER_STATEMENT, 30_000 // len(columns)))  # well under SQLite's 32,766 parameters

    statement = sqlite.insert(table).values({c: bindparam(c) for c in columns})
    compiled = (conflict(statement) if conflict else statement).compile(dialect=connection.dialect)
    one_row = "VALUES (" + ", ".join("?" * len(columns)) + ")"
    if list(compiled.positiontup or ()) != columns or compiled.string.count(one_row) != 1:
        raise AssertionError(f"unexpected statement writing {table.name}: {compiled.string}")

    def sql(rows: int) -> str:
        return str(compiled.string).replace(one_row, "VALUES " + ", ".join([one_row[7:]] * rows))

    per = min(per, prepared.rows.height)
    if prepared.keyed:
        before, after = str(compiled.string).split(one_row)
        _sqlite_write_keyed(connection, (before, after), prepared, columns, constants, per, stop)
        return
    data = prepared.rows.with_columns(pl.lit(value).alias(name) for name, value in constants.items())
    full = sql(per)
    for offset in range(0, data.height, BATCH):
        _check(stop)
        _execute_rows(connection, data.slice(offset, BATCH), columns, per, full, sql)


def _execute_rows(
    connection: Connection, chunk: pl.DataFrame, columns: Sequence[str], per: int, full: str, sql: Callable[[int], str]
) -> None:
    """The rows of ``chunk`` (its ``columns``) as parameters of ``full`` (``per`` rows a statement) and of
    ``sql(rows)`` for the rows left over."""
    # Values zipped from column lists, row after row (far cheaper than ``DataFrame.rows()``), and cut into the
    # parameters of one statement each by zipping the one iterator with itself, all in C.
    values = itertools.chain.from_iterable(zip(*(chunk.get_column(c).to_list() for c in columns), strict=True))
    statements = chunk.height // per
    width = per * len(columns)
    if statements:
        head = itertools.islice(values, statements * width)  # the rest stays in ``values``
        connection.exec_driver_sql(full, list(zip(*[head] * width, strict=True)))
    if rest := chunk.height - statements * per:
        connection.exec_driver_sql(sql(rest), tuple(values))


_stages = itertools.count()

KEYED_MIN_ROWS = 5_000
"""SQLite: a write of at least this many rows looks for columns to bind as keys (:func:`_keyed_columns`) …"""

KEYED_SAMPLE = 4_096
"""… in this many of its rows, drawn from the first :data:`BATCH` (counting in all of them would cost more than
the keys save; the count is only an estimate: whatever it misses is still written as it is) …"""

KEYED_SHARE = 4
"""… whose combinations of values number at most one per this many sampled rows."""


def _keyed_columns(sample: pl.DataFrame, columns: Sequence[str]) -> list[str]:
    """The columns of ``sample`` whose combinations of values repeat, taken greedily, the fewest distinct first:
    each row then binds one number for all of them instead of a value each (:func:`_sqlite_write_keyed`). None (an
    empty list) where fewer than two qualify or the sample is small: the plain write is as fast there."""
    if len(columns) < 2 or sample.height < KEYED_MIN_ROWS:
        return []
    if sample.height > KEYED_SAMPLE:  # rows drawn at random (every n-th row could fall in step with a pattern)
        sample = sample.sample(KEYED_SAMPLE, seed=0)
    most = sample.height // KEYED_SHARE
    distinct = sample.select(pl.col(name).n_unique() for name in columns).row(0)
    chosen: list[str] = []
    for count, name in sorted(zip(distinct, columns, strict=True)):
        if count > most:
            break
        if not chosen or sample.select(pl.struct(*chosen, name).n_unique()).item() <= most:
            chosen.append(name)
    return chosen if len(chosen) >= 2 else []


@dataclass(frozen=True, slots=True)
class PreparedRows:
    """A frame's rows made ready to write (:func:`prepare_rows`), so that another thread than the writing one can
    do the columnar part of a write: on SQLite the dates as text and, where values repeat, each batch's
    combinations numbered (:func:`_sqlite_write_keyed`). Written by :func:`insert_prepared`."""

    table: Table
    rows: pl.DataFrame  # the columns to write; on SQLite with dates as text
    keyed: tuple[str, ...] = ()  # SQLite: the columns bound through a table of keys
    batches: tuple[tuple[pl.DataFrame, pl.DataFrame], ...] = ()  # … and per batch (combinations, numbered rows)


def prepare_rows(table: Table, frame: pl.DataFrame, dialect: str) -> PreparedRows:
    """``frame``'s rows for :func:`insert_prepared` on a database of ``dialect`` (``"sqlite"``, ``"postgresql"``):
    no database needed, so any thread may prepare them."""
    frame = _without_absent(table, frame)
    return _prepared_for_sqlite(table, frame) if dialect == "sqlite" else PreparedRows(table, frame)


def _prepared_for_sqlite(table: Table, frame: pl.DataFrame) -> PreparedRows:
    data = _driver_rows(frame)
    keyed = _keyed_columns(data.slice(0, BATCH), data.columns)
    if not keyed:
        return PreparedRows(table, data)
    batches = []
    for offset in range(0, data.height, BATCH):
        chunk = data.slice(offset, BATCH)
        combinations = chunk.select(keyed).unique(maintain_order=True).with_row_index("_key", offset=1)
        numbered = chunk.join(combinations, on=keyed, how="left", maintain_order="left", nulls_equal=True)
        batches.append((combinations, numbered))
    return PreparedRows(table, data, tuple(keyed), tuple(batches))


def _sqlite_write_keyed(
    connection: Connection,
    statement: tuple[str, str],
    prepared: PreparedRows,
    columns: Sequence[str],
    constants: Mapping[str, Any],
    per: int,
    stop: Callable[[], bool] | None,
) -> None:
    """SQLite: write ``prepared``'s rows as :func:`_sqlite_write` does, but with its ``keyed`` columns' values
    bound once per distinct combination, into a temporary table, and each row naming its combination by number.

    Binding a value costs the ``sqlite3`` module more than SQLite's own work of storing it (the two binds the
    interpreter for, the one not): a national year's 510,000 phase decisions (eight of nine values repeating)
    are written ≈35 % faster, its claim lines ≈20 %. The rows are selected from their ``VALUES`` in order (a
    ``CROSS JOIN`` keeps them the outer loop), so they are stored in the same order and an upsert's later rows
    see the earlier ones, as before; the temporary table is dropped at the end. ``statement``: the one-row
    statement's text before and after its ``VALUES (?, …)``. The ``constants`` are keyed columns too."""
    keyed = [*prepared.keyed, *constants]
    plain = [name for name in columns if name not in keyed]
    keys = f"_integraal_keys_{next(_stages)}"
    number = f"column{len(plain) + 1}"
    chosen = ", ".join(
        f"k.{_quoted(connection, name)}" if name in keyed else f"v.column{plain.index(name) + 1}" for name in columns
    )
    row = "(" + ", ".join("?" * (len(plain) + 1)) + ")"

    before, after = statement

    def sql(rows: int) -> str:
        values = ", ".join([row] * rows)
        # ``WHERE true``: what SQLite's documentation asks of an upsert from a ``SELECT`` with a join (its parser).
        return (
            f"{before}SELECT {chosen} FROM (VALUES {values}) AS v "
            f"CROSS JOIN temp.{keys} AS k ON k.rowid = v.{number} WHERE true{after}"
        )

    names = ", ".join(_quoted(connection, name) for name in keyed)
    fill = f"INSERT INTO temp.{keys} (rowid, {names}) VALUES (?{', ?' * len(keyed)})"
    full = sql(per)
    connection.exec_driver_sql(f"CREATE TEMPORARY TABLE {keys} ({names})")
    try:
        for combinations, numbered in prepared.batches:
            _check(stop)
            combinations = combinations.with_columns(pl.lit(value).alias(name) for name, value in constants.items())
            connection.exec_driver_sql(f"DELETE FROM temp.{keys}")
            connection.exec_driver_sql(fill, list(combinations.iter_rows()))
            _execute_rows(connection, numbered, [*plain, "_key"], per, full, sql)
    finally:
        connection.exec_driver_sql(f"DROP TABLE temp.{keys}")


def _quoted(connection: Connection, name: str) -> str:
    return connection.dialect.identifier_preparer.quote(name)


def _copy_in(connection: Connection, target: str, frame: pl.DataFrame, stop: Callable[[], bool] | None = None) -> None:
    """PostgreSQL: stream ``frame`` into ``target`` (a quoted table name) with ``COPY … FROM STDIN`` as CSV.

    Strings are always quoted and NULLs never are, so an empty string stays an empty string."""
    columns = ", ".join(_quoted(connection, c) for c in frame.columns)
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    data = _driver_rows(frame)
    with cursor.copy(f"COPY {target} ({columns}) FROM STDIN (FORMAT csv)") as copy:
        for offset in range(0, data.height, BATCH):
            _check(stop)
            buffer = io.BytesIO()
            data.slice(offset, BATCH).write_csv(buffer, include_header=False, quote_style="non_numeric")
            copy.write(buffer.getvalue())


ANALYZE_ROWS = 50_000
"""PostgreSQL: a write of at least this many rows may refresh the table's planner statistics at once."""

ANALYZE_SHARE = 0.2
"""… if it is more than this share of the rows the statistics know of (a first load always is)."""


def refresh_statistics(connection: Connection, table: Table, rows: int) -> None:
    """PostgreSQL: ``ANALYZE`` ``table`` after ``rows`` were written to it if they are many, and many compared
    with what its statistics know, in the writing transaction (it samples its own new rows; the statistics are
    seen once it commits).

    The server's own analysis comes up to a minute after a commit: until then a table filled by an import or a
    decision run is planned as if it were (nearly) empty, and the next steps' joins run as nested loops over
    hundreds of thousands of rows (the simulated insurers' answers to a national year's claims: 117 s instead of
    ≈15 s). A scratch table (``TEMPORARY``) is never analysed by the server at all. SQLite: nothing (its planner
    needs no statistics for these queries)."""
    if connection.dialect.name != "postgresql" or rows < ANALYZE_ROWS:
        return
    name = _quoted(connection, table.name)
    known = connection.exec_driver_sql(
        "SELECT reltuples FROM pg_class WHERE oid = to_regclass(%(name)s)", {"name": name}
    ).scalar()
    if known is None or rows > ANALYZE_SHARE * max(float(known), 0.0):  # -1: never analysed
        connection.exec_driver_sql(f"ANALYZE {name}")


def insert_frame(connection: Connection, table: Table, frame: pl.DataFrame) -> None:
    """Append the rows of ``frame`` (columns named as the table's) to ``table``.

    A column that is null throughout is left out where the table stores NULL without it (no default): one value
    fewer per row to hand over (a first claim's 474,277 scratch rows take back no line)."""
    insert_prepared(connection, prepare_rows(table, frame, connection.dialect.name))


def insert_prepared(connection: Connection, prepared: PreparedRows, constants: Mapping[str, Any] | None = None) -> None:
    """Append rows prepared by :func:`prepare_rows` (in any thread) to their table, each with the ``constants``
    (columns of one value, such as the run they belong to)."""
    if prepared.rows.height == 0:
        return
    if connection.dialect.name == "postgresql":
        frame = prepared.rows.with_columns(pl.lit(value).alias(name) for name, value in (constants or {}).items())
        _copy_in(connection, _quoted(connection, prepared.table.name), frame)
        refresh_statistics(connection, prepared.table, frame.height)
        return
    _sqlite_write(connection, prepared.table, prepared, constants=constants)


def _without_absent(table: Table, frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` without its columns that are null throughout where the table stores NULL without them."""
    absent = [
        name
        for name in frame.columns
        if (column := table.c.get(name)) is not None
        and column.default is None
        and column.server_default is None
        and not column.primary_key
        and frame.get_column(name).null_count() == frame.height
    ]
    return frame.drop(absent) if absent and len(absent) < frame.width else frame


def upsert_frame(
    connection: Connection,
    table: Table,
    frame: pl.DataFrame,
    key: Sequence[str],
    replace: bool = True,
    *,
    stop: Callable[[], bool] | None = None,
) -> None:
    """Insert rows; where the key exists, replace the stored row (or keep it, with ``replace=False``).

    Within ``frame`` the last row of a key wins, as if the rows were written one after the other. ``stop``, asked
    before each :data:`BATCH` of rows: true raises :class:`WriteStoppedError` with part of the rows written (the caller
    rolls back to its savepoint)."""
    if frame.height == 0:
        return
    if connection.dialect.name == "postgresql":
        _upsert_by_copy(connection, table, frame, key, replace, stop)
        return

    def conflict(statement: Any) -> Any:
        updates = {c: statement.excluded[c] for c in frame.columns if c not in key} if replace else {}
        if updates:
            return statement.on_conflict_do_update(index_elements=list(key), set_=updates)
        return statement.on_conflict_do_nothing(index_elements=list(key))

    _sqlite_write(connection, table, frame, conflict, stop)


def _upsert_by_copy(
    connection: Connection,
    table: Table,
    frame: pl.DataFrame,
    key: Sequence[str],
    replace: bool,
    stop: Callable[[], bool] | None = None,
) -> None:
    """PostgreSQL: COPY into a temporary table of the frame's columns, then one INSERT … SELECT … ON CONFLICT.

    If no staged key is stored yet (a first import; an empty table is not even joined), a plain INSERT: ON
    CONFLICT's speculative insertion costs a third more (4.4 million activities: 14.8 s → 9.9 s). Only imports
    upsert, one at a time under their lock; a key stored by anyone between the check and the INSERT would fail it
    (unique violation), never count twice."""
    stage = f"_integraal_stage_{next(_stages)}"
    columns = ", ".join(_quoted(connection, c) for c in frame.columns)
    connection.exec_driver_sql(
        f"CREATE TEMPORARY TABLE {stage} ON COMMIT DROP AS SELECT {columns} FROM {_quoted(connection, table.name)} "
        "WITH NO DATA"
    )
    # ON CONFLICT may touch a row once per statement: of two rows with one key, the last is the one to write.
    _copy_in(connection, stage, frame.unique(subset=list(key), keep="last", maintain_order=True), stop)
    keys = ", ".join(_quoted(connection, c) for c in key)
    updates = ", ".join(
        f"{_quoted(connection, c)} = EXCLUDED.{_quoted(connection, c)}" for c in frame.columns if c not in key
    )
    action = f"DO UPDATE SET {updates}" if replace and updates else "DO NOTHING"
    target = _quoted(connection, table.name)
    same_key = " AND ".join(f"t.{_quoted(connection, c)} = s.{_quoted(connection, c)}" for c in key)
    stored = connection.exec_driver_sql(f"SELECT EXISTS (SELECT 1 FROM {target})").scalar() and (
        connection.exec_driver_sql(f"SELECT EXISTS (SELECT 1 FROM {stage} s JOIN {target} t ON {same_key})").scalar()
    )
    conflict = f" ON CONFLICT ({keys}) {action}" if stored else ""
    connection.exec_driver_sql(f"INSERT INTO {target} ({columns}) SELECT {columns} FROM {stage}{conflict}")
    connection.exec_driver_sql(f"DROP TABLE {stage}")
    refresh_statistics(connection, table, frame.height)


Split = tuple[ColumnElement[Any], Callable[[ColumnElement[bool]], Select[Any]]]
"""``read_frame``'s ``split`` of a join: an indexed key, and the query of the rows whose key meets a condition."""


def read_frame(
    connection: Connection,
    query: Select[Any],
    schema: Mapping[str, Any],
    *,
    many: bool = False,
    split: Split | None = None,
) -> pl.DataFrame:
    """Run ``query`` and return its rows as a frame with ``schema`` (dates parsed column-wise).

    ``many``: the query may return millions of rows (every activity of a year). On SQLite such a read goes to a
    separate process when it is safe and the tables are big (``_read_in_child``). ``split``: ``(key, query_of)``
    for a read of joined tables — ``query_of(condition on key)`` is the query for the rows whose key meets the
    condition (``query_of(true())`` is ``query``); where the read goes to separate processes, it is cut into one
    range of the indexed key per process (:func:`_key_ranges`).

    Without a Python object per value where the database allows it: PostgreSQL sends the rows as CSV by
    ``COPY … TO STDOUT`` on this connection (so inside this transaction), parsed by Polars; SQLite joins each
    column into one text that Polars splits (``_read_joined``) when the query asks for no order and has only
    text, dates, whole numbers and booleans, else hands over tuples of the driver's own cursor. (A second SQLite
    library, such as the ADBC driver's, only ever in another process: two copies of SQLite in one process do not
    see each other's POSIX locks, and closing one releases the other's — a crash or a corrupt database, see
    sqlite.org/howtocorrupt.html §2.2; tried, and it crashed.)"""
    raw_schema = _raw_schema(schema)
    joined = None
    if connection.dialect.name == "sqlite":
        if many:
            joined = _read_in_child(connection, query, raw_schema, split)
        if joined is None and not query._order_by_clauses and all(map(_joinable, schema.values())):
            joined = _read_joined(connection, query, raw_schema)
    if joined is not None:
        frame = joined
    else:
        compiled = query.compile(dialect=connection.dialect, compile_kwargs={"render_postcompile": True})
        values = compiled.params  # a property that rebuilds every parameter: read it once, not once per parameter
        params: Any = tuple(values[name] for name in compiled.positiontup or ()) if compiled.positional else values
        if connection.dialect.name == "postgresql":
            frame = _read_by_copy(connection, compiled.string, params, raw_schema)
        else:
            frame = _read_by_fetch(connection, compiled.string, params, raw_schema)
    return _with_dates(frame, schema)


def _raw_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """The schema a read hands over: dates as their ISO text (parsed by :func:`_with_dates`)."""
    return {name: (pl.Utf8 if dtype == pl.Date else dtype) for name, dtype in schema.items()}


def _with_dates(frame: pl.DataFrame, schema: Mapping[str, Any]) -> pl.DataFrame:
    return frame.with_columns(
        pl.col(name).str.to_date("%Y-%m-%d") for name, dtype in schema.items() if dtype == pl.Date
    )


CHILD_PROCESSES = 2
"""At most this many processes share one read (one per core)."""

CHILD_BATCH_ROWS = 65_536
"""Rows per Arrow batch in the child (it takes each column's type from the first)."""

CHILD_MIN_ROWS = 250_000
"""``read_frame(many=True)`` reads in a separate process only from tables this big: starting one costs ≈0.3 s."""

_log = logging.getLogger(__name__)

READ_FILE_PREFIX = "integraal-read-"
"""A child's output file is ``<prefix><reading process id>-<random>.arrow`` in the temporary folder."""

READ_FILE_STALE_SECONDS = 600
"""A read file this long untouched may be swept: a read takes seconds (and ``TMPDIR`` might be shared with
processes this one cannot see, in another container: their ids mean nothing here)."""


def sweep_read_files(folder: str) -> list[str]:
    """Remove the child output files in ``folder`` left by a reading process that no longer runs (killed
    between its children's writing and its own clean-up: a national read leaves hundreds of MiB); the names.

    Only files untouched for ``READ_FILE_STALE_SECONDS``. A file whose process still runs (or whose id was taken
    by another process since) is left alone; it is removed by its reader, or by a later sweep."""
    removed = []
    stale = time.time() - READ_FILE_STALE_SECONDS
    for entry in os.scandir(folder):
        name = entry.name
        if not (name.startswith(READ_FILE_PREFIX) and name.endswith(".arrow")):
            continue
        pid = name[len(READ_FILE_PREFIX) :].split("-", 1)[0]
        with contextlib.suppress(FileNotFoundError):  # removed meanwhile (its reader, another sweep)
            if pid.isdigit() and entry.stat().st_mtime < stale and not _runs(int(pid)):
                os.unlink(entry.path)
                removed.append(name)
    if removed:
        _log.info("removed %d read files of reading processes that stopped: %s", len(removed), removed[:5])
    return removed


def _runs(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _read_in_child(
    connection: Connection,
    query: Select[Any],
    raw_schema: dict[str, Any],
    split: Split | None = None,
) -> pl.DataFrame | None:
    """SQLite: the rows of ``query`` read by ``store.bulk_process`` (the ADBC driver, in its own process: Arrow
    columns built in C, about three times faster than this process's driver), or ``None`` where that is not
    safe or not worth it, and the caller reads here. A read of one big table is split by rowid over one process
    per core, a join by the caller's ``split`` (``read_frame``). An ordered query is read unordered and sorted here
    when its order is by selected columns (SQLite's default BINARY order of text is byte order, as Polars sorts).

    Safe means: the other process sees exactly what this connection would. It is a second reader of the WAL
    database and sees what is committed, so this connection must not have written in its open transaction:
    either there is none (pysqlite begins one only at the first write; until then every read sees what is
    committed, as the child does) or it is a locked unit of work (``BEGIN IMMEDIATE``: no other writer can commit
    meanwhile) that has changed nothing since it took the lock. Any failure of a child (driver missing, a
    column whose values change type, …) is logged and the caller reads the usual way."""
    path = _child_may_read(connection, [(query, raw_schema)])
    if path is None:
        return None
    ordered, query = query, query.order_by(None)  # sorted below, in Polars (SQLite's BINARY order is byte order)
    finals = query.get_final_froms()
    pieces: list[Select[Any]] = [query]
    cores = _processes()
    if split is not None:  # a join, cut by the caller's key
        key, query_of = split
        pieces = [query_of(part).order_by(None) for part in _key_ranges(connection, key, cores)] or pieces
    elif len(finals) == 1 and isinstance(finals[0], Table) and cores > 1:
        table_size = connection.exec_driver_sql(
            f"SELECT max(rowid) FROM {_quoted(connection, finals[0].name)}"
        ).scalar()
        rowid: ColumnElement[int] = literal_column(f"{_quoted(connection, finals[0].name)}.rowid")
        bounds = [(table_size or 0) * n // cores for n in range(cores + 1)]
        pieces = [query.where(rowid > low, rowid <= high) for low, high in itertools.pairwise(bounds)]
        pieces[-1] = query.where(rowid > bounds[-2])  # and whatever was added since max(rowid)
    read = _read_by_children(connection, path, [[(piece, raw_schema)] for piece in pieces])
    if read is None:
        return None
    return _ordered(ordered, raw_schema, pl.concat([frames[0] for frames in read], rechunk=False))


def read_frames(
    connection: Connection, reads: Sequence[tuple[Select[Any], Mapping[str, Any]]], *, many: bool = False
) -> list[pl.DataFrame]:
    """Several reads, each ``(query, schema)`` as :func:`read_frame` reads it. ``many``: on SQLite, where it is
    safe and the tables are big, all of them in *one* separate process (``_read_in_child``), one after the other
    in one read transaction there: a process started once for several big tables, and none of them read here."""
    if many and connection.dialect.name == "sqlite" and reads:
        raw = [(query, _raw_schema(schema)) for query, schema in reads]
        path = _child_may_read(connection, raw)
        job = [(query.order_by(None), raw_schema) for query, raw_schema in raw]
        if path is not None and (read := _read_by_children(connection, path, [job])):
            return [
                _with_dates(_ordered(query, raw_schema, frame), schema)
                for (query, raw_schema), frame, (_, schema) in zip(raw, read[0], reads, strict=True)
            ]
    return [read_frame(connection, query, schema) for query, schema in reads]


def _child_may_read(connection: Connection, reads: Sequence[tuple[Select[Any], dict[str, Any]]]) -> str | None:
    """The database file a separate process may read ``reads`` from (``_read_in_child``: safe, every column
    readable there, every order one Polars can redo, the tables big), or ``None``."""
    driver = connection.connection.driver_connection
    if driver is None or (driver.in_transaction and connection.info.get(CHANGES_AT_LOCK) != driver.total_changes):
        return None
    path = next((row[2] for row in driver.execute("PRAGMA database_list") if row[1] == "main"), "")
    if not path:  # in memory
        return None
    involved: set[str] = set()
    for query, raw_schema in reads:
        if not all(map(_child_readable, raw_schema.values())) or _order_of(query, list(raw_schema)) is None:
            return None
        involved |= {
            t.name for t in find_tables(query, include_joins=True, include_aliases=True) if isinstance(t, Table)
        }
    size = max(
        (
            connection.exec_driver_sql(f"SELECT max(rowid) FROM {_quoted(connection, n)}").scalar() or 0
            for n in involved
        ),
        default=0,
    )
    return str(path) if size >= CHILD_MIN_ROWS else None


def _read_by_children(
    connection: Connection, path: str, jobs: Sequence[Sequence[tuple[Select[Any], dict[str, Any]]]]
) -> list[list[pl.DataFrame]] | None:
    """One separate process per job, each reading its ``(query, raw schema)`` pairs in turn; the frames per job,
    typed, or ``None`` if any process or frame failed (logged)."""
    sweep_read_files(tempfile.gettempdir())
    outputs: list[list[str]] = []
    try:
        children = []
        for job in jobs:
            reads = []
            outputs.append([])
            for query, raw_schema in job:
                handle, output = tempfile.mkstemp(prefix=f"{READ_FILE_PREFIX}{os.getpid()}-", suffix=".arrow")
                os.close(handle)
                outputs[-1].append(output)
                # A first row of the right types: the driver takes each column's type from the first batch, where
                # a column may hold only NULLs. It is checked and dropped below.
                first = ", ".join(
                    f"{_FIRST_SQL[_first_kind(dtype)]} AS {_quoted(connection, name)}"
                    for name, dtype in raw_schema.items()
                )
                sql = query.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True})
                reads.append({"sql": f"SELECT {first} UNION ALL SELECT * FROM ({sql})", "output": output})
            request = {"database": path, "reads": reads, "batch_rows": CHILD_BATCH_ROWS}
            child = subprocess.Popen(
                [sys.executable, "-m", "integraal.store.bulk_process"],
                stdin=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            assert child.stdin is not None
            # The request at once: each child starts reading while the next one starts. A child that ended
            # before reading it (it could not even start) is seen below by its exit status.
            with contextlib.suppress(BrokenPipeError), child.stdin:
                child.stdin.write(json.dumps(request))
            children.append(child)
        failures = [err for child in children if (err := _finished(child)) or child.returncode]
        if failures:
            _log.warning("reading in a separate process failed, reading here: %s", failures[0].strip()[-500:])
            return None
        frames = [
            [
                _typed_without_first(pl.read_ipc(output), raw_schema)
                for output, (_, raw_schema) in zip(files, job, strict=True)
            ]
            for files, job in zip(outputs, jobs, strict=True)
        ]
    finally:
        for files in outputs:
            for output in files:
                os.unlink(output)
    if any(frame is None for job in frames for frame in job):
        return None
    return [[frame for frame in job if frame is not None] for job in frames]


def _ordered(query: Select[Any], raw_schema: dict[str, Any], frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` (read unordered) in the order of ``query``'s ORDER BY: NULLs first going up, last going down, as
    SQLite orders them."""
    order = _order_of(query, list(raw_schema))
    names, descending = order if order is not None else ([], [])
    if names:
        frame = frame.sort(names, descending=descending, nulls_last=descending, maintain_order=True)
    return frame


def _processes() -> int:
    """How many separate processes share one big read: one per core, at most :data:`CHILD_PROCESSES`."""
    return min(os.cpu_count() or 1, CHILD_PROCESSES)


def _key_ranges(connection: Connection, column: ColumnElement[Any], parts: int) -> list[ColumnElement[bool]]:
    """Conditions on ``column`` (an indexed key, never NULL) that split its table's rows into ``parts`` ranges
    of about equal rows (``LIMIT 1 OFFSET`` along the index for each bound); none (``[]``) for fewer than two
    parts or rows."""
    if parts < 2:
        return []
    rows = connection.execute(select(func.count()).select_from(column.table)).scalar() or 0
    if rows < parts:
        return []
    bounds = [
        connection.execute(select(column).order_by(column).limit(1).offset(rows * n // parts)).scalar()
        for n in range(1, parts)
    ]
    if None in bounds:  # rows deleted meanwhile
        return []
    ranges = [column < bounds[0]]
    ranges += [(column >= low) & (column < high) for low, high in itertools.pairwise(bounds)]
    return [*ranges, column >= bounds[-1]]


_FIRST_SQL = {"text": "'x'", "whole": "0", "real": "0.5", "boolean": "0"}
_FIRST_VALUE: dict[str, Any] = {"text": "x", "whole": 0, "real": 0.5, "boolean": False}


def _first_kind(dtype: Any) -> str:
    """Which typed value the first row of a child's read has in a column of ``dtype``."""
    if dtype == pl.Utf8:
        return "text"
    if dtype == pl.Boolean:
        return "boolean"
    return "real" if dtype == pl.Float64 else "whole"


def _child_readable(dtype: Any) -> bool:
    return _joinable(dtype) or dtype == pl.Float64


def _order_of(query: Select[Any], names: list[str]) -> tuple[list[str], list[bool]] | None:
    """The query's ORDER BY as (output column names, descending), if every term is a selected column (possibly
    ``.desc()``): then Polars can sort the rows as SQLite would. ``None`` for anything else."""
    selected = list(query.selected_columns)
    if len(selected) != len(names):
        return None
    order: tuple[list[str], list[bool]] = ([], [])
    for term in query._order_by_clauses:
        descending = isinstance(term, UnaryExpression) and term.modifier is operators.desc_op
        if isinstance(term, UnaryExpression) and term.modifier in (operators.desc_op, operators.asc_op):
            term = term.element
        position = next((k for k, column in enumerate(selected) if column is term), None)
        if position is None:
            return None
        order[0].append(names[position])
        order[1].append(descending)
    return order


def _finished(child: subprocess.Popen[str]) -> str:
    """What a child wrote to stderr, once it has ended."""
    assert child.stderr is not None
    with child.stderr:
        said = child.stderr.read()
    child.wait()
    return said


def _typed_without_first(frame: pl.DataFrame, raw_schema: dict[str, Any]) -> pl.DataFrame | None:
    """A child's frame in ``raw_schema``, its typed first row checked and dropped (``None`` if anything is off)."""
    if frame.width != len(raw_schema) or frame.height == 0:
        return None
    frame.columns = list(raw_schema)
    try:
        typed = frame.select(
            (pl.col(name).cast(pl.Int64).cast(pl.Boolean) if dtype == pl.Boolean else pl.col(name)).cast(
                dtype, strict=True
            )
            for name, dtype in raw_schema.items()
        )
    except pl.exceptions.PolarsError:
        return None
    if typed.row(0) != tuple(_FIRST_VALUE[_first_kind(dtype)] for dtype in raw_schema.values()):
        return None
    return typed.slice(1)


_WHOLE = (pl.Int8, pl.Int16, pl.Int32, pl.Int64, pl.UInt8, pl.UInt16, pl.UInt32, pl.UInt64)


def _joinable(dtype: Any) -> bool:
    """Types whose SQLite text form is exact (not floats: SQLite writes them with 15 digits)."""
    return bool(dtype == pl.Utf8 or dtype == pl.Date or dtype == pl.Boolean or any(dtype == whole for whole in _WHOLE))


def _read_joined(connection: Connection, query: Select[Any], raw_schema: dict[str, Any]) -> pl.DataFrame | None:
    """SQLite: every column as *one* text (``group_concat`` of its values, a line break between them) that
    Polars splits: no Python object per value, about two thirds of the time of tuples on millions of rows.

    ``group_concat`` skips NULLs, so a column that may hold them is joined as ``v`` + value or an empty piece for
    NULL (an empty text stays an empty text); a column declared NOT NULL is joined as it is, and the read
    checks that it held no NULL after all (an outer join can bring one). All columns are joined in one pass over
    the same rows, so the pieces line up; a value holding a line break gives its column more pieces than rows.
    Either, or a text outgrowing SQLite's limit, makes this return ``None`` and the caller fetch tuples. The row
    order is the database's, which is why only unordered queries come here."""
    rows = query.subquery("joined_rows")
    if len(rows.c) != len(raw_schema):
        return None
    marked = [getattr(column, "nullable", True) is not False for column in rows.c]
    pieces = [
        func.group_concat(func.ifnull(literal("v") + cast(column, Text), "") if mark else column, "\n")
        for column, mark in zip(rows.c, marked, strict=True)
    ]
    present = [func.count(column) for column, mark in zip(rows.c, marked, strict=True) if not mark]
    try:
        count, *texts = connection.execute(select(func.count(), *pieces, *present)).one()
    except OperationalError:  # string or blob too big
        return None
    if not count:
        return pl.DataFrame(schema=raw_schema)
    if any(n != count for n in texts[len(pieces) :]):
        return None  # a NULL in a column declared NOT NULL
    columns = []
    for position, (name, dtype) in enumerate(raw_schema.items()):
        split = pl.Series(name, [texts[position]], dtype=pl.Utf8).str.split("\n").explode()
        texts[position] = None  # tens of megabytes each: let go as soon as split
        if split.len() != count:
            return None
        value = pl.when(split.str.len_bytes() > 0).then(split.str.slice(1)) if marked[position] else pl.lit(split)
        typed = value.cast(pl.Int64).cast(pl.Boolean) if dtype == pl.Boolean else value.cast(dtype)
        columns.append(pl.select(typed).to_series().alias(name))
    return pl.DataFrame(columns)


def _read_by_fetch(connection: Connection, sql: str, params: Any, raw_schema: dict[str, Any]) -> pl.DataFrame:
    # The driver's own cursor (same connection and transaction): plain tuples, no SQLAlchemy row per row.
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    cursor.execute(sql, params)
    # SQLite hands dates over as the ISO text they are stored as; PostgreSQL's driver as date objects, in any row
    # (the first row's may all be NULL), so there every batch is made text the same way.
    as_text = connection.dialect.name != "sqlite"
    frames = []
    while rows := cursor.fetchmany(BATCH):
        text = (
            [tuple(v.isoformat() if hasattr(v, "isoformat") else v for v in row) for row in rows] if as_text else rows
        )
        frames.append(pl.DataFrame(text, schema=raw_schema, orient="row"))
    return pl.concat(frames) if frames else pl.DataFrame(schema=raw_schema)


def _read_by_copy(connection: Connection, sql: str, params: Any, raw_schema: dict[str, Any]) -> pl.DataFrame:
    """PostgreSQL: the query's rows as CSV from ``COPY (query) TO STDOUT``; NULL is an unquoted empty field, an
    empty string a quoted one, booleans ``t``/``f``."""
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    buffer = io.BytesIO()
    with cursor.copy(f"COPY ({sql}) TO STDOUT (FORMAT csv)", params) as copy:
        for block in copy:
            buffer.write(block)
    text_schema = {name: (pl.Utf8 if dtype == pl.Boolean else dtype) for name, dtype in raw_schema.items()}
    frame = pl.read_csv(buffer.getvalue(), has_header=False, schema=text_schema, quote_char='"')
    return frame.with_columns(
        (pl.col(name) == "t").alias(name) for name, dtype in raw_schema.items() if dtype == pl.Boolean
    )


def in_values(column: ColumnElement[Any], values: Iterable[Any]) -> ColumnElement[bool]:
    """``column IN (values)`` for a list of any length (a national year's pregnancies or BSNs).

    SQLite gets the usual ``IN (?, ?, ...)``. PostgreSQL gets ``column = ANY(%s)`` with the values as *one* array
    parameter: its wire protocol allows at most 65,535 parameters per statement, fewer than the ids of a big
    region, and ``IN`` with one parameter per value fails there."""
    return _InValues(column, values)


class _InValues(ColumnElement[bool]):
    inherit_cache = False  # the values are part of the statement; a new list is a new statement
    _is_implicitly_boolean = True  # a condition itself, not a boolean column to compare with 1
    type = Boolean()

    def __init__(self, column: ColumnElement[Any], values: Iterable[Any]) -> None:
        self.column = column
        self.values = list(values)

    @property
    def _from_objects(self) -> list[Any]:  # the column's table is what a SELECT of it reads FROM
        return self.column._from_objects

    def get_children(self, **kw: Any) -> list[Any]:
        return [self.column]

    def _copy_internals(self, clone: Any = None, **kw: Any) -> None:  # aliasing and correlation adapt the column
        if clone is not None:
            self.column = clone(self.column, **kw)


@compiles(_InValues)
def _in_values(element: _InValues, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.column.in_(element.values), **kw)


JSON_IN_VALUES = 1_000
"""SQLite: an ``in_values`` list at least this long is one JSON parameter (``IN (SELECT value FROM json_each(?))``)
instead of a parameter per value: SQLAlchemy renders and binds 170,000 parameters in about half a second, SQLite
parses the one array in milliseconds, and both build the same temporary index of the values."""


@compiles(_InValues, "sqlite")
def _in_values_sqlite(element: _InValues, compiler: SQLCompiler, **kw: Any) -> str:
    values = element.values
    kinds = {type(value) for value in values}
    # Only texts and whole numbers: JSON gives those back as SQLite compares them (not booleans, dates, floats).
    if len(values) < JSON_IN_VALUES or not (kinds <= {str} or kinds <= {int}):
        return _in_values(element, compiler, **kw)
    array = compiler.process(bindparam(None, json.dumps(values), type_=Text()), **kw)
    return f"{compiler.process(element.column, **kw)} IN (SELECT value FROM json_each({array}))"


@compiles(_InValues, "postgresql")
def _in_values_postgresql(element: _InValues, compiler: SQLCompiler, **kw: Any) -> str:
    array = bindparam(None, element.values, type_=postgresql.ARRAY(element.column.type))
    return compiler.process(element.column == any_(array), **kw)
