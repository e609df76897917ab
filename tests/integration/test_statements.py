"""Members' statements of a closed period: own lines only, exact totals, corrections shown, PDF (issue 5, part 5).

Issue 5, part 5: "produce a statement per member (web page and PDF: received per phase, deductions, bonus,
corrections, total, with the reasons)". Acceptance: "a correction shows up as an adjustment line in the next
statement". Runs on the two-IGO world of the API tests (``api_world``), cloned per test.
"""

from __future__ import annotations

import re

import pytest
from api_world import World, build_world, clone_world
from test_periods import ADMIN, AT, _reject_one_integral_line, principal

from dbutil import release
from integraal.distribution import IGO
from integraal.domain.money import format_euros
from integraal.services import periods, statements
from integraal.services.access import AccessDeniedError, NotFoundError

LINDE = principal("member_linde")  # AGB 08000001, midwife in IGO Rivierenland


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> World:
    world = build_world(tmp_path_factory.mktemp("statements"))
    yield world
    release(world.db)


@pytest.fixture
def world(template, tmp_path) -> World:
    world = clone_world(template, tmp_path)
    yield world
    release(world.db)


def test_a_member_sees_only_its_own_statement_and_lines(world):
    """Issue 3 scope on issue 5.5: a member reads its own AGB only; others' statements look like missing ones."""
    periods.close_period(world.db, ADMIN, "IGO-RIV", 2025, "verdeelsleutel", at=AT)
    own = statements.statement(world.db, LINDE, "IGO-RIV-2025", "08000001")
    booked = {x.line_no for x in periods.period_lines(world.db, ADMIN, "IGO-RIV-2025") if x.recipient == "08000001"}
    assert own.lines and {line.line_no for line in own.lines} == booked
    assert own.name == "Verloskundigenpraktijk De Linde" and own.discipline == "midwife"
    assert [s.agb for s in statements.period_statements(world.db, LINDE, "IGO-RIV-2025")] == ["08000001"]

    for other in ("06000001", "33000001", IGO):
        with pytest.raises(NotFoundError):
            statements.statement(world.db, LINDE, "IGO-RIV-2025", other)
    with pytest.raises(NotFoundError):  # a member of another IGO: not even its own AGB there
        statements.statement(world.db, principal("member_west"), "IGO-RIV-2025", "08000011")
    with pytest.raises(NotFoundError):
        statements.statement(world.db, principal("admin_west"), "IGO-RIV-2025", "08000001")
    with pytest.raises(NotFoundError):  # no such member in the period
        statements.statement(world.db, ADMIN, "IGO-RIV-2025", "99999999")
    for username in ("insurer_zk", "analyst"):
        with pytest.raises(AccessDeniedError):
            statements.statement(world.db, principal(username), "IGO-RIV-2025", "08000001")
    assert statements.statement(world.db, principal("board_riv"), "IGO-RIV-2025", "08000001") == own


@pytest.mark.parametrize("plan_key", ["historisch", "verdeelsleutel", "clientprofielen"])
def test_a_statement_total_is_the_sum_of_its_lines_and_of_its_sections(world, plan_key):
    """Issue 5.5: received per phase + fees + bonus + corrections = total = the member's booked lines; all
    statements plus the IGO's own lines add up exactly to the money received."""
    closed = periods.close_period(world.db, ADMIN, "IGO-RIV", 2025, plan_key, at=AT)
    every = statements.period_statements(world.db, ADMIN, "IGO-RIV-2025")
    assert [s.agb for s in every] == sorted(s.agb for s in every) and len(every) == 6
    for s in every:
        assert s.total_cents == sum(line.amount_cents for line in s.lines)
        assert s.total_cents == s.received_cents + s.fees_cents + s.bonus_cents + s.adjustment_cents
        assert s.total_cents == closed.amounts().get(s.agb, 0)
        assert all(line.text_nl and line.text_en for line in s.lines)
        assert s.igo_received_cents == closed.period.received_cents
    igo_own = sum(x.amount_cents for x in closed.lines if x.recipient == IGO)
    assert sum(s.total_cents for s in every) + igo_own == closed.period.received_cents
    if plan_key != "historisch":  # its top-slices are listed as deductions with what each took
        assert every[0].deductions
        slices = {d.step for d in every[0].deductions}
        assert sum(d.amount_cents for d in every[0].deductions) == sum(
            x.amount_cents for x in closed.lines if x.step in slices
        )


