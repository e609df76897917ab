"""Outcomes from a FHIR Bundle: the same rows as outcomes.csv, row errors per entry, idempotent, never a crash."""

from __future__ import annotations

import contextlib
import copy
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from dbutil import fresh_database, release
from integraal.importing.fhir_outcomes import (
    OUTCOME_SYSTEM,
    PREGNANCY_ID_SYSTEM,
    SNOMED,
    UCUM,
    read_fhir_outcomes,
)
from integraal.importing.formats import OUTCOMES, References
from integraal.importing.validation import ROW, FileError, validate
from integraal.services.imports import import_file, import_files
from integraal.store import tables
from integraal.store.database import Database

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "fhir" / "outcomes-bundle.json"
BSN = "111222333"  # in the sample's Patient resource: must never reach the database


def count(db: Database, table: Any) -> int:
    with db.unit_of_work() as c:
        return c.execute(select(func.count()).select_from(table)).scalar_one()


def outcomes(db: Database) -> list[tuple[Any, ...]]:
    with db.unit_of_work() as c:
        return [tuple(r) for r in c.execute(select(tables.outcomes).order_by(tables.outcomes.c.pregnancy_id))]


def load_world(db: Database, examples: Path) -> None:
    """Everything of docs/examples but its outcomes: the pregnancies Z-0001 (birth), Z-0002 (birth),
    Z-0003 (miscarriage) are known, none has outcomes yet."""
    paths = [p for p in sorted(examples.glob("*.csv")) if p.name != "outcomes.csv"]
    reports = import_files(db, paths)
    assert all(r.ok for r in reports), [str(e) for r in reports for e in r.errors]


def sample() -> dict[str, Any]:
    return json.loads(SAMPLE.read_text(encoding="utf-8"))


def position(tree: dict[str, Any], resource_id: str) -> int:
    """The 1-based entry position of the resource with this id (or fullUrl)."""
    for number, entry in enumerate(tree["entry"], start=1):
        if entry["resource"].get("id") == resource_id or entry.get("fullUrl") == resource_id:
            return number
    raise KeyError(resource_id)


def resource(tree: dict[str, Any], resource_id: str) -> dict[str, Any]:
    return tree["entry"][position(tree, resource_id) - 1]["resource"]


