"""Benchmark: simulate the three shipped distribution plans for a national year (issue 5; issue 7: the input of
all IGOs and their plans within 5 s). Prints the time to read every IGO's input at once
(``distribution_inputs``: receipts, profiles, shadow claims by a contract-less columnar decision, activity
counts, quality scores) and, per IGO and in total, the time to run the plans, with peak memory.

Uses a decided national year (``--db``, e.g. what ``benchmarks/national_year.py --keep DIR`` leaves; it is
upgraded to the newest schema in place), or builds one first. Run on demand.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from claims_national import build_region
from national_year import PeakSampler
from sqlalchemy import select

from integraal.distribution import run_plan
from integraal.services.access import SYSTEM
from integraal.services.distribution import PlanInfo, build_plan, plan_presets
from integraal.services.distribution_input import distribution_inputs
from integraal.store import tables
from integraal.store.database import Database


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, help="a decided national year")
    parser.add_argument("--year", type=int, default=2025)
    parser.add_argument("--pregnancies", type=int, default=170_000)
    args = parser.parse_args()
    path = args.db or build_region(Path(tempfile.mkdtemp(prefix="integraal-dist-bench-")), args.pregnancies)
    database = Database(str(path))
    database.migrate()
    with database.unit_of_work() as connection:
        igos = list(connection.execute(select(tables.igos.c.igo_id).order_by(tables.igos.c.igo_id)).scalars())
    _, all_presets = plan_presets()
    presets = {k: p for k, p in all_presets.items() if isinstance(p, PlanInfo)}  # the three plans (no transition)
    total_plans = 0.0
    receipts = pregnancies = 0
    with PeakSampler() as memory:
        started = time.perf_counter()
        inputs = distribution_inputs(database, SYSTEM, igos, args.year)
        total_input = time.perf_counter() - started
        print(f"input of {len(igos)} IGOs {total_input:6.1f} s", flush=True)
        for igo, data in inputs.items():
            started = time.perf_counter()
            for info in presets.values():
                allocation = run_plan(build_plan(info, args.year), data)
                assert sum(allocation.amounts().values()) == allocation.distributed_cents
            ran = time.perf_counter() - started
            total_plans += ran
            receipts += len(data.receipts)
            pregnancies += len(data.pregnancies)
            print(
                f"{igo:<10} {len(data.pregnancies):>7,} pregnancies {len(data.members):>3} members   "
                f"{len(presets)} plans {ran:6.2f} s",
                flush=True,
            )
    print(
        f"total: {pregnancies:,} pregnancies, {receipts:,} receipts; input {total_input:.1f} s; "
        f"{len(presets)} plans {total_plans:.2f} s; together {total_input + total_plans:.1f} s; "
        f"peak RSS {memory.peak / 2**20:,.0f} MiB"
    )


if __name__ == "__main__":
    main()
