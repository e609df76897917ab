"""Hypothesis strategies that turn a good file into a bad one, the way files go bad in practice.

A spreadsheet saved as Latin-1 or UTF-16, a file cut off by a full disk, a line that lost or gained a field, a
cell with a formula, a quote or a NUL byte, a huge pasted cell, a JSON document from something else entirely.
Every strategy here draws ``bytes``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

NASTY_CELLS = [
    "",
    " ",
    '"',
    '""',
    "'",
    "=cmd|' /C calc'!A0",
    '=HYPERLINK("http://x","y")',
    "+1",
    "-1",
    "@SUM(A1:A2)",
    "\x00",
    "a\x00b",
    "\n",
    "\r",
    "\r\n",
    "x" * 70_000,
    "9" * 40,
    "-0",
    "1e400",
    "NaN",
    "٣٣١١",  # Arabic-Indic digits: \d in some regex engines
    "１２３４",  # full-width digits
    "\u202e0001",  # right-to-left override
    "\ufeff",
    "😀",
    "2025-02-30",
    "0000-00-00",
    "2025-1-1",
    ",",
    ";",
    "\t",
    "\\",
    "__row",
]
cells = st.text(max_size=24) | st.sampled_from(NASTY_CELLS)

ENCODINGS = ["latin-1", "cp1252", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-8-sig", "utf-7"]
RAW_SNIPPETS = [b'"', b'"""', b"\x00", b"\r", b"\n", b"\r\n", b",", b"\xef\xbb\xbf", b"\xff\xfe", b"\xc3", b"\x1a"]


def _bytes_edits(draw: st.DrawFn, data: bytes, most: int = 6) -> bytes:
    raw = bytearray(data)
    for _ in range(draw(st.integers(1, most))):
        how = draw(st.sampled_from(["replace", "insert", "delete"]))
        position = draw(st.integers(0, max(len(raw) - 1, 0)))
        if how == "insert" or not raw:
            raw[position:position] = draw(st.sampled_from(RAW_SNIPPETS) | st.binary(min_size=1, max_size=4))
        elif how == "replace":
            raw[position] = draw(st.integers(0, 255))
        else:
            del raw[position : position + draw(st.integers(1, 16))]
    return bytes(raw)


def _reencoded(draw: st.DrawFn, data: bytes) -> bytes:
    text = data.decode("utf-8-sig")
    if draw(st.booleans()):  # a non-ASCII character, so Latin-1 and UTF-8 differ
        position = draw(st.integers(0, len(text)))
        text = text[:position] + draw(st.sampled_from(["é", "ë", "€", "ß", "—"])) + text[position:]
    encoding = draw(st.sampled_from(ENCODINGS))
    encoded = text.encode(encoding, errors="replace")
    if draw(st.booleans()):
        encoded = b"\xef\xbb\xbf" + encoded  # a BOM, maybe a second one
    return encoded


def _truncated(draw: st.DrawFn, data: bytes) -> bytes:
    return data[: draw(st.integers(0, max(len(data) - 1, 0)))]


def _line_endings(draw: st.DrawFn, data: bytes) -> bytes:
    lines = data.replace(b"\r\n", b"\n").split(b"\n")
    return draw(st.sampled_from([b"\r", b"\r\n", b"\n\n", b"\n\r"])).join(lines)


def _rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def _csv(rows: list[list[str]], terminator: str = "\n") -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator=terminator).writerows(rows)
    return out.getvalue().encode("utf-8")


@st.composite
def mutated_csv(draw: st.DrawFn, good: bytes, terminator: str = "\n") -> bytes:
    """``good`` (a UTF-8 CSV file with a header) with one kind of damage."""
    how = draw(
        st.sampled_from(
            ["bytes", "truncate", "encoding", "endings", "cell", "row", "header", "columns", "random", "text"]
        )
    )
    if how == "bytes":
        return _bytes_edits(draw, good)
    if how == "truncate":
        return _truncated(draw, good)
    if how == "encoding":
        return _reencoded(draw, good)
    if how == "endings":
        return _line_endings(draw, good)
    if how == "random":
        return draw(st.binary(max_size=400))
    if how == "text":
        return draw(st.text(max_size=300)).encode("utf-8")
    rows = _rows(good)
    width = len(rows[0])
    if how == "cell":
        for _ in range(draw(st.integers(1, 3))):
            row = draw(st.integers(0, len(rows) - 1))
            if rows[row]:
                rows[row][draw(st.integers(0, len(rows[row]) - 1))] = draw(cells)
    elif how == "row":
        index = draw(st.integers(1 if len(rows) > 1 else 0, len(rows) - 1))
        change = draw(st.sampled_from(["delete", "duplicate", "shorter", "longer", "empty", "blank-line"]))
        if change == "delete":
            del rows[index]
        elif change == "duplicate":
            rows.insert(index, list(rows[index]))
        elif change == "shorter":
            rows[index] = rows[index][: draw(st.integers(0, max(width - 1, 0)))]
        elif change == "longer":
            rows[index] = rows[index] + draw(st.lists(cells, min_size=1, max_size=3))
        elif change == "empty":
            rows[index] = [""] * width
        else:
            rows.insert(index, [])
    elif how == "header":
        header = rows[0]
        change = draw(st.sampled_from(["rename", "drop", "duplicate", "add", "case", "only"]))
        column = draw(st.integers(0, width - 1))
        if change == "rename":
            header[column] = draw(cells)
        elif change == "drop":
            del header[column]
        elif change == "duplicate":
            header.insert(column, header[column])
        elif change == "add":
            header.append(draw(st.sampled_from(["__row", "", "extra", header[column], " " + header[column]])))
        elif change == "case":
            header[column] = header[column].upper()
        else:
            rows = rows[:1]
    else:  # drop or add a whole column in every row, keeping the file rectangular
        column = draw(st.integers(0, width - 1))
        if draw(st.booleans()):
            for record in rows:
                del record[column : column + 1]
        else:
            value = draw(cells)
            for number, record in enumerate(rows):
                record.insert(column, "extra" if number == 0 else value)
    return _csv(rows, terminator)


