"""Concurrency and crash safety, with real processes (issue 7, part 2).

Issue 7: "Two imports or two claim/return runs at the same time cannot double-book (locks or unique
constraints, tested with real parallel processes); a process killed in the middle of an import, a return-file
application or a period close leaves the database as before the run (tested by killing a real subprocess at
random points, bounded in count). Closed periods and sent claims are immutable at the database level."

Every use case runs in a child process (``fault_child.py``). Parallel runs start at the same moment: each child
loads everything, says ``ready`` and waits for a barrier file that the parent creates once all are ready. Crash
runs are killed with SIGKILL at seeded random moments within the operation's measured run time; after each kill
the database must pass its integrity checks and hold exactly the state before the run or, if the kill came after
the commit, exactly the state of a completed run (compared as row counts of every table and a hash of every row
of the tables the operation writes). Then the operation runs to completion on the crashed database and must give
the same rows as a run that was never interrupted. A send (``claims build --send``) is killed the same way and
also at the rename of its files: no claim file may be cut, and one ``claims export`` writes the missing ones.

The protections: ``Database.unit_of_work(lock=...)`` (SQLite ``BEGIN IMMEDIATE`` with a busy timeout, PostgreSQL
an advisory lock), the unique keys (claim lines per decision line and attempt, applied return files by SHA-256,
payments by reference, periods per IGO and year) and the triggers of migrations 0004 and 0006.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from fault_child import AT, operation
from sqlalchemy import Table, func, select, text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from dbutil import clone_database, fresh_database, release
from integraal.claims.batch import ReturnBatch, ReturnLine
from integraal.claims.formats import get_format
from integraal.cli.main import app
from integraal.services import claims
from integraal.services.access import SYSTEM
from integraal.services.decisions import decide_all
from integraal.services.imports import import_files
from integraal.store import activity_blocks, tables
from integraal.store import database as database_module
from integraal.store.database import Database
from integraal.synth import generate_region, write_region

CHILD = Path(__file__).with_name("fault_child.py")
PERIOD = ("2024-01-01", "2026-12-31")
AS_OF = date(2026, 6, 30)
PLAN = "historisch"
YEAR = "2025"
ROUNDS = 2  # parallel runs per scenario, each on a fresh copy
KILLS = 5  # kill points per operation
VOLATILE = {"import_runs": {"started_at"}, "audit_log": {"at"}}  # wall-clock times: differ between two runs
IMPORT_TABLES = ("activities", "import_runs", "import_rejections", "audit_log", "audit_scopes")
CLAIM_TABLES = ("claim_batches", "claim_items", "claim_transitions", "claim_returns", "reported_overlaps")
RETURN_TABLES = (*CLAIM_TABLES, "audit_log", "audit_scopes")
PAYMENT_TABLES = ("payments", "payment_allocations", "claim_items", "claim_transitions", "audit_log", "audit_scopes")
PERIOD_TABLES = ("distribution_periods", "booked_lines", "booked_receipts", "audit_log", "audit_scopes")


# --- child processes ---------------------------------------------------------------------------------------


def spawn(url: str, name: str, *args: str, barrier: Path | None = None) -> subprocess.Popen[str]:
    command = [sys.executable, str(CHILD), url, name, *args]
    if barrier is not None:
        command += ["--barrier", str(barrier)]
    environment = {k: v for k, v in os.environ.items() if k != "INTEGRAAL_DATABASE_URL"}
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment)


def wait_ready(process: subprocess.Popen[str]) -> None:
    line = process.stdout.readline() if process.stdout else ""
    if line.strip() != "ready":
        _, err = process.communicate(timeout=60)
        raise AssertionError(f"child did not start: {line!r} {err}")


def start(url: str, name: str, *args: str) -> subprocess.Popen[str]:
    """A child that has loaded everything and is running the operation from about now."""
    process = spawn(url, name, *args)
    wait_ready(process)
    return process


@dataclass
class Outcome:
    status: int
    payload: dict[str, Any] | None
    stderr: str

    @property
    def result(self) -> Any:
        assert self.payload is not None and self.payload["ok"], self
        return self.payload["result"]

    @property
    def message(self) -> str:
        """A refusal's message for the user."""
        assert self.payload is not None and not self.payload["ok"], self
        return str(self.payload["message"])


def finish(process: subprocess.Popen[str]) -> Outcome:
    out, err = process.communicate(timeout=300)
    lines = [line for line in out.splitlines() if line.startswith("{")]
    return Outcome(process.returncode, json.loads(lines[-1]) if lines else None, err)


def together(folder: Path, url: str, runs: Sequence[tuple[str, ...]]) -> list[Outcome]:
    """Start every run in its own process; let them go at the same moment; wait for all."""
    barrier = folder / f"go-{time.monotonic_ns()}"
    processes = [spawn(url, *run, barrier=barrier) for run in runs]
    for process in processes:
        wait_ready(process)
    barrier.touch()
    return [finish(p) for p in processes]


