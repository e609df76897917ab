"""Opening the database and the unit of work: the only door to storage for the service layer."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.exc import OperationalError

from integraal.config import load_config
from integraal.store.checkpoint import BACKSTOP_BYTES, Checkpointer

DEFAULT_DB = "integraal.db"

BUSY_TIMEOUT_MS = 60_000
"""How long a writer waits for another process's write transaction to end before giving up: SQLite's busy
timeout (set when a connection opens) and PostgreSQL's ``lock_timeout`` in :meth:`Database.unit_of_work`."""


CHANGES_AT_LOCK = "integraal_changes_at_lock"
"""Key in a SQLite connection's ``info``: its ``total_changes`` when :meth:`Database.unit_of_work` took the write
lock, so a read can tell whether the transaction has written anything yet (``store.bulk._read_in_child``)."""


class DatabaseBusyError(RuntimeError):
    """Another process kept the database's write lock longer than the busy timeout; nothing was changed."""


def database_url(value: str | None = None) -> str:
    """A SQLAlchemy URL from a path or URL; default ``$INTEGRAAL_DATABASE_URL``, then ``database_url`` in the
    config file (``integraal.config``), then ``integraal.db``."""
    value = value or load_config().database_url or DEFAULT_DB
    if "://" in value:
        return value
    return f"sqlite:///{Path(value).expanduser()}"


class Database:
    """An engine plus the unit of work. One per process."""

    def __init__(self, url: str | None = None) -> None:
        self.url = database_url(url)
        self.engine: Engine = create_engine(self.url, future=True)
        self.checkpointer: Checkpointer | None = None
        """SQLite with a file: checkpoints the write-ahead log in the background (``store.checkpoint``)."""
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
            path = self.engine.url.database
            if path and path != ":memory:" and not path.startswith("file:"):
                # Absolute now: the thread may run after the working directory changed.
                self.checkpointer = Checkpointer(Path(path).expanduser().absolute())

    @contextmanager
    def unit_of_work(self, *, lock: str | None = None) -> Iterator[Connection]:
        """A transaction: everything inside commits together or not at all.

        ``lock`` names a use case that reads, decides and then writes (an import, a claim run, a return file, a
        period close): two of them must run one after the other, never interleaved, or both could book the same
        thing. SQLite takes its one write lock at the start (``BEGIN IMMEDIATE``), so every such transaction
        queues behind the writer before it and then reads what that one committed; PostgreSQL takes a
        transaction-scoped advisory lock of that name (same name, one at a time). A wait longer than the busy
        timeout raises :class:`DatabaseBusyError` and changes nothing."""
        changes = 0
        try:
            with self.engine.begin() as connection:
                driver = connection.connection.driver_connection if self.checkpointer else None
                at_start = driver.total_changes if driver is not None else 0
                try:
                    if lock is not None:
                        _take_lock(connection, lock)
                    yield connection
                finally:
                    connection.info.pop(CHANGES_AT_LOCK, None)
                    if driver is not None:
                        changes = driver.total_changes - at_start
        except OperationalError as error:
            if _is_busy(error):
                raise DatabaseBusyError(
                    f"the database is busy: another process has been writing to it for longer than "
                    f"{BUSY_TIMEOUT_MS / 1000:g} s (an import, a claim run or a period close?). Nothing was "
                    "changed; try again when it is done."
                ) from error
            raise
        if self.checkpointer is not None:  # committed: the log holds it; copying it over can wait
            self.checkpointer.committed(changes)

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision (creates it on an empty database)."""
        if self.engine.dialect.name == "sqlite":
            # Alembic opens the file with an engine of its own: a new file first gets this engine's settings
            # (page size, write-ahead log), which only a connection to the still empty file can give it.
            with self.engine.connect():
                pass
        command.upgrade(alembic_config(self.url), "head")

    def is_initialised(self) -> bool:
        return inspect(self.engine).has_table("pregnancies")

    def revision(self) -> str | None:
        """The Alembic revision the schema is at (``None``: never migrated). Read directly: Alembic's own
        reader logs two lines per call, too many for a health probe."""
        with self.engine.connect() as connection:
            if not inspect(connection).has_table("alembic_version"):
                return None
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one_or_none()

    def dispose(self) -> None:
        if self.checkpointer is not None:
            self.checkpointer.close()
        self.engine.dispose()


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(resources.files("integraal.store") / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


@lru_cache(maxsize=1)
def migration_revisions() -> tuple[str, ...]:
    """Every Alembic revision this code knows, oldest first; the last is the head."""
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return tuple(reversed([revision.revision for revision in script.walk_revisions()]))


def head_revision() -> str:
    """The newest Alembic revision of this code: what ``integraal init`` migrates to."""
    return migration_revisions()[-1]


def _lock_key(name: str) -> int:
    """A stable signed 64-bit key for PostgreSQL's advisory locks (Python's ``hash`` differs per process)."""
    return int.from_bytes(hashlib.sha256(f"integraal:{name}".encode()).digest()[:8], "big", signed=True)


def _take_lock(connection: Connection, name: str) -> None:
    """See :meth:`Database.unit_of_work`. Must be the first statement of the transaction."""
    if connection.dialect.name == "sqlite":
        # pysqlite begins a transaction itself only before the first INSERT/UPDATE/DELETE; an explicit BEGIN
        # IMMEDIATE first makes the reads before it part of the transaction, under the write lock.
        connection.exec_driver_sql("BEGIN IMMEDIATE")
        # What this transaction has written so far is the difference from here (see store.bulk._read_in_child).
        connection.info[CHANGES_AT_LOCK] = connection.connection.driver_connection.total_changes  # type: ignore[union-attr]
    elif connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SET LOCAL lock_timeout = {int(BUSY_TIMEOUT_MS)}")
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _lock_key(name)})


def _is_busy(error: OperationalError) -> bool:
    message = str(error.orig).lower()
    return "database is locked" in message or "lock timeout" in message


SQLITE_PAGE_SIZE = 16_384
"""Bytes per page of a SQLite database this creates (SQLite's default is 4,096). A commit appends every page it
changed to the write-ahead log, two writes per page (frame header, page), and the background checkpoint copies
them over one by one: a national year's decision run, claim run and day's return files change hundreds of
megabytes, so four times fewer pages are a quarter of the system calls, and the B-trees one level shallower.
National year, alternating runs: 31.3–32.8 s with 4 KiB pages, 28.9–31.0 s with 16 KiB (the claims stage
7.2–7.4 → 6.4–6.7 s, the returns 5.1–5.7 → 4.7–4.8 s); 32 KiB measured the same as 16. A database created
before keeps its page size (``docs/operations.md``: how to convert one)."""


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_MS)}")  # wait for another writer, not fail
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA page_size={SQLITE_PAGE_SIZE}")  # a new, empty file only: before WAL fixes it
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # A larger page cache keeps the B-trees of a national year's activities in memory while importing.
    cursor.execute("PRAGMA cache_size=-262144")  # 256 MiB
    cursor.execute("PRAGMA temp_store=MEMORY")
    # Checkpoints run in the background after a commit (store.checkpoint); the committing connection does one only
    # as a backstop, when the log has grown this far.
    page_size = int(cursor.execute("PRAGMA page_size").fetchone()[0])  # an older file keeps its own
    cursor.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_BYTES // page_size}")
    cursor.close()
