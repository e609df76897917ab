"""What a bundle decision is: outcomes per phase, claim lines, reasons, and what happened to each activity.

Everything here is an immutable value, so a decision can be stored, compared and re-derived from its inputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from integraal.domain.phase import Phase
from integraal.rules.reasons import ReasonCode, render


class Outcome(StrEnum):
    """The decision for one phase of one pregnancy."""

    INTEGRAL = "integral"  # the IGO claims the integral prestatie
    FALLBACK = "fallback"  # bundle broken or not claimable integrally: members claim separately
    INCOMPLETE = "incomplete"  # not finished / nothing claimable yet
    NOT_APPLICABLE = "not_applicable"  # the trajectory ended before this phase (e.g. after a miscarriage)


class Disposition(StrEnum):
    """What happened to an activity: every activity gets exactly one."""

    CLAIMED = "claimed"  # inside a claim line (integral or monodisciplinary)
    EXCLUDED = "excluded"  # deliberately left out (out of scope), with a reason
    REPORTED = "reported"  # not claimed by us, reported with a reason (non-member care, data problem, pending)


class ClaimKind(StrEnum):
    INTEGRAL = "integral"
    MONO = "mono"


@dataclass(frozen=True, slots=True)
class Reason:
    """A reason code with its parameters and the activities it is about."""

    code: ReasonCode
    params: tuple[tuple[str, str], ...] = ()
    activity_ids: tuple[str, ...] = ()

    def text(self, lang: str = "nl") -> str:
        return render(self.code, dict(self.params), lang)


@dataclass(frozen=True, slots=True)
class ClaimLine:
    """A line the IGO (integral) or a member (mono) would send to the insurer. Amounts in cents."""

    pregnancy_id: str
    phase: Phase
    kind: ClaimKind
    prestatie_code: str
    claimant_agb: str
    uzovi: str
    quantity: Decimal
    tariff_cents: int
    amount_cents: int
    service_start: date
    service_end: date
    declaration_date: date
    activity_ids: tuple[str, ...]
    tariff_source: str  # "contract", "nza" or "estimate"


@dataclass(frozen=True, slots=True)
class PhaseDecision:
    phase: Phase
    outcome: Outcome
    reasons: tuple[Reason, ...]
    claims: tuple[ClaimLine, ...] = ()
    ruleset_version: str | None = None
    contract_id: str | None = None

    @property
    def reason_codes(self) -> tuple[str, ...]:
        return tuple(r.code.value for r in self.reasons)


@dataclass(frozen=True, slots=True)
class ActivityOutcome:
    """The fate of one activity, with the phase it fell in (if any) and the reason."""

    activity_id: str
    disposition: Disposition
    reason: ReasonCode | None
    phase: Phase | None = None
    prestatie_code: str | None = None


@dataclass(frozen=True, slots=True)
class PregnancyDecision:
    pregnancy_id: str
    as_of: date
    phases: tuple[PhaseDecision, ...]
    activities: tuple[ActivityOutcome, ...]

    @property
    def claims(self) -> tuple[ClaimLine, ...]:
        return tuple(line for phase in self.phases for line in phase.claims)

    def phase(self, phase: Phase) -> PhaseDecision:
        return next(p for p in self.phases if p.phase is phase)
