"""Birth outcomes from a FHIR R4 ``Bundle``: the rows of ``outcomes.csv``, read from Observations and Procedures.

The reader turns a Bundle (type ``collection``, ``transaction`` or ``batch``) into exactly the frame that
``read_csv`` gives for an ``outcomes.csv``: one row per pregnancy, every column a string (empty = unknown), plus
``__row``. The import service then validates, quarantines and upserts it the same way as the CSV, so the value
rules (ranges, yes/no, birth-only measures, ...) live in one place: ``importing.formats.OUTCOMES``. The mapping
tables and the conventions (how a resource names its pregnancy, which codes mean what) are in
``docs/formats.md``, section "Outcomes from FHIR".

Errors are data, as for CSV. A file that is not a UTF-8 JSON FHIR Bundle raises :class:`FileError`; every
resource that cannot be mapped (unknown code, wrong value type, no pregnancy, invalid FHIR, a value that differs
from another resource's value for the same pregnancy and field) becomes a :class:`RowError` whose row is the
entry's position in the Bundle (1 = the first entry). A pregnancy with such an error is left out of the frame as
a whole: a later import replaces a pregnancy's row as a whole, so a partial row would erase stored values.

Only Observation, Procedure, EpisodeOfCare and Encounter resources are read; anything else (Patient,
Practitioner, Condition, ...) is skipped unread, so no BSN or other personal detail from the bundle is stored,
not even in the quarantine. Resources are first validated with the ``fhir.resources`` R4B models (as the claim
formats do; R4B equals R4 for these resources), then their values are read from the JSON itself, with strict
JSON types (the models would turn ``"true"`` into a boolean and ``true`` into the integer 1).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

import polars as pl
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.encounter import Encounter
from fhir.resources.R4B.episodeofcare import EpisodeOfCare
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.procedure import Procedure
from pydantic import BaseModel, ValidationError

from integraal.importing.formats import OUTCOME_FLAGS, OUTCOMES, References
from integraal.importing.validation import ROW, FileError, RowError
from integraal.insight.outcomes import BirthMode, BirthPlace, LabourOnset

# --- systems and codes (docs/formats.md, "Outcomes from FHIR") ----------------------------------------------

_OURS = "https://integraal.example/fhir"
PREGNANCY_ID_SYSTEM = f"{_OURS}/NamingSystem/pregnancy-id"
"""Identifier system of the pregnancy id (``pregnancy_id`` of pregnancies.csv) on an EpisodeOfCare."""
OUTCOME_SYSTEM = f"{_OURS}/CodeSystem/outcome"
"""Our Observation codes: the column names of outcomes.csv (``blood_loss_ml``, ``prem_score``, ...)."""
LABOUR_ONSET_SYSTEM = f"{_OURS}/CodeSystem/labour-onset"
BIRTH_MODE_SYSTEM = f"{_OURS}/CodeSystem/birth-mode"
BIRTH_PLACE_SYSTEM = f"{_OURS}/CodeSystem/birth-place"
"""Value codes of the category measures: the values of the CSV column (``assisted_vaginal``, ``home``, ...)."""
EPISODE_EXTENSION = "http://hl7.org/fhir/StructureDefinition/workflow-episodeOfCare"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"

BUNDLE_TYPES = ("collection", "transaction", "batch")
COLUMNS: tuple[str, ...] = tuple(c.name for c in OUTCOMES.columns(References()))
MEASURES: tuple[str, ...] = COLUMNS[1:]  # every column but pregnancy_id


class Kind(Enum):
    """How an Observation's value becomes the text of a CSV cell."""

    FLAG = "valueBoolean"
    DURATION = "valueQuantity in days (d) or weeks (wk)"
    VOLUME = "valueQuantity in mL or L"
    SCORE = "valueQuantity or valueInteger"
    CATEGORY = "valueCodeableConcept"
    PARITY = "valueInteger (number of earlier births)"
    PLURALITY = "valueInteger (number of children)"


