"""Return codes as data: Vektis COD954 (why a line came back) and COD027 (how a record was processed).

The code lists live in ``integraal/data/returncodes/*.csv`` with their source and how far each row is verified;
this module only reads them (through ``importlib.resources``, so they work from an installed wheel) and answers
"what do we do about this code?" (:func:`next_action`). The texts are Vektis's; the ``next_action`` column is
Integraal's policy, not part of the Vektis list (DOMAIN.md §4 names the frequent codes).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import TypeVar

_PACKAGE = "integraal.data"
_FOLDER = "returncodes"

E = TypeVar("E", bound=StrEnum)


class NextAction(StrEnum):
    """What the IGO does with a line that came back with a given return code."""

    FIX_AND_RESEND = "fix_and_resend"  # correct the data (or the file) and send again
    CREDIT = "credit"  # take the line back with a credit line
    WRITE_OFF = "write_off"  # accept the loss; the care is not (fully) claimable
    ASK_MEMBER = "ask_member"  # the IGO member who delivered the care must act (registration, agreement)
    REBUNDLE = "rebundle"  # bundle breaker (0587): feed the claim back into the bundle decision
    NONE = "none"  # informational; nothing to do


class ProcessingOutcome(StrEnum):
    """The outcome families of COD027 "Code verwerking"."""

    ACCEPTED = "accepted"
    NOT_ASSESSED = "not_assessed"  # not judged because a parent/child record was rejected
    ACCEPTED_WITH_RESERVATION = "accepted_with_reservation"
    PARTIAL_PAYMENT = "partial_payment"
    NO_PAYMENT = "no_payment"
    NOT_PROCESSED = "not_processed"


class Verification(StrEnum):
    """How far a row of a code list was checked against a public source."""

    VEKTIS = "vektis"  # seen on a Vektis page (code list or retourinformatie)
    SECONDARY = "secondary"  # seen in a software vendor's published list, not on a Vektis page
    UNVERIFIED = "unverified"  # text or code could not be (fully) confirmed


@dataclass(frozen=True, slots=True)
class ReturnCode:
    """One COD954 return code: four digits, Dutch and English text, what we do about it, and the source."""

    code: str
    text_nl: str
    text_en: str
    next_action: NextAction
    verification: Verification
    source: str

    def text(self, lang: str = "nl") -> str:
        return self.text_nl if lang == "nl" else self.text_en


@dataclass(frozen=True, slots=True)
class ProcessingCode:
    """One COD027 processing code: three digits and the outcome family it belongs to."""

    code: str
    outcome: ProcessingOutcome
    text_nl: str
    text_en: str
    verification: Verification
    source: str


class ReturnCodeDataError(ValueError):
    """A shipped code-list file is malformed (a programming-time error); names file, row and field."""


class UnknownReturnCodeError(LookupError):
    """A code that is not in the shipped list. Never guess an action for it: a person must look."""

    def __init__(self, code: str, list_name: str) -> None:
        self.code = code
        self.list_name = list_name
        super().__init__(
            f"unknown {list_name} code {code!r}: not in integraal/data/returncodes/{list_name.lower()}.csv; "
            "add it with its source before acting on it"
        )


def _rows(filename: str) -> list[tuple[int, dict[str, str]]]:
    text = resources.files(_PACKAGE).joinpath(_FOLDER, filename).read_text(encoding="utf-8")
    return [
        (i, {k: (v or "").strip() for k, v in row.items()})
        for i, row in enumerate(csv.DictReader(io.StringIO(text)), 2)
    ]


def _enum(kind: type[E], filename: str, row: int, field: str, value: str) -> E:
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        raise ReturnCodeDataError(
            f"{filename}: row {row}, field {field!r}: {value!r} is not one of {allowed}"
        ) from None


def _code(filename: str, row: int, value: str, digits: int) -> str:
    if len(value) != digits or not value.isdigit():
        raise ReturnCodeDataError(f"{filename}: row {row}, field 'code': {value!r} is not {digits} digits")
    return value


@cache
def return_codes() -> Mapping[str, ReturnCode]:
    """All COD954 return codes we ship, by code."""
    name = "cod954.csv"
    codes: dict[str, ReturnCode] = {}
    for row, r in _rows(name):
        code = _code(name, row, r["code"], 4)
        if code in codes:
            raise ReturnCodeDataError(f"{name}: row {row}, field 'code': {code} appears twice")
        codes[code] = ReturnCode(
            code=code,
            text_nl=r["text_nl"],
            text_en=r["text_en"],
            next_action=_enum(NextAction, name, row, "next_action", r["next_action"]),
            verification=_enum(Verification, name, row, "verification", r["verification"]),
            source=r["source"],
        )
    return MappingProxyType(codes)


@cache
def processing_codes() -> Mapping[str, ProcessingCode]:
    """All COD027 processing codes we ship, by code."""
    name = "cod027.csv"
    codes: dict[str, ProcessingCode] = {}
    for row, r in _rows(name):
        code = _code(name, row, r["code"], 3)
        if code in codes:
            raise ReturnCodeDataError(f"{name}: row {row}, field 'code': {code} appears twice")
        codes[code] = ProcessingCode(
            code=code,
            outcome=_enum(ProcessingOutcome, name, row, "outcome", r["outcome"]),
            text_nl=r["text_nl"],
            text_en=r["text_en"],
            verification=_enum(Verification, name, row, "verification", r["verification"]),
            source=r["source"],
        )
    return MappingProxyType(codes)


def return_code(code: str) -> ReturnCode:
    """The COD954 entry for ``code``; raises :class:`UnknownReturnCodeError` if we do not ship it."""
    try:
        return return_codes()[code]
    except KeyError:
        raise UnknownReturnCodeError(code, "COD954") from None


def next_action(code: str) -> NextAction:
    """What to do about a line that came back with COD954 ``code``. Unknown codes raise, never default."""
    return return_code(code).next_action


def processing_code(code: str) -> ProcessingCode:
    """The COD027 entry for ``code``; raises :class:`UnknownReturnCodeError` if we do not ship it."""
    try:
        return processing_codes()[code]
    except KeyError:
        raise UnknownReturnCodeError(code, "COD027") from None
