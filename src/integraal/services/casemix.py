"""Casemix views (*casemix*): what an IGO's care looked like in a year, per IGO × insurer, with CSV and Excel export.

:func:`casemix` returns a :class:`CasemixReport` for the pregnancies of one year (the year of the due date, as on
the dashboard) in the caller's scope, from the *current* decision of each pregnancy and phase. Every table is cut
into **cells**, one per IGO × insurer (UZOVI); within a cell a table has **groups** (a phase or a client profile;
``""`` where the table has none), and each group has one row per **category** plus a total row
(category :data:`TOTAL`). Categories are fixed per table (every prestatie, profile, discipline, reason), so a
row with zero is shown as zero inside the IGO and withheld like any small number outside it.

Tables (:data:`TABLES`, in this order):

``prestaties``
    Pregnancies per integral prestatie (*integrale prestatie*), grouped by phase: the pregnancies whose current
    decision made an integral claim line with that code, and the amount of those lines (cents). The group total
    is the number of integral claims of the phase.
``profiles``
    Pregnancies per client profile (*cliëntprofiel*, as :func:`integraal.distribution.derive_client_profile`
    derives it, here in SQL). The total is every pregnancy of the cell.
``referrals``
    Referral pattern (*verwijspatroon*): pregnancies per referral stage (*verwijsmoment*: none, at intake,
    during pregnancy, during labour), grouped by client profile. For births the profile follows from the stage,
    so those groups have one row; the ended-early group shows when women with a miscarriage or termination
    had been referred.
``activities``
    Care intensity in activities (*zorgintensiteit*) per discipline of the provider that registered them:
    pregnancies with at least one such activity, the activities, and activities per pregnancy (over *every*
    pregnancy of the cell, so the disciplines add up to the total). Counted are the activities linked to the
    pregnancy (``activities.pregnancy_id``), whatever became of them in the decision; activities registered with
    a BSN only are not.
``euros``
    Care intensity in euros: the claim lines of the current decisions and their amount per claimant: the IGO's
    integral claims (category ``integral``) and each discipline's own (monodisciplinary) claims, with euros per
    pregnancy of the cell.
``breaker_rate``
    Fallback (*terugval*) per phase: ``decided`` = phases with a final decision (integral or fallback; phases
    still running or not reached are left out), ``fallback`` = those where the bundle broke or could not be
    claimed integrally, and the percentage.
``breaker_causes``
    The causes of those fallbacks (*bundelbrekers* and other reasons, :mod:`integraal.rules.reasons`), grouped by
    phase, with the Dutch and English short labels of the rules: the fallback decisions that carry each reason.
    A decision with two causes counts under both, so the group total counts mentions.

Amounts are integer cents; averages and percentages are :class:`~decimal.Decimal`, rounded half up to cents
(euros), hundredths (activities) or tenths (percentages). A value that cannot be computed (a rate of zero
phases) is ``None`` on a row that is not withheld.

Who sees what (``Action.READ_AGGREGATES``; a member provider may not, and gets ``AccessDeniedError``):

- ``igo_admin`` / ``igo_board``: their own IGO, every insurer, **nothing withheld** — each row carries
  ``hidden_outside``: whether and why it would be withheld in a view outside the IGO;
- ``insurer``: the pregnancies of its own insured (a UZOVI filter in SQL) in every IGO, with only the claim lines
  addressed to it, **small numbers withheld**;
- ``analyst``: every IGO and insurer as aggregates, **small numbers withheld**; a report never holds a pregnancy
  id, a BSN or a name, for any role;
- ``superuser``: everything, nothing withheld (with ``hidden_outside`` like the IGO's view).

Suppression (DOMAIN.md §6) uses the core of :mod:`integraal.insight.suppression`: each group is one table with a
shown total. A row is withheld when any of its counts is below ``minimum`` (zero included: then a withheld row may
be zero, so "total minus the others" never pins a row down to zero); when that leaves one withheld row (or only
zeros), complementary suppression withholds the next smallest row too, so no withheld count can be recovered by
subtraction. A withheld row loses every value — counts, amounts, averages — and its reason (primary or
complementary) is not shown outside the IGO, since knowing which withheld rows are large would narrow the others.
A row with several counts (a rate: the numerator, the denominator and the rest) is passed to the core as its
smallest count, which makes the core's rules hold for each of its counts at once. Links between tables are
coordinated: a cell with fewer than ``minimum`` pregnancies is withheld entirely (an average next to its count
would give the denominator away); a referral group whose profile is withheld, and a causes group whose phase's
fallback rate is withheld, are withheld entirely; and the ``integral`` euros row is withheld when a prestatie
group total of the cell is (it is their sum). A cell's pattern depends on its own numbers and the minimum only,
so every report shows a cell the same way whatever its filters (no differencing between an IGO filter and
none). Not protected (the caveat of the suppression core about linked tables): sums *over cells* published
elsewhere — per-IGO totals on the dashboard or in the decision summary — from which one withheld cell or row of
an IGO could be recovered by subtraction; nor comparing years or minimums.

Exports: :func:`casemix_csv` writes one CSV for all tables (comma-separated, ``.`` as decimal point, UTF-8
without BOM, RFC 4180 quoting: a machine format — people open the Excel file, which needs no locale guessing)
with a ``table`` column and the union of all measures as columns; :func:`casemix_xlsx` writes one sheet per
table. Withheld values are written as :data:`MARKER` (``x``: the CBS symbol for *geheim*, confidential) — never
as the number, and not as "<10", which would be false for a complementary cell.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import cast

import polars as pl
import xlsxwriter  # type: ignore[import-untyped]
from sqlalchemy import (
    ColumnElement,
    Connection,
    Subquery,
    and_,
    case,
    distinct,
    func,
    literal,
    null,
    or_,
    select,
    true,
    union_all,
)

from integraal.data.loader import load_catalogue
from integraal.distribution.inputs import PROFILE_NAMES, ClientProfile
from integraal.domain.phase import PHASES
from integraal.domain.pregnancy import NO_BIRTH_ENDINGS
from integraal.domain.provider import Discipline
from integraal.insight.suppression import DEFAULT_MINIMUM, TOTAL, Suppressed, suppression_pattern
from integraal.rules.reasons import REASONS, SHORT, ReasonCode
from integraal.services.access import Action, NotFoundError, Principal, Role, pregnancy_scope, require
from integraal.services.latest import claim_lines_of, decision_of, latest_decisions
from integraal.store import activity_blocks, tables
from integraal.store.bulk import read_frame
from integraal.store.database import Database

__all__ = [
    "DEFAULT_MINIMUM",
    "MARKER",
    "TABLES",
    "TOTAL",
    "CasemixReport",
    "CasemixRow",
    "CasemixTable",
    "Suppressed",
    "casemix",
    "casemix_csv",
    "casemix_xlsx",
]

MARKER = "x"
"""What a withheld value is written as in the exports."""

Value = int | Decimal | None

TABLES = (
    "prestaties",
    "profiles",
    "referrals",
    "activities",
    "euros",
    "breaker_rate",
    "breaker_causes",
)


@dataclass(frozen=True, slots=True)
class CasemixRow:
    """One category of one group of one IGO × insurer cell (or the group's total: ``category == TOTAL``)."""

    igo_id: str
    uzovi: str
    group: str  # the phase or profile the row belongs to; "" when the table has no groups
    category: str
    label_nl: str
    label_en: str
    values: tuple[Value, ...]  # in the order of the table's ``measures``; all None when withheld
    withheld: bool  # small numbers: withheld in this (outside) view
    hidden_outside: Suppressed | None  # views inside the IGO only: would be withheld outside, and why


@dataclass(frozen=True, slots=True)
class CasemixTable:
    name: str  # one of TABLES
    title_nl: str
    title_en: str
    group_name: str  # what ``CasemixRow.group`` is ("phase", "profile"), "" when the table has no groups
    category_name: str  # what ``CasemixRow.category`` is
    measures: tuple[str, ...]
    rows: tuple[CasemixRow, ...]

    def value(self, row: CasemixRow, measure: str) -> Value:
        return row.values[self.measures.index(measure)]


@dataclass(frozen=True, slots=True)
class CasemixReport:
    year: int
    igo_id: str | None  # the IGO filter asked for (None: every IGO in scope)
    uzovi: str | None  # the insurer filter asked for (None: every insurer in scope)
    minimum: int  # counts below this are withheld outside the IGO
    suppressed: bool  # small numbers are withheld in this report (insurer, analyst)
    tables: tuple[CasemixTable, ...] = ()

    def table(self, name: str) -> CasemixTable:
        for t in self.tables:
            if t.name == name:
                return t
        raise KeyError(name)


# --- labels --------------------------------------------------------------------------------------------------

_TOTAL_LABEL = ("totaal", "total")
_PHASE_LABELS = {
    "prenatal": ("prenataal (zwangerschap)", "prenatal (pregnancy)"),
    "natal": ("nataal (bevalling)", "natal (birth)"),
    "postnatal": ("postnataal (kraamperiode)", "postnatal (maternity period)"),
}
_STAGE_LABELS = {
    "none": ("niet verwezen", "not referred"),
    "intake": ("bij de intake (medische indicatie)", "at intake (medical indication)"),
    "pregnancy": ("tijdens de zwangerschap", "during pregnancy"),
    "labour": ("tijdens de bevalling", "during labour"),
}
_DISCIPLINE_LABELS = {
    "integral": ("integrale prestaties (IGO)", "integral prestaties (IGO)"),
    Discipline.MIDWIFE.value: ("verloskundigenpraktijk", "midwife practice"),
    Discipline.HOSPITAL.value: ("ziekenhuis (klinische verloskunde)", "hospital obstetrics"),
    Discipline.GYNAECOLOGIST.value: ("gynaecoloog", "gynaecologist"),
    Discipline.KRAAMZORG.value: ("kraamzorg", "maternity care (kraamzorg)"),
    Discipline.ULTRASOUND.value: ("echocentrum", "ultrasound centre"),
    Discipline.LAB.value: ("laboratorium", "laboratory"),
    Discipline.GP.value: ("huisarts", "general practitioner"),
    Discipline.PAEDIATRICS.value: ("kindergeneeskunde", "paediatrics"),
    "unknown": ("onbekende zorgaanbieder", "unknown provider"),
}
_PROFILE_LABELS = {profile.value: names for profile, names in PROFILE_NAMES.items()}

_FALLBACK_REASONS = tuple(code.value for code in ReasonCode if REASONS[code].outcome_effect == "fallback")
"""The reasons that make a phase fall back: the causes counted in ``breaker_causes``."""
_REASON_LABELS = {code.value: SHORT[code] for code in ReasonCode}

_REFERRAL_STAGES: dict[str, tuple[str, ...]] = {
    ClientProfile.LOW_RISK_PRIMARY.value: ("none",),
    ClientProfile.REFERRED_PREGNANCY.value: ("pregnancy",),
    ClientProfile.REFERRED_LABOUR.value: ("labour",),
    ClientProfile.MEDICAL_INDICATION.value: ("intake",),
    ClientProfile.ENDED_EARLY.value: ("none", "intake", "pregnancy", "labour"),
}
"""The stages each profile can have (the profile of a birth follows from its stage): the referral rows."""

_TITLES = {
    "prestaties": ("Zwangerschappen per integrale prestatie", "Pregnancies per integral prestatie"),
    "profiles": ("Zwangerschappen per cliëntprofiel", "Pregnancies per client profile"),
    "referrals": ("Verwijspatroon per cliëntprofiel", "Referral pattern per client profile"),
    "activities": ("Zorgintensiteit: activiteiten per discipline", "Care intensity: activities per discipline"),
    "euros": ("Zorgintensiteit: euro's per declarant", "Care intensity: euros per claimant"),
    "breaker_rate": ("Terugval per fase", "Fallback per phase"),
    "breaker_causes": ("Oorzaken van terugval (bundelbrekers)", "Causes of fallback (bundle breakers)"),
}
_SHAPES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    # table: (group name, category name, measures)
    "prestaties": ("phase", "prestatie", ("pregnancies", "amount_cents")),
    "profiles": ("", "profile", ("pregnancies",)),
    "referrals": ("profile", "referral_stage", ("pregnancies",)),
    "activities": ("", "discipline", ("pregnancies", "activities", "activities_per_pregnancy")),
    "euros": ("", "claimant", ("claim_lines", "amount_cents", "euros_per_pregnancy")),
    "breaker_rate": ("", "phase", ("decided", "fallback", "fallback_pct")),
    "breaker_causes": ("phase", "reason", ("phases",)),
}