_LOCAL_KINDS = {
    **dict.fromkeys(OUTCOME_FLAGS, Kind.FLAG),
    "gestational_age_days": Kind.DURATION,
    "blood_loss_ml": Kind.VOLUME,
    "prem_score": Kind.SCORE,
    "prom_score": Kind.SCORE,
    "labour_onset": Kind.CATEGORY,
    "birth_mode": Kind.CATEGORY,
    "birth_place": Kind.CATEGORY,
}
assert set(_LOCAL_KINDS) == set(MEASURES), "every outcomes.csv column needs a kind"

OBSERVATION_CODES: dict[tuple[str, str], tuple[str, Kind]] = {
    **{(OUTCOME_SYSTEM, name): (name, kind) for name, kind in _LOCAL_KINDS.items()},
    (LOINC, "11977-6"): ("nulliparous", Kind.PARITY),  # [#] Parity: 0 earlier births = nulliparous
    (LOINC, "57722-1"): ("multiple_pregnancy", Kind.PLURALITY),  # Birth plurality of Pregnancy
    (LOINC, "11884-4"): ("gestational_age_days", Kind.DURATION),  # Gestational age Estimated (at birth)
    (SNOMED, "364332008"): ("blood_loss_ml", Kind.VOLUME),  # Blood loss in labour (hoeveelheid bloedverlies)
}
"""Observation.code → (column, how to read the value)."""

CATEGORY_CODES: dict[str, dict[tuple[str, str], str]] = {
    "labour_onset": {
        **{(LABOUR_ONSET_SYSTEM, v.value): v.value for v in LabourOnset},
        (SNOMED, "84457005"): LabourOnset.SPONTANEOUS.value,  # Spontaneous onset of labour
        (SNOMED, "236958009"): LabourOnset.INDUCED.value,  # Induction of labour
    },
    "birth_mode": {
        **{(BIRTH_MODE_SYSTEM, v.value): v.value for v in BirthMode},
        (SNOMED, "48782003"): BirthMode.SPONTANEOUS_VAGINAL.value,  # Spontaneous vaginal delivery
        (SNOMED, "177184002"): BirthMode.SPONTANEOUS_VAGINAL.value,  # Normal delivery procedure
        (SNOMED, "61586001"): BirthMode.ASSISTED_VAGINAL.value,  # Delivery by vacuum extraction
        (SNOMED, "302383004"): BirthMode.ASSISTED_VAGINAL.value,  # Forceps delivery
        (SNOMED, "177141003"): BirthMode.PLANNED_CAESAREAN.value,  # Elective caesarean section
        (SNOMED, "274130007"): BirthMode.EMERGENCY_CAESAREAN.value,  # Emergency caesarean section
    },
    "birth_place": {
        **{(BIRTH_PLACE_SYSTEM, v.value): v.value for v in BirthPlace},
        (SNOMED, "408839006"): BirthPlace.HOME.value,  # Planned home birth
        (SNOMED, "408838003"): BirthPlace.HOME.value,  # Unplanned home birth
        (SNOMED, "91154008"): BirthPlace.BIRTH_CENTRE.value,  # Free-standing birthing center
    },
}
"""valueCodeableConcept codes of the category measures → the CSV value."""

AMBIGUOUS_CODES: dict[tuple[str, str], str] = {
    (SNOMED, "11466000"): "caesarean section without planned or emergency: use SNOMED 177141003 or 274130007",
    (
        SNOMED,
        "700000006",
    ): "vaginal delivery without spontaneous or assisted: use SNOMED 48782003 or 61586001/302383004",
    (SNOMED, "22232009"): "hospital without primary or secondary care: use our birth-place code "
    "hospital_primary or hospital_secondary",
}
"""Standard codes that are too coarse for our categories: an error that says which code to use instead."""

