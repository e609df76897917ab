"""FHIR R4 claim formats: ``fhir-claim``, ``fhir-claimresponse`` and ``fhir-payment``.

What this module owns: mapping a :class:`~integraal.claims.batch.ClaimBatch` to a FHIR ``Bundle`` of ``Claim``
resources, a :class:`~integraal.claims.batch.ReturnBatch` to a ``Bundle`` of ``ClaimResponse`` resources and a
:class:`~integraal.claims.payment.Payment` to a ``PaymentReconciliation``, and back. The mapping tables, code
systems and the choices behind them are in ``docs/claims-fhir-csv.md``. It touches no files and no network.

Why R4 (validated with ``fhir.resources.R4B``): the Dutch FHIR world (Nictiz, the zibs) and the insurers' FHIR
work are on R4; R4B differs from R4 only in resources we do not use, so the R4B models validate R4 Claims.

Reading follows the other formats: it raises only :class:`~integraal.claims.formats.errors.FormatError`
subclasses, here :class:`FhirFormatError` and its subclasses, each naming a JSON path such as
``entry[3].resource.item[0].net.value``. A document is first validated with the ``fhir.resources`` models
(a pydantic error becomes :class:`FhirSchemaError` with its path), then with our own checks, which the library
does not make: BSN 11-test, AGB 8 digits, UZOVI 4 digits, currency EUR, at most two decimals on money, full
dates, return codes in our COD954 list, a non-empty prestatie code, consistent totals and outcomes.

Writing builds the JSON tree itself rather than dumping the pydantic models: ``fhir.resources`` 8 serialises
decimals as JSON floats (``1500.10`` becomes ``1500.1``), and money must carry exactly two decimals. The tree is
validated with the same models before it is returned, so what we write is what we can read.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, TypeAlias

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.paymentreconciliation import PaymentReconciliation
from pydantic import BaseModel, ValidationError

from integraal.claims.batch import (
    ClaimBatch,
    ClaimBatchLine,
    DebitCredit,
    Problem,
    ReturnBatch,
    ReturnLine,
    claim_batch_problems,
)
from integraal.claims.formats.errors import (
    BatchNotWritableError,
    EncodingError,
    FieldValueError,
    FormatError,
    StructureError,
    TotalsMismatchError,
)
from integraal.claims.formats.registry import Format, register
from integraal.claims.lifecycle import ClaimState
from integraal.claims.payment import Payment, payment_problems
from integraal.claims.returncodes import return_codes
from integraal.domain.identifiers import is_valid_agb, is_valid_bsn, is_valid_uzovi

Json: TypeAlias = "dict[str, Json] | list[Json] | str | int | bool | Decimal | None"

# --- identifier and code systems ----------------------------------------------------------------------------

BSN_SYSTEM = "http://fhir.nl/fhir/NamingSystem/bsn"
AGB_SYSTEM = "http://fhir.nl/fhir/NamingSystem/agb-z"
UZOVI_SYSTEM = "http://fhir.nl/fhir/NamingSystem/uzovi"

_OURS = "https://integraal.example/fhir"
PRESTATIE_SYSTEM = f"{_OURS}/CodeSystem/nza-prestatie"  # NZa prestatie codes; ours until NZa publishes one
COD954_SYSTEM = f"{_OURS}/CodeSystem/vektis-cod954"  # Vektis COD954 return codes; Vektis publishes no FHIR URI
BATCH_ID_SYSTEM = f"{_OURS}/NamingSystem/claim-batch-id"  # invoice number of a claim batch, assigned by the IGO
LINE_ID_SYSTEM = f"{_OURS}/NamingSystem/claim-line-id"  # stable claim line id, assigned by the IGO
INSURER_REFERENCE_SYSTEM = f"{_OURS}/NamingSystem/insurer-return-reference"  # the insurer's reference of a return
PAYMENT_ID_SYSTEM = f"{_OURS}/NamingSystem/payment-id"  # the insurer's id of a payment

EXT_LINE_ID = f"{_OURS}/StructureDefinition/claim-line-id"  # Claim.item: valueIdentifier
EXT_ORIGINAL_LINE_ID = f"{_OURS}/StructureDefinition/original-claim-line-id"  # Claim.item: valueIdentifier
EXT_DEBIT_CREDIT = f"{_OURS}/StructureDefinition/debit-credit"  # Claim.item: valueCode D | C
EXT_RECEIVER = f"{_OURS}/StructureDefinition/claim-receiver"  # Bundle.meta: valueIdentifier (UZOVI)
EXT_PERIOD = f"{_OURS}/StructureDefinition/claim-period"  # Bundle.meta: valuePeriod
EXT_BATCH_ID = f"{_OURS}/StructureDefinition/claim-batch-identifier"  # Bundle.meta (returns): valueIdentifier
EXT_CREATED = f"{_OURS}/StructureDefinition/claim-created"  # Bundle.meta (returns): valueDate
EXT_FILE_RETURN_CODE = f"{_OURS}/StructureDefinition/file-return-code"  # Bundle.meta (returns): valueCoding

CLAIM_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/claim-type"
PRIORITY_SYSTEM = "http://terminology.hl7.org/CodeSystem/processpriority"
INFO_CATEGORY_SYSTEM = "http://terminology.hl7.org/CodeSystem/claiminformationcategory"
ADJUDICATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/adjudication"
PAYMENT_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/payment-type"

CURRENCY = "EUR"
PATIENT_ID = "insured"  # id of the contained Patient
CLAIM_ID = "claim"  # id of the Claim contained in a ClaimResponse (the claim echoed, as in KZ302)
MAX_MONEY_DIGITS = 13  # digits before the decimal point we accept; guards against 1e999999 in input

_OUTCOMES = {"complete", "partial", "error"}
_FHIR_CODE = re.compile(r"[^\s]+(\s[^\s]+)*")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATE_TIME = re.compile(
    r"([0-9]{4}-[0-9]{2}-[0-9]{2})(T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2}))?"
)


# --- errors ----------------------------------------------------------------------------------------------------


class FhirFormatError(FormatError):
    """A FHIR document that does not match our formats. ``path`` is a JSON path (``entry[3].resource.item[0]``,
    empty for the document as a whole); ``line`` and ``column`` are set (1-based) only where the error has a
    place in the text (encoding and JSON syntax), else 0."""

    def __init__(self, message: str, *, path: str, line: int = 0, column: int = 0) -> None:
        self.path = path
        super().__init__(message, line=line, column=column, field=path or None)
        self.args = (str(self),)

    def __str__(self) -> str:
        where = self.path or "(document)"
        if self.line:
            where += f" (line {self.line}, column {self.column})"
        code = f" [COD954 {self.vektis_code}]" if self.vektis_code else ""
        return f"{where}: {self.reason}{code}"


class FhirEncodingError(FhirFormatError, EncodingError):
    """Bytes that are not UTF-8."""


class FhirSyntaxError(FhirFormatError):
    """Text that is not JSON (or JSON with duplicate keys, NaN, or nested too deep)."""


class FhirResourceTypeError(FhirFormatError, StructureError):
    """A resource of the wrong type where the format expects another (e.g. a Patient as a Bundle entry)."""


class FhirSchemaError(FhirFormatError):
    """A document that ``fhir.resources`` does not accept as FHIR R4 (missing element, wrong type, pattern)."""


class FhirValueError(FhirFormatError, FieldValueError):
    """Valid FHIR, but a value our checks refuse: BSN, AGB, UZOVI, currency, decimals, date, code, system."""


class FhirStructureError(FhirFormatError, StructureError):
    """Valid FHIR, but put together in a way our formats do not allow (sequences, references, duplicates)."""


class FhirTotalsError(FhirFormatError, TotalsMismatchError):
    """A total or outcome that does not match the items it sums up."""


# --- writing ---------------------------------------------------------------------------------------------------


def _euros(cents: int) -> Decimal:
    """Integer cents as a Decimal with exactly two decimals (``150010`` → ``1500.10``), no float in between."""
    return Decimal(cents).scaleb(-2)


def _money(cents: int) -> dict[str, Json]:
    return {"value": _euros(cents), "currency": CURRENCY}


def _identifier(system: str, value: str) -> dict[str, Json]:
    return {"system": system, "value": value}


def _concept(system: str, code: str, display: str | None = None) -> dict[str, Json]:
    coding: dict[str, Json] = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return {"coding": [coding]}


def _period(start: date, end: date) -> dict[str, Json]:
    return {"start": start.isoformat(), "end": end.isoformat()}


def _instant(day: date) -> str:
    """A date as a FHIR instant (midnight UTC); readers take the date part as written."""
    return f"{day.isoformat()}T00:00:00Z"


def _extension(url: str, kind: str, value: Json) -> dict[str, Json]:
    return {"url": url, kind: value}


def _return_code(code: str) -> dict[str, Json]:
    return {"system": COD954_SYSTEM, "code": code, "display": return_codes()[code].text_nl}


def _dumps(value: Json, indent: str = "") -> str:
    """JSON with two-space indentation that writes Decimals digit for digit (``json`` would need floats)."""
    inner = indent + "  "
    if isinstance(value, dict):
        if not value:
            return "{}"
        members = ",\n".join(f"{inner}{json.dumps(key)}: {_dumps(item, inner)}" for key, item in value.items())
        return "{\n" + members + "\n" + indent + "}"
    if isinstance(value, list):
        if not value:
            return "[]"
        return "[\n" + ",\n".join(inner + _dumps(item, inner) for item in value) + "\n" + indent + "]"
    if isinstance(value, Decimal):
        return format(value, "f")
    return json.dumps(value, ensure_ascii=False)


def _people(
    lines: Sequence[ClaimBatchLine], codes: Sequence[tuple[str, ...]] | None = None
) -> list[list[tuple[int, int]]]:
    """Indices of ``lines`` grouped per insured person (BSN, birth date and, in a return, her return codes), in
    order of first appearance, each paired with the line's position in the batch (1-based item sequence)."""
    groups: dict[tuple[str, date | None, tuple[str, ...]], list[tuple[int, int]]] = {}
    for index, line in enumerate(lines):
        key = (line.bsn, line.birth_date, codes[index] if codes is not None else ())
        groups.setdefault(key, []).append((index, index + 1))
    return list(groups.values())


