"""What the distribution models divide, read from the database: the input of one IGO (or several) for one year.

- **receipts**: the integral claim lines of the latest decision of each of the IGO's pregnancies whose
  declaration date falls in the year — the bundled money the IGO receives for them;
- **pregnancies**: each with its client profile (derived from the trajectory) and its phase outcomes;
- **shadow claims**: what each member would have claimed on its own (*schaduwdeclaratie*). The trajectories are
  decided once more without contracts, so every phase falls back and the engine prices each member's care at the
  NZa tariffs, exactly as in a real fallback; done by the columnar engine for the whole year at once, which
  sums the mono lines without building them (``rules.bulk.shadow_amounts``);
- **activity counts** per member and activity type, and the **members** with their discipline.

Members are the providers with a membership of the IGO in the year. Availability units default to one for the
disciplines that keep 24/7 readiness (midwives, hospital, gynaecologists, kraamzorg) and zero for the others;
quality scores come from the outcome indicators (``insight.quality``): per member, over the pregnancies it cared
for, case-mix adjusted against the country's pregnancies that ended in the year or the year before; without
registered outcomes there are none and a quality pool stays with the IGO as a quality fund.

An activity belongs to the trajectory it names or, naming none, to the newest of its woman's trajectories *paid
for the IGO in the year* that runs on its date (the IGO's own view: its other trajectories are not its care).

:func:`distribution_inputs` reads what several IGOs need once — every table once per call (not once per IGO
and woman), the country's reference outcomes once — and derives each IGO's input from frames, handing them over
as columns (``DistributionInput.from_frames``: no row objects unless a caller asks; issue 7);
:func:`distribution_input` is the same for one IGO.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from decimal import Decimal

import polars as pl
from sqlalchemy import ColumnElement, Connection, or_, select, true

from integraal.data.loader import load_catalogue
from integraal.distribution import DistributionInput, InputFrames, Member, QualityScore
from integraal.distribution.inputs import (
    ACTIVITY_COLUMNS,
    OUTCOME_COLUMNS,
    PREGNANCY_COLUMNS,
    RECEIPT_COLUMNS,
    SHADOW_COLUMNS,
)
from integraal.domain.contract import ContractBook
from integraal.domain.provider import Discipline
from integraal.insight import load_indicators
from integraal.insight.quality import member_scores, reference_rates
from integraal.rules.bulk import shadow_amounts
from integraal.rules.engine import DecisionContext
from integraal.services.access import Action, NotFoundError, Principal, Role, require
from integraal.services.decisions import PREGNANCY_SCHEMA
from integraal.services.insight import outcome_frame, profile_expr
from integraal.store import activity_blocks, tables
from integraal.store.background_read import read_meanwhile
from integraal.store.bulk import in_values, read_frames
from integraal.store.database import Database
from integraal.store.repositories import ACTIVITY_SCHEMA, load_activities, load_context

READY_DISCIPLINES = frozenset({Discipline.MIDWIFE, Discipline.HOSPITAL, Discipline.GYNAECOLOGIST, Discipline.KRAAMZORG})

IGO_THREADS = 2
"""IGOs whose inputs are derived at the same time (threads): Polars lets go of the interpreter, so two take the
two cores."""

PREGNANCY_FRAME = PREGNANCY_SCHEMA  # the pregnancies as the columnar engine reads them (services.decisions)
RECEIPT_FRAME = {"pregnancy_id": pl.String(), "phase": pl.String(), "run_id": pl.Int64(), "amount_cents": pl.Int64()}
DECISION_FRAME = {"pregnancy_id": pl.String(), "phase": pl.String(), "run_id": pl.Int64(), "outcome": pl.String()}


def distribution_input(db: Database, principal: Principal, igo_id: str, year: int) -> DistributionInput:
    """The input of ``igo_id``'s distribution for ``year`` (see the module docstring)."""
    return distribution_inputs(db, principal, [igo_id], year)[igo_id]


