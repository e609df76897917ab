"""A member's statement of a closed period (issue 5, part 5): what it received and why, as data and as PDF.

:func:`statement` reads one member's booked lines of a closed period (``services.periods``) and groups them:

- **received per phase**: the lines of the plan's main model, by the phase they divide (or the whole period);
- **fees**: top-slices paid to the member itself, such as the availability fee (*beschikbaarheidsvergoeding*);
- **bonus**: the quality pool (*kwaliteitspot*) paid to the member;
- **adjustments**: corrections of earlier closed periods booked in this one, each naming the period and cause;
- **deductions**: what each top-slice took off the IGO's money before the main division (overhead, reserve,
  availability, quality pool). IGO-level figures, for context: the member does not pay them separately, they
  explain why the divided amount is smaller than what the IGO received;
- **total**: the sum of the member's lines — received + fees + bonus + adjustments.

Scope: a member sees only its own AGB, an IGO's roles their IGO's members; anything else is "not found".
:func:`statement_pdf` renders a statement as an A4 PDF (fpdf2), Dutch by default. The web page renders the same
:class:`Statement`. This module reads bookings only; it never writes.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from fpdf import FPDF
from fpdf.enums import XPos, YPos
from sqlalchemy import select

from integraal.distribution import IGO, DistributionPlan, StepKind, get_model
from integraal.distribution.models.common import DISCIPLINE_EN, DISCIPLINE_NL
from integraal.domain.money import format_euros
from integraal.domain.phase import PHASES
from integraal.domain.provider import Discipline
from integraal.services.access import Action, NotFoundError, Principal, Role, require
from integraal.services.periods import (
    ADJUSTMENT,
    TRANSITION_MODELS,
    BookedLine,
    booked_line,
    members_of,
    period_from_row,
    period_row,
    plan_from_json,
)
from integraal.store import tables
from integraal.store.database import Database

PERIOD = "period"
"""The 'phase' of a main-model line that divides the whole period (e.g. capitation)."""

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
"""Where DejaVu Sans is looked for: a Unicode font (€, →). Without it the PDF uses a core font and writes EUR."""

QUALITY_MODELS = frozenset({"quality_pool"})


@dataclass(frozen=True, slots=True)
class StatementLine:
    """One booked line of the member, with the section of the statement it belongs to."""

    line_no: int
    section: str  # phase, fee, bonus, adjustment
    phase: str | None  # prenatal, natal, postnatal, period (phase section only)
    step: str
    model: str
    amount_cents: int
    text_nl: str
    text_en: str
    adjusts_period_id: str | None = None
    source: str | None = None

    def text(self, lang: str) -> str:
        return self.text_nl if lang == "nl" else self.text_en


@dataclass(frozen=True, slots=True)
class Deduction:
    """What one top-slice step took off the IGO's money before the main division (all recipients together)."""

    step: str
    model: str
    title_nl: str
    title_en: str
    amount_cents: int


@dataclass(frozen=True, slots=True)
class Statement:
    agb: str
    name: str
    discipline: str
    period_id: str
    igo_id: str
    igo_name: str
    year: int
    plan_key: str
    plan_name: str
    closed_at: datetime
    igo_received_cents: int  # what the IGO received for the year and divided
    received_by_phase: tuple[tuple[str, int], ...]  # (prenatal | natal | postnatal | period, cents)
    fees_cents: int
    bonus_cents: int
    deductions: tuple[Deduction, ...]
    adjustments: tuple[StatementLine, ...]
    lines: tuple[StatementLine, ...]
    total_cents: int

    @property
    def received_cents(self) -> int:
        return sum(cents for _, cents in self.received_by_phase)

    @property
    def adjustment_cents(self) -> int:
        return sum(line.amount_cents for line in self.adjustments)


def _section(line: BookedLine) -> str:
    if line.kind == ADJUSTMENT:
        return "adjustment"
    if line.model in TRANSITION_MODELS or get_model(line.model).kind is StepKind.MAIN:
        return "phase"
    return "bonus" if line.model in QUALITY_MODELS else "fee"


def _statement_line(line: BookedLine) -> StatementLine:
    section = _section(line)
    return StatementLine(
        line.line_no,
        section,
        (line.phase or PERIOD) if section == "phase" else None,
        line.step,
        line.model,
        line.amount_cents,
        line.text_nl,
        line.text_en,
        line.adjusts_period_id,
        line.source,
    )


