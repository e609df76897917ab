"""The FHIR R4 claim formats: ``fhir-claim`` (Bundle of Claim), ``fhir-claimresponse`` (Bundle of ClaimResponse)
and ``fhir-payment`` (PaymentReconciliation).

Sources: DOMAIN.md §4 (claims, credit/debit corrections, COD954 return codes); ``docs/claims-fhir-csv.md`` (the
mapping); HL7 FHIR R4 Claim, ClaimResponse, PaymentReconciliation; the Dutch NamingSystems for BSN, AGB-Z and
UZOVI (http://fhir.nl/fhir/NamingSystem/...). The committed samples in ``docs/examples/fhir/`` are regenerated
with ``python tests/unit/claims/test_claim_fhir.py``.
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from claim_strategies import ascii_text, claim_batches, days, return_batches
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.paymentreconciliation import PaymentReconciliation
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from integraal.claims.batch import ClaimBatch, ClaimBatchLine, DebitCredit, ReturnBatch, ReturnLine
from integraal.claims.formats import BatchNotWritableError, get_format
from integraal.claims.formats.errors import EncodingError, FieldValueError, FormatError, TotalsMismatchError
from integraal.claims.formats.fhir import (
    BSN_SYSTEM,
    COD954_SYSTEM,
    FHIR_CLAIM,
    FHIR_CLAIMRESPONSE,
    FHIR_PAYMENT,
    FhirEncodingError,
    FhirFormatError,
    FhirResourceTypeError,
    FhirSchemaError,
    FhirStructureError,
    FhirSyntaxError,
    FhirTotalsError,
    FhirValueError,
    _dumps,
)
from integraal.claims.payment import Payment
from integraal.claims.returncodes import return_codes

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
EXAMPLES = Path(__file__).resolve().parents[3] / "docs" / "examples" / "fhir"
KNOWN_CODES = sorted(return_codes())


# --- realistic samples (also the committed examples) -----------------------------------------------------------


def example_batch() -> ClaimBatch:
    """Two women; a prenatal bundle, a birth claimed by the IGO, and a credit of an earlier prenatal line."""
    a, b = "111222333", "123456782"
    return ClaimBatch(
        sender_agb="53000001",
        receiver_uzovi="3311",
        batch_id="IGO-2025-014",
        creation_date=date(2025, 3, 1),
        period_start=date(2025, 1, 1),
        period_end=date(2025, 2, 28),
        lines=(
            ClaimBatchLine(
                "IGO-L-0001",
                a,
                "IG_PRENATAAL",
                date(2025, 1, 6),
                date(2025, 2, 3),
                Decimal(1),
                98_765,
                birth_date=date(1994, 5, 17),
                comments=("prenatal phase, all care by IGO members",),
            ),
            ClaimBatchLine(
                "IGO-L-0002",
                b,
                "IG_NATAAL_EERSTELIJN",
                date(2025, 2, 10),
                date(2025, 2, 10),
                Decimal(1),
                54_321,
                birth_date=date(1990, 11, 2),
            ),
            ClaimBatchLine(
                "IGO-L-0003",
                b,
                "IG_PRENATAAL",
                date(2025, 1, 9),
                date(2025, 2, 10),
                Decimal(1),
                98_765,
                DebitCredit.CREDIT,
                "IGO-L-0000",
                birth_date=date(1990, 11, 2),
                comments=("bundle broken (COD954 0587): prenatal care claimed again per activity",),
            ),
        ),
    )


def example_return() -> ReturnBatch:
    batch = example_batch()
    prenatal, birth, credit = batch.lines
    return ReturnBatch(
        sender_agb=batch.sender_agb,
        receiver_uzovi=batch.receiver_uzovi,
        batch_id=batch.batch_id,
        creation_date=batch.creation_date,
        period_start=batch.period_start,
        period_end=batch.period_end,
        insurer_reference="ZV-2025-0042",
        return_date=date(2025, 3, 20),
        header_return_codes=(),
        lines=(
            ReturnLine(prenatal, 98_765, 98_765),
            ReturnLine(birth, 50_000, 50_000, ("0611",)),
            ReturnLine(credit, -98_765, -98_765),
        ),
    )


def example_payment() -> Payment:
    return Payment(
        "BET-2025-0402-01",
        "3311",
        "53000001",
        date(2025, 4, 2),
        50_000,
        (("IGO-L-0001", 98_765), ("IGO-L-0002", 50_000), ("IGO-L-0003", -98_765)),
    )


SAMPLES = {
    "claim-bundle.json": (FHIR_CLAIM, example_batch),
    "claimresponse-bundle.json": (FHIR_CLAIMRESPONSE, example_return),
    "paymentreconciliation.json": (FHIR_PAYMENT, example_payment),
}


# --- strategies: the shared ones, made FHIR-writable -------------------------------------------------------------


def _fhir_code(code: str) -> str:
    """A FHIR ``code`` has no runs of whitespace; the shared strategies may draw ``"a  b"``."""
    return " ".join(code.split())


def _known(code: str) -> str:
    """A COD954 code we ship, chosen deterministically from any 4 digits."""
    return KNOWN_CODES[int(code) % len(KNOWN_CODES)]


def _fhir_line(line: ClaimBatchLine) -> ClaimBatchLine:
    return replace(line, prestatie_code=_fhir_code(line.prestatie_code))


def _fhir_batch(batch: ClaimBatch) -> ClaimBatch:
    return replace(batch, lines=tuple(_fhir_line(line) for line in batch.lines))


def _fhir_return(batch: ReturnBatch) -> ReturnBatch:
    lines = tuple(
        replace(
            r,
            line=_fhir_line(r.line),
            return_codes=tuple(map(_known, r.return_codes)),
            insured_return_codes=tuple(map(_known, r.insured_return_codes)),
        )
        for r in batch.lines
    )
    return replace(batch, header_return_codes=tuple(map(_known, batch.header_return_codes)), lines=lines)


@st.composite
def payments(draw: st.DrawFn) -> Payment:
    line_ids = draw(st.lists(ascii_text(20), max_size=6, unique=True))
    allocations = tuple((line_id, draw(st.integers(-(10**10), 10**10))) for line_id in line_ids)
    return Payment(
        payment_id=draw(ascii_text(30)),
        uzovi=draw(st.text(alphabet="0123456789", min_size=4, max_size=4)),
        igo_agb=draw(st.text(alphabet="0123456789", min_size=8, max_size=8)),
        date=draw(days),
        total_cents=sum(cents for _, cents in allocations),
        allocations=allocations,
    )


# --- helpers to edit a written document ------------------------------------------------------------------------


def load(data: bytes) -> Any:
    return json.loads(data, parse_float=Decimal)


def dump(tree: Any) -> bytes:
    return _dumps(tree).encode("utf-8")


_STEP = re.compile(r"([A-Za-z_]+)|\[(\d+)\]")


def _steps(path: str) -> list[str | int]:
    return [name if name else int(index) for name, index in _STEP.findall(path)]


def edited(data: bytes, path: str, value: Any) -> bytes:
    """``data`` with the value at JSON path ``path`` replaced (or removed when ``value`` is ``DELETE``)."""
    tree = load(data)
    *parents, last = _steps(path)
    node = tree
    for step in parents:
        node = node[step]
    if value is DELETE:
        del node[last]
    else:
        node[last] = value
    return dump(tree)


DELETE = object()


def raised(fmt: Any, data: bytes) -> FhirFormatError:
    with pytest.raises(FhirFormatError) as info:
        fmt.read(data)
    return info.value


# --- round trips -----------------------------------------------------------------------------------------------


def test_formats_are_registered_by_name() -> None:
    assert get_format("fhir-claim") is FHIR_CLAIM
    assert get_format("fhir-claimresponse") is FHIR_CLAIMRESPONSE
    assert get_format("fhir-payment") is FHIR_PAYMENT


@SETTINGS
@given(claim_batches().map(_fhir_batch))
def test_writing_then_reading_a_claim_bundle_gives_the_batch_back_exactly(batch: ClaimBatch) -> None:
    """Order of lines, credits, comments, birth dates and the batch header all survive (docs/claims-fhir-csv.md)."""
    data = FHIR_CLAIM.write(batch)
    assert FHIR_CLAIM.read(data) == batch
    Bundle.model_validate_json(data)


@SETTINGS
@given(return_batches().map(_fhir_return))
def test_writing_then_reading_a_claimresponse_bundle_gives_the_return_back_exactly(batch: ReturnBatch) -> None:
    data = FHIR_CLAIMRESPONSE.write(batch)
    assert FHIR_CLAIMRESPONSE.read(data) == batch
    Bundle.model_validate_json(data)


@SETTINGS
@given(payments())
def test_writing_then_reading_a_payment_gives_it_back_exactly(payment: Payment) -> None:
    data = FHIR_PAYMENT.write(payment)
    assert FHIR_PAYMENT.read(data) == payment
    PaymentReconciliation.model_validate_json(data)


def test_one_claim_per_insured_person_with_bsn_agb_and_uzovi_systems() -> None:
    tree = load(FHIR_CLAIM.write(example_batch()))
    claims = [entry["resource"] for entry in tree["entry"]]
    assert [c["resourceType"] for c in claims] == ["Claim", "Claim"]
    assert [c["contained"][0]["identifier"][0] for c in claims] == [
        {"system": BSN_SYSTEM, "value": "111222333"},
        {"system": BSN_SYSTEM, "value": "123456782"},
    ]
    assert claims[0]["provider"]["identifier"] == {
        "system": "http://fhir.nl/fhir/NamingSystem/agb-z",
        "value": "53000001",
    }
    assert claims[0]["insurer"]["identifier"] == {"system": "http://fhir.nl/fhir/NamingSystem/uzovi", "value": "3311"}
    assert [item["sequence"] for c in claims for item in c["item"]] == [1, 2, 3]


def test_money_is_written_with_exactly_two_decimals_and_credits_are_negative() -> None:
    """Integer cents become EUR with two decimals exactly (no float): 98765 cents → 987.65, a credit −987.65."""
    text = FHIR_CLAIM.write(example_batch()).decode()
    nets = re.findall(r'"net": \{\s*"value": (-?[0-9.]+),\s*"currency": "EUR"', text)
    assert nets == ["987.65", "543.21", "-987.65"]
    assert '"value": 1.00' in text  # quantity
    zero = replace(example_batch(), lines=(replace(example_batch().lines[1], amount_cents=0),))
    assert '"value": 0.00' in FHIR_CLAIM.write(zero).decode()


def test_claimresponse_outcome_follows_the_awarded_amounts() -> None:
    """complete when every line got what it claimed, error when none got anything, partial otherwise."""
    ret = example_return()
    tree = load(FHIR_CLAIMRESPONSE.write(ret))
    assert [e["resource"]["outcome"] for e in tree["entry"]] == ["complete", "partial"]
    rejected = replace(ret, lines=(replace(ret.lines[0], awarded_cents=0, return_codes=("0587",)),))
    response = load(FHIR_CLAIMRESPONSE.write(rejected))["entry"][0]["resource"]
    assert response["outcome"] == "error"
    assert response["error"] == [
        {
            "itemSequence": 1,
            "code": {"coding": [{"system": COD954_SYSTEM, "code": "0587", "display": return_codes()["0587"].text_nl}]},
        }
    ]


# --- the committed samples do not rot ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_committed_samples_parse_with_fhir_resources_and_with_our_reader(name: str) -> None:
    fmt, build = SAMPLES[name]
    data = (EXAMPLES / name).read_bytes()
    model = PaymentReconciliation if name.startswith("payment") else Bundle
    model.model_validate_json(data)
    assert fmt.read(data) == build()
    assert data == fmt.write(build()), f"regenerate with: python {Path(__file__).name}"


# --- our own checks, each named by its JSON path ---------------------------------------------------------------

CLAIM = FHIR_CLAIM.write(example_batch())
RESPONSE = FHIR_CLAIMRESPONSE.write(example_return())
PAYMENT = FHIR_PAYMENT.write(example_payment())
ITEM = "entry[0].resource.item[0]"


@pytest.mark.parametrize(
    ("path", "value", "kind", "fragment"),
    [
        ("entry[0].resource.contained[0].identifier[0].value", "123456789", FhirValueError, "11-test"),
        ("entry[0].resource.provider.identifier.value", "5300001", FhirValueError, "8-digit AGB"),
        ("meta.extension[0].valueIdentifier.value", "33110", FhirValueError, "4-digit UZOVI"),
        (f"{ITEM}.net.currency", "USD", FhirValueError, "expected 'EUR'"),
        (f"{ITEM}.net.value", Decimal("987.655"), FhirValueError, "more than 2 decimals"),
        (f"{ITEM}.quantity.value", Decimal("1.001"), FhirValueError, "more than 2 decimals"),
        (f"{ITEM}.servicedPeriod.start", "2025-01", FhirValueError, "not a full date"),
        (f"{ITEM}.servicedPeriod.end", "2025-02-30", FhirSchemaError, "day value is outside expected range"),
        (f"{ITEM}.productOrService.coding[0].code", "", FhirSchemaError, "should match pattern"),
        (f"{ITEM}.productOrService.coding[0].system", "urn:other", FhirStructureError, "exactly one coding"),
        (f"{ITEM}.extension[1].valueCode", "X", FhirValueError, "expected D or C"),
        (f"{ITEM}.net.value", Decimal("-987.65"), FhirValueError, "a debit must not be"),
        ("entry[0].resource.total.value", Decimal("1.00"), FhirTotalsError, "sum of its items"),
        ("entry[1].resource.item[0].sequence", 1, FhirStructureError, "used twice"),
        ("entry[0].resource.status", "cancelled", FhirValueError, "expected 'active'"),
        ("entry[0].resource.created", "2025-03-02", FhirStructureError, "differs from the bundle's"),
        ("entry[0].resource.patient.reference", "#other", FhirStructureError, "contained Patient"),
        ("type", "searchset", FhirValueError, "expected 'collection'"),
        ("entry[0].resource.status", DELETE, FhirSchemaError, "is required"),
        (f"{ITEM}.extension", DELETE, FhirStructureError, "claim-line-id is required"),
    ],
)
def test_claim_bundle_checks_name_the_json_path(path: str, value: Any, kind: type[FormatError], fragment: str) -> None:
    error = raised(FHIR_CLAIM, edited(CLAIM, path, value))
    assert isinstance(error, kind), error
    assert fragment in str(error)
    assert path == error.path or path.startswith(error.path + "."), error  # the value itself or its parent


def test_bad_bsn_names_the_exact_path() -> None:
    """DOMAIN.md §4, COD954 0435: a BSN must pass the 11-test; the error points at the identifier's value."""
    error = raised(FHIR_CLAIM, edited(CLAIM, "entry[1].resource.contained[0].identifier[0].value", "123456783"))
    assert isinstance(error, FieldValueError)
    assert error.path == "entry[1].resource.contained[0].identifier[0].value"
    assert str(error).startswith("entry[1].resource.contained[0].identifier[0].value: '123456783' is not a BSN")


