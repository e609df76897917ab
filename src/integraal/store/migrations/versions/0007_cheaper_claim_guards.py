"""the guards of sent claim lines fire only for an update that can break them; room on claim_items' pages

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 22:00:00

Issue 7, part 6 (speed). Migration 0006's guards on ``claim_items`` ran for *every* updated row: SQLite invoked
each of its three trigger programs per row and PostgreSQL called the PL/pgSQL function per row, even when a
statement only moved lines ``ready → sent`` or booked an answer. For a national year (474,277 lines sent, then
answered) that was most of the time of those two updates. The rules are exactly the same; only when they are
looked at changes:

- SQLite: each guard becomes ``BEFORE UPDATE OF <the columns its condition compares>``. A column not in an
  ``UPDATE``'s ``SET`` list keeps its value, so a guard whose columns are not set cannot find a change: guard 1
  (what was claimed) only for an update that sets a claimed column, guard 2 (the answer) for ``awarded_cents`` or
  ``return_codes``, guard 3 (the state never goes back) for ``state``.
- PostgreSQL: the row trigger gets the guard's conditions as its ``WHEN`` (evaluated by the server before the
  function is called), split into an ``UPDATE`` and a ``DELETE`` trigger; the function is unchanged and still
  names the rule that is broken.
- PostgreSQL: ``claim_items`` is written with ``fillfactor = 60``. Every line is updated at least twice (sent,
  answered), and a full page makes each update a new tuple elsewhere with a new entry in all five indexes; with
  room on the page the update is a heap-only tuple (no indexed column changes). Sending a national year's lines:
  5.6 s → 2.8 s. Pages written before this migration keep their old fill until rewritten.
"""

import importlib
from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_0006 = importlib.import_module("integraal.store.migrations.versions.0006_claim_returns_and_sent_claims")
"""The guards' conditions and messages as migration 0006 froze them (a migration never changes)."""

GUARDED_COLUMNS: tuple[tuple[str, ...], ...] = (_0006.ITEM_FIXED, _0006.ITEM_ANSWER, ("state",))
"""Per guard of ``_0006._item_conditions`` (same order): the columns whose change it looks for."""

ITEM_FILLFACTOR = 60
"""PostgreSQL: percent of a ``claim_items`` page filled by inserts; the rest is room for the updated versions."""


def _sqlite_guards(of_columns: bool) -> None:
    for n, ((condition, message), columns) in enumerate(
        zip(_0006._item_conditions("IS NOT"), GUARDED_COLUMNS, strict=True), start=1
    ):
        op.execute(f"DROP TRIGGER IF EXISTS claim_items_guard_{n}")
        event = f"UPDATE OF {', '.join(columns)}" if of_columns else "UPDATE"
        op.execute(
            f"CREATE TRIGGER claim_items_guard_{n} BEFORE {event} ON claim_items WHEN {condition} "
            f"BEGIN SELECT RAISE(ABORT, {_0006._quote(message)}); END"
        )


def upgrade() -> None:
    dialect = op.get_context().dialect.name
    if dialect == "sqlite":
        _sqlite_guards(of_columns=True)
    elif dialect == "postgresql":
        refused = " OR ".join(f"({condition})" for condition, _ in _0006._item_conditions("IS DISTINCT FROM"))
        op.execute("DROP TRIGGER IF EXISTS claim_items_guard ON claim_items")
        op.execute(
            f"CREATE TRIGGER claim_items_guard BEFORE UPDATE ON claim_items FOR EACH ROW WHEN ({refused}) "
            f"EXECUTE FUNCTION {_0006.PG_ITEMS}()"
        )
        op.execute(
            f"CREATE TRIGGER claim_items_no_delete BEFORE DELETE ON claim_items FOR EACH ROW "
            f"WHEN (OLD.state NOT IN {_0006.UNSENT}) EXECUTE FUNCTION {_0006.PG_ITEMS}()"
        )
        op.execute(f"ALTER TABLE claim_items SET (fillfactor = {ITEM_FILLFACTOR})")


def downgrade() -> None:
    dialect = op.get_context().dialect.name
    if dialect == "sqlite":
        _sqlite_guards(of_columns=False)
    elif dialect == "postgresql":
        op.execute("ALTER TABLE claim_items RESET (fillfactor)")
        op.execute("DROP TRIGGER IF EXISTS claim_items_no_delete ON claim_items")
        op.execute("DROP TRIGGER IF EXISTS claim_items_guard ON claim_items")
        op.execute(
            "CREATE TRIGGER claim_items_guard BEFORE UPDATE OR DELETE ON claim_items "
            f"FOR EACH ROW EXECUTE FUNCTION {_0006.PG_ITEMS}()"
        )