# --- building blocks: a group of lines before suppression ----------------------------------------------------

Cell = tuple[str, str]  # (igo_id, uzovi)


@dataclass(slots=True)
class _Line:
    category: str
    label: tuple[str, str]
    counts: tuple[int, ...]  # the counts that decide suppression: each must reach the minimum
    values: tuple[Value, ...]


@dataclass(slots=True)
class _Group:
    cell: Cell
    group: str
    lines: list[_Line]
    total: _Line


def _quantize(numerator: int, denominator: int, places: str, scale: int = 1) -> Decimal | None:
    if denominator == 0:
        return None
    return (Decimal(numerator) * scale / Decimal(denominator)).quantize(Decimal(places), rounding=ROUND_HALF_UP)


def _per_pregnancy(count: int, pregnancies: int) -> Decimal | None:
    return _quantize(count, pregnancies, "0.01")


def _euros_per_pregnancy(cents: int, pregnancies: int) -> Decimal | None:
    return _quantize(cents, pregnancies * 100, "0.01")


def _percent(part: int, whole: int) -> Decimal | None:
    return _quantize(part, whole, "0.1", 100)


def _categories(fixed: Iterable[str], seen: Iterable[str]) -> list[str]:
    """The fixed categories in their order, then any other seen in the data (sorted)."""
    ordered = list(dict.fromkeys(fixed))
    return ordered + sorted(set(seen) - set(ordered))


