"""Set-wise reads and writes between Polars frames and the database, without a Python object per row.

SQLAlchemy compiles each statement once for the connection's dialect (so nothing here is SQLite-only). On
SQLite the rows go straight to the driver's ``executemany`` / ``fetchmany`` as tuples (built column-wise: a
national year's 4.4 million activities are the biggest write there is). On PostgreSQL writes use ``COPY``, the
server's bulk path: a frame becomes CSV in Polars and streams in on the same connection and transaction
(an upsert copies into a temporary table first, then inserts from it with ``ON CONFLICT``). Dates travel as
ISO text, which SQLite stores as-is and PostgreSQL casts on input.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import polars as pl
from sqlalchemy import Boolean, Connection, Select, Table, any_, bindparam, insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement

BATCH = 100_000


def _insert_for(connection: Connection, table: Table) -> Any:
    return postgresql.insert(table) if connection.dialect.name == "postgresql" else sqlite.insert(table)


def _driver_rows(frame: pl.DataFrame) -> pl.DataFrame:
    """Dates (and datetimes) as ISO text; everything else as is."""
    return frame.with_columns(pl.col(pl.Date, pl.Datetime).dt.to_string("%Y-%m-%d"))


def _execute_many(connection: Connection, statement: Any, frame: pl.DataFrame) -> None:
    compiled = statement.compile(dialect=connection.dialect)
    names = list(compiled.positiontup) if compiled.positional else None
    data = _driver_rows(frame)
    for offset in range(0, data.height, BATCH):
        chunk = data.slice(offset, BATCH)
        # Tuples zipped from column lists: about three times faster than ``DataFrame.rows()``.
        params: Sequence[Any] = (
            list(zip(*(chunk.get_column(name).to_list() for name in names), strict=True))
            if names is not None
            else chunk.to_dicts()
        )
        connection.exec_driver_sql(compiled.string, params)


_stages = itertools.count()


def _quoted(connection: Connection, name: str) -> str:
    return connection.dialect.identifier_preparer.quote(name)


def _copy_in(connection: Connection, target: str, frame: pl.DataFrame) -> None:
    """PostgreSQL: stream ``frame`` into ``target`` (a quoted table name) with ``COPY … FROM STDIN`` as CSV.

    Strings are always quoted and NULLs never are, so an empty string stays an empty string."""
    columns = ", ".join(_quoted(connection, c) for c in frame.columns)
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    data = _driver_rows(frame)
    with cursor.copy(f"COPY {target} ({columns}) FROM STDIN (FORMAT csv)") as copy:
        for offset in range(0, data.height, BATCH):
            buffer = io.BytesIO()
            data.slice(offset, BATCH).write_csv(buffer, include_header=False, quote_style="non_numeric")
            copy.write(buffer.getvalue())


def insert_frame(connection: Connection, table: Table, frame: pl.DataFrame) -> None:
    """Append the rows of ``frame`` (columns named as the table's) to ``table``."""
    if frame.height == 0:
        return
    if connection.dialect.name == "postgresql":
        _copy_in(connection, _quoted(connection, table.name), frame)
        return
    statement = insert(table).values({c: bindparam(c) for c in frame.columns})
    _execute_many(connection, statement, frame)


def upsert_frame(
    connection: Connection, table: Table, frame: pl.DataFrame, key: Sequence[str], replace: bool = True
) -> None:
    """Insert rows; where the key exists, replace the stored row (or keep it, with ``replace=False``).

    Within ``frame`` the last row of a key wins, as if the rows were written one after the other."""
    if frame.height == 0:
        return
    if connection.dialect.name == "postgresql":
        _upsert_by_copy(connection, table, frame, key, replace)
        return
    base = _insert_for(connection, table).values({c: bindparam(c) for c in frame.columns})
    updates = {c: base.excluded[c] for c in frame.columns if c not in key} if replace else {}
    statement = (
        base.on_conflict_do_update(index_elements=list(key), set_=updates)
        if updates
        else base.on_conflict_do_nothing(index_elements=list(key))
    )
    _execute_many(connection, statement, frame)


def _upsert_by_copy(
    connection: Connection, table: Table, frame: pl.DataFrame, key: Sequence[str], replace: bool
) -> None:
    """PostgreSQL: COPY into a temporary table of the frame's columns, then one INSERT … SELECT … ON CONFLICT."""
    stage = f"_integraal_stage_{next(_stages)}"
    columns = ", ".join(_quoted(connection, c) for c in frame.columns)
    connection.exec_driver_sql(
        f"CREATE TEMPORARY TABLE {stage} ON COMMIT DROP AS SELECT {columns} FROM {_quoted(connection, table.name)} "
        "WITH NO DATA"
    )
    # ON CONFLICT may touch a row once per statement: of two rows with one key, the last is the one to write.
    _copy_in(connection, stage, frame.unique(subset=list(key), keep="last", maintain_order=True))
    keys = ", ".join(_quoted(connection, c) for c in key)
    updates = ", ".join(
        f"{_quoted(connection, c)} = EXCLUDED.{_quoted(connection, c)}" for c in frame.columns if c not in key
    )
    action = f"DO UPDATE SET {updates}" if replace and updates else "DO NOTHING"
    connection.exec_driver_sql(
        f"INSERT INTO {_quoted(connection, table.name)} ({columns}) SELECT {columns} FROM {stage} "
        f"ON CONFLICT ({keys}) {action}"
    )
    connection.exec_driver_sql(f"DROP TABLE {stage}")


def read_frame(connection: Connection, query: Select[Any], schema: Mapping[str, Any]) -> pl.DataFrame:
    """Run ``query`` and return its rows as a frame with ``schema`` (dates parsed column-wise)."""
    compiled = query.compile(dialect=connection.dialect, compile_kwargs={"render_postcompile": True})
    values = compiled.params  # a property that rebuilds every parameter: read it once, not once per parameter
    params: Any = tuple(values[name] for name in compiled.positiontup or ()) if compiled.positional else values
    cursor = connection.exec_driver_sql(compiled.string, params)
    raw_schema = {name: (pl.Utf8 if dtype == pl.Date else dtype) for name, dtype in schema.items()}
    # SQLite hands dates over as the ISO text they are stored as; PostgreSQL's driver as date objects, in any row
    # (the first row's may all be NULL), so there every batch is made text the same way.
    as_text = connection.dialect.name != "sqlite"
    frames = []
    while rows := cursor.fetchmany(BATCH):
        text = (
            [tuple(v.isoformat() if hasattr(v, "isoformat") else v for v in row) for row in rows] if as_text else rows
        )
        frames.append(pl.DataFrame(text, schema=raw_schema, orient="row"))
    frame = pl.concat(frames) if frames else pl.DataFrame(schema=raw_schema)
    return frame.with_columns(
        pl.col(name).str.to_date("%Y-%m-%d") for name, dtype in schema.items() if dtype == pl.Date
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


@compiles(_InValues, "postgresql")
def _in_values_postgresql(element: _InValues, compiler: SQLCompiler, **kw: Any) -> str:
    array = bindparam(None, element.values, type_=postgresql.ARRAY(element.column.type))
    return compiler.process(element.column == any_(array), **kw)
