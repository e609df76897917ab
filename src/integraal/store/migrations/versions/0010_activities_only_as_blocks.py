"""the activities stored only as columnar blocks, with an index of their trajectories and women

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-25 14:00:00

Issue 7, part 6 (speed). Writing a national year's 4.4 million activities as rows cost ≈8 s of the import on
SQLite; the blocks of 0009 hold the same in 15 MB. From here the blocks are the record
(``integraal.store.activity_blocks``) and the ``activities`` table goes. ``activity_block_keys`` says which blocks
hold a trajectory's activities (or a woman's that name no trajectory), so a page decodes one block.

The blocks are made here from the stored rows (whatever 0009's blocks held), with code of this migration's own:
the block format is that of ``activity_blocks.encode`` (zstd Parquet of the seven columns, at most 500,000 rows).
Going down makes the rows again from the blocks, with 0009's stale flag set (so that version reads the rows).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date
from typing import Any

import polars as pl
import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SCHEMA = {
    "activity_id": pl.Utf8,
    "bsn": pl.Utf8,
    "pregnancy_id": pl.Utf8,
    "agb": pl.Utf8,
    "activity_code": pl.Utf8,
    "date": pl.Date,
    "quantity_hundredths": pl.Int64,
}
_BLOCK_ROWS = 500_000
_COLUMNS = ", ".join(_SCHEMA)


def upgrade() -> None:
    bind = op.get_bind()
    op.create_table(
        "activity_block_keys",
        sa.Column("block_id", sa.Integer(), nullable=False),
        sa.Column("pregnancy_id", sa.String(length=60), nullable=True),
        sa.Column("bsn", sa.String(length=9), nullable=True),
        sa.ForeignKeyConstraint(
            ["block_id"],
            ["activity_blocks.block_id"],
            name=op.f("fk_activity_block_keys_block_id_activity_blocks"),
        ),
    )
    op.create_index(op.f("ix_activity_block_keys_pregnancy_id"), "activity_block_keys", ["pregnancy_id"])
    op.create_index(
        "ix_activity_block_keys_unnamed_bsn",
        "activity_block_keys",
        ["bsn"],
        sqlite_where=sa.text("pregnancy_id IS NULL"),
        postgresql_where=sa.text("pregnancy_id IS NULL"),
    )
    op.execute("DELETE FROM activity_blocks")
    result = bind.exec_driver_sql(f"SELECT {_COLUMNS} FROM activities ORDER BY activity_id")
    while rows := result.fetchmany(_BLOCK_ROWS):
        _store_block(bind, _frame(rows))
    if bind.dialect.name == "postgresql":
        op.execute("DROP TRIGGER activity_blocks_stale ON activities")
        op.execute("DROP FUNCTION activity_blocks_stale()")
    else:
        op.execute("DROP TRIGGER activity_blocks_stale_update")
        op.execute("DROP TRIGGER activity_blocks_stale_delete")
    op.drop_table("activity_block_state")
    op.drop_index("ix_activities_unassigned_bsn", table_name="activities")
    op.drop_index("ix_activities_pregnancy_id", table_name="activities")
    op.drop_table("activities")


def downgrade() -> None:
    bind = op.get_bind()
    activities = op.create_table(
        "activities",
        sa.Column("activity_id", sa.String(length=60), nullable=False),
        sa.Column("bsn", sa.String(length=9), nullable=False),
        sa.Column("pregnancy_id", sa.String(length=60), nullable=True),
        sa.Column("agb", sa.String(length=8), nullable=False),
        sa.Column("activity_code", sa.String(length=40), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("quantity_hundredths", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("activity_id", name=op.f("pk_activities")),
    )
    op.create_index(op.f("ix_activities_pregnancy_id"), "activities", ["pregnancy_id"], unique=False)
    op.create_index(
        "ix_activities_unassigned_bsn",
        "activities",
        ["bsn"],
        unique=False,
        sqlite_where=sa.text("pregnancy_id IS NULL"),
        postgresql_where=sa.text("pregnancy_id IS NULL"),
    )
    for (data,) in bind.exec_driver_sql("SELECT data FROM activity_blocks ORDER BY block_id").all():
        frame = pl.read_parquet(io.BytesIO(bytes(data)))
        if frame.height:
            op.bulk_insert(activities, frame.to_dicts())
    op.drop_table("activity_block_keys")
    state = op.create_table(
        "activity_block_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("stale", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activity_block_state")),
    )
    op.bulk_insert(state, [{"id": 1, "stale": True}])
    if bind.dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION activity_blocks_stale() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "UPDATE activity_block_state SET stale = true WHERE NOT stale; RETURN NULL; END $$"
        )
        op.execute(
            "CREATE TRIGGER activity_blocks_stale AFTER UPDATE OR DELETE OR TRUNCATE ON activities "
            "FOR EACH STATEMENT EXECUTE FUNCTION activity_blocks_stale()"
        )
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER activity_blocks_stale_{event.lower()} AFTER {event} ON activities "
                "BEGIN UPDATE activity_block_state SET stale = 1 WHERE stale = 0; END"
            )


def _frame(rows: Sequence[Any]) -> pl.DataFrame:
    """Stored rows as a block's frame (SQLite hands dates over as text, PostgreSQL as dates)."""
    columns = list(zip(*rows, strict=True))
    days = columns[5]
    if days and not isinstance(days[0], date):
        days = tuple(date.fromisoformat(str(day)) for day in days)
    values = {name: list(column) for name, column in zip(_SCHEMA, columns, strict=True)}
    values["date"] = list(days)
    values["quantity_hundredths"] = [int(q) for q in columns[6]]
    return pl.DataFrame(values, schema=_SCHEMA)


def _store_block(bind: sa.Connection, frame: pl.DataFrame) -> None:
    out = io.BytesIO()
    frame.write_parquet(out, compression="zstd", statistics=False)
    block_id = bind.execute(
        sa.text(
            "INSERT INTO activity_blocks (import_run_id, row_count, data) VALUES (NULL, :n, :data) RETURNING block_id"
        ).bindparams(sa.bindparam("data", type_=sa.LargeBinary())),
        {"n": frame.height, "data": out.getvalue()},
    ).scalar_one()
    named = frame.get_column("pregnancy_id").drop_nulls().unique().sort().to_list()
    unnamed = frame.filter(pl.col("pregnancy_id").is_null()).get_column("bsn").unique().sort().to_list()
    keys = [{"b": block_id, "p": p, "s": None} for p in named] + [{"b": block_id, "p": None, "s": s} for s in unnamed]
    if keys:
        bind.execute(sa.text("INSERT INTO activity_block_keys (block_id, pregnancy_id, bsn) VALUES (:b, :p, :s)"), keys)