# --- suppression ----------------------------------------------------------------------------------------------

Hidden = dict[tuple[Cell, str, str], Suppressed]
"""(cell, group, category) → why withheld; the category TOTAL stands for the group's total row."""


def _suppress(
    group: _Group,
    minimum: int,
    hidden: Hidden,
    small_cell: bool = False,
    linked: bool = False,
    linked_categories: frozenset[str] = frozenset(),
) -> None:
    """Record which rows of ``group`` (and whether its total) are withheld outside the IGO, by the insight core.

    ``small_cell``: the cell has fewer pregnancies than the minimum (every row goes, as primary). ``linked``: the
    whole group goes because a row it adds up to is withheld in another table; ``linked_categories``: those rows
    go because a total they are the sum of is withheld. A row that goes for a link and is not small itself is
    marked complementary.
    """

    def why(line: _Line) -> Suppressed:
        return Suppressed.PRIMARY if small_cell or min(line.counts) < minimum else Suppressed.COMPLEMENTARY

    if small_cell or linked:
        for line in [*group.lines, group.total]:
            hidden[(group.cell, group.group, line.category)] = why(line)
        return
    # A row of several counts goes in as its smallest: x = n − x = that count, so the core withholds the row when
    # any count is small, and its complementary rule (one withheld row, or all-zero withheld rows) then holds for
    # every count of the row at once. A row withheld for a link goes in as zero.
    smallest = [(line.category, 0 if line.category in linked_categories else min(line.counts)) for line in group.lines]
    pattern = suppression_pattern([(unit, count, 2 * count) for unit, count in smallest], minimum)
    for unit, reason in pattern.hidden:
        hidden[(group.cell, group.group, unit)] = reason
    for line in group.lines:
        if line.category in linked_categories:
            hidden[(group.cell, group.group, line.category)] = why(line)
    if pattern.total_hidden or min(group.total.counts) < minimum:
        hidden[(group.cell, group.group, TOTAL)] = Suppressed.PRIMARY