def distribution_inputs(
    db: Database, principal: Principal, igo_ids: Iterable[str], year: int
) -> dict[str, DistributionInput]:
    """The input of every IGO in ``igo_ids`` for ``year``, each exactly what :func:`distribution_input` gives
    it, read together (module docstring). Refuses the whole call if one IGO is unknown or out of scope."""
    require(principal, Action.SIMULATE_DISTRIBUTION)
    wanted = list(dict.fromkeys(igo_ids))
    for igo_id in wanted:
        if principal.role is not Role.SUPERUSER and principal.igo_id != igo_id:
            raise NotFoundError("igo", igo_id)
    if not wanted:
        return {}
    start, end = date(year, 1, 1), date(year, 12, 31)
    catalogue = load_catalogue()
    with db.unit_of_work() as connection:
        every_igo = set(connection.execute(select(tables.igos.c.igo_id)).scalars())
        for igo_id in wanted:
            if igo_id not in every_igo:
                raise NotFoundError("igo", igo_id)
        members = _members(connection, wanted, start, end)
        everyone = every_igo <= set(wanted)

        # In the background, on a connection of its own: the activities, then the country's outcomes for the
        # quality reference (together ≈1.5 s of a national year, while this thread reads the decisions).
        def background(own: Connection) -> tuple[pl.DataFrame, pl.DataFrame]:
            return _activities(own, None if everyone else wanted), _reference_outcomes(own, year)

        with read_meanwhile(db, connection, background) as background_read:
            receipts, outcomes, pregnancies = _decided(connection, wanted, start, end, everyone)
            context = load_context(connection, catalogue)
            # The pregnancies paid for in the year, in id order, with their IGO (every per-IGO frame is a part).
            paid = pregnancies.join(receipts.select("pregnancy_id").unique(), on="pregnancy_id", how="semi").sort(
                "pregnancy_id"
            )
            receipts = receipts.join(paid.select("pregnancy_id", "igo_id"), on="pregnancy_id", how="inner").sort(
                "pregnancy_id", "phase", "amount_cents"
            )
            profiles, own_outcomes = _pregnancy_frames(paid, outcomes)
            activities, reference = background_read()
            quality = _QualityInputs(db, year, paid, reference)
            if paid.height:
                quality.prefetch()

    trailing = max((r.postnatal_days for y in catalogue.years if (r := catalogue.for_year(y))), default=42)
    # Which activities are each IGO's care, in one pass (nine filters of four million rows cost twice as much);
    # the rows themselves are taken out per IGO, in its thread, when it is its turn.
    care_of = _assign_to_paid(activities, paid, trailing)
    # No contracts: every phase falls back and the members' care is priced as they would claim it alone.
    no_contracts = DecisionContext(catalogue, context.providers, context.igos, context.memberships, ContractBook())

    def one(igo_id: str) -> DistributionInput:
        """The input of ``igo_id`` from the frames above: no database (the quality frames are read)."""
        own_members = members.get(igo_id, ())
        agbs = pl.Series("agb", sorted({m.agb for m in own_members}), dtype=pl.String())
        own_paid = paid.filter(pl.col("igo_id") == igo_id)
        rows = care_of.pop((igo_id,), None)  # None: no care at all
        own_acts = _care(activities, rows) if rows is not None else None
        del rows
        shadow = pl.DataFrame(schema=SHADOW_COLUMNS)
        counts = pl.DataFrame(schema=ACTIVITY_COLUMNS)
        scores: tuple[QualityScore, ...] = ()
        if own_acts is not None and own_acts.height:
            amounts = shadow_amounts(own_paid.select(*PREGNANCY_FRAME), own_acts, no_contracts, end)
            shadow = _shadow_claims(amounts, agbs)
            care = own_acts.filter(pl.col("agb").is_in(agbs.implode()))
            counts = _activity_counts(care)
            scores = quality.scores(own_paid["pregnancy_id"], care)
        frames = InputFrames(
            receipts=receipts.filter(pl.col("igo_id") == igo_id).select(*RECEIPT_COLUMNS),
            pregnancies=profiles.filter(pl.col("igo_id") == igo_id).select(*PREGNANCY_COLUMNS),
            outcomes=own_outcomes.filter(pl.col("igo_id") == igo_id).select(*OUTCOME_COLUMNS),
            shadow_claims=shadow,
            activities=counts,
        )
        return DistributionInput.from_frames(year, own_members, frames, scores)

    # Two IGOs at a time: their shadow claims are priced in Polars, which lets go of the interpreter.
    with ThreadPoolExecutor(max_workers=IGO_THREADS, thread_name_prefix="integraal-igo") as pool:
        return dict(zip(wanted, pool.map(one, wanted), strict=True))


