"""Outcome records: what happened in one pregnancy, as the insight layer measures it (DOMAIN.md §6).

One frozen record per pregnancy with the measures of the ICHOM pregnancy & childbirth set and the Perined
indicators that the IGO can register with little extra work. Every measure may be unknown (``None``): the
indicator computation counts unknowns as *missing* instead of guessing. ``outcome_problems`` checks a record and
returns every problem as data (field and message), never raising.

The field table ``OUTCOME_FIELDS`` is the vocabulary of the indicator expression language: a condition may only
name a field listed there, with values of that field's kind.

This module must not import storage, files or the web.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from enum import Enum, StrEnum

from integraal.distribution.inputs import ClientProfile
from integraal.domain.pregnancy import EndReason


class BirthMode(StrEnum):
    """Mode of birth (wijze van bevallen)."""

    SPONTANEOUS_VAGINAL = "spontaneous_vaginal"  # spontane vaginale bevalling
    ASSISTED_VAGINAL = "assisted_vaginal"  # vaginale kunstverlossing (vacuüm, forceps)
    PLANNED_CAESAREAN = "planned_caesarean"  # primaire (geplande) sectio caesarea
    EMERGENCY_CAESAREAN = "emergency_caesarean"  # secundaire (spoed)sectio caesarea


CAESAREAN_MODES = frozenset({BirthMode.PLANNED_CAESAREAN, BirthMode.EMERGENCY_CAESAREAN})


class BirthPlace(StrEnum):
    """Place of birth (plaats van bevallen)."""

    HOME = "home"  # thuis
    BIRTH_CENTRE = "birth_centre"  # geboortecentrum
    HOSPITAL_PRIMARY = "hospital_primary"  # poliklinisch: in hospital under the community midwife
    HOSPITAL_SECONDARY = "hospital_secondary"  # klinisch: in hospital under secondary care


class LabourOnset(StrEnum):
    """How labour began (begin van de baring)."""

    SPONTANEOUS = "spontaneous"
    INDUCED = "induced"  # inleiding
    NO_LABOUR = "no_labour"  # planned caesarean before labour began


MIN_GESTATION_DAYS = 0
MAX_GESTATION_DAYS = 322  # 46+0 weeks: beyond this a recorded age is a typing error, not a late birth
MAX_BLOOD_LOSS_ML = 20_000
PREM_RANGE = (0.0, 10.0)
"""PREM score as an overall grade (rapportcijfer 0–10). *Unverified*: the instrument (e.g. ReproQ) and its scale
are to be fixed with the IGOs; change the range here and in docs/insight.md together."""
PROM_RANGE = (0.0, 100.0)
"""PROM score on a 0–100 scale (e.g. a PROMIS-type summary). *Unverified*, as for ``PREM_RANGE``."""


@dataclass(frozen=True, slots=True)
class OutcomeRecord:
    """The outcomes of one pregnancy.

    - ``end_reason`` / ``end_date``: how and when the trajectory ended (the birth date for a birth); ``None`` while
      ongoing. Only births have birth outcomes.
    - ``gestational_age_days``: gestational age at birth in completed days (259 = 37+0 weeks).
    - ``perinatal_death``: fetal death from 22+0 weeks or neonatal death within 7 days of birth (Perined's
      definition of perinatal mortality; *verify* the neonatal window, 7 or 28 days, per reporting year).
    - ``blood_loss_ml``: measured blood loss at birth; severe maternal morbidity is a haemorrhage > 1000 ml.
    - ``profile`` and ``nulliparous``: case-mix variables (first birth: nulliparous).
    """

    pregnancy_id: str
    end_reason: EndReason | None = None
    end_date: date | None = None
    profile: ClientProfile | None = None
    nulliparous: bool | None = None
    multiple_pregnancy: bool | None = None
    gestational_age_days: int | None = None
    labour_onset: LabourOnset | None = None
    birth_mode: BirthMode | None = None
    birth_place: BirthPlace | None = None
    perinatal_death: bool | None = None
    nicu_admission: bool | None = None
    blood_loss_ml: int | None = None
    breastfeeding_at_discharge: bool | None = None
    prem_score: float | None = None
    prom_score: float | None = None


class FieldKind(StrEnum):
    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"
    CATEGORY = "category"


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One field the expression language may name: its kind and, for a category, the allowed values."""

    name: str
    kind: FieldKind
    values: tuple[str, ...] = ()
    description: str = ""


def _category(name: str, enum: type[Enum], description: str) -> FieldSpec:
    return FieldSpec(name, FieldKind.CATEGORY, tuple(str(member.value) for member in enum), description)