PROCEDURE_CODES: dict[tuple[str, str], tuple[str, str, str | None]] = {
    **{code: ("birth_mode", value, None) for code, value in CATEGORY_CODES["birth_mode"].items()},
    (SNOMED, "236958009"): ("labour_onset", LabourOnset.INDUCED.value, None),  # Induction of labour
    (SNOMED, "830077005"): ("nicu_admission", "yes", "no"),  # Admission to neonatal intensive care unit
}
"""Procedure.code → (column, value when ``completed``, value when ``not-done`` or None: not-done says nothing)."""

IGNORED_STATUSES = {
    "Observation": frozenset({"cancelled", "entered-in-error"}),
    "Procedure": frozenset({"entered-in-error"}),
}
"""Resources with these statuses are skipped, as if not sent."""
UNITS: dict[Kind, dict[str, Decimal]] = {
    Kind.DURATION: {"d": Decimal(1), "wk": Decimal(7)},
    Kind.VOLUME: {"mL": Decimal(1), "ml": Decimal(1), "L": Decimal(1000), "l": Decimal(1000)},
}
MAX_DIGITS = 9  # digits before the decimal point we read; no outcome value needs more (guards 1e999999)
MAX_DECIMALS = 6  # and after it (guards 1e-999999); validation then allows what the column allows
MODELS: dict[str, type[BaseModel]] = {
    "Observation": Observation,
    "Procedure": Procedure,
    "EpisodeOfCare": EpisodeOfCare,
    "Encounter": Encounter,
}
VALUE_KEYS = (
    "valueQuantity",
    "valueCodeableConcept",
    "valueString",
    "valueBoolean",
    "valueInteger",
    "valueRange",
    "valueRatio",
    "valueSampledData",
    "valueTime",
    "valueDateTime",
    "valuePeriod",
)


@dataclass(slots=True)
class FhirOutcomes:
    """What a bundle holds: the outcomes.csv frame (strings, ``__row`` = entry) and the entries that failed."""

    frame: pl.DataFrame
    errors: list[RowError] = field(default_factory=list)


class _EntryError(Exception):
    """One thing wrong with one entry: becomes a RowError on ``field``."""

    def __init__(self, field: str, value: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.value = value
        self.reason = reason


# --- JSON --------------------------------------------------------------------------------------------------------


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"key {key!r} appears twice in one object")
        result[key] = value
    return result


def _no_constants(name: str) -> object:
    raise ValueError(f"{name} is not a JSON number")


def _bounded_int(text: str) -> int:
    if len(text) > 30:  # int() refuses > 4300 digits with a bare ValueError; no FHIR integer needs 30
        raise ValueError(f"integer {text[:20]}... is too long")
    return int(text)


