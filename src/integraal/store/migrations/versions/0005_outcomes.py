"""outcome registration: one row of birth outcomes and experience measures per pregnancy

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 09:00:00

Adds ``outcomes`` (issue 6, part 1): the measures of ``integraal.insight.OutcomeRecord`` that are not already on
the pregnancy (the end reason and date are; the client profile is derived). Every measure may be unknown
(NULL): an indicator counts an unknown as *missing*, never as a no. Existing tables are unchanged.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outcomes",
        sa.Column("pregnancy_id", sa.String(length=60), nullable=False),
        sa.Column("nulliparous", sa.Boolean(), nullable=True),
        sa.Column("multiple_pregnancy", sa.Boolean(), nullable=True),
        sa.Column("gestational_age_days", sa.Integer(), nullable=True),
        sa.Column("labour_onset", sa.String(length=20), nullable=True),
        sa.Column("birth_mode", sa.String(length=30), nullable=True),
        sa.Column("birth_place", sa.String(length=30), nullable=True),
        sa.Column("perinatal_death", sa.Boolean(), nullable=True),
        sa.Column("nicu_admission", sa.Boolean(), nullable=True),
        sa.Column("blood_loss_ml", sa.Integer(), nullable=True),
        sa.Column("breastfeeding_at_discharge", sa.Boolean(), nullable=True),
        sa.Column("prem_score", sa.Float(), nullable=True),
        sa.Column("prom_score", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["pregnancy_id"], ["pregnancies.pregnancy_id"], name="fk_outcomes_pregnancy_id_pregnancies"
        ),
        sa.PrimaryKeyConstraint("pregnancy_id", name="pk_outcomes"),
    )


def downgrade() -> None:
    op.drop_table("outcomes")
