"""Phases of a care trajectory (DOMAIN.md §2).

- prenatal (prenatale fase): from the physical intake to the start of labour;
- natal (natale fase): labour and birth;
- postnatal (postnatale fase): after the birth up to the end of the postnatal period (``postnatal_days``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum


class Phase(StrEnum):
    PRENATAL = "prenatal"
    NATAL = "natal"
    POSTNATAL = "postnatal"


PHASES: tuple[Phase, ...] = (Phase.PRENATAL, Phase.NATAL, Phase.POSTNATAL)


@dataclass(frozen=True, slots=True)
class PhaseWindow:
    """The dates a phase covers, inclusive. ``end`` is ``None`` while the phase is still running."""

    phase: Phase
    start: date
    end: date | None

    def contains(self, day: date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)
