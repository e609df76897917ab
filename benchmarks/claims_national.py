"""Benchmark: claims for a national year — build the batches, write every KZ301 file, let the simulated insurer
answer each with a KZ302 file, apply the returns (issue 4). Prints wall time and peak memory per stage.

Works on a copy of a decided national year (``--db``, e.g. the database ``benchmarks/national_year.py --keep
DIR`` leaves, upgraded to the newest schema) so the original is untouched; without ``--db`` it builds one first
(synth → import → decide: a few minutes). Run on demand: ``.venv/bin/python benchmarks/claims_national.py``.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TypeVar

from national_year import PeakSampler

from integraal.claims.formats import get_format
from integraal.claims.simulator import simulate_return
from integraal.services import claims
from integraal.services.access import SYSTEM
from integraal.services.decisions import decide_all
from integraal.services.imports import import_files
from integraal.services.insurer_simulation import insurer_view
from integraal.store.database import Database

T = TypeVar("T")
AT = datetime(2026, 7, 1, 9, 0, tzinfo=UTC)


def stage(name: str, work: Callable[[], T]) -> T:
    started = time.perf_counter()
    with PeakSampler() as memory:
        result = work()
    print(f"{name:<22} {time.perf_counter() - started:7.1f} s   peak RSS {memory.peak / 2**20:8.0f} MiB", flush=True)
    return result


def build_region(folder: Path, pregnancies: int) -> Path:
    from integraal.synth import generate_region, write_region

    path = folder / "claims-bench.db"
    paths = write_region(generate_region(pregnancies, seed=1), folder / "region")
    database = Database(str(path))
    database.migrate()
    import_files(database, list(paths.values()), actor="benchmark")
    decide_all(database, date(2026, 6, 30), actor="benchmark")
    database.dispose()
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, help="a decided national year (copied, not changed)")
    parser.add_argument("--pregnancies", type=int, default=170_000)
    parser.add_argument("--folder", type=Path, help="work folder (default: a new temporary one)")
    args = parser.parse_args()
    folder = args.folder or Path(tempfile.mkdtemp(prefix="integraal-claims-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    if args.db:
        path = folder / "claims-bench.db"
        shutil.copyfile(args.db, path)
    else:
        path = stage("build a national year", lambda: build_region(folder, args.pregnancies))
    database = Database(str(path))
    stage("migrate", database.migrate)

    result = stage(
        "build batches",
        lambda: claims.build_batches(
            database, SYSTEM, period_start=date(2024, 1, 1), period_end=date(2026, 12, 31), at=AT
        ),
    )
    lines = sum(b.lines for b in result.batches)
    total = sum(b.total_cents for b in result.batches)
    print(f"  {len(result.batches)} batches, {lines:,} lines, {total / 100:,.2f} euros", flush=True)

    files: dict[str, bytes] = stage(
        "write KZ301 files",
        lambda: claims.export_batches(database, SYSTEM, [b.batch_id for b in result.batches], "kz301", at=AT),
    )
    print(f"  {sum(len(f) for f in files.values()) / 2**20:,.0f} MiB of claim files", flush=True)

    def answer() -> dict[str, bytes]:
        views = {}
        returns = {}
        kz301, kz302 = get_format("kz301"), get_format("kz302")
        for batch in result.batches:
            view = views.get(batch.uzovi) or insurer_view(database, batch.uzovi, hidden_outside_share=0.01, seed=1)
            views[batch.uzovi] = view
            returned = simulate_return(kz301.read(files[batch.batch_id]), view, return_date=AT.date(), reference="B")
            returns[batch.batch_id] = kz302.write(returned)
        return returns

    returns = stage("simulate insurer", answer)

    def apply() -> tuple[int, int, int]:
        accepted = rejected = breakers = 0
        for data in returns.values():
            summary = claims.apply_return(database, SYSTEM, data, "kz302", at=AT, as_of=AT.date())
            accepted += summary.accepted + summary.partially_accepted
            rejected += summary.rejected
            breakers += len(summary.bundle_breakers)
        return accepted, rejected, breakers

    accepted, rejected, breakers = stage("apply returns", apply)
    print(f"  accepted {accepted:,}, rejected {rejected:,}, bundle breakers decided again {breakers:,}", flush=True)
    database.dispose()


if __name__ == "__main__":
    main()
