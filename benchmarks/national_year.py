"""Benchmark: a national year (170,000 pregnancies) through the whole pipeline (issue 7, target 30 s / 4 GiB).

Stages: synth (generate and write the region's files), import (every file), decide (every pregnancy), claims
(build every batch and send it as a KZ301 file, in one step), returns (apply the insurer's KZ302 answer to every
batch; the answers are made by the simulated insurer *outside* the timing: that is the insurer's work, not ours),
distribution (per IGO: read the input and simulate the three shipped plans), indicators (read the year's
outcomes once, every indicator per IGO with intervals and funnel limits). Prints wall time and peak resident
memory per stage and the total. Run on demand (not part of the test suite):

    .venv/bin/python benchmarks/national_year.py [--pregnancies 170000] [--seed 1] [--keep DIR] [--no-reference]
        [--database URL] [--stages synth,import,decide,claims,returns,distribution,indicators] [--ratio-runs N]

``--database`` runs on another database (e.g. ``postgresql+psycopg://user:pw@127.0.0.1/db``; it must be empty).

Peak memory is the highest resident set size of this process plus its child processes (the separate-process
SQLite readers; new children are looked for every 200 ms), sampled every 20 ms during the stage (so it includes
what earlier stages left allocated); the process-wide peak of this process alone is printed at the end too.
Last, the same decisions are computed by the hand-written DuckDB query of ``benchmarks/reference.py`` on the
region's CSV files (best of 3), and the decide stage's time is printed divided by that reference time
(``--no-reference`` skips it; it needs the ``duckdb`` package of the ``dev`` extra).

The machine's speed drifts by a third within an hour, so one decide run against a best-of-3 reference some
minutes later is a noisy ratio. ``--ratio-runs N`` (SQLite) then measures it again N times, alternating: the
decide stage on a fresh copy of the database as the import left it (a snapshot taken between the stages, outside
the timing) and the reference once, one after the other; it prints the medians, their ratio and the range of
the N pairs' ratios.
"""

from __future__ import annotations

import argparse
import contextlib
import resource
import shutil
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TypeVar

import psutil

from integraal.claims.formats import get_format
from integraal.claims.simulator import simulate_return
from integraal.distribution import run_plan
from integraal.insight import load_indicators
from integraal.services import claims
from integraal.services.access import SYSTEM
from integraal.services.decisions import decide_all
from integraal.services.distribution import PlanInfo, build_plan, plan_presets
from integraal.services.distribution_input import distribution_inputs
from integraal.services.imports import import_files
from integraal.services.insight import igos_in_scope, indicator_table, outcome_frame
from integraal.services.insurer_simulation import InsurerView, insurer_view
from integraal.store.database import Database
from integraal.synth import generate_region, write_region

T = TypeVar("T")
MIB = 1024 * 1024


class PeakSampler:
    """Samples the RSS of this process and its children (the separate-process SQLite readers of
    ``store.bulk``) in a background thread and keeps the peak of their sum.

    Finding the children walks every process of the machine (``/proc/*/stat``: ~0.8 ms here, and the interpreter's
    lock held for part of it), so it is done every ``RESCAN`` samples; the children found are sampled every time
    (a reader lives for seconds). Walking at every 20 ms sample took 4-8 % of a core from the stages measured."""

    RESCAN = 10

    def __init__(self, interval: float = 0.02) -> None:
        self.process = psutil.Process()
        self.interval = interval
        self.peak = 0
        self._children: list[psutil.Process] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _rss(self, rescan: bool = True) -> int:
        if rescan:
            self._children = self.process.children(recursive=True)
        total = self.process.memory_info().rss
        for child in self._children:
            with contextlib.suppress(psutil.NoSuchProcess):  # ended meanwhile
                total += child.memory_info().rss
        return total

    def _run(self) -> None:
        samples = 0
        while not self._stop.is_set():
            self.peak = max(self.peak, self._rss(rescan=samples % self.RESCAN == 0))
            samples += 1
            time.sleep(self.interval)

    def __enter__(self) -> PeakSampler:
        self.peak = self._rss()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())


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


AT = datetime(2026, 7, 1, 9, 0, tzinfo=UTC)
AS_OF = date(2026, 6, 30)
YEAR = 2025


