"""The shared read of several IGOs' distribution input gives each IGO exactly what the per-IGO read gave (issue 7).

``reference_input`` below is the per-IGO path as it was before issue 7 (pregnancies and activities as objects,
activities read per woman and matched by ``TrajectoryIndex``, profiles by ``derive_client_profile``, the
national outcome reference read per IGO): the specification the columnar path must reproduce tuple for tuple.
The region is synthetic with a second IGO carved out of the first, and a few awkward cases written in by hand:
a woman with paid-for trajectories in both IGOs and activities that name none, activities naming a trajectory
under another woman's BSN, and a re-decision of some pregnancies (the current decision is the newest run's).
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from datetime import date
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import or_, select
from sqlalchemy import text as sql_text

from dbutil import fresh_database, release
from integraal.data.loader import load_catalogue
from integraal.distribution import (
    ActivityCount,
    DistributionInput,
    Member,
    PregnancyRow,
    QualityScore,
    Receipt,
    ShadowClaim,
    derive_client_profile,
    run_plan,
)
from integraal.domain.contract import ContractBook
from integraal.domain.phase import Phase
from integraal.domain.provider import Discipline
from integraal.insight import load_indicators
from integraal.insight.quality import member_scores
from integraal.rules.bulk import decide_frames
from integraal.rules.decision import Outcome
from integraal.rules.engine import DecisionContext
from integraal.rules.matching import TrajectoryIndex
from integraal.services.access import SYSTEM, NotFoundError, Principal, Role
from integraal.services.decisions import decide_all
from integraal.services.distribution import PlanInfo, build_plan, plan_presets
from integraal.services.distribution_input import (
    PREGNANCY_FRAME,
    READY_DISCIPLINES,
    _QualityInputs,
    _reference_outcomes,
    distribution_input,
    distribution_inputs,
)
from integraal.services.imports import import_files
from integraal.services.insight import outcome_frame
from integraal.services.latest import claim_lines_of, decision_of, latest_decisions
from integraal.services.reruns import rerun_decisions
from integraal.store import activity_blocks, tables
from integraal.store.bulk import in_values, read_frame
from integraal.store.database import Database
from integraal.store.repositories import load_activities, load_context, load_pregnancies
from integraal.synth import generate_region, write_region

YEAR = 2025
IGOS = ["IGO-01", "IGO-02"]


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Database:
    folder: Path = tmp_path_factory.mktemp("distribution-bulk")
    region = _two_igos(generate_region(3000, seed=7))
    database = fresh_database(folder, "bulk")
    reports = import_files(database, list(write_region(region, folder / "region").values()))
    assert all(r.ok for r in reports), [str(e) for r in reports for e in r.errors][:5]
    decide_all(database, date(2026, 3, 1))
    _awkward_cases(database)
    decide_all(database, date(2026, 3, 1))
    some = [pid for (pid,) in _sql(database, "SELECT pregnancy_id FROM pregnancies ORDER BY pregnancy_id")][::50]
    rerun_decisions(database, SYSTEM, date(2026, 4, 1), some)
    yield database
    release(database)


def _two_igos(region):
    """IGO-02: every other pregnancy, the contracts of IGO-01 and all but every fifth of its members."""
    igo = region.igos.row(0, named=True)
    second = pl.DataFrame([{**igo, "igo_id": "IGO-02", "agb": "53000002", "name": igo["name"] + " II"}])
    memberships = region.memberships.filter(pl.col("igo_id") == "IGO-01")
    contracts = region.contracts.filter(pl.col("igo_id") == "IGO-01")
    pregnancies = region.pregnancies.with_columns(
        pl.when(pl.int_range(pl.len()) % 2 == 1).then(pl.lit("IGO-02")).otherwise(pl.col("igo_id")).alias("igo_id")
    )
    return dataclasses.replace(
        region,
        igos=pl.concat([region.igos, second]),
        memberships=pl.concat(
            [region.memberships, memberships.gather_every(5, offset=1).with_columns(igo_id=pl.lit("IGO-02"))]
        ),
        contracts=pl.concat(
            [
                region.contracts,
                contracts.with_columns(igo_id=pl.lit("IGO-02"), contract_id=pl.col("contract_id") + "-II"),
            ]
        ),
        pregnancies=pregnancies,
    )


def _sql(db: Database, text: str, **params: object) -> list[tuple]:
    with db.engine.begin() as connection:
        result = connection.execute(sql_text(text), params)
        return [tuple(row) for row in result.all()] if result.returns_rows else []


def _update_activities(db: Database, where: pl.Expr, **values: pl.Expr | str | None) -> None:
    """``UPDATE activities SET values WHERE where``, on the stored activities (columnar blocks): what no import
    would store (an activity naming a trajectory of another BSN)."""
    with db.unit_of_work() as connection:
        changed = activity_blocks.read_all(connection).filter(where)
        changed = changed.with_columns(
            **{k: pl.lit(v, pl.Utf8) if not isinstance(v, pl.Expr) else v for k, v in values.items()}
        )
        activity_blocks.store(connection, changed)


def _activities(db: Database) -> pl.DataFrame:
    with db.unit_of_work() as connection:
        return activity_blocks.read_all(connection)


def _awkward_cases(db: Database) -> None:
    """Written into the stored rows (the import would refuse some of them), then decided again."""
    paid = _sql(
        db,
        "SELECT DISTINCT p.igo_id, p.pregnancy_id, p.bsn FROM pregnancies p JOIN claim_lines c "
        "ON c.pregnancy_id = p.pregnancy_id WHERE c.kind = 'integral' AND c.declaration_date >= '2025-01-01' "
        "AND p.end_date IS NOT NULL ORDER BY p.pregnancy_id",
    )
    first = [row for row in paid if row[0] == "IGO-01"]
    second = [row for row in paid if row[0] == "IGO-02"]
    # One woman, trajectories in both IGOs: the second one's woman becomes the first one's, with all her activities.
    (_, _, woman), (_, moved, other) = first[0], second[0]
    _sql(db, "UPDATE pregnancies SET bsn = :woman WHERE pregnancy_id = :moved", woman=woman, moved=moved)
    _update_activities(db, pl.col("bsn") == other, bsn=woman)
    # Her activities that name no trajectory: on days in either trajectory, or between them.
    _update_activities(db, (pl.col("bsn") == woman) & pl.col("activity_id").str.ends_with("1"), pregnancy_id=None)
    # Another woman with two overlapping trajectories in IGO-01: an activity naming none in both goes to the newer.
    (_, older, mother), *_ = first[4:]
    (newer, sister), *_ = _sql(
        db,
        "SELECT b.pregnancy_id, b.bsn FROM pregnancies a JOIN pregnancies b ON b.igo_id = a.igo_id "
        "AND b.intake_date > a.intake_date AND b.intake_date < a.end_date "
        "WHERE a.pregnancy_id = :older ORDER BY b.pregnancy_id",
        older=older,
    )
    _sql(db, "UPDATE pregnancies SET bsn = :mother WHERE pregnancy_id = :newer", mother=mother, newer=newer)
    _update_activities(db, pl.col("bsn") == sister, bsn=mother)
    _update_activities(db, (pl.col("bsn") == mother) & pl.col("activity_id").str.ends_with("2"), pregnancy_id=None)
    # Activities naming a trajectory under another BSN: of a woman the IGO was paid for, and of one it was not.
    for (_, pregnancy_id, _), (_, _, bsn) in [(first[1], first[2]), (first[3], second[3])]:
        first_id = _activities(db).filter(pl.col("pregnancy_id") == pregnancy_id)["activity_id"].min()
        _update_activities(db, pl.col("activity_id") == first_id, bsn=bsn)


# --- the per-IGO path as it was (the specification) -----------------------------------------------------------


def _assign_per_woman(frame: pl.DataFrame, index: TrajectoryIndex) -> pl.DataFrame:
    """The trajectory each activity names, or the one of its woman running on its date, one by one."""
    missing = frame.filter(pl.col("pregnancy_id").is_null())
    found = [
        (p.pregnancy_id if (p := index.running_on(bsn, day)) else None)
        for bsn, day in missing.select("bsn", "date").iter_rows()
    ]
    resolved = missing.with_columns(pl.Series("pregnancy_id", found, dtype=pl.String)).filter(
        pl.col("pregnancy_id").is_not_null()
    )
    assigned = pl.concat([frame.filter(pl.col("pregnancy_id").is_not_null()), resolved])
    return assigned.sort("pregnancy_id", "date", "activity_id")


def reference_input(db: Database, igo_id: str, year: int) -> DistributionInput:
    start, end = date(year, 1, 1), date(year, 12, 31)
    p, d, c, m, prov = (
        tables.pregnancies,
        tables.phase_decisions,
        tables.claim_lines,
        tables.memberships,
        tables.providers,
    )
    catalogue = load_catalogue()
    with db.unit_of_work() as connection:
        members = tuple(
            Member(agb, Discipline(discipline), name, Decimal(1 if Discipline(discipline) in READY_DISCIPLINES else 0))
            for agb, discipline, name in connection.execute(
                select(prov.c.agb, prov.c.discipline, prov.c.name)
                .join(m, m.c.agb == prov.c.agb)
                .where(m.c.igo_id == igo_id, m.c.start_date <= end, or_(m.c.end_date.is_(None), m.c.end_date >= start))
                .group_by(prov.c.agb, prov.c.discipline, prov.c.name)
                .order_by(prov.c.agb)
            )
        )
        latest = latest_decisions(p.c.igo_id == igo_id)
        receipts = [
            Receipt(Phase(phase), int(amount), pregnancy_id)
            for pregnancy_id, phase, amount in connection.execute(
                select(c.c.pregnancy_id, c.c.phase, c.c.amount_cents)
                .select_from(latest)
                .join(c, claim_lines_of(latest))
                .where(c.c.kind == "integral", c.c.declaration_date >= start, c.c.declaration_date <= end)
                .order_by(c.c.pregnancy_id, c.c.phase)
            )
        ]
        paid_for = sorted({r.pregnancy_id for r in receipts if r.pregnancy_id})
        outcomes: dict[str, list[tuple[Phase, Outcome]]] = defaultdict(list)
        for pregnancy_id, phase, outcome in connection.execute(
            select(d.c.pregnancy_id, d.c.phase, d.c.outcome).select_from(latest).join(d, decision_of(latest))
        ):
            outcomes[pregnancy_id].append((Phase(phase), Outcome(outcome)))
        pregnancies = load_pregnancies(connection, paid_for) if paid_for else []
        context = load_context(connection, catalogue)
        pregnancy_frame = read_frame(
            connection,
            select(*(p.c[name] for name in PREGNANCY_FRAME)).where(in_values(p.c.pregnancy_id, paid_for)),
            PREGNANCY_FRAME,
        )
        activities = load_activities(connection, sorted({x.bsn for x in pregnancies})) if pregnancies else None
    rows = tuple(
        PregnancyRow(x.pregnancy_id, derive_client_profile(x), tuple(sorted(outcomes.get(x.pregnancy_id, ()))))
        for x in pregnancies
    )
    shadow: list[ShadowClaim] = []
    counts: list[ActivityCount] = []
    quality: list[QualityScore] = []
    if activities is not None and activities.height:
        trailing = max((r.postnatal_days for y in catalogue.years if (r := catalogue.for_year(y))), default=42)
        assigned = _assign_per_woman(activities, TrajectoryIndex(pregnancies, trailing))
        assigned = assigned.filter(pl.col("pregnancy_id").is_in(paid_for))
        no_contracts = DecisionContext(catalogue, context.providers, context.igos, context.memberships, ContractBook())
        bulk = decide_frames(pregnancy_frame, assigned, no_contracts, end)
        agbs = [member.agb for member in members]
        claims = bulk.claims.filter(pl.col("kind") == "mono", pl.col("claimant_agb").is_in(agbs))
        grouped = claims.group_by("pregnancy_id", "phase", "claimant_agb").agg(pl.col("amount_cents").sum())
        shadow = [
            ShadowClaim(pregnancy_id, Phase(phase), agb, int(amount))
            for pregnancy_id, phase, agb, amount in grouped.sort("pregnancy_id", "phase", "claimant_agb").iter_rows()
            if amount
        ]
        care = assigned.filter(pl.col("agb").is_in(agbs))
        per_type = (
            care.group_by("agb", "activity_code", "pregnancy_id")
            .agg(pl.len().alias("n"))
            .sort("agb", "activity_code", "pregnancy_id")
        )
        counts = [ActivityCount(agb, code, Decimal(int(n)), pid) for agb, code, pid, n in per_type.iter_rows()]
        own = outcome_frame(db, p.c.igo_id == igo_id, financing=False).filter(pl.col("pregnancy_id").is_in(paid_for))
        if not own.is_empty():
            reference = outcome_frame(db, p.c.igo_id.is_not(None), [year - 1, year], financing=False)
            scores = member_scores(load_indicators().values(), own, care.select("agb", "pregnancy_id"), reference)
            quality = [QualityScore(s.agb, s.indicator_id, s.score) for s in scores]
    return DistributionInput(year, members, tuple(receipts), rows, tuple(shadow), tuple(counts), tuple(quality))


# --- the tests -------------------------------------------------------------------------------------------------

FIELDS = ("members", "receipts", "pregnancies", "shadow_claims", "activities", "quality")


def _assert_same(expected: DistributionInput, actual: DistributionInput, igo_id: str) -> None:
    for name in FIELDS:
        want, got = getattr(expected, name), getattr(actual, name)
        first = next((i for i, (a, b) in enumerate(zip(want, got, strict=False)) if a != b), None)
        assert want == got, (igo_id, name, len(want), len(got), first, first is not None and (want[first], got[first]))


def test_the_region_has_the_awkward_cases(db):
    """The cases the shared read must get right are really there (else the comparison below proves less)."""
    paid_in_both = _sql(
        db,
        "SELECT p.bsn FROM pregnancies p JOIN claim_lines c ON c.pregnancy_id = p.pregnancy_id "
        "WHERE c.kind = 'integral' AND c.declaration_date >= '2025-01-01' GROUP BY p.bsn "
        "HAVING COUNT(DISTINCT p.igo_id) > 1",
    )
    assert len(paid_in_both) == 1
    twice_in_one = _sql(
        db,
        "SELECT p.bsn FROM pregnancies p JOIN claim_lines c ON c.pregnancy_id = p.pregnancy_id "
        "WHERE c.kind = 'integral' AND c.declaration_date >= '2025-01-01' AND p.igo_id = 'IGO-01' GROUP BY p.bsn "
        "HAVING COUNT(DISTINCT p.pregnancy_id) > 1",
    )
    assert twice_in_one  # the mother (and the region's own)
    stored = _activities(db)
    assert stored.filter(pl.col("pregnancy_id").is_null(), pl.col("bsn") == paid_in_both[0][0]).height > 0
    owners = pl.DataFrame(
        _sql(db, "SELECT pregnancy_id, bsn FROM pregnancies"), schema=["pregnancy_id", "owner"], orient="row"
    )
    assert stored.join(owners, on="pregnancy_id").filter(pl.col("bsn") != pl.col("owner")).height == 2
    assert _sql(db, "SELECT COUNT(DISTINCT run_id) FROM phase_decisions")[0][0] == 3


def test_every_igo_gets_exactly_what_the_per_igo_path_gave(db):
    together = distribution_inputs(db, SYSTEM, IGOS, YEAR)
    assert list(together) == IGOS
    for igo_id in IGOS:
        expected = reference_input(db, igo_id, YEAR)
        assert expected.receipts and expected.shadow_claims and expected.activities and expected.quality, igo_id
        _assert_same(expected, together[igo_id], igo_id)
        _assert_same(expected, distribution_input(db, SYSTEM, igo_id, YEAR), igo_id)


def test_the_plans_allocate_identically(db):
    together = distribution_inputs(db, SYSTEM, IGOS, YEAR)
    _, presets = plan_presets()
    plans = [build_plan(info, YEAR) for info in presets.values() if isinstance(info, PlanInfo)]
    assert len(plans) == 3
    for igo_id in IGOS:
        expected = reference_input(db, igo_id, YEAR)
        for plan in plans:
            assert run_plan(plan, together[igo_id]) == run_plan(plan, expected), (igo_id, plan)


def test_a_year_without_money_and_the_scope_of_a_board(db):
    empty = distribution_inputs(db, SYSTEM, IGOS, 2030)
    for igo_id in IGOS:
        assert empty[igo_id] == reference_input(db, igo_id, 2030)
        assert not empty[igo_id].receipts and empty[igo_id].members
    board = Principal(None, "board", Role.IGO_BOARD, igo_id="IGO-02")
    assert distribution_inputs(db, board, ["IGO-02"], YEAR)["IGO-02"] == distribution_input(db, SYSTEM, "IGO-02", YEAR)
    with pytest.raises(NotFoundError):
        distribution_inputs(db, board, IGOS, YEAR)
    with pytest.raises(NotFoundError):
        distribution_inputs(db, SYSTEM, ["IGO-01", "IGO-99"], YEAR)
    assert distribution_inputs(db, SYSTEM, [], YEAR) == {}


def test_own_outcomes_of_pregnancies_that_ended_outside_the_reference_years(db):
    """A pregnancy paid for in a year but ended two years before (a late claim) has no row in the reference; its
    own outcomes are read apart, as the per-IGO path read all of the IGO's."""
    p = tables.pregnancies
    with db.unit_of_work() as connection:
        paid = read_frame(
            connection,
            select(*(p.c[name] for name in PREGNANCY_FRAME)).where(p.c.igo_id == "IGO-01", p.c.end_date.is_not(None)),
            PREGNANCY_FRAME,
        )
        reference = _reference_outcomes(connection, 2028)
    assert reference.is_empty()
    rates, own = _QualityInputs(db, 2028, paid, reference)._frames()
    expected = outcome_frame(db, p.c.igo_id == "IGO-01", financing=False).sort("pregnancy_id")
    assert own.height == paid.height and own.equals(expected)
    assert rates and all(frame["__rate"].null_count() == frame.height for frame in rates.values())  # none there