def _build(
    period: Any,
    plan: DistributionPlan,
    members: dict[str, Any],
    provider: Any,
    agb: str,
    rows: list[BookedLine],
    igo: str,
) -> Statement:
    own = [_statement_line(r) for r in rows if r.recipient == agb]
    by_phase: dict[str, int] = defaultdict(int)
    for line in own:
        if line.section == "phase":
            by_phase[line.phase or PERIOD] += line.amount_cents
    order = [p.value for p in PHASES] + [PERIOD]
    received = tuple((p, by_phase[p]) for p in order if p in by_phase or p != PERIOD)
    taken: dict[str, int] = defaultdict(int)
    for r in rows:
        if r.kind != ADJUSTMENT:
            taken[r.step] += r.amount_cents
    # A transition year's lines are blends of two plans: the new plan's top-slices are inside them, not apart.
    blended = any(r.model in TRANSITION_MODELS for r in rows)
    deductions = tuple(
        Deduction(
            step.name, step.model, get_model(step.model).title_nl, get_model(step.model).title_en, taken[step.name]
        )
        for step in plan.steps
        if get_model(step.model).kind is StepKind.TOP_SLICE and not blended
    )
    member = members.get(agb)
    name = member.name if member is not None and member.name else (provider.name if provider is not None else "")
    discipline = member.discipline.value if member is not None else (provider.discipline if provider else "")
    return Statement(
        agb=agb,
        name=name,
        discipline=discipline,
        period_id=period.period_id,
        igo_id=period.igo_id,
        igo_name=igo,
        year=period.year,
        plan_key=period.plan_key,
        plan_name=period.plan_name,
        closed_at=period.closed_at,
        igo_received_cents=period.received_cents,
        received_by_phase=received,
        fees_cents=sum(line.amount_cents for line in own if line.section == "fee"),
        bonus_cents=sum(line.amount_cents for line in own if line.section == "bonus"),
        deductions=deductions,
        adjustments=tuple(line for line in own if line.section == "adjustment"),
        lines=tuple(own),
        total_cents=sum(line.amount_cents for line in own),
    )


def _statements(db: Database, principal: Principal, period_id: str, agbs: list[str] | None) -> list[Statement]:
    require(principal, Action.READ_STATEMENTS)
    dp, bl, prov, igos = tables.distribution_periods, tables.booked_lines, tables.providers, tables.igos
    with db.unit_of_work() as connection:
        row = period_row(connection, principal, period_id, *dp.c)
        period = period_from_row(row)
        members = members_of(row.input_json)
        plan = plan_from_json(row.plan_json)
        rows = [
            booked_line(r)
            for r in connection.execute(select(bl).where(bl.c.period_id == period_id).order_by(bl.c.line_no))
        ]
        igo = str(connection.execute(select(igos.c.name).where(igos.c.igo_id == period.igo_id)).scalar() or "")
        known = sorted(set(members) | {r.recipient for r in rows if r.recipient != IGO})
        wanted = known if agbs is None else [a for a in agbs if a in known]
        providers = {
            p.agb: p for p in connection.execute(select(prov).where(prov.c.agb.in_(wanted)))
        }  # for members that left: their name as registered
    return [_build(period, plan, members, providers.get(agb), agb, rows, igo) for agb in wanted]


def statement(db: Database, principal: Principal, period_id: str, agb: str) -> Statement:
    """Member ``agb``'s statement of closed period ``period_id``.

    A member may read only its own AGB; an IGO's roles only their IGO's periods. An AGB that was no member of the
    period and has no line in it has no statement. All three look the same to the caller: not found.
    """
    require(principal, Action.READ_STATEMENTS)
    if principal.role is Role.MEMBER and principal.agb != agb:
        raise NotFoundError("statement", f"{period_id}/{agb}")
    found = _statements(db, principal, period_id, [agb])
    if not found:
        raise NotFoundError("statement", f"{period_id}/{agb}")
    return found[0]


def period_statements(db: Database, principal: Principal, period_id: str) -> list[Statement]:
    """Every member's statement of a closed period (a member: only its own), in AGB order."""
    require(principal, Action.READ_STATEMENTS)
    agbs = [principal.agb] if principal.role is Role.MEMBER and principal.agb else None
    return _statements(db, principal, period_id, agbs)


# --- PDF ------------------------------------------------------------------------------------------------------

