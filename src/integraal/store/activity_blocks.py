"""The care activities, stored as columnar blocks: the record of every registered activity.

A national year is 4.4 million activities. As rows of a table with a key and two indexes they cost ≈8 s to write
(SQLite through the ``sqlite3`` module, one Python value per cell) and 2.3 s to read back in two processes, and
≈500 MB on disk. The same activities as nine zstd-compressed Parquet values of at most 500,000 rows take 15 MB,
≈0.4 s to encode and ≈0.3 s to read back. Every use of activities reads many of them at once (a decision run, the
distribution input, the casemix), except the pages about one trajectory and the re-decisions of a few hundred
women after a return file; those find their blocks through ``activity_block_keys`` (one row per block and
trajectory, or per block and woman for activities that name no trajectory) and decode just those blocks.

Invariants (kept by :func:`store`, the one writer, and checked by tests on both databases):

- every stored activity is in exactly one block (an import that replaces stored activities takes their old
  versions out of the blocks that held them), so a read never has to resolve versions;
- ``activity_block_keys`` lists, for every block, each trajectory its activities name and each woman (BSN) of
  its activities that name none.

Writers hold the import lock (``Database.unit_of_work(lock="import")``), so two imports cannot both add the same
activity. The blocks are written in the transaction of the import, so a read sees an import whole or not at all;
reads of blocks and of their keys are one statement each (a statement sees one snapshot, also on PostgreSQL).
"""

from __future__ import annotations

import io
from collections.abc import Collection, Sequence

import polars as pl
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Date,
    MetaData,
    String,
    Table,
    and_,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)

from integraal.store import tables
from integraal.store.bulk import in_values, insert_frame

BLOCK_ROWS = 500_000
"""Rows per block: a rewrite decodes a block whole and a page scans one, so a small one keeps both cheap."""

SMALL_BLOCKS = 16
"""Small blocks (under a quarter of :data:`BLOCK_ROWS`) allowed before they are merged: an IGO's monthly file
adds one each time, and a read of thousands of tiny values costs more than of a few big ones."""

FEW_KEYS = 2_000
"""Up to this many trajectories and women, a read looks their blocks up in ``activity_block_keys``; for more (an
IGO's distribution input) it decodes every block, which costs the same and needs no list of thousands of ids."""

SCHEMA = {
    "activity_id": pl.Utf8,
    "bsn": pl.Utf8,
    "pregnancy_id": pl.Utf8,
    "agb": pl.Utf8,
    "activity_code": pl.Utf8,
    "date": pl.Date,
    "quantity_hundredths": pl.Int64,
}
"""The columns of an activity (``store.repositories.ACTIVITY_SCHEMA``)."""

COLUMNS = Table(
    "activities",
    MetaData(),
    Column("activity_id", String(60), primary_key=True),
    Column("bsn", String(9), nullable=False),
    Column("pregnancy_id", String(60), nullable=True),
    Column("agb", String(8), nullable=False),
    Column("activity_code", String(40), nullable=False),
    Column("date", Date, nullable=False),
    Column("quantity_hundredths", BigInteger, nullable=False),
)
"""An activity's columns with their stored types and lengths (the import checks values against them). Not a table
of the database: the activities are stored in ``activity_blocks``."""

KEY = "activity_id"


def store(
    connection: Connection, rows: pl.DataFrame, import_run_id: int | None = None, *, keys_unique: bool = False
) -> None:
    """Store ``rows`` (:data:`SCHEMA`'s columns; the last row of a key wins), replacing the stored activities with
    the same keys. Call in the import's transaction, under its lock. ``keys_unique``: the caller checked that no
    key repeats (the import's validation refuses a repeated key), so they are not looked for again (≈1 s for a
    national year's 4.4 million)."""
    if rows.height == 0:
        return
    frame = rows.select(*(pl.col(name).cast(dtype) for name, dtype in SCHEMA.items()))
    if not keys_unique:
        frame = frame.unique(KEY, keep="last", maintain_order=True)
    _take_out(connection, frame[KEY])
    _insert(connection, frame, import_run_id)
    _merge_small(connection)


def read_all(connection: Connection, columns: Sequence[str] | None = None) -> pl.DataFrame:
    """Every stored activity (``columns`` of :data:`SCHEMA`, all by default), in no particular order."""
    b = tables.activity_blocks
    found = connection.execute(select(b.c.data).order_by(b.c.block_id)).scalars().all()
    return _decoded(found, columns)


def read_for(connection: Connection, pregnancy_ids: Collection[str], bsns: Collection[str]) -> pl.DataFrame:
    """The activities that name one of ``pregnancy_ids``, and those of the women ``bsns`` that name none."""
    wanted = pl.col("pregnancy_id").is_in(list(pregnancy_ids)) | (
        pl.col("pregnancy_id").is_null() & pl.col("bsn").is_in(list(bsns))
    )
    b, k = tables.activity_blocks, tables.activity_block_keys
    query = select(b.c.data).order_by(b.c.block_id)
    if len(pregnancy_ids) + len(bsns) <= FEW_KEYS:
        holding = select(k.c.block_id).where(
            or_(
                in_values(k.c.pregnancy_id, pregnancy_ids),
                and_(k.c.pregnancy_id.is_(None), in_values(k.c.bsn, bsns)),
            )
        )
        query = query.where(b.c.block_id.in_(holding))
    # Filtered while decoded: only the matching rows are made (a trajectory's page: ≈5 ms for a block of 500,000
    # activities, ≈50 ms decoding it whole first).
    return _decoded(connection.execute(query).scalars().all(), None, wanted)


