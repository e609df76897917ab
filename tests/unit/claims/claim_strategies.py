"""Hypothesis strategies and builders for claim batches (shared by the claims tests)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import strategies as st

from integraal.claims.batch import ClaimBatch, ClaimBatchLine, DebitCredit, ReturnBatch, ReturnLine
from integraal.claims.returncodes import return_codes

_WEIGHTS = (9, 8, 7, 6, 5, 4, 3, 2)


def bsn_from_prefix(prefix: str) -> str | None:
    """Complete 8 digits to a BSN that passes the 11-test, or None if no check digit works."""
    total = sum(int(d) * w for d, w in zip(prefix, _WEIGHTS, strict=True))
    check = total % 11
    if check == 10 or total - check == 0:
        return None
    return prefix + str(check)


bsns = (
    st.text(alphabet="0123456789", min_size=8, max_size=8)
    .map(bsn_from_prefix)
    .filter(lambda b: b is not None)
    .map(lambda b: str(b))
)


def ascii_text(max_size: int) -> st.SearchStrategy[str]:
    """Printable ASCII, 1..max_size characters, no leading or trailing space (fixed-width padding)."""
    if max_size == 1:
        return st.from_regex(r"[!-~]", fullmatch=True)
    return st.from_regex(rf"[!-~]([ -~]{{0,{max_size - 2}}}[!-~])?", fullmatch=True)


days = st.dates(min_value=date(2020, 1, 1), max_value=date(2026, 12, 31))
codes = st.sampled_from(sorted(return_codes()))  # codes from the COD954 list (readers refuse unknown ones)


@st.composite
def claim_batches(draw: st.DrawFn, max_lines: int = 8) -> ClaimBatch:
    creation = draw(days)
    period_start = draw(days)
    period_end = period_start + timedelta(days=draw(st.integers(0, 400)))
    people = draw(st.lists(st.tuples(bsns, st.none() | days), min_size=1, max_size=3))
    line_ids = draw(st.lists(ascii_text(20), min_size=0, max_size=max_lines, unique=True))
    lines = []
    for line_id in line_ids:
        bsn, birth = draw(st.sampled_from(people))
        start = creation - timedelta(days=draw(st.integers(0, 300)))
        end = start + timedelta(days=draw(st.integers(0, (creation - start).days)))
        credit = draw(st.booleans())
        lines.append(
            ClaimBatchLine(
                line_id=line_id,
                bsn=bsn,
                prestatie_code=draw(ascii_text(24)),
                service_start=start,
                service_end=end,
                quantity=Decimal(draw(st.integers(0, 999_999))) / 100,
                amount_cents=draw(st.integers(0, 99_999_999)),
                debit_credit=DebitCredit.CREDIT if credit else DebitCredit.DEBIT,
                original_line_id=draw(ascii_text(20)) if credit else draw(st.none() | ascii_text(20)),
                birth_date=None if birth is None else min(birth, start),
                comments=tuple(draw(st.lists(ascii_text(140), max_size=2))),
            )
        )
    return ClaimBatch(
        sender_agb=draw(st.text(alphabet="0123456789", min_size=8, max_size=8)),
        receiver_uzovi=draw(st.text(alphabet="0123456789", min_size=4, max_size=4)),
        batch_id=draw(ascii_text(12)),
        creation_date=creation,
        period_start=period_start,
        period_end=period_end,
        lines=tuple(lines),
    )


@st.composite
def return_batches(draw: st.DrawFn) -> ReturnBatch:
    claim = draw(claim_batches(max_lines=6))
    returned = []
    for line in claim.lines:
        claimed = line.signed_cents
        awarded = draw(st.sampled_from([claimed, 0, claimed // 2]))
        returned.append(
            ReturnLine(
                line=line,
                calculated_cents=draw(st.integers(-99_999_999, 99_999_999)),
                awarded_cents=awarded,
                return_codes=tuple(draw(st.lists(codes, max_size=3))),
                insured_return_codes=tuple(draw(st.lists(codes, max_size=1))),
            )
        )
    return ReturnBatch(
        sender_agb=claim.sender_agb,
        receiver_uzovi=claim.receiver_uzovi,
        batch_id=claim.batch_id,
        creation_date=claim.creation_date,
        period_start=claim.period_start,
        period_end=claim.period_end,
        insurer_reference=draw(st.just("") | ascii_text(24)),
        return_date=draw(days),
        header_return_codes=tuple(draw(st.lists(codes, max_size=3))),
        lines=tuple(returned),
    )


def sample_batch() -> ClaimBatch:
    """A small, fixed claim batch: two women, a debit with comments, a credit and its replacement."""
    a, b = "111222333", "123456782"
    return ClaimBatch(
        sender_agb="53001234",
        receiver_uzovi="3311",
        batch_id="IGO-2025-007",
        creation_date=date(2025, 3, 1),
        period_start=date(2025, 1, 1),
        period_end=date(2025, 2, 28),
        lines=(
            ClaimBatchLine(
                "L-1",
                a,
                "IGPRE1",
                date(2025, 1, 6),
                date(2025, 2, 3),
                Decimal(1),
                150_000,
                birth_date=date(1994, 5, 17),
                comments=("prenatal phase, all care by members", "second line"),
            ),
            ClaimBatchLine(
                "L-2", b, "IGPRE1", date(2025, 1, 9), date(2025, 2, 10), Decimal(1), 150_000, DebitCredit.CREDIT, "L-0"
            ),
            ClaimBatchLine(
                "L-3", b, "IGPRE1", date(2025, 1, 9), date(2025, 2, 10), Decimal(1), 120_000, original_line_id="L-0"
            ),
        ),
    )


def sample_return() -> ReturnBatch:
    batch = sample_batch()
    first, credit, replacement = batch.lines
    return ReturnBatch(
        sender_agb=batch.sender_agb,
        receiver_uzovi=batch.receiver_uzovi,
        batch_id=batch.batch_id,
        creation_date=batch.creation_date,
        period_start=batch.period_start,
        period_end=batch.period_end,
        insurer_reference="ZV-REF-42",
        return_date=date(2025, 3, 20),
        header_return_codes=(),
        lines=(
            ReturnLine(first, 150_000, 0, ("0587",)),
            ReturnLine(credit, -150_000, -150_000),
            ReturnLine(replacement, 120_000, 100_000, ("0611",)),
        ),
    )
