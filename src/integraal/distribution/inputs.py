"""What a distribution model may look at: the money received for a period and the care behind it.

The input is a handful of flat, frozen row types (one tuple per table), so it maps one-to-one onto columns of a
DataFrame or rows of a query, and the core never needs the database. Everything a model needs is here:

- ``members``: the IGO's member providers (AGB, discipline, availability commitment);
- ``receipts``: the integral money received, per phase and, where known, per pregnancy;
- ``pregnancies``: per pregnancy its client profile and the bundle outcome of each phase;
- ``shadow_claims``: what each member *would* have claimed monodisciplinarily for that care (tariff × quantity);
- ``activities``: activity counts per member per activity type (hours for kraamzorg);
- ``quality``: indicator scores per member, each between 0 and 1.

This module also owns the client-profile derivation (DOMAIN.md §5, seed 003 §2.2), a pure function of the
trajectory. It must not import storage, files or the web.
"""

from __future__ import annotations

import gc
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from decimal import Decimal
from enum import StrEnum
from itertools import compress, repeat
from typing import Any, TypeVar

import polars as pl

from integraal.distribution.allocation import fixed_point
from integraal.domain.phase import PHASES, Phase
from integraal.domain.pregnancy import NO_BIRTH_ENDINGS, Pregnancy, ReferralStage
from integraal.domain.provider import Discipline
from integraal.rules.decision import ClaimKind, ClaimLine, Outcome, PregnancyDecision

T = TypeVar("T")
_ZERO = Decimal(0)


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector (if it runs) for the block; reference counting goes on as ever.

    For building or scanning a national year's input (millions of rows, none of them garbage): the collector
    would otherwise pass over every live row again and again while new containers are made, which costs more
    than the work itself. Nothing made in the block is lost; it is examined at the next collection. The pause is
    process-wide (the collector has one switch): a block that found it running turns it back on at its end, even
    while another thread's block still runs (that one is then slower, never wrong); nested blocks leave it off."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class ClientProfile(StrEnum):
    """A category of women with a similar care path (cliëntprofiel), derived from the trajectory.

    Seed 003 also names clinical categories (diabetes, obesity, social risk); they need clinical data the
    trajectory does not carry yet. The capitation weights are keyed by these values, so adding a profile is
    adding an enum member and a default weight.
    """

    LOW_RISK_PRIMARY = "low_risk_primary"  # stayed in primary care throughout (eerstelijns gebleven)
    REFERRED_PREGNANCY = "referred_pregnancy"  # referred to secondary care during pregnancy
    REFERRED_LABOUR = "referred_labour"  # referred during labour (durante partu)
    MEDICAL_INDICATION = "medical_indication"  # secondary care from the start (medische indicatie)
    ENDED_EARLY = "ended_early"  # miscarriage or termination: only (part of) the prenatal phase


PROFILE_NAMES: dict[ClientProfile, tuple[str, str]] = {
    ClientProfile.LOW_RISK_PRIMARY: ("laag risico, eerstelijns gebleven", "low risk, stayed in primary care"),
    ClientProfile.REFERRED_PREGNANCY: ("verwezen tijdens de zwangerschap", "referred during pregnancy"),
    ClientProfile.REFERRED_LABOUR: ("verwezen tijdens de bevalling", "referred during labour"),
    ClientProfile.MEDICAL_INDICATION: ("medische indicatie vanaf de start", "medical indication from the start"),
    ClientProfile.ENDED_EARLY: (
        "vroegtijdig beëindigd (miskraam, afbreking)",
        "ended early (miscarriage, termination)",
    ),
}


def derive_client_profile(pregnancy: Pregnancy) -> ClientProfile:
    """The client profile of a trajectory.

    - a pregnancy that ended without a birth (miscarriage, termination) is ``ENDED_EARLY``, whatever its
      referral: its care path was the short one;
    - otherwise the referral stage decides; when only a referral *date* was recorded, the stage follows from it
      (on the intake day: medical indication; before the start of labour: during pregnancy; else during labour);
    - no referral at all: ``LOW_RISK_PRIMARY``.
    """
    if pregnancy.end_reason in NO_BIRTH_ENDINGS:
        return ClientProfile.ENDED_EARLY
    stage = pregnancy.referral_stage
    if stage is None and pregnancy.referral_date is not None:
        natal_start = pregnancy.natal_start
        if pregnancy.referral_date <= pregnancy.intake_date:
            stage = ReferralStage.INTAKE
        elif natal_start is None or pregnancy.referral_date < natal_start:
            stage = ReferralStage.PREGNANCY
        else:
            stage = ReferralStage.LABOUR
    if stage is ReferralStage.INTAKE:
        return ClientProfile.MEDICAL_INDICATION
    if stage is ReferralStage.PREGNANCY:
        return ClientProfile.REFERRED_PREGNANCY
    if stage is ReferralStage.LABOUR:
        return ClientProfile.REFERRED_LABOUR
    return ClientProfile.LOW_RISK_PRIMARY


