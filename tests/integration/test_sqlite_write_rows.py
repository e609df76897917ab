"""SQLite's bulk write (``store.bulk._sqlite_write``: many rows per ``INSERT``, the values laid out row after row
from the columns) stores every row of a frame once, in order, with every value as it was — whatever the number
of rows against the rows per statement and per batch."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import BigInteger, Column, Date, Integer, MetaData, String, Table, delete, select

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