def test_three_decimals_on_money_name_the_exact_path() -> None:
    error = raised(FHIR_CLAIM, edited(CLAIM, "entry[1].resource.item[1].net.value", Decimal("-987.650")))
    assert error.path == "entry[1].resource.item[1].net.value"
    assert "more than 2 decimals" in error.reason


def test_unknown_return_code_is_refused_on_reading_and_writing() -> None:
    """Return codes must be in our COD954 list (integraal.claims.returncodes); 9999 is not."""
    assert "9999" not in return_codes()
    path = "entry[1].resource.error[0].code.coding[0].code"
    error = raised(FHIR_CLAIMRESPONSE, edited(RESPONSE, path, "9999"))
    assert isinstance(error, FhirValueError)
    assert error.path == path
    with pytest.raises(BatchNotWritableError, match="not in our COD954 list"):
        FHIR_CLAIMRESPONSE.write(replace(example_return(), header_return_codes=("9999",)))


@pytest.mark.parametrize(
    ("path", "value", "kind", "fragment"),
    [
        ("entry[1].resource.outcome", "complete", FhirTotalsError, "does not match the awarded amounts"),
        ("entry[1].resource.item[0].adjudication[0].amount.value", Decimal("1.00"), FhirTotalsError, "submitted"),
        ("entry[1].resource.item[0].adjudication[2].amount.currency", "GBP", FhirValueError, "expected 'EUR'"),
        ("entry[1].resource.error[0].itemSequence", 9, FhirStructureError, "no item with sequence 9"),
        ("entry[1].resource.request.reference", "#nothing", FhirValueError, "expected '#claim'"),
        ("entry[1].resource.item[1]", DELETE, FhirStructureError, "has no answer"),
        ("entry[0].resource.total[1].amount.value", Decimal("0.01"), FhirTotalsError, "benefit total"),
        ("meta.extension[0].valueIdentifier.assigner.identifier.value", "1234567", FhirValueError, "8-digit AGB"),
        ("timestamp", "2025-03-20", FhirSchemaError, "not valid FHIR R4"),
    ],
)
def test_claimresponse_checks_name_the_json_path(path: str, value: Any, kind: type[FormatError], fragment: str) -> None:
    error = raised(FHIR_CLAIMRESPONSE, edited(RESPONSE, path, value))
    assert isinstance(error, kind), error
    assert fragment in str(error), error


