"""Hand-made outcome records for the insight tests."""

from __future__ import annotations

from datetime import date
from enum import Enum
from typing import Any

import polars as pl

from integraal.distribution.inputs import ClientProfile
from integraal.domain.pregnancy import EndReason
from integraal.insight import OUTCOME_FIELDS, BirthMode, BirthPlace, LabourOnset, OutcomeRecord
from integraal.insight.columnar import OUTCOME_SCHEMA


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


def frame_of(rows: list[OutcomeRecord]) -> pl.DataFrame:
    """Records as the columnar frame the database read gives: categories as their value, unknown as null."""
    data: dict[str, list[object]] = {"pregnancy_id": [r.pregnancy_id for r in rows]}
    for name in OUTCOME_FIELDS:
        data[name] = [v.value if isinstance(v := getattr(r, name), Enum) else v for r in rows]
    return pl.DataFrame(data, schema={"pregnancy_id": pl.String(), **OUTCOME_SCHEMA})
