"""The columnar decide service stores exactly what the per-pregnancy engine path stored (issue 7).

``reference_decide_all`` below is the decide service as it was before it decided with ``rules.bulk`` — every
pregnancy through ``engine.decide_bundle``, activities matched one by one with ``TrajectoryIndex.running_on``, a
dict per stored row — and is the specification here. A synthetic region gets insurer-reported overlaps (0587s
from the simulated insurer, decided by the engine inside the columnar run), activities that name no trajectory
(matched on BSN and date, some to an older trajectory of the same woman, some to none) and activities naming a
trajectory that does not exist. Every stored row of a run and its summary must be equal on both paths.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import polars as pl
import pytest
from sqlalchemy import Connection, insert, select

from dbutil import fresh_database, release
from integraal.data.loader import load_catalogue
from integraal.domain.pregnancy import Pregnancy
from integraal.rules.decision import ActivityOutcome, Disposition, PregnancyDecision
from integraal.rules.engine import decide_bundle
from integraal.rules.matching import TrajectoryIndex
from integraal.rules.reasons import ReasonCode
from integraal.services import audit, decisions
from integraal.services.access import SYSTEM
from integraal.services.decisions import RunSummary, _iter_groups, decide_all
from integraal.services.imports import import_files
from integraal.services.insurer_simulation import busiest_month, run_month
from integraal.store import activity_blocks, tables
from integraal.store.bulk import insert_frame
from integraal.store.database import Database
from integraal.store.repositories import load_activities, load_context, load_pregnancies
from integraal.synth import generate_region, write_region

AS_OF = date(2026, 3, 1)
AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


# --- the specification: the per-pregnancy decide service as it was ------------------------------------------


def reference_decide_all(
    db: Database,
    as_of: date,
    pregnancy_ids: Sequence[str] | None = None,
    actor: str = "cli",
    on_decision: Callable[[PregnancyDecision], None] | None = None,
) -> RunSummary:
    catalogue = load_catalogue()
    with db.unit_of_work() as connection:
        context = load_context(connection, catalogue)
        pregnancies = load_pregnancies(connection, pregnancy_ids)
        bsns = sorted({p.bsn for p in pregnancies}) if pregnancy_ids is not None else None
        activities = load_activities(connection, bsns)

    trailing = max((r.postnatal_days for y in catalogue.years if (r := catalogue.for_year(y))), default=42)
    index = TrajectoryIndex(pregnancies, trailing)
    grouped, unmatched = reference_assign(activities, index, pregnancy_ids is None)

    summary = RunSummary(as_of=as_of, pregnancies=len(pregnancies), activities=activities.height)
    summary.unmatched = len(unmatched)
    for outcome in unmatched:
        summary.dispositions[outcome.disposition.value] += 1
        summary.activity_reasons[outcome.reason.value if outcome.reason else ""] += 1

    writer = _ReferenceWriter(db, as_of, actor, len(pregnancies))
    pregnancy_by_id = {p.pregnancy_id: p for p in pregnancies}
    for pregnancy_id, acts in _iter_groups(grouped, pregnancy_by_id):
        pregnancy = pregnancy_by_id[pregnancy_id]
        decision = decide_bundle(pregnancy, acts, context, as_of)
        _count(summary, decision)
        writer.add(pregnancy, decision)
        if on_decision is not None:
            on_decision(decision)
    writer.outcome_rows.extend(_outcome_row(o, None) for o in unmatched)
    summary.run_id = writer.finish(summary)
    return summary


def reference_assign(
    frame: pl.DataFrame, index: TrajectoryIndex, report_unmatched: bool
) -> tuple[pl.DataFrame, list[ActivityOutcome]]:
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
    if report_unmatched:
        known = pl.Series("known", index.ids(), dtype=pl.Utf8)
        orphans = assigned.filter(~pl.col("pregnancy_id").is_in(known.implode()))
        unmatched.extend(
            ActivityOutcome(a, Disposition.REPORTED, ReasonCode.NO_TRAJECTORY) for a in orphans["activity_id"]
        )
    unmatched.sort(key=lambda o: o.activity_id)
    return assigned.sort("pregnancy_id", "date", "activity_id"), unmatched


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


class _ReferenceWriter:
    def __init__(self, db: Database, as_of: date, actor: str, pregnancies: int) -> None:
        self.db = db
        self.as_of = as_of
        self.actor = actor
        self.pregnancies = pregnancies
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
            run_id = int(result.inserted_primary_key[0])
            for table, rows in (
                (tables.phase_decisions, self.phase_rows),
                (tables.claim_lines, self.claim_rows),
                (tables.activity_outcomes, self.outcome_rows),
            ):
                if rows:
                    frame = pl.DataFrame(rows, infer_schema_length=None).with_columns(run_id=pl.lit(run_id))
                    insert_frame(connection, table, frame)
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


# --- the region ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def region(tmp_path_factory) -> Database:
    """A synthetic region whose busiest month went through the simulated insurer (0587s come back), with
    activities that name no trajectory: of a second, older trajectory of a woman, of nobody, of a deleted one."""
    folder = tmp_path_factory.mktemp("columnar")
    paths = write_region(generate_region(600, seed=7), folder / "region")
    db = fresh_database(folder, "columnar")
    assert all(r.ok for r in import_files(db, list(paths.values())))
    decide_all(db, AS_OF)
    month = busiest_month(db)
    assert month is not None
    run_month(db, SYSTEM, *month, hidden_outside_share=0.2, seed=3, at=AT)
    with db.unit_of_work() as connection:
        _add_edge_cases(connection)
        assert connection.execute(select(tables.reported_overlaps)).first() is not None
    yield db
    release(db)


def _add_edge_cases(connection: Connection) -> None:
    p = tables.pregnancies
    first = connection.execute(select(p).where(p.c.end_date.is_not(None)).order_by(p.c.pregnancy_id)).first()
    assert first is not None
    # An older trajectory of the same woman, still running: it takes what her newer one no longer covers.
    connection.execute(
        insert(p).values(
            pregnancy_id="ZZ-OLDER",
            bsn=first.bsn,
            uzovi=first.uzovi,
            igo_id=first.igo_id,
            intake_date=first.intake_date - timedelta(days=300),
            due_date=first.intake_date - timedelta(days=20),
            labour_date=None,
            end_date=None,
            end_reason=None,
            referral_date=None,
            referral_stage=None,
        )
    )
    some = activity_blocks.read_for(connection, [first.pregnancy_id], []).row(0, named=True)
    catalogue = load_catalogue()
    trailing = max(r.postnatal_days for y in catalogue.years if (r := catalogue.for_year(y)))
    rows = [
        ("X-EDGE-IN", first.bsn, None, first.end_date + timedelta(days=trailing)),  # the newer one's last day
        ("X-EDGE-OUT", first.bsn, None, first.end_date + timedelta(days=trailing + 1)),  # the older one's
        ("X-AFTER", first.bsn, None, first.end_date + timedelta(days=200)),  # the older one still runs
        ("X-BEFORE", first.bsn, None, first.intake_date - timedelta(days=10)),  # only the older one had begun
        ("X-NOBODY", "000000000", None, first.intake_date),  # no trajectory of this BSN
        ("X-TOO-EARLY", first.bsn, None, first.intake_date - timedelta(days=400)),  # before any intake
        ("X-GONE", first.bsn, "ZZ-DELETED", first.intake_date),  # names a trajectory that does not exist
        ("X-OTHER-BSN", "000000000", first.pregnancy_id, first.intake_date),  # names hers, another BSN
    ]
    activity_blocks.store(  # as stored by hand: the import would refuse some of these
        connection,
        pl.DataFrame(
            [(i, bsn, pid, some["agb"], some["activity_code"], day, 100) for i, bsn, pid, day in rows],
            schema=activity_blocks.SCHEMA,
            orient="row",
        ),
    )


# --- comparing runs -----------------------------------------------------------------------------------------


def stored_run(db: Database, run_id: int) -> dict[str, Any]:
    """Every stored row of a run, without its run id (and the run's moment of creation)."""
    rows: dict[str, Any] = {}
    with db.unit_of_work() as connection:
        for table in (tables.phase_decisions, tables.claim_lines, tables.activity_outcomes):
            columns = [c for c in table.c if c.name != "run_id"]
            found = connection.execute(select(*columns).where(table.c.run_id == run_id)).all()
            rows[table.name] = sorted(tuple(r) for r in found)
        run = tables.decision_runs
        rows["decision_runs"] = connection.execute(
            select(run.c.as_of, run.c.actor, run.c.pregnancies, run.c.ruleset_versions).where(run.c.run_id == run_id)
        ).all()
        log = tables.audit_log
        rows["audit"] = connection.execute(
            select(log.c.actor, log.c.action, log.c.entity, log.c.detail).where(
                log.c.entity == "decision_run", log.c.entity_id == str(run_id)
            )
        ).all()
    return rows


def same_summary(new: RunSummary, reference: RunSummary) -> None:
    for name in RunSummary.__slots__:
        if name != "run_id":
            value, expected = getattr(new, name), getattr(reference, name)
            if isinstance(expected, Counter):  # the same keys too, not only equal counts
                value, expected = dict(value), dict(expected)
            assert value == expected, name


@pytest.mark.parametrize("part", [None, 37], ids=["whole", "in-parts"])
def test_a_columnar_run_stores_exactly_what_the_engine_path_stores(region, monkeypatch, part):
    """Also decided in parts of 37 pregnancies (17 here), each stored while the next is decided."""
    if part is not None:
        monkeypatch.setattr(decisions, "PART_PREGNANCIES", part)
    with region.unit_of_work() as connection:
        overlaps = set(connection.execute(select(tables.reported_overlaps.c.pregnancy_id)).scalars())
    ticks: list[int] = []
    new = decide_all(region, AS_OF, actor="columnar", progress=ticks.append)
    assert len(ticks) == (1 if part is None else -(-new.pregnancies // part))
    reference = reference_decide_all(region, AS_OF, actor="columnar")
    same_summary(new, reference)
    assert sum(ticks) == new.pregnancies
    stored, expected = stored_run(region, new.run_id), stored_run(region, reference.run_id)
    assert stored == expected
    # The run holds what the test is about.
    outcomes = {r[0]: r for r in stored["activity_outcomes"]}
    assert {"X-NOBODY", "X-TOO-EARLY", "X-GONE"} <= set(outcomes)
    assert all(outcomes[a][1] is None for a in ("X-NOBODY", "X-TOO-EARLY", "X-GONE"))
    assert new.unmatched == 3
    # Activities naming no trajectory went to the one running on their date: here the woman's older one.
    owner = {a: r[1] for r in stored["claim_lines"] for a in r[-1].split()} | {a: r[1] for a, r in outcomes.items()}
    assert [owner[a] for a in ("X-AFTER", "X-BEFORE", "X-EDGE-OUT")] == ["ZZ-OLDER"] * 3
    assert owner["X-EDGE-IN"] != "ZZ-OLDER"
    assert any("INSURER_REPORTED_OVERLAP" in r[3] for r in stored["phase_decisions"] if r[0] in overlaps)
    assert [r[0] for r in stored["claim_lines"]] == list(range(1, len(stored["claim_lines"]) + 1))


def test_the_per_pregnancy_path_for_on_decision_stores_the_same(region):
    seen: list[PregnancyDecision] = []
    expected_seen: list[PregnancyDecision] = []
    new = decide_all(region, AS_OF, actor="json", on_decision=seen.append)
    reference = reference_decide_all(region, AS_OF, actor="json", on_decision=expected_seen.append)
    assert seen == expected_seen
    same_summary(new, reference)
    assert stored_run(region, new.run_id) == stored_run(region, reference.run_id)


@pytest.mark.parametrize("part", [None, 7], ids=["whole", "in-parts"])
def test_deciding_some_pregnancies_stores_the_same(region, monkeypatch, part):
    if part is not None:
        monkeypatch.setattr(decisions, "PART_PREGNANCIES", part)
    with region.unit_of_work() as connection:
        overlaps = sorted(set(connection.execute(select(tables.reported_overlaps.c.pregnancy_id)).scalars()))
        bsn = connection.execute(
            select(tables.pregnancies.c.bsn).where(tables.pregnancies.c.pregnancy_id == "ZZ-OLDER")
        ).scalar_one()
        hers = sorted(
            connection.execute(select(tables.pregnancies.c.pregnancy_id).where(tables.pregnancies.c.bsn == bsn))
            .scalars()
            .all()
        )
        others = connection.execute(select(tables.pregnancies.c.pregnancy_id).limit(40)).scalars().all()
    # One of her two trajectories only: activities of the other (named or matched) are not this run's.
    ids = sorted({*overlaps[:3], hers[-1], *others[10:40], "NO-SUCH-PREGNANCY"})
    new = decide_all(region, AS_OF, ids, actor="some")
    reference = reference_decide_all(region, AS_OF, ids, actor="some")
    same_summary(new, reference)
    assert new.unmatched == 0
    assert stored_run(region, new.run_id) == stored_run(region, reference.run_id)


def test_a_whole_run_reads_the_activities_on_a_connection_of_its_own(region, monkeypatch):
    """… in a background thread while the pregnancies are read; a run of some pregnancies reads only their women's
    activities, after their pregnancies, here."""
    threads: list[tuple[str, bool]] = []
    real = decisions.load_activities

    def spying(connection: Connection, bsns: Sequence[str] | None = None) -> pl.DataFrame:
        threads.append((threading.current_thread().name, bsns is None))
        return real(connection, bsns)

    monkeypatch.setattr(decisions, "load_activities", spying)
    whole = decide_all(region, AS_OF, store=False)
    some = decide_all(region, AS_OF, ["ZZ-OLDER"], store=False)
    assert threads == [("integraal-read", True), (threading.current_thread().name, False)]
    assert whole.activities > some.activities > 0


def test_not_storing_counts_the_same(region):
    before = stored_counts(region)
    summary = decide_all(region, AS_OF, store=False)
    assert summary.run_id is None and stored_counts(region) == before
    reference = reference_decide_all(region, AS_OF)
    same_summary(summary, reference)


def stored_counts(db: Database) -> tuple[int, ...]:
    with db.unit_of_work() as connection:
        return tuple(
            len(connection.execute(select(t)).all())
            for t in (tables.decision_runs, tables.phase_decisions, tables.claim_lines)
        )
