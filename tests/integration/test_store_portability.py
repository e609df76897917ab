"""The storage layer behaves the same on SQLite and PostgreSQL (issue 7): the places where the two differ.

Run on both with ``--database=sqlite`` and ``--database=postgres`` (CI runs the whole suite on each). Each test
names the difference it pins down: PostgreSQL allows 65,535 parameters per statement (a national year has more
pregnancies), its driver returns dates as objects (SQLite: text) in whichever row they first appear, an upsert
is ``INSERT ... ON CONFLICT`` on both, money needs 64 bits, TRUNCATE (PostgreSQL only) must not empty an
append-only table, and PostgreSQL's planner needs statistics of a table just filled.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Date,
    MetaData,
    String,
    Table,
    cast,
    func,
    literal,
    null,
    select,
    text,
    union_all,
)
from sqlalchemy.exc import DBAPIError

from integraal.services.imports import import_files
from integraal.store import activity_blocks, bulk, tables
from integraal.store.bulk import (
    JSON_IN_VALUES,
    in_values,
    insert_frame,
    insert_prepared,
    prepare_rows,
    read_frame,
    upsert_frame,
)
from integraal.store.database import Database
from integraal.store.repositories import ACTIVITY_SCHEMA, load_activities, load_pregnancies

PROBE = activity_blocks.COLUMNS.to_metadata(MetaData(), name="bulk_probe")
"""A table with an activity's columns and text of every kind (activities themselves are stored as blocks)."""


def _probe(connection: Connection) -> Table:
    PROBE.create(connection, checkfirst=True)
    return PROBE


def _every(connection: Connection) -> pl.DataFrame:
    return read_frame(connection, select(*(PROBE.c[name] for name in ACTIVITY_SCHEMA)), ACTIVITY_SCHEMA, many=True)


MANY = 70_000  # more than PostgreSQL's 65,535 parameters of one statement


