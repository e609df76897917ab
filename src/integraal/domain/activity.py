"""Care activities (zorgactiviteiten): one registration of every act by every provider."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class Activity:
    """Provider ``agb`` did ``code`` for the woman with ``bsn`` on ``day``, ``quantity`` times (or hours)."""

    activity_id: str
    bsn: str
    agb: str
    code: str
    day: date
    quantity: Decimal = Decimal(1)
    pregnancy_id: str | None = None
