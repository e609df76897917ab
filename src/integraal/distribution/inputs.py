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
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any, TypeVar

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


@dataclass(frozen=True, slots=True)
class DistributionInput:
    """Everything one distribution run looks at, for one IGO and one period (``year``)."""

    year: int
    members: tuple[Member, ...]
    receipts: tuple[Receipt, ...] = ()
    pregnancies: tuple[PregnancyRow, ...] = ()
    shadow_claims: tuple[ShadowClaim, ...] = ()
    activities: tuple[ActivityCount, ...] = ()
    quality: tuple[QualityScore, ...] = ()
    _memo: dict[Any, Any] = field(default_factory=dict, init=False, repr=False, compare=False, hash=False)
    """Derived views computed once: the input is immutable, and a plan asks for them at every step."""

    def _once(self, key: Any, compute: Callable[[], T]) -> T:
        if key not in self._memo:
            with collector_paused():  # a view of a national year is a few hundred thousand new containers
                self._memo[key] = compute()
        value: T = self._memo[key]
        return value

    # --- derived views (all order-independent: keyed and summed, never positional) -----------------------

    def received_by_phase(self) -> dict[Phase, int]:
        def compute() -> dict[Phase, int]:
            totals = dict.fromkeys(PHASES, 0)
            for receipt in self.receipts:
                totals[receipt.phase] += receipt.amount_cents
            return totals

        return dict(self._once("received_by_phase", compute))

    def received_by_pregnancy(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for receipt in self.receipts:
            if receipt.pregnancy_id is not None:
                totals[receipt.pregnancy_id] = totals.get(receipt.pregnancy_id, 0) + receipt.amount_cents
        return totals

    def member_agbs(self) -> list[str]:
        """AGB codes in the stable order every split uses (ascending): ties in rounding go to the lowest AGB."""
        return sorted(m.agb for m in self.members)

    def member(self, agb: str) -> Member:
        return next(m for m in self.members if m.agb == agb)

    def integral_shadow_claims(self) -> list[ShadowClaim]:
        """Shadow claims for care that the integral money pays for.

        A phase whose recorded outcome is not ``INTEGRAL`` (the bundle broke, or the phase was not reached) was
        claimed by the members themselves, so its shadow claims must not earn a second payment from the
        integral money. A phase without a recorded outcome counts as integral.
        """

        def compute() -> list[ShadowClaim]:
            # Only the (pregnancy, phase) pairs whose last recorded outcome is not integral: most pregnancies
            # have none, so most claims are kept on a set lookup of their pregnancy id alone.
            excluded: set[tuple[str, Phase]] = set()
            excluded_ids: set[str] = set()
            for row in self.pregnancies:
                pregnancy_id = row.pregnancy_id
                for phase, outcome in row.outcomes:
                    if outcome is not Outcome.INTEGRAL:
                        excluded.add((pregnancy_id, phase))
                        excluded_ids.add(pregnancy_id)
                    elif pregnancy_id in excluded_ids:  # a later record of the same phase wins, as in a dict
                        excluded.discard((pregnancy_id, phase))
            if not excluded:
                return list(self.shadow_claims)
            return [
                c
                for c in self.shadow_claims
                if c.pregnancy_id not in excluded_ids or (c.pregnancy_id, c.phase) not in excluded
            ]

        return list(self._once("integral_shadow_claims", compute))

    def shadow_by_member(self, phase: Phase | None = None) -> dict[str, int]:
        """Integral shadow claims per member (all members present, zero when none), for one phase or all."""
        return dict(self._once("shadow_by_member", self._shadow_by_phase)[phase])

    def _shadow_by_phase(self) -> dict[Phase | None, dict[str, int]]:
        """:meth:`shadow_by_member` for every phase and for all, in one pass: a plan asks for each of them."""
        agbs = self.member_agbs()
        totals: dict[Phase | None, dict[str, int]] = {key: dict.fromkeys(agbs, 0) for key in (None, *PHASES)}
        whole = totals[None]
        for claim in self.integral_shadow_claims():
            whole[claim.agb] += claim.amount_cents
            totals[claim.phase][claim.agb] += claim.amount_cents
        return totals

    def activity_by_member(self) -> dict[str, dict[str, Decimal]]:
        """Activity counts per member per activity type."""

        def compute() -> dict[str, dict[str, Decimal]]:
            counts: dict[str, dict[str, Decimal]] = {agb: {} for agb in self.member_agbs()}
            for row in self.activities:
                per_type = counts[row.agb]
                per_type[row.activity_type] = per_type.get(row.activity_type, _ZERO) + row.count
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
        for phase, total in self.received_by_phase().items():
            if total < 0:
                problems.append(InputProblem("receipts", phase.value, "money received for a phase is negative"))
        seen_pregnancies: set[str] = set()
        for row in self.pregnancies:
            if row.pregnancy_id in seen_pregnancies:
                problems.append(InputProblem("pregnancies", row.pregnancy_id, "duplicate pregnancy"))
            seen_pregnancies.add(row.pregnancy_id)
        # A key is made only for a row with a problem: a national IGO has a few hundred thousand rows.
        for c in self.shadow_claims:
            if c.agb not in agbs or c.amount_cents < 0:
                key = f"{c.pregnancy_id}/{c.phase.value}/{c.agb}"
                if c.agb not in agbs:
                    problems.append(InputProblem("shadow_claims", key, "not a member"))
                if c.amount_cents < 0:
                    problems.append(InputProblem("shadow_claims", key, "amount must not be negative"))
        for a in self.activities:
            if a.agb not in agbs or a.count < 0:
                key = f"{a.agb}/{a.activity_type}"
                if a.agb not in agbs:
                    problems.append(InputProblem("activities", key, "not a member"))
                if a.count < 0:
                    problems.append(InputProblem("activities", key, "count must not be negative"))
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

    def check(self) -> None:
        """Raise :class:`InvalidInputError` listing every problem, if there are any."""
        problems = self.problems()
        if problems:
            raise InvalidInputError(problems)


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
