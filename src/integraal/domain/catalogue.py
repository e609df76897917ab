"""The catalogue of a contract year: activity types, integral and monodisciplinary prestaties, and the
policy parameters of the NZa policy rule. It is data (``integraal/data/catalogue/<year>/``), loaded by an
adapter; this module only gives it shape and answers lookups.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from integraal.domain.contract import OverlapPolicy, PartialPolicy
from integraal.domain.phase import Phase
from integraal.domain.provider import Discipline


class Unit(StrEnum):
    """How a monodisciplinary prestatie is counted."""

    PHASE = "phase"  # one per provider per phase (e.g. midwife 'volledige prenatale zorg')
    ACTIVITY = "activity"  # one per activity, times its quantity (e.g. a scan)
    HOUR = "hour"  # per hour (kraamzorg)


class Completion(StrEnum):
    """Whether a provider's care in a phase ran to the end of the phase (for partial prestaties)."""

    YES = "yes"
    NO = "no"
    ANY = "any"


PHASE_MONO = "phase"
"""Value of ``ActivityType.mono`` meaning: rolls into the provider's per-phase prestatie."""


@dataclass(frozen=True, slots=True)
class ActivityType:
    """A kind of care activity in our registration vocabulary.

    ``phase`` ``None`` means the phase follows from the date (a check-up can be pre- or postnatal).
    ``mono`` is ``PHASE_MONO`` or a monodisciplinary prestatie code; empty for out-of-scope types.
    """

    code: str
    disciplines: frozenset[Discipline]
    phase: Phase | None
    in_scope: bool
    mono: str
    description_nl: str
    description_en: str
    note: str = ""


@dataclass(frozen=True, slots=True)
class IntegralPrestatie:
    """An integral prestatie claimed by the IGO for one phase, chosen by ``condition`` (lowest priority
    first). ``declaration_days`` is added to the phase end to get the declaration date."""

    code: str
    phase: Phase
    condition: str
    priority: int
    declaration_days: int
    description_nl: str
    description_en: str


@dataclass(frozen=True, slots=True)
class MonoPrestatie:
    """A monodisciplinary prestatie with its NZa maximum tariff (or an estimate, flagged)."""

    code: str
    discipline: Discipline
    phase: Phase
    unit: Unit
    tariff_cents: int
    start_week_min: int | None
    start_week_max: int | None
    end_week_min: int | None
    end_week_max: int | None
    completed: Completion
    priority: int
    estimated: bool
    description_nl: str
    description_en: str

    def matches(self, start_week: int, end_week: int, completed: bool) -> bool:
        """Does a provider's care (first/last week, completed or not) fit this (partial) prestatie?"""

        def within(value: int, low: int | None, high: int | None) -> bool:
            return (low is None or value >= low) and (high is None or value <= high)

        if self.completed is Completion.YES and not completed:
            return False
        if self.completed is Completion.NO and completed:
            return False
        return within(start_week, self.start_week_min, self.start_week_max) and within(
            end_week, self.end_week_min, self.end_week_max
        )


@dataclass(frozen=True, slots=True)
class RuleSet:
    """Everything the bundle decision needs from policy for one contract year, versioned."""

    version: str
    year: int
    policy_rule: str
    overlap_policy: OverlapPolicy
    partial_policy: PartialPolicy
    postnatal_days: int
    aftercare_days: int
    activity_types: Mapping[str, ActivityType]
    integral_prestaties: tuple[IntegralPrestatie, ...]
    mono_prestaties: tuple[MonoPrestatie, ...]
    _mono_by_code: dict[tuple[str, Discipline], MonoPrestatie] = field(init=False, repr=False, compare=False)
    _phase_mono: dict[tuple[Discipline, Phase], tuple[MonoPrestatie, ...]] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        by_code = {(m.code, m.discipline): m for m in self.mono_prestaties}
        phase_rows: dict[tuple[Discipline, Phase], list[MonoPrestatie]] = {}
        for m in self.mono_prestaties:
            if m.unit is Unit.PHASE:
                phase_rows.setdefault((m.discipline, m.phase), []).append(m)
        object.__setattr__(self, "_mono_by_code", by_code)
        object.__setattr__(
            self,
            "_phase_mono",
            {k: tuple(sorted(v, key=lambda m: (m.priority, m.code))) for k, v in phase_rows.items()},
        )

    def mono(self, code: str, discipline: Discipline) -> MonoPrestatie | None:
        return self._mono_by_code.get((code, discipline))

    def phase_prestatie(
        self, discipline: Discipline, phase: Phase, start_week: int, end_week: int, completed: bool
    ) -> MonoPrestatie | None:
        """The (partial) per-phase prestatie that fits a provider's care, lowest priority first."""
        for candidate in self._phase_mono.get((discipline, phase), ()):
            if candidate.matches(start_week, end_week, completed):
                return candidate
        return None

    def integral_candidates(self, phase: Phase) -> tuple[IntegralPrestatie, ...]:
        return tuple(sorted((p for p in self.integral_prestaties if p.phase is phase), key=lambda p: p.priority))


class Catalogue:
    """Rule sets by contract year."""

    __slots__ = ("_by_year",)

    def __init__(self, rulesets: Iterable[RuleSet]) -> None:
        self._by_year = {r.year: r for r in rulesets}

    def for_year(self, year: int) -> RuleSet | None:
        return self._by_year.get(year)

    @property
    def years(self) -> list[int]:
        return sorted(self._by_year)