def _patient(line: ClaimBatchLine) -> dict[str, Json]:
    patient: dict[str, Json] = {
        "resourceType": "Patient",
        "id": PATIENT_ID,
        "identifier": [_identifier(BSN_SYSTEM, line.bsn)],
    }
    if line.birth_date is not None:
        patient["birthDate"] = line.birth_date.isoformat()
    return patient


def _claim(batch: ClaimBatch | ReturnBatch, lines: Sequence[tuple[int, ClaimBatchLine]], *, echo: bool) -> Json:
    """One Claim for one insured person. ``echo``: the claim as contained in a ClaimResponse (id ``claim``,
    its Patient contained by the ClaimResponse), else a Bundle entry containing its own Patient."""
    claim: dict[str, Json] = {"resourceType": "Claim"}
    if echo:
        claim["id"] = CLAIM_ID
    else:
        claim["contained"] = [_patient(lines[0][1])]
    claim.update(
        {
            "status": "active",
            "type": _concept(CLAIM_TYPE_SYSTEM, "institutional"),
            "use": "claim",
            "patient": {"reference": f"#{PATIENT_ID}"},
            "billablePeriod": _period(batch.period_start, batch.period_end),
            "created": batch.creation_date.isoformat(),
            "insurer": {"identifier": _identifier(UZOVI_SYSTEM, batch.receiver_uzovi)},
            "provider": {"identifier": _identifier(AGB_SYSTEM, batch.sender_agb)},
            "priority": _concept(PRIORITY_SYSTEM, "normal"),
        }
    )
    infos: list[Json] = []
    items: list[Json] = []
    for sequence, line in lines:
        extensions: list[Json] = [
            _extension(EXT_LINE_ID, "valueIdentifier", _identifier(LINE_ID_SYSTEM, line.line_id)),
            _extension(EXT_DEBIT_CREDIT, "valueCode", line.debit_credit.value),
        ]
        if line.original_line_id is not None:
            original = _identifier(LINE_ID_SYSTEM, line.original_line_id)
            extensions.append(_extension(EXT_ORIGINAL_LINE_ID, "valueIdentifier", original))
        item: dict[str, Json] = {"extension": extensions, "sequence": sequence}
        if line.comments:
            numbers: list[Json] = []
            for comment in line.comments:
                number = len(infos) + 1
                info: dict[str, Json] = {
                    "sequence": number,
                    "category": _concept(INFO_CATEGORY_SYSTEM, "info"),
                    "valueString": comment,
                }
                infos.append(info)
                numbers.append(number)
            item["informationSequence"] = numbers
        item.update(
            {
                "productOrService": _concept(PRESTATIE_SYSTEM, line.prestatie_code),
                "servicedPeriod": _period(line.service_start, line.service_end),
                "quantity": {"value": line.quantity.quantize(Decimal("0.01"))},
                "net": _money(line.signed_cents),
            }
        )
        items.append(item)
    if infos:
        claim["supportingInfo"] = infos
    claim["insurance"] = [{"sequence": 1, "focal": True, "coverage": {"display": "Zvw basisverzekering"}}]
    claim["item"] = items
    claim["total"] = _money(sum(line.signed_cents for _, line in lines))
    return claim


