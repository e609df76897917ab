"""The yearly insight report of one IGO as PDF (issue 6, part 5): every indicator next to the reference, then per
proportion indicator its figure, its case-mix adjusted O/E and a funnel plot, and a short casemix section.

The report shows exactly what the use cases return for the reader (:mod:`integraal.services.insight`,
:mod:`integraal.services.casemix`): it formats, it never counts. Scope and suppression are theirs:

- an IGO role gets its own IGO (asking for another IGO is "not found"); the other IGOs are the anonymous units
  ("IGO A" …) of the indicator tables;
- an insurer or analyst may make the report of any IGO in its scope, with small numbers hidden: a row the use
  case suppressed prints as ``< 10`` (the table's minimum; ``x`` for a row hidden only so that another hidden row
  cannot be worked out from the totals); the casemix section prints withheld cells as casemix does (``x``);
- a member provider gets the :class:`~integraal.services.access.AccessDeniedError` of the use cases.

Performance: the outcome frame is read once and passed to every :func:`indicator_table` call; the overview is
taken from the same (case-mix adjusted) tables, row for row as :func:`indicator_overview` picks it.

Layout and fonts follow the statement PDF (:mod:`integraal.services.statements`): A4, fpdf2, DejaVu Sans when
installed (a Latin-1 core font otherwise), the funnel plots drawn with vector primitives.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from fpdf.enums import XPos, YPos
from sqlalchemy import select

from integraal.insight import FunnelPlot, Indicator, IndicatorKind, Interval, Position, load_indicators
from integraal.insight.suppression import TOTAL, Suppressed
from integraal.services.access import Action, NotFoundError, Principal, Role, configured_minimum, require
from integraal.services.casemix import MARKER, CasemixReport, casemix
from integraal.services.insight import (
    IndicatorTable,
    OverviewRow,
    UnitLevel,
    UnitRow,
    _scope,
    igos_in_scope,
    indicator_table,
    outcome_frame,
)
from integraal.services.statements import _LATIN1, FONT_DIR, _StatementPdf
from integraal.store import tables
from integraal.store.database import Database

IGO_ROLES = frozenset({Role.IGO_ADMIN, Role.IGO_BOARD})
COMPLEMENTARY_MARK = "x"
"""What a row hidden by complementary suppression prints as (its counts need not be small: "< 10" would lie)."""


# --- what the report holds ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InsightReport:
    """Everything the PDF shows, as the use cases returned it for ``principal``."""

    igo_id: str
    igo_name: str
    year: int
    principal: Principal
    minimum: int
    outside: bool  # small numbers are hidden for this reader
    overview: tuple[OverviewRow, ...]
    tables: tuple[IndicatorTable, ...]  # one per indicator, level IGO, case-mix adjusted
    casemix: CasemixReport | None


def _resolve_igo(db: Database, principal: Principal, igo_id: str | None) -> tuple[str, str]:
    """The IGO of the report and its name: an IGO role's own; for others one of :func:`igos_in_scope`."""
    if principal.role in IGO_ROLES:
        if igo_id not in (None, "", principal.igo_id):
            raise NotFoundError("igo", str(igo_id))
        igo = str(principal.igo_id)
    else:
        if not igo_id or igo_id not in igos_in_scope(db, principal):
            raise NotFoundError("igo", igo_id or "")
        igo = igo_id
    with db.unit_of_work() as connection:
        name = connection.execute(select(tables.igos.c.name).where(tables.igos.c.igo_id == igo)).scalar()
    return igo, str(name or "")


def unit_of(table: IndicatorTable, igo_id: str) -> UnitRow:
    """The IGO's row of a table, exactly as :func:`integraal.services.insight.indicator_overview` picks it."""
    found = next((r for r in table.rows if r.own or r.unit == igo_id), None)
    return found if found is not None else UnitRow(igo_id, True, None, 0, None, None, None, None, None, None)


def insight_report(db: Database, principal: Principal, igo_id: str | None, year: int) -> InsightReport:
    """Gather the report of ``igo_id`` (IGO roles: their own) for ``year``; raises what the use cases raise."""
    require(principal, Action.READ_AGGREGATES)
    igo, name = _resolve_igo(db, principal, igo_id)
    frame = outcome_frame(db, _scope(principal), [year], many=True)
    indicator_tables = tuple(
        indicator_table(db, principal, indicator.id, year, UnitLevel.IGO, adjust=True, frame=frame)
        for indicator in load_indicators().values()
    )
    overview = tuple(OverviewRow(t.indicator, unit_of(t, igo), t.total) for t in indicator_tables)
    minimum = indicator_tables[0].minimum if indicator_tables else configured_minimum()
    return InsightReport(
        igo_id=igo,
        igo_name=name,
        year=year,
        principal=principal,
        minimum=minimum,
        outside=principal.role in (Role.INSURER, Role.ANALYST),
        overview=overview,
        tables=indicator_tables,
        casemix=casemix_section(db, principal, igo, year, minimum),
    )