def assert_clean(outcomes: Sequence[Outcome], refusals: Sequence[str] = ()) -> None:
    """No process crashed: each succeeded or was refused with a message meant for the user."""
    for o in outcomes:
        assert "Traceback" not in o.stderr and "database is locked" not in o.stderr, o.stderr
        assert o.payload is not None, o
        assert o.payload["ok"] or o.payload["error"] in refusals, o.payload


# --- snapshots -----------------------------------------------------------------------------------------------


def _surrogate_key(table: Table) -> str | None:
    """The column of a table whose key is drawn from a sequence (an autoincrement integer), if any."""
    keys = list(table.primary_key.columns)
    if len(keys) == 1 and keys[0].autoincrement is True:
        return keys[0].name
    return None


def _ranks(connection: Any, table: Table, cache: dict[str, dict[Any, int]]) -> dict[Any, int]:
    if table.name not in cache:
        key = _surrogate_key(table)
        ids = connection.exec_driver_sql(f'SELECT "{key}" FROM "{table.name}" ORDER BY "{key}"').scalars()
        cache[table.name] = {value: rank for rank, value in enumerate(ids)}
    return cache[table.name]


def _rows_digest(connection: Any, table: Table, cache: dict[str, dict[Any, int]]) -> str:
    """A hash of every row; sequence-drawn keys (and references to them) enter as their rank, not their value.

    PostgreSQL never hands back a sequence value that a rolled-back transaction drew, so after a killed run the
    next run's keys are higher than an uninterrupted run's: the same rows, other numbers. Ranks keep the order and
    every reference, so a row that is missing, extra or changed still changes the hash.
    """
    columns = [c for c in table.columns if c.name not in VOLATILE.get(table.name, ())]
    renumber: dict[int, dict[Any, int]] = {}
    for index, column in enumerate(columns):
        if column.name == _surrogate_key(table):
            renumber[index] = _ranks(connection, table, cache)
        for foreign in column.foreign_keys:
            if _surrogate_key(foreign.column.table) == foreign.column.name:
                renumber[index] = _ranks(connection, foreign.column.table, cache)
    names = ", ".join(f'"{c.name}"' for c in columns)
    order = ", ".join(f'"{c.name}"' for c in table.primary_key.columns)
    cursor = connection.exec_driver_sql(f'SELECT {names} FROM "{table.name}" ORDER BY {order}')
    digest = hashlib.sha256()
    while rows := cursor.fetchmany(50_000):
        if renumber:
            rows = [tuple(renumber[i].get(v, v) if i in renumber else v for i, v in enumerate(row)) for row in rows]
        if table.name == "audit_log":
            rows = _import_runs_ranked(connection, [c.name for c in columns], rows, cache)
        digest.update(repr(rows).encode())
    return digest.hexdigest()


def _import_runs_ranked(
    connection: Any, columns: list[str], rows: Sequence[tuple[Any, ...]], cache: dict[str, dict[Any, int]]
) -> list[tuple[Any, ...]]:
    """An import's audit entry names its run id in its details: as its rank too (a run killed after drawing its
    id leaves a gap on PostgreSQL)."""
    action, detail = columns.index("action"), columns.index("detail")
    ranks = _ranks(connection, tables.import_runs, cache)
    ranked = []
    for row in rows:
        if row[action] == "import" and row[detail]:
            facts = json.loads(row[detail])
            facts["run_id"] = ranks.get(facts.get("run_id"), facts.get("run_id"))
            row = (*row[:detail], json.dumps(facts, sort_keys=True), *row[detail + 1 :])
        ranked.append(row)
    return ranked


def snapshot(db: Database, hashed: Sequence[str]) -> dict[str, Any]:
    """Row count of every table; for the ``hashed`` tables also a hash of every row (wall-clock times left out)."""
    state: dict[str, Any] = {}
    ranks: dict[str, dict[Any, int]] = {}
    with db.engine.connect() as connection:
        for table in tables.metadata.sorted_tables:
            count = connection.execute(select(func.count()).select_from(table)).scalar_one()
            state[table.name] = (count, _rows_digest(connection, table, ranks)) if table.name in hashed else count
        if "activities" in hashed:  # stored as columnar blocks: every activity, in key order
            stored = activity_blocks.read_all(connection).sort("activity_id")
            state["activities"] = (stored.height, hashlib.sha256(repr(stored.rows()).encode()).hexdigest())
    return state


def differences(state: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    return {name: (value, other[name]) for name, value in state.items() if other[name] != value}


def check_integrity(db: Database) -> None:
    if db.engine.dialect.name != "sqlite":
        return  # PostgreSQL: a dead client's transaction is rolled back by the server
    with db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
        assert connection.exec_driver_sql("PRAGMA foreign_key_check").all() == []


def count(db: Database, table: Table, *where: Any) -> int:
    with db.engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(table).where(*where)).scalar_one())