def _fhir_problems(lines: Sequence[ClaimBatchLine]) -> list[Problem]:
    """What FHIR refuses beyond :func:`claim_batch_problems`: a ``code`` has no runs of whitespace."""
    return [
        Problem(line.line_id, "prestatie_code", "not a FHIR code (no leading, trailing or repeated whitespace)")
        for line in lines
        if not _FHIR_CODE.fullmatch(line.prestatie_code)
    ]


def _validated(name: str, tree: Json, model: type[BaseModel]) -> bytes:
    """Serialise ``tree`` after checking it with ``model``; a refusal is a batch we cannot write, not a crash."""
    try:
        model.model_validate(tree)
    except ValidationError as exc:
        problems = tuple(
            Problem(None, _json_path(error["loc"]), f"fhir.resources: {error['msg']}") for error in exc.errors()
        )
        raise BatchNotWritableError(name, problems) from exc
    return (_dumps(tree) + "\n").encode("utf-8")


def write_claim(batch: ClaimBatch) -> bytes:
    """The ``fhir-claim`` Bundle for ``batch``; raises ``BatchNotWritableError`` listing every problem."""
    problems = (*claim_batch_problems(batch), *_fhir_problems(batch.lines))
    if problems:
        raise BatchNotWritableError("fhir-claim", problems)
    batch_id = _identifier(BATCH_ID_SYSTEM, batch.batch_id)
    batch_id["assigner"] = {"identifier": _identifier(AGB_SYSTEM, batch.sender_agb)}
    entries: list[Json] = [
        {"resource": _claim(batch, [(seq, batch.lines[i]) for i, seq in group], echo=False)}
        for group in _people(batch.lines)
    ]
    bundle: dict[str, Json] = {
        "resourceType": "Bundle",
        "meta": {
            "extension": [
                _extension(EXT_RECEIVER, "valueIdentifier", _identifier(UZOVI_SYSTEM, batch.receiver_uzovi)),
                _extension(EXT_PERIOD, "valuePeriod", _period(batch.period_start, batch.period_end)),
            ]
        },
        "identifier": batch_id,
        "type": "collection",
        "timestamp": _instant(batch.creation_date),
        "entry": entries,
    }
    return _validated("fhir-claim", bundle, Bundle)


def _outcome(lines: Sequence[ReturnLine]) -> str:
    """``complete`` when every line got what it claimed, ``error`` when none got anything, else ``partial``."""
    states = {r.outcome() for r in lines}
    if states == {ClaimState.ACCEPTED}:
        return "complete"
    if states == {ClaimState.REJECTED}:
        return "error"
    return "partial"


def _adjudication(category: str, cents: int) -> dict[str, Json]:
    return {"category": _concept(ADJUDICATION_SYSTEM, category), "amount": _money(cents)}


def _claim_response(batch: ReturnBatch, returned: Sequence[tuple[int, ReturnLine]]) -> Json:
    first = returned[0][1]
    errors: list[Json] = [{"code": {"coding": [_return_code(code)]}} for code in first.insured_return_codes]
    items: list[Json] = []
    for sequence, r in returned:
        adjudications: list[Json] = [
            _adjudication("submitted", r.line.signed_cents),
            _adjudication("eligible", r.calculated_cents),
            _adjudication("benefit", r.awarded_cents),
        ]
        items.append({"itemSequence": sequence, "adjudication": adjudications})
        errors += [{"itemSequence": sequence, "code": {"coding": [_return_code(code)]}} for code in r.return_codes]
    response: dict[str, Json] = {
        "resourceType": "ClaimResponse",
        "contained": [_patient(first.line), _claim(batch, [(seq, r.line) for seq, r in returned], echo=True)],
        "status": "active",
        "type": _concept(CLAIM_TYPE_SYSTEM, "institutional"),
        "use": "claim",
        "patient": {"reference": f"#{PATIENT_ID}"},
        "created": batch.return_date.isoformat(),
        "insurer": {"identifier": _identifier(UZOVI_SYSTEM, batch.receiver_uzovi)},
        "requestor": {"identifier": _identifier(AGB_SYSTEM, batch.sender_agb)},
        "request": {"reference": f"#{CLAIM_ID}"},
        "outcome": _outcome([r for _, r in returned]),
        "item": items,
        "total": [
            _adjudication("submitted", sum(r.line.signed_cents for _, r in returned)),
            _adjudication("benefit", sum(r.awarded_cents for _, r in returned)),
        ],
    }
    if errors:
        response["error"] = errors
    return response