LABELS: dict[str, dict[str, str]] = {
    "nl": {
        "title": "Verdelingsoverzicht",
        "member": "Lid",
        "igo": "IGO",
        "period": "Periode",
        "closed": "gesloten op",
        "plan": "Verdeelplan",
        "igo_received": "Door de IGO ontvangen en verdeeld",
        "summary": "Uw bedrag",
        "part": "Onderdeel",
        "amount": "Bedrag",
        "fees": "Vergoedingen (o.a. beschikbaarheid)",
        "bonus": "Kwaliteitsbonus",
        "adjustments": "Correcties over eerdere perioden",
        "total": "Totaal",
        "deductions": "Vooraf afgedragen (voor de hele IGO, vóór de verdeling)",
        "deductions_note": "Ter toelichting: deze bedragen gingen van het ontvangen geld af voordat het werd verdeeld; "
        "u betaalt ze niet apart.",
        "lines": "Regels met toelichting",
        "no": "Nr",
        "reason": "Toelichting",
        "footer": "Een gesloten periode verandert niet; een latere correctie staat als correctieregel in een "
        "volgende periode.",
        "page": "Pagina",
        "none": "Geen regels in deze periode.",
        "phase.prenatal": "Ontvangen prenatale fase",
        "phase.natal": "Ontvangen natale fase",
        "phase.postnatal": "Ontvangen postnatale fase",
        "phase.period": "Ontvangen over de hele periode",
        "section.fee": "vergoeding",
        "section.bonus": "kwaliteitsbonus",
        "section.adjustment": "correctie",
    },
    "en": {
        "title": "Distribution statement",
        "member": "Member",
        "igo": "IGO",
        "period": "Period",
        "closed": "closed on",
        "plan": "Distribution plan",
        "igo_received": "Received and divided by the IGO",
        "summary": "Your amount",
        "part": "Part",
        "amount": "Amount",
        "fees": "Fees (e.g. availability)",
        "bonus": "Quality bonus",
        "adjustments": "Corrections of earlier periods",
        "total": "Total",
        "deductions": "Taken off the top (for the whole IGO, before the division)",
        "deductions_note": "For context: these amounts were taken from the money received before it was divided; "
        "you do not pay them separately.",
        "lines": "Lines with their reasons",
        "no": "No",
        "reason": "Reason",
        "footer": "A closed period never changes; a later correction appears as an adjustment line in a later period.",
        "page": "Page",
        "none": "No lines in this period.",
        "phase.prenatal": "Received, prenatal phase",
        "phase.natal": "Received, natal phase",
        "phase.postnatal": "Received, postnatal phase",
        "phase.period": "Received for the whole period",
        "section.fee": "fee",
        "section.bonus": "quality bonus",
        "section.adjustment": "correction",
    },
}

_LATIN1 = str.maketrans(
    {"€": "EUR", "→": "->", "×": "x", "−": "-", "–": "-", "—": "-", "≤": "<=", "≥": ">=", "…": "...", "’": "'"}
)


def _discipline(value: str, lang: str) -> str:
    try:
        discipline = Discipline(value)
    except ValueError:
        return value
    return (DISCIPLINE_NL if lang == "nl" else DISCIPLINE_EN)[discipline]


class _StatementPdf(FPDF):
    footer_text = ""
    page_label = ""
    font_name = "helvetica"

    def footer(self) -> None:
        self.set_y(-15)
        self.set_font(self.font_name, "", 7)
        self.multi_cell(150, 3.5, self.footer_text, new_x=XPos.RIGHT, new_y=YPos.TOP)
        self.cell(0, 3.5, f"{self.page_label} {self.page_no()}/{{nb}}", align="R")


