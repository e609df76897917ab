"""Benchmark: a national year (170,000 pregnancies) through synth → import → decide.

Prints wall time and peak resident memory per stage. Run on demand (not part of the test suite):

    .venv/bin/python benchmarks/national_year.py [--pregnancies 170000] [--seed 1] [--keep DIR] [--no-reference]

Peak memory is the highest resident set size of this process sampled every 20 ms during the stage (so it
includes what earlier stages left allocated); the process-wide peak is printed at the end too. Last, the same
decisions are computed by the hand-written DuckDB query of ``benchmarks/reference.py`` on the region's CSV files
(best of 3), and the decide stage's time is printed divided by that reference time (``--no-reference`` skips it;
it needs the ``duckdb`` package of the ``dev`` extra).
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TypeVar

import psutil

from integraal.services.decisions import decide_all
from integraal.services.imports import import_files
from integraal.store.database import Database
from integraal.synth import generate_region, write_region

T = TypeVar("T")
MIB = 1024 * 1024


class PeakSampler:
    """Samples this process's RSS in a background thread and keeps the peak."""

    def __init__(self, interval: float = 0.02) -> None:
        self.process = psutil.Process()
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(self.interval)

    def __enter__(self) -> PeakSampler:
        self.peak = self.process.memory_info().rss
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss)


RESULTS: list[tuple[str, float, float]] = []


@contextmanager
def stage(name: str) -> Iterator[None]:
    started = time.perf_counter()
    with PeakSampler() as sampler:
        yield
    seconds = time.perf_counter() - started
    RESULTS.append((name, seconds, sampler.peak / MIB))
    print(f"{name:<8} {seconds:8.1f} s   peak RSS {sampler.peak / MIB:8.0f} MiB", flush=True)


def timed(name: str, work: Callable[[], T]) -> T:
    with stage(name):
        return work()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pregnancies", type=int, default=170_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, default=None, help="keep files and database in this folder")
    parser.add_argument(
        "--no-reference", action="store_true", help="skip the DuckDB reference query (benchmarks/reference.py)"
    )
    args = parser.parse_args()

    folder = args.keep or Path(tempfile.mkdtemp(prefix="integraal-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "bench.db").unlink(missing_ok=True)
    print(f"National year benchmark: {args.pregnancies:,} pregnancies, seed {args.seed}, in {folder}")

    with stage("synth"):
        region = generate_region(args.pregnancies, seed=args.seed)
        paths = write_region(region, folder / "region")
    activities = region.activities.height
    del region

    database = Database(str(folder / "bench.db"))
    database.migrate()
    reports = timed("import", lambda: import_files(database, list(paths.values()), actor="benchmark"))
    rejected = sum(r.rejected for r in reports)
    as_of = date(2026, 6, 30)
    summary = timed("decide", lambda: decide_all(database, as_of, actor="benchmark"))

    total = sum(seconds for _, seconds, _ in RESULTS)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{'total':<8} {total:8.1f} s   process peak RSS {peak:8.0f} MiB")
    print(
        f"pregnancies {summary.pregnancies:,}, activities {activities:,} (rejected at import: {rejected}), "
        f"phase outcomes {dict(sorted((f'{p}/{o}', n) for (p, o), n in summary.outcomes.items()))}"
    )
    if not args.no_reference:
        from reference import reference_seconds  # benchmarks/reference.py, next to this file; needs duckdb

        reference = reference_seconds(folder / "region", as_of)
        decide = next(seconds for name, seconds, _ in RESULTS if name == "decide")
        print(f"{'reference':<9}{reference:8.1f} s   (benchmarks/reference.py: one DuckDB query, best of 3)")
        print(f"decide / reference: {decide / reference:.1f}×")
    return 0


if __name__ == "__main__":
    sys.exit(main())