def _return_problems(batch: ReturnBatch) -> list[Problem]:
    known = return_codes()
    problems: list[Problem] = []
    ref = batch.insurer_reference
    if ref != ref.strip() or any(not " " <= ch <= "~" for ch in ref):
        problems.append(Problem(None, "insurer_reference", "printable ASCII without outer spaces (may be empty)"))
    groups: list[tuple[str | None, str, tuple[str, ...]]] = [(None, "header_return_codes", batch.header_return_codes)]
    for r in batch.lines:
        lid = r.line.line_id
        groups += [(lid, "return_codes", r.return_codes), (lid, "insured_return_codes", r.insured_return_codes)]
    for where, name, codes in groups:
        problems += [Problem(where, name, f"{code!r} is not in our COD954 list") for code in codes if code not in known]
    return problems


def write_return(batch: ReturnBatch) -> bytes:
    """The ``fhir-claimresponse`` Bundle for ``batch``; raises ``BatchNotWritableError`` listing every problem."""
    lines = tuple(r.line for r in batch.lines)
    as_claim = ClaimBatch(
        batch.sender_agb,
        batch.receiver_uzovi,
        batch.batch_id,
        batch.creation_date,
        batch.period_start,
        batch.period_end,
        lines,
    )
    # As in KZ302: the insurer echoes the lines as received; service dates after the invoice date are its verdict.
    problems = (
        *claim_batch_problems(as_claim, check_invoice_dates=False),
        *_fhir_problems(lines),
        *_return_problems(batch),
    )
    if problems:
        raise BatchNotWritableError("fhir-claimresponse", problems)
    batch_id = _identifier(BATCH_ID_SYSTEM, batch.batch_id)
    batch_id["assigner"] = {"identifier": _identifier(AGB_SYSTEM, batch.sender_agb)}
    meta: list[Json] = [
        _extension(EXT_BATCH_ID, "valueIdentifier", batch_id),
        _extension(EXT_CREATED, "valueDate", batch.creation_date.isoformat()),
        _extension(EXT_RECEIVER, "valueIdentifier", _identifier(UZOVI_SYSTEM, batch.receiver_uzovi)),
        _extension(EXT_PERIOD, "valuePeriod", _period(batch.period_start, batch.period_end)),
    ]
    meta += [_extension(EXT_FILE_RETURN_CODE, "valueCoding", _return_code(c)) for c in batch.header_return_codes]
    bundle: dict[str, Json] = {"resourceType": "Bundle", "meta": {"extension": meta}}
    if batch.insurer_reference:
        reference = _identifier(INSURER_REFERENCE_SYSTEM, batch.insurer_reference)
        reference["assigner"] = {"identifier": _identifier(UZOVI_SYSTEM, batch.receiver_uzovi)}
        bundle["identifier"] = reference
    codes = [r.insured_return_codes for r in batch.lines]
    bundle.update(
        {
            "type": "collection",
            "timestamp": _instant(batch.return_date),
            "entry": [
                {"resource": _claim_response(batch, [(seq, batch.lines[i]) for i, seq in group])}
                for group in _people(lines, codes)
            ],
        }
    )
    return _validated("fhir-claimresponse", bundle, Bundle)


def write_payment(payment: Payment) -> bytes:
    """The ``fhir-payment`` PaymentReconciliation; raises ``BatchNotWritableError`` listing every problem."""
    problems = payment_problems(payment)
    if problems:
        raise BatchNotWritableError("fhir-payment", problems)
    details: list[Json] = [
        {
            "type": _concept(PAYMENT_TYPE_SYSTEM, "payment"),
            "request": {"type": "Claim", "identifier": _identifier(LINE_ID_SYSTEM, line_id)},
            "amount": _money(cents),
        }
        for line_id, cents in payment.allocations
    ]
    resource: dict[str, Json] = {
        "resourceType": "PaymentReconciliation",
        "identifier": [_identifier(PAYMENT_ID_SYSTEM, payment.payment_id)],
        "status": "active",
        "created": payment.date.isoformat(),
        "paymentIssuer": {"identifier": _identifier(UZOVI_SYSTEM, payment.uzovi)},
        "requestor": {"identifier": _identifier(AGB_SYSTEM, payment.igo_agb)},
        "paymentDate": payment.date.isoformat(),
        "paymentAmount": _money(payment.total_cents),
    }
    if details:
        resource["detail"] = details
    return _validated("fhir-payment", resource, PaymentReconciliation)


# --- reading ---------------------------------------------------------------------------------------------------


