"""Migration 0011 spells out the IN lists of the SQLite guards of sent claim lines (each ``IN`` list was built
anew for every updated row): the conditions it writes refuse exactly what those of migrations 0006/0007 refuse."""

from __future__ import annotations

import importlib
import itertools
import sqlite3

import pytest

_0006 = importlib.import_module("integraal.store.migrations.versions.0006_claim_returns_and_sent_claims")
_0011 = importlib.import_module("integraal.store.migrations.versions.0011_sqlite_guards_without_in_lists")

STATES = (None, "draft", "ready", "sent", "accepted", "partially_accepted", "rejected", "corrected", "x")


def test_in_lists_are_spelled_out_with_their_operator() -> None:
    assert _0011.without_in_lists("OLD.state NOT IN ('draft', 'ready') AND NEW.a IN ('x')") == (
        "(OLD.state <> 'draft' AND OLD.state <> 'ready') AND (NEW.a = 'x')"
    )
    assert _0011.without_in_lists("OLD.state = 'sent'") == "OLD.state = 'sent'"


@pytest.mark.parametrize(
    "condition", [c for c, _ in _0006._item_conditions("IS NOT")] + [f"OLD.state NOT IN {_0006.UNSENT}"]
)
def test_a_spelled_out_guard_is_true_false_or_null_exactly_when_the_original_is(condition: str) -> None:
    """Every pair of old and new states (NULL and unknown ones too), with the other columns equal and changed."""
    spelled = _0011.without_in_lists(condition)
    assert " IN (" not in spelled
    columns = ["state", *_0006.ITEM_FIXED, *_0006.ITEM_ANSWER]
    db = sqlite3.connect(":memory:")
    for side in ("o", "n"):
        db.execute(f"CREATE TABLE {side} ({', '.join(columns)})")
    for old, new, changed in itertools.product(STATES, STATES, (False, True)):
        db.execute("DELETE FROM o")
        db.execute("DELETE FROM n")
        rest = [1] * (len(columns) - 1)
        db.execute(f"INSERT INTO o VALUES ({', '.join('?' * len(columns))})", [old, *rest])
        db.execute(
            f"INSERT INTO n VALUES ({', '.join('?' * len(columns))})", [new, *([2] * len(rest) if changed else rest)]
        )

        def value(text: str) -> object:
            sql = text.replace("OLD.", "o.").replace("NEW.", "n.")
            return db.execute(f"SELECT {sql} FROM o, n").fetchone()[0]

        assert value(spelled) == value(condition), (old, new, changed)
