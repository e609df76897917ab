"""Use case: decide every pregnancy (or some) and store the decisions with their rule-set versions.

Inputs are read in bulk as columns and decided set-wise by the columnar engine (``rules.bulk.decide_run``, a
national year in seconds, insurer-reported overlaps (0587) included); the pure engine
(``rules.engine.decide_bundle``) decides one pregnancy at a time when a caller wants each decision as an object
(``on_decision``). Both give what a run keeps (``rules.bulk.BulkRun``),
and the run is written set-wise from it. A run is reproducible: it stores ``as_of`` and, per phase, the rule-set
version.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, ClassVar

import polars as pl
from sqlalchemy import Connection, bindparam, insert, select, update

from integraal.data.loader import load_catalogue
from integraal.domain.activity import Activity
from integraal.domain.catalogue import Catalogue
from integraal.domain.pregnancy import Pregnancy
from integraal.rules.bulk import (
    ACTIVITIES_SCHEMA,
    CLAIMS_SCHEMA,
    PHASES_SCHEMA,
    BulkDecisions,
    BulkRun,
    decide_run,
    run_of,
)
from integraal.rules.decision import ActivityOutcome, Disposition, Outcome, PregnancyDecision
from integraal.rules.engine import DecisionContext, decide_bundle
from integraal.rules.matching import TrajectoryIndex
from integraal.rules.reasons import ReasonCode
from integraal.services import audit
from integraal.store import tables
from integraal.store.background_read import read_meanwhile
from integraal.store.bulk import PreparedRows, in_values, insert_frame, insert_prepared, prepare_rows, read_frame
from integraal.store.database import Database
from integraal.store.repositories import (
    load_activities,
    load_context,
    load_pregnancies,
    load_pregnancies_of_bsn,
)

PREGNANCY_SCHEMA: dict[str, pl.DataType] = {
    "pregnancy_id": pl.String(),
    "bsn": pl.String(),
    "uzovi": pl.String(),
    "igo_id": pl.String(),
    "intake_date": pl.Date(),
    "due_date": pl.Date(),
    "labour_date": pl.Date(),
    "end_date": pl.Date(),
    "end_reason": pl.String(),
    "referral_date": pl.Date(),
    "referral_stage": pl.String(),
}
"""The pregnancies as ``decide_frames`` reads them (storage column names)."""

TRAJECTORY_SCHEMA: dict[str, pl.DataType] = {
    "pregnancy_id": pl.String(),
    "bsn": pl.String(),
    "intake_date": pl.Date(),
    "end_date": pl.Date(),
}
"""What matching an activity to a trajectory needs of a pregnancy."""

_PROGRESS_STEP = 2_000


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
    with db.unit_of_work() as connection, ExitStack() as stack:
        # Read before the context: every report seen owed here is in the context (PostgreSQL reads each
        # statement's own snapshot), so the run may mark it decided.
        owed = _owed_redecisions(connection, pregnancy_ids) if store else []
        # Every activity (a whole run) is read on a connection of its own while the rest is read here.
        every_activity = (
            stack.enter_context(read_meanwhile(db, connection, _read_for_matching)) if pregnancy_ids is None else None
        )
        context = load_context(connection, catalogue, pregnancy_ids)
        pregnancies = _load_pregnancy_frame(connection, pregnancy_ids)
        read: _Read | None = None
        if every_activity is not None:
            read = every_activity()
            activities = read.activities
        else:  # those of the women decided
            activities = load_activities(connection, pregnancies["bsn"].unique().sort().to_list())
        # The pure engine decides when every decision is asked for (``on_decision`` sees the objects).
        objects = load_pregnancies(connection, pregnancy_ids) if on_decision is not None else []

    assigned, unmatched = _match(activities, pregnancies, _trailing_days(catalogue), pregnancy_ids is None, read)
    loaded = activities.height
    del activities, read
    # Activities of trajectories not decided here come back with a null pregnancy id and are left out: they were
    # reported as unmatched or are not this run's (some pregnancies).
    prepare = _preparer(pregnancies, db.engine.dialect.name) if store else _counted
    parts: Iterator[_Part]
    if objects:
        mine = assigned.filter(pl.col("pregnancy_id").is_not_null())
        parts = iter([prepare(run_of(_decide_one_by_one(objects, mine, context, as_of, on_decision, progress)))])
    else:
        parts = _decided_in_parts(
            pregnancies, assigned, context, as_of, progress, prepare, parts=_parts_for(pregnancies.height, store)
        )
    del assigned

    def summarise(counts: Sequence[_Counts]) -> RunSummary:
        return _summarise(counts, unmatched, as_of, pregnancies.height, loaded)

    if not store:
        return summarise([part.counts for part in parts])
    return _store_run(db, as_of, actor, pregnancies, parts, unmatched, summarise, owed)


PART_PREGNANCIES = 40_000
"""A stored run of more pregnancies is decided in parts of about this many, each while the one before is written
(the columnar engine lets go of the interpreter): a national year's decide stage ≈1.5 s shorter."""