def _json_path(loc: Sequence[int | str]) -> str:
    """A pydantic error location as a JSON path: ``('entry', 3, 'resource')`` → ``entry[3].resource``."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else part
    return path


@dataclass(frozen=True, slots=True)
class _At:
    """A value of the parsed JSON and its JSON path: every check can say where it failed."""

    value: object
    path: str

    def fail(self, message: str, kind: type[FhirFormatError] = FhirValueError) -> FhirFormatError:
        return kind(message, path=self.path)

    def get(self, key: str) -> _At | None:
        obj = self.obj()
        if key not in obj:
            return None
        return _At(obj[key], f"{self.path}.{key}" if self.path else key)

    def req(self, key: str) -> _At:
        found = self.get(key)
        if found is None:
            raise self.fail(f"{key!r} is required here", FhirStructureError)
        return found

    def each(self, key: str) -> list[_At]:
        found = self.get(key)
        if found is None:
            return []
        if not isinstance(found.value, list):
            raise found.fail("expected an array", FhirStructureError)
        return [_At(item, f"{found.path}[{i}]") for i, item in enumerate(found.value)]

    def obj(self) -> dict[str, object]:
        if not isinstance(self.value, dict):
            raise self.fail("expected an object", FhirStructureError)
        return self.value

    def text(self) -> str:
        if not isinstance(self.value, str) or not self.value:
            raise self.fail("expected a non-empty string")
        return self.value

    def integer(self) -> int:
        if isinstance(self.value, bool) or not isinstance(self.value, int):
            raise self.fail("expected an integer")
        return self.value

    def decimal(self, places: int) -> Decimal:
        if isinstance(self.value, bool) or not isinstance(self.value, int | Decimal):
            raise self.fail("expected a number")
        value = Decimal(self.value)
        exponent = value.as_tuple().exponent
        if not value.is_finite() or not isinstance(exponent, int):
            raise self.fail("expected a finite number")
        shown = str(value) if len(str(value)) <= 40 else f"{str(value)[:37]}..."
        if exponent < -places:
            raise self.fail(f"{shown} has more than {places} decimals")
        if value.adjusted() >= MAX_MONEY_DIGITS:
            raise self.fail(f"{shown} is implausibly large")
        return value

    def expect(self, expected: str) -> None:
        if self.text() != expected:
            raise self.fail(f"expected {expected!r}, found {self.value!r}")


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise FhirSyntaxError(f"key {key!r} appears twice in one object", path="")
        result[key] = value
    return result


def _no_constants(name: str) -> object:
    raise FhirSyntaxError(f"{name} is not a JSON number", path="")


def _bounded_int(text: str) -> int:
    if len(text) > 30:  # int() refuses > 4300 digits with a bare ValueError; no FHIR integer needs 30
        raise FhirSyntaxError(f"integer {text[:20]}... is too long", path="")
    return int(text)


def _parse_json(data: bytes) -> object:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise FhirEncodingError(f"byte {exc.start} is not UTF-8", path="", line=line, column=column) from None
    try:
        return json.loads(
            text,
            parse_float=Decimal,
            parse_constant=_no_constants,
            parse_int=_bounded_int,
            object_pairs_hook=_no_duplicate_keys,
        )
    except json.JSONDecodeError as exc:
        raise FhirSyntaxError(f"not JSON: {exc.msg}", path="", line=exc.lineno, column=exc.colno) from None
    except RecursionError:
        raise FhirSyntaxError("JSON nested too deeply", path="") from None


def _resource_type(at: _At, allowed: set[str]) -> str:
    kind = at.get("resourceType")
    if kind is None or not isinstance(kind.value, str) or kind.value not in allowed:
        found = None if kind is None else kind.value
        expected = f"a {' or '.join(sorted(allowed))} resource" if allowed else "no resource here"
        raise (kind or at).fail(f"expected {expected}, found {found!r}", FhirResourceTypeError)
    return kind.value


def _load(data: bytes, top: str, entries: str | None, contained: set[str], model: type[BaseModel]) -> _At:
    """Parse, check resource types (top, Bundle entries, contained), then validate with ``fhir.resources``."""
    root = _At(_parse_json(data), "")
    if not isinstance(root.value, dict):
        raise root.fail(f"expected a JSON object, a FHIR {top}", FhirResourceTypeError)
    _resource_type(root, {top})
    resources = [root] if entries is None else [entry.req("resource") for entry in root.each("entry")]
    for resource in resources:
        if entries is not None:
            _resource_type(resource, {entries})
        for inner in resource.each("contained"):
            _resource_type(inner, contained)
    try:
        model.model_validate(root.value)
    except ValidationError as exc:
        error = exc.errors()[0]
        raise FhirSchemaError(f"not valid FHIR R4: {error['msg']}", path=_json_path(error["loc"])) from None
    except Exception as exc:  # fhir.resources fails with KeyError & co. on some odd input: still bad input
        raise FhirSchemaError(f"not valid FHIR R4: {type(exc).__name__}: {exc}", path="") from None
    return root


def _day(at: _At) -> date:
    text = at.text()
    if not _DATE.fullmatch(text):
        raise at.fail(f"{text!r} is not a full date (YYYY-MM-DD)")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise at.fail(f"{text!r} is not a date that exists") from None


def _date_part(at: _At) -> date:
    """The date of a FHIR date or dateTime with at least a day, as written (its own time zone)."""
    text = at.text()
    match = _DATE_TIME.fullmatch(text)
    if not match:
        raise at.fail(f"{text!r} is not a full date or date-time")
    try:
        return date.fromisoformat(match.group(1))
    except ValueError:
        raise at.fail(f"{text!r} is not a date that exists") from None


def _ident(at: _At, system: str, valid: Callable[[str], bool], what: str) -> str:
    """The value of an Identifier of ``system``; ``valid`` is our check of its shape."""
    at.req("system").expect(system)
    value = at.req("value")
    text = value.text()
    if not valid(text):
        raise value.fail(f"{text!r} is not {what}")
    return text


def _any(_: str) -> bool:
    return True


def _bsn(at: _At) -> str:
    return _ident(at, BSN_SYSTEM, is_valid_bsn, "a BSN that passes the 11-test (COD954 0435)")


def _agb(at: _At) -> str:
    return _ident(at, AGB_SYSTEM, is_valid_agb, "an 8-digit AGB code")


def _uzovi(at: _At) -> str:
    return _ident(at, UZOVI_SYSTEM, is_valid_uzovi, "a 4-digit UZOVI code")


def _cents(at: _At) -> int:
    """Money in EUR with at most two decimals, as integer cents (exact: Decimal, never float)."""
    at.req("currency").expect(CURRENCY)
    return int(at.req("value").decimal(2).scaleb(2))


def _period_dates(at: _At) -> tuple[date, date]:
    start, end = _day(at.req("start")), _day(at.req("end"))
    if end < start:
        raise at.req("end").fail("period ends before it starts")
    return start, end


def _extensions(at: _At, url: str) -> Iterator[_At]:
    return (ext for ext in at.each("extension") if ext.obj().get("url") == url)


def _one_extension(at: _At, url: str, kind: str, *, required: bool = True) -> _At | None:
    found = list(_extensions(at, url))
    if len(found) > 1:
        raise found[1].fail(f"extension {url} appears more than once", FhirStructureError)
    if not found:
        if required:
            raise at.fail(f"extension {url} is required here", FhirStructureError)
        return None
    return found[0].req(kind)


def _required_extension(at: _At, url: str, kind: str) -> _At:
    found = _one_extension(at, url, kind)
    assert found is not None  # required=True raises instead of returning None
    return found


def _no_modifiers(at: _At) -> None:
    if at.get("modifierExtension") is not None:
        raise at.req("modifierExtension").fail("modifier extensions are not understood", FhirStructureError)


def _coded(at: _At, system: str) -> _At:
    """The one coding of ``system`` in a CodeableConcept, as its ``code``."""
    found = [c for c in at.each("coding") if c.obj().get("system") == system]
    if len(found) != 1:
        raise at.fail(f"expected exactly one coding with system {system}", FhirStructureError)
    return found[0].req("code")


def _cod954(at: _At) -> str:
    """A Coding of COD954 whose code is in our list (``integraal.claims.returncodes``)."""
    at.req("system").expect(COD954_SYSTEM)
    code = at.req("code")
    text = code.text()
    if text not in return_codes():
        raise code.fail(f"return code {text!r} is not in our COD954 list")
    return text


@dataclass(frozen=True, slots=True)
class _Header:
    sender_agb: str
    receiver_uzovi: str
    batch_id: str
    creation_date: date
    period_start: date
    period_end: date


Where = dict[tuple[str | None, str], str]
"""The JSON path of each value we read, by (line id or None, field name of ``Problem``)."""


def _meta_header(bundle: _At, where: Where) -> tuple[str, tuple[date, date]]:
    """Receiver and claim period from the Bundle's meta extensions."""
    meta = bundle.req("meta")
    receiver = _required_extension(meta, EXT_RECEIVER, "valueIdentifier")
    period = _required_extension(meta, EXT_PERIOD, "valuePeriod")
    where[None, "receiver_uzovi"] = f"{receiver.path}.value"
    where[None, "period_end"] = f"{period.path}.end"
    return _uzovi(receiver), _period_dates(period)


