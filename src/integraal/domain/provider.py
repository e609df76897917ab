"""Care providers (zorgaanbieders) and their disciplines."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Discipline(StrEnum):
    """The kind of provider. Determines which activities it may register and how it claims on its own."""

    MIDWIFE = "midwife"  # community midwife practice (eerstelijns verloskundigenpraktijk)
    HOSPITAL = "hospital"  # hospital obstetrics department, incl. clinical midwives
    GYNAECOLOGIST = "gynaecologist"  # gynaecologists (often a medical-specialist company, MSB)
    KRAAMZORG = "kraamzorg"  # maternity-care organisation: home care after birth, paid per hour
    ULTRASOUND = "ultrasound"  # ultrasound centre (echocentrum)
    LAB = "lab"  # first-line diagnostics
    GP = "gp"  # general practitioner (huisarts)
    PAEDIATRICS = "paediatrics"  # paediatrics (antenatal consultative care)


SECONDARY_CARE = frozenset({Discipline.HOSPITAL, Discipline.GYNAECOLOGIST})
"""Disciplines whose care makes a trajectory 'secondary' (tweedelijns)."""

PRIMARY_CARE = frozenset({Discipline.MIDWIFE, Discipline.GP})
"""Disciplines whose own care ends when the woman is referred to secondary care."""


@dataclass(frozen=True, slots=True)
class Provider:
    """A provider identified by its 8-digit AGB code."""

    agb: str
    name: str
    discipline: Discipline
    city: str = ""