@dataclass(frozen=True, slots=True)
class Member:
    """A member provider of the IGO. ``availability_units``: its 24/7 readiness commitment for the period
    (e.g. 1 = a full share in the regional on-call roster), the basis of the availability fee."""

    agb: str
    discipline: Discipline
    name: str = ""
    availability_units: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class Receipt:
    """Integral money received for ``phase`` (negative for a credit), for one pregnancy when known."""

    phase: Phase
    amount_cents: int
    pregnancy_id: str | None = None


@dataclass(frozen=True, slots=True)
class PregnancyRow:
    """One pregnancy in the period: its client profile and the bundle outcome of each phase it reached."""

    pregnancy_id: str
    profile: ClientProfile
    outcomes: tuple[tuple[Phase, Outcome], ...] = ()

    def outcome(self, phase: Phase) -> Outcome | None:
        return next((o for p, o in self.outcomes if p is phase), None)


@dataclass(frozen=True, slots=True)
class ShadowClaim:
    """What member ``agb`` would have claimed monodisciplinarily for ``phase`` of a pregnancy (tariff × quantity)."""

    pregnancy_id: str
    phase: Phase
    agb: str
    amount_cents: int


@dataclass(frozen=True, slots=True)
class ActivityCount:
    """How often (or how many hours) member ``agb`` did ``activity_type``, for one pregnancy when known."""

    agb: str
    activity_type: str
    count: Decimal
    pregnancy_id: str | None = None


@dataclass(frozen=True, slots=True)
class QualityScore:
    """The score of member ``agb`` on a quality ``indicator``: 0 (worst) to 1 (best)."""

    agb: str
    indicator: str
    score: Decimal


@dataclass(frozen=True, slots=True)
class InputProblem:
    """One thing wrong with an input, with where it is (table and row key)."""

    table: str
    key: str
    message: str


