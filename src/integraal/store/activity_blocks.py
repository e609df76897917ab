"""The activities a second time, as columnar blocks: every activity in one read of a few megabytes.

A national year is 4.4 million activity rows. Reading them all back as rows (a decision run, the distribution
input of every IGO) costs 2.3 s in two processes; the same rows as nine zstd-compressed Parquet values of
500,000 rows read back in ≈0.2 s. The rows stay the record (every per-pregnancy page, the member's list, the
SQL reports read them); the blocks are a copy for the reads of *every* activity, kept in the same transaction
as the rows by the one writer of activities, the import (:func:`append`).

Invariants (checked where it is cheap, and by tests on both databases):

- every stored activity is in exactly one block, as it is stored (an import that replaces stored activities
  takes their old versions out of the earlier blocks);
- so the blocks' row counts add up to the activities' count (small blocks, one per monthly file of an IGO, are
  merged once there are more than :data:`SMALL_BLOCKS`);
- a stored activity changed by hand (an ``UPDATE`` or ``DELETE`` not made by the import) marks the blocks stale,
  by triggers (``activity_block_state``; migration 0009).

:func:`read_all` checks both before it trusts the blocks and otherwise returns ``None`` (the caller reads the
rows), logging why; the next import makes them again from the rows. Databases from before the blocks get them
from their rows in migration 0009.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass

import polars as pl
from sqlalchemy import Connection, delete, func, insert, select, update

from integraal.store import tables
from integraal.store.bulk import read_frame

BLOCK_ROWS = 500_000
"""Rows per block: a block is decoded whole, so a small one keeps a partial rewrite cheap."""

SMALL_BLOCKS = 16
"""Small blocks (under a quarter of :data:`BLOCK_ROWS`) allowed before they are merged: an IGO's monthly file
adds one each time, and a read of thousands of tiny values costs more than of a few big ones."""

SCHEMA = {
    "activity_id": pl.Utf8,
    "bsn": pl.Utf8,
    "pregnancy_id": pl.Utf8,
    "agb": pl.Utf8,
    "activity_code": pl.Utf8,
    "date": pl.Date,
    "quantity_hundredths": pl.Int64,
}
"""The columns of ``activities`` (``store.repositories.ACTIVITY_SCHEMA``), in table order."""

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Before:
    """What :func:`append` needs to know from before an import wrote its rows."""

    stored: int  # activities stored
    trusted: bool  # the blocks held exactly those (else they are made again from the rows)


def stored_count(connection: Connection) -> int:
    """How many activities are stored (the figure the blocks must add up to)."""
    return int(connection.execute(select(func.count()).select_from(tables.activities)).scalar_one())


def before_write(connection: Connection) -> Before:
    """Call before writing activities, in the same transaction, and hand the answer to :func:`append`."""
    return Before(*_trusted(connection, _in_blocks(connection)))


def append(connection: Connection, rows: pl.DataFrame, before: Before, import_run_id: int | None = None) -> None:
    """Record ``rows``, just written to ``activities`` by an upsert (the last row of a key wins), as blocks.

    If the count of stored activities grew by exactly the number of rows, none of them replaced a stored
    activity (nor one another) and they are simply added; otherwise their keys' old versions are taken out of
    the earlier blocks first. Blocks that were not to be trusted before are made again from the rows."""
    if not before.trusted:
        rebuild(connection)
        return
    if rows.height:
        frame = rows.select(*(pl.col(name).cast(dtype) for name, dtype in SCHEMA.items()))
        if stored_count(connection) - before.stored != frame.height:
            frame = frame.unique("activity_id", keep="last", maintain_order=True)
            _take_out(connection, frame["activity_id"])
        _insert(connection, frame, import_run_id)
        _merge_small(connection)
    _trust(connection)


def rebuild(connection: Connection) -> None:
    """Make the blocks again from the stored rows (after a change that did not go through :func:`append`)."""
    connection.execute(delete(tables.activity_blocks))
    t = tables.activities
    _insert(connection, read_frame(connection, select(*(t.c[name] for name in SCHEMA)), SCHEMA), None)
    _trust(connection)


def read_all(connection: Connection) -> pl.DataFrame | None:
    """Every stored activity (``SCHEMA``, in no particular order), or ``None`` if the blocks may not hold exactly
    the stored activities (then read the rows)."""
    b = tables.activity_blocks
    found = connection.execute(select(b.c.row_count, b.c.data).order_by(b.c.block_id)).all()
    # The blocks' own count, in the statement that read them: each statement may see a later commit (PostgreSQL,
    # or SQLite outside a transaction), and blocks are written in the transaction that writes their rows.
    in_blocks = sum(int(row_count) for row_count, _ in found)
    stored, trusted = _trusted(connection, in_blocks)
    if not trusted:
        log.warning("activity blocks (%d rows) not used for %d activities: reading the rows", in_blocks, stored)
        return None
    if not found:
        return pl.DataFrame(schema=SCHEMA)
    return pl.concat([decode(data) for _, data in found], rechunk=False)


def encode(frame: pl.DataFrame) -> bytes:
    """A block's value: the rows as Parquet, zstd-compressed (≈3.3 bytes an activity on a national year)."""
    out = io.BytesIO()
    frame.write_parquet(out, compression="zstd", statistics=False)
    return out.getvalue()


