"""Hand-made outcome records for the insight tests."""

from __future__ import annotations

from datetime import date
from typing import Any

from integraal.distribution.inputs import ClientProfile
from integraal.domain.pregnancy import EndReason
from integraal.insight import BirthMode, BirthPlace, LabourOnset, OutcomeRecord


def birth(pregnancy_id: str, **changes: Any) -> OutcomeRecord:
    """An uncomplicated term birth in hospital under the community midwife; ``changes`` override fields."""
    base: dict[str, Any] = {
        "end_reason": EndReason.BIRTH,
        "end_date": date(2025, 6, 1),
        "profile": ClientProfile.LOW_RISK_PRIMARY,
        "nulliparous": True,
        "multiple_pregnancy": False,
        "gestational_age_days": 280,
        "labour_onset": LabourOnset.SPONTANEOUS,
        "birth_mode": BirthMode.SPONTANEOUS_VAGINAL,
        "birth_place": BirthPlace.HOSPITAL_PRIMARY,
        "perinatal_death": False,
        "nicu_admission": False,
        "blood_loss_ml": 300,
        "breastfeeding_at_discharge": True,
    }
    return OutcomeRecord(pregnancy_id, **{**base, **changes})