def statement_pdf(
    statement: Statement, lang: str = "nl", *, font_dir: Path | None = FONT_DIR, compress: bool = True
) -> bytes:
    """The statement as an A4 PDF in ``lang`` (``nl`` or ``en``).

    With DejaVu Sans in ``font_dir`` the text is Unicode (``€``); without it (or ``font_dir=None``) a core font
    is used, which holds Latin-1 only: ``€`` becomes ``EUR`` and a few symbols their ASCII form.
    ``compress=False`` leaves the page streams readable (for tests and for inspecting a file by eye).
    """
    labels = LABELS["nl" if lang == "nl" else "en"]
    lang = "nl" if lang == "nl" else "en"
    pdf = _StatementPdf(orientation="P", unit="mm", format="A4")
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
        return text.translate(_LATIN1).encode("latin-1", "replace").decode("latin-1")

    def eur(cents: int) -> str:
        return t(format_euros(cents, lang))

    pdf.footer_text = t(labels["footer"])
    pdf.page_label = labels["page"]
    pdf.set_title(t(f"{labels['title']} {statement.period_id} {statement.agb}"))
    pdf.set_author("Integraal")
    pdf.set_creator("Integraal")
    pdf.set_creation_date(statement.closed_at)  # the same statement gives the same file
    pdf.set_margins(18, 18, 18)
    pdf.set_auto_page_break(True, margin=20)
    pdf.add_page()
    family = pdf.font_name

    pdf.set_font(family, "B", 15)
    pdf.cell(0, 9, t(f"{labels['title']} {statement.year}"), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(family, "", 9.5)
    closed = statement.closed_at.strftime("%d-%m-%Y" if lang == "nl" else "%Y-%m-%d")
    for label, value in (
        (labels["member"], f"{statement.name} (AGB {statement.agb}), {_discipline(statement.discipline, lang)}"),
        (labels["igo"], f"{statement.igo_name} ({statement.igo_id})"),
        (labels["period"], f"{statement.period_id}, {labels['closed']} {closed}"),
        (labels["plan"], statement.plan_name),
        (labels["igo_received"], format_euros(statement.igo_received_cents, lang)),
    ):
        pdf.set_font(family, "B", 9.5)
        pdf.cell(74, 5.5, t(label))
        pdf.set_font(family, "", 9.5)
        pdf.cell(0, 5.5, t(value), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)

    def heading(text: str) -> None:
        pdf.set_font(family, "B", 11.5)
        pdf.cell(0, 7, t(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font(family, "", 9.5)

    heading(labels["summary"])
    summary = [(labels[f"phase.{phase}"], cents) for phase, cents in statement.received_by_phase]
    if statement.fees_cents:
        summary.append((labels["fees"], statement.fees_cents))
    if statement.bonus_cents:
        summary.append((labels["bonus"], statement.bonus_cents))
    if statement.adjustments:
        summary.append((labels["adjustments"], statement.adjustment_cents))
    with pdf.table(col_widths=(130, 44), text_align=("LEFT", "RIGHT"), line_height=5.5) as table:
        head = table.row()
        head.cell(t(labels["part"]))
        head.cell(t(labels["amount"]))
        for label, cents in summary:
            row = table.row()
            row.cell(t(label))
            row.cell(eur(cents))
    pdf.set_font(family, "B", 10.5)
    pdf.cell(130, 7, t(labels["total"]))
    pdf.cell(44, 7, eur(statement.total_cents), align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(3)

    if statement.deductions:
        heading(labels["deductions"])
        with pdf.table(col_widths=(130, 44), text_align=("LEFT", "RIGHT"), line_height=5.5) as table:
            head = table.row()
            head.cell(t(labels["part"]))
            head.cell(t(labels["amount"]))
            for deduction in statement.deductions:
                title = deduction.title_nl if lang == "nl" else deduction.title_en
                row = table.row()
                row.cell(t(f"{deduction.step}: {title}" if deduction.step != deduction.model else title))
                row.cell(eur(deduction.amount_cents))
        pdf.set_font(family, "", 8)
        pdf.multi_cell(0, 4, t(labels["deductions_note"]), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(3)

    heading(labels["lines"])
    if not statement.lines:
        pdf.cell(0, 6, t(labels["none"]), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    else:
        pdf.set_font(family, "", 8.5)
        with pdf.table(
            col_widths=(10, 38, 98, 28), text_align=("RIGHT", "LEFT", "LEFT", "RIGHT"), line_height=4.5
        ) as table:
            head = table.row()
            for label in (labels["no"], labels["part"], labels["reason"], labels["amount"]):
                head.cell(t(label))
            for line in statement.lines:
                if line.section == "phase":
                    part = labels[f"phase.{line.phase}"]
                elif line.section == "adjustment":
                    part = f"{labels['section.adjustment']} {line.adjusts_period_id}"
                else:
                    part = f"{labels[f'section.{line.section}']}: {line.step}"
                row = table.row()
                row.cell(str(line.line_no))
                row.cell(t(part))
                row.cell(t(line.text(lang)))
                row.cell(eur(line.amount_cents))
    return bytes(pdf.output())
