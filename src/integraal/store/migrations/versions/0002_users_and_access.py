"""users, credentials, audit scopes and the indexes of the pregnancy list

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 20:00:00

Adds the tables of issue 3 (users with a role and a tenant, API tokens and web sessions stored as hashes only,
the IGO scope of audit entries) and indexes for the scoped pregnancy list and detail. Existing tables are
unchanged. Portable DDL only (SQLite now, PostgreSQL later).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("user_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("igo_id", sa.String(length=40), nullable=True),
        sa.Column("agb", sa.String(length=8), nullable=True),
        sa.Column("uzovi", sa.String(length=4), nullable=True),
        sa.Column("active", sa.Boolean(create_constraint=False), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "api_tokens",
        sa.Column("token_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=100), server_default="", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.user_id"], name=op.f("fk_api_tokens_user_id_users")),
        sa.PrimaryKeyConstraint("token_id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_index(op.f("ix_api_tokens_user_id"), "api_tokens", ["user_id"], unique=False)
    op.create_table(
        "sessions",
        sa.Column("session_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.user_id"], name=op.f("fk_sessions_user_id_users")),
        sa.PrimaryKeyConstraint("session_id", name=op.f("pk_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_sessions_token_hash")),
    )
    op.create_index(op.f("ix_sessions_user_id"), "sessions", ["user_id"], unique=False)
    op.create_table(
        "audit_scopes",
        sa.Column("audit_id", sa.Integer(), nullable=False),
        sa.Column("igo_id", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(["audit_id"], ["audit_log.id"], name=op.f("fk_audit_scopes_audit_id_audit_log")),
        sa.PrimaryKeyConstraint("audit_id", "igo_id", name=op.f("pk_audit_scopes")),
    )
    op.create_index("ix_audit_scopes_igo_id", "audit_scopes", ["igo_id"], unique=False)

    # Access paths for the scoped pregnancy list and detail (see tables.py): a tenant's pregnancies in id
    # order, the latest decision per pregnancy and phase (covering), and the activities registered with a
    # BSN only (a partial index: about 1 % of the rows).
    op.create_index("ix_pregnancies_igo_id", "pregnancies", ["igo_id", "pregnancy_id"], unique=False)
    op.create_index("ix_pregnancies_uzovi", "pregnancies", ["uzovi", "pregnancy_id"], unique=False)
    op.create_index(
        "ix_phase_decisions_pregnancy",
        "phase_decisions",
        ["pregnancy_id", "phase", "run_id", "outcome"],
        unique=False,
    )
    unassigned = sa.text("pregnancy_id IS NULL")
    op.create_index(
        "ix_activities_unassigned_bsn",
        "activities",
        ["bsn"],
        unique=False,
        sqlite_where=unassigned,
        postgresql_where=unassigned,
    )


def downgrade() -> None:
    op.drop_index("ix_activities_unassigned_bsn", table_name="activities")
    op.drop_index("ix_phase_decisions_pregnancy", table_name="phase_decisions")
    op.drop_index("ix_pregnancies_uzovi", table_name="pregnancies")
    op.drop_index("ix_pregnancies_igo_id", table_name="pregnancies")
    op.drop_index("ix_audit_scopes_igo_id", table_name="audit_scopes")
    op.drop_table("audit_scopes")
    op.drop_index(op.f("ix_sessions_user_id"), table_name="sessions")
    op.drop_table("sessions")
    op.drop_index(op.f("ix_api_tokens_user_id"), table_name="api_tokens")
    op.drop_table("api_tokens")
    op.drop_table("users")