@pytest.mark.parametrize(
    ("path", "value", "kind", "fragment"),
    [
        ("paymentAmount.value", Decimal("500.01"), FhirTotalsError, "details add up to 500.00 EUR"),
        ("paymentAmount.currency", "EURO", FhirValueError, "expected 'EUR'"),
        ("detail[0].amount.value", Decimal("987.651"), FhirValueError, "more than 2 decimals"),
        ("paymentIssuer.identifier.value", "331", FhirValueError, "4-digit UZOVI"),
        ("paymentDate", "2025-04-31", FhirSchemaError, "paymentDate"),
        ("detail[2].request.identifier.value", "IGO-L-0001", FhirValueError, "allocated twice"),
    ],
)
def test_payment_checks_name_the_json_path(path: str, value: Any, kind: type[FormatError], fragment: str) -> None:
    error = raised(FHIR_PAYMENT, edited(PAYMENT, path, value))
    assert isinstance(error, kind), error
    assert fragment in str(error), error


def test_wrong_resource_type_at_the_top_and_in_an_entry() -> None:
    error = raised(FHIR_CLAIM, PAYMENT)
    assert isinstance(error, FhirResourceTypeError)
    assert error.path == "resourceType"
    error = raised(FHIR_CLAIM, edited(CLAIM, "entry[0].resource.resourceType", "Patient"))
    assert isinstance(error, FhirResourceTypeError)
    assert error.path == "entry[0].resource.resourceType"
    error = raised(FHIR_CLAIMRESPONSE, CLAIM)
    assert "expected a ClaimResponse resource, found 'Claim'" in str(error)
    error = raised(FHIR_CLAIM, edited(CLAIM, "entry[0].resource.contained[0].resourceType", "Nonsense"))
    assert error.path == "entry[0].resource.contained[0].resourceType"
    assert isinstance(raised(FHIR_CLAIM, b"[1, 2]"), FhirResourceTypeError)


