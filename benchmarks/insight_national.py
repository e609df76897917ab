"""Benchmark: every indicator for a national year (issue 6; target: all indicators under 10 s).

Reads the outcomes of every pregnancy that ended in the year once (one SQL query with the current decisions'
financing), then computes every indicator per IGO with intervals and funnel limits, the same per financing group,
the analyst's suppressed view with case-mix adjustment and shrinkage, and the quarterly trends. Prints per stage
the wall time and the peak memory of the process.

Uses a decided national year (``--db``; upgraded to the newest schema in place — it needs outcomes, so build it
with this version's synthetic generator) or builds one first. Run on demand.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from claims_national import build_region
from national_year import PeakSampler
from sqlalchemy import true

from integraal.insight import load_indicators
from integraal.services.access import SYSTEM, Principal, Role
from integraal.services.insight import UnitLevel, indicator_table, outcome_frame, quarterly_trend
from integraal.store.database import Database


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, help="a decided national year with outcomes")
    parser.add_argument("--year", type=int, default=2025)
    parser.add_argument("--pregnancies", type=int, default=170_000)
    args = parser.parse_args()
    if args.db:
        path = args.db
    else:
        started = time.perf_counter()
        path = build_region(Path(tempfile.mkdtemp(prefix="integraal-insight-bench-")), args.pregnancies)
        print(f"build a national year: {time.perf_counter() - started:.1f} s (not part of the target)", flush=True)
    database = Database(str(path))
    database.migrate()
    indicators = list(load_indicators())
    analyst = Principal(None, "benchmark", Role.ANALYST)
    timings: dict[str, float] = {}

    def stage(name: str, work):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        result = work()
        timings[name] = time.perf_counter() - started
        print(f"{name:<52} {timings[name]:6.2f} s", flush=True)
        return result

    with PeakSampler() as memory:
        frame = stage(
            "read outcomes of the year (a process per range)",
            lambda: outcome_frame(database, true(), [args.year], many=True),
        )
        stage(
            f"{len(indicators)} indicators per IGO (superuser)",
            lambda: [indicator_table(database, SYSTEM, i, args.year, frame=frame) for i in indicators],
        )
        stage(
            f"{len(indicators)} indicators per financing group",
            lambda: [
                indicator_table(database, SYSTEM, i, args.year, UnitLevel.FINANCING, frame=frame) for i in indicators
            ],
        )
        stage(
            f"{len(indicators)} indicators, analyst: suppressed, O/E, shrunk",
            lambda: [
                indicator_table(database, analyst, i, args.year, adjust=True, shrink=True, frame=frame)
                for i in indicators
            ],
        )
        proportions = [i for i in indicators if load_indicators()[i].kind.value == "proportion"]
        stage(
            f"{len(proportions)} quarterly trends (national)",
            lambda: [quarterly_trend(database, SYSTEM, i, [args.year], frame=frame) for i in proportions],
        )
    total = sum(timings.values())
    births = frame.filter(frame["end_reason"] == "birth").height
    print(
        f"total: {frame.height:,} ended pregnancies ({births:,} births); all stages {total:.2f} s; "
        f"peak RSS {memory.peak / 2**20:,.0f} MiB"
    )


if __name__ == "__main__":
    main()