def stored_activities(db: Database) -> pl.DataFrame:
    """The stored activities (kept as columnar blocks), each once or the test fails."""
    with db.engine.connect() as connection:
        found = activity_blocks.read_all(connection)
    assert found["activity_id"].is_unique().all(), "an activity is stored twice"
    return found


# --- a region, imported, decided, claimed ----------------------------------------------------------------------


@dataclass
class Region:
    """A synthetic region at three stages, plus the files the tests feed the children."""

    folder: Path
    files: dict[str, Path]
    base: Database  # everything but the activities
    decided: Database  # + activities, decided
    claimed: Database  # + every batch built and sent; every return applied but that of ``open_batch``
    open_batch: str = ""
    returns: dict[str, Path] = field(default_factory=dict)  # batch id -> its KZ302 return file
    igo_id: str = ""

    def copy(self, stage: str, name: str) -> Database:
        return clone_database(getattr(self, stage), self.folder, name)

    def release(self) -> None:
        for db in (self.base, self.decided, self.claimed):
            release(db)


def answer(sent: bytes) -> bytes:
    """The insurer's KZ302: every line accepted, every seventh debit reduced by 5 euros (code 0611)."""
    batch = get_format("kz301").read(sent)
    lines = []
    for n, line in enumerate(batch.lines):
        reduced = n % 7 == 3 and line.signed_cents > 1_000
        awarded = line.signed_cents - 500 if reduced else line.signed_cents
        lines.append(ReturnLine(line, line.signed_cents, awarded, ("0611",) if reduced else ()))
    reference = f"RET-{batch.batch_id}"
    returned = ReturnBatch(
        batch.sender_agb,
        batch.receiver_uzovi,
        batch.batch_id,
        batch.creation_date,
        batch.period_start,
        batch.period_end,
        reference,
        AT.date(),
        (),
        tuple(lines),
    )
    return get_format("kz302").write(returned)


def prepare(folder: Path, pregnancies: int, seed: int) -> Region:
    files = write_region(generate_region(pregnancies, seed=seed), folder / "region")
    base = fresh_database(folder, "base")
    assert all(r.ok for r in import_files(base, [p for kind, p in files.items() if kind != "activities"]))
    decided = clone_database(base, folder, "decided")
    assert all(r.ok for r in import_files(decided, [files["activities"]]))
    decide_all(decided, AS_OF)
    claimed = clone_database(decided, folder, "claimed")
    start, end = (date.fromisoformat(d) for d in PERIOD)
    batches = claims.build_batches(claimed, SYSTEM, period_start=start, period_end=end, at=AT).batches
    region = Region(folder, files, base, decided, claimed)
    region.open_batch = max(batches, key=lambda b: b.lines).batch_id
    region.igo_id = next(b.igo_id for b in batches if b.batch_id == region.open_batch)
    for b in batches:
        path = folder / f"{b.batch_id}.kz302"
        path.write_bytes(answer(claims.export_batch(claimed, SYSTEM, b.batch_id, at=AT)))
        region.returns[b.batch_id] = path
        if b.batch_id != region.open_batch:
            claims.apply_return(claimed, SYSTEM, path.read_bytes(), at=AT)
    for db in (base, decided, claimed):
        db.dispose()
    return region


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Iterator[Region]:
    """For the parallel runs: small enough to copy per round, big enough that two runs overlap."""
    region = prepare(tmp_path_factory.mktemp("small"), 2_000, seed=3)
    yield region
    region.release()


@pytest.fixture(scope="module")
def large(tmp_path_factory) -> Iterator[Region]:
    """For the crash runs: each operation takes a second or more, so a kill lands in its middle."""
    region = prepare(tmp_path_factory.mktemp("large"), 6_000, seed=7)
    yield region
    region.release()


@pytest.fixture(scope="module")
def activity_files(small) -> dict[str, Path]:
    """Cut from the small region's activities: ``same`` (8,000 rows and 5 bad ones, for the quarantine), and
    ``first``/``second``, which share 2,000 keys with a different quantity in each (3 and 7)."""
    header, *rows = small.files["activities"].read_text().splitlines()
    rows = rows[:10_000]

    def with_quantity(lines: list[str], quantity: str) -> list[str]:
        return [",".join([*line.split(",")[:6], quantity]) for line in lines]

    bad = [",".join([f"BAD{n:07d}", *line.split(",")[1:5], "2025-13-45", ""]) for n, line in enumerate(rows[:5])]
    contents = {
        "same": [*rows[:8_000], *bad],
        "first": with_quantity(rows[:6_000], "3"),
        "second": with_quantity(rows[4_000:], "7"),
    }
    paths = {}
    for name, lines in contents.items():
        paths[name] = small.folder / f"activities-{name}.csv"
        paths[name].write_text("\n".join([header, *lines]) + "\n")
    return paths