def casemix_section(db: Database, principal: Principal, igo_id: str, year: int, minimum: int) -> CasemixReport:
    """The casemix of the IGO (:func:`integraal.services.casemix.casemix`): the report shows its client profiles."""
    return casemix(db, principal, year, igo_id=igo_id, minimum=minimum)


# --- formatting -----------------------------------------------------------------------------------------------


def _number(value: float, decimals: int, lang: str) -> str:
    text = f"{value:,.{decimals}f}"
    return text.translate(str.maketrans(",.", ".,")) if lang == "nl" else text


def format_count(value: int | None, lang: str) -> str:
    """A count with the thousands separator of ``lang`` (2.162 or 2,162); ``–`` when not given."""
    return "–" if value is None else _number(value, 0, lang)


def _sign(indicator: Indicator, lang: str) -> str:
    if indicator.kind is IndicatorKind.MEAN:
        return ""
    symbol = "%" if indicator.per == 100 else "‰"
    return f" {symbol}" if lang == "nl" else symbol


def format_rate(value: float | None, indicator: Indicator, lang: str, sign: bool = True) -> str:
    """A rate as the indicator shows it: 23,2 % or 8,8 ‰ (Dutch), 23.2% (English); a mean as 7,9 / 7.9."""
    if value is None:
        return "–"
    scale = 1 if indicator.kind is IndicatorKind.MEAN else indicator.per
    return _number(value * scale, 1, lang) + (_sign(indicator, lang) if sign else "")


def format_interval(interval: Interval | None, indicator: Indicator, lang: str) -> str:
    """``12,1–15,0 %``; ``–`` without an interval."""
    if interval is None:
        return "–"
    low = format_rate(interval.lower, indicator, lang, sign=False)
    return f"{low}–{format_rate(interval.upper, indicator, lang)}"


def hidden_mark(row: UnitRow, minimum: int) -> str:
    """What a suppressed row prints instead of its figures."""
    return COMPLEMENTARY_MARK if row.suppressed is Suppressed.COMPLEMENTARY else f"< {minimum}"


def _level(level: float, lang: str) -> str:
    text = f"{level * 100:.1f}".removesuffix(".0")
    return (text.replace(".", ",") + " %") if lang == "nl" else text + "%"


def format_position(row: UnitRow, lang: str) -> str:
    """Where the unit lies against the funnel limits: the widest limit it crosses, or "within"."""
    if not row.positions:
        return "–"
    for level, position in sorted(row.positions, reverse=True):
        if position is not Position.WITHIN:
            side = {"nl": ("boven", "onder"), "en": ("above", "below")}[lang][position is Position.BELOW]
            return f"{side} {_level(level, lang)}"
    return "binnen" if lang == "nl" else "within"


def overview_cells(row: OverviewRow, minimum: int, lang: str) -> tuple[str, ...]:
    """The cells of one overview line after the indicator's name: rate, 95 % interval, women counted, unknown,
    reference rate, funnel position."""
    indicator, unit, reference = row.indicator, row.unit, row.reference
    ref = hidden_mark(reference, minimum) if reference.suppressed else format_rate(reference.rate, indicator, lang)
    if unit.suppressed:
        return (hidden_mark(unit, minimum), "–", "–", "–", ref, "–")
    return (
        format_rate(unit.rate, indicator, lang),
        format_interval(unit.interval, indicator, lang),
        format_count(unit.denominator, lang),
        format_count(unit.missing, lang),
        ref,
        format_position(unit, lang),
    )


# --- texts ----------------------------------------------------------------------------------------------------