def write(tmp_path: Path, tree: Any, name: str = "outcomes.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(tree, default=float), encoding="utf-8")
    return path


def local(name: str) -> dict[str, Any]:
    return {"coding": [{"system": OUTCOME_SYSTEM, "code": name}]}


# --- the same rows as the CSV --------------------------------------------------------------------------------


def test_bundle_stores_the_same_rows_as_the_equivalent_csv(db, examples, tmp_path):
    """tests/data/fhir/outcomes-bundle.json says what docs/examples/outcomes.csv says, with every measure and
    every way of naming the pregnancy (focus, extension, Encounter, logical identifier)."""
    other = fresh_database(tmp_path, "csv")
    try:
        load_world(other, examples)
        load_world(db, examples)
        from_csv = import_file(other, examples / "outcomes.csv")
        from_fhir = import_file(db, SAMPLE)
        assert from_csv.ok, [str(e) for e in from_csv.errors]
        assert from_fhir.ok, [str(e) for e in from_fhir.errors]
        assert (from_fhir.kind, from_fhir.total, from_fhir.accepted) == ("outcomes", 3, 3)
        assert outcomes(db) == outcomes(other)
        assert len(outcomes(db)) == 3
        assert all(v is not None for v in outcomes(db)[0]), "Z-0001 carries every measure"
    finally:
        release(other)


def test_reader_gives_the_csv_frame():
    frame = read_fhir_outcomes(SAMPLE).frame
    assert frame.columns == [ROW, *(c.name for c in OUTCOMES.columns(References()))]
    assert frame.get_column("pregnancy_id").to_list() == ["Z-0001", "Z-0002", "Z-0003"]
    tree = sample()
    # A pregnancy's row is its EpisodeOfCare's entry, else the first resource that names it.
    assert frame.get_column(ROW).to_list() == [
        position(tree, "ep-z1"),
        position(tree, "urn:uuid:6f1c2f4e-0b7e-4a51-9a43-2d0c7a0f0002"),
        position(tree, "z3-nullip"),
    ]
    z2 = frame.row(1, named=True)
    assert (z2["blood_loss_ml"], z2["labour_onset"], z2["prom_score"]) == ("1200", "induced", "")


# --- errors: per entry, quarantined, everything valid kept -------------------------------------------------------


def test_each_kind_of_unmappable_resource_is_a_row_error_on_its_entry(db, examples, tmp_path):
    load_world(db, examples)
    tree = sample()
    # Z-0001: an unknown code, a wrong value type, a wrong unit.
    resource(tree, "z1-parity")["code"] = {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]}
    del resource(tree, "z1-death")["valueBoolean"]
    resource(tree, "z1-death")["valueString"] = "no"
    resource(tree, "z1-blood")["valueQuantity"] = {"value": 350, "system": "http://unitsofmeasure.org", "code": "g"}
    # Z-0002: two values for one measure that differ (the Procedure says emergency, this says planned).
    resource(tree, "z2-mode")["valueCodeableConcept"] = {"coding": [{"system": SNOMED, "code": "177141003"}]}
    # Unlinked: no pregnancy reference at all, and a reference to an EpisodeOfCare not in the bundle.
    tree["entry"].append(
        {
            "resource": {
                "resourceType": "Observation",
                "id": "orphan",
                "status": "final",
                "code": local("nicu_admission"),
                "valueBoolean": False,
            }
        }
    )
    tree["entry"].append(
        {
            "resource": {
                "resourceType": "Observation",
                "id": "elsewhere",
                "status": "final",
                "code": local("nicu_admission"),
                "focus": [{"reference": "EpisodeOfCare/not-here"}],
                "valueBoolean": False,
            }
        }
    )
    # Not valid FHIR R4 (an Observation needs a status).
    tree["entry"].append({"resource": {"resourceType": "Observation", "id": "no-status", "code": local("nulliparous")}})
    path = write(tmp_path, tree)

    report = import_file(db, path)

    found = {(e.row, e.field): e for e in report.errors}
    n = len(sample()["entry"])
    assert set(found) == {
        (position(tree, "z1-parity"), "code"),
        (position(tree, "z1-death"), "perinatal_death"),
        (position(tree, "z1-blood"), "blood_loss_ml"),
        (position(tree, "z2-mode"), "birth_mode"),
        (n + 1, "pregnancy_id"),
        (n + 2, "pregnancy_id"),
        (n + 3, "Observation.status"),
    }
    assert all(e.file == "outcomes.json" for e in report.errors)
    assert "not an outcome code" in found[position(tree, "z1-parity"), "code"].reason
    assert found[position(tree, "z1-parity"), "code"].value == "http://loinc.org|8480-6"
    assert "expected valueBoolean, found valueString" in found[position(tree, "z1-death"), "perinatal_death"].reason
    assert "unit must be UCUM mL" in found[position(tree, "z1-blood"), "blood_loss_ml"].reason
    conflict = found[position(tree, "z2-mode"), "birth_mode"]
    assert conflict.value == "planned_caesarean"
    assert f"differs from entry {position(tree, 'z2-caesarean')} ('emergency_caesarean')" in conflict.reason
    assert "pregnancy Z-0002 is not imported" in conflict.reason
    assert "no pregnancy" in found[n + 1, "pregnancy_id"].reason
    assert "EpisodeOfCare/not-here is not in this bundle" in found[n + 2, "pregnancy_id"].reason
    assert "not valid FHIR R4" in found[n + 3, "Observation.status"].reason

    # Z-0001 and Z-0002 have errors: not stored (a partial row would replace a whole stored one). Z-0003 is kept.
    assert [row[0] for row in outcomes(db)] == ["Z-0003"]
    assert (report.accepted, report.rejected, report.total) == (1, 7, 8)
    assert count(db, tables.import_rejections) == 7