class InvalidInputError(ValueError):
    def __init__(self, problems: Iterable[InputProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(f"{p.table}[{p.key}]: {p.message}" for p in self.problems))


RECEIPT_COLUMNS: dict[str, pl.DataType] = {
    "phase": pl.String(),
    "amount_cents": pl.Int64(),
    "pregnancy_id": pl.String(),
}
PREGNANCY_COLUMNS: dict[str, pl.DataType] = {"pregnancy_id": pl.String(), "profile": pl.String()}
OUTCOME_COLUMNS: dict[str, pl.DataType] = {"pregnancy_id": pl.String(), "phase": pl.String(), "outcome": pl.String()}
SHADOW_COLUMNS: dict[str, pl.DataType] = {
    "pregnancy_id": pl.String(),
    "phase": pl.String(),
    "agb": pl.String(),
    "amount_cents": pl.Int64(),
}
ACTIVITY_COLUMNS: dict[str, pl.DataType] = {
    "agb": pl.String(),
    "activity_type": pl.String(),
    "count": pl.Decimal(38, 0),  # the scale is the data's own (the finest count given)
    "pregnancy_id": pl.String(),
}
"""The columns of :class:`InputFrames`: the row types' fields, enum members by value, counts exact (decimal)."""


@dataclass(frozen=True, slots=True)
class InputFrames:
    """The bulky tables of an input as columns, one row per row object and in the same order:

    - ``receipts``: ``RECEIPT_COLUMNS``, one per :class:`Receipt`;
    - ``pregnancies``: ``PREGNANCY_COLUMNS``, one per :class:`PregnancyRow`; ``outcomes`` (``OUTCOME_COLUMNS``)
      their phase outcomes, a row's in its order, rows in the pregnancies' order;
    - ``shadow_claims``: ``SHADOW_COLUMNS``; ``activities``: ``ACTIVITY_COLUMNS``.

    A national IGO's input is a few hundred thousand rows: as columns the derived views take milliseconds, and
    the row objects (a second each to make and to walk) are made only when someone asks for them."""

    receipts: pl.DataFrame
    pregnancies: pl.DataFrame
    outcomes: pl.DataFrame
    shadow_claims: pl.DataFrame
    activities: pl.DataFrame


_TABLES = ("receipts", "pregnancies", "shadow_claims", "activities")
_PHASE_OF = {phase.value: phase for phase in Phase}
_OUTCOME_OF = {outcome.value: outcome for outcome in Outcome}
_PROFILE_OF = {profile.value: profile for profile in ClientProfile}


class DistributionInput:
    """Everything one distribution run looks at, for one IGO and one period (``year``).

    Immutable. Made from row objects (``DistributionInput(year, members, receipts=..., ...)``) or from columns
    (:meth:`from_frames`); each bulky table is kept in the form it was given and turned into the other once,
    when first asked: the derived views below work on the columns, so a plan run on a national IGO never makes
    its million row objects, and a small input made of rows costs a few small frames."""

    __slots__ = ("_frames", "_memo", "_rows", "members", "quality", "year")

    year: int
    members: tuple[Member, ...]
    quality: tuple[QualityScore, ...]
    _rows: dict[str, tuple[Any, ...]]
    _frames: dict[str, pl.DataFrame]
    _memo: dict[Any, Any]

    def __init__(
        self,
        year: int,
        members: Iterable[Member],
        receipts: Iterable[Receipt] = (),
        pregnancies: Iterable[PregnancyRow] = (),
        shadow_claims: Iterable[ShadowClaim] = (),
        activities: Iterable[ActivityCount] = (),
        quality: Iterable[QualityScore] = (),
    ) -> None:
        rows = {
            "receipts": tuple(receipts),
            "pregnancies": tuple(pregnancies),
            "shadow_claims": tuple(shadow_claims),
            "activities": tuple(activities),
        }
        self._init(year, members, quality, rows, {})

    def _init(
        self,
        year: int,
        members: Iterable[Member],
        quality: Iterable[QualityScore],
        rows: dict[str, tuple[Any, ...]],
        frames: dict[str, pl.DataFrame],
    ) -> None:
        set_ = object.__setattr__
        set_(self, "year", year)
        set_(self, "members", tuple(members))
        set_(self, "quality", tuple(quality))
        set_(self, "_rows", rows)  # the tables as rows and as frames, each filled in when first asked
        set_(self, "_frames", frames)
        set_(self, "_memo", {})  # derived views computed once: the input is immutable, a plan asks at every step

    @classmethod
    def from_frames(
        cls, year: int, members: Iterable[Member], frames: InputFrames, quality: Iterable[QualityScore] = ()
    ) -> DistributionInput:
        """The input whose bulky tables are ``frames`` (columns as in ``InputFrames``; checked here)."""
        given = {name: getattr(frames, name) for name in (*_TABLES, "outcomes")}
        for name, schema in _SCHEMAS.items():
            frame = given[name]
            if list(frame.columns) != list(schema):
                raise ValueError(f"{name}: columns {frame.columns}, expected {list(schema)}")
            if name == "activities":  # an exact decimal of any scale
                if not isinstance(frame.schema["count"], pl.Decimal):
                    given[name] = frame.with_columns(pl.col("count").cast(pl.Decimal(38, 0)))
            else:
                given[name] = frame.cast(schema)
        return _rebuilt(year, tuple(members), tuple(quality), {}, given)

    def replace(self, **changes: Any) -> DistributionInput:
        """A copy with some fields changed (as ``dataclasses.replace``); the unchanged tables are shared, in
        whatever form they are held."""
        unknown = set(changes) - {"year", "members", "quality", *_TABLES}
        if unknown:
            raise TypeError(f"DistributionInput has no field(s) {', '.join(sorted(unknown))}")
        rows = {k: v for k, v in self._rows.items() if k not in changes}
        frames = {
            k: v
            for k, v in self._frames.items()
            if k not in changes and not (k == "outcomes" and "pregnancies" in changes)
        }
        rows |= {k: tuple(v) for k, v in changes.items() if k in _TABLES}
        made = _rebuilt(
            changes.get("year", self.year),
            tuple(changes.get("members", self.members)),
            tuple(changes.get("quality", self.quality)),
            rows,
            frames,
        )
        # The views that look at nothing changed stay valid (a simulation varies one member's scores at a time).
        for key, view in self._memo.items():
            if not _VIEW_INPUTS[key if isinstance(key, str) else key[0]] & set(changes):
                made._memo[key] = view
        return made

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"DistributionInput is immutable: use replace({name}=...)")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DistributionInput):
            return NotImplemented
        return (self.year, self.members, self.quality) == (other.year, other.members, other.quality) and all(
            self._table(name) == other._table(name) for name in _TABLES
        )

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self) -> tuple[Any, ...]:  # pickle and copy: through _init, not the refused __setattr__
        return (_rebuilt, (self.year, self.members, self.quality, dict(self._rows), dict(self._frames)))

    def __repr__(self) -> str:
        sizes = ", ".join(f"{name}={self._size(name)}" for name in _TABLES)
        return f"DistributionInput(year={self.year}, members={len(self.members)}, {sizes}, quality={len(self.quality)})"

    def _size(self, name: str) -> int:
        held = self._rows.get(name)
        return len(held) if held is not None else self._frames[name].height

    # --- the tables, as rows and as columns ---------------------------------------------------------------

    @property
    def receipts(self) -> tuple[Receipt, ...]:
        return self._table("receipts")

    @property
    def pregnancies(self) -> tuple[PregnancyRow, ...]:
        return self._table("pregnancies")

    @property
    def shadow_claims(self) -> tuple[ShadowClaim, ...]:
        return self._table("shadow_claims")

    @property
    def activities(self) -> tuple[ActivityCount, ...]:
        return self._table("activities")

    def _table(self, name: str) -> tuple[Any, ...]:
        held = self._rows.get(name)
        if held is None:
            with collector_paused():  # a national IGO's table is a few hundred thousand new objects
                held = self._rows[name] = _ROWS_OF[name](self._frames)
        return held

    def frame(self, name: str) -> pl.DataFrame:
        """Table ``name`` (``receipts``, ``pregnancies``, ``outcomes``, ``shadow_claims``, ``activities``) as
        columns (``InputFrames``)."""
        held = self._frames.get(name)
        if held is None:
            source = "pregnancies" if name == "outcomes" else name
            held = self._frames[name] = _FRAME_OF[name](self._rows[source])
        return held

    def _once(self, key: Any, compute: Callable[[], T]) -> T:
        if key not in self._memo:
            with collector_paused():
                self._memo[key] = compute()
        value: T = self._memo[key]
        return value

    # --- derived views (all order-independent: keyed and summed, never positional) -----------------------

    def received_by_phase(self) -> dict[Phase, int]:
        def compute() -> dict[Phase, int]:
            totals = dict.fromkeys(PHASES, 0)
            summed = self.frame("receipts").group_by("phase").agg(pl.col("amount_cents").sum())
            for phase, cents in summed.iter_rows():
                totals[_PHASE_OF[phase]] += cents
            return totals

        return dict(self._once("received_by_phase", compute))

    def received_by_pregnancy(self) -> dict[str, int]:
        summed = (
            self.frame("receipts")
            .filter(pl.col("pregnancy_id").is_not_null())
            .group_by("pregnancy_id", maintain_order=True)
            .agg(pl.col("amount_cents").sum())
        )
        return dict(summed.iter_rows())

    def member_agbs(self) -> list[str]:
        """AGB codes in the stable order every split uses (ascending): ties in rounding go to the lowest AGB."""
        return sorted(m.agb for m in self.members)

    def member(self, agb: str) -> Member:
        return next(m for m in self.members if m.agb == agb)

    def integral_shadow_frame(self) -> pl.DataFrame:
        """:meth:`integral_shadow_claims` as columns (``SHADOW_COLUMNS``), in the input's order."""
        return self._once("integral_shadow_frame", lambda: self.frame("shadow_claims").filter(self._integral_mask()))

    def _integral_mask(self) -> pl.Series:
        """Per shadow claim (in order): is its phase integral? The last recorded outcome of a (pregnancy, phase)
        decides, as a later key of a dict would; a phase without one counts as integral."""

        def compute() -> pl.Series:
            not_integral = (
                self.frame("outcomes")
                .group_by("pregnancy_id", "phase")
                .agg(pl.col("outcome").last())
                .filter(pl.col("outcome") != Outcome.INTEGRAL.value)
                .select("pregnancy_id", "phase", pl.lit(True).alias("_excluded"))
            )
            claims = self.frame("shadow_claims").select("pregnancy_id", "phase")
            joined = claims.join(not_integral, on=["pregnancy_id", "phase"], how="left", maintain_order="left")
            return joined["_excluded"].is_null()

        return self._once("integral_mask", compute)

    def integral_shadow_claims(self) -> list[ShadowClaim]:
        """Shadow claims for care that the integral money pays for.

        A phase whose recorded outcome is not ``INTEGRAL`` (the bundle broke, or the phase was not reached) was
        claimed by the members themselves, so its shadow claims must not earn a second payment from the
        integral money. A phase without a recorded outcome counts as integral.
        """

        def compute() -> list[ShadowClaim]:
            if "shadow_claims" not in self._rows:
                return list(_shadow_rows(self.integral_shadow_frame()))
            # The rows given are kept (the same objects), those of an excluded phase dropped.
            return list(compress(self._rows["shadow_claims"], self._integral_mask().to_list()))

        return list(self._once("integral_shadow_claims", compute))

    def shadow_by_member(self, phase: Phase | None = None) -> dict[str, int]:
        """Integral shadow claims per member (all members present, zero when none), for one phase or all."""
        return dict(self._once("shadow_by_member", self._shadow_by_phase)[phase])

    def _shadow_by_phase(self) -> dict[Phase | None, dict[str, int]]:
        """:meth:`shadow_by_member` for every phase and for all, in one pass: a plan asks for each of them."""
        agbs = self.member_agbs()
        totals: dict[Phase | None, dict[str, int]] = {key: dict.fromkeys(agbs, 0) for key in (None, *PHASES)}
        whole = totals[None]
        summed = self.integral_shadow_frame().group_by("phase", "agb").agg(pl.col("amount_cents").sum())
        for phase, agb, cents in summed.iter_rows():
            if agb not in whole:
                raise KeyError(agb)  # not a member: check() reports it
            whole[agb] += cents
            totals[_PHASE_OF[phase]][agb] += cents
        return totals

    def activity_by_member(self) -> dict[str, dict[str, Decimal]]:
        """Activity counts per member per activity type."""

        def compute() -> dict[str, dict[str, Decimal]]:
            counts: dict[str, dict[str, Decimal]] = {agb: {} for agb in self.member_agbs()}
            summed = (
                self.frame("activities")
                .group_by("agb", "activity_type", maintain_order=True)
                .agg(pl.col("count").sum())
            )
            for agb, kind, count in summed.iter_rows():
                counts[agb][kind] = count
            return counts

        return {agb: dict(per_type) for agb, per_type in self._once("activity_by_member", compute).items()}

    def problems(self) -> list[InputProblem]:
        """Every problem with this input (errors as data); an empty list means the models may run on it."""
        return list(self._once("problems", self._problems))

    def _problems(self) -> list[InputProblem]:
        problems: list[InputProblem] = []
        agbs: set[str] = set()
        for m in self.members:
            if m.agb in agbs:
                problems.append(InputProblem("members", m.agb, "duplicate AGB code"))
            agbs.add(m.agb)
            if m.agb == "IGO":
                problems.append(InputProblem("members", m.agb, "'IGO' is reserved for the IGO's own share"))
            if m.availability_units < 0:
                problems.append(InputProblem("members", m.agb, "availability units must not be negative"))
        problems += self._once("table_problems", lambda: self._table_problems(agbs))
        seen_scores: set[tuple[str, str]] = set()
        for q in self.quality:
            key = f"{q.agb}/{q.indicator}"
            if q.agb not in agbs:
                problems.append(InputProblem("quality", key, "not a member"))
            if (q.agb, q.indicator) in seen_scores:
                problems.append(InputProblem("quality", key, "duplicate score"))
            seen_scores.add((q.agb, q.indicator))
            if not Decimal(0) <= q.score <= Decimal(1):
                problems.append(InputProblem("quality", key, "score must lie between 0 and 1"))
        return problems

    def _table_problems(self, agbs: set[str]) -> list[InputProblem]:
        """The problems of the bulky tables (``agbs``: the members'), kept apart from those of the members and
        scores: a simulation varies a member's scores on the same tables."""
        problems: list[InputProblem] = []
        for phase, total in self.received_by_phase().items():
            if total < 0:
                problems.append(InputProblem("receipts", phase.value, "money received for a phase is negative"))
        ids = self.frame("pregnancies")["pregnancy_id"]
        for pregnancy_id in ids.filter(~ids.is_first_distinct()).to_list():
            problems.append(InputProblem("pregnancies", pregnancy_id, "duplicate pregnancy"))
        members = pl.Series(sorted(agbs), dtype=pl.String())
        # Only the rows with a problem are looked at: a national IGO has a few hundred thousand rows.
        stranger, negative = ~pl.col("agb").is_in(members.implode()), pl.col("amount_cents") < 0
        for pid, phase, agb, is_stranger, is_negative in (
            self.frame("shadow_claims")
            .filter(stranger | negative)
            .select("pregnancy_id", "phase", "agb", stranger.alias("s"), negative.alias("n"))
            .iter_rows()
        ):
            key = f"{pid}/{phase}/{agb}"
            if is_stranger:
                problems.append(InputProblem("shadow_claims", key, "not a member"))
            if is_negative:
                problems.append(InputProblem("shadow_claims", key, "amount must not be negative"))
        negative = pl.col("count") < 0
        for agb, kind, is_stranger, is_negative in (
            self.frame("activities")
            .filter(stranger | negative)
            .select("agb", "activity_type", stranger.alias("s"), negative.alias("n"))
            .iter_rows()
        ):
            key = f"{agb}/{kind}"
            if is_stranger:
                problems.append(InputProblem("activities", key, "not a member"))
            if is_negative:
                problems.append(InputProblem("activities", key, "count must not be negative"))
        return problems

    def care_shares(self, attribution: str) -> pl.DataFrame:
        """Per pregnancy and member the integer basis of its share of her care (``pregnancy_id``, ``agb``,
        ``share`` as a 128-bit integer): her integral shadow claims summed (``claims``), or her activity counts
        summed and made fixed-point (``activities``, in millionths, half-up). What capitation attributes by."""
        return self._once(("care_shares", attribution), lambda: self._care_shares(attribution))

    def _care_shares(self, attribution: str) -> pl.DataFrame:
        if attribution == "claims":
            return (
                self.integral_shadow_frame()
                .group_by("pregnancy_id", "agb", maintain_order=True)
                .agg(pl.col("amount_cents").sum().cast(pl.Int128).alias("share"))
            )
        if attribution != "activities":
            raise ValueError(f"unknown attribution {attribution!r}: claims or activities")
        counted = (
            self.frame("activities")
            .filter(pl.col("pregnancy_id").is_not_null())
            .group_by("pregnancy_id", "agb", maintain_order=True)
            .agg(pl.col("count").sum().cast(pl.String).alias("count"))
        )
        # A national year's sums are a few small numbers: each distinct one is made fixed-point once, exactly as
        # ``allocation.fixed_point`` does (half-up), and joined back by its text.
        distinct = counted["count"].unique().to_list()
        shares = [fixed_point(Decimal(c)) for c in distinct]
        points = pl.DataFrame({"count": distinct, "share": shares}, schema={"count": pl.String(), "share": pl.Int128()})
        return counted.join(points, on="count", how="left", maintain_order="left").drop("count")

    def check(self) -> None:
        """Raise :class:`InvalidInputError` listing every problem, if there are any."""
        problems = self.problems()
        if problems:
            raise InvalidInputError(problems)


