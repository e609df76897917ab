"""Micro-benchmark: the columnar bundle decision (``rules.bulk.decide_frames``) on a synthetic national year.

    .venv/bin/python benchmarks/bulk_decide.py [--pregnancies 170000] [--seed 1] [--as-of 2026-06-30] [--repeat 1]

The region is generated and converted to storage-shaped frames (activities without a trajectory id are matched
on BSN and date, and sorted by trajectory, date and id, as the decide service does) outside the timing; then
``decide_frames`` is timed. Peak memory is
the highest resident set size of the process sampled every 10 ms during the call (it includes the inputs).
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections import defaultdict
from datetime import date
from typing import Any

import polars as pl
import psutil

from integraal.data.loader import load_catalogue
from integraal.domain.contract import Contract, ContractBook, OverlapPolicy, PartialPolicy
from integraal.domain.igo import Igo, MembershipPeriod, MembershipRegister
from integraal.domain.pregnancy import EndReason, Pregnancy, ReferralStage
from integraal.domain.provider import Discipline, Provider
from integraal.importing.formats import FORMATS
from integraal.rules.bulk import decide_frames
from integraal.rules.engine import DecisionContext
from integraal.rules.matching import TrajectoryIndex
from integraal.synth import Region, generate_region

MIB = 1024 * 1024


class PeakSampler:
    def __init__(self, interval: float = 0.01) -> None:
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


def context_of(region: Region) -> DecisionContext:
    providers = FORMATS["providers"].to_rows(region.providers)
    igos = FORMATS["igos"].to_rows(region.igos)
    memberships = FORMATS["memberships"].to_rows(region.memberships)
    contracts = FORMATS["contracts"].to_rows(region.contracts)
    tariffs: dict[str, dict[str, int]] = defaultdict(dict)
    heads: dict[str, dict[str, Any]] = {}
    for r in contracts.iter_rows(named=True):
        tariffs[r["contract_id"]][r["prestatie_code"]] = r["tariff_cents"]
        heads.setdefault(r["contract_id"], r)
    return DecisionContext(
        catalogue=load_catalogue(),
        providers={r["agb"]: Provider(r["agb"], r["name"], Discipline(r["discipline"])) for r in providers.to_dicts()},
        igos={r["igo_id"]: Igo(r["igo_id"], r["agb"], r["name"]) for r in igos.to_dicts()},
        memberships=MembershipRegister(
            MembershipPeriod(r["igo_id"], r["agb"], r["start_date"], r["end_date"]) for r in memberships.to_dicts()
        ),
        contracts=ContractBook(
            Contract(
                cid,
                h["igo_id"],
                h["uzovi"],
                h["year"],
                tariffs[cid],
                OverlapPolicy(h["overlap_policy"]) if h["overlap_policy"] else None,
                PartialPolicy(h["partial_trajectory_policy"]) if h["partial_trajectory_policy"] else None,
            )
            for cid, h in heads.items()
        ),
    )


def assigned_activities(region: Region, pregnancies: pl.DataFrame) -> pl.DataFrame:
    """Storage-shaped activities; those without a trajectory id get the one running on their date."""
    catalogue = load_catalogue()
    trailing = max(r.postnatal_days for y in catalogue.years if (r := catalogue.for_year(y)))
    index = TrajectoryIndex(
        (
            Pregnancy(
                r["pregnancy_id"],
                r["bsn"],
                r["uzovi"],
                r["igo_id"],
                r["intake_date"],
                r["due_date"],
                r["labour_date"],
                r["end_date"],
                EndReason(r["end_reason"]) if r["end_reason"] else None,
                r["referral_date"],
                ReferralStage(r["referral_stage"]) if r["referral_stage"] else None,
            )
            for r in pregnancies.iter_rows(named=True)
        ),
        trailing,
    )
    activities = FORMATS["activities"].to_rows(region.activities)
    missing = activities.filter(pl.col("pregnancy_id").is_null())
    found = [
        (p.pregnancy_id if (p := index.running_on(bsn, day)) else None)
        for bsn, day in missing.select("bsn", "date").iter_rows()
    ]
    resolved = missing.with_columns(pl.Series("pregnancy_id", found, dtype=pl.String))
    return pl.concat([activities.filter(pl.col("pregnancy_id").is_not_null()), resolved])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pregnancies", type=int, default=170_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--as-of", type=date.fromisoformat, default=date(2026, 6, 30))
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument(
        "--unsorted", action="store_true", help="keep import order (default: sorted as the decide service sorts)"
    )
    args = parser.parse_args()

    started = time.perf_counter()
    region = generate_region(args.pregnancies, seed=args.seed)
    context = context_of(region)
    pregnancies = FORMATS["pregnancies"].to_rows(region.pregnancies)
    activities = assigned_activities(region, pregnancies)
    if not args.unsorted:
        activities = activities.sort("pregnancy_id", "date", "activity_id")  # as services.decisions._assign
    del region
    print(
        f"prepared {pregnancies.height:,} pregnancies, {activities.height:,} activities "
        f"in {time.perf_counter() - started:.1f} s; RSS {psutil.Process().memory_info().rss / MIB:.0f} MiB",
        flush=True,
    )
    for _ in range(args.repeat):
        with PeakSampler() as sampler:
            before = psutil.Process().memory_info().rss
            started = time.perf_counter()
            result = decide_frames(pregnancies, activities, context, args.as_of)
            seconds = time.perf_counter() - started
        print(
            f"decide_frames {seconds:6.2f} s   peak RSS {sampler.peak / MIB:6.0f} MiB "
            f"(+{(sampler.peak - before) / MIB:.0f} MiB over the inputs)",
            flush=True,
        )
    outcomes = result.phases.group_by("phase", "outcome").len().sort("phase", "outcome")
    print(f"phases {result.phases.height:,}, claims {result.claims.height:,}, activities {result.activities.height:,}")
    print(outcomes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
