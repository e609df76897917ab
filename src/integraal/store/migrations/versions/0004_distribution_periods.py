"""closed distribution periods, their booked lines and receipts, immutable in the database

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 10:00:00

Adds the tables of issue 5, part 5 (booking and statements): ``distribution_periods`` (one row per closed IGO ×
year, with the exact plan and input it was booked on), ``booked_lines`` (the allocation and the adjustments of
earlier periods) and ``booked_receipts`` (the money each booking rested on). A closed period never changes, so
the three tables are append-only *in the database too*: triggers refuse every UPDATE and DELETE (SQLite:
``RAISE(ABORT, ...)``; PostgreSQL: a trigger function that raises, also on TRUNCATE). Existing tables are
unchanged. The SQL lives here, not in ``store/tables.py``: a migration is a frozen snapshot.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

IMMUTABLE = ("distribution_periods", "booked_lines", "booked_receipts")
MESSAGE = "is append-only: a closed distribution period never changes; book a correction in the next period"
PG_FUNCTION = "integraal_refuse_change_of_booking"


def upgrade() -> None:
    op.create_table(
        "distribution_periods",
        sa.Column("period_id", sa.String(length=50), nullable=False),
        sa.Column("igo_id", sa.String(length=40), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("plan_key", sa.String(length=60), nullable=False),
        sa.Column("plan_name", sa.String(length=200), nullable=False),
        sa.Column("plan_json", sa.Text(), nullable=False),
        sa.Column("input_json", sa.Text(), nullable=False),
        sa.Column("input_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.Column("received_cents", sa.BigInteger(), nullable=False),
        sa.Column("adjustment_cents", sa.BigInteger(), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(["igo_id"], ["igos.igo_id"], name=op.f("fk_distribution_periods_igo_id_igos")),
        sa.PrimaryKeyConstraint("period_id", name=op.f("pk_distribution_periods")),
        sa.UniqueConstraint("igo_id", "year", name="uq_distribution_periods_igo_year"),
    )
    op.create_table(
        "booked_lines",
        sa.Column("period_id", sa.String(length=50), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("recipient", sa.String(length=8), nullable=False),
        sa.Column("step", sa.String(length=200), nullable=False),
        sa.Column("model", sa.String(length=40), nullable=False),
        sa.Column("phase", sa.String(length=12), nullable=True),
        sa.Column("basis", sa.Text(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("text_nl", sa.Text(), nullable=False),
        sa.Column("text_en", sa.Text(), nullable=False),
        sa.Column("adjusts_period_id", sa.String(length=50), nullable=True),
        sa.Column("source", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["period_id"],
            ["distribution_periods.period_id"],
            name=op.f("fk_booked_lines_period_id_distribution_periods"),
        ),
        sa.ForeignKeyConstraint(
            ["adjusts_period_id"],
            ["distribution_periods.period_id"],
            name=op.f("fk_booked_lines_adjusts_period_id_distribution_periods"),
        ),
        sa.PrimaryKeyConstraint("period_id", "line_no", name=op.f("pk_booked_lines")),
    )
    op.create_index("ix_booked_lines_adjusts_period_id", "booked_lines", ["adjusts_period_id"])
    op.create_table(
        "booked_receipts",
        sa.Column("period_id", sa.String(length=50), nullable=False),
        sa.Column("booked_in", sa.String(length=50), nullable=False),
        sa.Column("pregnancy_id", sa.String(length=60), nullable=False),
        sa.Column("phase", sa.String(length=12), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["period_id"],
            ["distribution_periods.period_id"],
            name=op.f("fk_booked_receipts_period_id_distribution_periods"),
        ),
        sa.ForeignKeyConstraint(
            ["booked_in"],
            ["distribution_periods.period_id"],
            name=op.f("fk_booked_receipts_booked_in_distribution_periods"),
        ),
        sa.PrimaryKeyConstraint("period_id", "booked_in", "pregnancy_id", "phase", name=op.f("pk_booked_receipts")),
    )

    dialect = op.get_context().dialect.name
    if dialect == "sqlite":
        for table in IMMUTABLE:
            for event in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} {MESSAGE}'); END"
                )
    elif dialect == "postgresql":
        op.execute(
            f"CREATE FUNCTION {PG_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN RAISE EXCEPTION '% {MESSAGE}', TG_TABLE_NAME; END $$"
        )
        for table in IMMUTABLE:
            op.execute(
                f"CREATE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION {PG_FUNCTION}()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION {PG_FUNCTION}()"
            )
    # Other databases: the service layer alone keeps the rows unchanged (it only ever inserts them).


def downgrade() -> None:
    # Dropping a table drops its triggers (and fires no DELETE trigger), so no trigger is dropped by hand.
    op.drop_table("booked_receipts")
    op.drop_index("ix_booked_lines_adjusts_period_id", table_name="booked_lines")
    op.drop_table("booked_lines")
    op.drop_table("distribution_periods")
    if op.get_context().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION IF EXISTS {PG_FUNCTION}()")
