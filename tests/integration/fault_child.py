"""A child process for the fault tests (``test_faults.py``): runs one use case on a database, as a real process.

    python fault_child.py URL OPERATION [ARGUMENTS ...] [--barrier PATH]

Operations: ``import FILE ...``, ``build START END``, ``send START END FOLDER [N]`` (``integraal claims build
--send kz301 --out-dir FOLDER``: built, sent, then the files saved; killed at the N-th file's rename),
``apply FILE``, ``pay PAYMENT_ID UZOVI IGO CENTS``, ``close IGO YEAR PLAN``. Every timestamp is fixed
(:data:`AT`), so two runs of the same operation store the same rows. The child prints ``ready`` once it has
loaded everything and opened the database; with ``--barrier`` it then waits until that file exists, so the parent
can start several children at the same moment. It ends with one JSON line: ``{"ok": true, "result": ...}``, or
``{"ok": false, "error": ..., "message": ...}`` for a refusal the user is meant to see (exit status 2). Anything
else is a crash: a traceback and exit status 1.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from integraal.services.access import SYSTEM
from integraal.store.database import Database, DatabaseBusyError

AT = datetime(2026, 7, 1, 9, 0, tzinfo=UTC)
REFUSALS = ("ClaimsError", "PeriodError")  # and DatabaseBusyError: refusals with a message for the user


def load(name: str) -> None:
    """Import what ``name`` needs (only that: a child starts faster), before it says ``ready``."""
    if name == "import":
        import integraal.services.imports
    else:
        if name == "send":
            import integraal.cli.claims
        import integraal.services.claims
        import integraal.services.periods
        import integraal.services.reconciliation  # noqa: F401


def operation(db: Database, name: str, args: list[str]) -> Any:
    """Run one use case; the time it takes after ``ready`` is the use case's own (see :func:`load`)."""
    if name == "import":
        from integraal.services.imports import import_files

        return [dataclasses.asdict(r) for r in import_files(db, [Path(a) for a in args], actor="fault-test")]
    from integraal.services import claims, periods, reconciliation

    if name == "build":
        start, end = (date.fromisoformat(a) for a in args)
        return claims.build_batches(db, SYSTEM, period_start=start, period_end=end, at=AT)
    if name == "send":  # as the command does it, with the fixed time; killed at its N-th file's rename if given
        from integraal.cli.claims import _save

        start, end = (date.fromisoformat(a) for a in args[:2])
        folder = args[2]
        if len(args) > 3:
            _die_at_rename(int(args[3]))
        built = claims.build_batches(db, SYSTEM, period_start=start, period_end=end, send="kz301", at=AT)
        _save(built.files, Path(folder), "kz301")
        return sorted(built.files)
    if name == "apply":
        return claims.apply_return(db, SYSTEM, Path(args[0]).read_bytes(), at=AT)
    if name == "pay":
        payment_id, uzovi, igo, cents = args
        return reconciliation.record_payment(
            db, SYSTEM, payment_id=payment_id, uzovi=uzovi, igo_id=igo, received_on=AT.date(), total_cents=int(cents)
        )
    if name == "close":
        igo, year, plan = args
        return periods.close_period(db, SYSTEM, igo, int(year), plan, at=AT)
    raise SystemExit(f"unknown operation {name!r}")


def _die_at_rename(n: int) -> None:
    """SIGKILL this process at its ``n``-th ``os.replace``: a file staged whole and not yet in its place."""
    real, calls = os.replace, [0]

    def replace(source: Any, target: Any) -> None:
        calls[0] += 1
        if calls[0] == n:
            os.kill(os.getpid(), signal.SIGKILL)
        real(source, target)

    os.replace = replace  # type: ignore[assignment]


def main(argv: list[str]) -> int:
    barrier = None
    if "--barrier" in argv:
        at = argv.index("--barrier")
        barrier = Path(argv[at + 1])
        argv = argv[:at] + argv[at + 2 :]
    url, name, *args = argv
    load(name)
    db = Database(url)
    db.revision()  # connect now: the time after "ready" is the operation's own
    print("ready", flush=True)
    while barrier is not None and not barrier.exists():
        time.sleep(0.001)
    try:
        result = operation(db, name, args)
    except Exception as error:
        if not isinstance(error, DatabaseBusyError) and type(error).__name__ not in REFUSALS:
            raise
        print(json.dumps({"ok": False, "error": type(error).__name__, "message": str(error)}), flush=True)
        return 2
    finally:
        db.dispose()
    print(json.dumps({"ok": True, "result": result}, default=_plain), flush=True)
    return 0


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return str(value)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