def test_not_json_names_line_and_column() -> None:
    error = raised(FHIR_CLAIM, b'{\n  "resourceType": "Bundle",\n  "type": collection\n}')
    assert isinstance(error, FhirSyntaxError)
    assert (error.line, error.column) == (3, 11)
    assert isinstance(raised(FHIR_CLAIM, b""), FhirSyntaxError)
    assert "appears twice" in str(raised(FHIR_CLAIM, b'{"resourceType": "Bundle", "resourceType": "Bundle"}'))
    assert "NaN" in str(raised(FHIR_PAYMENT, PAYMENT.replace(b"500.00", b"NaN")))


def test_not_utf8_is_an_encoding_error_with_its_position() -> None:
    data = CLAIM.replace(b"IGO-L-0002", b"IGO-L-\xe9002")
    error = raised(FHIR_CLAIM, data)
    assert isinstance(error, FhirEncodingError)
    assert isinstance(error, EncodingError)
    assert error.line == data[: data.index(b"\xe9")].count(b"\n") + 1


def test_schema_errors_from_fhir_resources_carry_the_json_path() -> None:
    error = raised(FHIR_CLAIM, edited(CLAIM, f"{ITEM}.sequence", "one"))
    assert isinstance(error, FhirSchemaError)
    assert error.path == f"{ITEM}.sequence"


