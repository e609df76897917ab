"""an insurer-reported overlap remembers the decision run that decided its pregnancy knowing it

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25 10:00:00

Issue 7, part 2 (crash safety). A return file with a 0587 (bundle breaker) is applied in one transaction, and
its pregnancies are decided again in the next: a process stopped in between left them decided as if nothing
had been reported (until some later decision run happened to include them), and nothing showed it. Now each
``reported_overlaps`` row has ``decided_in_run``: empty when written, set in the same transaction that stores a
decision run which read the report. An empty one is a re-decision owed, which the next return application (or
decision run) makes.

Reports written before this migration count as decided by their pregnancy's newest decision run (the code
before it decided them again straight after the file); a report on a pregnancy never decided stays owed.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("reported_overlaps", sa.Column("decided_in_run", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE reported_overlaps SET decided_in_run = (SELECT max(d.run_id) FROM phase_decisions d "
        "WHERE d.pregnancy_id = reported_overlaps.pregnancy_id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("reported_overlaps") as batch_op:
        batch_op.drop_column("decided_in_run")