OUTCOME_FIELDS: dict[str, FieldSpec] = {
    spec.name: spec
    for spec in (
        _category("end_reason", EndReason, "how the trajectory ended"),
        _category("profile", ClientProfile, "client profile (cliëntprofiel)"),
        FieldSpec("nulliparous", FieldKind.BOOLEAN, description="first birth"),
        FieldSpec("multiple_pregnancy", FieldKind.BOOLEAN, description="twins or more"),
        FieldSpec("gestational_age_days", FieldKind.INTEGER, description="gestational age at birth in days"),
        _category("labour_onset", LabourOnset, "how labour began"),
        _category("birth_mode", BirthMode, "mode of birth"),
        _category("birth_place", BirthPlace, "place of birth"),
        FieldSpec("perinatal_death", FieldKind.BOOLEAN, description="perinatal death"),
        FieldSpec("nicu_admission", FieldKind.BOOLEAN, description="admission to neonatal intensive care"),
        FieldSpec("blood_loss_ml", FieldKind.INTEGER, description="blood loss at birth in ml"),
        FieldSpec("breastfeeding_at_discharge", FieldKind.BOOLEAN, description="breastfeeding at discharge"),
        FieldSpec("prem_score", FieldKind.NUMBER, description="patient-reported experience score"),
        FieldSpec("prom_score", FieldKind.NUMBER, description="patient-reported outcome score"),
    )
}
"""The vocabulary of indicator conditions; every name is an attribute of :class:`OutcomeRecord`."""

FieldValue = str | int | float | bool | None


def field_value(record: OutcomeRecord, name: str) -> FieldValue:
    """The value of a known field, with categories as their string value (``None`` when unknown)."""
    if name not in OUTCOME_FIELDS:
        raise KeyError(name)
    value: object = getattr(record, name)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, Enum):
        return str(value.value)
    raise TypeError(f"field {name!r} holds an unexpected {type(value).__name__}")


@dataclass(frozen=True, slots=True)
class OutcomeProblem:
    """One thing wrong with an outcome record: which pregnancy, which field, what."""

    pregnancy_id: str
    field: str
    message: str


_BIRTH_ONLY_FIELDS = (
    "gestational_age_days",
    "labour_onset",
    "birth_mode",
    "birth_place",
    "perinatal_death",
    "nicu_admission",
    "blood_loss_ml",
    "breastfeeding_at_discharge",
)


def outcome_problems(record: OutcomeRecord) -> list[OutcomeProblem]:
    """Every problem with ``record`` (errors as data); an empty list means it may be counted.

    Missing measures of a birth are *not* problems here: indicators report them as missing, per indicator.
    """
    problems: list[OutcomeProblem] = []

    def problem(name: str, message: str) -> None:
        problems.append(OutcomeProblem(record.pregnancy_id, name, message))

    if not record.pregnancy_id:
        problem("pregnancy_id", "missing pregnancy id")
    if record.end_reason is not None and record.end_date is None:
        problem("end_date", "a trajectory that ended needs an end date")
    if record.end_reason is None and record.end_date is not None:
        problem("end_reason", "an end date without an end reason")
    if record.end_reason is not EndReason.BIRTH:
        for name in _BIRTH_ONLY_FIELDS:
            if getattr(record, name) is not None:
                problem(name, "a birth outcome on a trajectory that did not end in a birth")
    ga = record.gestational_age_days
    if ga is not None and not MIN_GESTATION_DAYS <= ga <= MAX_GESTATION_DAYS:
        problem("gestational_age_days", f"gestational age {ga} days outside 0–{MAX_GESTATION_DAYS}")
    if record.blood_loss_ml is not None and not 0 <= record.blood_loss_ml <= MAX_BLOOD_LOSS_ML:
        problem("blood_loss_ml", f"blood loss {record.blood_loss_ml} ml outside 0–{MAX_BLOOD_LOSS_ML}")
    vaginal = record.birth_mode in (BirthMode.SPONTANEOUS_VAGINAL, BirthMode.ASSISTED_VAGINAL)
    if vaginal and record.labour_onset is LabourOnset.NO_LABOUR:
        problem("labour_onset", "a vaginal birth without labour")
    if record.birth_mode in CAESAREAN_MODES and record.birth_place in (BirthPlace.HOME, BirthPlace.BIRTH_CENTRE):
        problem("birth_place", "a caesarean section outside the hospital")
    if record.birth_mode in CAESAREAN_MODES and record.birth_place is BirthPlace.HOSPITAL_PRIMARY:
        problem("birth_place", "a caesarean section under primary care")
    for name, value, (low, high) in (
        ("prem_score", record.prem_score, PREM_RANGE),
        ("prom_score", record.prom_score, PROM_RANGE),
    ):
        if value is not None and not (math.isfinite(value) and low <= value <= high):
            problem(name, f"score {value} outside {low:g}–{high:g}")
    return problems