def test_a_correction_shows_up_as_an_adjustment_line_in_the_next_statement(world):
    """Issue 5.5 acceptance, seen by the member: the 2025 statement stays as it was; the 2026 statement carries
    the correction of 2025 as an adjustment line with its reason, and its total includes it."""
    periods.close_period(world.db, ADMIN, "IGO-RIV", 2025, "historisch", at=AT)
    before = statements.statement(world.db, LINDE, "IGO-RIV-2025", "08000001")
    _, difference = _reject_one_integral_line(world)
    periods.close_period(world.db, ADMIN, "IGO-RIV", 2026, "historisch", at=AT)

    assert statements.statement(world.db, LINDE, "IGO-RIV-2025", "08000001") == before
    after = statements.statement(world.db, LINDE, "IGO-RIV-2026", "08000001")
    assert after.adjustments and all(a.adjusts_period_id == "IGO-RIV-2025" for a in after.adjustments)
    assert all(
        "correctie over IGO-RIV-2025" in a.text_nl and "rejected by the insurer" in a.text_en for a in after.adjustments
    )
    assert after.total_cents == after.received_cents + after.adjustment_cents
    assert after.adjustment_cents < 0  # the member's share of the rejected money
    every = statements.period_statements(world.db, ADMIN, "IGO-RIV-2026")
    igo_adjustment = sum(
        x.amount_cents for x in periods.period_lines(world.db, ADMIN, "IGO-RIV-2026") if x.recipient == IGO
    )
    assert sum(s.adjustment_cents for s in every) + igo_adjustment == difference


def _pdf_text(data: bytes) -> str:
    """The literal strings shown on the pages of an uncompressed core-font PDF (``(...) Tj``)."""
    return " ".join(m.decode("latin-1") for m in re.findall(rb"\(((?:[^()\\]|\\.)*)\)\s*Tj", data))


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_the_statement_pdf_is_a_pdf_that_shows_the_total(world, lang):
    """Issue 5.5: a PDF statement, Dutch by default. The core-font fallback writes € as EUR (Latin-1 only)."""
    periods.close_period(world.db, ADMIN, "IGO-RIV", 2025, "verdeelsleutel", at=AT)
    _reject_one_integral_line(world)
    periods.close_period(world.db, ADMIN, "IGO-RIV", 2026, "verdeelsleutel", at=AT)
    for period_id in ("IGO-RIV-2025", "IGO-RIV-2026"):
        s = statements.statement(world.db, LINDE, period_id, "08000001")

        core = statements.statement_pdf(s, lang, font_dir=None, compress=False)
        assert core.startswith(b"%PDF-") and core.rstrip().endswith(b"%%EOF")
        shown = _pdf_text(core)
        assert format_euros(s.total_cents, lang).replace("€", "EUR") in shown
        assert ("Totaal" if lang == "nl" else "Total") in shown and "08000001" in shown
        if s.adjustments:
            assert "IGO-RIV-2025" in shown

        unicode = statements.statement_pdf(s, lang)
        assert unicode.startswith(b"%PDF-") and unicode.rstrip().endswith(b"%%EOF")
        if (statements.FONT_DIR / "DejaVuSans.ttf").is_file():
            assert b"DejaVu" in unicode
        assert statements.statement_pdf(s, lang) == unicode  # the same statement gives the same file
    assert statements.statement_pdf(s) == statements.statement_pdf(s, "nl")
