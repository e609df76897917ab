"""The Alembic migrations build exactly the schema of ``store/tables.py``, and go down and up again."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from integraal.store.database import alembic_config
from integraal.store.tables import metadata


def test_migrations_match_the_tables_and_can_be_reversed(db):
    with db.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), metadata) == []
    config = alembic_config(db.url)
    command.downgrade(config, "0001")
    assert not inspect(db.engine).has_table("users")
    command.upgrade(config, "head")
    names = {ix["name"] for ix in inspect(db.engine).get_indexes("pregnancies")}
    assert {"ix_pregnancies_igo_id", "ix_pregnancies_uzovi"} <= names
    assert inspect(db.engine).has_table("audit_scopes")


def test_no_sqlite_trigger_builds_an_in_list_for_every_row(db):
    """Migration 0011: an ``IN`` list in a trigger's condition is built anew for every updated row (≈3 µs each)."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite only: PostgreSQL evaluates its guards' IN lists once")
    with db.engine.connect() as connection:
        triggers = dict(connection.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'").all())
    assert {"claim_items_guard_1", "claim_items_guard_2", "claim_items_guard_3", "claim_items_no_delete"} <= set(
        triggers
    )
    assert [name for name, sql in triggers.items() if " IN (" in sql.upper()] == []