LABELS: dict[str, dict[str, str]] = {
    "nl": {
        "title": "Kwaliteit en uitkomsten",
        "igo": "IGO",
        "year": "Jaar",
        "year_text": "zwangerschappen die in {year} eindigden (de geboorte)",
        "made": "Gemaakt op",
        "by": "door",
        "outside": "U bekijkt dit rapport van buiten de IGO: cijfers die rusten op minder dan {minimum} vrouwen of "
        "gebeurtenissen zijn verborgen (‘< {minimum}’), en waar nodig nog één (‘x’), zodat een verborgen cijfer "
        "niet uit het totaal terug te rekenen is. Aantallen onbekend ziet alleen de IGO zelf.",
        "guide": "Leeswijzer: wat u wel en niet kunt concluderen",
        "overview": "Alle indicatoren",
        "indicator": "Indicator",
        "rate": "IGO",
        "interval": "95 %-interval",
        "counted": "Vrouwen geteld",
        "unknown": "Onbekend",
        "reference": "Referentie",
        "position": "Trechter",
        "reference_note": "Referentie: alle eenheden in uw zicht samen. Trechter: de grens (95 % of 99,8 %) waar de "
        "IGO buiten valt, of ‘binnen’.",
        "figure": "Cijfer",
        "of": "van",
        "women": "vrouwen",
        "unknown_n": "onbekend",
        "excluded_n": "uitgesloten",
        "hidden_row": "verborgen: een van de aantallen (teller, noemer of het verschil) is kleiner dan {minimum}",
        "hidden_complementary": "verborgen, zodat een ander verborgen cijfer niet terug te rekenen is",
        "total": "Referentie (totaal)",
        "oe": "Case-mix (O/E)",
        "oe_text": "{ratio} (95 %-interval {low}–{high}, Byar); waargenomen {observed}, verwacht {expected}",
        "oe_none": "niet berekend",
        "funnel": "Trechter",
        "no_funnel": "Geen trechterdiagram: te weinig gegevens die getoond mogen worden.",
        "x_axis": "Aantal vrouwen in de noemer",
        "target": "Totaal",
        "limit95": "95 %-grens",
        "limit998": "99,8 %-grens",
        "others": "andere eenheden",
        "casemix": "Casemix: cliëntprofielen per zorgverzekeraar",
        "casemix_text": "Zwangerschappen van de IGO per cliëntprofiel en zorgverzekeraar (UZOVI), naar het jaar "
        "van de uitgerekende datum. Het profiel is ook een van de case-mixvariabelen van de O/E. "
        "Verborgen aantallen staan als ‘x’.",
        "profile": "Cliëntprofiel",
        "no_casemix": "Geen zwangerschappen van deze IGO in dit jaar.",
        "direction.lower_is_better": "lager is gunstiger",
        "direction.higher_is_better": "hoger is gunstiger",
        "direction.none": "geen waardeoordeel",
        "footer": "Spiegelinformatie: een verschil is een reden om samen te kijken, geen oordeel en geen rangorde.",
        "page": "Pagina",
        "role.igo_admin": "backoffice van de IGO",
        "role.igo_board": "bestuur van de IGO",
        "role.insurer": "zorgverzekeraar",
        "role.analyst": "analist",
        "role.superuser": "beheerder",
        "role.member": "zorgaanbieder",
    },
    "en": {
        "title": "Quality and outcomes",
        "igo": "IGO",
        "year": "Year",
        "year_text": "pregnancies that ended in {year} (the birth)",
        "made": "Made on",
        "by": "by",
        "outside": "You see this report from outside the IGO: figures resting on fewer than {minimum} women or "
        "events are hidden ('< {minimum}'), and where needed one more ('x'), so that a hidden figure cannot be "
        "worked out from the total. Only the IGO itself sees the numbers unknown.",
        "guide": "Reading guide: what you may and may not conclude",
        "overview": "All indicators",
        "indicator": "Indicator",
        "rate": "IGO",
        "interval": "95% interval",
        "counted": "Women counted",
        "unknown": "Unknown",
        "reference": "Reference",
        "position": "Funnel",
        "reference_note": "Reference: all units you may see together. Funnel: the limit (95% or 99.8%) the IGO lies "
        "beyond, or 'within'.",
        "figure": "Figure",
        "of": "of",
        "women": "women",
        "unknown_n": "unknown",
        "excluded_n": "excluded",
        "hidden_row": "hidden: one of the counts (numerator, denominator or the difference) is below {minimum}",
        "hidden_complementary": "hidden so that another hidden figure cannot be worked out",
        "total": "Reference (overall)",
        "oe": "Case mix (O/E)",
        "oe_text": "{ratio} (95% interval {low}–{high}, Byar); observed {observed}, expected {expected}",
        "oe_none": "not computed",
        "funnel": "Funnel",
        "no_funnel": "No funnel plot: too few figures that may be shown.",
        "x_axis": "Women in the denominator",
        "target": "Overall",
        "limit95": "95% limit",
        "limit998": "99.8% limit",
        "others": "other units",
        "casemix": "Case mix: client profiles per insurer",
        "casemix_text": "Pregnancies of the IGO per client profile and insurer (UZOVI), by the year of the due "
        "date. The profile is also one of the case-mix variables of the O/E. Hidden counts show as 'x'.",
        "profile": "Client profile",
        "no_casemix": "No pregnancies of this IGO in this year.",
        "direction.lower_is_better": "lower is better",
        "direction.higher_is_better": "higher is better",
        "direction.none": "no value judgement",
        "footer": "Mirror information: a difference is a reason to look together, not a verdict and not a ranking.",
        "page": "Page",
        "role.igo_admin": "IGO back office",
        "role.igo_board": "IGO board",
        "role.insurer": "insurer",
        "role.analyst": "analyst",
        "role.superuser": "superuser",
        "role.member": "provider",
    },
}

