"""SQLite: copying committed pages from the write-ahead log into the database file in the background.

In WAL mode a commit appends pages to the ``-wal`` file; a *checkpoint* later copies them into the database file
and makes both durable (two ``fsync``). SQLite by default checkpoints in the committing connection, right after
the commit, once the log holds 1,000 pages. For a national import that is the 4.4 million activities written a
second time and flushed to disk — ≈2 s of a 13 s import spent waiting for the disk, in the user's call — and a
decision run, a claim run or a day's return files pay the same after each commit.

So connections open with a high ``wal_autocheckpoint`` (only a backstop, see :data:`BACKSTOP_BYTES`) and
:class:`Checkpointer` runs a ``PASSIVE`` checkpoint in a thread of its own once transactions of
:meth:`Database.unit_of_work` have changed :data:`CHECKPOINT_AFTER_CHANGES` rows: the disk writes then overlap the
next step instead of delaying the answer. Nothing about what is committed changes: a committed transaction is in
the log (as durable as before with ``synchronous=NORMAL``), every reader sees it there, and a checkpoint killed half
way is repeated from the log by the next connection (sqlite.org/wal.html). A ``PASSIVE`` checkpoint never waits for
nor blocks a reader or writer; the log is reused from its start by the first writer after a checkpoint that copied
everything.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
from pathlib import Path
from urllib.parse import quote

_log = logging.getLogger(__name__)

CHECKPOINT_AFTER_CHANGES = 1_000
"""Rows changed by committed units of work after which the background checkpoint runs (SQLite's own default
checkpoints after 1,000 pages; a changed row touches at least one page)."""

BACKSTOP_BYTES = 1 << 30
"""``PRAGMA wal_autocheckpoint`` of every connection, as the pages of its file's size that make it: a commit still
checkpoints itself once the log holds 1 GiB, should the background thread fall behind or be gone. A national
import left ≈136,000 pages of 4 KiB (≈560 MB)."""

IDLE_SECONDS = 5.0
"""A checkpoint thread with nothing to do for this long ends; the next big commit starts a new one."""


class Checkpointer:
    """The background checkpoints of one SQLite database file (module docstring). Thread-safe."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._pending = 0
        self._closed = False
        self._busy = False
        self._done = threading.Condition(self._lock)

    def committed(self, changes: int) -> None:
        """A unit of work committed ``changes`` rows: checkpoint in the background once enough have added up."""
        with self._lock:
            if self._closed or changes <= 0:
                return
            self._pending += changes
            if self._pending < CHECKPOINT_AFTER_CHANGES:
                return
            self._pending = 0
            self._wake.set()
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="integraal-checkpoint", daemon=True)
                self._thread.start()

    def wait(self, timeout: float | None = None) -> bool:
        """Until no checkpoint is asked for or running (``False`` if ``timeout`` passed first): for a caller
        (a test) that must see the database file itself."""
        with self._done:
            return self._done.wait_for(lambda: not self._busy and not self._wake.is_set(), timeout)

    def close(self) -> None:
        """Finish a checkpoint under way and end the thread; later commits checkpoint only by the backstop."""
        with self._lock:
            self._closed = True
            thread = self._thread
            if thread is not None:
                self._wake.set()
        if thread is not None:
            thread.join()

    def _run(self) -> None:
        while True:
            self._wake.wait(IDLE_SECONDS)
            with self._lock:  # asked again (under the lock) so a request made as the wait timed out is not lost
                if self._closed or not self._wake.is_set():
                    self._thread = None
                    self._wake.clear()
                    self._done.notify_all()
                    return
                self._wake.clear()
                self._busy = True
            try:
                checkpoint(self.path)
            except Exception:  # the next one (or the backstop, or the last connection closing) does it
                _log.warning("background checkpoint of %s failed", self.path, exc_info=True)
            finally:
                with self._lock:
                    self._busy = False
                    self._done.notify_all()


def checkpoint(path: Path) -> tuple[int, int, int]:
    """One ``PASSIVE`` checkpoint of the database at ``path`` on a connection of its own: ``(busy, pages in the
    log, pages copied)``. Opened read-write without creating: a file removed meanwhile stays removed."""
    uri = f"file:{quote(str(path))}?mode=rw"
    with contextlib.closing(sqlite3.connect(uri, uri=True, check_same_thread=False)) as connection:
        row = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    return int(row[0]), int(row[1]), int(row[2])