# --- reading ---------------------------------------------------------------------------------------------------


def _members(connection: Connection, igo_ids: list[str], start: date, end: date) -> dict[str, tuple[Member, ...]]:
    """Per IGO its members in the year, by AGB."""
    m, prov = tables.memberships, tables.providers
    found: dict[str, list[Member]] = {}
    for igo_id, agb, discipline, name in connection.execute(
        select(m.c.igo_id, prov.c.agb, prov.c.discipline, prov.c.name)
        .join(m, m.c.agb == prov.c.agb)
        .where(m.c.igo_id.in_(igo_ids), m.c.start_date <= end, or_(m.c.end_date.is_(None), m.c.end_date >= start))
        .group_by(m.c.igo_id, prov.c.agb, prov.c.discipline, prov.c.name)
        .order_by(m.c.igo_id, prov.c.agb)
    ):
        kind = Discipline(discipline)
        found.setdefault(igo_id, []).append(Member(agb, kind, name, Decimal(1 if kind in READY_DISCIPLINES else 0)))
    return {igo_id: tuple(rows) for igo_id, rows in found.items()}


def _decided(
    connection: Connection, igo_ids: list[str], start: date, end: date, everyone: bool = False
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """The IGOs' receipts in the year and phase outcomes (both of the current decisions), and their pregnancies.

    The current decision is ``services.latest``'s (per pregnancy and phase the newest run that decided it), taken
    in Polars from the stored decisions: one read along an index instead of a grouped subquery per table.
    For ``everyone`` (every IGO) the decisions and lines are read without the test on their pregnancy (a third
    faster): those of pregnancies without an IGO drop out where receipts and outcomes meet the pregnancies."""
    p, d, c = tables.pregnancies, tables.phase_decisions, tables.claim_lines

    def theirs(pregnancy_id: ColumnElement[str]) -> ColumnElement[bool]:
        return true() if everyone else pregnancy_id.in_(select(p.c.pregnancy_id).where(p.c.igo_id.in_(igo_ids)))

    # The three in one separate process where big SQLite reads go there (a process started once).
    decisions, lines, pregnancies = read_frames(
        connection,
        [
            (
                select(d.c.pregnancy_id, d.c.phase, d.c.run_id, d.c.outcome).where(theirs(d.c.pregnancy_id)),
                DECISION_FRAME,
            ),
            (
                select(c.c.pregnancy_id, c.c.phase, c.c.run_id, c.c.amount_cents).where(
                    theirs(c.c.pregnancy_id),
                    c.c.kind == "integral",
                    c.c.declaration_date >= start,
                    c.c.declaration_date <= end,
                ),
                RECEIPT_FRAME,
            ),
            (select(*(p.c[name] for name in PREGNANCY_FRAME)).where(p.c.igo_id.in_(igo_ids)), PREGNANCY_FRAME),
        ],
        many=True,
    )
    current = decisions.filter(pl.col("run_id") == pl.col("run_id").max().over("pregnancy_id", "phase"))
    receipts = lines.join(current.select("pregnancy_id", "phase", "run_id"), on=["pregnancy_id", "phase", "run_id"])
    return receipts.drop("run_id"), current.drop("run_id"), pregnancies


def _activities(connection: Connection, igo_ids: list[str] | None) -> pl.DataFrame:
    """Every activity that may be care for the IGOs' pregnancies (all IGOs: ``None``, every activity): those
    naming one, and those of their women that name none, in no particular order (nothing derived from them
    depends on it: :func:`_assign_to_paid`)."""
    if igo_ids is None:
        return load_activities(connection)
    p = tables.pregnancies
    theirs = connection.execute(select(p.c.pregnancy_id, p.c.bsn).where(p.c.igo_id.in_(igo_ids))).all()
    return activity_blocks.read_for(connection, [r.pregnancy_id for r in theirs], {r.bsn for r in theirs})


# --- deriving ---------------------------------------------------------------------------------------------------


def _assign_to_paid(
    activities: pl.DataFrame, paid: pl.DataFrame, trailing_days: int
) -> dict[tuple[object, ...], pl.DataFrame]:
    """Each IGO's care, by IGO: the activities of its paid-for women that name one of its paid-for trajectories,
    or name none and fall in one (the newest by intake, then id, that runs from intake to ``trailing_days`` after
    its end). Columnar ``TrajectoryIndex.running_on`` per IGO: an activity of a woman paid for in two IGOs is care
    in both.

    Only which rows: per IGO (key ``(igo_id,)``) the activities' row numbers ``_i`` and, for an activity that
    names no trajectory, the one it falls in (``assigned``); :func:`_care` takes the rows out. Copying every
    activity's columns through the joins and then again into nine parts cost a national year ≈0.7 s and ≈280,000
    page faults before the IGOs could start; the keys alone ≈0.25 s and ≈50,000 (the rows are then taken out per
    IGO, in its thread, into memory the IGO before let go of). Unsorted: the decision, the counts and the scores
    do not depend on row order (sorting four million rows by four keys costs more than it saves the engine)."""
    trajectories = paid.lazy().select("pregnancy_id", "igo_id", "bsn", "intake_date", "end_date")
    women = trajectories.select("igo_id", "bsn").unique()
    keys = activities.lazy().select(pl.int_range(pl.len(), dtype=pl.UInt32).alias("_i"), "pregnancy_id", "bsn", "date")
    # The join drops the activities that name none (a null key matches nothing): no filtered copy first.
    named = keys.select("_i", "pregnancy_id", "bsn").join(
        trajectories.select("pregnancy_id", "igo_id", pl.col("bsn").alias("own_bsn")), on="pregnancy_id"
    )
    # Almost always the woman's own; one of another woman counts if the IGO was paid for her too (and the
    # engine then reports the mismatch), as when activities were read per woman.
    named = pl.concat(
        [
            named.filter(pl.col("bsn") == pl.col("own_bsn")),
            named.filter(pl.col("bsn") != pl.col("own_bsn")).join(women, on=["igo_id", "bsn"], how="semi"),
        ]
    ).select("_i", "igo_id", pl.lit(None, dtype=pl.String).alias("assigned"))
    found = (
        keys.filter(pl.col("pregnancy_id").is_null())
        .drop("pregnancy_id")
        .join(trajectories, on="bsn", how="inner")
        .filter(
            pl.col("intake_date") <= pl.col("date"),
            pl.col("end_date").is_null() | (pl.col("date") <= pl.col("end_date") + pl.duration(days=trailing_days)),
        )
        .sort("intake_date", "pregnancy_id", descending=True)
        .unique(["igo_id", "_i"], keep="first", maintain_order=True)
        .select("_i", "igo_id", pl.col("pregnancy_id").alias("assigned"))
    )
    return pl.concat([named, found]).collect().partition_by("igo_id", as_dict=True, include_key=False)


def _care(activities: pl.DataFrame, rows: pl.DataFrame) -> pl.DataFrame:
    """One IGO's care (``ACTIVITY_SCHEMA``): the ``rows`` of :func:`_assign_to_paid` taken out of ``activities``,
    an activity that names no trajectory given the one it falls in."""
    return activities.select(*ACTIVITY_SCHEMA)[rows["_i"]].with_columns(
        pl.coalesce(pl.col("pregnancy_id"), rows["assigned"]).alias("pregnancy_id")
    )


def _pregnancy_frames(paid: pl.DataFrame, outcomes: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The paid-for pregnancies in id order with their profile (``services.insight.profile_expr``, the columnar
    ``derive_client_profile``), and their outcomes sorted by pregnancy and phase; both with ``igo_id``."""
    profiles = paid.select("pregnancy_id", profile_expr().alias("profile"), "igo_id")
    own = (
        outcomes.join(paid.select("pregnancy_id", "igo_id"), on="pregnancy_id", how="inner")
        .sort("pregnancy_id", "phase")
        .select("pregnancy_id", "phase", "outcome", "igo_id")
    )
    return profiles, own


def _shadow_claims(amounts: pl.DataFrame, agbs: pl.Series) -> pl.DataFrame:
    """The members' monodisciplinary claims of the contract-less decision, per pregnancy, phase and member
    (``distribution.inputs.SHADOW_COLUMNS``).

    ``amounts`` is ``rules.bulk.shadow_amounts``: the decision's mono lines already summed. The whole decision
    (``decide_frames``) would also order the lines, list their activities and give every activity's outcome,
    none of which a shadow claim needs: a third of this stage's time on a national year."""
    return (
        amounts.lazy()
        .filter(pl.col("claimant_agb").is_in(agbs.implode()), pl.col("amount_cents") != 0)
        .sort("pregnancy_id", "phase", "claimant_agb")
        .select("pregnancy_id", "phase", pl.col("claimant_agb").alias("agb"), "amount_cents")
        .collect()
    )


def _activity_counts(care: pl.DataFrame) -> pl.DataFrame:
    """How often each member did each activity, per pregnancy (``distribution.inputs.ACTIVITY_COLUMNS``)."""
    return (
        care.lazy()
        .group_by("agb", "activity_code", "pregnancy_id")
        .agg(pl.len().cast(pl.Decimal(38, 0)).alias("count"))
        .sort("agb", "activity_code", "pregnancy_id")
        .select("agb", pl.col("activity_code").alias("activity_type"), "count", "pregnancy_id")
        .collect()  # one query: Polars plans the group-by and sort together (twice as fast as eager steps)
    )


def _reference_years(year: int) -> list[int]:
    """The years whose ended pregnancies are the quality reference of ``year``: it and the year before."""
    return [year - 1, year]


def _reference_outcomes(connection: Connection, year: int) -> pl.DataFrame:
    """The outcomes of the country's pregnancies that ended in :func:`_reference_years`: the quality reference."""
    return outcome_frame(connection, tables.pregnancies.c.igo_id.is_not(None), _reference_years(year), financing=False)


class _QualityInputs:
    """What the quality scores need, derived once per call and only if asked: the country's reference
    (``reference``, :func:`_reference_outcomes`) as stratum rates, and the paid-for pregnancies' own outcomes."""

    def __init__(self, db: Database, year: int, paid: pl.DataFrame, reference: pl.DataFrame) -> None:
        self.db, self.year, self.paid, self.reference = db, year, paid, reference
        self.indicators = list(load_indicators().values())
        self._read: tuple[dict[str, pl.DataFrame], pl.DataFrame] | None = None

    def prefetch(self) -> None:
        """Derive now, before the IGOs' threads: every IGO with care asks."""
        self._frames()

    def _frames(self) -> tuple[dict[str, pl.DataFrame], pl.DataFrame]:
        if self._read is None:
            p = tables.pregnancies
            years = _reference_years(self.year)
            own = self.reference.join(self.paid.select("pregnancy_id"), on="pregnancy_id", how="semi")
            # A pregnancy paid for this year may have ended outside the reference years.
            ended_outside = self.paid.filter(~pl.col("end_date").dt.year().is_in(years))["pregnancy_id"]
            if ended_outside.len():
                earlier = outcome_frame(self.db, in_values(p.c.pregnancy_id, ended_outside.to_list()), financing=False)
                own = pl.concat([own, earlier])
            self._read = reference_rates(self.indicators, self.reference), own.sort("pregnancy_id")
        return self._read

    def scores(self, pregnancy_ids: pl.Series, care: pl.DataFrame) -> tuple[QualityScore, ...]:
        """Each member's indicator scores over the pregnancies it cared for (module docstring)."""
        rates, outcomes = self._frames()
        own = outcomes.filter(pl.col("pregnancy_id").is_in(pregnancy_ids.implode()))
        if own.is_empty():
            return ()
        scores = member_scores(self.indicators, own, care.select("agb", "pregnancy_id"), rates=rates)
        return tuple(QualityScore(s.agb, s.indicator_id, s.score) for s in scores)