GUIDE: dict[str, tuple[str, ...]] = {
    "nl": (
        "Intervallen. Elk percentage is een schatting. Het 95 %-interval geeft aan waar het werkelijke percentage "
        "waarschijnlijk ligt; hoe kleiner de groep, hoe breder het interval. Een verschil dat binnen de "
        "intervallen valt, kan toeval zijn.",
        "Trechtergrenzen. Het trechterdiagram zet elke eenheid af tegen wat toeval bij haar omvang toelaat rond "
        "het totaal: 95 % (waarschuwing) en 99,8 % (alarm), exact binomiaal. Binnen de grenzen past het verschil "
        "bij toeval; buiten 95 % is het een reden om te kijken, nog geen oordeel; buiten 99,8 %: kijk goed.",
        "Geen rangorde. Eenheden worden niet onderling gerangschikt. De volgorde en de letters van anonieme IGO's "
        "(IGO A, IGO B …) zeggen niets over grootte of uitkomst.",
        "Kleine aantallen. Buiten de IGO is een cijfer verborgen als de teller, de noemer of het verschil kleiner "
        "is dan {minimum} (‘< {minimum}’); soms nog één (‘x’), zodat het niet uit het totaal terug te rekenen is.",
        "Case-mix (O/E). Waargenomen gedeeld door verwacht: het aantal dat de IGO zou hebben met de percentages van "
        "alle eenheden per cliëntprofiel en eerste bevalling (indirecte standaardisatie), met Byars 95 %-interval. "
        "Boven 1: meer dan verwacht. Het corrigeert alleen voor wat geregistreerd is.",
        "Onbekend apart. Een vrouw van wie een gegeven ontbreekt, telt niet mee in het percentage maar apart als "
        "‘onbekend’: een eenheid die minder registreert, mag er niet beter uitzien.",
    ),
    "en": (
        "Intervals. Every rate is an estimate. The 95% interval shows where the true rate probably lies; the "
        "smaller the group, the wider the interval. A difference within the intervals may be chance.",
        "Funnel limits. The funnel plot compares each unit with what chance allows at its size around the "
        "overall rate: 95% (warning) and 99.8% (alarm), exact binomial. Within the limits the difference fits "
        "chance; beyond 95% it is a reason to look, not a verdict; beyond 99.8%: look closely.",
        "No ranking. Units are not ranked against each other. The order and the letters of anonymous IGOs "
        "(IGO A, IGO B …) say nothing about size or outcome.",
        "Small numbers. Outside the IGO a figure is hidden when its numerator, denominator or the difference is "
        "below {minimum} ('< {minimum}'); sometimes one more ('x'), so that it cannot be worked out from the total.",
        "Case mix (O/E). Observed divided by expected: the number the IGO would have at the rates of all units per "
        "client profile and first birth (indirect standardisation), with Byar's 95% interval. Above 1: more than "
        "expected. It adjusts only for what is registered.",
        "Unknowns apart. A woman with a missing value does not count in the rate but apart as 'unknown': a unit "
        "that registers less must not look better.",
    ),
}

# --- the PDF --------------------------------------------------------------------------------------------------

TARGET_RGB = (46, 139, 87)
LIMIT95_RGB = (91, 132, 196)
LIMIT998_RGB = (52, 61, 73)
OWN_RGB = (181, 54, 79)
DOT_RGB = (31, 111, 139)
GRID_RGB = (217, 222, 229)
MUTED_RGB = (90, 98, 110)
_EXTRA_LATIN1 = str.maketrans({"‰": "o/oo", "‘": "'", "’": "'", "“": '"', "”": '"'})


def _nice_step(span: float, ticks: int = 5) -> float:
    raw = span / ticks if span > 0 else 1.0
    magnitude = 10.0 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10 * magnitude


@dataclass(frozen=True, slots=True)
class _Box:
    x: float
    y: float
    w: float
    h: float


class _ReportPdf(_StatementPdf):
    """The statement PDF's page frame (footer with the page number), with the drawing helpers of the report."""

    def dot(self, x: float, y: float, radius: float, style: str) -> None:
        self.ellipse(x - radius, y - radius, 2 * radius, 2 * radius, style=style)


def report_filename(igo_id: str, year: int) -> str:
    """``kwaliteit-IGO-01-2025.pdf`` (anything but letters, digits, ``-`` and ``_`` in the id becomes ``_``)."""
    return f"kwaliteit-{re.sub(r'[^A-Za-z0-9_-]', '_', igo_id)}-{year}.pdf"