def _rows(groups: Sequence[_Group], hidden: Hidden, withhold: bool) -> tuple[CasemixRow, ...]:
    rows = []
    for g in groups:
        for line in [*g.lines, g.total]:
            reason = hidden.get((g.cell, g.group, line.category))
            gone = withhold and reason is not None
            rows.append(
                CasemixRow(
                    igo_id=g.cell[0],
                    uzovi=g.cell[1],
                    group=g.group,
                    category=line.category,
                    label_nl=line.label[0],
                    label_en=line.label[1],
                    values=tuple(None for _ in line.values) if gone else line.values,
                    withheld=gone,
                    hidden_outside=None if withhold else reason,
                )
            )
    return tuple(rows)


# --- reading: set-based, a handful of grouped queries ----------------------------------------------------------


def _profile_and_stage() -> tuple[ColumnElement[str], ColumnElement[str]]:
    """The client profile and referral stage of a pregnancy, in SQL: ``derive_client_profile`` row by row."""
    p = tables.pregnancies
    natal_start = func.coalesce(p.c.labour_date, case((p.c.end_reason == "birth", p.c.end_date)))
    stage = case(
        (p.c.referral_stage.is_not(None), p.c.referral_stage),
        (p.c.referral_date.is_(None), literal("none")),
        (p.c.referral_date <= p.c.intake_date, literal("intake")),
        (or_(natal_start.is_(None), p.c.referral_date < natal_start), literal("pregnancy")),
        else_=literal("labour"),
    )
    profile = case(
        (p.c.end_reason.in_(sorted(e.value for e in NO_BIRTH_ENDINGS)), literal(ClientProfile.ENDED_EARLY.value)),
        (stage == "intake", literal(ClientProfile.MEDICAL_INDICATION.value)),
        (stage == "pregnancy", literal(ClientProfile.REFERRED_PREGNANCY.value)),
        (stage == "labour", literal(ClientProfile.REFERRED_LABOUR.value)),
        else_=literal(ClientProfile.LOW_RISK_PRIMARY.value),
    )
    return profile.label("profile"), stage.label("stage")


@dataclass(slots=True)
class _Data:
    people: list[tuple[str, str, str, str, int]]  # igo, uzovi, profile, stage, pregnancies
    decisions: list[tuple[str, str, str, str, str, int]]  # igo, uzovi, phase, outcome, reasons, phases
    claims: list[tuple[str, str, str, str, str, str | None, int, int, int]]
    # igo, uzovi, phase, kind, prestatie, claimant discipline, lines, pregnancies, cents
    activities: dict[tuple[Cell, str], tuple[int, int]]  # (cell, discipline) → pregnancies, activities