def build_claims(database: Database) -> dict[str, bytes]:
    """Every batch of the claim period built and sent as a KZ301 file, in one step (``integraal claims build
    --send kz301``: the same files, lines and history as building and then exporting)."""
    period = {"period_start": date(2024, 1, 1), "period_end": date(2026, 12, 31)}
    return claims.build_batches(database, SYSTEM, **period, at=AT, send="kz301").files


def insurer_answers(database: Database, files: dict[str, bytes]) -> list[bytes]:
    """The simulated insurers' KZ302 answers (not timed: the insurer's work)."""
    kz301, kz302 = get_format("kz301"), get_format("kz302")
    views: dict[str, InsurerView] = {}
    answers = []
    for data in files.values():
        batch = kz301.read(data)
        uzovi = batch.receiver_uzovi
        if uzovi not in views:
            views[uzovi] = insurer_view(database, uzovi, hidden_outside_share=0.01, seed=1)
        returned = simulate_return(batch, views[uzovi], return_date=AT.date(), reference="B")
        answers.append(kz302.write(returned))
    return answers


def apply_returns(database: Database, answers: list[bytes]) -> tuple[int, int, int]:
    """The day's post at once, as ``integraal claims apply FILE…`` does: each file in its own transaction, the
    pregnancies hit by a 0587 in any of them decided again in one run after the last."""
    files = [(f"answer-{number}.kz302", data) for number, data in enumerate(answers, 1)]
    run = claims.apply_returns(database, SYSTEM, files, "kz302", at=AT, as_of=AS_OF)
    if run.refused:
        raise SystemExit(f"refused: {run.refused[0]}")
    accepted = sum(s.accepted + s.partially_accepted for _, s in run.applied)
    rejected = sum(s.rejected for _, s in run.applied)
    return accepted, rejected, len(run.bundle_breakers)


def simulate_plans(database: Database) -> int:
    """The three shipped plans (no transition) for every IGO's year, the inputs of all IGOs read together;
    returns the number of allocations."""
    _, presets = plan_presets()
    plans = [build_plan(info, YEAR) for info in presets.values() if isinstance(info, PlanInfo)]
    runs = 0
    for data in distribution_inputs(database, SYSTEM, igos_in_scope(database, SYSTEM), YEAR).values():
        for plan in plans:
            allocation = run_plan(plan, data)
            assert sum(allocation.amounts().values()) == allocation.distributed_cents
            runs += 1
    return runs


def compute_indicators(database: Database) -> int:
    """Every indicator per IGO (intervals, funnel limits) from one read of the year's outcomes."""
    from sqlalchemy import true

    frame = outcome_frame(database, true(), [YEAR], many=True)
    return sum(len(indicator_table(database, SYSTEM, i, YEAR, frame=frame).rows) for i in load_indicators())


STAGES = ("synth", "import", "decide", "claims", "returns", "distribution", "indicators")


def snapshot(database: Path, copy: Path) -> None:
    """A consistent copy of the SQLite database at ``database`` (SQLite's online backup: committed state only)."""
    copy.unlink(missing_ok=True)
    with contextlib.closing(sqlite3.connect(database)) as source, contextlib.closing(sqlite3.connect(copy)) as target:
        source.backup(target)