def test_validation_errors_of_a_bundle_are_those_of_the_csv_on_the_pregnancy_row(db, examples, tmp_path):
    """Values go through the rules of outcomes.csv; the error's row is the pregnancy's entry."""
    load_world(db, examples)
    tree = sample()
    resource(tree, "z1-blood")["valueQuantity"] = {"value": 25, "code": "L", "system": "http://unitsofmeasure.org"}
    tree["entry"].append(  # a birth measure for Z-0003, a miscarriage
        {
            "resource": {
                "resourceType": "Observation",
                "status": "final",
                "code": local("gestational_age_days"),
                "focus": [{"identifier": {"system": PREGNANCY_ID_SYSTEM, "value": "Z-0003"}}],
                "valueQuantity": {"value": 11, "unit": "wk", "system": "http://unitsofmeasure.org", "code": "wk"},
            }
        }
    )
    report = import_file(db, write(tmp_path, tree))

    problems = {(e.row, e.field, e.value) for e in report.errors}
    assert problems == {
        (position(tree, "ep-z1"), "blood_loss_ml", "25000"),
        (position(tree, "z3-nullip"), "gestational_age_days", "77"),
    }
    assert [row[0] for row in outcomes(db)] == ["Z-0002"]


def test_reimporting_a_bundle_gives_the_same_state_and_quarantine(db, examples, tmp_path):
    load_world(db, examples)
    tree = sample()
    resource(tree, "z1-prem")["code"] = {"coding": [{"system": "http://loinc.org", "code": "0000-0"}]}
    path = write(tmp_path, tree)

    first = import_file(db, path)
    state = (outcomes(db), count(db, tables.import_rejections))
    again = import_file(db, path)

    assert (first.total, first.accepted, first.rejected) == (again.total, again.accepted, again.rejected) == (3, 2, 1)
    assert [str(e) for e in first.errors] == [str(e) for e in again.errors]
    assert (outcomes(db), count(db, tables.import_rejections)) == state == (state[0], 1)
    assert count(db, tables.import_runs) == len(list(examples.glob("*.csv"))) - 1 + 2


def test_nothing_of_the_patient_is_stored(db, examples, tmp_path):
    """The sample's Patient carries a BSN; here every Observation and Procedure names her by BSN as well."""
    load_world(db, examples)
    tree = sample()
    bsn = {"identifier": {"system": "http://fhir.nl/fhir/NamingSystem/bsn", "value": BSN}}
    for entry in tree["entry"]:
        if entry["resource"]["resourceType"] in ("Observation", "Procedure"):
            entry["resource"]["subject"] = bsn
    resource(tree, "z1-parity")["code"] = local("no_such_measure")
    resource(tree, "z2-nullip")["focus"] = [bsn]
    del resource(tree, "z2-nullip")["encounter"]
    report = import_file(db, write(tmp_path, tree))
    assert {e.field for e in report.errors} == {"code", "pregnancy_id"}
    with db.unit_of_work() as c:
        stored = [tuple(r) for r in c.execute(select(tables.import_rejections))]
        stored += [tuple(r) for r in c.execute(select(tables.outcomes))]
        stored += [tuple(r) for r in c.execute(select(tables.audit_log).where(tables.audit_log.c.entity == "outcomes"))]
    assert len(stored) == 2 + 2 + 1  # rejections (entries), outcomes (Z-0002 and Z-0003), the audit record
    assert BSN not in repr(stored)


def test_an_invalid_episode_or_encounter_keeps_its_pregnancy_out(tmp_path):
    tree = sample()
    del resource(tree, "ep-z1")["status"]  # EpisodeOfCare.status is required: Z-0001 has an invalid episode
    encounter = tree["entry"][position(tree, "urn:uuid:0c1d1a52-5d55-4a36-8d0b-8c7e1b0e0002") - 1]["resource"]
    encounter["class"] = "IMP"  # a Coding, not a string: the Encounter linking Z-0002's resources is invalid
    read = read_fhir_outcomes(write(tmp_path, tree))

    by_row = {e.row: e for e in read.errors}
    assert by_row[position(tree, "ep-z1")].field == "EpisodeOfCare.status"
    assert "pregnancy Z-0001 is not imported" in by_row[position(tree, "ep-z1")].reason
    assert position(tree, "z1-parity") in by_row  # refers to the invalid episode
    assert "Encounter of entry" in by_row[position(tree, "z2-nullip")].reason
    assert read.frame.get_column("pregnancy_id").to_list() == ["Z-0003"]


def test_statuses_and_absent_values(tmp_path):
    tree = sample()
    resource(tree, "z1-ga")["status"] = "entered-in-error"  # ignored: as if not sent
    resource(tree, "z1-nicu")["status"] = "in-progress"  # not an outcome yet: an error
    read = read_fhir_outcomes(write(tmp_path, tree))
    assert [(e.row, e.field) for e in read.errors] == [(position(tree, "z1-nicu"), "status")]
    assert read.frame.get_column("pregnancy_id").to_list() == ["Z-0002", "Z-0003"]

    tree = sample()
    resource(tree, "z1-ga")["status"] = "cancelled"
    read = read_fhir_outcomes(write(tmp_path, tree))
    assert not read.errors
    assert read.frame.row(0, named=True)["gestational_age_days"] == ""


