"""Reading on a second connection in the background while a unit of work reads the rest (``read_meanwhile``)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import Connection

from integraal.store.database import Database

T = TypeVar("T")


@contextmanager
def read_meanwhile(db: Database, connection: Connection, read: Callable[[Connection], T]) -> Iterator[Callable[[], T]]:
    """``read`` on a connection of its own in a background thread while the block reads and derives the rest;
    the block calls what it is given for the result (raising what ``read`` raised).

    The database and Polars let go of the interpreter for most of a read, so two reads take the two cores (a
    distribution input's activities and the country's outcomes beside its decisions: ≈1 s off a national year's
    input; a decision run's activities beside its pregnancies). It sees what is committed, like this process's
    reads outside a locked unit of work: only for a block that has not written and holds no lock. An in-memory
    SQLite database is one per connection, so there ``read`` runs on the block's ``connection``, in its thread,
    when asked."""
    url = db.engine.url
    if url.get_backend_name() == "sqlite" and (url.database or ":memory:") == ":memory:":
        yield lambda: read(connection)
        return

    box: dict[str, Any] = {}  # the result or the error, handed over once (a kept future would keep the frame)

    def on_own_connection() -> None:
        try:
            with db.engine.connect() as own:
                box["value"] = read(own)
        except BaseException as error:  # raised in the block's thread, by result()
            box["error"] = error

    def result() -> T:
        thread.join()
        if "error" in box:
            raise box.pop("error")
        value: T = box.pop("value")
        return value

    thread = threading.Thread(target=on_own_connection, name="integraal-read")
    thread.start()
    try:
        yield result
    finally:
        thread.join()  # the block failed before asking: wait for the read under way
        box.clear()