def _read(db: Database, principal: Principal, where: ColumnElement[bool]) -> _Data:
    p, d, c, prov = (tables.pregnancies, tables.phase_decisions, tables.claim_lines, tables.providers)
    profile, stage = _profile_and_stage()
    latest = latest_decisions(where)
    # An insurer sees only the claim lines addressed to it (as on the dashboard and the pregnancy page).
    own_lines = c.c.uzovi == principal.uzovi if principal.role is Role.INSURER else true()
    with db.unit_of_work() as connection:
        # Grouped over a subquery, so no dialect has to match the CASE expressions of GROUP BY and SELECT.
        each = select(p.c.igo_id, p.c.uzovi, profile, stage).where(where).subquery("each")
        people = connection.execute(
            select(each.c.igo_id, each.c.uzovi, each.c.profile, each.c.stage, func.count()).group_by(
                each.c.igo_id, each.c.uzovi, each.c.profile, each.c.stage
            )
        ).all()
        # The current decisions and their claim lines in one statement over one common table: computing the
        # current decision once instead of twice saves a third of the time on a national year.
        # (The join conditions of ``services.latest`` read only its columns, which a CTE has as a subquery does.)
        current = cast(Subquery, latest.element.cte("current"))
        decided = (
            select(
                literal("decision").label("source"),
                p.c.igo_id,
                p.c.uzovi,
                d.c.phase,
                d.c.outcome.label("a"),
                d.c.reasons.label("b"),
                null().label("c"),
                func.count().label("n1"),
                null().label("n2"),
                null().label("n3"),
            )
            .select_from(current)
            .join(d, decision_of(current))
            .join(p, p.c.pregnancy_id == current.c.pregnancy_id)
            .group_by(p.c.igo_id, p.c.uzovi, d.c.phase, d.c.outcome, d.c.reasons)
        )
        claimed = (
            select(
                literal("claim"),
                p.c.igo_id,
                p.c.uzovi,
                c.c.phase,
                c.c.kind,
                c.c.prestatie_code,
                prov.c.discipline,
                func.count(),
                func.count(distinct(c.c.pregnancy_id)),
                func.sum(c.c.amount_cents),
            )
            .select_from(current)
            .join(c, claim_lines_of(current))
            .join(p, p.c.pregnancy_id == current.c.pregnancy_id)
            .outerjoin(prov, prov.c.agb == c.c.claimant_agb)
            .where(own_lines)
            .group_by(p.c.igo_id, p.c.uzovi, c.c.phase, c.c.kind, c.c.prestatie_code, prov.c.discipline)
        )
        decisions, claims = [], []
        for source, igo, uzovi, phase, a_, b_, c_, n1, n2, n3 in connection.execute(union_all(decided, claimed)):
            if source == "decision":
                decisions.append((igo, uzovi, phase, a_, b_, int(n1)))
            else:
                claims.append((igo, uzovi, phase, a_, b_, c_, int(n1), int(n2), int(n3 or 0)))
        # Activities: one row per pregnancy with the AGBs of its activities (from the columnar blocks, joined to
        # the pregnancies in scope), then counted per discipline.
        in_scope = read_frame(
            connection,
            select(p.c.pregnancy_id, p.c.igo_id, p.c.uzovi).where(where),
            {"pregnancy_id": pl.String(), "igo_id": pl.String(), "uzovi": pl.String()},
        )
        per_pregnancy = (
            activity_blocks.read_all(connection, ["pregnancy_id", "agb"])
            .join(in_scope, on="pregnancy_id")
            .group_by("pregnancy_id")
            .agg(pl.col("igo_id").first(), pl.col("uzovi").first(), pl.col("agb").str.join(" ").alias("agbs"))
            .drop("pregnancy_id")
        )
        disciplines = read_frame(
            connection, select(prov.c.agb, prov.c.discipline), {"agb": pl.String(), "discipline": pl.String()}
        )
    return _Data(
        people=[(i, u, pr, st, int(n)) for i, u, pr, st, n in people],
        decisions=decisions,
        claims=claims,
        activities=_per_discipline(per_pregnancy, disciplines),
    )


def _per_discipline(per_pregnancy: pl.DataFrame, disciplines: pl.DataFrame) -> dict[tuple[Cell, str], tuple[int, int]]:
    """(cell, discipline) → (pregnancies with such activities, activities), from one row per pregnancy with the
    space-separated AGBs of its activities.

    Each AGB is replaced by a one-letter code of its discipline in one pass (Aho–Corasick; AGBs are eight digits,
    validated on import, so a match is always a whole AGB), then the codes are counted per pregnancy. Splitting
    every pregnancy into its activities and joining them to the providers does the same in twice the time.
    AGBs that are no provider are counted as ``unknown``.
    """
    names = sorted(set(disciplines["discipline"].to_list()))
    if len(names) > 26:  # pragma: no cover - eight disciplines exist
        raise ValueError("more disciplines than one-letter codes")
    letter = {name: chr(ord("a") + i) for i, name in enumerate(names)}
    coded = per_pregnancy.select(
        "igo_id",
        "uzovi",
        (pl.col("agbs").str.count_matches(" ") + 1).alias("all"),
        pl.col("agbs")
        .str.replace_many(disciplines["agb"].to_list(), [letter[name] for name in disciplines["discipline"].to_list()])
        .alias("coded"),
    )
    counted = coded.select(
        "igo_id",
        "uzovi",
        "all",
        *(pl.col("coded").str.count_matches(rf"\b{code}\b").alias(f"n:{name}") for name, code in letter.items()),
    )
    known = pl.sum_horizontal(f"n:{name}" for name in names) if names else pl.lit(0)
    counted = counted.with_columns((pl.col("all") - known).alias("n:unknown"))
    every = [*names, "unknown"]
    sums = counted.group_by("igo_id", "uzovi").agg(
        *(pl.col(f"n:{name}").sum().alias(f"a:{name}") for name in every),
        *((pl.col(f"n:{name}") > 0).sum().alias(f"p:{name}") for name in every),
    )
    return {
        ((row["igo_id"], row["uzovi"]), name): (int(row[f"p:{name}"]), int(row[f"a:{name}"]))
        for row in sums.iter_rows(named=True)
        for name in every
        if row[f"a:{name}"]
    }


# --- the tables ------------------------------------------------------------------------------------------------


