"""A decision run's parts are counted where they are decided (``_Counts``) and added up into its summary."""

from __future__ import annotations

from collections import Counter
from dataclasses import fields
from datetime import date

import polars as pl

from integraal.services.decisions import RunSummary, _Counts, _summarise


def test_every_counter_of_a_part_is_added_to_the_summary() -> None:
    # COUNTERS names the counters the two have in common; a counter added to one and not listed would be lost.
    def counters(cls: type) -> set[str]:
        return {f.name for f in fields(cls) if str(f.type).startswith("Counter[")}

    part_counters, summary_counters = counters(_Counts), counters(RunSummary)
    assert set(_Counts.COUNTERS) == part_counters == summary_counters

    first, second = _Counts(), _Counts()
    for n, name in enumerate(_Counts.COUNTERS, start=1):
        getattr(first, name)[("a", "b") if name == "outcomes" else "a"] += n
        getattr(second, name)[("a", "b") if name == "outcomes" else "a"] += 10 * n
    first.not_fully_integral, second.not_fully_integral = 2, 3
    first.with_fallback, second.with_fallback = 1, 4
    summary = _summarise([first, second], pl.Series([], dtype=pl.String), date(2026, 1, 1), pregnancies=9, activities=0)
    for n, name in enumerate(_Counts.COUNTERS, start=1):
        assert getattr(summary, name) == Counter({("a", "b") if name == "outcomes" else "a": 11 * n})
    assert summary.pregnancies_fully_integral == 9 - 5
    assert summary.pregnancies_with_fallback == 5