def _rebuilt(
    year: int,
    members: tuple[Member, ...],
    quality: tuple[QualityScore, ...],
    rows: dict[str, tuple[Any, ...]],
    frames: dict[str, pl.DataFrame],
) -> DistributionInput:
    """An input from its parts as held (``from_frames``, ``replace``, pickle and copy): not through ``__init__``,
    which takes rows only."""
    made = DistributionInput.__new__(DistributionInput)
    made._init(year, members, quality, rows, frames)
    return made


_VIEW_INPUTS: dict[str, frozenset[str]] = {
    "received_by_phase": frozenset({"receipts"}),
    "integral_mask": frozenset({"shadow_claims", "pregnancies"}),
    "integral_shadow_frame": frozenset({"shadow_claims", "pregnancies"}),
    "integral_shadow_claims": frozenset({"shadow_claims", "pregnancies"}),
    "shadow_by_member": frozenset({"shadow_claims", "pregnancies", "members"}),
    "activity_by_member": frozenset({"activities", "members"}),
    "problems": frozenset({"year", "members", "quality", *_TABLES}),
    "table_problems": frozenset({"members", *_TABLES}),
    "care_shares": frozenset({"shadow_claims", "pregnancies", "activities"}),
}
"""What each memoised view of :class:`DistributionInput` is derived from: ``replace`` keeps the others."""