def _parse(name: str, data: bytes) -> object:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise FileError(name, f"not UTF-8 text (invalid byte at line {line}, byte {exc.start})") from None
    if not text.strip():
        raise FileError(name, "the file is empty (expected a FHIR Bundle as JSON)")
    try:
        return json.loads(
            text,
            parse_float=Decimal,
            parse_constant=_no_constants,
            parse_int=_bounded_int,
            object_pairs_hook=_no_duplicate_keys,
        )
    except json.JSONDecodeError as exc:
        raise FileError(name, f"not JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    except ValueError as exc:
        raise FileError(name, f"not JSON: {exc}") from None
    except RecursionError:
        raise FileError(name, "not JSON: nested too deeply") from None


def _dicts(value: object) -> list[dict[str, Any]]:
    """The objects of a JSON array (anything else: none)."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _path(loc: Sequence[int | str]) -> str:
    """A pydantic error location as a JSON path: ``('valueQuantity', 'value')`` → ``valueQuantity.value``."""
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def _schema_problem(kind: str, resource: dict[str, Any]) -> _EntryError | None:
    """The first way ``resource`` is not valid FHIR R4 (per the ``fhir.resources`` R4B model), or None."""
    try:
        MODELS[kind].model_validate(resource)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = _path(error["loc"])
        return _EntryError(f"{kind}.{where}" if where else kind, "", f"not valid FHIR R4: {error['msg']}")
    except Exception as exc:  # fhir.resources fails with KeyError & co. on some odd input: still bad input
        return _EntryError(kind, "", f"not valid FHIR R4: {type(exc).__name__}")
    return None


# --- reading -----------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Entry:
    position: int
    kind: str
    resource: dict[str, Any]
    problem: _EntryError | None
    """Why the resource is not valid FHIR R4 (None: valid)."""

    @property
    def label(self) -> str:
        ident = _text(self.resource.get("id"))
        return f"{self.kind}/{ident}" if ident else self.kind


@dataclass(slots=True)
class _Pregnancy:
    anchor: int
    """The entry that stands for the pregnancy's row: its EpisodeOfCare, else the first resource naming it."""
    values: dict[str, tuple[int, str]] = field(default_factory=dict)
    failed: bool = False


class _Reader:
    def __init__(self, name: str, entries: list[object]) -> None:
        self.name = name
        self.errors: dict[tuple[int, str], RowError] = {}
        self.entries: list[_Entry] = []
        self.index: dict[str, _Entry] = {}
        self.episodes: dict[int, str | _EntryError] = {}
        self.pregnancies: dict[str, _Pregnancy] = {}
        for position, entry in enumerate(entries, start=1):
            self._take(position, entry)

    # --- pass 1: which entries are there ---------------------------------------------------------------------

    def _take(self, position: int, entry: object) -> None:
        if not isinstance(entry, dict):
            self._error(position, _EntryError("entry", "", "an entry must be a JSON object"))
            return
        resource = entry.get("resource")
        if not isinstance(resource, dict):
            self._error(position, _EntryError("resource", "", "entry without a resource (only resources are read)"))
            return
        kind = resource.get("resourceType")
        if not isinstance(kind, str) or not kind:
            self._error(position, _EntryError("resourceType", "", "resource without a resourceType"))
            return
        if kind not in MODELS:
            return  # Patient, Practitioner, ...: not read at all (docs: "Outcomes from FHIR")
        item = _Entry(position, kind, resource, _schema_problem(kind, resource))
        if item.problem is not None and kind == "Encounter":
            self._error(position, item.problem, item)  # the others in pass 2, naming their pregnancy
        self.entries.append(item)
        full_url = _text(entry.get("fullUrl"))
        if full_url:
            self.index.setdefault(full_url, item)
        ident = _text(resource.get("id"))
        if ident:
            self.index.setdefault(f"{kind}/{ident}", item)

    def _error(self, position: int, problem: _EntryError, entry: _Entry | None = None, *pregnancies: str) -> None:
        reason = f"{entry.label}: {problem.reason}" if entry is not None else problem.reason
        if len(pregnancies) == 1:
            reason += f" (pregnancy {pregnancies[0]} is not imported from this bundle)"
        elif pregnancies:
            reason += f" (pregnancies {', '.join(pregnancies)} are not imported from this bundle)"
        self.errors.setdefault(
            (position, problem.field), RowError(self.name, position, problem.field, problem.value, reason)
        )

    # --- pass 2: pregnancies and their measures --------------------------------------------------------------

    def read(self) -> FhirOutcomes:
        for entry in self.entries:
            if entry.kind == "EpisodeOfCare":
                found = self._episode_id(entry)
                if isinstance(found, _EntryError):
                    self._error(entry.position, found, entry)
                elif entry.problem is not None:  # invalid: its pregnancy (if it names one) is not imported
                    if found:
                        self._error(entry.position, entry.problem, entry, found)
                        self.pregnancies.setdefault(found, _Pregnancy(entry.position)).failed = True
                    else:
                        self._error(entry.position, entry.problem, entry)
                elif found:
                    self.pregnancies.setdefault(found, _Pregnancy(entry.position))
                self.episodes[entry.position] = entry.problem or found
        for entry in self.entries:
            if entry.kind in ("Observation", "Procedure"):
                self._measure(entry)
        return FhirOutcomes(self._frame(), sorted(self.errors.values(), key=lambda e: (e.row, e.field)))

    def _episode_id(self, entry: _Entry) -> str | _EntryError:
        """The pregnancy id of an EpisodeOfCare ("" when it has none: then it is not a pregnancy of ours)."""
        ids = {
            value.strip()
            for ident in _dicts(entry.resource.get("identifier"))
            if ident.get("system") == PREGNANCY_ID_SYSTEM and (value := _text(ident.get("value")))
        }
        if len(ids) > 1:
            return _EntryError("pregnancy_id", "/".join(sorted(ids)), "more than one pregnancy id")
        return ids.pop() if ids else ""

    def _measure(self, entry: _Entry) -> None:
        """Map one Observation or Procedure. Any error rejects every pregnancy the resource names."""
        resource = entry.resource
        status = resource.get("status")
        if entry.problem is None and status in IGNORED_STATUSES[entry.kind]:
            return
        pregnancies, link_problem = self._pregnancy_of(entry)
        problems = [problem for problem in (entry.problem or link_problem,) if problem is not None]
        measured: tuple[str, str] | None = None
        if entry.problem is None:
            if resource.get("modifierExtension"):
                problems.append(_EntryError("modifierExtension", "", "modifier extensions are not understood"))
            try:
                measured = self._observation(resource) if entry.kind == "Observation" else self._procedure(resource)
            except _EntryError as error:
                problems.append(error)
        for pid in pregnancies:
            self.pregnancies.setdefault(pid, _Pregnancy(entry.position))
        if problems:
            for problem in problems:
                self._error(entry.position, problem, entry, *sorted(pregnancies))
            for pid in pregnancies:
                self.pregnancies[pid].failed = True
            return
        if measured is None:
            return
        (pid,) = pregnancies
        column, value = measured
        record = self.pregnancies[pid]
        earlier = record.values.get(column)
        if earlier is None:
            record.values[column] = (entry.position, value)
        elif earlier[1] != value:
            reason = f"differs from entry {earlier[0]} ({earlier[1]!r}) for the same pregnancy"
            self._error(entry.position, _EntryError(column, value, reason), entry, pid)
            record.failed = True

    # --- which pregnancy ----------------------------------------------------------------------------------------

    def _resolve(self, reference: dict[str, Any]) -> _Entry | None:
        target = _text(reference.get("reference"))
        if target is None:
            return None
        if target in self.index:
            return self.index[target]
        parts = target.split("/_history/")[0].rstrip("/").split("/")
        return self.index.get("/".join(parts[-2:])) if len(parts) >= 2 else None

    def _points_to_episode(self, reference: dict[str, Any]) -> bool:
        target = self._resolve(reference)
        if target is not None:
            return target.kind == "EpisodeOfCare"
        text = _text(reference.get("reference")) or ""
        ident = reference.get("identifier")
        return (
            reference.get("type") == "EpisodeOfCare"
            or "EpisodeOfCare/" in text
            or (isinstance(ident, dict) and ident.get("system") == PREGNANCY_ID_SYSTEM)
        )

    def _episode_references(self, resource: dict[str, Any]) -> Iterator[dict[str, Any] | _EntryError]:
        """References to the pregnancy's EpisodeOfCare: ``focus`` (Observation), the workflow-episodeOfCare
        extension, and the ``episodeOfCare`` of the ``encounter`` when that Encounter is in the bundle."""
        yield from (ref for ref in _dicts(resource.get("focus")) if self._points_to_episode(ref))
        for extension in _dicts(resource.get("extension")):
            if extension.get("url") == EPISODE_EXTENSION and isinstance(extension.get("valueReference"), dict):
                yield extension["valueReference"]
        encounter = resource.get("encounter")
        target = self._resolve(encounter) if isinstance(encounter, dict) else None
        if target is not None and target.kind == "Encounter":
            if target.problem is not None:
                text = _text(encounter.get("reference")) if isinstance(encounter, dict) else None
                reason = f"refers to the Encounter of entry {target.position}, which has errors"
                yield _EntryError("pregnancy_id", text or "", reason)
            yield from _dicts(target.resource.get("episodeOfCare"))

    def _pregnancy_of(self, entry: _Entry) -> tuple[set[str], _EntryError | None]:
        """The pregnancies the resource names (exactly one, or an error), and what is wrong with its references."""
        found: set[str] = set()
        problem: _EntryError | None = None
        for reference in self._episode_references(entry.resource):
            pid = reference if isinstance(reference, _EntryError) else self._episode_reference(reference)
            if isinstance(pid, _EntryError):
                problem = problem or pid
            else:
                found.add(pid)
        if problem is None and not found:
            problem = _EntryError(
                "pregnancy_id",
                "",
                "no pregnancy: refer to the pregnancy's EpisodeOfCare (Observation.focus, the extension "
                f"{EPISODE_EXTENSION} or an Encounter in the bundle with episodeOfCare)",
            )
        if problem is None and len(found) > 1:
            problem = _EntryError("pregnancy_id", "/".join(sorted(found)), "refers to more than one pregnancy")
        return found, problem

    def _episode_reference(self, reference: dict[str, Any]) -> str | _EntryError:
        """The pregnancy id a reference to an EpisodeOfCare names: by its identifier, or by the resource."""
        text = _text(reference.get("reference")) or ""
        ident = reference.get("identifier")
        by_identifier = ""
        if isinstance(ident, dict) and ident.get("system") == PREGNANCY_ID_SYSTEM:
            by_identifier = (_text(ident.get("value")) or "").strip()
        target = self._resolve(reference)
        if target is None:
            if by_identifier:
                return by_identifier
            reason = (
                f"{text} is not in this bundle, and the reference has no identifier with system {PREGNANCY_ID_SYSTEM}"
                if text
                else f"the reference to the EpisodeOfCare has no identifier with system {PREGNANCY_ID_SYSTEM}"
            )
            return _EntryError("pregnancy_id", text, reason)
        if target.kind != "EpisodeOfCare":
            return _EntryError("pregnancy_id", text, f"refers to a {target.kind}, not to an EpisodeOfCare")
        found = self.episodes.get(target.position)
        if found is None or isinstance(found, _EntryError):
            return _EntryError(
                "pregnancy_id", text, f"refers to the EpisodeOfCare of entry {target.position}, which has errors"
            )
        if not found:
            return _EntryError(
                "pregnancy_id",
                text,
                f"the EpisodeOfCare of entry {target.position} has no identifier with system {PREGNANCY_ID_SYSTEM}",
            )
        if by_identifier and by_identifier != found:
            return _EntryError("pregnancy_id", by_identifier, f"the identifier differs from entry {target.position}'s")
        return found

    # --- which measure, which value ------------------------------------------------------------------------------

    @staticmethod
    def _codings(concept: object) -> list[tuple[str, str]]:
        if not isinstance(concept, dict):
            return []
        return [
            (system, code)
            for coding in _dicts(concept.get("coding"))
            if (system := _text(coding.get("system"))) and (code := _text(coding.get("code")))
        ]

    def _observation(self, resource: dict[str, Any]) -> tuple[str, str] | None:
        codings = self._codings(resource.get("code"))
        known = [OBSERVATION_CODES[c] for c in codings if c in OBSERVATION_CODES]
        if not known:
            shown = ", ".join(f"{s}|{c}" for s, c in codings) or "no coding"
            raise _EntryError("code", shown[:200], "not an outcome code (see docs/formats.md, 'Outcomes from FHIR')")
        columns = {column for column, _ in known}
        if len(columns) > 1:
            raise _EntryError("code", "/".join(sorted(columns)), "codes of more than one outcome in one Observation")
        column, kind = known[0]
        present = [key for key in VALUE_KEYS if key in resource]
        if not present:
            if "dataAbsentReason" in resource:
                return None  # explicitly unknown: the same as an empty cell, and no conflict with a value
            raise _EntryError(column, "", f"no value (expected {kind.value})")
        return column, self._value(column, kind, present[0], resource[present[0]])

    def _value(self, column: str, kind: Kind, key: str, value: object) -> str:
        expected = {
            Kind.FLAG: ("valueBoolean",),
            Kind.DURATION: ("valueQuantity",),
            Kind.VOLUME: ("valueQuantity",),
            Kind.SCORE: ("valueQuantity", "valueInteger"),
            Kind.CATEGORY: ("valueCodeableConcept",),
            Kind.PARITY: ("valueInteger", "valueQuantity"),
            Kind.PLURALITY: ("valueInteger", "valueQuantity"),
        }[kind]
        if key not in expected:
            raise _EntryError(column, key, f"expected {kind.value}, found {key}")
        if kind is Kind.FLAG:
            if not isinstance(value, bool):
                raise _EntryError(column, str(value)[:40], "valueBoolean must be true or false")
            return "yes" if value else "no"
        if kind is Kind.CATEGORY:
            return self._category(column, value)
        number = self._number(column, key, value, kind)
        if kind is Kind.PARITY:
            if number < 0 or number != number.to_integral_value():
                raise _EntryError(column, _plain(number), "parity must be a whole number, 0 or more")
            return "yes" if number == 0 else "no"
        if kind is Kind.PLURALITY:
            if number < 1 or number != number.to_integral_value():
                raise _EntryError(column, _plain(number), "plurality must be a whole number, 1 or more")
            return "yes" if number > 1 else "no"
        return _plain(number)

    @staticmethod
    def _number(column: str, key: str, value: object, kind: Kind) -> Decimal:
        """The number of a valueInteger or valueQuantity, in the column's unit."""
        if key == "valueInteger":
            if isinstance(value, bool) or not isinstance(value, int):
                raise _EntryError(column, str(value)[:40], "valueInteger must be a JSON integer")
            number, factor = Decimal(value), Decimal(1)
        else:
            if not isinstance(value, dict):
                raise _EntryError(column, "", "valueQuantity must be a JSON object")
            raw = value.get("value")
            if isinstance(raw, bool) or not isinstance(raw, int | Decimal):
                raise _EntryError(column, str(raw)[:40], "valueQuantity.value must be a JSON number")
            if value.get("comparator"):
                raise _EntryError(column, str(value["comparator"]), "a value with a comparator (<, >) is not exact")
            number, factor = Decimal(raw), Decimal(1)
            if kind in UNITS:
                system = value.get("system")
                unit = _text(value.get("code")) or _text(value.get("unit")) or ""
                if system not in (None, UCUM) or unit not in UNITS[kind]:
                    allowed = " or ".join(UNITS[kind])
                    raise _EntryError(column, unit, f"unit must be UCUM {allowed}")
                factor = UNITS[kind][unit]
        if number.adjusted() >= MAX_DIGITS:
            raise _EntryError(column, str(number)[:40], "implausibly large")
        exponent = number.normalize().as_tuple().exponent
        if isinstance(exponent, int) and exponent < -MAX_DECIMALS:
            raise _EntryError(column, str(number)[:40], f"more than {MAX_DECIMALS} decimals")
        return number * factor

    @staticmethod
    def _category(column: str, value: object) -> str:
        codings = _Reader._codings(value)
        found = {CATEGORY_CODES[column][c] for c in codings if c in CATEGORY_CODES[column]}
        if len(found) == 1:
            return found.pop()
        if found:
            raise _EntryError(column, "/".join(sorted(found)), "codings with different values")
        for coding in codings:
            if coding in AMBIGUOUS_CODES:
                raise _EntryError(column, f"{coding[0]}|{coding[1]}", AMBIGUOUS_CODES[coding])
        shown = ", ".join(f"{s}|{c}" for s, c in codings) or "no coding"
        raise _EntryError(column, shown[:200], "no known code for this measure (see docs/formats.md)")

    def _procedure(self, resource: dict[str, Any]) -> tuple[str, str] | None:
        codings = self._codings(resource.get("code"))
        known = {PROCEDURE_CODES[c] for c in codings if c in PROCEDURE_CODES}
        if not known:
            for coding in codings:
                if coding in AMBIGUOUS_CODES:
                    raise _EntryError("code", f"{coding[0]}|{coding[1]}", AMBIGUOUS_CODES[coding])
            shown = ", ".join(f"{s}|{c}" for s, c in codings) or "no coding"
            raise _EntryError("code", shown[:200], "not an outcome procedure (see docs/formats.md)")
        if len(known) > 1:
            raise _EntryError("code", "/".join(sorted(k[0] for k in known)), "codes with different meanings")
        column, done, not_done = known.pop()
        status = resource.get("status")
        if status == "completed":
            return column, done
        if status == "not-done":
            return (column, not_done) if not_done is not None else None
        raise _EntryError("status", str(status), "only a completed or not-done procedure is an outcome")

    # --- the frame -------------------------------------------------------------------------------------------

    def _frame(self) -> pl.DataFrame:
        rows = sorted((p.anchor, pid, p) for pid, p in self.pregnancies.items() if not p.failed)
        data: dict[str, list[Any]] = {name: [] for name in COLUMNS}
        data[ROW] = []
        for anchor, pid, pregnancy in rows:
            data[ROW].append(anchor)
            data["pregnancy_id"].append(pid)
            for name in MEASURES:
                data[name].append(pregnancy.values.get(name, (0, ""))[1])
        schema: dict[str, Any] = dict.fromkeys(COLUMNS, pl.Utf8)
        schema[ROW] = pl.Int64
        return pl.DataFrame(data, schema=schema).select(ROW, *COLUMNS)


def _plain(number: Decimal) -> str:
    """A number as CSV text: ``278``, ``9.1`` (no exponent, no trailing zeros)."""
    if number == number.to_integral_value():
        return str(int(number))
    return format(number.normalize(), "f")


def read_fhir_outcomes(path: Path | str, data: bytes | None = None) -> FhirOutcomes:
    """Read a FHIR R4 Bundle of outcomes (see the module doc). Raises only :class:`FileError`."""
    name = str(path)
    root = _parse(name, Path(path).read_bytes() if data is None else data)
    if not isinstance(root, dict) or root.get("resourceType") != "Bundle":
        raise FileError(name, "not a FHIR Bundle (expected a JSON object with resourceType 'Bundle')")
    if root.get("type") not in BUNDLE_TYPES:
        raise FileError(name, f"Bundle.type must be one of {', '.join(BUNDLE_TYPES)}, found {root.get('type')!r}")
    entries = root.get("entry", [])
    if not isinstance(entries, list):
        raise FileError(name, "Bundle.entry must be an array")
    problem = _envelope_problem({key: value for key, value in root.items() if key != "entry"})
    if problem:
        raise FileError(name, problem)
    return _Reader(Path(path).name, entries).read()  # row errors name the file as CSV validation does


def _envelope_problem(envelope: dict[str, Any]) -> str | None:
    """Why the Bundle without its entries is not valid FHIR R4, or None."""
    try:
        Bundle.model_validate(envelope)
    except ValidationError as exc:
        error = exc.errors()[0]
        return f"not a valid FHIR R4 Bundle: Bundle.{_path(error['loc'])}: {error['msg']}"
    except Exception as exc:  # fhir.resources fails with KeyError & co. on some odd input: still bad input
        return f"not a valid FHIR R4 Bundle ({type(exc).__name__})"
    return None