def _parts_for(pregnancies: int, store: bool) -> int:
    return max(1, -(-pregnancies // PART_PREGNANCIES)) if store else 1


@dataclass(slots=True)
class _Counts:
    """What a run's summary counts of a part of it, counted by the thread that decided the part: the parts hold
    disjoint pregnancies, so their counts add up to the whole run's (:func:`_summarise`) and no part's frames
    need to be kept, or put together, once it is written."""

    outcomes: Counter[tuple[str, str]] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    activity_reasons: Counter[str] = field(default_factory=Counter)
    amounts: Counter[str] = field(default_factory=Counter)
    lines: Counter[str] = field(default_factory=Counter)
    dispositions: Counter[str] = field(default_factory=Counter)
    not_fully_integral: int = 0  # pregnancies with a phase neither integral nor not applicable
    with_fallback: int = 0
    versions: set[str] = field(default_factory=set)  # the rule-set versions of its phases

    COUNTERS: ClassVar[tuple[str, ...]] = (
        "outcomes",
        "reasons",
        "activity_reasons",
        "amounts",
        "lines",
        "dispositions",
    )
    """The counters a part has in common with :class:`RunSummary` (same names): added up by :func:`_summarise`."""


@dataclass(frozen=True, slots=True)
class _Part:
    """A part of a run as decided, its counts, and its rows to store (phase decisions, claim lines, activities
    not claimed), counted and prepared by the thread that decided it (:func:`_preparer`)."""

    decided: BulkRun
    counts: _Counts
    rows: tuple[PreparedRows, ...] = ()


def _counted(decided: BulkRun) -> _Part:
    """A part counted, nothing to store."""
    return _Part(decided, _count(decided))


def _preparer(pregnancies: pl.DataFrame, dialect: str) -> Callable[[BulkRun], _Part]:
    """Prepares each part's rows for storing, given the parts in order (the claim lines are numbered on across
    them). Called in the thread that decides, so that the writing thread only writes: the columnar part of the
    writes (dates as text, repeating values numbered: ``store.bulk.prepare_rows``) is ≈0.5 s of a national run,
    and the rules leave room beside the writes for it."""
    owners = pregnancies.select("pregnancy_id", "igo_id", "uzovi")
    lines = 0

    def prepare(decided: BulkRun) -> _Part:
        nonlocal lines
        phase_rows = decided.phases.join(owners, on="pregnancy_id", how="left", maintain_order="left")
        claim_rows = decided.claims.with_row_index("line_no", offset=lines + 1).with_columns(
            pl.col("line_no").cast(pl.Int64)
        )
        lines += decided.claims.height
        # Only activities that were not claimed are stored (claimed ones are listed on their line), in pregnancy
        # and activity id order (the parts come in pregnancy order: the whole run's order).
        unclaimed = decided.unclaimed.sort("pregnancy_id", "activity_id")
        return _Part(
            decided,
            _count(decided),
            (
                prepare_rows(tables.phase_decisions, phase_rows, dialect),
                prepare_rows(tables.claim_lines, claim_rows, dialect),
                prepare_rows(tables.activity_outcomes, unclaimed, dialect),
            ),
        )

    return prepare


def _decided_in_parts(
    pregnancies: pl.DataFrame,
    activities: pl.DataFrame,
    context: DecisionContext,
    as_of: date,
    progress: Callable[[int], None] | None,
    prepare: Callable[[BulkRun], _Part],
    *,
    parts: int,
) -> Iterator[_Part]:
    """``decide_run`` over ``parts`` slices of the pregnancies (in id order, each with its activities), each then
    ``prepare``d, the next one in a worker thread while the caller stores the one given. The parts' frames,
    concatenated in order, are the whole run's (a pregnancy is decided from its own activities alone; phases,
    lines and the activities not claimed come in pregnancy order); their tallies add up."""
    if pregnancies.height == 0 or parts <= 1:
        decided = prepare(decide_run(pregnancies, activities, context, as_of))
        if progress is not None and pregnancies.height:
            progress(pregnancies.height)
        yield decided
        return
    slices = _split(pregnancies, activities, parts)

    def decide(n: int) -> _Part:
        return prepare(decide_run(*slices[n], context, as_of))

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="integraal-decide") as worker:
        coming = worker.submit(decide, 0)
        for n in range(parts):
            decided = coming.result()
            if n + 1 < parts:
                coming = worker.submit(decide, n + 1)
            if progress is not None:
                progress(slices[n][0].height)
            slices[n] = (pregnancies.clear(), activities.clear())  # let go of a part once decided
            yield decided


def _split(pregnancies: pl.DataFrame, activities: pl.DataFrame, parts: int) -> list[tuple[pl.DataFrame, pl.DataFrame]]:
    """``pregnancies`` (in id order) cut into ``parts`` slices of nearly equal size, each with its activities.

    Activities in pregnancy id order (as ``_match`` returns them) are cut where the next part's first id begins:
    slices of the frames, nothing copied. An activity whose trajectory is not among the pregnancies then goes
    with the part its id sorts into (the engine reports it, in whichever part). Otherwise each is looked up."""
    height = pregnancies.height
    starts = [-(-n * height // parts) for n in range(parts)] + [height]
    ids = activities["pregnancy_id"]
    if ids.null_count() == 0 and ids.is_sorted():
        firsts = pregnancies["pregnancy_id"].gather(starts[1:-1])
        cuts = [0, *ids.search_sorted(firsts, side="left").to_list(), activities.height]
    else:  # not in order: a pregnancy's activities found by a join (an unknown trajectory's go with the last part)
        part = pl.int_range(pl.len(), dtype=pl.Int64) * parts // pl.len()
        numbered = pregnancies.select("pregnancy_id", part.alias("_part"))
        of_part = activities.join(numbered, on="pregnancy_id", how="left", maintain_order="left").with_columns(
            pl.col("_part").fill_null(parts - 1)
        )
        own = of_part.partition_by("_part", as_dict=True, include_key=False)  # one pass, not one filter per part
        return [
            (pregnancies.slice(starts[n], starts[n + 1] - starts[n]), own.pop((n,), activities.clear()))
            for n in range(parts)
        ]
    return [
        (pregnancies.slice(starts[n], starts[n + 1] - starts[n]), activities.slice(cuts[n], cuts[n + 1] - cuts[n]))
        for n in range(parts)
    ]


def _owed_redecisions(connection: Connection, pregnancy_ids: Sequence[str] | None) -> list[tuple[str, str, str]]:
    """The insurer-reported overlaps (of ``pregnancy_ids``, or all) that no stored run has decided yet, by key;
    only those of stored pregnancies (the ones the run decides)."""
    o, p = tables.reported_overlaps, tables.pregnancies
    query = (
        select(o.c.pregnancy_id, o.c.phase, o.c.line_id)
        .join(p, p.c.pregnancy_id == o.c.pregnancy_id)
        .where(o.c.decided_in_run.is_(None))
    )
    if pregnancy_ids is not None:
        query = query.where(in_values(o.c.pregnancy_id, pregnancy_ids))
    return [(r.pregnancy_id, r.phase, r.line_id) for r in connection.execute(query)]


def _load_pregnancy_frame(connection: Connection, pregnancy_ids: Sequence[str] | None) -> pl.DataFrame:
    """The pregnancies (all, or those named) as columns, sorted by id as Python sorts strings."""
    t = tables.pregnancies
    query = select(*(t.c[name] for name in PREGNANCY_SCHEMA))
    if pregnancy_ids is not None:
        query = query.where(in_values(t.c.pregnancy_id, pregnancy_ids))
    # Sorted here, not by the database: PostgreSQL's collation may order ids differently from Python.
    return read_frame(connection, query, PREGNANCY_SCHEMA).sort("pregnancy_id")


def _trailing_days(catalogue: Catalogue) -> int:
    """How long after its end a trajectory takes activities that name none: the longest postnatal phase."""
    return max((r.postnatal_days for y in catalogue.years if (r := catalogue.for_year(y))), default=42)


def _decide_one_by_one(
    pregnancies: Sequence[Pregnancy],
    activities: pl.DataFrame,
    context: DecisionContext,
    as_of: date,
    on_decision: Callable[[PregnancyDecision], None] | None,
    progress: Callable[[int], None] | None,
) -> BulkDecisions:
    """``decide_bundle`` per pregnancy (in id order), collected into the frames ``decide_frames`` gives."""
    by_id = {p.pregnancy_id: p for p in pregnancies}
    decided: list[tuple[Pregnancy, PregnancyDecision]] = []
    for pregnancy_id, acts in _iter_groups(activities, by_id):
        decision = decide_bundle(by_id[pregnancy_id], acts, context, as_of)
        if on_decision is not None:
            on_decision(decision)
        decided.append((by_id[pregnancy_id], decision))
        if progress is not None and len(decided) % _PROGRESS_STEP == 0:
            progress(_PROGRESS_STEP)
    if progress is not None and len(decided) % _PROGRESS_STEP:
        progress(len(decided) % _PROGRESS_STEP)
    return _decisions_as_frames([d for _, d in decided])


def _decisions_as_frames(decisions: Sequence[PregnancyDecision]) -> BulkDecisions:
    """Engine decisions as the frames of ``decide_frames`` (claim lines in the engine's order)."""
    phases: list[tuple[Any, ...]] = []
    claims: list[tuple[Any, ...]] = []
    outcomes: list[tuple[Any, ...]] = []
    for decision in decisions:
        for phase in decision.phases:
            phases.append(
                (
                    decision.pregnancy_id,
                    phase.phase.value,
                    phase.outcome.value,
                    " ".join(phase.reason_codes),
                    phase.ruleset_version,
                    phase.contract_id,
                )
            )
            claims.extend(
                (
                    line.pregnancy_id,
                    line.phase.value,
                    line.kind.value,
                    line.prestatie_code,
                    line.claimant_agb,
                    line.uzovi,
                    int(line.quantity * 100),
                    line.tariff_cents,
                    line.amount_cents,
                    line.service_start,
                    line.service_end,
                    line.declaration_date,
                    line.tariff_source,
                    " ".join(line.activity_ids),
                )
                for line in phase.claims
            )
        outcomes.extend(
            (
                o.activity_id,
                decision.pregnancy_id,
                o.disposition.value,
                o.reason.value if o.reason else None,
                o.phase.value if o.phase else None,
                o.prestatie_code,
            )
            for o in decision.activities
        )
    return BulkDecisions(
        phases=pl.DataFrame(phases, schema=PHASES_SCHEMA, orient="row"),
        claims=pl.DataFrame(claims, schema=CLAIMS_SCHEMA, orient="row"),
        activities=pl.DataFrame(outcomes, schema=ACTIVITIES_SCHEMA, orient="row"),
    )


def _count(decided: BulkRun) -> _Counts:
    """A part's counts and amounts, by group-bys over its frames."""
    counts = _Counts()
    phases, claims, tally = decided.phases, decided.claims, decided.tally
    counts.outcomes.update(
        {(phase, outcome): n for phase, outcome, n in phases.group_by("phase", "outcome").len().iter_rows()}
    )
    reasons = phases.select(pl.col("reasons").str.split(" ").explode()).filter(pl.col("reasons") != "")
    counts.reasons.update(dict(reasons.group_by("reasons").len().iter_rows()))
    for kind, amount, n in claims.group_by("kind").agg(pl.col("amount_cents").sum(), pl.len()).iter_rows():
        counts.amounts[kind] = int(amount)
        counts.lines[kind] = int(n)
    counts.dispositions.update(dict(tally.group_by("disposition").agg(pl.col("n").sum()).iter_rows()))
    not_claimed = tally.filter(pl.col("reason").is_not_null() & (pl.col("disposition") != Disposition.CLAIMED.value))
    counts.activity_reasons.update(dict(not_claimed.group_by("reason").agg(pl.col("n").sum()).iter_rows()))
    whole = (Outcome.INTEGRAL.value, Outcome.NOT_APPLICABLE.value)
    counts.not_fully_integral = _distinct_pregnancies(phases.filter(~pl.col("outcome").is_in(whole)))
    counts.with_fallback = _distinct_pregnancies(phases.filter(pl.col("outcome") == Outcome.FALLBACK.value))
    counts.versions.update(v for v in phases["ruleset_version"].unique().to_list() if v)
    return counts


def _summarise(
    counts: Sequence[_Counts], unmatched: pl.Series, as_of: date, pregnancies: int, activities: int
) -> RunSummary:
    """The run's summary: its parts' counts added up, and the activities that matched no trajectory."""
    summary = RunSummary(as_of=as_of, pregnancies=pregnancies, activities=activities, unmatched=unmatched.len())
    not_fully_integral = 0
    for part in counts:
        for name in _Counts.COUNTERS:
            getattr(summary, name).update(getattr(part, name))
        not_fully_integral += part.not_fully_integral
        summary.pregnancies_with_fallback += part.with_fallback
    if unmatched.len():
        summary.dispositions[Disposition.REPORTED.value] += unmatched.len()
        summary.activity_reasons[ReasonCode.NO_TRAJECTORY.value] += unmatched.len()
    # Every pregnancy of the run is decided: fully integral unless one of its phases is anything else.
    summary.pregnancies_fully_integral = pregnancies - not_fully_integral
    return summary


def _distinct_pregnancies(frame: pl.DataFrame) -> int:
    return int(frame["pregnancy_id"].n_unique()) if frame.height else 0


def _store_run(
    db: Database,
    as_of: date,
    actor: str,
    pregnancies: pl.DataFrame,
    parts: Iterator[_Part],
    unmatched: pl.Series,
    summarise: Callable[[Sequence[_Counts]], RunSummary],
    owed: Sequence[tuple[str, str, str]] = (),
) -> RunSummary:
    """Write the run set-wise, part after part as they are decided (:func:`_decided_in_parts`), in one
    transaction, and audit it; the ``owed`` reported overlaps it read (their pregnancies decided here) are marked
    decided in it, in the same transaction. The summary of the whole run, with its id."""
    first = next(parts)  # decided before the transaction begins (a caller's progress sees no write under way)
    done: list[_Counts] = []
    with db.unit_of_work() as connection:
        result = connection.execute(
            insert(tables.decision_runs).values(
                as_of=as_of,
                created_at=datetime.now(UTC),
                actor=actor,
                pregnancies=pregnancies.height,
                ruleset_versions="",  # known once every part is decided (below)
            )
        )
        run_id = int(result.inserted_primary_key[0])  # type: ignore[index]
        run = pl.lit(run_id, dtype=pl.Int64).alias("run_id")
        coming = itertools.chain([first], parts)
        del first
        for part in coming:  # each part's frames let go of once written: only its counts are kept
            for rows in part.rows:
                insert_prepared(connection, rows, {"run_id": run_id})
            done.append(part.counts)
        # … and the activities that matched no trajectory.
        unmatched_rows = pl.DataFrame({"activity_id": unmatched}).select(
            "activity_id",
            pl.lit(None, dtype=pl.String).alias("pregnancy_id"),
            pl.lit(Disposition.REPORTED.value, dtype=pl.String).alias("disposition"),
            pl.lit(ReasonCode.NO_TRAJECTORY.value, dtype=pl.String).alias("reason"),
            pl.lit(None, dtype=pl.String).alias("phase"),
        )
        insert_frame(connection, tables.activity_outcomes, unmatched_rows.with_columns(run))
        summary = summarise(done)
        summary.run_id = run_id
        versions = sorted(set().union(*(part.versions for part in done)))
        r = tables.decision_runs
        connection.execute(update(r).where(r.c.run_id == run_id).values(ruleset_versions=" ".join(versions)))
        if owed:
            o = tables.reported_overlaps
            connection.execute(
                update(o)
                .where(
                    o.c.pregnancy_id == bindparam("p"),
                    o.c.phase == bindparam("ph"),
                    o.c.line_id == bindparam("l"),
                    o.c.decided_in_run.is_(None),
                )
                .values(decided_in_run=run_id),
                [{"p": p, "ph": ph, "l": line} for p, ph, line in owed],
            )
        audit.record(
            connection,
            actor,
            "decide",
            "decision_run",
            str(run_id),
            as_of=as_of.isoformat(),
            pregnancies=summary.pregnancies,
            integral_cents=summary.amounts.get("integral", 0),
            mono_cents=summary.amounts.get("mono", 0),
        )
    return summary


# --- matching activities to trajectories --------------------------------------------------------------------


def _assign(
    frame: pl.DataFrame, index: TrajectoryIndex, report_unmatched: bool
) -> tuple[pl.DataFrame, list[ActivityOutcome]]:
    """Give every activity its trajectory: the id it names, or the one running on its date for its BSN."""
    trajectories = [p for pregnancy_id in index.ids() if (p := index.get(pregnancy_id)) is not None]
    frame_of_index = pl.DataFrame(
        {
            "pregnancy_id": [p.pregnancy_id for p in trajectories],
            "bsn": [p.bsn for p in trajectories],
            "intake_date": [p.intake_date for p in trajectories],
            "end_date": [p.end_date for p in trajectories],
        },
        schema=TRAJECTORY_SCHEMA,
    )
    assigned, unmatched = _match(frame, frame_of_index, index.trailing_days, report_unmatched)
    return assigned, [ActivityOutcome(a, Disposition.REPORTED, ReasonCode.NO_TRAJECTORY) for a in unmatched]


@dataclass(frozen=True, slots=True)
class _Read:
    """Every activity, and what matching asks of them that needs no pregnancy (:func:`_read_for_matching`)."""

    activities: pl.DataFrame
    ordered: bool  # ``_is_in_order``: in the engine's order where they name a trajectory
    named: pl.Series  # the trajectory ids they name, once per run of equal ids

    @classmethod
    def of(cls, activities: pl.DataFrame) -> _Read:
        return cls(activities, _is_in_order(activities), _runs_of_ids(activities))


def _read_for_matching(connection: Connection) -> _Read:
    """Every activity, with their order and the ids they name: found in the thread that reads them, beside the
    pregnancies' read (``read_meanwhile``), instead of after both; matching then looks again only at the rows it
    gives an id (a national run's matching ≈0.22 → ≈0.10 s)."""
    return _Read.of(load_activities(connection))


def _runs_of_ids(frame: pl.DataFrame) -> pl.Series:
    """The pregnancy ids ``frame`` names, once per run of equal ids (the frame is mostly in id order)."""
    return frame["pregnancy_id"].rle().struct.field("value").drop_nulls()


def _match(
    frame: pl.DataFrame,
    trajectories: pl.DataFrame,
    trailing_days: int,
    report_unmatched: bool,
    read: _Read | None = None,
) -> tuple[pl.DataFrame, pl.Series]:
    """``_assign`` on a frame of trajectories (``TRAJECTORY_SCHEMA``); the unmatched as sorted activity ids.

    Activities naming a trajectory keep it, also one that does not exist (deleted since): those are reported,
    not lost. The others get ``running_on``'s trajectory; the ones that fit none are reported. ``read``: what is
    already known of ``frame`` (its order and the ids it names), so that only what the trajectories change is
    looked at again."""
    missing = frame.select(pl.arg_where(pl.col("pregnancy_id").is_null())).to_series()
    found = _running_on(frame[missing], trajectories, trailing_days)
    # Filled in place: activities come from storage in the engine's order, those naming no trajectory included.
    assigned = frame.with_columns(frame["pregnancy_id"].scatter(missing, found)) if missing.len() else frame
    unmatched = pl.Series("activity_id", [], dtype=pl.String)
    removed = found.null_count() > 0
    if removed:
        if report_unmatched:
            unmatched = frame["activity_id"].gather(missing.filter(found.is_null()))
        assigned = assigned.filter(pl.col("pregnancy_id").is_not_null())
    if report_unmatched:
        # The ids named, looked up in the known ones (the ones found are known).
        named = read.named if read is not None else _runs_of_ids(assigned)
        unknown = named.filter(~named.is_in(trajectories["pregnancy_id"].implode()))
        if unknown.len():
            orphans = assigned.filter(pl.col("pregnancy_id").is_in(unknown.implode()))
            unmatched = pl.concat([unmatched, orphans["activity_id"]])
        unmatched = unmatched.sort()
    if read is not None and not removed:  # the rows are where they were: only those given an id can be out of order
        ordered = read.ordered and _is_in_order_around(assigned, missing)
    else:
        ordered = _is_in_order(assigned)
    return assigned if ordered else assigned.sort(_ORDER), unmatched


_ORDER = ("pregnancy_id", "date", "activity_id")


def _is_in_order(frame: pl.DataFrame) -> bool:
    """Are the rows strictly sorted by (pregnancy id, date, activity id)? (Activity ids are unique.)"""
    return bool(frame.select(_after_the_one_before().fill_null(True).all()).item())


def _after_the_one_before() -> pl.Expr:
    """Per row: does it come after the row before it in (pregnancy id, date, activity id) order? (Null where
    either has no pregnancy id, and for the first row.)"""
    pregnancy, day, activity = (pl.col(name) for name in _ORDER)
    same = pregnancy == pregnancy.shift()
    return (pregnancy > pregnancy.shift()) | (
        same & ((day > day.shift()) | ((day == day.shift()) & (activity > activity.shift())))
    )


def _is_in_order_around(frame: pl.DataFrame, rows: pl.Series) -> bool:
    """``_is_in_order`` for the pairs of neighbouring rows of which one is among ``rows`` (positions): the only
    pairs that can have left the order when ``frame`` was in it apart from ``rows``. The rows and their
    neighbours are taken out in order (one gather of a few thousand rows) and compared where they neighbour."""
    rows = rows.cast(pl.Int64)
    near = pl.concat([rows - 1, rows, rows + 1]).unique().sort()
    near = near.filter((near >= 0) & (near < frame.height))
    # Column by column: a frame whose columns are cut into different chunks is aligned (copied) when selected.
    taken = pl.DataFrame([frame.get_column(name).gather(near) for name in _ORDER]).with_columns(near.alias("_at"))
    neighbours = pl.col("_at") == pl.col("_at").shift() + 1
    return bool(taken.select((_after_the_one_before() | ~neighbours).fill_null(True).all()).item())


def _running_on(activities: pl.DataFrame, trajectories: pl.DataFrame, trailing_days: int) -> pl.Series:
    """``TrajectoryIndex.running_on`` for every row (``bsn``, ``date``): the pregnancy id, or null.

    That is the woman's trajectory with the latest (intake date, id) among those begun by the date whose end plus
    ``trailing_days`` is not before it. Numbering the trajectories in (intake, id) order makes "begun by the date"
    a bound on the number, so an as-of join per BSN finds the latest; where that one ended too long ago, an older
    one may still run (rare): those few rows try every older trajectory of the woman."""
    if activities.height == 0:
        return pl.Series("pregnancy_id", [], dtype=pl.String)
    ordered = (
        trajectories.select(
            "pregnancy_id", "bsn", "intake_date", (pl.col("end_date") + pl.duration(days=trailing_days)).alias("_until")
        )
        .sort("intake_date", "pregnancy_id")
        .with_row_index("_ord")
        .with_columns(pl.col("_ord").cast(pl.Int64))
    )
    bound = ordered["intake_date"].search_sorted(activities["date"], side="right").cast(pl.Int64) - 1
    runs = pl.col("_until").is_null() | (pl.col("date") <= pl.col("_until"))
    latest = (
        activities.select("bsn", "date")
        .with_row_index("_i")
        .with_columns(bound.alias("_bound"))
        .sort("_bound")
        .join_asof(
            ordered.drop("intake_date"),
            left_on="_bound",
            right_on="_ord",
            by="bsn",
            strategy="backward",
            check_sortedness=False,  # both sides are sorted on the key just above
        )
        .with_columns(pl.when(runs).then(pl.col("pregnancy_id")).alias("pregnancy_id"))
    )
    too_old = latest.filter(pl.col("_ord").is_not_null() & pl.col("pregnancy_id").is_null())
    older = (
        too_old.select("_i", "bsn", "date", pl.col("_ord").alias("_latest"))
        .join(ordered.drop("intake_date"), on="bsn")
        .filter((pl.col("_ord") < pl.col("_latest")) & runs)
        .group_by("_i")
        .agg(pl.col("pregnancy_id").sort_by("_ord").last().alias("_older"))
    )
    return (
        latest.join(older, on="_i", how="left")
        .sort("_i")
        .select(pl.coalesce("pregnancy_id", "_older").alias("pregnancy_id"))
        .to_series()
    )


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
    assigned, _ = _assign(frame, TrajectoryIndex(siblings, _trailing_days(catalogue)), report_unmatched=False)
    acts = next(
        (acts for pid, acts in _iter_groups(assigned, {pregnancy_id: pregnancies[0]}) if pid == pregnancy_id),
        [],
    )
    return pregnancies[0], acts, decide_bundle(pregnancies[0], acts, context, as_of), context