def one_observation(system: str, code: str, value: dict[str, Any]) -> dict[str, Any]:
    """A bundle with one Observation for Z-0001 (named by its pregnancy id: no EpisodeOfCare needed)."""
    observation = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": system, "code": code}]},
        "focus": [{"identifier": {"system": PREGNANCY_ID_SYSTEM, "value": "Z-0001"}}],
        **value,
    }
    return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": observation}]}


@pytest.mark.parametrize(
    ("code", "value", "column", "expected"),
    [
        ("11884-4", {"valueQuantity": {"value": 40, "unit": "wk", "system": UCUM}}, "gestational_age_days", "280"),
        ("11884-4", {"valueQuantity": {"value": Decimal("39.5"), "code": "wk"}}, "gestational_age_days", "276.5"),
        ("11977-6", {"valueInteger": 0}, "nulliparous", "yes"),
        ("11977-6", {"valueQuantity": {"value": 3}}, "nulliparous", "no"),
        ("57722-1", {"valueInteger": 2}, "multiple_pregnancy", "yes"),
        ("57722-1", {"valueInteger": 1}, "multiple_pregnancy", "no"),
    ],
)
def test_standard_codes_convert_to_the_csv_values(tmp_path, code, value, column, expected):
    """The reader only converts; 276.5 days is then refused by the CSV rule (whole days), as in a CSV."""
    read = read_fhir_outcomes(write(tmp_path, one_observation("http://loinc.org", code, value)))
    assert not read.errors, [str(e) for e in read.errors]
    row = read.frame.row(0, named=True)
    assert (row[ROW], row["pregnancy_id"], row[column]) == (1, "Z-0001", expected)
    assert {name for name, cell in row.items() if cell not in ("", 1)} == {"pregnancy_id", column}


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ({"valueInteger": True}, "valueInteger must be a JSON integer"),
        ({"valueInteger": -1}, "parity must be a whole number, 0 or more"),
        ({"valueQuantity": {"value": 1, "comparator": ">"}}, "comparator"),
        ({"valueQuantity": {"value": Decimal("1E+12")}}, "implausibly large"),
        ({"valueQuantity": {"value": Decimal("1E-9")}}, "more than 6 decimals"),
        ({"valueCodeableConcept": {"text": "one"}}, "expected valueInteger"),
        ({}, "no value"),
    ],
)
def test_bad_values_are_row_errors(tmp_path, value, reason):
    read = read_fhir_outcomes(write(tmp_path, one_observation("http://loinc.org", "11977-6", value)))
    assert [(e.row, e.field) for e in read.errors] == [(1, "nulliparous")]
    assert reason in read.errors[0].reason
    assert read.frame.height == 0


def test_too_coarse_standard_codes_say_which_code_to_use(tmp_path):
    tree = sample()
    resource(tree, "z1-delivery")["code"] = {"coding": [{"system": SNOMED, "code": "11466000"}]}
    resource(tree, "z1-place")["valueCodeableConcept"] = {"coding": [{"system": SNOMED, "code": "22232009"}]}
    read = read_fhir_outcomes(write(tmp_path, tree))
    reasons = {e.field: e.reason for e in read.errors}
    assert "177141003 or 274130007" in reasons["code"]
    assert "hospital_primary or hospital_secondary" in reasons["birth_place"]