def remove_database(path: Path) -> None:
    """The SQLite file at ``path`` and its write-ahead log and shared-memory index, if there."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def ratio_runs(imported: Path, region: Path, runs: int) -> None:
    """Decide (on a fresh copy of ``imported``) and the reference (once), alternating, ``runs`` times each."""
    from reference import reference_seconds  # benchmarks/reference.py, next to this file; needs duckdb

    decides: list[float] = []
    references: list[float] = []
    for n in range(runs):
        work = imported.with_name(f"ratio-{n}.db")
        shutil.copyfile(imported, work)
        database = Database(str(work))
        started = time.perf_counter()
        decide_all(database, AS_OF, actor="benchmark")
        decides.append(time.perf_counter() - started)
        database.dispose()  # waits for the run's background checkpoint: not timed
        remove_database(work)
        references.append(reference_seconds(region, AS_OF, repeat=1))
    pairs = sorted(d / r for d, r in zip(decides, references, strict=True))
    decide, reference = statistics.median(decides), statistics.median(references)
    print(
        f"decide / reference, {runs} alternating pairs: median {decide:.2f} s / {reference:.2f} s = "
        f"{decide / reference:.2f}×; pairs {pairs[0]:.2f}–{pairs[-1]:.2f}×"
    )
    print(
        "  decide "
        + ", ".join(f"{x:.2f}" for x in decides)
        + " s; reference "
        + ", ".join(f"{x:.2f}" for x in references)
        + " s"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pregnancies", type=int, default=170_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, default=None, help="keep files and database in this folder")
    parser.add_argument(
        "--no-reference", action="store_true", help="skip the DuckDB reference query (benchmarks/reference.py)"
    )
    parser.add_argument("--database", default=None, help="database URL (default: SQLite in the work folder)")
    parser.add_argument("--stages", default=",".join(STAGES), help="the stages to run, in order (default: all)")
    parser.add_argument(
        "--ratio-runs", type=int, default=0, help="SQLite: decide and the reference again N times, alternating"
    )
    args = parser.parse_args()
    wanted = args.stages.split(",")

    folder = args.keep or Path(tempfile.mkdtemp(prefix="integraal-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    if "import" in wanted and not args.database:  # a new database; later stages alone go on with the kept one
        remove_database(folder / "bench.db")
    print(f"National year benchmark: {args.pregnancies:,} pregnancies, seed {args.seed}, in {folder}")

    facts: list[str] = []
    database = Database(args.database or str(folder / "bench.db"))
    if "synth" in wanted:
        with stage("synth"):
            region = generate_region(args.pregnancies, seed=args.seed)
            paths = write_region(region, folder / "region")
        facts.append(f"activities {region.activities.height:,}")
        del region
    else:
        paths = {p.stem: p for p in sorted((folder / "region").glob("*.csv"))}
    database.migrate()
    if "import" in wanted:
        reports = timed("import", lambda: import_files(database, list(paths.values()), actor="benchmark"))
        facts.append(f"rejected at import {sum(r.rejected for r in reports)}")
    imported = folder / "imported.db"
    ratio = bool(args.ratio_runs) and not args.database and "decide" in wanted
    if ratio:
        snapshot(folder / "bench.db", imported)  # between the stages: not timed
    if "decide" in wanted:
        summary = timed("decide", lambda: decide_all(database, AS_OF, actor="benchmark"))
        facts.append(f"pregnancies {summary.pregnancies:,}")
        facts.append(f"phase outcomes {dict(sorted((f'{p}/{o}', n) for (p, o), n in summary.outcomes.items()))}")
    if "claims" in wanted:
        files = timed("claims", lambda: build_claims(database))
        facts.append(f"claim files {len(files)} ({sum(map(len, files.values())) / MIB:,.0f} MiB)")
    if "returns" in wanted:
        started = time.perf_counter()
        answers = insurer_answers(database, files)
        print(f"  (the simulated insurers answer: {time.perf_counter() - started:.1f} s, not counted)", flush=True)
        accepted, rejected, breakers = timed("returns", lambda: apply_returns(database, answers))
        facts.append(f"lines accepted {accepted:,}, rejected {rejected:,}, bundle breakers decided again {breakers}")
    if "distribution" in wanted:
        runs = timed("plans", lambda: simulate_plans(database))
        facts.append(f"plan runs {runs}")
    if "indicators" in wanted:
        rows = timed("indicators", lambda: compute_indicators(database))
        facts.append(f"indicator rows {rows}")

    total = sum(seconds for _, seconds, _ in RESULTS)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{'total':<8} {total:8.1f} s   process peak RSS {peak:8.0f} MiB")
    print("; ".join(facts))
    if not args.no_reference and "decide" in wanted:
        from reference import reference_seconds  # benchmarks/reference.py, next to this file; needs duckdb

        as_of = AS_OF
        reference = reference_seconds(folder / "region", as_of)
        decide = next(seconds for name, seconds, _ in RESULTS if name == "decide")
        print(f"{'reference':<9}{reference:8.1f} s   (benchmarks/reference.py: one DuckDB query, best of 3)")
        # Two decimals: a ratio near the target must not round to it.
        print(f"decide / reference: {decide:.2f} s / {reference:.2f} s = {decide / reference:.2f}×")
    if ratio:
        ratio_runs(imported, folder / "region", args.ratio_runs)
        imported.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