def count(connection: Connection) -> int:
    """How many activities are stored."""
    b = tables.activity_blocks
    return int(connection.execute(select(func.coalesce(func.sum(b.c.row_count), 0))).scalar_one())


def encode(frame: pl.DataFrame) -> bytes:
    """A block's value: the rows as Parquet, zstd-compressed (≈3.3 bytes an activity on a national year)."""
    out = io.BytesIO()
    frame.write_parquet(out, compression="zstd", statistics=False)
    return out.getvalue()


def decode(data: bytes, columns: Sequence[str] | None = None, where: pl.Expr | None = None) -> pl.DataFrame:
    """A block's rows (``columns`` of them; those meeting ``where``, tested as the block is read)."""
    if where is None:
        frame = pl.read_parquet(io.BytesIO(bytes(data)), columns=list(columns) if columns is not None else None)
    else:
        scan = pl.scan_parquet(io.BytesIO(bytes(data))).filter(where)
        frame = (scan if columns is None else scan.select(columns)).collect()
    expected = _schema(columns)
    if frame.schema != expected:
        raise ValueError(f"an activity block has the columns {dict(frame.schema)}, not {dict(expected)}")
    return frame


def _schema(columns: Sequence[str] | None) -> pl.Schema:
    """:data:`SCHEMA`, or the part of it that ``columns`` name, in their order."""
    return pl.Schema(SCHEMA if columns is None else {name: SCHEMA[name] for name in columns})


def _decoded(found: Sequence[bytes], columns: Sequence[str] | None, where: pl.Expr | None = None) -> pl.DataFrame:
    if not found:
        return pl.DataFrame(schema=_schema(columns))
    return pl.concat([decode(data, columns, where) for data in found], rechunk=False)


def _insert(connection: Connection, frame: pl.DataFrame, import_run_id: int | None) -> None:
    b, k = tables.activity_blocks, tables.activity_block_keys
    for offset in range(0, frame.height, BLOCK_ROWS):
        part = frame.slice(offset, BLOCK_ROWS)
        block_id = connection.execute(
            insert(b)
            .values(import_run_id=import_run_id, row_count=part.height, data=encode(part))
            .returning(b.c.block_id)
        ).scalar_one()
        insert_frame(connection, k, _keys(part, int(block_id)))


def _keys(block: pl.DataFrame, block_id: int) -> pl.DataFrame:
    """``activity_block_keys`` rows of one block: its trajectories, and the women of its activities naming none."""
    named = block.select(pl.col("pregnancy_id").drop_nulls().unique(), pl.lit(None, pl.Utf8).alias("bsn"))
    unnamed = block.filter(pl.col("pregnancy_id").is_null()).select(
        pl.lit(None, pl.Utf8).alias("pregnancy_id"), pl.col("bsn").unique()
    )
    return pl.concat([named, unnamed]).select(pl.lit(block_id, pl.Int64).alias("block_id"), "pregnancy_id", "bsn")


def _delete(connection: Connection, block_ids: Sequence[int]) -> None:
    b, k = tables.activity_blocks, tables.activity_block_keys
    connection.execute(delete(k).where(k.c.block_id.in_(block_ids)))
    connection.execute(delete(b).where(b.c.block_id.in_(block_ids)))


def _merge_small(connection: Connection) -> None:
    """Merge the small blocks into as few as will hold them once there are more than :data:`SMALL_BLOCKS`
    (an activity is in one block before and after; the merged ones name no import)."""
    b = tables.activity_blocks
    small = b.c.row_count < BLOCK_ROWS // 4
    if connection.execute(select(func.count()).where(small)).scalar_one() <= SMALL_BLOCKS:
        return
    found = connection.execute(select(b.c.block_id, b.c.data).where(small).order_by(b.c.block_id)).all()
    merged = pl.concat([decode(data) for _, data in found])
    _delete(connection, [block_id for block_id, _ in found])
    _insert(connection, merged, None)


def _take_out(connection: Connection, keys: pl.Series) -> None:
    """Remove the stored activities with these keys (reading every block's keys, rewriting only the blocks that
    hold one: re-importing a file rewrites its blocks; new activities rewrite nothing)."""
    b, k = tables.activity_blocks, tables.activity_block_keys
    wanted = keys.implode()
    for block_id, data in connection.execute(select(b.c.block_id, b.c.data).order_by(b.c.block_id)).all():
        if not decode(data, [KEY]).get_column(KEY).is_in(wanted).any():
            continue
        block = decode(data)
        kept = block.filter(~pl.col(KEY).is_in(wanted))
        if kept.height == 0:
            _delete(connection, [block_id])
            continue
        connection.execute(update(b).where(b.c.block_id == block_id).values(row_count=kept.height, data=encode(kept)))
        connection.execute(delete(k).where(k.c.block_id == block_id))
        insert_frame(connection, k, _keys(kept, block_id))