# --- 1. parallel imports ---------------------------------------------------------------------------------------


def test_two_processes_importing_the_same_file_store_every_row_once(small, activity_files, tmp_path):
    path = activity_files["same"]
    for n in range(ROUNDS):
        db = small.copy("base", f"same-{n}")
        outcomes = together(tmp_path, db.url, [("import", str(path))] * 2)
        assert_clean(outcomes)
        reports = [o.result[0] for o in outcomes]
        assert [(r["total"], r["accepted"], r["rejected"]) for r in reports] == [(8_005, 8_000, 5)] * 2
        runs = {r["run_id"] for r in reports}
        assert len(runs) == 2  # each import is recorded, neither is lost
        ids = {r.split(",")[0] for r in path.read_text().splitlines()[1:8_001]}
        assert set(stored_activities(db)["activity_id"]) == ids  # every row exactly once
        with db.engine.connect() as connection:
            r = tables.import_runs
            stored_runs = connection.execute(select(r).where(r.c.kind == "activities")).all()
            rejections = connection.execute(select(tables.import_rejections)).all()
        assert {(r.run_id, r.rows_total, r.rows_accepted, r.rows_rejected) for r in stored_runs} == {
            (run, 8_005, 8_000, 5) for run in runs
        }
        assert len(rejections) == len(reports[0]["errors"])  # quarantined once, not once per import
        assert len({r.row_number for r in rejections}) == 5
        assert {r.run_id for r in rejections} <= runs and len({r.run_id for r in rejections}) == 1
        release(db)


def test_two_files_with_overlapping_keys_imported_at_once_end_as_one_after_the_other(small, activity_files, tmp_path):
    """The overlap has quantity 3 in the first file and 7 in the second: whichever import committed last wins
    for *every* shared row, as if they ran one after the other; no row is stored twice or half."""
    for n in range(ROUNDS):
        db = small.copy("base", f"overlap-{n}")
        outcomes = together(
            tmp_path, db.url, [("import", str(activity_files["first"])), ("import", str(activity_files["second"]))]
        )
        assert_clean(outcomes)
        stored = stored_activities(db)
        assert stored.height == 10_000
        with db.engine.connect() as connection:
            last = connection.execute(
                select(tables.import_runs.c.file_name).order_by(tables.import_runs.c.run_id.desc()).limit(1)
            ).scalar_one()
        shared = Counter(
            stored.filter(pl.col("activity_id").is_in(_ids(activity_files["second"])[:2_000]))["quantity_hundredths"]
        )
        assert shared == Counter({700 if last.endswith("second.csv") else 300: 2_000})
        release(db)


def _ids(path: Path) -> list[str]:
    return [line.split(",")[0] for line in path.read_text().splitlines()[1:]]


def test_two_import_commands_at_once_both_finish_without_a_traceback(small, activity_files, tmp_path):
    """The command line as a user runs it, twice at the same moment on one database."""
    db = small.copy("base", "cli")
    command = [sys.executable, "-m", "integraal.cli.main", "import", str(activity_files["same"]), "--db", db.url]
    environment = {k: v for k, v in os.environ.items() if k != "INTEGRAAL_DATABASE_URL"} | {"COLUMNS": "200"}
    processes = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment)
        for _ in range(2)
    ]
    for process in processes:
        _, err = process.communicate(timeout=300)
        assert process.returncode == 1, err  # 1: rows were rejected (the five bad ones); not a crash
        assert "Traceback" not in err and "locked" not in err, err
        assert "5 row(s) rejected and quarantined" in err
    assert stored_activities(db).height == 8_000
    assert count(db, tables.import_rejections) == 5
    release(db)


def test_a_writer_kept_waiting_too_long_gets_a_clear_message_and_changes_nothing(
    small, activity_files, tmp_path, monkeypatch
):
    db = small.copy("base", "busy")
    before = snapshot(db, IMPORT_TABLES)
    monkeypatch.setattr(database_module, "BUSY_TIMEOUT_MS", 300)
    holder = Database(db.url)
    with holder.unit_of_work(lock="import"):  # another process in the middle of a long import
        result = CliRunner().invoke(
            app, ["import", str(activity_files["same"]), "--db", db.url], env={"COLUMNS": "200"}
        )
    holder.dispose()
    assert result.exit_code == 3, result.output
    assert isinstance(result.exception, SystemExit)  # no traceback: a message
    message = " ".join(result.output.split())  # the console may wrap lines whatever COLUMNS says
    assert "the database is busy" in message and "Nothing was changed" in message
    assert snapshot(db, IMPORT_TABLES) == before
    release(db)


# --- 2. parallel claim runs ---------------------------------------------------------------------------------