def _batch_identifier(at: _At, where: Where) -> tuple[str, str]:
    """Batch id (invoice number) and the sender's AGB code, its assigner."""
    where[None, "batch_id"] = f"{at.path}.value"
    where[None, "sender_agb"] = f"{at.path}.assigner.identifier.value"
    batch_id = _ident(at, BATCH_ID_SYSTEM, _any, "a batch id")
    return batch_id, _agb(at.req("assigner").req("identifier"))


def _patients(resource: _At) -> dict[str, _At]:
    """Contained Patients by local reference (``#insured``)."""
    return {f"#{p.req('id').text()}": p for p in resource.each("contained") if p.obj().get("resourceType") == "Patient"}


def _insured(resource: _At, contained: dict[str, _At]) -> tuple[_At, str, date | None]:
    reference = resource.req("patient").req("reference")
    patient = contained.get(reference.text())
    if patient is None:
        raise reference.fail("must refer to a contained Patient", FhirStructureError)
    _no_modifiers(patient)
    identifiers = [i for i in patient.each("identifier") if i.obj().get("system") == BSN_SYSTEM]
    if len(identifiers) != 1:
        raise patient.fail("the Patient needs exactly one BSN identifier", FhirStructureError)
    birth = patient.get("birthDate")
    return patient, _bsn(identifiers[0]), None if birth is None else _day(birth)


def _same(at: _At, found: object, expected: object, what: str) -> None:
    if found != expected:
        raise at.fail(f"{what} {found} differs from the bundle's {expected}", FhirStructureError)


def _read_claim(
    claim: _At, header: _Header, contained: dict[str, _At], where: Where
) -> list[tuple[int, _At, ClaimBatchLine]]:
    """The lines of one Claim, each with its item sequence (position in the batch) and path."""
    _no_modifiers(claim)
    claim.req("status").expect("active")
    claim.req("use").expect("claim")
    patient, bsn, birth = _insured(claim, contained)
    provider = claim.req("provider").req("identifier")
    _same(provider, _agb(provider), header.sender_agb, "provider AGB")
    insurer = claim.req("insurer").req("identifier")
    _same(insurer, _uzovi(insurer), header.receiver_uzovi, "insurer UZOVI")
    created = claim.req("created")
    _same(created, _date_part(created), header.creation_date, "created date")
    billable = claim.req("billablePeriod")
    _same(billable, _period_dates(billable), (header.period_start, header.period_end), "billable period")
    infos: dict[int, str] = {}
    for info in claim.each("supportingInfo"):
        number = info.req("sequence")
        if number.integer() in infos:
            raise number.fail(f"supportingInfo sequence {number.value} is used twice", FhirStructureError)
        _coded(info.req("category"), INFO_CATEGORY_SYSTEM).expect("info")
        infos[number.integer()] = info.req("valueString").text()
    result: list[tuple[int, _At, ClaimBatchLine]] = []
    for item in claim.each("item"):
        _no_modifiers(item)
        line_id = _ident(_required_extension(item, EXT_LINE_ID, "valueIdentifier"), LINE_ID_SYSTEM, _any, "a line id")
        dc = _required_extension(item, EXT_DEBIT_CREDIT, "valueCode")
        if dc.value not in ("D", "C"):
            raise dc.fail(f"debit/credit is {dc.value!r}, expected D or C (COD954 0631)")
        original_at = _one_extension(item, EXT_ORIGINAL_LINE_ID, "valueIdentifier", required=False)
        original = None if original_at is None else _ident(original_at, LINE_ID_SYSTEM, _any, "a line id")
        code = _coded(item.req("productOrService"), PRESTATIE_SYSTEM)
        quantity = item.req("quantity").req("value")
        net = item.req("net")
        signed = _cents(net)
        credit = dc.value == "C"
        if (credit and signed > 0) or (not credit and signed < 0):
            raise net.req("value").fail(f"a {'credit' if credit else 'debit'} must not be {signed / 100:+.2f}")
        comments: list[str] = []
        for number in item.each("informationSequence"):
            if number.integer() not in infos:
                raise number.fail(f"no supportingInfo with sequence {number.value}", FhirStructureError)
            comments.append(infos[number.integer()])
        start, end = _period_dates(item.req("servicedPeriod"))
        amount = _quantity(quantity)
        line = ClaimBatchLine(
            line_id=line_id,
            bsn=bsn,
            prestatie_code=code.text(),
            service_start=start,
            service_end=end,
            quantity=amount,
            amount_cents=abs(signed),
            debit_credit=DebitCredit.CREDIT if credit else DebitCredit.DEBIT,
            original_line_id=original,
            birth_date=birth,
            comments=tuple(comments),
        )
        paths = {
            "line_id": item.path,
            "bsn": patient.path,
            "birth_date": f"{patient.path}.birthDate",
            "prestatie_code": code.path,
            "service_start": f"{item.path}.servicedPeriod.start",
            "service_end": f"{item.path}.servicedPeriod.end",
            "quantity": quantity.path,
            "amount_cents": f"{net.path}.value",
            "original_line_id": item.path if original_at is None else f"{original_at.path}.value",
            "comments": f"{item.path}.informationSequence",
        }
        where.update({(line_id, name): path for name, path in paths.items()})
        result.append((item.req("sequence").integer(), item, line))
    total = claim.get("total")
    if total is not None and _cents(total) != sum(line.signed_cents for _, _, line in result):
        raise total.req("value").fail("the Claim total is not the sum of its items' net amounts", FhirTotalsError)
    return result


