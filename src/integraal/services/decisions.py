"""Use case: decide every pregnancy (or some) and store the decisions with their rule-set versions.

Inputs are read in bulk (activities as columns), trajectories are decided one by one by the pure engine, and
results are written set-wise. A run is reproducible: it stores ``as_of`` and, per phase, the rule-set version.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import polars as pl
from sqlalchemy import Connection, insert

from integraal.data.loader import load_catalogue
from integraal.domain.activity import Activity
from integraal.domain.pregnancy import Pregnancy
from integraal.rules.decision import ActivityOutcome, Disposition, PregnancyDecision
from integraal.rules.engine import DecisionContext, decide_bundle
from integraal.rules.matching import TrajectoryIndex
from integraal.rules.reasons import ReasonCode
from integraal.services import audit
from integraal.store import tables
from integraal.store.bulk import insert_frame
from integraal.store.database import Database
from integraal.store.repositories import (
    load_activities,
    load_context,
    load_pregnancies,
    load_pregnancies_of_bsn,
)


@dataclass(slots=True)
class RunSummary:
    """Counts and euros of one decision run: what a back office wants to see first."""

    run_id: int | None = None
    as_of: date | None = None
    pregnancies: int = 0
    activities: int = 0
    outcomes: Counter[tuple[str, str]] = field(default_factory=Counter)  # (phase, outcome) → count
    reasons: Counter[str] = field(default_factory=Counter)  # phase-level reason codes
    activity_reasons: Counter[str] = field(default_factory=Counter)  # why activities were not claimed
    amounts: Counter[str] = field(default_factory=Counter)  # claim kind → cents
    lines: Counter[str] = field(default_factory=Counter)  # claim kind → number of lines
    dispositions: Counter[str] = field(default_factory=Counter)
    unmatched: int = 0
    pregnancies_fully_integral: int = 0
    pregnancies_with_fallback: int = 0


def decide_all(
    db: Database,
    as_of: date,
    pregnancy_ids: Sequence[str] | None = None,
    actor: str = "cli",
    store: bool = True,
    on_decision: Callable[[PregnancyDecision], None] | None = None,
    progress: Callable[[int], None] | None = None,
) -> RunSummary:
    """Decide and (by default) store a run. ``on_decision`` sees every decision as it is made."""
    catalogue = load_catalogue()
    with db.unit_of_work() as connection:
        context = load_context(connection, catalogue)
        pregnancies = load_pregnancies(connection, pregnancy_ids)
        bsns = sorted({p.bsn for p in pregnancies}) if pregnancy_ids is not None else None
        activities = load_activities(connection, bsns)

    trailing = max((r.postnatal_days for y in catalogue.years if (r := catalogue.for_year(y))), default=42)
    index = TrajectoryIndex(pregnancies, trailing)
    grouped, unmatched = _assign(activities, index, pregnancy_ids is None)

    summary = RunSummary(as_of=as_of, pregnancies=len(pregnancies), activities=activities.height)
    summary.unmatched = len(unmatched)
    for outcome in unmatched:
        summary.dispositions[outcome.disposition.value] += 1
        summary.activity_reasons[outcome.reason.value if outcome.reason else ""] += 1

    writer = _RunWriter(db, as_of, actor, len(pregnancies), catalogue.years) if store else None
    pregnancy_by_id = {p.pregnancy_id: p for p in pregnancies}
    done = 0
    for pregnancy_id, acts in _iter_groups(grouped, pregnancy_by_id):
        pregnancy = pregnancy_by_id[pregnancy_id]
        decision = decide_bundle(pregnancy, acts, context, as_of)
        _count(summary, decision)
        if writer is not None:
            writer.add(pregnancy, decision)
        if on_decision is not None:
            on_decision(decision)
        done += 1
        if progress is not None and done % 2_000 == 0:
            progress(2_000)
    if progress is not None:
        progress(done % 2_000)
    if writer is not None:
        writer.add_unmatched(unmatched)
        summary.run_id = writer.finish(summary)
    return summary


def _assign(
    frame: pl.DataFrame, index: TrajectoryIndex, report_unmatched: bool
) -> tuple[pl.DataFrame, list[ActivityOutcome]]:
    """Give every activity its trajectory: the id it names, or the one running on its date for its BSN."""
    missing = frame.filter(pl.col("pregnancy_id").is_null())
    found_ids: list[str | None] = []
    unmatched: list[ActivityOutcome] = []
    for activity_id, bsn, day in missing.select("activity_id", "bsn", "date").iter_rows():
        pregnancy = index.running_on(bsn, day)
        found_ids.append(pregnancy.pregnancy_id if pregnancy else None)
        if pregnancy is None and report_unmatched:
            unmatched.append(ActivityOutcome(activity_id, Disposition.REPORTED, ReasonCode.NO_TRAJECTORY))
    resolved = missing.with_columns(pl.Series("pregnancy_id", found_ids, dtype=pl.Utf8)).filter(
        pl.col("pregnancy_id").is_not_null()
    )
    assigned = pl.concat([frame.filter(pl.col("pregnancy_id").is_not_null()), resolved])
    # Named trajectories that do not exist (deleted since) are reported, not lost.
    if report_unmatched:
        known = pl.Series("known", index.ids(), dtype=pl.Utf8)
        orphans = assigned.filter(~pl.col("pregnancy_id").is_in(known.implode()))
        unmatched.extend(
            ActivityOutcome(a, Disposition.REPORTED, ReasonCode.NO_TRAJECTORY) for a in orphans["activity_id"]
        )
    unmatched.sort(key=lambda o: o.activity_id)
    return assigned.sort("pregnancy_id", "date", "activity_id"), unmatched


def _iter_groups(frame: pl.DataFrame, pregnancies: dict[str, Pregnancy]) -> Iterator[tuple[str, list[Activity]]]:
    """Yield (pregnancy id, its activities) for every pregnancy, in id order, building objects per group."""
    ids = frame["pregnancy_id"].to_list()
    columns = [frame[c].to_list() for c in ("activity_id", "bsn", "agb", "activity_code", "date")]
    quantities = frame["quantity_hundredths"].to_list()
    position = 0
    total = len(ids)
    hundred = Decimal(100)
    for pregnancy_id in sorted(pregnancies):
        while position < total and ids[position] < pregnancy_id:
            position += 1  # activities of unknown trajectories were reported in _assign
        start = position
        while position < total and ids[position] == pregnancy_id:
            position += 1
        acts = [
            Activity(
                columns[0][i],
                columns[1][i],
                columns[2][i],
                columns[3][i],
                columns[4][i],
                Decimal(quantities[i]) / hundred,
                pregnancy_id,
            )
            for i in range(start, position)
        ]
        yield pregnancy_id, acts


def _count(summary: RunSummary, decision: PregnancyDecision) -> None:
    fallback = False
    integral = True
    for phase in decision.phases:
        summary.outcomes[(phase.phase.value, phase.outcome.value)] += 1
        for reason in phase.reasons:
            summary.reasons[reason.code.value] += 1
        for line in phase.claims:
            summary.amounts[line.kind.value] += line.amount_cents
            summary.lines[line.kind.value] += 1
        fallback = fallback or phase.outcome.value == "fallback"
        integral = integral and phase.outcome.value in ("integral", "not_applicable")
    summary.pregnancies_fully_integral += integral
    summary.pregnancies_with_fallback += fallback
    for outcome in decision.activities:
        summary.dispositions[outcome.disposition.value] += 1
        if outcome.reason is not None and outcome.disposition is not Disposition.CLAIMED:
            summary.activity_reasons[outcome.reason.value] += 1


class _RunWriter:
    """Buffers a run's rows and writes them set-wise in one transaction at the end."""

    def __init__(self, db: Database, as_of: date, actor: str, pregnancies: int, years: list[int]) -> None:
        self.db = db
        self.as_of = as_of
        self.actor = actor
        self.pregnancies = pregnancies
        self.years = years
        self.phase_rows: list[dict[str, Any]] = []
        self.claim_rows: list[dict[str, Any]] = []
        self.outcome_rows: list[dict[str, Any]] = []

    def add(self, pregnancy: Pregnancy, decision: PregnancyDecision) -> None:
        for phase in decision.phases:
            self.phase_rows.append(
                {
                    "pregnancy_id": decision.pregnancy_id,
                    "phase": phase.phase.value,
                    "outcome": phase.outcome.value,
                    "reasons": " ".join(phase.reason_codes),
                    "ruleset_version": phase.ruleset_version,
                    "contract_id": phase.contract_id,
                    "igo_id": pregnancy.igo_id,
                    "uzovi": pregnancy.uzovi,
                }
            )
            for line in phase.claims:
                self.claim_rows.append(
                    {
                        "line_no": len(self.claim_rows) + 1,
                        "pregnancy_id": line.pregnancy_id,
                        "phase": line.phase.value,
                        "kind": line.kind.value,
                        "prestatie_code": line.prestatie_code,
                        "claimant_agb": line.claimant_agb,
                        "uzovi": line.uzovi,
                        "quantity_hundredths": int(line.quantity * 100),
                        "tariff_cents": line.tariff_cents,
                        "amount_cents": line.amount_cents,
                        "service_start": line.service_start,
                        "service_end": line.service_end,
                        "declaration_date": line.declaration_date,
                        "tariff_source": line.tariff_source,
                        "activity_ids": " ".join(line.activity_ids),
                    }
                )
        for outcome in decision.activities:
            if outcome.disposition is not Disposition.CLAIMED:
                self.outcome_rows.append(_outcome_row(outcome, decision.pregnancy_id))

    def add_unmatched(self, outcomes: Sequence[ActivityOutcome]) -> None:
        self.outcome_rows.extend(_outcome_row(o, None) for o in outcomes)

    def finish(self, summary: RunSummary) -> int:
        with self.db.unit_of_work() as connection:
            versions = sorted({r["ruleset_version"] for r in self.phase_rows if r["ruleset_version"]})
            result = connection.execute(
                insert(tables.decision_runs).values(
                    as_of=self.as_of,
                    created_at=datetime.now(UTC),
                    actor=self.actor,
                    pregnancies=self.pregnancies,
                    ruleset_versions=" ".join(versions),
                )
            )
            run_id = int(result.inserted_primary_key[0])  # type: ignore[index]
            for table, rows in (
                (tables.phase_decisions, self.phase_rows),
                (tables.claim_lines, self.claim_rows),
                (tables.activity_outcomes, self.outcome_rows),
            ):
                _insert_batches(connection, table, rows, run_id)
            audit.record(
                connection,
                self.actor,
                "decide",
                "decision_run",
                str(run_id),
                as_of=self.as_of.isoformat(),
                pregnancies=self.pregnancies,
                integral_cents=summary.amounts.get("integral", 0),
                mono_cents=summary.amounts.get("mono", 0),
            )
        return run_id