def test_two_claim_runs_at_once_claim_every_line_once(small, tmp_path):
    reference = small.copy("decided", "build-reference")
    start_, end_ = (date.fromisoformat(d) for d in PERIOD)
    expected = claims.build_batches(reference, SYSTEM, period_start=start_, period_end=end_, at=AT)
    assert expected.batches
    want = snapshot(reference, CLAIM_TABLES)
    release(reference)
    for n in range(ROUNDS):
        db = small.copy("decided", f"build-{n}")
        outcomes = together(tmp_path, db.url, [("build", *PERIOD)] * 2)
        assert_clean(outcomes)
        built = sorted((o.result for o in outcomes), key=lambda r: len(r["batches"]))
        lines = sum(b.lines for b in expected.batches)
        assert built[0]["batches"] == [] and built[0]["already_claimed"] == lines  # the second found it all done
        assert len(built[1]["batches"]) == len(expected.batches)
        i = tables.claim_items
        with db.engine.connect() as connection:
            per_decision_line = Counter(
                connection.execute(select(i.c.run_id, i.c.decision_line_no, i.c.debit_credit, i.c.attempt)).all()
            )
        assert set(per_decision_line.values()) == {1}  # no decided line in two batches
        got = snapshot(db, CLAIM_TABLES)
        assert got == want, differences(got, want)  # exactly what one run alone claims
        release(db)


def test_the_same_return_file_applied_twice_at_once_is_booked_once(small, tmp_path):
    path = small.returns[small.open_batch]
    reference = small.copy("claimed", "return-reference")
    once = claims.apply_return(reference, SYSTEM, path.read_bytes(), at=AT)
    want = snapshot(reference, RETURN_TABLES)
    release(reference)
    for n in range(ROUNDS):
        db = small.copy("claimed", f"return-{n}")
        outcomes = together(tmp_path, db.url, [("apply", str(path))] * 2)
        assert_clean(outcomes)
        summaries = sorted((o.result for o in outcomes), key=lambda s: s["already_applied"])
        answered = once.accepted + once.partially_accepted + once.rejected
        assert (summaries[0]["accepted"], summaries[0]["awarded_cents"]) == (once.accepted, once.awarded_cents)
        assert (summaries[1]["accepted"], summaries[1]["already_applied"]) == (0, answered)
        got = snapshot(db, RETURN_TABLES)
        assert got == want, differences(got, want)
        assert count(db, tables.claim_returns) == len(small.returns)  # one row per file, this one once
        release(db)


def _open_cents(db: Database, igo_id: str) -> tuple[str, int]:
    """The insurer of the IGO with the most money awarded and not paid, and that amount."""
    i, b = tables.claim_items, tables.claim_batches
    with db.engine.connect() as connection:
        uzovi, cents = connection.execute(
            select(i.c.uzovi, func.sum(i.c.awarded_cents))
            .join(b, b.c.batch_id == i.c.batch_id)
            .where(b.c.igo_id == igo_id, i.c.state.in_(["accepted", "partially_accepted"]))
            .group_by(i.c.uzovi)
            .order_by(func.sum(i.c.awarded_cents).desc())
            .limit(1)
        ).one()
    return uzovi, int(cents)


def test_the_same_payment_recorded_twice_at_once_counts_once(small, tmp_path):
    db = small.copy("claimed", "payment-same")
    uzovi, cents = _open_cents(db, small.igo_id)
    outcomes = together(tmp_path, db.url, [("pay", "PAY-1", uzovi, small.igo_id, str(cents))] * 2)
    assert_clean(outcomes, refusals=["ClaimsError"])
    assert sorted(o.status for o in outcomes) == [0, 2]
    refused = next(o for o in outcomes if o.status == 2)
    assert "already recorded" in refused.message
    assert count(db, tables.payments) == 1
    with db.engine.connect() as connection:
        allocated = connection.execute(select(func.sum(tables.payment_allocations.c.amount_cents))).scalar_one()
    assert allocated == cents
    release(db)


def test_two_payments_at_once_never_pay_a_line_twice(small, tmp_path):
    """Each payment is for everything that is open: the first to book takes it all, the other matches nothing."""
    db = small.copy("claimed", "payment-two")
    uzovi, cents = _open_cents(db, small.igo_id)
    outcomes = together(
        tmp_path,
        db.url,
        [("pay", "PAY-A", uzovi, small.igo_id, str(cents)), ("pay", "PAY-B", uzovi, small.igo_id, str(cents))],
    )
    assert_clean(outcomes)
    results = sorted((o.result for o in outcomes), key=lambda r: r["allocated_cents"])
    assert (results[0]["allocated_cents"], results[0]["unallocated_cents"]) == (0, cents)
    assert (results[1]["allocated_cents"], results[1]["unallocated_cents"]) == (cents, 0)
    i, a = tables.claim_items, tables.payment_allocations
    with db.engine.connect() as connection:
        over = connection.execute(
            select(a.c.line_id)
            .join(i, i.c.line_id == a.c.line_id)
            .group_by(a.c.line_id, i.c.awarded_cents)
            .having(func.sum(a.c.amount_cents) != i.c.awarded_cents)
        ).all()
    assert over == []  # every paid line received exactly what was awarded
    release(db)