_SCHEMAS: dict[str, dict[str, pl.DataType]] = {
    "receipts": RECEIPT_COLUMNS,
    "pregnancies": PREGNANCY_COLUMNS,
    "outcomes": OUTCOME_COLUMNS,
    "shadow_claims": SHADOW_COLUMNS,
    "activities": ACTIVITY_COLUMNS,
}


# --- rows <-> columns -------------------------------------------------------------------------------------


def _frame(schema: dict[str, pl.DataType], columns: Sequence[list[Any]]) -> pl.DataFrame:
    return pl.DataFrame(dict(zip(schema, columns, strict=True)), schema=schema)


def _receipt_frame(rows: tuple[Receipt, ...]) -> pl.DataFrame:
    return _frame(
        RECEIPT_COLUMNS,
        [[r.phase.value for r in rows], [r.amount_cents for r in rows], [r.pregnancy_id for r in rows]],
    )


def _pregnancy_frame(rows: tuple[PregnancyRow, ...]) -> pl.DataFrame:
    return _frame(PREGNANCY_COLUMNS, [[r.pregnancy_id for r in rows], [r.profile.value for r in rows]])


def _outcome_frame(rows: tuple[PregnancyRow, ...]) -> pl.DataFrame:
    flat = [(r.pregnancy_id, phase.value, outcome.value) for r in rows for phase, outcome in r.outcomes]
    return _frame(OUTCOME_COLUMNS, [[f[0] for f in flat], [f[1] for f in flat], [f[2] for f in flat]])


