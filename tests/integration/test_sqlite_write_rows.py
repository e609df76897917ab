"""SQLite's bulk write (``store.bulk._sqlite_write``: many rows per ``INSERT``, the values laid out row after row
from the columns) stores every row of a frame once, in order, with every value as it was — whatever the number
of rows against the rows per statement and per batch."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import BigInteger, Boolean, Column, Date, Integer, MetaData, String, Table, delete, select

from integraal.store import bulk
from integraal.store.database import Database

pytestmark = pytest.mark.sqlite_only(reason="the SQLite write path")

PROBE = Table(
    "write_probe",
    MetaData(),
    Column("n", Integer, primary_key=True),
    Column("label", String(40), nullable=True),
    Column("cents", BigInteger, nullable=False),
    Column("day", Date, nullable=True),
)


@pytest.fixture(scope="module")
def probe_db(tmp_path_factory: pytest.TempPathFactory) -> Database:
    db = Database(str(tmp_path_factory.mktemp("write") / "probe.db"))
    PROBE.create(db.engine)
    return db


row = st.tuples(
    st.one_of(st.none(), st.text(max_size=12)),
    st.integers(-(2**62), 2**62),
    st.one_of(st.none(), st.dates(date(1990, 1, 1), date(2040, 12, 31))),
)


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(row, max_size=70), per=st.integers(1, 9), batch=st.integers(1, 30))
def test_every_row_is_written_once_in_order_with_its_values(
    probe_db: Database, rows: list[tuple[str | None, int, date | None]], per: int, batch: int
) -> None:
    frame = pl.DataFrame(
        [(n, *r) for n, r in enumerate(rows)],
        schema={"n": pl.Int64, "label": pl.String, "cents": pl.Int64, "day": pl.Date},
        orient="row",
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(bulk, "ROWS_PER_STATEMENT", per)
        patch.setattr(bulk, "BATCH", batch)
        with probe_db.unit_of_work() as connection:
            connection.execute(delete(PROBE))
            bulk._sqlite_write(connection, PROBE, frame)
            stored = connection.execute(select(PROBE).order_by(PROBE.c.n)).all()
    assert [tuple(r) for r in stored] == [tuple(r) for r in frame.iter_rows()]


KEYED = Table(
    "write_keyed_probe",
    MetaData(),
    Column("ref", String(4), nullable=True, unique=True),
    Column("label", String(40), nullable=True),
    Column("kind", String(10), nullable=True),
    Column("flag", Boolean(create_constraint=False), nullable=True),
    Column("day", Date, nullable=True),
    Column("cents", BigInteger, nullable=False),
    Column("note", String(40), nullable=True),
)
KEYED_SCHEMA = dict(
    zip(KEYED.c.keys(), [pl.String, pl.String, pl.String, pl.Boolean, pl.Date, pl.Int64, pl.String], strict=True)
)


@pytest.fixture(scope="module")
def keyed_db(probe_db: Database) -> Database:
    KEYED.create(probe_db.engine)
    return probe_db


repeating_row = st.tuples(
    st.one_of(st.none(), st.sampled_from(["r1", "r2", "r3"])),
    st.one_of(st.none(), st.sampled_from(["", "a", "b", "é'\"", "a b"])),
    st.one_of(st.none(), st.sampled_from(["integral", "mono"])),
    st.one_of(st.none(), st.booleans()),
    st.one_of(st.none(), st.sampled_from([date(2025, 1, 1), date(2025, 12, 31)])),
    st.integers(-(2**62), 2**62),
    st.one_of(st.none(), st.text(max_size=8)),
)


def _write(db: Database, stored: pl.DataFrame, frame: pl.DataFrame, how: str) -> list[tuple[object, ...]]:
    """The table's rows, by rowid, after writing ``stored`` plainly and then ``frame`` (``how``)."""
    with db.unit_of_work() as connection:
        connection.execute(delete(KEYED))
        with pytest.MonkeyPatch.context() as plain:
            plain.setattr(bulk, "KEYED_MIN_ROWS", 10**9)
            bulk.upsert_frame(connection, KEYED, stored, ["ref"])
        if how == "insert":
            bulk.insert_frame(connection, KEYED, frame)
        else:
            bulk.upsert_frame(connection, KEYED, frame, ["ref"], replace=how == "replace")
        rows = connection.exec_driver_sql(
            "SELECT rowid - (SELECT min(rowid) FROM write_keyed_probe), * FROM write_keyed_probe ORDER BY rowid"
        ).all()
        assert connection.exec_driver_sql("SELECT name FROM sqlite_temp_master").all() == []
    return [tuple(r) for r in rows]