def decode(data: bytes) -> pl.DataFrame:
    frame = pl.read_parquet(io.BytesIO(bytes(data)))
    if frame.schema != pl.Schema(SCHEMA):
        raise ValueError(f"an activity block has the columns {dict(frame.schema)}, not {SCHEMA}")
    return frame


def _trusted(connection: Connection, in_blocks: int) -> tuple[int, bool]:
    """The stored activities' count, and whether blocks holding ``in_blocks`` rows hold exactly those (module
    docstring): the one rule for :func:`before_write` and :func:`read_all`."""
    stored = stored_count(connection)
    return stored, not _stale(connection) and in_blocks == stored


def _stale(connection: Connection) -> bool:
    s = tables.activity_block_state
    stale = connection.execute(select(s.c.stale).where(s.c.id == 1)).scalar()
    return stale is None or bool(stale)


def _trust(connection: Connection) -> None:
    s = tables.activity_block_state
    if connection.execute(update(s).where(s.c.id == 1).values(stale=False)).rowcount == 0:
        connection.execute(insert(s).values(id=1, stale=False))


def _in_blocks(connection: Connection) -> int:
    b = tables.activity_blocks
    return int(connection.execute(select(func.coalesce(func.sum(b.c.row_count), 0))).scalar_one())


def _insert(connection: Connection, frame: pl.DataFrame, import_run_id: int | None) -> None:
    b = tables.activity_blocks
    for offset in range(0, frame.height, BLOCK_ROWS):
        part = frame.slice(offset, BLOCK_ROWS)
        connection.execute(insert(b).values(import_run_id=import_run_id, row_count=part.height, data=encode(part)))


def _merge_small(connection: Connection) -> None:
    """Merge the small blocks into as few as will hold them once there are more than :data:`SMALL_BLOCKS`
    (an activity is in one block before and after; the merged ones name no import)."""
    b = tables.activity_blocks
    small = b.c.row_count < BLOCK_ROWS // 4
    if connection.execute(select(func.count()).where(small)).scalar_one() <= SMALL_BLOCKS:
        return
    found = connection.execute(select(b.c.block_id, b.c.data).where(small).order_by(b.c.block_id)).all()
    merged = pl.concat([decode(data) for _, data in found])
    connection.execute(delete(b).where(b.c.block_id.in_([block_id for block_id, _ in found])))
    _insert(connection, merged, None)


def _take_out(connection: Connection, keys: pl.Series) -> None:
    """Remove the activities ``keys`` from the stored blocks (rewriting only the blocks that hold one)."""
    b = tables.activity_blocks
    wanted = keys.implode()
    for block_id, data in connection.execute(select(b.c.block_id, b.c.data).order_by(b.c.block_id)).all():
        block = decode(data)
        kept = block.filter(~pl.col("activity_id").is_in(wanted))
        if kept.height == block.height:
            continue
        if kept.height == 0:
            connection.execute(delete(b).where(b.c.block_id == block_id))
        else:
            connection.execute(
                update(b).where(b.c.block_id == block_id).values(row_count=kept.height, data=encode(kept))
            )
