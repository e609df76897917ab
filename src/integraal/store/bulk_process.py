"""The child side of big SQLite reads done in a separate process (``store.bulk.read_frame(many=True)``).

Python's ``sqlite3`` hands every value over as a Python object; the ADBC SQLite driver moves Arrow columns in C,
about three times faster for a national year's 4.4 million activities. But the driver links its own copy of
SQLite, and two copies in *one* process do not see each other's POSIX locks (closing one releases the other's:
sqlite.org/howtocorrupt.html §2.2). In a process of its own it is an ordinary second connection.

Run as ``python -m integraal.store.bulk_process`` with a JSON request ``{"database", "reads": [{"sql",
"output"}, …]}`` (and optionally ``"batch_rows"``) on stdin: it runs
the queries on the database opened read-only, one after the other in one read transaction (so they see one
state of it), and writes each one's rows to its ``output`` as an Arrow IPC file. Any failure exits non-zero with
the reason on stderr (the parent then reads in its own process). Only the standard library at import: this
starts once per big read and should start fast.

(Writing the same way, through a staging file that the parent copies with one ``INSERT … SELECT``, was tried:
binding the values in the driver costs about what it saves, ≈1 s of 9 for the national activities.)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from urllib.parse import quote

BATCH_ROWS = 65_536
"""Rows per Arrow batch of a read; the driver takes each column's type from the first batch."""


def read_to_files(database: str, reads: list[tuple[str, str]], batch_rows: int = BATCH_ROWS) -> list[int]:
    """Run each ``(sql, output)`` of ``reads`` on ``database`` (read-only), in one read transaction, and write its
    rows to its ``output``; returns the row counts."""
    import adbc_driver_manager
    import adbc_driver_sqlite
    import polars as pl

    uri = "file:" + quote(str(Path(database).resolve())) + "?mode=ro"
    counts = []
    with adbc_driver_sqlite.connect(uri=uri) as db, adbc_driver_manager.AdbcConnection(db) as connection:
        if len(reads) > 1:
            connection.set_autocommit(False)  # one transaction: every read sees the same committed state
        for sql, output in reads:
            with adbc_driver_manager.AdbcStatement(connection) as statement:
                statement.set_options(**{"adbc.sqlite.query.batch_rows": str(batch_rows)})
                statement.set_sql_query(sql)
                stream, _ = statement.execute_query()
                frame = pl.DataFrame(stream)
            frame.write_ipc(output, compression="uncompressed")
            counts.append(frame.height)
        if len(reads) > 1:
            connection.rollback()
    return counts


def main() -> int:
    try:
        request = json.load(sys.stdin)
        reads = [(r["sql"], r["output"]) for r in request["reads"]]
        read_to_files(request["database"], reads, request.get("batch_rows", BATCH_ROWS))
    except Exception as error:  # the parent does the work itself; it logs the reason
        print(f"{error.__class__.__name__}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