# --- file errors: nothing is applied ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"\xff\xfe{}", "not UTF-8 text"),
        (b'{"resourceType": "Bundle", "type": collection}', r"not JSON: Expecting value \(line 1, column 36\)"),
        (b'{"resourceType": "Bundle", "resourceType": "Bundle"}', "appears twice"),
        (b'{"resourceType": "Bundle", "type": "collection", "total": NaN}', "NaN is not a JSON number"),
        (b"[]", "not a FHIR Bundle"),
        (b'{"resourceType": "Patient"}', "not a FHIR Bundle"),
        (b'{"resourceType": "Bundle", "type": "document"}', "Bundle.type must be one of collection, transaction"),
        (b'{"resourceType": "Bundle", "type": "batch", "entry": {}}', "Bundle.entry must be an array"),
        (b'{"resourceType": "Bundle", "type": "batch", "total": "many"}', "not a valid FHIR R4 Bundle: Bundle.total"),
    ],
)
def test_a_file_that_is_no_fhir_bundle_is_a_file_error_naming_the_file(db, examples, tmp_path, content, message):
    load_world(db, examples)
    runs = count(db, tables.import_runs)
    path = tmp_path / "broken.json"
    path.write_bytes(content)
    with pytest.raises(FileError, match=message) as info:
        import_files(db, [path])
    assert str(info.value).startswith(str(path))
    assert count(db, tables.import_runs) == runs
    assert count(db, tables.outcomes) == 0


def test_a_json_file_is_a_bundle_unless_another_kind_is_asked_for(db, tmp_path):
    """``--kind outcomes`` or no kind: a FHIR bundle; another kind: read as that CSV (as before .json was known)."""
    assert import_files(db, [SAMPLE], kind="outcomes")[0].total == 3
    with pytest.raises(FileError, match="not a readable CSV file"):
        import_files(db, [SAMPLE], kind="activities")


def test_an_empty_bundle_stores_nothing(db, examples, tmp_path):
    load_world(db, examples)
    report = import_file(db, write(tmp_path, {"resourceType": "Bundle", "type": "transaction"}))
    assert (report.total, report.accepted, report.rejected) == (0, 0, 0)


# --- fuzz: only FileError escapes, and what comes out fits the import ---------------------------------------------


def _paths(node: Any, path: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    found = [path]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*path, index))
    return found


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.decimals(allow_nan=False, allow_infinity=False, places=3, max_value=10**6, min_value=-(10**6))
    | st.text(max_size=12)
    | st.sampled_from(
        [
            "",
            "EpisodeOfCare/ep-z1",
            "urn:uuid:0c1d1a52-5d55-4a36-8d0b-8c7e1b0e0002",
            "Observation",
            "Procedure",
            "EpisodeOfCare",
            "completed",
            "not-done",
            PREGNANCY_ID_SYSTEM,
            OUTCOME_SYSTEM,
            SNOMED,
            "wk",
            "L",
            "Z-0001",
        ]
    ),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["reference", "system", "value", "code", "coding", "resource", "x"]), inner)
    ),
    max_leaves=6,
)
GOOD = SAMPLE.read_bytes()
TREE = json.loads(GOOD, parse_float=Decimal)


def _mutated(how: str, data: st.DataObject) -> bytes:
    if how == "bytes":
        raw = bytearray(GOOD)
        for _ in range(data.draw(st.integers(1, 4))):
            raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
        return bytes(raw)
    if how == "any":
        return json.dumps(data.draw(json_values), default=float).encode()
    tree = copy.deepcopy(TREE)
    path = data.draw(st.sampled_from(_paths(tree)[1:]))
    node = tree
    for step in path[:-1]:
        node = node[step]
    last = path[-1]
    if how == "replace":
        node[last] = data.draw(json_values)
    elif how == "delete":
        del node[last]
    elif isinstance(node, list):
        node.insert(int(last), node[int(last)])
    else:
        node[last] = [node[last], node[last]]
    return json.dumps(tree, default=float).encode()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(st.sampled_from(["replace", "delete", "duplicate", "bytes", "any"]), st.data())
def test_mutated_bundles_give_row_errors_or_a_file_error_and_nothing_else(how: str, data: st.DataObject) -> None:
    content = _mutated(how, data)
    with contextlib.suppress(FileError):
        read = read_fhir_outcomes("fuzz.json", data=content)
        frame_rows = set(read.frame.get_column(ROW).to_list())
        error_rows = {e.row for e in read.errors}
        assert not frame_rows & error_rows, "a pregnancy with an error must not be in the frame"
        assert all(e.row >= 1 and e.file == "fuzz.json" for e in read.errors)
        assert len({(e.row, e.field) for e in read.errors}) == len(read.errors), "one error per entry and field"
        assert read.frame.get_column("pregnancy_id").is_unique().all()
        # What the reader gives, the CSV validation takes without raising.
        validate(read.frame, "fuzz.json", OUTCOMES.columns(References()), (), OUTCOMES.key)
