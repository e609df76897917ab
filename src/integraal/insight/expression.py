"""A tiny, safe condition language for indicator definitions (numerator, denominator, exclusions).

Indicator definitions are data (``data/indicators/indicators.yaml``), so their conditions are parsed here by a
hand-written tokenizer and recursive-descent parser — never ``eval``. The grammar is::

    condition  := disjunct ("or" disjunct)*
    disjunct   := negation ("and" negation)*
    negation   := "not" negation | atom
    atom       := "(" condition ")" | "true" | "false"
                | FIELD                                   -- a yes/no field is true
                | FIELD ("=="|"!="|"<"|"<="|">"|">=") VALUE
                | FIELD ["not"] "in" "[" VALUE ("," VALUE)* "]"
                | FIELD "is" ["not"] "missing"

A FIELD must be listed in ``OUTCOME_FIELDS``; a VALUE must fit the field's kind (a number for a number, ``true``
or ``false`` for a yes/no field, one of the listed category values, written bare, for a category). Ordering
(``<`` …) applies to numbers only. Anything else — attribute access, calls, quotes, unknown names — is refused
with an :class:`ExpressionError` naming the position and the reason.

Unknown values follow three-valued (Kleene) logic, as in SQL: a comparison with a missing value is *unknown*
(``None``), ``false and unknown`` is false, ``true or unknown`` is true, ``not unknown`` is unknown. Only
``is missing`` looks at missingness itself.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from integraal.insight.outcomes import OUTCOME_FIELDS, FieldKind, FieldSpec, OutcomeRecord, field_value

MAX_LENGTH = 2000
MAX_DEPTH = 40
KEYWORDS = frozenset({"and", "or", "not", "in", "is", "missing", "true", "false"})

Truth = bool | None
"""Three-valued truth: ``None`` is *unknown* (a value needed for the answer is missing)."""


class ExpressionError(ValueError):
    """A condition that is not part of the language; the message says where and why."""

    def __init__(self, expression: str, position: int, reason: str) -> None:
        self.expression = expression
        self.position = position
        self.reason = reason
        super().__init__(f"{reason} (at position {position} in {expression!r})")


# --- tokens ------------------------------------------------------------------------------------------------


class _Kind(StrEnum):
    NAME = "name"
    NUMBER = "number"
    OP = "operator"
    PUNCT = "punctuation"
    END = "end"


@dataclass(frozen=True, slots=True)
class _Token:
    kind: _Kind
    text: str
    position: int


_TOKEN = re.compile(
    r"(?P<space>\s+)"
    r"|(?P<number>-?\d+(?:\.\d+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>==|!=|<=|>=|<|>)"
    r"|(?P<punct>[()\[\],])"
)

_REFUSED_CHARACTERS = {
    ".": "attribute access ('.') is not allowed",
    "'": "quoted strings are not part of the language: write a category value bare",
    '"': "quoted strings are not part of the language: write a category value bare",
    "=": "use '==' to compare",
    "!": "use 'not' to negate",
    "&": "use 'and'",
    "|": "use 'or'",
}


def _tokens(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            char = text[position]
            reason = _REFUSED_CHARACTERS.get(char, f"unexpected character {char!r}")
            raise ExpressionError(text, position, reason)
        group = match.lastgroup
        if group == "number":
            tokens.append(_Token(_Kind.NUMBER, match.group(), position))
        elif group == "name":
            tokens.append(_Token(_Kind.NAME, match.group(), position))
        elif group == "op":
            tokens.append(_Token(_Kind.OP, match.group(), position))
        elif group == "punct":
            tokens.append(_Token(_Kind.PUNCT, match.group(), position))
        position = match.end()
    tokens.append(_Token(_Kind.END, "", len(text)))
    return tokens


# --- the syntax tree ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Constant:
    value: bool

    def evaluate(self, record: OutcomeRecord) -> Truth:
        return self.value


@dataclass(frozen=True, slots=True)
class IsTrue:
    """A bare yes/no field."""

    field: str

    def evaluate(self, record: OutcomeRecord) -> Truth:
        value = field_value(record, self.field)
        return None if value is None else bool(value)


@dataclass(frozen=True, slots=True)
class Compare:
    field: str
    operator: str
    value: str | float | bool

    def evaluate(self, record: OutcomeRecord) -> Truth:
        actual = field_value(record, self.field)
        if actual is None:
            return None
        expected = self.value
        if self.operator == "==":
            return actual == expected
        if self.operator == "!=":
            return actual != expected
        # Ordering is only parsed for number fields, so both sides are numbers here.
        left, right = float(actual), float(expected)
        if self.operator == "<":
            return left < right
        if self.operator == "<=":
            return left <= right
        if self.operator == ">":
            return left > right
        return left >= right


@dataclass(frozen=True, slots=True)
class InList:
    field: str
    values: tuple[str | float | bool, ...]
    negated: bool = False

    def evaluate(self, record: OutcomeRecord) -> Truth:
        actual = field_value(record, self.field)
        if actual is None:
            return None
        return (actual in self.values) != self.negated


@dataclass(frozen=True, slots=True)
class IsMissing:
    field: str
    negated: bool = False

    def evaluate(self, record: OutcomeRecord) -> Truth:
        return (field_value(record, self.field) is None) != self.negated


@dataclass(frozen=True, slots=True)
class Not:
    operand: Node

    def evaluate(self, record: OutcomeRecord) -> Truth:
        value = self.operand.evaluate(record)
        return None if value is None else not value


@dataclass(frozen=True, slots=True)
class And:
    operands: tuple[Node, ...]

    def evaluate(self, record: OutcomeRecord) -> Truth:
        result: Truth = True
        for operand in self.operands:
            value = operand.evaluate(record)
            if value is False:
                return False
            if value is None:
                result = None
        return result


@dataclass(frozen=True, slots=True)
class Or:
    operands: tuple[Node, ...]

    def evaluate(self, record: OutcomeRecord) -> Truth:
        result: Truth = False
        for operand in self.operands:
            value = operand.evaluate(record)
            if value is True:
                return True
            if value is None:
                result = None
        return result


Node = Constant | IsTrue | Compare | InList | IsMissing | Not | And | Or


def _fields(node: Node) -> frozenset[str]:
    if isinstance(node, Constant):
        return frozenset()
    if isinstance(node, Not):
        return _fields(node.operand)
    if isinstance(node, And | Or):
        return frozenset().union(*(_fields(o) for o in node.operands))
    return frozenset({node.field})


@dataclass(frozen=True, slots=True)
class Condition:
    """A parsed condition: its source text and syntax tree."""

    text: str
    node: Node

    def evaluate(self, record: OutcomeRecord) -> Truth:
        """True, false or unknown (``None``) for ``record``."""
        return self.node.evaluate(record)

    @property
    def fields(self) -> frozenset[str]:
        """The outcome fields this condition reads."""
        return _fields(self.node)


# --- the parser --------------------------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str, fields: Mapping[str, FieldSpec]) -> None:
        self.text = text
        self.fields = fields
        self.tokens = _tokens(text)
        self.index = 0
        self.depth = 0

    def fail(self, token: _Token, reason: str) -> ExpressionError:
        return ExpressionError(self.text, token.position, reason)

    @property
    def current(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.tokens[self.index]
        if token.kind is not _Kind.END:
            self.index += 1
        return token

    def at_keyword(self, word: str) -> bool:
        return self.current.kind is _Kind.NAME and self.current.text == word

    def at_punct(self, char: str) -> bool:
        return self.current.kind is _Kind.PUNCT and self.current.text == char

    def expect_punct(self, char: str, what: str) -> None:
        if not self.at_punct(char):
            raise self.fail(self.current, f"expected {char!r} {what}, found {self.describe(self.current)}")
        self.advance()

    @staticmethod
    def describe(token: _Token) -> str:
        return "the end" if token.kind is _Kind.END else repr(token.text)

    def parse(self) -> Node:
        if not self.text.strip():
            raise ExpressionError(self.text, 0, "empty condition")
        node = self.condition()
        if self.current.kind is not _Kind.END:
            raise self.fail(self.current, f"unexpected {self.describe(self.current)}: expected 'and', 'or' or the end")
        return node

    def condition(self) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(self.current, f"condition nested deeper than {MAX_DEPTH} levels")
        operands = [self.disjunct()]
        while self.at_keyword("or"):
            self.advance()
            operands.append(self.disjunct())
        self.depth -= 1
        return operands[0] if len(operands) == 1 else Or(tuple(operands))

    def disjunct(self) -> Node:
        operands = [self.negation()]
        while self.at_keyword("and"):
            self.advance()
            operands.append(self.negation())
        return operands[0] if len(operands) == 1 else And(tuple(operands))

    def negation(self) -> Node:
        if self.at_keyword("not"):
            self.advance()
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise self.fail(self.current, f"condition nested deeper than {MAX_DEPTH} levels")
            node = Not(self.negation())
            self.depth -= 1
            return node
        return self.atom()

    def atom(self) -> Node:
        token = self.current
        if self.at_punct("("):
            self.advance()
            node = self.condition()
            self.expect_punct(")", "to close '('")
            return node
        if token.kind is not _Kind.NAME:
            raise self.fail(token, f"expected a field name, found {self.describe(token)}")
        if token.text in ("true", "false"):
            self.advance()
            return Constant(token.text == "true")
        spec = self.field(token)
        self.advance()
        if self.at_punct("("):
            raise self.fail(self.current, "function calls are not allowed")
        if self.current.kind is _Kind.OP:
            operator = self.advance().text
            if operator in ("<", "<=", ">", ">=") and spec.kind not in (FieldKind.INTEGER, FieldKind.NUMBER):
                raise self.fail(token, f"{operator!r} needs a number field; {spec.name!r} is a {spec.kind.value}")
            return Compare(spec.name, operator, self.value(spec))
        if self.at_keyword("in"):
            self.advance()
            return InList(spec.name, self.value_list(spec))
        if self.at_keyword("not"):
            self.advance()
            if not self.at_keyword("in"):
                raise self.fail(self.current, "expected 'in' after 'not' (write 'not field' to negate a field)")
            self.advance()
            return InList(spec.name, self.value_list(spec), negated=True)
        if self.at_keyword("is"):
            self.advance()
            negated = self.at_keyword("not")
            if negated:
                self.advance()
            if not self.at_keyword("missing"):
                raise self.fail(self.current, "expected 'missing' after 'is'")
            self.advance()
            return IsMissing(spec.name, negated)
        if spec.kind is not FieldKind.BOOLEAN:
            raise self.fail(token, f"field {spec.name!r} is a {spec.kind.value}: compare it with a value")
        return IsTrue(spec.name)

    def field(self, token: _Token) -> FieldSpec:
        name = token.text
        if name in KEYWORDS:
            raise self.fail(token, f"expected a field name, found the keyword {name!r}")
        if name.startswith("_"):
            raise self.fail(token, f"names starting with '_' are not allowed: {name!r}")
        spec = self.fields.get(name)
        if spec is None:
            known = ", ".join(sorted(self.fields))
            raise self.fail(token, f"unknown field {name!r}; known fields: {known}")
        return spec

    def value_list(self, spec: FieldSpec) -> tuple[str | float | bool, ...]:
        self.expect_punct("[", "to open the list of values")
        values = [self.value(spec)]
        while self.at_punct(","):
            self.advance()
            values.append(self.value(spec))
        self.expect_punct("]", "to close the list of values")
        return tuple(values)

    def value(self, spec: FieldSpec) -> str | float | bool:
        token = self.advance()
        if spec.kind in (FieldKind.INTEGER, FieldKind.NUMBER):
            if token.kind is not _Kind.NUMBER:
                raise self.fail(
                    token, f"field {spec.name!r} is a number: expected a number, found {self.describe(token)}"
                )
            return float(token.text)
        if spec.kind is FieldKind.BOOLEAN:
            if token.kind is not _Kind.NAME or token.text not in ("true", "false"):
                raise self.fail(token, f"field {spec.name!r} is yes/no: expected true or false")
            return token.text == "true"
        if token.kind is not _Kind.NAME or token.text not in spec.values:
            allowed = ", ".join(spec.values)
            raise self.fail(token, f"{self.describe(token)} is not a value of {spec.name!r}; allowed: {allowed}")
        if self.at_punct("("):
            raise self.fail(self.current, "function calls are not allowed")
        return token.text


def parse_condition(text: str, fields: Mapping[str, FieldSpec] = OUTCOME_FIELDS) -> Condition:
    """Parse ``text`` into a :class:`Condition`, or raise :class:`ExpressionError` saying where and why."""
    if len(text) > MAX_LENGTH:
        raise ExpressionError(text[:60] + "…", MAX_LENGTH, f"condition longer than {MAX_LENGTH} characters")
    return Condition(text, _Parser(text, fields).parse())