def _outcome_row(outcome: ActivityOutcome, pregnancy_id: str | None) -> dict[str, Any]:
    return {
        "activity_id": outcome.activity_id,
        "pregnancy_id": pregnancy_id,
        "disposition": outcome.disposition.value,
        "reason": outcome.reason.value if outcome.reason else None,
        "phase": outcome.phase.value if outcome.phase else None,
    }


def _insert_batches(connection: Connection, table: Any, rows: list[dict[str, Any]], run_id: int) -> None:
    if rows:
        insert_frame(
            connection, table, pl.DataFrame(rows, infer_schema_length=None).with_columns(run_id=pl.lit(run_id))
        )


def decision_as_json(decision: PregnancyDecision) -> dict[str, Any]:
    """The ``decide --json`` shape: per phase the decision, reason codes and claim lines (cents as int)."""
    return {
        "pregnancy_id": decision.pregnancy_id,
        "as_of": decision.as_of.isoformat(),
        "phases": {
            phase.phase.value: {
                "decision": phase.outcome.value,
                "reasons": list(phase.reason_codes),
                "ruleset_version": phase.ruleset_version,
                "contract_id": phase.contract_id,
                "claims": [
                    {
                        "kind": line.kind.value,
                        "prestatie_code": line.prestatie_code,
                        "amount_cents": line.amount_cents,
                        "quantity": str(line.quantity),
                        "declaration_date": line.declaration_date.isoformat(),
                        "claimant_agb": line.claimant_agb,
                        "uzovi": line.uzovi,
                        "activity_ids": list(line.activity_ids),
                    }
                    for line in phase.claims
                ],
            }
            for phase in decision.phases
        },
    }


def decide_one(
    db: Database, pregnancy_id: str, as_of: date
) -> tuple[Pregnancy, list[Activity], PregnancyDecision, DecisionContext] | None:
    """Decide one pregnancy without storing; returns its inputs too, for ``explain``."""
    catalogue = load_catalogue()
    with db.unit_of_work() as connection:
        pregnancies = load_pregnancies(connection, [pregnancy_id])
        if not pregnancies:
            return None
        context = load_context(connection, catalogue)
        frame = load_activities(connection, [pregnancies[0].bsn])
        siblings = load_pregnancies_of_bsn(connection, pregnancies[0].bsn)
    trailing = max((r.postnatal_days for y in catalogue.years if (r := catalogue.for_year(y))), default=42)
    assigned, _ = _assign(frame, TrajectoryIndex(siblings, trailing), report_unmatched=False)
    acts = next(
        (acts for pid, acts in _iter_groups(assigned, {pregnancy_id: pregnancies[0]}) if pid == pregnancy_id),
        [],
    )
    return pregnancies[0], acts, decide_bundle(pregnancies[0], acts, context, as_of), context