def _shadow_frame(rows: tuple[ShadowClaim, ...]) -> pl.DataFrame:
    return _frame(
        SHADOW_COLUMNS,
        [
            [c.pregnancy_id for c in rows],
            [c.phase.value for c in rows],
            [c.agb for c in rows],
            [c.amount_cents for c in rows],
        ],
    )


def _activity_frame(rows: tuple[ActivityCount, ...]) -> pl.DataFrame:
    counts = [a.count for a in rows]
    scale = max((-min(int(c.as_tuple().exponent), 0) for c in counts if c.is_finite()), default=0)
    if not all(c.is_finite() for c in counts):
        raise ValueError("activities: a count is not a finite number")
    schema = ACTIVITY_COLUMNS | {"count": pl.Decimal(38, scale)}
    return _frame(
        schema,
        [[a.agb for a in rows], [a.activity_type for a in rows], counts, [a.pregnancy_id for a in rows]],
    )


_FRAME_OF: dict[str, Callable[[Any], pl.DataFrame]] = {
    "receipts": _receipt_frame,
    "pregnancies": _pregnancy_frame,
    "outcomes": _outcome_frame,
    "shadow_claims": _shadow_frame,
    "activities": _activity_frame,
}


def _receipt_rows(frames: dict[str, pl.DataFrame]) -> tuple[Receipt, ...]:
    f = frames["receipts"]
    return rows_of(Receipt, f, ("phase", _PHASE_OF.__getitem__), "amount_cents", "pregnancy_id")


