"""Mirror information: indicators per unit with intervals and funnel limits, trends, the overview of an IGO.

Suppression is applied by the use cases (``services.insight``) for every reader outside the IGO; this router only
maps their results to JSON, so a hidden cell is ``null`` with ``suppressed`` naming why.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response
from pydantic import Field

from integraal.api.deps import DB, CurrentPrincipal
from integraal.api.problems import ProblemError
from integraal.api.schemas import READ, READ_ONE, Schema
from integraal.insight import Indicator, Interval, load_indicators
from integraal.services.access import Action, configured_minimum, require
from integraal.services.casemix import CasemixReport, casemix, casemix_csv, casemix_xlsx
from integraal.services.insight import (
    IndicatorTable,
    UnitLevel,
    UnitRow,
    indicator_overview,
    indicator_table,
    quarterly_trend,
)
from integraal.services.insight_report import insight_report_pdf, report_filename

router = APIRouter(tags=["insight"])


class IntervalModel(Schema):
    lower: float
    upper: float
    level: float


def _interval(interval: Interval | None) -> IntervalModel | None:
    return None if interval is None else IntervalModel(lower=interval.lower, upper=interval.upper, level=interval.level)


class IndicatorDefinition(Schema):
    id: str
    name_nl: str
    name_en: str
    explanation_nl: str
    explanation_en: str
    kind: str = Field(description="proportion or mean")
    direction: str = Field(description="lower_is_better, higher_is_better or none (no value judgement)")
    per: int = Field(description="Display scale: 100 (percent) or 1000 (per mille).")
    denominator: str
    numerator: str | None
    exclusions: list[str]
    casemix: list[str] = Field(description="Case-mix variables used for the O/E adjustment.")
    source: str
    verified: bool


def _definition(indicator: Indicator) -> IndicatorDefinition:
    return IndicatorDefinition(
        id=indicator.id,
        name_nl=indicator.name.nl,
        name_en=indicator.name.en,
        explanation_nl=indicator.explanation.nl,
        explanation_en=indicator.explanation.en,
        kind=indicator.kind.value,
        direction=indicator.direction.value,
        per=indicator.per,
        denominator=indicator.denominator.text,
        numerator=indicator.numerator.text if indicator.numerator else None,
        exclusions=[e.text for e in indicator.exclusions],
        casemix=list(indicator.casemix),
        source=indicator.source.name,
        verified=indicator.source.verified,
    )


class Standardised(Schema):
    observed: int
    expected: float
    ratio: float | None = Field(description="Observed / expected (O/E).")
    interval: IntervalModel | None = Field(description="Byar's interval for O/E.")
    adjusted_rate: float | None


class Unit(Schema):
    unit: str = Field(description="IGO id; another IGO seen by an IGO is anonymous (IGO A, IGO B …).")
    own: bool
    numerator: int | None
    denominator: int | None
    excluded: int | None = Field(description="Only in the IGO's own view.")
    missing: int | None = Field(description="Only in the IGO's own view.")
    rate: float | None = Field(description="A proportion (0–1), or the mean for a mean indicator.")
    interval: IntervalModel | None = Field(description="Wilson (proportion) or normal (mean) 95 % interval.")
    exact: IntervalModel | None = Field(description="Clopper–Pearson 95 % interval.")
    suppressed: str | None = Field(description="primary or complementary: the row is hidden (small numbers).")
    funnel: dict[str, str] = Field(description="Position per funnel level: within, above or below.")
    standardised: Standardised | None = None
    shrunk_rate: float | None = None


def _unit(row: UnitRow) -> Unit:
    s = row.standardised
    return Unit(
        unit=row.unit,
        own=row.own,
        numerator=row.numerator,
        denominator=row.denominator,
        excluded=row.excluded,
        missing=row.missing,
        rate=row.rate,
        interval=_interval(row.interval),
        exact=_interval(row.exact),
        suppressed=row.suppressed.value if row.suppressed else None,
        funnel={f"{level:g}": position.value for level, position in row.positions},
        standardised=(
            Standardised(
                observed=s.observed,
                expected=s.expected,
                ratio=s.ratio,
                interval=_interval(s.interval),
                adjusted_rate=s.adjusted_rate,
            )
            if s is not None
            else None
        ),
        shrunk_rate=row.shrunk_rate,
    )


class FunnelLimit(Schema):
    n: int
    level: float
    lower: float
    upper: float


class Funnel(Schema):
    target: float
    levels: list[float]
    curve: list[FunnelLimit] = Field(description="Exact binomial limits (Spiegelhalter 2005) along unit size.")


class IndicatorTableModel(Schema):
    indicator: IndicatorDefinition
    year: int
    level: str
    minimum_cell: int
    suppressing: bool = Field(description="Small cells are hidden for you (you are outside at least part of it).")
    hidden_units: int
    units: list[Unit]
    total: Unit
    funnel: Funnel | None


def table_model(table: IndicatorTable) -> IndicatorTableModel:
    funnel = None
    if table.funnel is not None:
        funnel = Funnel(
            target=table.funnel.target,
            levels=list(table.funnel.levels),
            curve=[
                FunnelLimit(n=c.n, level=c.level, lower=c.exact.lower, upper=c.exact.upper) for c in table.funnel.curve
            ],
        )
    return IndicatorTableModel(
        indicator=_definition(table.indicator),
        year=table.year,
        level=table.level.value,
        minimum_cell=table.minimum,
        suppressing=table.suppressing,
        hidden_units=table.hidden_units,
        units=[_unit(r) for r in table.rows],
        total=_unit(table.total),
        funnel=funnel,
    )


Year = Annotated[int, Query(ge=2000, le=2100)]
Minimum = Annotated[
    int | None, Query(ge=1, le=1000, description="Minimum cell size; never below the configured one (default 10).")
]


@router.get("/insight/indicators", summary="The indicator definitions (data, versioned with the code)", responses=READ)
def definitions(principal: CurrentPrincipal) -> list[IndicatorDefinition]:
    require(principal, Action.READ_AGGREGATES)
    return [_definition(i) for i in load_indicators().values()]


@router.get(
    "/insight/indicators/{indicator_id}",
    summary="One indicator per unit for a year: rates, intervals, funnel positions; small cells suppressed",
    responses=READ_ONE,
)
def indicator(
    db: DB,
    principal: CurrentPrincipal,
    indicator_id: Annotated[str, Path(max_length=60)],
    year: Year,
    level: Annotated[UnitLevel, Query(description="igo: per IGO; financing: integral versus separate claims")] = (
        UnitLevel.IGO
    ),
    adjust: Annotated[bool, Query(description="Add the case-mix adjusted O/E per unit.")] = False,
    shrink: Annotated[bool, Query(description="Add empirical-Bayes shrunken rates.")] = False,
    minimum: Minimum = None,
) -> IndicatorTableModel:
    return table_model(indicator_table(db, principal, indicator_id, year, level, adjust, shrink, minimum))


class TrendPointModel(Schema):
    quarter: str
    numerator: int | None
    denominator: int | None
    rate: float | None
    interval: IntervalModel | None
    suppressed: str | None


@router.get(
    "/insight/indicators/{indicator_id}/trend",
    summary="A proportion indicator per quarter (one IGO, or everything in your scope)",
    responses=READ_ONE,
)
def trend(
    db: DB,
    principal: CurrentPrincipal,
    indicator_id: Annotated[str, Path(max_length=60)],
    years: Annotated[str, Query(pattern=r"^\d{4}(,\d{4}){0,9}$", description="Comma-separated years.")],
    igo_id: Annotated[str | None, Query(max_length=40)] = None,
    minimum: Minimum = None,
) -> list[TrendPointModel]:
    try:
        points = quarterly_trend(db, principal, indicator_id, [int(y) for y in years.split(",")], igo_id, minimum)
    except ValueError as exc:
        raise ProblemError(422, "validation", str(exc)) from exc
    return [
        TrendPointModel(
            quarter=p.quarter,
            numerator=p.numerator,
            denominator=p.denominator,
            rate=p.rate,
            interval=_interval(p.interval),
            suppressed=p.suppressed.value if p.suppressed else None,
        )
        for p in points
    ]


class OverviewRowModel(Schema):
    indicator: IndicatorDefinition
    unit: Unit
    reference: Unit = Field(description="All units in your scope together.")


@router.get(
    "/insight/overview",
    summary="Every indicator for one IGO next to the reference (IGO roles: their own IGO)",
    responses=READ_ONE,
)
def overview(
    db: DB,
    principal: CurrentPrincipal,
    year: Year,
    igo_id: Annotated[str | None, Query(max_length=40)] = None,
    minimum: Minimum = None,
) -> list[OverviewRowModel]:
    rows = indicator_overview(db, principal, year, igo_id, minimum)
    return [
        OverviewRowModel(indicator=_definition(r.indicator), unit=_unit(r.unit), reference=_unit(r.reference))
        for r in rows
    ]


@router.get(
    "/insight/report.pdf",
    summary="The yearly report of one IGO as PDF: every indicator, funnel plots, case mix (IGO roles: their own)",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}, **READ_ONE},
)
def report_pdf(
    db: DB,
    principal: CurrentPrincipal,
    year: Year,
    igo_id: Annotated[str | None, Query(max_length=40)] = None,
    lang: Annotated[str, Query(pattern="^(nl|en)$")] = "nl",
) -> Response:
    data = insight_report_pdf(db, principal, igo_id, year, lang)
    igo = principal.igo_id or igo_id or ""
    headers = {"Content-Disposition": f'attachment; filename="{report_filename(igo, year)}"'}
    return Response(data, media_type="application/pdf", headers=headers)


# --- casemix -------------------------------------------------------------------------------------------------


class CasemixRowModel(Schema):
    igo_id: str
    uzovi: str
    group: str
    category: str
    label_nl: str
    label_en: str
    values: list[int | str | None] = Field(description="In the order of the table's measures; decimals as text.")
    withheld: bool = Field(description="Small numbers: withheld for you (every value null).")
    hidden_outside: str | None = Field(description="Inside the IGO: whether (and why) it is withheld outside.")


class CasemixTableModel(Schema):
    name: str
    title_nl: str
    title_en: str
    group_name: str
    category_name: str
    measures: list[str]
    rows: list[CasemixRowModel]


class CasemixModel(Schema):
    year: int
    igo_id: str | None
    uzovi: str | None
    minimum_cell: int
    suppressed: bool = Field(description="Small numbers are withheld in this report (insurer, analyst).")
    tables: list[CasemixTableModel]


def _casemix(db: DB, principal: CurrentPrincipal, year: int, igo_id: str | None, uzovi: str | None) -> CasemixReport:
    try:
        return casemix(db, principal, year, igo_id, uzovi, configured_minimum())
    except ValueError as exc:
        raise ProblemError(422, "validation", str(exc)) from exc


Uzovi = Annotated[str | None, Query(pattern=r"^\d{4}$", description="One insurer (UZOVI); default all in scope.")]
IgoFilter = Annotated[str | None, Query(max_length=40, description="One IGO; default all in scope.")]


@router.get(
    "/insight/casemix",
    summary="Casemix per IGO × insurer: prestaties, client profiles, referrals, care intensity, fallback and causes",
    responses=READ_ONE,
)
def casemix_json(
    db: DB, principal: CurrentPrincipal, year: Year, igo_id: IgoFilter = None, uzovi: Uzovi = None
) -> CasemixModel:
    report = _casemix(db, principal, year, igo_id, uzovi)
    return CasemixModel(
        year=report.year,
        igo_id=report.igo_id,
        uzovi=report.uzovi,
        minimum_cell=report.minimum,
        suppressed=report.suppressed,
        tables=[
            CasemixTableModel(
                name=t.name,
                title_nl=t.title_nl,
                title_en=t.title_en,
                group_name=t.group_name,
                category_name=t.category_name,
                measures=list(t.measures),
                rows=[
                    CasemixRowModel(
                        igo_id=r.igo_id,
                        uzovi=r.uzovi,
                        group=r.group,
                        category=r.category,
                        label_nl=r.label_nl,
                        label_en=r.label_en,
                        values=[v if v is None or isinstance(v, int) else str(v) for v in r.values],
                        withheld=r.withheld,
                        hidden_outside=r.hidden_outside.value if r.hidden_outside else None,
                    )
                    for r in t.rows
                ],
            )
            for t in report.tables
        ],
    )


def _export_name(year: int, igo_id: str | None, uzovi: str | None, extension: str) -> str:
    parts = ["casemix", str(year), *(re.sub(r"[^A-Za-z0-9_-]", "", p) for p in (igo_id, uzovi) if p)]
    return "-".join(parts) + "." + extension


@router.get("/insight/casemix.csv", summary="The casemix as one CSV (withheld values as x)", responses=READ_ONE)
def casemix_csv_export(
    db: DB, principal: CurrentPrincipal, year: Year, igo_id: IgoFilter = None, uzovi: Uzovi = None
) -> Response:
    report = _casemix(db, principal, year, igo_id, uzovi)
    headers = {"Content-Disposition": f'attachment; filename="{_export_name(year, igo_id, uzovi, "csv")}"'}
    return Response(casemix_csv(report), media_type="text/csv; charset=utf-8", headers=headers)


@router.get("/insight/casemix.xlsx", summary="The casemix as Excel, one sheet per table", responses=READ_ONE)
def casemix_xlsx_export(
    db: DB, principal: CurrentPrincipal, year: Year, igo_id: IgoFilter = None, uzovi: Uzovi = None
) -> Response:
    report = _casemix(db, principal, year, igo_id, uzovi)
    headers = {"Content-Disposition": f'attachment; filename="{_export_name(year, igo_id, uzovi, "xlsx")}"'}
    media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return Response(casemix_xlsx(report), media_type=media, headers=headers)