def test_a_list_longer_than_a_statements_parameters_selects_the_same_rows(
    db: Database, examples: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert all(r.ok for r in import_files(db, sorted(examples.glob("*.csv"))))
    monkeypatch.setattr(activity_blocks, "FEW_KEYS", 10**9)  # the keys' index asked with every id
    with db.unit_of_work() as connection:
        every = load_pregnancies(connection)
        ids = [f"NONE-{n}" for n in range(MANY)] + [p.pregnancy_id for p in every]
        assert load_pregnancies(connection, ids) == every
        bsns = [f"{n:09d}" for n in range(MANY)] + sorted({p.bsn for p in every})
        assert load_activities(connection, bsns).height == load_activities(connection).height > 0
        found = activity_blocks.read_for(connection, ids, bsns)
        assert found.sort("activity_id").equals(load_activities(connection).sort("activity_id"))
        p = tables.pregnancies
        wanted = [every[0].pregnancy_id, "NONE-1"]
        assert connection.execute(select(p.c.pregnancy_id).where(in_values(p.c.pregnancy_id, wanted))).all() == [
            (every[0].pregnancy_id,)
        ]
        assert connection.execute(select(func.count()).where(in_values(p.c.pregnancy_id, []))).scalar_one() == 0


@pytest.mark.parametrize("padding", [0, 5_000])  # below and above JSON_IN_VALUES: SQLite's two spellings
def test_a_long_list_finds_exactly_the_values_it_holds_whatever_they_are(db: Database, padding: int) -> None:
    """Texts with quotes, backslashes, line breaks and non-ASCII characters, and whole numbers (SQLite reads a
    long list from one JSON array); values of other types are bound one by one."""
    odd = ["O'Brien", 'say "hi"', "back\\slash", "new\nline", "Zoë ✓", "", " padded "]
    with db.unit_of_work() as connection:
        connection.exec_driver_sql("CREATE TEMPORARY TABLE probe_values (t TEXT, n BIGINT)")
        rows = [{"t": t, "n": n} for n, t in enumerate([*odd, "other", "NONE-1"])]
        connection.execute(text("INSERT INTO probe_values (t, n) VALUES (:t, :n)"), rows)
        probe = Table("probe_values", MetaData(), Column("t", String), Column("n", BigInteger))
        texts = [f"NONE-{n}" for n in range(2, padding + 2)] + odd
        found = connection.execute(select(probe.c.t).where(in_values(probe.c.t, texts))).scalars().all()
        assert sorted(found) == sorted(odd)
        numbers = [10**12 + n for n in range(padding)] + [0, 2, 8]
        found = connection.execute(select(probe.c.n).where(in_values(probe.c.n, numbers))).scalars().all()
        assert sorted(found) == [0, 2, 8]
        statement = str(select(probe.c.t).where(in_values(probe.c.t, texts)).compile(dialect=connection.dialect))
        assert ("json_each" in statement) == (connection.dialect.name == "sqlite" and padding >= JSON_IN_VALUES)


def test_read_frame_parses_dates_that_first_appear_after_a_null(db: Database, examples: Path) -> None:
    assert all(r.ok for r in import_files(db, sorted(examples.glob("*.csv"))))
    p = tables.pregnancies
    query = union_all(
        select(literal("0").label("id"), cast(null(), Date).label("day")),
        select(p.c.pregnancy_id, p.c.due_date).where(p.c.pregnancy_id == "Z-0001"),
    ).order_by("id")
    with db.unit_of_work() as connection:
        frame = read_frame(connection, query, {"id": pl.String, "day": pl.Date})
        due = connection.execute(select(p.c.due_date).where(p.c.pregnancy_id == "Z-0001")).scalar_one()
    assert frame.to_dicts() == [{"id": "0", "day": None}, {"id": "Z-0001", "day": due}]


def test_upsert_replaces_or_keeps_by_key(db: Database) -> None:
    t = tables.providers
    first = pl.DataFrame({"agb": ["01000001", "01000002"], "name": ["A", "B"], "discipline": ["midwife"] * 2})
    changed = pl.DataFrame({"agb": ["01000002", "01000003"], "name": ["B2", "C"], "discipline": ["midwife"] * 2})
    with db.unit_of_work() as connection:
        upsert_frame(connection, t, first, key=["agb"])
        upsert_frame(connection, t, changed, key=["agb"], replace=False)
        kept = dict(connection.execute(select(t.c.agb, t.c.name).order_by(t.c.agb)).all())
        upsert_frame(connection, t, changed, key=["agb"])
        replaced = dict(connection.execute(select(t.c.agb, t.c.name).order_by(t.c.agb)).all())
    assert kept == {"01000001": "A", "01000002": "B", "01000003": "C"}
    assert replaced == {"01000001": "A", "01000002": "B2", "01000003": "C"}


def test_bulk_writes_keep_every_value_as_it_was(db: Database) -> None:
    """Empty text is not NULL, and quotes, commas, newlines and non-ASCII survive (PostgreSQL writes by COPY)."""
    texts = ["", 'say "hi", then\nleave', "Zoë; 's-Hertogenbosch", "NULL", "\\N", None]
    frame = pl.DataFrame(
        {
            "activity_id": [f"A{n}" for n in range(len(texts))],
            "bsn": ["123456782"] * len(texts),
            "pregnancy_id": texts,
            "agb": ["01000001"] * len(texts),
            "activity_code": [*texts[:-1], "x"],
            "date": [date(2025, 1, n + 1) for n in range(len(texts))],
            "quantity_hundredths": [2**40, -1, 0, 100, 150, 1],
        }
    )
    with db.unit_of_work() as connection:
        insert_frame(connection, _probe(connection), frame)
        stored = _every(connection).sort("activity_id")
    assert stored.to_dicts() == frame.to_dicts()


@pytest.mark.parametrize("repeating", [False, True], ids=["plain", "keyed"])
def test_rows_prepared_in_another_thread_with_constants_are_stored_as_insert_frame_stores_them(
    db: Database, monkeypatch: pytest.MonkeyPatch, repeating: bool
) -> None:
    """A decision run prepares its rows in the thread that decides them and writes them with the run's id as a
    constant: the same rows as writing the whole frame (where values repeat, through SQLite's table of keys)."""
    monkeypatch.setattr(bulk, "KEYED_MIN_ROWS", 1 if repeating else 10**9)
    monkeypatch.setattr(bulk, "BATCH", 7)  # several batches, each with its own keys
    monkeypatch.setattr(bulk, "KEYED_SHARE", 1)
    n = 40
    frame = pl.DataFrame(
        {
            "activity_id": [f"A{i:03d}" for i in range(n)],
            "bsn": ["123456782", "111222333"] * (n // 2),
            "pregnancy_id": [None, "P1", "P2", "P1"] * (n // 4),
            "agb": ["01000001"] * n,
            "date": [date(2025, 1, 1 + i % 3) for i in range(n)],
            "quantity_hundredths": list(range(n)),
        }
    )
    with ThreadPoolExecutor(1) as other:
        prepared = other.submit(prepare_rows, PROBE, frame, db.engine.dialect.name).result()
    assert bool(prepared.keyed) == (repeating and db.engine.dialect.name == "sqlite")
    with db.unit_of_work() as connection:
        _probe(connection)
        insert_prepared(connection, prepared, {"activity_code": "X01"})
        stored = _every(connection).sort("activity_id")
    expected = frame.with_columns(pl.lit("X01").alias("activity_code")).select(stored.columns)
    assert stored.to_dicts() == expected.to_dicts()


def test_a_column_null_throughout_is_stored_null_also_where_the_table_has_a_default(db: Database) -> None:
    """``insert_frame`` leaves a column that is null in every row out of the statement (one value fewer per row)
    only where the table stores NULL without it: a column with a default still gets the NULLs it was given."""
    probe = Table(
        "null_probe",
        MetaData(),
        Column("key", String(10), primary_key=True),
        Column("plain", String(10), nullable=True),
        Column("with_default", String(10), nullable=True, server_default="d"),
    )
    frame = pl.DataFrame(
        {"key": ["a", "b"], "plain": [None, None], "with_default": [None, None]},
        schema={"key": pl.String, "plain": pl.String, "with_default": pl.String},
    )
    with db.unit_of_work() as connection:
        probe.create(connection)
        insert_frame(connection, probe, frame)
        stored = connection.execute(select(probe).order_by(probe.c.key)).all()
        probe.drop(connection)
    assert [tuple(row) for row in stored] == [("a", None, None), ("b", None, None)]


def test_upsert_of_one_key_twice_in_a_frame_keeps_the_last_row(db: Database) -> None:
    t = tables.providers
    frame = pl.DataFrame({"agb": ["01000001", "01000001"], "name": ["first", "last"], "discipline": ["midwife"] * 2})
    with db.unit_of_work() as connection:
        upsert_frame(connection, t, frame, key=["agb"])
        assert connection.execute(select(t.c.name)).scalars().all() == ["last"]


def test_money_beyond_32_bits_is_stored_and_summed_exactly(db: Database) -> None:
    t = tables.payments
    cents = 2**31 + 12_345  # 21 million euros: less than a national year
    row = {"uzovi": "3311", "igo_id": "IGO-X", "received_on": date(2026, 2, 1), "unallocated_cents": 0}
    row |= {"recorded_at": datetime(2026, 2, 1, tzinfo=UTC), "actor": "test"}
    with db.unit_of_work() as connection:
        connection.execute(
            t.insert(),
            [{"payment_id": "P1", "total_cents": cents, **row}, {"payment_id": "P2", "total_cents": cents, **row}],
        )
        stored = connection.execute(select(t.c.total_cents).where(t.c.payment_id == "P1")).scalar_one()
        total = connection.execute(select(func.sum(t.c.total_cents))).scalar_one()
    assert stored == cents and int(total) == 2 * cents  # PostgreSQL sums BIGINT as NUMERIC (a Decimal)


@pytest.mark.postgres
@pytest.mark.parametrize("table", ["distribution_periods", "booked_lines", "booked_receipts"])
def test_the_closed_periods_refuse_truncate_too(db: Database, table: str) -> None:
    """PostgreSQL has TRUNCATE, which fires no DELETE trigger: migration 0004 guards it with a trigger of its own
    (UPDATE and DELETE are refused on both databases: test_periods)."""
    with pytest.raises(DBAPIError, match="append-only"), db.unit_of_work() as connection:
        connection.execute(text(f"TRUNCATE {table} CASCADE"))


def test_a_read_inside_a_transaction_sees_its_own_uncommitted_writes(db: Database) -> None:
    """read_frame reads SQLite column-wise on a connection of its own, but never once this transaction wrote."""
    row = {"bsn": "123456782", "pregnancy_id": None, "agb": "01000001", "activity_code": "x"}
    row |= {"date": date(2025, 1, 1), "quantity_hundredths": 100}
    with db.unit_of_work() as connection:
        _probe(connection)
    with db.unit_of_work(lock="import") as connection:
        before = _every(connection)
        connection.execute(PROBE.insert().values(activity_id="A1", **row))
        after = _every(connection)
    assert before.height == 0
    assert after["activity_id"].to_list() == ["A1"]


@pytest.mark.sqlite_only(reason="SQLite's column-wise read")
def test_sqlite_reads_unordered_columns_joined_and_every_value_survives(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = ["", "v", "vv", "NULL", "Zoë ' \" ,;\t", None]
    frame = pl.DataFrame(
        {
            "activity_id": [f"A{n}" for n in range(len(texts))],
            "bsn": ["123456782"] * len(texts),
            "pregnancy_id": texts,
            "agb": ["01000001"] * len(texts),
            "activity_code": ["x"] * len(texts),
            "date": [date(2025, 1, n + 1) for n in range(len(texts))],
            "quantity_hundredths": [2**40, -1, 0, 100, -(2**40), 1],
        }
    )
    with db.unit_of_work() as connection:
        t = _probe(connection)
        insert_frame(connection, t, frame)

    def no_tuples(*args: object) -> None:
        raise AssertionError("read tuple by tuple")

    with monkeypatch.context() as patched:
        patched.setattr("integraal.store.bulk._read_by_fetch", no_tuples)
        with db.unit_of_work() as connection:
            joined = _every(connection).sort("activity_id")
    assert joined.to_dicts() == frame.to_dicts()

    with db.unit_of_work() as connection:  # a line break in a value: the same rows, fetched as tuples
        connection.execute(t.update().where(t.c.activity_id == "A1").values(pregnancy_id="two\nlines"))
    with db.unit_of_work() as connection:
        fetched = _every(connection).sort("activity_id")
    assert fetched["pregnancy_id"].to_list() == ["", "two\nlines", "vv", "NULL", "Zoë ' \" ,;\t", None]


def _activity_rows(first: int, n: int) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "activity_id": [f"A{k:06d}" for k in range(first, first + n)],
            "bsn": ["123456782"] * n,
            "pregnancy_id": [None] * n,
            "agb": ["01000001"] * n,
            "activity_code": ["x"] * n,
            "date": [date(2025, 1, 1)] * n,
            "quantity_hundredths": [100] * n,
        },
        schema_overrides={"pregnancy_id": pl.String},
    )


@pytest.mark.postgres
def test_a_big_write_leaves_the_planner_statistics_of_what_was_written(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL analyses a table up to a minute after a commit; until then a table just filled is planned as
    empty. A big write (many rows, many compared with what the statistics know) analyses it in its transaction;
    a small one, or one small next to what is known, leaves it to the server."""
    monkeypatch.setattr(bulk, "ANALYZE_ROWS", 50)

    def known() -> float:
        with db.unit_of_work() as connection:
            return float(
                connection.execute(text("SELECT reltuples FROM pg_class WHERE oid = 'bulk_probe'::regclass")).scalar()
            )

    with db.unit_of_work() as connection:
        insert_frame(connection, _probe(connection), _activity_rows(0, 49))  # too few
    assert known() <= 0  # never analysed (-1), or analysed empty
    with db.unit_of_work() as connection:
        upsert_frame(connection, PROBE, _activity_rows(49, 450), ["activity_id"])
    assert known() == 499
    with db.unit_of_work() as connection:
        insert_frame(connection, PROBE, _activity_rows(499, 60))  # not more than a fifth of 499: left
    assert known() == 499
    with db.unit_of_work() as connection:
        insert_frame(connection, PROBE, _activity_rows(559, 150))
    assert known() == 709
