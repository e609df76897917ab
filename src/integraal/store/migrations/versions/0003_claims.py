"""claim batches, claim lines with their state history, and insurer-reported overlaps

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 11:00:00

Adds the tables of issue 4: batches sent to insurers, the claim lines in them (each decided claim line debited
once per attempt), the append-only state history, the collisions insurers report with return code 0587, which
feed back into the bundle decision, and the payments received with their allocation to claim lines. Existing
tables are unchanged. Portable DDL only.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "claim_batches",
        sa.Column("batch_id", sa.String(length=12), nullable=False),
        sa.Column("igo_id", sa.String(length=40), nullable=False),
        sa.Column("uzovi", sa.String(length=4), nullable=False),
        sa.Column("sender_agb", sa.String(length=8), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("creation_date", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("lines", sa.Integer(), nullable=False),
        sa.Column("total_cents", sa.BigInteger(), nullable=False),
        sa.Column("format", sa.String(length=30), nullable=True),
        sa.Column("file_sha256", sa.String(length=64), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("returned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("return_reference", sa.String(length=24), nullable=True),
        sa.PrimaryKeyConstraint("batch_id", name=op.f("pk_claim_batches")),
    )
    op.create_index(op.f("ix_claim_batches_igo_id"), "claim_batches", ["igo_id"])
    op.create_table(
        "claim_items",
        sa.Column("line_id", sa.String(length=20), nullable=False),
        sa.Column("batch_id", sa.String(length=12), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("decision_line_no", sa.Integer(), nullable=False),
        sa.Column("debit_credit", sa.String(length=1), nullable=False),
        sa.Column("pregnancy_id", sa.String(length=60), nullable=False),
        sa.Column("phase", sa.String(length=12), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("prestatie_code", sa.String(length=40), nullable=False),
        sa.Column("claimant_agb", sa.String(length=8), nullable=False),
        sa.Column("uzovi", sa.String(length=4), nullable=False),
        sa.Column("bsn", sa.String(length=9), nullable=False),
        sa.Column("service_start", sa.Date(), nullable=False),
        sa.Column("service_end", sa.Date(), nullable=False),
        sa.Column("quantity_hundredths", sa.BigInteger(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("original_line_id", sa.String(length=20), nullable=True),
        sa.Column("ruleset_version", sa.String(length=40), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("awarded_cents", sa.BigInteger(), nullable=True),
        sa.Column("return_codes", sa.String(length=60), nullable=True),
        sa.Column("next_action", sa.String(length=20), nullable=True),
        sa.Column("attempt", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["claim_batches.batch_id"], name=op.f("fk_claim_items_batch_id_claim_batches")
        ),
        sa.ForeignKeyConstraint(["run_id"], ["decision_runs.run_id"], name=op.f("fk_claim_items_run_id_decision_runs")),
        sa.PrimaryKeyConstraint("line_id", name=op.f("pk_claim_items")),
        sa.UniqueConstraint(
            "run_id", "decision_line_no", "debit_credit", "attempt", name="uq_claim_items_decision_line"
        ),
    )
    op.create_index(op.f("ix_claim_items_batch_id"), "claim_items", ["batch_id"])
    op.create_index(op.f("ix_claim_items_pregnancy_id"), "claim_items", ["pregnancy_id"])
    op.create_table(
        "claim_transitions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("line_id", sa.String(length=20), nullable=False),
        sa.Column("from_state", sa.String(length=20), nullable=True),
        sa.Column("to_state", sa.String(length=20), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["line_id"], ["claim_items.line_id"], name=op.f("fk_claim_transitions_line_id_claim_items")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claim_transitions")),
    )
    op.create_index(op.f("ix_claim_transitions_line_id"), "claim_transitions", ["line_id"])
    op.create_table(
        "reported_overlaps",
        sa.Column("pregnancy_id", sa.String(length=60), nullable=False),
        sa.Column("phase", sa.String(length=12), nullable=False),
        sa.Column("line_id", sa.String(length=20), nullable=False),
        sa.Column("return_code", sa.String(length=4), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["line_id"], ["claim_items.line_id"], name=op.f("fk_reported_overlaps_line_id_claim_items")
        ),
        sa.PrimaryKeyConstraint("pregnancy_id", "phase", "line_id", name=op.f("pk_reported_overlaps")),
    )

    op.create_table(
        "payments",
        sa.Column("payment_id", sa.String(length=60), nullable=False),
        sa.Column("uzovi", sa.String(length=4), nullable=False),
        sa.Column("igo_id", sa.String(length=40), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("total_cents", sa.BigInteger(), nullable=False),
        sa.Column("unallocated_cents", sa.BigInteger(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("payment_id", name=op.f("pk_payments")),
    )
    op.create_index(op.f("ix_payments_igo_id"), "payments", ["igo_id"])
    op.create_table(
        "payment_allocations",
        sa.Column("payment_id", sa.String(length=60), nullable=False),
        sa.Column("line_id", sa.String(length=20), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.payment_id"], name=op.f("fk_payment_allocations_payment_id_payments")
        ),
        sa.ForeignKeyConstraint(
            ["line_id"], ["claim_items.line_id"], name=op.f("fk_payment_allocations_line_id_claim_items")
        ),
        sa.PrimaryKeyConstraint("payment_id", "line_id", name=op.f("pk_payment_allocations")),
    )
    op.create_index("ix_payment_allocations_line_id", "payment_allocations", ["line_id"])


def downgrade() -> None:
    op.drop_index("ix_payment_allocations_line_id", table_name="payment_allocations")
    op.drop_table("payment_allocations")
    op.drop_index(op.f("ix_payments_igo_id"), table_name="payments")
    op.drop_table("payments")
    op.drop_table("reported_overlaps")
    op.drop_index(op.f("ix_claim_transitions_line_id"), table_name="claim_transitions")
    op.drop_table("claim_transitions")
    op.drop_index(op.f("ix_claim_items_pregnancy_id"), table_name="claim_items")
    op.drop_index(op.f("ix_claim_items_batch_id"), table_name="claim_items")
    op.drop_table("claim_items")
    op.drop_index(op.f("ix_claim_batches_igo_id"), table_name="claim_batches")
    op.drop_table("claim_batches")