# --- JSON ------------------------------------------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**20), 10**20)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=16)
    | st.sampled_from(
        ["", "Bundle", "collection", "Claim", "ClaimResponse", "PaymentReconciliation", "Observation", "EUR", "\x00"]
    ),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)

NASTY_JSON = [
    b"",
    b"null",
    b"[]",
    b"{}",
    b'"Bundle"',
    b"[" * 100_000,
    b"[" * 5_000 + b"]" * 5_000,
    b'{"resourceType": "Bundle", "type": "collection", "entry": ' + b"[" * 3_000 + b"]" * 3_000 + b"}",
    b'{"resourceType": "Bundle", "resourceType": "Bundle"}',
    b'{"resourceType": "Bundle", "type": "collection", "entry": [{"resource": NaN}]}',
    b'{"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {"x": 1e400}}]}',
    b'{"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {"x": ' + b"9" * 6_000 + b"}}]}",
    b'{"resourceType": "\\ud800"}',
    b'{"resourceType": "Bundle\\u0000"}',
    b"\xef\xbb\xbf{}",
    b"\xff\xfe{\x00}\x00",
]


def _paths(node: Any, path: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    found = [path]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*path, index))
    return found


def _dump(tree: Any) -> bytes:
    return json.dumps(tree, indent=2, default=lambda d: float(d) if isinstance(d, Decimal) else str(d)).encode()


@st.composite
def mutated_json(draw: st.DrawFn, good: bytes) -> bytes:
    """``good`` (a UTF-8 JSON document) with one kind of damage: bytes, encoding, a node replaced, deleted,
    doubled or changed in type, whole random JSON, or a known nasty document."""
    how = draw(st.sampled_from(["bytes", "truncate", "encoding", "replace", "delete", "duplicate", "any", "nasty"]))
    if how == "bytes":
        return _bytes_edits(draw, good)
    if how == "truncate":
        return _truncated(draw, good)
    if how == "encoding":
        return _reencoded(draw, good)
    if how == "any":
        return _dump(draw(json_values))
    if how == "nasty":
        return draw(st.sampled_from(NASTY_JSON))
    tree = json.loads(good, parse_float=Decimal)
    path = draw(st.sampled_from(_paths(tree)[1:]))
    node = tree
    for step in path[:-1]:
        node = node[step]
    last = path[-1]
    if how == "replace":
        node[last] = draw(json_values)
    elif how == "delete":
        del node[last]
    elif isinstance(node, list):
        node.insert(int(last), node[int(last)])
    else:
        node[last] = [node[last], node[last]]
    return _dump(tree)


# --- fixed-width records ---------------------------------------------------------------------------------------


@st.composite
def mutated_records(draw: st.DrawFn, good: bytes) -> bytes:
    """``good`` (fixed-width records, one per line) with bytes edited, a record longer or shorter, records
    deleted, doubled or swapped, different line endings, another encoding, or cut short."""
    how = draw(st.sampled_from(["bytes", "truncate", "encoding", "endings", "length", "records", "random"]))
    if how == "bytes":
        return _bytes_edits(draw, good)
    if how == "truncate":
        return _truncated(draw, good)
    if how == "encoding":
        return _reencoded(draw, good)
    if how == "endings":
        return _line_endings(draw, good)
    if how == "random":
        return draw(st.binary(max_size=600))
    ending = b"\r\n" if b"\r\n" in good else b"\n"
    records = good.split(ending)
    index = draw(st.integers(0, len(records) - 1))
    if how == "length":
        record = records[index]
        position = draw(st.integers(0, len(record)))
        if draw(st.booleans()):
            filler = draw(st.sampled_from([b" ", b"0", b"9", b"x", b"\t", b"\xe9"]))
            records[index] = record[:position] + filler * draw(st.integers(1, 40)) + record[position:]
        else:
            records[index] = record[:position] + record[position + draw(st.integers(1, 40)) :]
    else:
        change = draw(st.sampled_from(["delete", "duplicate", "swap", "blank"]))
        if change == "delete":
            del records[index]
        elif change == "duplicate":
            records.insert(index, records[index])
        elif change == "swap":
            other = draw(st.integers(0, len(records) - 1))
            records[index], records[other] = records[other], records[index]
        else:
            records.insert(index, b"")
    return ending.join(records)


MUTATORS: dict[str, Callable[[bytes], st.SearchStrategy[bytes]]] = {
    "csv": mutated_csv,
    "json": mutated_json,
    "records": mutated_records,
}
