"""Pregnancies as care trajectories (zorgtrajecten): from intake to the end of the postnatal period."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from integraal.domain.phase import Phase, PhaseWindow


class EndReason(StrEnum):
    """Why a trajectory ended. Each needs an explicit decision (DOMAIN.md §3, partial trajectories)."""

    BIRTH = "birth"
    MISCARRIAGE = "miscarriage"  # spontaneous abortion (miskraam)
    TERMINATION = "termination"  # termination of pregnancy
    MOVED_AWAY = "moved_away"  # care continues outside the region
    SWITCHED_PROVIDER = "switched_provider"  # woman chose a provider outside the IGO
    MATERNAL_DEATH = "maternal_death"


NO_BIRTH_ENDINGS = frozenset({EndReason.MISCARRIAGE, EndReason.TERMINATION})
"""Endings where the pregnancy itself ended: the prenatal phase is the whole trajectory."""

PARTIAL_ENDINGS = frozenset({EndReason.MOVED_AWAY, EndReason.SWITCHED_PROVIDER, EndReason.MATERNAL_DEATH})
"""Endings where care stopped for another reason: the contract decides how the IGO claims."""


class ReferralStage(StrEnum):
    """When the woman was referred from primary to secondary care."""

    INTAKE = "intake"  # medical indication from the start
    PREGNANCY = "pregnancy"
    LABOUR = "labour"


GESTATION_DAYS = 280


@dataclass(frozen=True, slots=True)
class Pregnancy:
    """One pregnancy of one woman, in care in one IGO's region, insured with one insurer."""

    pregnancy_id: str
    bsn: str
    uzovi: str
    igo_id: str
    intake_date: date
    due_date: date
    labour_date: date | None = None
    end_date: date | None = None
    end_reason: EndReason | None = None
    referral_date: date | None = None
    referral_stage: ReferralStage | None = None

    @property
    def ongoing(self) -> bool:
        return self.end_reason is None

    @property
    def natal_start(self) -> date | None:
        """Start of labour; for a birth without a recorded labour date, the birth date."""
        if self.labour_date is not None:
            return self.labour_date
        if self.end_reason is EndReason.BIRTH:
            return self.end_date
        return None

    def gestational_week(self, day: date) -> int:
        """Completed weeks of gestation on ``day``, from the due date (40+0 weeks on the due date)."""
        return (day - (self.due_date - timedelta(days=GESTATION_DAYS))).days // 7

    def window(self, phase: Phase, postnatal_days: int, aftercare_days: int) -> PhaseWindow | None:
        """The dates of ``phase``, or ``None`` when the trajectory did not (yet) reach it.

        After a miscarriage or termination the prenatal phase runs ``aftercare_days`` beyond the end date,
        because aftercare belongs to the prenatal prestatie.
        """
        natal_start = self.natal_start
        if phase is Phase.PRENATAL:
            if natal_start is not None:
                return PhaseWindow(phase, self.intake_date, natal_start)
            if self.end_date is None:
                return PhaseWindow(phase, self.intake_date, None)
            extra = aftercare_days if self.end_reason in NO_BIRTH_ENDINGS else 0
            return PhaseWindow(phase, self.intake_date, self.end_date + timedelta(days=extra))
        if natal_start is None:
            return None
        birth = self.end_date if self.end_reason is EndReason.BIRTH else None
        if phase is Phase.NATAL:
            if birth is None and self.end_date is not None:
                # Labour began but the trajectory ended otherwise (e.g. death, transfer away).
                return PhaseWindow(phase, natal_start, self.end_date)
            return PhaseWindow(phase, natal_start, birth)
        if birth is None:
            return None
        return PhaseWindow(phase, birth, birth + timedelta(days=postnatal_days))
