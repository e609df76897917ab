"""Errors of the claim formats. Reading raises only :class:`FormatError` subclasses, each naming where.

Every reading error carries the 1-based line (record) number, the 1-based column (position in the record)
and, where one applies, the field name from the layout table, so a message points at one spot of one file.
Where Vektis has a return code for the same fault it is named (``vektis_code``), because that is the code the
insurer would have sent back.
"""

from __future__ import annotations

from integraal.claims.batch import Problem

MAX_REASON = 300
"""Longer reasons are cut in the middle: a huge value quoted in one (a pasted cell, a whole JSON array where a
string belongs) must not make the message unreadable, in a terminal or an API's problem document."""


def readable(message: str, limit: int = MAX_REASON) -> str:
    """``message``, or its start and end around a note of how much was left out when it is longer than ``limit``."""
    if len(message) <= limit:
        return message
    head, tail = limit * 2 // 3, limit // 4
    return f"{message[:head]} … ({len(message) - head - tail} characters left out) … {message[-tail:]}"


class FormatError(ValueError):
    """A claim or return file that does not match its format. The base of every reading error."""

    vektis_code: str | None = None

    def __init__(self, message: str, *, line: int, column: int, field: str | None = None) -> None:
        self.line = line
        self.column = column
        self.field = field
        self.reason = readable(message)
        where = f"line {line}, column {column}" + (f", field {field!r}" if field else "")
        code = f" [COD954 {self.vektis_code}]" if self.vektis_code else ""
        super().__init__(f"{where}: {self.reason}{code}")


class EncodingError(FormatError):
    """A byte that is not in the file's encoding (7-bit ASCII)."""


class TruncatedFileError(FormatError):
    """The file ends early: empty, cut inside a record, or without a closing record (99)."""

    vektis_code = "8095"


class RecordLengthError(FormatError):
    """A record that is not exactly the format's record length."""

    vektis_code = "0804"


class UnknownRecordTypeError(FormatError):
    """A record whose type (kenmerk record, positions 1-2) the format does not have."""

    vektis_code = "0002"


class FieldTypeError(FormatError):
    """A character a field's type does not allow: a non-digit in a numeric (N) field, a control character."""


class FieldValueError(FormatError):
    """A well-typed field with an impossible value: a date that does not exist, an unknown D/C indicator."""


class StructureError(FormatError):
    """Records in an order the format does not allow (e.g. a performance record before any insured person)."""


class CountMismatchError(FormatError):
    """A record count in the closing record that does not match the records in the file."""


class TotalsMismatchError(FormatError):
    """An amount total in the closing record that does not match the sum of the lines."""


class UnknownFormatError(LookupError):
    """No format is registered under that name."""


class BatchNotWritableError(ValueError):
    """A batch that cannot be written: carries every :class:`~integraal.claims.batch.Problem` found."""

    def __init__(self, format_name: str, problems: tuple[Problem, ...]) -> None:
        self.format_name = format_name
        self.problems = problems
        listed = "; ".join(str(p) for p in problems[:10])
        more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
        super().__init__(f"cannot write {format_name}: {listed}{more}")
