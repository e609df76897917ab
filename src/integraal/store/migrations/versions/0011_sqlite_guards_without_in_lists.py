"""SQLite: the guards of sent claim lines compare with = and <> instead of IN lists

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-25 17:50:00

Issue 7, part 6 (speed). SQLite evaluates a trigger's ``WHEN`` once per updated row, and an ``IN ('draft',
'ready')`` list in it is built anew (a small temporary index) at every evaluation: guard 3 (a line's state never
goes back) cost ≈3 µs a row, 1.5 of the 2.1 s that marking a national year's 474,277 lines sent took, and the same
again when their answers are booked. Written as chains of ``=`` / ``<>`` the same conditions cost 0.8 s in all.
The rules are exactly those of migrations 0006 and 0007 (``x IN (a, b)`` is ``x = a OR x = b`` and ``x NOT IN (a,
b)`` is ``x <> a AND x <> b``, NULL included); PostgreSQL, whose ``IN`` costs nothing of the kind, keeps its
triggers.
"""

import importlib
import re
from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_0006 = importlib.import_module("integraal.store.migrations.versions.0006_claim_returns_and_sent_claims")
_0007 = importlib.import_module("integraal.store.migrations.versions.0007_cheaper_claim_guards")
"""The guards' conditions, messages and columns as migrations 0006 and 0007 froze them."""

_IN_LIST = re.compile(r"(OLD\.\w+|NEW\.\w+) (NOT IN|IN) \(([^()]*)\)")


def without_in_lists(condition: str) -> str:
    """``condition`` with every ``<column> [NOT] IN (<literals>)`` spelled out as ``=`` or ``<>`` comparisons."""

    def spelled(match: re.Match[str]) -> str:
        column, operator, values = match.groups()
        literals = [value.strip() for value in values.split(",")]
        if operator == "IN":
            return "(" + " OR ".join(f"{column} = {value}" for value in literals) + ")"
        return "(" + " AND ".join(f"{column} <> {value}" for value in literals) + ")"

    return _IN_LIST.sub(spelled, condition)


def upgrade() -> None:
    if op.get_context().dialect.name != "sqlite":
        return
    for n, ((condition, message), columns) in enumerate(
        zip(_0006._item_conditions("IS NOT"), _0007.GUARDED_COLUMNS, strict=True), start=1
    ):
        op.execute(f"DROP TRIGGER IF EXISTS claim_items_guard_{n}")
        op.execute(
            f"CREATE TRIGGER claim_items_guard_{n} BEFORE UPDATE OF {', '.join(columns)} ON claim_items "
            f"WHEN {without_in_lists(condition)} BEGIN SELECT RAISE(ABORT, {_0006._quote(message)}); END"
        )
    op.execute("DROP TRIGGER IF EXISTS claim_items_no_delete")
    op.execute(
        "CREATE TRIGGER claim_items_no_delete BEFORE DELETE ON claim_items "
        f"WHEN {without_in_lists(f'OLD.state NOT IN {_0006.UNSENT}')} "
        f"BEGIN SELECT RAISE(ABORT, {_0006._quote(_0006.SENT_LINE_DELETE)}); END"
    )


def downgrade() -> None:
    if op.get_context().dialect.name != "sqlite":
        return
    _0007._sqlite_guards(of_columns=True)
    op.execute("DROP TRIGGER IF EXISTS claim_items_no_delete")
    op.execute(
        f"CREATE TRIGGER claim_items_no_delete BEFORE DELETE ON claim_items WHEN OLD.state NOT IN {_0006.UNSENT} "
        f"BEGIN SELECT RAISE(ABORT, {_0006._quote(_0006.SENT_LINE_DELETE)}); END"
    )