def _pregnancy_rows(frames: dict[str, pl.DataFrame]) -> tuple[PregnancyRow, ...]:
    pregnancies, outcomes = frames["pregnancies"], frames["outcomes"]
    # Each pregnancy's outcomes as one key ("phase=outcome;..."): the few distinct tuples are made once, shared.
    keyed = outcomes.group_by("pregnancy_id", maintain_order=True).agg(
        (pl.col("phase") + "=" + pl.col("outcome")).str.join(";").alias("outcomes")
    )
    frame = pregnancies.join(keyed, on="pregnancy_id", how="left", maintain_order="left")
    shared: dict[str | None, tuple[tuple[Phase, Outcome], ...]] = {None: ()}
    for key in frame["outcomes"].unique().to_list():
        if key is not None:
            pairs = (pair.split("=") for pair in key.split(";"))
            shared[key] = tuple((_PHASE_OF[phase], _OUTCOME_OF[outcome]) for phase, outcome in pairs)
    return rows_of(
        PregnancyRow, frame, "pregnancy_id", ("profile", _PROFILE_OF.__getitem__), ("outcomes", shared.__getitem__)
    )


def _shadow_rows(frame: pl.DataFrame) -> tuple[ShadowClaim, ...]:
    return rows_of(ShadowClaim, frame, "pregnancy_id", ("phase", _PHASE_OF.__getitem__), "agb", "amount_cents")


