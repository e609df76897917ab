"""applied return files recorded once; sent claim lines and batches immutable in the database

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-08 10:00:00

Issue 7, part 2 (concurrency and crash safety). Adds ``claim_returns``: every insurer return file that answered
claim lines, keyed by the SHA-256 of its content, so the same file is booked once even if two processes apply it
at the same moment. And makes what was sent to an insurer unchangeable *in the database too*, as migration 0004
did for closed periods (SQLite: triggers with ``RAISE(ABORT, ...)``; PostgreSQL: trigger functions that raise):

- a claim line that left ``ready`` (it was sent) keeps its identity and money: batch, decision line, debit or
  credit, pregnancy, phase, prestatie, claimant, insurer, BSN, dates, quantity, amount, the line it corrects,
  ruleset and attempt. Its state still moves forward (answered, paid, corrected) but never back to
  ``draft``/``ready``/``sent`` once answered (so an answer cannot be booked twice); the insurer's answer
  (awarded amount, return codes) is written once. A sent line is never deleted.
- a sent batch keeps its header, totals and the file it was sent as (format, SHA-256, when); only its state
  (``returned``, never ``ready`` again) and the last return's date and reference change. A sent batch is never
  deleted.
- the state history (``claim_transitions``) and ``claim_returns`` are append-only.

Existing rows are unchanged. The SQL lives here, not in ``store/tables.py``: a migration is a frozen snapshot.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNSENT = "('draft', 'ready')"
UNANSWERED = "('draft', 'ready', 'sent')"
ITEM_FIXED = (
    "line_id",
    "batch_id",
    "run_id",
    "decision_line_no",
    "debit_credit",
    "pregnancy_id",
    "phase",
    "kind",
    "prestatie_code",
    "claimant_agb",
    "uzovi",
    "bsn",
    "service_start",
    "service_end",
    "quantity_hundredths",
    "amount_cents",
    "original_line_id",
    "ruleset_version",
    "attempt",
)
ITEM_ANSWER = ("awarded_cents", "return_codes")
BATCH_FIXED = (
    "batch_id",
    "igo_id",
    "uzovi",
    "sender_agb",
    "period_start",
    "period_end",
    "creation_date",
    "created_at",
    "actor",
    "lines",
    "total_cents",
    "format",
    "file_sha256",
    "sent_at",
)
APPEND_ONLY = ("claim_transitions", "claim_returns")

SENT_LINE = "claim_items: a sent claim line never changes what was claimed; credit it and claim again"
ANSWER = "claim_items: the insurer's answer on a claim line is written once"
BACKWARDS = "claim_items: a claim line's state never goes back (sent stays sent, an answer stays answered)"
SENT_LINE_DELETE = "claim_items: a sent claim line is never deleted"
SENT_BATCH = "claim_batches: a sent claim batch never changes (header, totals and the file sent)"
SENT_BATCH_DELETE = "claim_batches: a sent claim batch is never deleted"
HISTORY = "is append-only: claim history and applied return files never change"

PG_ITEMS = "integraal_guard_claim_items"
PG_BATCHES = "integraal_guard_claim_batches"
PG_HISTORY = "integraal_refuse_change_of_claim_history"


def _quote(message: str) -> str:
    """``message`` as an SQL string literal."""
    return "'" + message.replace("'", "''") + "'"


def _changed(columns: Sequence[str], differ: str) -> str:
    """``OLD.a <differ> NEW.a OR ...``; ``differ`` is the NULL-safe inequality (``IS NOT`` / ``IS DISTINCT FROM``)."""
    return " OR ".join(f"OLD.{c} {differ} NEW.{c}" for c in columns)


def _item_conditions(differ: str) -> list[tuple[str, str]]:
    """(condition on OLD/NEW, message) of an UPDATE of claim_items that is refused."""
    return [
        (f"OLD.state NOT IN {UNSENT} AND ({_changed(ITEM_FIXED, differ)})", SENT_LINE),
        (
            " OR ".join(f"(OLD.{c} IS NOT NULL AND OLD.{c} {differ} NEW.{c})" for c in ITEM_ANSWER),
            ANSWER,
        ),
        (
            f"(OLD.state = 'sent' AND NEW.state IN {UNSENT}) "
            f"OR (OLD.state NOT IN {UNANSWERED} AND NEW.state IN {UNANSWERED})",
            BACKWARDS,
        ),
    ]


def _batch_conditions(differ: str) -> list[tuple[str, str]]:
    return [
        (
            f"OLD.state <> 'ready' AND (NEW.state = 'ready' OR {_changed(BATCH_FIXED, differ)})",
            SENT_BATCH,
        )
    ]


def _pg_guard(name: str, updates: list[tuple[str, str]], delete_when: str, delete_message: str) -> str:
    checks = " ".join(f"IF {when} THEN RAISE EXCEPTION '%', {_quote(message)}; END IF;" for when, message in updates)
    return (
        f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"IF TG_OP = 'TRUNCATE' THEN RAISE EXCEPTION '% is never truncated: it holds sent claims', TG_TABLE_NAME; "
        f"END IF; "
        f"IF TG_OP = 'DELETE' THEN IF {delete_when} THEN RAISE EXCEPTION '%', {_quote(delete_message)}; END IF; "
        f"RETURN OLD; END IF; "
        f"{checks} RETURN NEW; END $$"
    )


def upgrade() -> None:
    op.create_table(
        "claim_returns",
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("batch_id", sa.String(length=12), nullable=False),
        sa.Column("format", sa.String(length=30), nullable=False),
        sa.Column("reference", sa.String(length=100), nullable=False),
        sa.Column("lines", sa.Integer(), nullable=False),
        sa.Column("awarded_cents", sa.BigInteger(), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["claim_batches.batch_id"], name=op.f("fk_claim_returns_batch_id_claim_batches")
        ),
        sa.PrimaryKeyConstraint("file_sha256", name=op.f("pk_claim_returns")),
    )
    op.create_index(op.f("ix_claim_returns_batch_id"), "claim_returns", ["batch_id"])

    dialect = op.get_context().dialect.name
    if dialect == "sqlite":
        for n, (condition, message) in enumerate(_item_conditions("IS NOT"), start=1):
            op.execute(
                f"CREATE TRIGGER claim_items_guard_{n} BEFORE UPDATE ON claim_items WHEN {condition} "
                f"BEGIN SELECT RAISE(ABORT, {_quote(message)}); END"
            )
        op.execute(
            f"CREATE TRIGGER claim_items_no_delete BEFORE DELETE ON claim_items WHEN OLD.state NOT IN {UNSENT} "
            f"BEGIN SELECT RAISE(ABORT, {_quote(SENT_LINE_DELETE)}); END"
        )
        for n, (condition, message) in enumerate(_batch_conditions("IS NOT"), start=1):
            op.execute(
                f"CREATE TRIGGER claim_batches_guard_{n} BEFORE UPDATE ON claim_batches WHEN {condition} "
                f"BEGIN SELECT RAISE(ABORT, {_quote(message)}); END"
            )
        op.execute(
            "CREATE TRIGGER claim_batches_no_delete BEFORE DELETE ON claim_batches WHEN OLD.state <> 'ready' "
            f"BEGIN SELECT RAISE(ABORT, {_quote(SENT_BATCH_DELETE)}); END"
        )
        for table in APPEND_ONLY:
            for event in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} {HISTORY}'); END"
                )
    elif dialect == "postgresql":
        differ = "IS DISTINCT FROM"
        op.execute(_pg_guard(PG_ITEMS, _item_conditions(differ), f"OLD.state NOT IN {UNSENT}", SENT_LINE_DELETE))
        op.execute(_pg_guard(PG_BATCHES, _batch_conditions(differ), "OLD.state <> 'ready'", SENT_BATCH_DELETE))
        op.execute(
            f"CREATE FUNCTION {PG_HISTORY}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN RAISE EXCEPTION '% {HISTORY}', TG_TABLE_NAME; END $$"
        )
        guarded = [("claim_items", PG_ITEMS), ("claim_batches", PG_BATCHES), *((t, PG_HISTORY) for t in APPEND_ONLY)]
        for table, function in guarded:
            op.execute(
                f"CREATE TRIGGER {table}_guard BEFORE UPDATE OR DELETE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION {function}()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
            )
    # Other databases: the service layer alone keeps sent claims unchanged (it never rewrites them).


def downgrade() -> None:
    dialect = op.get_context().dialect.name
    if dialect == "sqlite":
        names = [f"claim_items_guard_{n}" for n in range(1, len(_item_conditions("IS NOT")) + 1)]
        names += [f"claim_batches_guard_{n}" for n in range(1, len(_batch_conditions("IS NOT")) + 1)]
        names += ["claim_items_no_delete", "claim_batches_no_delete", "claim_transitions_no_update"]
        names += ["claim_transitions_no_delete"]
        for name in names:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    elif dialect == "postgresql":
        for table in ("claim_items", "claim_batches", "claim_transitions"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_guard ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
    # Dropping claim_returns drops its own triggers.
    op.drop_index(op.f("ix_claim_returns_batch_id"), table_name="claim_returns")
    op.drop_table("claim_returns")
    if dialect == "postgresql":
        for function in (PG_ITEMS, PG_BATCHES, PG_HISTORY):
            op.execute(f"DROP FUNCTION IF EXISTS {function}()")
