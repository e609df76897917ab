"""The yearly insight report of one IGO as PDF (issue 6, part 5): what it shows is what the use cases return for
the reader — figures, suppression, scope — formatted Dutch style; a member is refused.

The text of the PDF is read back with ``pdftotext -layout`` (poppler-utils); without it those tests are skipped.
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from dbutil import fresh_database, release
from integraal.api import create_app
from integraal.api.settings import Settings
from integraal.insight import Indicator, IndicatorKind, Interval, Position, Suppressed, load_indicators
from integraal.services import insight
from integraal.services import insight_report as report_module
from integraal.services.access import AccessDeniedError, NotFoundError, Principal, Role
from integraal.services.casemix import casemix
from integraal.services.decisions import decide_all
from integraal.services.imports import import_files
from integraal.services.insight import UnitRow
from integraal.services.users import add_user, issue_token
from integraal.store.database import Database
from integraal.synth import generate_region, write_region

YEAR = 2025
IGO = "IGO-01"
AT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
PDFTOTEXT = shutil.which("pdftotext")
needs_pdftotext = pytest.mark.skipif(PDFTOTEXT is None, reason="pdftotext (poppler-utils) is not installed")

ADMIN = Principal(None, "admin01", Role.IGO_ADMIN, igo_id=IGO)
BOARD = Principal(None, "board01", Role.IGO_BOARD, igo_id=IGO)
ANALYST = Principal(None, "analist", Role.ANALYST)
SUPERUSER = Principal(None, "root", Role.SUPERUSER)


@dataclass
class World:
    db: Database
    igos: list[str]
    small_insurer: Principal  # the insurer with the fewest pregnancies: suppression shows
    member: Principal


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> World:
    folder = tmp_path_factory.mktemp("insight_report")
    region = generate_region(7200, seed=3, year=YEAR)
    assert region.outcomes.height == region.pregnancies.height  # the generator writes outcomes.csv
    paths = write_region(region, folder / "region")
    db = fresh_database(folder, "report")
    reports = import_files(db, list(paths.values()))
    assert all(r.ok for r in reports), [str(e) for r in reports for e in r.errors][:5]
    decide_all(db, date(2026, 3, 1))
    sizes = region.pregnancies.group_by("uzovi").len().sort(["len", "uzovi"])
    insurer = Principal(None, "verzekeraar", Role.INSURER, uzovi=sizes["uzovi"][0])
    member = Principal(None, "lid", Role.MEMBER, agb=region.providers["agb"][0])
    yield World(db, sorted(region.igos["igo_id"].to_list()), insurer, member)
    release(db)


# --- reading the PDF back, and the formats it must use (written out here, independently of the module) --------


def pdf_pages(data: bytes, tmp_path: Path) -> list[str]:
    """The text of every page, laid out as on paper (one line per printed line)."""
    path = tmp_path / "report.pdf"
    path.write_bytes(data)
    assert PDFTOTEXT is not None
    text = subprocess.run(
        [PDFTOTEXT, "-layout", "-enc", "UTF-8", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout
    return text.split("\f")[:-1]  # every page ends with a form feed


def squeeze(text: str) -> str:
    return " ".join(text.split())


def nl(value: float, decimals: int) -> str:
    return f"{value:,.{decimals}f}".translate(str.maketrans(",.", ".,"))


def rate_nl(value: float | None, indicator: Indicator) -> str:
    if value is None:
        return "–"
    if indicator.kind is IndicatorKind.MEAN:
        return nl(value, 1)
    return nl(value * indicator.per, 1) + (" %" if indicator.per == 100 else " ‰")


def interval_nl(interval: Interval | None, indicator: Indicator) -> str:
    if interval is None:
        return "–"
    low = rate_nl(interval.lower, indicator).removesuffix(" %").removesuffix(" ‰")
    return f"{low}–{rate_nl(interval.upper, indicator)}"


def count_nl(value: int | None) -> str:
    return "–" if value is None else nl(value, 0)


def hidden(row: UnitRow, minimum: int) -> str:
    return "x" if row.suppressed is Suppressed.COMPLEMENTARY else f"< {minimum}"


def position_nl(row: UnitRow) -> str:
    positions = dict(row.positions)
    if not positions:
        return "–"
    for level, name in ((0.998, "99,8 %"), (0.95, "95 %")):
        if positions[level] is Position.ABOVE:
            return f"boven {name}"
        if positions[level] is Position.BELOW:
            return f"onder {name}"
    return "binnen"


def expected_overview_line(row: insight.OverviewRow, minimum: int) -> str:
    i, unit, ref = row.indicator, row.unit, row.reference
    reference = hidden(ref, minimum) if ref.suppressed else rate_nl(ref.rate, i)
    if unit.suppressed:
        cells = [hidden(unit, minimum), "–", "–", "–", reference, "–"]
    else:
        cells = [
            rate_nl(unit.rate, i),
            interval_nl(unit.interval, i),
            count_nl(unit.denominator),
            count_nl(unit.missing),
            reference,
            position_nl(unit),
        ]
    return squeeze(" ".join([i.name.nl, *cells]))


def line_starting(page: str, start: str) -> str:
    found = [squeeze(line) for line in page.splitlines() if squeeze(line).startswith(start + " ")]
    assert len(found) == 1, (start, found)
    return found[0]


COUNT = re.compile(r"(?<![\d.,])\d{1,3}(?:\.\d{3})*(?![\d,]|\.\d)")
"""A whole number as printed in Dutch (2.162): not part of a decimal (12,5) or of a rate."""


def counts_in(text: str) -> list[int]:
    return [int(m.group().replace(".", "")) for m in COUNT.finditer(text)]


def proportion_tables(world: World, principal: Principal) -> list[insight.IndicatorTable]:
    return [
        insight.indicator_table(world.db, principal, i.id, YEAR, adjust=True)
        for i in load_indicators().values()
        if i.kind is IndicatorKind.PROPORTION
    ]


# --- the tests ------------------------------------------------------------------------------------------------


@needs_pdftotext
def test_the_igo_report_shows_the_figures_of_the_use_cases(world, tmp_path):
    data = report_module.insight_report_pdf(world.db, ADMIN, None, YEAR, at=AT)
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    pages = pdf_pages(data, tmp_path)
    blocks = proportion_tables(world, ADMIN)
    # Page 1, then two indicators a page; the casemix fits under the last (odd) indicator.
    assert len(blocks) % 2 == 1
    assert len(pages) == 1 + math.ceil(len(blocks) / 2)

    first = pages[0]
    assert "Kwaliteit en uitkomsten IGO-01 2025" in first
    assert "Gemaakt op 02-03-2026 09:30 door admin01 (backoffice van de IGO)" in squeeze(first)
    guide = squeeze(first)
    for phrase in (
        "Leeswijzer: wat u wel en niet kunt concluderen",
        "95 %-interval",
        "95 % (waarschuwing) en 99,8 % (alarm)",
        "Geen rangorde.",
        "kleiner is dan 10 (‘< 10’)",
        "Case-mix (O/E).",
        "Onbekend apart.",
    ):
        assert phrase in guide, phrase
    overview = insight.indicator_overview(world.db, ADMIN, YEAR)
    for row in overview:
        assert line_starting(first, row.indicator.name.nl) == expected_overview_line(row, 10)
    assert not any(row.unit.suppressed for row in overview)  # the IGO sees its own figures in full

    for k, table in enumerate(blocks):
        page = squeeze(pages[1 + k // 2])
        own = next(r for r in table.rows if r.own)
        assert table.indicator.name.nl in page and table.indicator.explanation.nl in page
        figure = (
            f"{rate_nl(own.rate, table.indicator)} (95 %-interval {interval_nl(own.interval, table.indicator)}); "
            f"{count_nl(own.numerator)} van {count_nl(own.denominator)} vrouwen; "
            f"{count_nl(own.missing)} onbekend, {count_nl(own.excluded)} uitgesloten"
        )
        assert f"IGO-01 {figure}" in page
        s = own.standardised
        assert s is not None and s.ratio is not None and s.interval is not None
        oe = (
            f"Case-mix (O/E) {nl(s.ratio, 2)} (95 %-interval {nl(s.interval.lower, 2)}–{nl(s.interval.upper, 2)}, "
            f"Byar); waargenomen {count_nl(s.observed)}, verwacht {nl(s.expected, 1)}"
        )
        assert oe in page
        assert f"Trechter {position_nl(own)}" in page
        # The funnel: axis title, legend with the target, the IGO labelled, the others anonymous.
        assert "Aantal vrouwen in de noemer" in page
        assert f"Totaal ({rate_nl(table.funnel.target, table.indicator)})" in page
        for point in table.funnel.points:
            assert point.unit in page
    text = "\n".join(pages)
    assert "IGO A" in text and "IGO B" in text
    for other in world.igos:
        if other != IGO:
            assert other not in text  # other IGOs only as the tables label them: anonymous
    assert "Casemix: cliëntprofielen per zorgverzekeraar" in pages[-1]


@needs_pdftotext
@pytest.mark.parametrize("who", ["analyst", "insurer"])
def test_an_outside_report_holds_no_count_below_the_minimum(world, tmp_path, who):
    principal = ANALYST if who == "analyst" else world.small_insurer
    data = report_module.insight_report_pdf(world.db, principal, IGO, YEAR, at=AT)
    pages = pdf_pages(data, tmp_path)
    first = pages[0]
    assert "U bekijkt dit rapport van buiten de IGO" in squeeze(first)
    minimum = insight.configured_minimum()
    overview = insight.indicator_overview(world.db, principal, YEAR, IGO)
    for row in overview:
        line = line_starting(first, row.indicator.name.nl)
        assert line == expected_overview_line(row, minimum)
        cells = line.removeprefix(row.indicator.name.nl)
        assert all(n >= minimum for n in counts_in(cells)), line
    if who == "insurer":
        assert any(row.unit.suppressed for row in overview), "a small insurer must see suppression"
        assert f"< {minimum}" in first

    body = squeeze("\n".join(pages[1:]))
    for x, n in re.findall(r"(\S+) van (\S+) vrouwen", body):
        assert int(x.replace(".", "")) >= minimum and int(n.replace(".", "")) >= minimum
    for observed in re.findall(r"waargenomen (\S+),", body):
        assert int(observed.replace(".", "")) >= minimum
    for table in proportion_tables(world, principal):
        own = next(r for r in table.rows if r.unit == IGO)
        if own.suppressed:
            assert f"IGO-01 {hidden(own, minimum)} (verborgen" in body
        else:
            assert f"{count_nl(own.numerator)} van {count_nl(own.denominator)} vrouwen" in body
        assert "onbekend," not in body  # unknown and excluded counts only inside the IGO

    # The casemix section: every cell as the casemix use case returned it ("x" when withheld), none small.
    mix = casemix(world.db, principal, YEAR, igo_id=IGO, minimum=minimum).table("profiles")
    rows = [r for r in mix.rows if r.igo_id == IGO]
    insurers = sorted({r.uzovi for r in rows})
    heading = "Casemix: cliëntprofielen per zorgverzekeraar"
    last = pages[-1][pages[-1].index(heading) :]
    for category in dict.fromkeys(r.category for r in rows):
        of_category = {r.uzovi: r for r in rows if r.category == category}
        label = next(iter(of_category.values())).label_nl
        label = label.capitalize() if category == "(total)" else label
        cells = []
        for uzovi in insurers:
            r = of_category.get(uzovi)
            cells.append("–" if r is None else ("x" if r.withheld else count_nl(r.values[0])))
        line = line_starting(last, label)
        assert line == squeeze(" ".join([label, *cells]))
        assert all(n >= minimum for n in counts_in(line.removeprefix(label)))


def test_the_overview_of_the_report_is_the_overview_use_case(world):
    """The report takes its overview from the (adjusted) tables it reads with one outcome frame: row for row
    what ``indicator_overview`` returns."""
    for principal, igo in ((ADMIN, None), (BOARD, IGO), (ANALYST, IGO), (world.small_insurer, IGO), (SUPERUSER, IGO)):
        report = report_module.insight_report(world.db, principal, igo, YEAR)
        expected = insight.indicator_overview(world.db, principal, YEAR, igo)
        got = [(r.indicator.id, replace(r.unit, standardised=None), r.reference) for r in report.overview]
        assert got == [(r.indicator.id, r.unit, r.reference) for r in expected]
        assert report.igo_id == IGO and report.outside == (principal.role in (Role.ANALYST, Role.INSURER))


def test_access_is_that_of_the_use_cases(world):
    with pytest.raises(AccessDeniedError):
        report_module.insight_report_pdf(world.db, world.member, IGO, YEAR)
    with pytest.raises(NotFoundError):
        report_module.insight_report_pdf(world.db, ADMIN, world.igos[1], YEAR)  # an IGO role: its own IGO only
    with pytest.raises(NotFoundError):
        report_module.insight_report_pdf(world.db, ANALYST, "IGO-NOPE", YEAR)
    with pytest.raises(NotFoundError):
        report_module.insight_report_pdf(world.db, ANALYST, None, YEAR)  # outside the IGO: name one


@needs_pdftotext
def test_english_and_the_core_font_fallback(world, tmp_path):
    report = report_module.insight_report(world.db, ADMIN, None, YEAR)
    english = pdf_pages(report_module.render_insight_report(report, "en", at=AT), tmp_path)
    caesarean = next(r for r in report.overview if r.indicator.id == "caesarean_total")
    assert "Quality and outcomes IGO-01 2025" in english[0] and "Reading guide" in english[0]
    assert f"{caesarean.unit.rate * 100:.1f}%" in english[0]
    core = report_module.render_insight_report(report, "nl", at=AT, font_dir=None)
    assert core.startswith(b"%PDF-") and b"DejaVu" not in core
    assert "o/oo" in "\n".join(pdf_pages(core, tmp_path))  # ‰ is not Latin-1
    assert report_module.render_insight_report(report, at=AT) == report_module.render_insight_report(report, at=AT)


def test_the_api_route_sends_the_pdf_and_refuses_a_member(world):
    add_user(world.db, "api_admin", "igo_admin", igo_id=IGO)
    add_user(world.db, "api_member", "member", agb=world.member.agb)
    client = TestClient(create_app(world.db, settings=Settings(pseudonym_key=b"report test key")))

    def headers(username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {issue_token(world.db, username)}"}

    response = client.get("/api/insight/report.pdf", params={"year": YEAR}, headers=headers("api_admin"))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"] == 'attachment; filename="kwaliteit-IGO-01-2025.pdf"'
    assert response.content.startswith(b"%PDF-")
    refused = client.get("/api/insight/report.pdf", params={"year": YEAR, "igo_id": IGO}, headers=headers("api_member"))
    assert refused.status_code == 403
    other = client.get(
        "/api/insight/report.pdf", params={"year": YEAR, "igo_id": world.igos[1]}, headers=headers("api_admin")
    )
    assert other.status_code == 404


def test_the_file_name_is_safe():
    assert report_module.report_filename("IGO-01", 2025) == "kwaliteit-IGO-01-2025.pdf"
    assert report_module.report_filename('a"b\r\nc', 2025) == "kwaliteit-a_b__c-2025.pdf"