def test_two_period_closes_at_once_book_the_period_once(small, tmp_path):
    db = small.copy("claimed", "close-two")
    outcomes = together(tmp_path, db.url, [("close", small.igo_id, YEAR, PLAN)] * 2)
    assert_clean(outcomes, refusals=["PeriodError"])
    assert sorted(o.status for o in outcomes) == [0, 2]
    assert "already closed" in next(o for o in outcomes if o.status == 2).message
    assert count(db, tables.distribution_periods) == 1
    release(db)


# --- 3. crash safety -----------------------------------------------------------------------------------------


def crash_and_recover(
    region: Region, stage: str, run: tuple[str, ...], hashed: Sequence[str], seed: int
) -> list[tuple[float, str]]:
    """Kill ``run`` at KILLS random moments on a copy of ``region``'s ``stage``; see the module docstring."""
    name, *args = run
    reference = region.copy(stage, f"{name}-reference")
    before = snapshot(reference, hashed)
    started = time.perf_counter()
    operation(reference, name, list(args))
    duration = time.perf_counter() - started
    after = snapshot(reference, hashed)
    release(reference)
    assert after != before

    rng = random.Random(seed)
    work = region.copy(stage, f"{name}-0")
    gate = region.folder / f"{name}-go"
    process = spawn(work.url, name, *args, barrier=gate.with_suffix(".1"))
    seen = []
    for n in range(1, KILLS + 1):
        delay = rng.uniform(0.05, 1.0) * duration
        wait_ready(process)
        gate.with_suffix(f".{n}").touch()  # go
        time.sleep(delay)
        process.kill()
        process.communicate(timeout=60)
        # The next child loads (and waits at its gate) while this crash is checked.
        process = spawn(work.url, name, *args, barrier=gate.with_suffix(f".{n + 1}"))
        check_integrity(work)
        state = snapshot(work, hashed)
        assert state in (before, after), (
            f"kill {n} after {delay:.2f} s of {duration:.2f} s left a state in between: against before "
            f"{differences(state, before)}; against after {differences(state, after)}"
        )
        seen.append((round(delay, 2), "before" if state == before else "after"))
        if state == after:  # killed after the commit: start again from a copy, the next kill needs a fresh run
            process.kill()
            process.communicate(timeout=60)
            release(work)
            work = region.copy(stage, f"{name}-{n}")
            process = spawn(work.url, name, *args, barrier=gate.with_suffix(f".{n + 1}"))
    process.kill()
    process.communicate(timeout=60)
    print(f"{name}: run {duration:.2f} s; kills (s, state left): {seen}")
    assert any(state == "before" for _, state in seen), "no kill landed before the commit"

    operation(work, name, list(args))  # the crashed database takes the operation as if nothing had happened
    check_integrity(work)
    final = snapshot(work, hashed)
    assert final == after, differences(final, after)
    release(work)
    return seen


@pytest.mark.slow
def test_an_import_killed_at_any_moment_leaves_the_database_as_before(large):
    crash_and_recover(large, "base", ("import", str(large.files["activities"])), IMPORT_TABLES, seed=1)


@pytest.mark.slow
def test_a_return_file_application_killed_at_any_moment_leaves_the_database_as_before(large):
    path = large.returns[large.open_batch]
    crash_and_recover(large, "claimed", ("apply", str(path)), RETURN_TABLES, seed=2)


@pytest.mark.slow
def test_a_period_close_killed_at_any_moment_leaves_the_database_as_before(large):
    crash_and_recover(large, "claimed", ("close", large.igo_id, YEAR, PLAN), PERIOD_TABLES, seed=3)