def test_writer_refuses_what_fhir_or_our_checks_refuse_listing_every_problem() -> None:
    batch = example_batch()
    bad = replace(
        batch,
        receiver_uzovi="33",
        lines=(replace(batch.lines[0], bsn="123456789", prestatie_code="IG  PRENATAAL"), *batch.lines[1:]),
    )
    with pytest.raises(BatchNotWritableError) as info:
        FHIR_CLAIM.write(bad)
    assert {p.field for p in info.value.problems} == {"receiver_uzovi", "bsn", "prestatie_code"}
    with pytest.raises(BatchNotWritableError, match="add up to"):
        FHIR_PAYMENT.write(replace(example_payment(), total_cents=1))


def test_errors_are_existing_format_error_kinds_too() -> None:
    """Callers catching the shared kinds (FieldValueError, TotalsMismatchError, ...) catch FHIR errors as well."""
    assert issubclass(FhirValueError, FieldValueError)
    assert issubclass(FhirTotalsError, TotalsMismatchError)
    error = raised(FHIR_CLAIM, edited(CLAIM, f"{ITEM}.net.currency", "USD"))
    assert isinstance(error, FormatError)
    assert error.field == f"{ITEM}.net.currency"


# --- fuzz: readers raise only FormatError subclasses -----------------------------------------------------------


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
    | st.sampled_from(["", "2025-02-30", "2025-13", "#insured", "#claim", "Claim", "Patient", "C", "EUR", "0587"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["url", "value", "code", "x"]), inner),
    max_leaves=6,
)
FUZZ_SOURCES = {
    "claim": (FHIR_CLAIM, CLAIM),
    "response": (FHIR_CLAIMRESPONSE, RESPONSE),
    "payment": (FHIR_PAYMENT, PAYMENT),
}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(st.sampled_from(sorted(FUZZ_SOURCES)), st.sampled_from(["replace", "delete", "duplicate", "bytes"]), st.data())
def test_fuzzed_documents_raise_only_format_errors(which: str, how: str, data: st.DataObject) -> None:
    """Whatever the mutation, reading returns a value or raises a FormatError subclass: nothing else escapes."""
    fmt, good = FUZZ_SOURCES[which]
    if how == "bytes":
        raw = bytearray(good)
        for _ in range(data.draw(st.integers(1, 4))):
            position = data.draw(st.integers(0, len(raw) - 1))
            raw[position] = data.draw(st.integers(0, 255))
        mutated = bytes(raw)
    else:
        tree = load(good)
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
        mutated = dump(tree)
    with contextlib.suppress(FormatError):
        fmt.read(mutated)


def _write_samples() -> None:
    EXAMPLES.mkdir(parents=True, exist_ok=True)
    for name, (fmt, build) in SAMPLES.items():
        (EXAMPLES / name).write_bytes(fmt.write(build()))


if __name__ == "__main__":
    _write_samples()