def _quantity(at: _At) -> Decimal:
    value = at.decimal(2)
    if value < 0:
        raise at.fail("quantity must not be negative")
    return value


def _in_order(items: list[tuple[int, _At, Any]], bundle: _At) -> list[Any]:
    """Items sorted by sequence, which must be 1..n over the whole Bundle: the order of the batch's lines."""
    by_sequence: dict[int, Any] = {}
    for sequence, at, value in items:
        if sequence in by_sequence:
            raise at.req("sequence").fail(f"item sequence {sequence} is used twice in the Bundle", FhirStructureError)
        by_sequence[sequence] = value
    missing = sorted(set(range(1, len(items) + 1)) - set(by_sequence))
    if missing:
        raise bundle.fail(f"item sequences must run 1..{len(items)}; {missing[0]} is missing", FhirStructureError)
    return [by_sequence[n] for n in range(1, len(items) + 1)]


def _first_problem(problems: Sequence[Problem], where: Where) -> None:
    """Raise the first problem ``claim_batch_problems`` found, at the path it came from."""
    if problems:
        p = problems[0]
        path = where.get((p.line_id, p.field)) or where.get((p.line_id, "line_id")) or ""
        raise FhirValueError(f"{p.field}: {p.message}", path=path)


def _collection(bundle: _At) -> list[_At]:
    bundle.req("type").expect("collection")
    return [entry.req("resource") for entry in bundle.each("entry")]


def read_claim(data: bytes) -> ClaimBatch:
    """Parse a ``fhir-claim`` Bundle; raises a :class:`FhirFormatError` subclass naming the JSON path."""
    bundle = _load(data, "Bundle", "Claim", {"Patient"}, Bundle)
    resources = _collection(bundle)
    where: Where = {}
    batch_id, sender = _batch_identifier(bundle.req("identifier"), where)
    receiver, (start, end) = _meta_header(bundle, where)
    header = _Header(sender, receiver, batch_id, _date_part(bundle.req("timestamp")), start, end)
    items: list[tuple[int, _At, Any]] = []
    for claim in resources:
        items += _read_claim(claim, header, _patients(claim), where)
    lines: tuple[ClaimBatchLine, ...] = tuple(_in_order(items, bundle.req("entry") if items else bundle))
    batch = ClaimBatch(sender, receiver, batch_id, header.creation_date, start, end, lines)
    _first_problem(claim_batch_problems(batch, check_invoice_dates=False), where)
    return batch


def _adjudications(item: _At) -> dict[str, int]:
    """Amounts by adjudication category; each of submitted, eligible and benefit exactly once."""
    amounts: dict[str, int] = {}
    for adjudication in item.each("adjudication"):
        category = _coded(adjudication.req("category"), ADJUDICATION_SYSTEM)
        name = category.text()
        if name in amounts:
            raise category.fail(f"adjudication {name!r} appears twice", FhirStructureError)
        amounts[name] = _cents(adjudication.req("amount"))
    for needed in ("submitted", "eligible", "benefit"):
        if needed not in amounts:
            raise item.fail(f"adjudication {needed!r} is required", FhirStructureError)
    return amounts


def _read_response(response: _At, header: _Header, return_date: date, where: Where) -> list[tuple[int, _At, Any]]:
    _no_modifiers(response)
    response.req("status").expect("active")
    response.req("use").expect("claim")
    contained = _patients(response)
    _patient, bsn, _birth = _insured(response, contained)
    insurer = response.req("insurer").req("identifier")
    _same(insurer, _uzovi(insurer), header.receiver_uzovi, "insurer UZOVI")
    requestor = response.req("requestor").req("identifier")
    _same(requestor, _agb(requestor), header.sender_agb, "requestor AGB")
    created = response.req("created")
    _same(created, _date_part(created), return_date, "created date")
    request = response.req("request").req("reference")
    request.expect(f"#{CLAIM_ID}")
    claims = [c for c in response.each("contained") if c.obj().get("id") == CLAIM_ID]
    if len(claims) != 1 or claims[0].obj().get("resourceType") != "Claim":
        raise request.fail("must refer to the one contained Claim", FhirStructureError)
    echoed: dict[int, tuple[_At, ClaimBatchLine]] = {}
    for seq, at, line in _read_claim(claims[0], header, contained, where):
        if seq in echoed:
            raise at.req("sequence").fail(f"item sequence {seq} is used twice in the Claim", FhirStructureError)
        echoed[seq] = (at, line)
    if any(line.bsn != bsn for _, line in echoed.values()):
        raise claims[0].req("patient").fail("the contained Claim is for another patient", FhirStructureError)
    insured_codes: list[str] = []
    codes: dict[int, list[str]] = {seq: [] for seq in echoed}
    for error in response.each("error"):
        coding = error.req("code").each("coding")
        if len(coding) != 1:
            raise error.req("code").fail("expected exactly one COD954 coding", FhirStructureError)
        code = _cod954(coding[0])
        number = error.get("itemSequence")
        if number is None:
            insured_codes.append(code)
        elif number.integer() in codes:
            codes[number.integer()].append(code)
        else:
            raise number.fail(f"no item with sequence {number.value}", FhirStructureError)
    result: list[tuple[int, _At, Any]] = []
    seen: set[int] = set()
    for item in response.each("item"):
        _no_modifiers(item)
        number = item.req("itemSequence")
        sequence = number.integer()
        if sequence not in echoed or sequence in seen:
            raise number.fail(f"item sequence {sequence} is not one claim item answered once", FhirStructureError)
        seen.add(sequence)
        claim_item, line = echoed[sequence]
        amounts = _adjudications(item)
        if amounts["submitted"] != line.signed_cents:
            raise item.fail("the submitted amount differs from the claim item's net", FhirTotalsError)
        insured = tuple(insured_codes)
        returned = ReturnLine(line, amounts["eligible"], amounts["benefit"], tuple(codes[sequence]), insured)
        result.append((sequence, claim_item, returned))
    if seen != set(echoed):
        raise response.fail(f"claim item {min(set(echoed) - seen)} has no answer", FhirStructureError)
    lines = [r for _, _, r in result]
    outcome = response.req("outcome")
    if outcome.text() != _outcome(lines):
        raise outcome.fail(f"outcome {outcome.value!r} does not match the awarded amounts", FhirTotalsError)
    totals = {_coded(t.req("category"), ADJUDICATION_SYSTEM).text(): t for t in response.each("total")}
    for category, expected in (
        ("submitted", sum(r.line.signed_cents for r in lines)),
        ("benefit", sum(r.awarded_cents for r in lines)),
    ):
        total = totals.get(category)
        if total is not None and _cents(total.req("amount")) != expected:
            raise total.fail(f"the {category} total is not the sum of the items", FhirTotalsError)
    return result