@pytest.mark.slow
def test_a_send_killed_at_any_moment_leaves_no_cut_file_and_one_command_writes_what_is_missing(large, tmp_path):
    """``claims build --send kz301 --out-dir DIR`` killed at random moments, and at the rename of its first, middle
    and last file (staged whole, not yet in place): the batches are all sent or none is; every claim file in the
    folder is whole (the file the run would have saved, byte for byte); and once they are sent, ``claims export``
    with the batches whose file is missing writes exactly those again (a resend: the database does not change)."""
    reference = large.copy("decided", "send-reference")
    before = snapshot(reference, CLAIM_TABLES)
    sent = operation(reference, "send", [*PERIOD, str(tmp_path / "reference")])
    after = snapshot(reference, CLAIM_TABLES)
    release(reference)
    files = {path.name: path.read_bytes() for path in (tmp_path / "reference").iterdir()}
    assert sorted(files) == [f"{batch_id}.kz301" for batch_id in sent] and len(files) >= 2

    uninterrupted = tmp_path / "uninterrupted"  # the child's own time, from its start signal to its end
    work = large.copy("decided", "send-timed")
    process = spawn(work.url, "send", *PERIOD, str(uninterrupted), barrier=tmp_path / "send-go-0")
    wait_ready(process)
    started = time.perf_counter()
    (tmp_path / "send-go-0").touch()
    assert finish(process).result == sent
    duration = time.perf_counter() - started
    release(work)
    rng = random.Random(4)
    kills = [("at the rename of file", k) for k in sorted({1, len(files) // 2 + 1, len(files)})]
    kills += [("after s", round(rng.uniform(0.05, 1.0) * duration, 2)) for _ in range(KILLS)]

    seen = []
    for n, (how, when) in enumerate(kills, start=1):
        work, folder, gate = large.copy("decided", f"send-{n}"), tmp_path / f"outbox-{n}", tmp_path / f"send-go-{n}"
        extra = [str(when)] if how.startswith("at the rename") else []
        process = spawn(work.url, "send", *PERIOD, str(folder), *extra, barrier=gate)
        wait_ready(process)
        gate.touch()
        if extra:
            assert process.wait(timeout=120) == -9  # it killed itself there
        else:
            time.sleep(float(when))
            process.kill()
        process.communicate(timeout=60)
        check_integrity(work)
        state = snapshot(work, CLAIM_TABLES)
        assert state in (before, after), f"kill {n} ({how} {when}) left a state in between"
        saved = {p.name: p.read_bytes() for p in folder.glob("*.kz301")} if folder.exists() else {}
        assert all(files[name] == data for name, data in saved.items()), "a claim file is not the one sent"
        if state == before:
            assert saved == {}, "a file of a batch that was not sent"
        else:
            if extra:  # the files before it saved, it staged whole and hidden, the ones after it not begun
                assert sorted(saved) == sorted(files)[: when - 1], (how, when, sorted(saved))
                assert [p.name for p in folder.iterdir() if p.name.endswith(".partial")] != []
            missing = sorted(Path(name).stem for name in files.keys() - saved.keys())
            listed = CliRunner().invoke(app, ["claims", "batches", "--missing-in", str(folder), "--db", work.url])
            assert [b for b in sent if b in listed.output] == missing, listed.output  # what it lists as missing
            if missing:
                resend = ["claims", "export", *missing, "--out-dir", str(folder), "--db", work.url]
                result = CliRunner().invoke(app, resend)
                assert result.exit_code == 0, result.output
            assert {p.name: p.read_bytes() for p in folder.glob("*.kz301")} == files
            assert snapshot(work, CLAIM_TABLES) == after  # a resend changes nothing
        seen.append((how, when, "before" if state == before else f"after, {len(saved)} of {len(files)} saved"))
        release(work)
    print(f"send: run {duration:.2f} s; kills: {seen}")
    assert any(state == "before" for *_, state in seen), "no kill landed before the commit"


# --- 4. immutability in the database -------------------------------------------------------------------------


@pytest.fixture
def sent(small) -> Iterator[Database]:
    db = small.copy("claimed", "immutable")
    yield db
    release(db)


REFUSED = [
    ("UPDATE claim_items SET amount_cents = amount_cents + 1 WHERE line_id = :sent_line", "sent claim line"),
    ("UPDATE claim_items SET prestatie_code = 'X' WHERE line_id = :sent_line", "sent claim line"),
    ("UPDATE claim_items SET batch_id = :answered_batch WHERE line_id = :sent_line", "sent claim line"),
    ("DELETE FROM claim_items WHERE line_id = :sent_line", "never deleted"),
    ("UPDATE claim_items SET amount_cents = 1 WHERE line_id = :answered_line", "sent claim line"),
    ("UPDATE claim_items SET awarded_cents = awarded_cents + 1 WHERE line_id = :answered_line", "answer"),
    ("UPDATE claim_items SET state = 'sent' WHERE line_id = :answered_line", "never goes back"),
    ("UPDATE claim_items SET state = 'ready' WHERE line_id = :sent_line", "never goes back"),
    # An allowed step in the same statement does not let a change of what was claimed through (migration 0007).
    ("UPDATE claim_items SET state = 'accepted', amount_cents = 0 WHERE line_id = :sent_line", "sent claim line"),
    ("UPDATE claim_items SET next_action = 'x', awarded_cents = 0 WHERE line_id = :answered_line", "answer"),
    ("UPDATE claim_items SET next_action = 'x', state = 'ready' WHERE line_id = :answered_line", "never goes back"),
    ("UPDATE claim_batches SET total_cents = total_cents + 1 WHERE batch_id = :sent_batch", "sent claim batch"),
    ("UPDATE claim_batches SET file_sha256 = 'x' WHERE batch_id = :answered_batch", "sent claim batch"),
    ("UPDATE claim_batches SET state = 'ready' WHERE batch_id = :sent_batch", "sent claim batch"),
    ("DELETE FROM claim_batches WHERE batch_id = :sent_batch", "never deleted"),
    ("DELETE FROM claim_transitions WHERE line_id = :answered_line", "append-only"),
    ("UPDATE claim_returns SET lines = 0", "append-only"),
]


@pytest.mark.parametrize(("sql", "message"), REFUSED, ids=[f"{n:02d}" for n in range(len(REFUSED))])
def test_sent_claims_cannot_be_changed_even_through_sql(sent, small, sql, message):
    i = tables.claim_items
    with sent.engine.connect() as connection:
        sent_line = connection.execute(
            select(i.c.line_id).where(i.c.batch_id == small.open_batch).order_by(i.c.line_id).limit(1)
        ).scalar_one()
        answered_line, answered_batch = connection.execute(
            select(i.c.line_id, i.c.batch_id).where(i.c.state == "accepted").order_by(i.c.line_id).limit(1)
        ).one()
    params = {
        "sent_line": sent_line,
        "sent_batch": small.open_batch,
        "answered_line": answered_line,
        "answered_batch": answered_batch,
    }
    before = snapshot(sent, CLAIM_TABLES)
    with pytest.raises(DBAPIError, match=message), sent.unit_of_work() as connection:
        connection.execute(text(sql), {k: v for k, v in params.items() if f":{k}" in sql})
    assert snapshot(sent, CLAIM_TABLES) == before


def test_what_is_still_open_about_a_claim_can_change(small):
    """The triggers refuse only what must never change: an unsent line, the workflow note of an answered line and
    a batch's return details stay writable, and answering a sent line is what apply_return does."""
    db = small.copy("decided", "still-open")
    start_, end_ = (date.fromisoformat(d) for d in PERIOD)
    batch = claims.build_batches(db, SYSTEM, period_start=start_, period_end=end_, at=AT).batches[0]
    b = {"b": batch.batch_id}
    with db.unit_of_work() as connection:  # not sent yet: still the IGO's own draft
        connection.execute(text("UPDATE claim_items SET amount_cents = amount_cents + 1 WHERE batch_id = :b"), b)
        connection.execute(text("UPDATE claim_batches SET total_cents = total_cents + lines WHERE batch_id = :b"), b)
    sent = claims.export_batch(db, SYSTEM, batch.batch_id, at=AT)
    summary = claims.apply_return(db, SYSTEM, answer(sent), at=AT)
    assert summary.accepted + summary.partially_accepted == batch.lines
    with db.unit_of_work() as connection:
        connection.execute(text("UPDATE claim_items SET next_action = 'ask_member' WHERE batch_id = :b"), b)
        connection.execute(text("UPDATE claim_batches SET return_reference = 'R2' WHERE batch_id = :b"), b)
    release(db)


def test_a_closed_period_cannot_be_changed_even_through_sql(small):
    db = small.copy("claimed", "closed")
    operation(db, "close", [small.igo_id, YEAR, PLAN])
    before = snapshot(db, PERIOD_TABLES)
    for sql in (
        "UPDATE booked_lines SET amount_cents = amount_cents + 1",
        "DELETE FROM booked_lines",
        "UPDATE distribution_periods SET plan_key = 'verdeelsleutel'",
        "DELETE FROM booked_receipts",
    ):
        with pytest.raises(DBAPIError, match="append-only"), db.unit_of_work() as connection:
            connection.execute(text(sql))
    assert snapshot(db, PERIOD_TABLES) == before
    release(db)


def test_a_busy_database_answers_the_api_with_503_and_retry_after(tmp_path, monkeypatch):
    """The API counterpart of the CLI's exit status 3: a writer kept waiting gets a problem document, no 500."""
    from fastapi.testclient import TestClient

    from integraal.api import create_app
    from integraal.api.routers import decisions as decisions_router
    from integraal.api.settings import Settings
    from integraal.services.users import add_user, issue_token
    from integraal.store.database import DatabaseBusyError

    db = fresh_database(tmp_path, "busy")
    add_user(db, "root", "superuser")
    token = issue_token(db, "root")

    def busy(*args: Any, **kwargs: Any) -> Any:
        raise DatabaseBusyError("the database is busy with another run; nothing was changed")

    monkeypatch.setattr(decisions_router, "rerun_decisions", busy)
    client = TestClient(create_app(db, settings=Settings(pseudonym_key=b"busy")), raise_server_exceptions=False)
    response = client.post("/api/decisions/runs", json={}, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 503
    assert response.headers["retry-after"] == "30"
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"].endswith("/busy")
    release(db)