def _count_groups(
    cells: Sequence[Cell],
    counts: Mapping[tuple[Cell, str, str], int],
    groups: Mapping[str, Sequence[str]],
    labels: Mapping[str, tuple[str, str]],
) -> list[_Group]:
    """Groups of plain counts (one measure) with their sum as the total."""
    out = []
    for cell in cells:
        for group, categories in groups.items():
            lines = []
            for category in categories:
                n = counts.get((cell, group, category), 0)
                lines.append(_Line(category, labels.get(category, (category, category)), (n,), (n,)))
            total = sum(line.counts[0] for line in lines)
            out.append(_Group(cell, group, lines, _Line(TOTAL, _TOTAL_LABEL, (total,), (total,))))
    return out


def _prestatie_groups(cells: Sequence[Cell], data: _Data, year: int) -> list[_Group]:
    catalogue = load_catalogue()
    fixed: dict[str, list[str]] = {phase.value: [] for phase in PHASES}
    labels: dict[str, tuple[str, str]] = {}
    for y in (year - 1, year):  # a pregnancy due early in the year began under last year's rule set
        rules = catalogue.for_year(y)
        for prestatie in rules.integral_prestaties if rules else ():
            fixed[prestatie.phase.value].append(prestatie.code)
            labels.setdefault(prestatie.code, (prestatie.description_nl, prestatie.description_en))
    counts: dict[tuple[Cell, str, str], tuple[int, int]] = {}
    seen: dict[str, set[str]] = defaultdict(set)
    for igo, uzovi, phase, kind, code, _, _, pregnancies, cents in data.claims:
        if kind == "integral":
            before = counts.get(((igo, uzovi), phase, code), (0, 0))
            counts[((igo, uzovi), phase, code)] = (before[0] + pregnancies, before[1] + cents)
            seen[phase].add(code)
    phases = _categories(fixed, seen)
    out = []
    for cell in cells:
        for phase in phases:
            lines = []
            for code in _categories(fixed.get(phase, ()), seen[phase]):
                n, cents = counts.get((cell, phase, code), (0, 0))
                lines.append(_Line(code, labels.get(code, (code, code)), (n,), (n, cents)))
            n_total = sum(int(line.counts[0]) for line in lines)
            cents_total = sum(int(line.values[1] or 0) for line in lines)
            out.append(_Group(cell, phase, lines, _Line(TOTAL, _TOTAL_LABEL, (n_total,), (n_total, cents_total))))
    return out


def _activity_groups(cells: Sequence[Cell], data: _Data, size: Mapping[Cell, int]) -> list[_Group]:
    found = data.activities
    disciplines = _categories((d.value for d in Discipline), (discipline for _, discipline in found))
    out = []
    for cell in cells:
        everyone = size[cell]
        lines = []
        for discipline in disciplines:
            n, acts = found.get((cell, discipline), (0, 0))
            lines.append(
                _Line(
                    discipline,
                    _DISCIPLINE_LABELS.get(discipline, (discipline, discipline)),
                    (n, everyone - n, acts),
                    (n, acts, _per_pregnancy(acts, everyone)),
                )
            )
        acts_total = sum(int(line.values[1] or 0) for line in lines)
        total = _Line(
            TOTAL, _TOTAL_LABEL, (everyone, acts_total), (everyone, acts_total, _per_pregnancy(acts_total, everyone))
        )
        out.append(_Group(cell, "", lines, total))
    return out


def _euro_groups(cells: Sequence[Cell], data: _Data, size: Mapping[Cell, int]) -> list[_Group]:
    found: dict[tuple[Cell, str], tuple[int, int]] = {}
    for igo, uzovi, _, kind, _, discipline, lines, _, cents in data.claims:
        claimant = "integral" if kind == "integral" else (discipline or "unknown")
        before = found.get(((igo, uzovi), claimant), (0, 0))
        found[((igo, uzovi), claimant)] = (before[0] + lines, before[1] + cents)
    claimants = _categories(["integral", *(d.value for d in Discipline)], (claimant for _, claimant in found))
    out = []
    for cell in cells:
        everyone = size[cell]
        rows = []
        for claimant in claimants:
            n, cents = found.get((cell, claimant), (0, 0))
            rows.append(
                _Line(
                    claimant,
                    _DISCIPLINE_LABELS.get(claimant, (claimant, claimant)),
                    (n,),
                    (n, cents, _euros_per_pregnancy(cents, everyone)),
                )
            )
        n_total = sum(int(line.counts[0]) for line in rows)
        cents_total = sum(int(line.values[1] or 0) for line in rows)
        total = _Line(
            TOTAL, _TOTAL_LABEL, (n_total,), (n_total, cents_total, _euros_per_pregnancy(cents_total, everyone))
        )
        out.append(_Group(cell, "", rows, total))
    return out