def read_return(data: bytes) -> ReturnBatch:
    """Parse a ``fhir-claimresponse`` Bundle; raises a :class:`FhirFormatError` subclass naming the JSON path."""
    bundle = _load(data, "Bundle", "ClaimResponse", {"Patient", "Claim"}, Bundle)
    resources = _collection(bundle)
    where: Where = {}
    meta = bundle.req("meta")
    batch_id, sender = _batch_identifier(_required_extension(meta, EXT_BATCH_ID, "valueIdentifier"), where)
    created = _day(_required_extension(meta, EXT_CREATED, "valueDate"))
    receiver, (start, end) = _meta_header(bundle, where)
    file_codes = tuple(_cod954(ext.req("valueCoding")) for ext in _extensions(meta, EXT_FILE_RETURN_CODE))
    reference = ""
    identifier = bundle.get("identifier")
    if identifier is not None:
        reference = _ident(identifier, INSURER_REFERENCE_SYSTEM, _any, "an insurer reference")
        assigner = identifier.req("assigner").req("identifier")
        _same(assigner, _uzovi(assigner), receiver, "assigner UZOVI")
    return_date = _date_part(bundle.req("timestamp"))
    header = _Header(sender, receiver, batch_id, created, start, end)
    items: list[tuple[int, _At, Any]] = []
    for response in resources:
        items += _read_response(response, header, return_date, where)
    lines: tuple[ReturnLine, ...] = tuple(_in_order(items, bundle.req("entry") if items else bundle))
    as_claim = ClaimBatch(sender, receiver, batch_id, created, start, end, tuple(r.line for r in lines))
    _first_problem(claim_batch_problems(as_claim, check_invoice_dates=False), where)
    return ReturnBatch(sender, receiver, batch_id, created, start, end, reference, return_date, file_codes, lines)


def read_payment(data: bytes) -> Payment:
    """Parse a ``fhir-payment`` PaymentReconciliation; raises a :class:`FhirFormatError` subclass naming the path."""
    resource = _load(data, "PaymentReconciliation", None, set(), PaymentReconciliation)
    _no_modifiers(resource)
    resource.req("status").expect("active")
    ids = [i for i in resource.each("identifier") if i.obj().get("system") == PAYMENT_ID_SYSTEM]
    if len(ids) != 1:
        raise resource.fail(f"expected exactly one identifier with system {PAYMENT_ID_SYSTEM}", FhirStructureError)
    payment_id = _ident(ids[0], PAYMENT_ID_SYSTEM, _any, "a payment id")
    uzovi = _uzovi(resource.req("paymentIssuer").req("identifier"))
    agb = _agb(resource.req("requestor").req("identifier"))
    day = _day(resource.req("paymentDate"))
    amount = resource.req("paymentAmount")
    total = _cents(amount)
    allocations: list[tuple[str, int]] = []
    where: Where = {(None, "payment_id"): f"{ids[0].path}.value", (None, "total_cents"): f"{amount.path}.value"}
    for detail in resource.each("detail"):
        _coded(detail.req("type"), PAYMENT_TYPE_SYSTEM).expect("payment")
        line = detail.req("request").req("identifier")
        line_id = _ident(line, LINE_ID_SYSTEM, _any, "a line id")
        where[line_id, "allocations"] = f"{line.path}.value"
        allocations.append((line_id, _cents(detail.req("amount"))))
    allocated = sum(cents for _, cents in allocations)
    if allocated != total:
        raise amount.req("value").fail(f"the details add up to {_euros(allocated)} EUR", FhirTotalsError)
    payment = Payment(payment_id, uzovi, agb, day, total, tuple(allocations))
    _first_problem(payment_problems(payment), where)
    return payment


FHIR_CLAIM: Format[ClaimBatch] = Format(
    "fhir-claim", "FHIR R4 Bundle (collection) of Claim resources, one per insured person", write_claim, read_claim
)
FHIR_CLAIMRESPONSE: Format[ReturnBatch] = Format(
    "fhir-claimresponse",
    "FHIR R4 Bundle (collection) of ClaimResponse resources, one per insured person, each echoing its Claim",
    write_return,
    read_return,
)
FHIR_PAYMENT: Format[Payment] = Format(
    "fhir-payment", "FHIR R4 PaymentReconciliation: one payment allocated to claim lines", write_payment, read_payment
)
register(FHIR_CLAIM)
register(FHIR_CLAIMRESPONSE)
register(FHIR_PAYMENT)
