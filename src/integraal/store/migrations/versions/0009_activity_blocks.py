"""the activities once more as columnar blocks, for the reads of every activity

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25 11:00:00

Issue 7, part 6 (speed). A decision run and the distribution input of every IGO read every activity: 4.4 million
rows for a national year, 2.3 s in two processes. ``activity_blocks`` holds the same rows as compressed Parquet
values of at most 500,000 rows, written by the import in the transaction that writes the rows
(``integraal.store.activity_blocks``); read back in ≈0.2 s. ``activity_block_state`` says whether the blocks may
be trusted: triggers mark them stale when a stored activity is updated or deleted other than by the import. The
blocks start stale (the code of that version read the rows and made the blocks at the next import); migration
0010 makes them from the rows, so this one needs none of the application's code.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "activity_blocks",
        sa.Column("block_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("import_run_id", sa.Integer(), nullable=True),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("block_id", name=op.f("pk_activity_blocks")),
    )
    state = op.create_table(
        "activity_block_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("stale", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activity_block_state")),
    )
    op.bulk_insert(state, [{"id": 1, "stale": True}])
    # A stored activity changed or removed other than by the import (which clears the flag after it has kept the
    # blocks in step): the blocks are not trusted until they are made again. Inserts need no trigger: a row the
    # blocks lack shows in the count. The import's plain INSERT fires nothing; PostgreSQL once per statement.
    if op.get_bind().dialect.name == "postgresql":
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


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER activity_blocks_stale ON activities")
        op.execute("DROP FUNCTION activity_blocks_stale()")
    else:
        op.execute("DROP TRIGGER activity_blocks_stale_update")
        op.execute("DROP TRIGGER activity_blocks_stale_delete")
    op.drop_table("activity_block_state")
    op.drop_table("activity_blocks")