def _rate_and_cause_groups(cells: Sequence[Cell], data: _Data) -> tuple[list[_Group], list[_Group]]:
    decided: dict[tuple[Cell, str], list[int]] = defaultdict(lambda: [0, 0])  # [integral or fallback, fallback]
    causes: dict[tuple[Cell, str, str], int] = defaultdict(int)
    seen_phases: set[str] = set()
    for igo, uzovi, phase, outcome, reasons, n in data.decisions:
        seen_phases.add(phase)
        if outcome not in ("integral", "fallback"):
            continue
        decided[((igo, uzovi), phase)][0] += n
        if outcome == "fallback":
            decided[((igo, uzovi), phase)][1] += n
            for code in set(reasons.split()) & set(_FALLBACK_REASONS):
                causes[((igo, uzovi), phase, code)] += n
    phases = _categories((p.value for p in PHASES), seen_phases)
    rates = []
    for cell in cells:
        lines = []
        for phase in phases:
            n, x = decided.get((cell, phase), [0, 0])
            lines.append(_Line(phase, _PHASE_LABELS.get(phase, (phase, phase)), (n, x, n - x), (n, x, _percent(x, n))))
        n = sum(int(line.values[0] or 0) for line in lines)
        x = sum(int(line.values[1] or 0) for line in lines)
        rates.append(_Group(cell, "", lines, _Line(TOTAL, _TOTAL_LABEL, (n, x, n - x), (n, x, _percent(x, n)))))
    cause_groups = _count_groups(cells, causes, dict.fromkeys(phases, _FALLBACK_REASONS), _REASON_LABELS)
    return rates, cause_groups


# --- the use case ---------------------------------------------------------------------------------------------


def _exists(connection: Connection, column: ColumnElement[str], value: str) -> bool:
    return connection.execute(select(column).where(column == value)).first() is not None


def casemix(
    db: Database,
    principal: Principal,
    year: int,
    igo_id: str | None = None,
    uzovi: str | None = None,
    minimum: int = DEFAULT_MINIMUM,
) -> CasemixReport:
    """The casemix of ``year`` in the principal's scope, optionally narrowed to one IGO and/or one insurer.

    ``minimum`` comes from configuration, never from the request of an outside reader. Raises
    ``AccessDeniedError`` for a role that may not read aggregates (a member provider), ``NotFoundError`` for an
    IGO or insurer that does not exist or that is another tenant's, and ``ValueError`` for a minimum below 1.
    """
    require(principal, Action.READ_AGGREGATES)
    if minimum < 1:
        raise ValueError(f"the minimum must be at least 1, got {minimum}")
    if igo_id is not None and principal.role in (Role.IGO_ADMIN, Role.IGO_BOARD) and igo_id != principal.igo_id:
        raise NotFoundError("igo", igo_id)
    if uzovi is not None and principal.role is Role.INSURER and uzovi != principal.uzovi:
        raise NotFoundError("insurer", uzovi)
    with db.unit_of_work() as connection:
        if igo_id is not None and not _exists(connection, tables.igos.c.igo_id, igo_id):
            raise NotFoundError("igo", igo_id)
        if uzovi is not None and not _exists(connection, tables.insurers.c.uzovi, uzovi):
            raise NotFoundError("insurer", uzovi)

    p = tables.pregnancies
    # Analysts aggregate over every tenant; everyone else over the pregnancies they may read.
    scope = true() if principal.role is Role.ANALYST else pregnancy_scope(principal)
    filters = [scope, p.c.due_date >= date(year, 1, 1), p.c.due_date < date(year + 1, 1, 1)]
    if igo_id is not None:
        filters.append(p.c.igo_id == igo_id)
    if uzovi is not None:
        filters.append(p.c.uzovi == uzovi)
    data = _read(db, principal, and_(*filters))

    size: dict[Cell, int] = defaultdict(int)
    people: dict[tuple[Cell, str, str], int] = defaultdict(int)
    referred: dict[tuple[Cell, str, str], int] = defaultdict(int)
    for igo, insurer, profile, stage, n in data.people:
        size[(igo, insurer)] += n
        people[((igo, insurer), "", profile)] += n
        referred[((igo, insurer), profile, stage)] += n
    cells = sorted(size)
    profiles = _categories((pr.value for pr in ClientProfile), (key[2] for key in people))
    stages = {
        profile: _categories(_REFERRAL_STAGES.get(profile, ()), (s for (_, pr, s) in referred if pr == profile))
        for profile in profiles
    }

    groups = {
        "profiles": _count_groups(cells, people, {"": profiles}, _PROFILE_LABELS),
        "referrals": _count_groups(cells, referred, stages, _STAGE_LABELS),
        "prestaties": _prestatie_groups(cells, data, year),
        "activities": _activity_groups(cells, data, size),
        "euros": _euro_groups(cells, data, size),
    }
    groups["breaker_rate"], groups["breaker_causes"] = _rate_and_cause_groups(cells, data)

    # One pattern for the whole report, table by table in the order the links need (see the module docstring).
    small = {cell for cell in cells if size[cell] < minimum}
    hidden: dict[str, Hidden] = {name: {} for name in TABLES}
    for name in ("profiles", "breaker_rate", "prestaties", "activities"):
        for g in groups[name]:
            _suppress(g, minimum, hidden[name], g.cell in small)
    for name, parent in (("referrals", "profiles"), ("breaker_causes", "breaker_rate")):
        # A referral group adds up to its profile's count, a causes group (nearly) to its phase's fallbacks.
        for g in groups[name]:
            _suppress(g, minimum, hidden[name], g.cell in small, (g.cell, "", g.group) in hidden[parent])
    # The integral euros row is the sum of the prestaties: withheld when a prestatie total of the cell is.
    sums_hidden = {cell for cell, _, category in hidden["prestaties"] if category == TOTAL}
    for g in groups["euros"]:
        integral = frozenset({"integral"}) if g.cell in sums_hidden else frozenset()
        _suppress(g, minimum, hidden["euros"], g.cell in small, linked_categories=integral)

    withhold = principal.role in (Role.INSURER, Role.ANALYST)
    built = []
    for name in TABLES:
        group_name, category_name, measures = _SHAPES[name]
        title_nl, title_en = _TITLES[name]
        rows = _rows(groups[name], hidden[name], withhold)
        built.append(CasemixTable(name, title_nl, title_en, group_name, category_name, measures, rows))
    return CasemixReport(year, igo_id, uzovi, minimum, withhold, tuple(built))


