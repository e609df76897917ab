"""What a return file says per line, derived from the file alone while the file before it is applied
(``services.claims._read_return``): the same as ``ReturnLine.outcome()`` and ``next_action_for`` per line."""

from __future__ import annotations

import hashlib
from datetime import date
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from integraal.claims.batch import ClaimBatchLine, DebitCredit, ReturnBatch, ReturnLine
from integraal.claims.formats import get_format
from integraal.claims.returncodes import return_codes
from integraal.services import claims

CODES = sorted(return_codes())
BSNS = ("123456782", "111222333")


@st.composite
def return_lines(draw: st.DrawFn) -> list[ReturnLine]:
    insured = {bsn: tuple(draw(st.lists(st.sampled_from(CODES), max_size=1))) for bsn in BSNS}
    lines = []
    for n in range(draw(st.integers(1, 12))):
        bsn = draw(st.sampled_from(BSNS))
        amount = draw(st.sampled_from([0, 1, 17_250, 99_999]))
        direction = draw(st.sampled_from(list(DebitCredit)))
        taken_back = "L-EARLIER" if direction is DebitCredit.CREDIT else None  # a credit names its line
        line = ClaimBatchLine(
            f"L{n:05d}", bsn, "190001", date(2025, 3, 1), date(2025, 3, 1), Decimal(1), amount, direction, taken_back
        )
        awarded = draw(st.sampled_from([0, line.signed_cents, line.signed_cents // 2 + 1]))
        codes = tuple(draw(st.lists(st.sampled_from(["0587", *CODES]), max_size=2, unique=True)))
        lines.append(ReturnLine(line, line.signed_cents, awarded, codes, insured[bsn]))
    return lines


@settings(max_examples=60, deadline=None)
@given(return_lines())
def test_each_lines_answer_is_what_the_line_says(lines: list[ReturnLine]) -> None:
    returned = ReturnBatch(
        "01000001", "3311", "B000001", date(2026, 1, 10), date(2025, 1, 1), date(2025, 12, 31),
        "ZK-RET-0001", date(2026, 1, 20), (), tuple(lines),
    )  # fmt: skip
    data = get_format("kz302").write(returned)
    read = claims._read_return(data, "kz302")
    assert read.sha256 == hashlib.sha256(data).hexdigest()
    rows = {row["line_id"]: row for row in read.lines.iter_rows(named=True)}
    assert len(rows) == len(lines)
    for line in lines:
        row = rows[line.line.line_id]
        codes = [*line.insured_return_codes, *line.return_codes]
        joined = " ".join(codes)
        assert row["to_state"] == line.outcome().value
        assert row["return_codes"] == (joined or None)
        assert row["next_action"] == claims.next_action_for(codes, line.outcome())
        assert row["_breaks"] == ("0587" in codes)
        assert row["_strange"] is False
