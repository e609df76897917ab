"""The faster read of the distribution input gives what the plain one gave (issue 7, the plans stage).

Three changes to check: every IGO's activities are read by one query (not named, then unnamed: two starts of the
separate reading processes); that read runs in a background thread on a connection of its own while the rest is
read (``store.background_read.read_meanwhile``), except on an in-memory SQLite database, which is one per
connection; and the IGOs' inputs are derived two at a time (``IGO_THREADS``).
"""

from __future__ import annotations

import dataclasses
import threading
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Connection, select
from sqlalchemy import text as sql_text

from dbutil import fresh_database, release
from integraal.services import distribution_input
from integraal.services.access import SYSTEM
from integraal.services.decisions import decide_all
from integraal.services.distribution_input import _activities, distribution_inputs
from integraal.services.imports import import_files
from integraal.store import activity_blocks, tables
from integraal.store.background_read import read_meanwhile
from integraal.store.database import Database
from integraal.store.repositories import ACTIVITY_SCHEMA
from integraal.synth import generate_region, write_region

YEAR = 2025


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Database:
    folder: Path = tmp_path_factory.mktemp("plans-speed")
    region = _two_igos(generate_region(400, seed=11))
    database = fresh_database(folder, "speed")
    reports = import_files(database, list(write_region(region, folder / "region").values()))
    assert all(r.ok for r in reports), [str(e) for r in reports for e in r.errors][:5]
    decide_all(database, date(2026, 3, 1))
    yield database
    release(database)


def _two_igos(region):
    """A second IGO, IGO-02, with every other pregnancy and IGO-01's members and contracts."""
    igo = region.igos.row(0, named=True)
    second = pl.DataFrame([{**igo, "igo_id": "IGO-02", "agb": "53000002", "name": igo["name"] + " II"}])
    own = pl.col("igo_id") == "IGO-01"
    return dataclasses.replace(
        region,
        igos=pl.concat([region.igos, second]),
        memberships=pl.concat(
            [region.memberships, region.memberships.filter(own).with_columns(igo_id=pl.lit("IGO-02"))]
        ),
        contracts=pl.concat(
            [
                region.contracts,
                region.contracts.filter(own).with_columns(
                    igo_id=pl.lit("IGO-02"), contract_id=pl.col("contract_id") + "-II"
                ),
            ]
        ),
        pregnancies=region.pregnancies.with_columns(
            igo_id=pl.when(pl.int_range(pl.len()) % 2 == 1).then(pl.lit("IGO-02")).otherwise(pl.col("igo_id"))
        ),
    )


def _igos(db: Database) -> list[str]:
    with db.unit_of_work() as connection:
        return list(connection.execute(select(tables.igos.c.igo_id).order_by(tables.igos.c.igo_id)).scalars())


def test_one_query_for_every_igo_reads_the_named_and_the_unnamed_activities(db):
    """All IGOs: every activity in one read; the rows are those of the per-IGO reads (named and unnamed)."""
    with db.unit_of_work() as connection:
        together = _activities(connection, None)
        apart = _activities(connection, _igos(db))
        every = activity_blocks.count(connection)
    assert together.schema == pl.Schema(ACTIVITY_SCHEMA)
    assert together.height == every > 0
    unnamed = pl.col("pregnancy_id").is_null()
    assert together.filter(unnamed).height > 0  # the region has activities that name no trajectory
    theirs = pl.col("activity_id").is_in(apart["activity_id"].implode())
    for part in (unnamed, ~unnamed):
        assert together.filter(part & theirs).sort("activity_id").equals(apart.filter(part).sort("activity_id"))
    assert apart["activity_id"].is_unique().all()


def test_the_read_runs_meanwhile_on_a_connection_of_its_own(db):
    seen: list[tuple[int, Connection]] = []

    def read(connection: Connection) -> int:
        seen.append((threading.get_ident(), connection))
        return int(connection.execute(select(tables.igos.c.igo_id).limit(1)).scalar() is not None)

    with db.unit_of_work() as connection, read_meanwhile(db, connection, read) as result:
        assert result() == 1
    ((thread, used),) = seen
    assert thread != threading.get_ident() and used is not connection


def test_a_failed_read_fails_the_call(db):
    def read(connection: Connection) -> None:
        raise RuntimeError("disk on fire")

    with (
        pytest.raises(RuntimeError, match="disk on fire"),
        db.unit_of_work() as connection,
        read_meanwhile(db, connection, read) as result,
    ):
        result()


def test_an_in_memory_database_is_read_on_the_blocks_own_connection():
    """Another connection to ``sqlite://`` is another, empty database: the read must use the block's."""
    memory = Database("sqlite://")
    with memory.unit_of_work() as connection:
        connection.execute(sql_text("CREATE TABLE things (n INTEGER)"))
        connection.execute(sql_text("INSERT INTO things VALUES (7)"))

        def read(used: Connection) -> int:
            assert used is connection and threading.current_thread() is threading.main_thread()
            return int(used.execute(sql_text("SELECT n FROM things")).scalar_one())

        with read_meanwhile(memory, connection, read) as result:
            assert result() == 7


def test_two_igos_at_a_time_give_what_one_at_a_time_gives(db, monkeypatch):
    igos = _igos(db)
    assert len(igos) > 1 and distribution_input.IGO_THREADS > 1
    together = distribution_inputs(db, SYSTEM, igos, YEAR)
    monkeypatch.setattr(distribution_input, "IGO_THREADS", 1)
    one_by_one = distribution_inputs(db, SYSTEM, igos, YEAR)
    assert list(together) == list(one_by_one) == igos
    assert all(data.shadow_claims and data.activities for data in together.values())
    assert together == one_by_one


def test_the_quality_reference_is_read_in_the_background_with_the_activities(db, monkeypatch):
    """The country's outcomes (the quality reference) are read beside the decisions, in the background thread,
    and give each IGO what reading them in the call's own thread gives."""
    igos = _igos(db)
    read_in: list[str] = []
    real = distribution_input._reference_outcomes

    def spied(connection, year):
        read_in.append(threading.current_thread().name)
        return real(connection, year)

    monkeypatch.setattr(distribution_input, "_reference_outcomes", spied)
    apart = distribution_inputs(db, SYSTEM, igos, YEAR)
    assert read_in == ["integraal-read"]
    assert any(data.quality for data in apart.values())
    with db.unit_of_work() as connection:
        reference = real(connection, YEAR)
    monkeypatch.setattr(distribution_input, "_reference_outcomes", lambda connection, year: reference)
    monkeypatch.setattr(distribution_input, "read_meanwhile", _inline)
    assert distribution_inputs(db, SYSTEM, igos, YEAR) == apart


@contextmanager
def _inline(db, connection, read):
    yield lambda: read(connection)