# --- exports --------------------------------------------------------------------------------------------------

_KEY_COLUMNS = ("year", "igo_id", "uzovi", "group", "category", "label_nl", "label_en")


def _measures(report: CasemixReport) -> list[str]:
    return list(dict.fromkeys(m for t in report.tables for m in t.measures))


def _text(value: Value, withheld: bool) -> str:
    if withheld:
        return MARKER
    if value is None:
        return ""
    return format(value, "f") if isinstance(value, Decimal) else str(value)


def casemix_csv(report: CasemixReport) -> bytes:
    """Every table in one CSV (UTF-8, comma-separated, decimal point): a ``table`` column, the keys, the union of
    the measures (empty where a table has no such measure) and ``hidden_outside`` (empty outside the IGO)."""
    measures = _measures(report)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["table", *_KEY_COLUMNS, *measures, "hidden_outside"])
    for t in report.tables:
        for row in t.rows:
            own = dict(zip(t.measures, row.values, strict=True))
            writer.writerow(
                [
                    t.name,
                    report.year,
                    row.igo_id,
                    row.uzovi,
                    row.group,
                    row.category,
                    row.label_nl,
                    row.label_en,
                    *(_text(own[m], row.withheld) if m in own else "" for m in measures),
                    row.hidden_outside.value if row.hidden_outside else "",
                ]
            )
    return out.getvalue().encode("utf-8")


def _decimal_scale(values: Iterable[Value]) -> int:
    """The number of decimals a column of Decimals needs."""
    exponents = [v.as_tuple().exponent for v in values if isinstance(v, Decimal)]
    return max([0, *(-e for e in exponents if isinstance(e, int))])


def casemix_xlsx(report: CasemixReport) -> bytes:
    """One sheet per table (named as the table), numbers as numbers; a withheld value is the text :data:`MARKER`."""
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
    for t in report.tables:
        keys = [k for k in _KEY_COLUMNS if k != "group" or t.group_name]
        columns: dict[str, pl.Series] = {
            "year": pl.Series("year", [report.year] * len(t.rows), dtype=pl.Int64()),
            "igo_id": pl.Series("igo_id", [r.igo_id for r in t.rows], dtype=pl.String()),
            "uzovi": pl.Series("uzovi", [r.uzovi for r in t.rows], dtype=pl.String()),
            "group": pl.Series("group", [r.group for r in t.rows], dtype=pl.String()),
            "category": pl.Series("category", [r.category for r in t.rows], dtype=pl.String()),
            "label_nl": pl.Series("label_nl", [r.label_nl for r in t.rows], dtype=pl.String()),
            "label_en": pl.Series("label_en", [r.label_en for r in t.rows], dtype=pl.String()),
        }
        frame_columns = [columns[k] for k in keys]
        for i, measure in enumerate(t.measures):
            values = [r.values[i] for r in t.rows]
            if any(isinstance(v, Decimal) for v in values):
                dtype: pl.DataType = pl.Decimal(38, _decimal_scale(values))
            else:
                dtype = pl.Int64()
            frame_columns.append(pl.Series(measure, values, dtype=dtype))
        hidden = [r.hidden_outside.value if r.hidden_outside else None for r in t.rows]
        frame_columns.append(pl.Series("hidden_outside", hidden, dtype=pl.String()))
        frame = pl.DataFrame(frame_columns)
        frame.write_excel(workbook=workbook, worksheet=t.name, autofit=True, freeze_panes=(1, 0))
        sheet = workbook.get_worksheet_by_name(t.name)
        if sheet is None:  # pragma: no cover - write_excel made it
            raise RuntimeError(f"no sheet {t.name}")
        first = len(keys)
        for r, row in enumerate(t.rows, start=1):
            if row.withheld:
                for col in range(first, first + len(t.measures)):
                    sheet.write_string(r, col, MARKER)
    workbook.close()
    return buffer.getvalue()