@settings(max_examples=80, deadline=None)
@given(
    rows=st.lists(repeating_row, min_size=1, max_size=80),
    before=st.lists(repeating_row, max_size=4),
    how=st.sampled_from(["insert", "replace", "keep"]),
    per=st.integers(1, 9),
    batch=st.integers(1, 40),
    share=st.integers(1, 4),
)
def test_rows_bound_by_keys_of_their_repeating_values_are_stored_as_the_plain_write_stores_them(
    keyed_db: Database,
    rows: list[tuple[object, ...]],
    before: list[tuple[object, ...]],
    how: str,
    per: int,
    batch: int,
    share: int,
) -> None:
    """The same rows, in the same order (by rowid), when their repeating values go through a table of keys — an
    insert, or an upsert over stored rows whose later rows of one key win (or keep the stored one); no table of
    keys is left behind."""
    frame = pl.DataFrame(rows, schema=KEYED_SCHEMA, orient="row")
    if how == "insert":  # one row of a key (the upserts take several)
        frame = frame.filter(pl.col("ref").is_null() | pl.col("ref").is_first_distinct())
    stored = pl.DataFrame(before, schema=KEYED_SCHEMA, orient="row").unique("ref", maintain_order=True)
    if how == "insert":
        stored = stored.filter(~pl.col("ref").is_in(frame["ref"].drop_nulls().implode()))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(bulk, "ROWS_PER_STATEMENT", per)
        patch.setattr(bulk, "BATCH", batch)
        patch.setattr(bulk, "KEYED_SHARE", share)
        patch.setattr(bulk, "KEYED_MIN_ROWS", 10**9)
        expected = _write(keyed_db, stored, frame, how)
        patch.setattr(bulk, "KEYED_MIN_ROWS", 1)
        keyed = bulk._keyed_columns(bulk._driver_rows(frame).slice(0, batch), frame.columns)
        assert _write(keyed_db, stored, frame, how) == expected
    if how == "insert" and stored.height == 0:
        as_stored = bulk._driver_rows(frame).with_columns(pl.col("flag").cast(pl.Int64))
        assert [r[1:] for r in expected] == [tuple(r) for r in as_stored.iter_rows()]
    if frame.height >= 4 * share and frame.slice(0, batch).drop("cents", "note").n_unique() * share <= min(
        batch, frame.height
    ):
        assert keyed  # the path under test was taken where the values repeat enough


def test_a_big_frame_of_repeating_values_takes_the_keyed_path() -> None:
    """As a national run's phase decisions: most of their columns repeat (a few hundred combinations)."""
    n = 20_000
    frame = pl.DataFrame(
        {
            "pregnancy_id": [f"P{i:07d}" for i in range(n)],
            "phase": ["prenatal", "natal", "postnatal", "natal"] * (n // 4),
            "outcome": ["integral"] * (n - 100) + ["fallback"] * 100,
            "cents": list(range(n)),
        }
    )
    assert bulk._keyed_columns(frame, frame.columns) == ["outcome", "phase"]
    assert bulk._keyed_columns(frame.head(bulk.KEYED_MIN_ROWS - 1), frame.columns) == []