def _activity_rows(frames: dict[str, pl.DataFrame]) -> tuple[ActivityCount, ...]:
    return rows_of(ActivityCount, frames["activities"], "agb", "activity_type", "count", "pregnancy_id")


_ROWS_OF: dict[str, Callable[[dict[str, pl.DataFrame]], tuple[Any, ...]]] = {
    "receipts": _receipt_rows,
    "pregnancies": _pregnancy_rows,
    "shadow_claims": lambda frames: _shadow_rows(frames["shadow_claims"]),
    "activities": _activity_rows,
}


def rows_of(kind: type[T], frame: pl.DataFrame, *fields: str | tuple[str, Callable[[Any], Any]]) -> tuple[T, ...]:
    """One ``kind`` per row of ``frame``, from its columns in ``fields`` order (a pair converts its column).

    A conversion runs once per distinct value (the few phases, profiles and counts become shared, immutable
    objects); the garbage collector is paused while the rows are made (``collector_paused``)."""
    columns: list[Iterable[Any]] = []
    for item in fields:
        name, convert = item if isinstance(item, tuple) else (item, None)
        values = frame[name].to_list()
        columns.append(values if convert is None else map({v: convert(v) for v in set(values)}.__getitem__, values))
    with collector_paused():
        return _made(kind, columns, frame.height)


def _made(kind: type[T], columns: Sequence[Iterable[Any]], height: int) -> tuple[T, ...]:
    """``height`` rows ``kind(*values)``, one value from each of ``columns`` (every field, in order).

    A frozen dataclass's ``__init__`` sets each field through ``object.__setattr__``, which is most of the cost
    of three million rows. The input's own row types only store their fields (slotted, no ``__post_init__``), so
    they are made empty and filled column by column through their slot descriptors, in C loops: the same
    objects (equal, same hash and repr) at half the cost. Any other ``kind`` is called as usual."""
    names = _STORED_ONLY.get(kind)
    if names is None or hasattr(kind, "__post_init__"):
        return tuple(map(kind, *columns))
    rows: tuple[T, ...] = tuple(map(object.__new__, repeat(kind, height)))
    for name, values in zip(names, columns, strict=True):
        deque(map(getattr(kind, name).__set__, rows, values), maxlen=0)
    return rows


_STORED_ONLY: dict[type, tuple[str, ...]] = {
    kind: tuple(f.name for f in fields(kind)) for kind in (Receipt, PregnancyRow, ShadowClaim, ActivityCount)
}
"""The fields of the row types whose ``__init__`` only stores its arguments: what :func:`_made` may make without."""


# --- adapters from the bundle decision -------------------------------------------------------------------


def shadow_claims_from_lines(lines: Iterable[ClaimLine]) -> list[ShadowClaim]:
    """Shadow claims from monodisciplinary claim lines (e.g. the lines a decision computes for a mono fallback,
    or the would-be lines priced for integral care). Integral lines are skipped: they are the IGO's own claim."""
    return [
        ShadowClaim(line.pregnancy_id, line.phase, line.claimant_agb, line.amount_cents)
        for line in lines
        if line.kind is ClaimKind.MONO
    ]


def pregnancy_row(pregnancy: Pregnancy, decision: PregnancyDecision) -> PregnancyRow:
    """The distribution view of one pregnancy: its derived profile and each phase's outcome."""
    return PregnancyRow(
        pregnancy.pregnancy_id,
        derive_client_profile(pregnancy),
        tuple((p.phase, p.outcome) for p in decision.phases),
    )