def insight_report_pdf(
    db: Database,
    principal: Principal,
    igo_id: str | None,
    year: int,
    lang: str = "nl",
    *,
    at: datetime | None = None,
    font_dir: Path | None = FONT_DIR,
    compress: bool = True,
) -> bytes:
    """The yearly report of ``igo_id`` (IGO roles: their own; ``None`` allowed for them) as an A4 PDF in ``lang``.

    ``at``: the moment of making printed on page 1 (default: now). Access and suppression as the use cases
    (module docstring): ``AccessDeniedError`` for a member, ``NotFoundError`` for an IGO outside the scope.
    """
    report = insight_report(db, principal, igo_id, year)
    return render_insight_report(report, lang, at=at, font_dir=font_dir, compress=compress)


def render_insight_report(
    report: InsightReport,
    lang: str = "nl",
    *,
    at: datetime | None = None,
    font_dir: Path | None = FONT_DIR,
    compress: bool = True,
) -> bytes:
    """Render a gathered :class:`InsightReport` (see :func:`insight_report_pdf`)."""
    lang = "nl" if lang == "nl" else "en"
    labels = LABELS[lang]
    made = at or datetime.now().astimezone()
    pdf = _ReportPdf(orientation="P", unit="mm", format="A4")
    pdf.set_compression(compress)
    regular = font_dir / "DejaVuSans.ttf" if font_dir is not None else None
    unicode_font = regular is not None and regular.is_file()
    if unicode_font and regular is not None and font_dir is not None:
        bold = font_dir / "DejaVuSans-Bold.ttf"
        pdf.add_font("dejavu", "", str(regular))
        pdf.add_font("dejavu", "B", str(bold if bold.is_file() else regular))
        pdf.font_name = "dejavu"

    def t(text: str) -> str:
        if unicode_font:
            return text
        return text.translate(_EXTRA_LATIN1).translate(_LATIN1).encode("latin-1", "replace").decode("latin-1")

    family = pdf.font_name
    title = f"{labels['title']} {report.igo_id} {report.year}"
    pdf.footer_text = t(labels["footer"])
    pdf.page_label = labels["page"]
    pdf.set_title(t(title))
    pdf.set_author("Integraal")
    pdf.set_creator("Integraal")
    pdf.set_creation_date(made)
    pdf.set_margins(18, 16, 18)
    pdf.set_auto_page_break(True, margin=20)
    pdf.add_page()

    # Page 1: title, who and when, reading guide, overview.
    pdf.set_font(family, "B", 15)
    pdf.cell(0, 8, t(title), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    principal = report.principal
    role = labels[f"role.{principal.role.value}"] + (f" {principal.uzovi}" if principal.uzovi else "")
    stamp = made.strftime("%d-%m-%Y %H:%M" if lang == "nl" else "%Y-%m-%d %H:%M")
    for label, value in (
        (labels["igo"], f"{report.igo_name} ({report.igo_id})" if report.igo_name else report.igo_id),
        (labels["year"], f"{report.year}: " + labels["year_text"].format(year=report.year)),
        (labels["made"], f"{stamp} {labels['by']} {principal.username} ({role})"),
    ):
        pdf.set_font(family, "B", 9)
        pdf.cell(28, 5, t(label))
        pdf.set_font(family, "", 9)
        pdf.cell(0, 5, t(value), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(1.5)
    if report.outside:
        pdf.set_fill_color(253, 243, 224)
        pdf.set_font(family, "", 8.5)
        outside = t(labels["outside"].format(minimum=report.minimum))
        pdf.multi_cell(0, 4, outside, fill=True, align="L", padding=1, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(1.5)

    def heading(text: str, size: float = 11.5) -> None:
        pdf.set_font(family, "B", size)
        pdf.cell(0, 6.5, t(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font(family, "", 8.5)

    heading(labels["guide"])
    for paragraph in GUIDE[lang]:
        lead, _, rest = paragraph.format(minimum=report.minimum).partition(". ")
        pdf.set_font(family, "B", 8.2)
        pdf.cell(3, 3.8, "•" if unicode_font else "-")
        pdf.set_font(family, "", 8.2)
        pdf.multi_cell(0, 3.8, t(f"**{lead}.** {rest}"), markdown=True, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(0.6)
    pdf.ln(1.5)

    heading(labels["overview"])
    pdf.set_font(family, "", 7.6)
    with pdf.table(
        col_widths=(46, 16, 24, 19, 19, 19, 31),
        text_align=("LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT", "RIGHT", "LEFT"),
        line_height=4.2,
        padding=(0.8, 1.2),
    ) as table:
        head = table.row()
        for key in ("indicator", "rate", "interval", "counted", "unknown", "reference", "position"):
            head.cell(t(report.igo_id if key == "rate" else labels[key]))
        for row in report.overview:
            line = table.row()
            line.cell(t(row.indicator.name.nl if lang == "nl" else row.indicator.name.en))
            for cell in overview_cells(row, report.minimum, lang):
                line.cell(t(cell))
    pdf.set_font(family, "", 7.5)
    pdf.ln(1)
    pdf.multi_cell(0, 3.6, t(labels["reference_note"]), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    # One block per proportion indicator, two to a page.
    block_height = 124.0
    blocks = [tb for tb in report.tables if tb.indicator.kind is IndicatorKind.PROPORTION]
    for k, table_ in enumerate(blocks):
        if k % 2 == 0 or pdf.get_y() + block_height > pdf.page_break_trigger:
            pdf.add_page()
        else:
            pdf.ln(4)
        _block(pdf, report, table_, lang, labels, t)

    if report.casemix is not None:
        _casemix(pdf, report, report.casemix, lang, labels, t)
    return bytes(pdf.output())


def _block(
    pdf: _ReportPdf,
    report: InsightReport,
    table: IndicatorTable,
    lang: str,
    labels: dict[str, str],
    t: Callable[[str], str],
) -> None:
    family = pdf.font_name
    indicator = table.indicator
    name = indicator.name.nl if lang == "nl" else indicator.name.en
    top = pdf.get_y()
    pdf.set_draw_color(*GRID_RGB)
    pdf.line(pdf.l_margin, top, pdf.w - pdf.r_margin, top)
    pdf.ln(1.5)
    pdf.set_font(family, "B", 11.5)
    pdf.cell(pdf.get_string_width(t(name)) + 3, 6.5, t(name))
    pdf.set_font(family, "", 8)
    pdf.set_text_color(*MUTED_RGB)
    pdf.cell(0, 6.5, t(labels[f"direction.{indicator.direction.value}"]), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(0, 0, 0)
    pdf.set_font(family, "", 8.3)
    explanation = indicator.explanation.nl if lang == "nl" else indicator.explanation.en
    pdf.multi_cell(0, 3.8, t(explanation), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(1)

    unit = unit_of(table, report.igo_id)
    lines: list[tuple[str, str]] = []
    if unit.suppressed:
        why = labels["hidden_complementary"] if hidden_mark(unit, table.minimum) == COMPLEMENTARY_MARK else None
        why = why or labels["hidden_row"].format(minimum=table.minimum)
        lines.append((f"{report.igo_id}", f"{hidden_mark(unit, table.minimum)} ({why})"))
    else:
        figure = f"{format_rate(unit.rate, indicator, lang)} ({labels['interval']} "
        figure += f"{format_interval(unit.interval, indicator, lang)}); "
        figure += f"{format_count(unit.numerator, lang)} {labels['of']} {format_count(unit.denominator, lang)} "
        figure += labels["women"]
        extra = [
            f"{format_count(n, lang)} {labels[key]}"
            for n, key in ((unit.missing, "unknown_n"), (unit.excluded, "excluded_n"))
            if n is not None
        ]
        lines.append((report.igo_id, figure + (f"; {', '.join(extra)}" if extra else "")))
    total = table.total
    if total.suppressed:
        lines.append((labels["total"], hidden_mark(total, table.minimum)))
    else:
        lines.append(
            (
                labels["total"],
                f"{format_rate(total.rate, indicator, lang)} ({labels['interval']} "
                f"{format_interval(total.interval, indicator, lang)})",
            )
        )
    s = unit.standardised
    if s is not None and s.ratio is not None and s.interval is not None:
        oe = labels["oe_text"].format(
            ratio=_number(s.ratio, 2, lang),
            low=_number(s.interval.lower, 2, lang),
            high=_number(s.interval.upper, 2, lang),
            observed=format_count(s.observed, lang),
            expected=_number(s.expected, 1, lang),
        )
    else:
        oe = labels["oe_none"]
    lines.append((labels["oe"], oe))
    lines.append((labels["funnel"], format_position(unit, lang)))
    for label, value in lines:
        pdf.set_font(family, "B", 8.3)
        pdf.cell(35, 4.2, t(label))
        pdf.set_font(family, "", 8.3)
        pdf.multi_cell(0, 4.2, t(value), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(1.5)

    plot_top = pdf.get_y()
    height = max(40.0, min(84.0, top + 124.0 - plot_top - 2))
    if table.funnel is None:
        pdf.set_font(family, "", 8.3)
        pdf.set_text_color(*MUTED_RGB)
        pdf.multi_cell(0, 4.2, t(labels["no_funnel"]), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_text_color(0, 0, 0)
        return
    own_label = unit.unit
    _funnel(pdf, table.funnel, indicator, own_label, _Box(pdf.l_margin, plot_top, pdf.epw, height), lang, labels, t)
    pdf.set_y(plot_top + height + 1)


def _funnel(
    pdf: _ReportPdf,
    funnel: FunnelPlot,
    indicator: Indicator,
    own: str,
    box: _Box,
    lang: str,
    labels: dict[str, str],
    t: Callable[[str], str],
) -> None:
    """A funnel plot in ``box``: exact limits per level, the target, a dot per shown unit (the own one red)."""
    family = pdf.font_name
    scale = indicator.per
    legend_h, left, right, bottom = 6.0, 17.0, 3.0, 11.0
    px, py = box.x + left, box.y + legend_h
    pw, ph = box.w - left - right, box.h - legend_h - bottom
    largest = max([p.denominator for p in funnel.points] + [c.n for c in funnel.curve] + [1])
    x_max = largest * 1.05
    # The vertical range follows the dots: limits only from a quarter of the smallest shown unit on.
    values = [p.rate for p in funnel.points] + [funnel.target]
    smallest = min([p.denominator for p in funnel.points] + [largest])
    for c in funnel.curve:
        if c.n >= smallest * 0.25:
            values += [c.exact.lower, c.exact.upper]
    y_min, y_max = max(0.0, min(values) * 0.85), min(1.0, max(values) * 1.12 + 1e-9)
    if y_max - y_min < 1e-6:
        y_max = y_min + 0.01

    def x(n: float) -> float:
        return px + pw * n / x_max

    def y(rate: float) -> float:
        return py + ph * (1 - (rate - y_min) / (y_max - y_min))

    # Grid, ticks and axis titles.
    pdf.set_line_width(0.15)
    pdf.set_draw_color(*GRID_RGB)
    pdf.set_font(family, "", 6.5)
    step = _nice_step(x_max)
    tick = 0.0
    while tick <= x_max + 1e-9:
        pdf.line(x(tick), py, x(tick), py + ph)
        label = format_count(round(tick), lang)
        pdf.text(x(tick) - pdf.get_string_width(label) / 2, py + ph + 3.6, label)
        tick += step
    y_step = _nice_step(y_max - y_min)
    shown_step = y_step * scale
    decimals = next((d for d in (0, 1, 2) if abs(shown_step * 10**d - round(shown_step * 10**d)) < 1e-6), 3)
    level = math.floor(y_min / y_step) * y_step
    while level <= y_max + 1e-12:
        if level >= y_min - 1e-12:
            pdf.line(px, y(level), px + pw, y(level))
            label = _number(level * scale, decimals, lang)
            pdf.text(px - 1.2 - pdf.get_string_width(label), y(level) + 0.9, label)
        level += y_step
    pdf.set_draw_color(*LIMIT998_RGB)
    pdf.set_line_width(0.3)
    pdf.line(px, py + ph, px + pw, py + ph)
    pdf.line(px, py, px, py + ph)
    pdf.set_font(family, "", 7)
    x_title = t(labels["x_axis"])
    pdf.text(px + pw / 2 - pdf.get_string_width(x_title) / 2, py + ph + 8.5, x_title)
    name = indicator.name.nl if lang == "nl" else indicator.name.en
    y_title = t(f"{name} ({'%' if scale == 100 else '‰'})")
    with pdf.rotation(90, box.x + 3.2, py + ph / 2):
        pdf.text(box.x + 3.2 - pdf.get_string_width(y_title) / 2, py + ph / 2, y_title)

    # Limits (clipped to the plot), target, dots.
    styles = {0.95: (LIMIT95_RGB, True), 0.998: (LIMIT998_RGB, False)}
    with pdf.rect_clip(px, py, pw, ph):
        for lvl in funnel.levels:
            rgb, dashed = styles.get(lvl, (LIMIT998_RGB, False))
            pdf.set_draw_color(*rgb)
            pdf.set_line_width(0.35)
            if dashed:
                pdf.set_dash_pattern(dash=1.4, gap=0.9)
            curve = [c for c in funnel.curve if c.level == lvl]
            pdf.polyline([(x(c.n), y(c.exact.lower)) for c in curve])
            pdf.polyline([(x(c.n), y(c.exact.upper)) for c in curve])
            pdf.set_dash_pattern()
        pdf.set_draw_color(*TARGET_RGB)
        pdf.set_line_width(0.5)
        pdf.line(px, y(funnel.target), px + pw, y(funnel.target))
    pdf.set_line_width(0.3)

    def centre(n: int, rate: float) -> tuple[float, float]:
        return x(n), y(min(max(rate, y_min), y_max))

    for point in sorted(funnel.points, key=lambda p: p.unit == own):  # the own dot on top
        cx, cy = centre(point.denominator, point.rate)
        if point.unit == own:
            pdf.set_fill_color(*OWN_RGB)
            pdf.set_draw_color(122, 31, 51)
            pdf.dot(cx, cy, 1.3, "DF")
        else:
            pdf.set_fill_color(255, 255, 255)
            pdf.set_draw_color(*DOT_RGB)
            pdf.dot(cx, cy, 1.0, "DF")
    # Labels: the own one first; a label that would cover one already placed moves up or down a line.
    placed: list[tuple[float, float, float, float]] = []
    for point in sorted(funnel.points, key=lambda p: p.unit != own):
        cx, cy = centre(point.denominator, point.rate)
        mine = point.unit == own
        pdf.set_font(family, "B" if mine else "", 7.5 if mine else 6.5)
        pdf.set_text_color(*(OWN_RGB if mine else MUTED_RGB))
        label = t(point.unit)
        width, height = pdf.get_string_width(label), 2.6
        lx = cx + 1.8 if cx + 1.8 + width <= px + pw else cx - 1.8 - width
        for dy in (0.0, -height, height, -2 * height, 2 * height):
            baseline = cy - 1.0 + dy
            box_ = (lx, baseline - height + 0.4, lx + width, baseline + 0.4)
            if not any(a < box_[2] and box_[0] < c and b < box_[3] and box_[1] < d for a, b, c, d in placed):
                break
        else:
            baseline = cy - 1.0
            box_ = (lx, baseline - height + 0.4, lx + width, baseline + 0.4)
        placed.append(box_)
        pdf.text(lx, baseline, label)
    pdf.set_text_color(0, 0, 0)

    # Legend above the plot.
    pdf.set_font(family, "", 7)
    lx, ly = px, box.y + 3
    target_text = f"{labels['target']} ({format_rate(funnel.target, indicator, lang)})"
    for text, rgb, dashed in (
        (target_text, TARGET_RGB, False),
        (labels["limit95"], LIMIT95_RGB, True),
        (labels["limit998"], LIMIT998_RGB, False),
    ):
        pdf.set_draw_color(*rgb)
        pdf.set_line_width(0.5 if rgb == TARGET_RGB else 0.35)
        if dashed:
            pdf.set_dash_pattern(dash=1.4, gap=0.9)
        pdf.line(lx, ly - 0.8, lx + 6, ly - 0.8)
        pdf.set_dash_pattern()
        pdf.text(lx + 7.5, ly, t(text))
        lx += 7.5 + pdf.get_string_width(t(text)) + 5
    pdf.set_line_width(0.3)
    for text, own_dot in ((own, True), (labels["others"], False)):
        if own_dot:
            pdf.set_fill_color(*OWN_RGB)
            pdf.set_draw_color(122, 31, 51)
        else:
            pdf.set_fill_color(255, 255, 255)
            pdf.set_draw_color(*DOT_RGB)
        pdf.dot(lx + 1.2, ly - 0.9, 1.1 if own_dot else 0.9, "DF")
        pdf.text(lx + 3.5, ly, t(text))
        lx += 3.5 + pdf.get_string_width(t(text)) + 5
    pdf.set_draw_color(0, 0, 0)
    pdf.set_line_width(0.2)


def _casemix(
    pdf: _ReportPdf,
    report: InsightReport,
    mix: CasemixReport,
    lang: str,
    labels: dict[str, str],
    t: Callable[[str], str],
) -> None:
    """Client profiles of the IGO per insurer, exactly as the casemix use case returned them."""
    family = pdf.font_name
    profiles = mix.table("profiles")
    rows = [r for r in profiles.rows if r.igo_id == report.igo_id]
    insurers = sorted({r.uzovi for r in rows})
    categories = list(dict.fromkeys(r.category for r in rows))
    needed = 20 + 5 * (len(categories) + 1)
    if pdf.get_y() + needed > pdf.page_break_trigger:
        pdf.add_page()
    else:
        pdf.ln(5)
    pdf.set_font(family, "B", 11.5)
    pdf.cell(0, 6.5, t(labels["casemix"]), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(family, "", 8.3)
    pdf.multi_cell(0, 3.8, t(labels["casemix_text"]), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(1.5)
    if not rows:
        pdf.cell(0, 5, t(labels["no_casemix"]), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        return
    cell: dict[tuple[str, str], str] = {}
    label_of: dict[str, str] = {}
    for r in rows:
        label_of[r.category] = r.label_nl if lang == "nl" else r.label_en
        value = profiles.value(r, "pregnancies")
        cell[(r.category, r.uzovi)] = MARKER if r.withheld else format_count(_as_int(value), lang)
    first = 64.0
    rest = (pdf.epw - first) / max(1, len(insurers))
    pdf.set_font(family, "", 7.6)
    widths: Sequence[float] = (first, *([rest] * len(insurers)))
    with pdf.table(
        col_widths=widths,
        text_align=("LEFT", *(["RIGHT"] * len(insurers))),
        line_height=4.2,
        padding=(0.8, 1.2),
    ) as table:
        head = table.row()
        head.cell(t(labels["profile"]))
        for uzovi in insurers:
            head.cell(uzovi)
        for category in categories:
            line = table.row()
            line.cell(t(label_of[category] if category != TOTAL else label_of[category].capitalize()))
            for uzovi in insurers:
                line.cell(t(cell.get((category, uzovi), "–")))


def _as_int(value: object) -> int | None:
    return None if value is None else int(str(value))
