"""Insight pages: every indicator of an IGO next to the reference, and one indicator per unit with its funnel
plot, quarterly trend and Dutch guidance on what a reader may and may not conclude (issue 6).

The pages call the same use cases as ``/api/insight`` (``services.insight``), so suppression and scope are the
same in both: a hidden cell never reaches a template.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from integraal.api.deps import get_database
from integraal.insight import IndicatorKind, Position
from integraal.services import dashboard
from integraal.services.access import AccessDeniedError, Action, NotFoundError, Role, allowed, configured_minimum
from integraal.services.casemix import MARKER as CASEMIX_MARKER
from integraal.services.casemix import TOTAL as CASEMIX_TOTAL
from integraal.services.casemix import casemix
from integraal.services.insight import (
    UnitLevel,
    igos_in_scope,
    indicator_overview,
    indicator_table,
    insight_years,
    quarterly_trend,
)
from integraal.services.insight_report import insight_report_pdf, report_filename
from integraal.web.charts import FunnelDot, Series, TrendBar, funnel_chart, grouped_bars, trend_chart
from integraal.web.pages import _error, _page, _visitor

router = APIRouter(include_in_schema=False)

Year = Annotated[int | None, Query(ge=2000, le=2100)]


def _years_and_igo(request: Request, year: int | None, igo_id: str) -> tuple[list[int], int, list[str], str]:
    visitor = _visitor(request)
    assert visitor.principal is not None
    db = get_database(request)
    years = insight_years(db, visitor.principal)
    chosen = year or (years[0] if years else date.today().year)
    igos = igos_in_scope(db, visitor.principal)
    igo = visitor.principal.igo_id or (igo_id if igo_id in igos else (igos[0] if igos else ""))
    return years, chosen, igos, igo


@router.get("/insight")
def insight_page(request: Request, year: Year = None, igo_id: Annotated[str, Query(max_length=40)] = "") -> Response:
    visitor = _visitor(request)
    principal = visitor.principal
    assert principal is not None
    if not allowed(principal, Action.READ_AGGREGATES):
        return _error(request, visitor, 403, "forbidden")
    years, year, igos, igo = _years_and_igo(request, year, igo_id)
    rows = []
    if igo:
        try:
            rows = indicator_overview(get_database(request), principal, year, igo)
        except (AccessDeniedError, NotFoundError):
            return _error(request, visitor, 404, "not_found")
    return _page(
        request,
        visitor,
        "insight.html",
        year=year,
        years=years,
        igos=igos,
        igo=igo,
        rows=rows,
        outside=principal.role in (Role.INSURER, Role.ANALYST),
        within=Position.WITHIN,
    )


@router.get("/insight/indicators/{indicator_id}")
def indicator_page(
    request: Request,
    indicator_id: str,
    year: Year = None,
    igo_id: Annotated[str, Query(max_length=40)] = "",
    level: Annotated[UnitLevel, Query()] = UnitLevel.IGO,
    adjust: Annotated[bool, Query()] = False,
    shrink: Annotated[bool, Query()] = False,
) -> Response:
    visitor = _visitor(request)
    principal = visitor.principal
    assert principal is not None
    if not allowed(principal, Action.READ_AGGREGATES):
        return _error(request, visitor, 403, "forbidden")
    db = get_database(request)
    years, year, igos, igo = _years_and_igo(request, year, igo_id)
    try:
        table = indicator_table(db, principal, indicator_id, year, level, adjust, shrink)
    except NotFoundError:
        return _error(request, visitor, 404, "not_found")
    indicator = table.indicator
    lang = visitor.lang
    nl = lang == "nl"
    mean = indicator.kind is IndicatorKind.MEAN
    scale = 1 if mean else indicator.per
    unit_sign = "" if mean else (" %" if indicator.per == 100 else " ‰")
    name = indicator.name.nl if nl else indicator.name.en
    context: dict[str, Any] = {
        "table": table,
        "indicator": indicator,
        "name": name,
        "explanation": indicator.explanation.nl if nl else indicator.explanation.en,
        "year": year,
        "years": years,
        "igos": igos,
        "igo": igo,
        "level": level.value,
        "adjust": adjust,
        "shrink": shrink,
        "mean": mean,
        "funnel": None,
        "trend": None,
        "trend_rows": [],
    }
    if table.funnel is not None:
        curves = [
            (lvl, [(c.n, c.exact.lower, c.exact.upper) for c in table.funnel.curve if c.level == lvl])
            for lvl in table.funnel.levels
        ]
        own = {r.unit for r in table.rows if r.own}
        dots = [
            FunnelDot(
                p.unit,
                p.denominator,
                p.rate,
                own=p.unit in own,
                outside=dict(p.positions).get(0.95, Position.WITHIN) is not Position.WITHIN,
            )
            for p in table.funnel.points
        ]
        context["funnel"] = funnel_chart(
            dots,
            table.funnel.target,
            curves,
            title=f"{name} {year}: " + ("trechterdiagram" if nl else "funnel plot"),
            description=(
                "Percentage per eenheid tegen het aantal zwangerschappen, met de grenzen waarbinnen toeval alleen "
                "een eenheid laat vallen (95 % en 99,8 %) rond het landelijke percentage."
                if nl
                else "Rate per unit against its number of pregnancies, with the limits within which chance alone "
                "keeps a unit (95 % and 99.8 %) around the overall rate."
            ),
            x_label="Aantal zwangerschappen in de noemer" if nl else "Pregnancies in the denominator",
            y_label=name + unit_sign,
            target_label="Totaal" if nl else "Overall",
            level_labels=("95 %-grens (waarschuwing)", "99,8 %-grens (alarm)")
            if nl
            else ("95 % limit (warning)", "99.8 % limit (alarm)"),
            scale=scale,
            decimals=1,
            comma=nl,
        )
    if not mean:
        igo_for_trend = igo if level is UnitLevel.IGO and principal.role is not Role.ANALYST else None
        if principal.role in (Role.IGO_ADMIN, Role.IGO_BOARD):
            igo_for_trend = principal.igo_id
        trend_years = sorted({year - 1, year})
        points = quarterly_trend(db, principal, indicator.id, trend_years, igo_for_trend)
        limit = table.minimum
        bars = [
            TrendBar(
                p.quarter,
                p.rate,
                p.interval.lower if p.interval else None,
                p.interval.upper if p.interval else None,
                note=(f"< {limit}" if p.suppressed else ("geen" if nl else "none")),
            )
            for p in points
        ]
        context["trend_rows"] = points
        context["trend_unit"] = igo_for_trend or ("alle eenheden" if nl else "all units")
        context["trend"] = trend_chart(
            bars,
            title=f"{name}: " + ("per kwartaal" if nl else "per quarter"),
            description=(
                "Percentage per kwartaal met het 95 %-betrouwbaarheidsinterval als verticale balk."
                if nl
                else "Rate per quarter with its 95 % confidence interval as a vertical bar."
            ),
            y_label=name + unit_sign,
            reference=table.total.rate,
            reference_label=(f"totaal {year}" if nl else f"overall {year}"),
            scale=scale,
            comma=nl,
        )
    return _page(request, visitor, "indicator.html", **context)


@router.get("/insight/report.pdf")
def insight_report_page(
    request: Request, year: Year = None, igo_id: Annotated[str, Query(max_length=40)] = ""
) -> Response:
    """The yearly report of the IGO as PDF (the same use case as ``GET /api/insight/report.pdf``)."""
    visitor = _visitor(request)
    principal = visitor.principal
    assert principal is not None
    if not allowed(principal, Action.READ_AGGREGATES):
        return _error(request, visitor, 403, "forbidden")
    _, year, _, default = _years_and_igo(request, year, "")
    igo = principal.igo_id or igo_id or default
    try:
        data = insight_report_pdf(get_database(request), principal, igo or None, year, visitor.lang)
    except AccessDeniedError:
        return _error(request, visitor, 403, "forbidden")
    except NotFoundError:
        return _error(request, visitor, 404, "not_found")
    headers = {"Content-Disposition": f'attachment; filename="{report_filename(igo, year)}"'}
    return Response(data, media_type="application/pdf", headers=headers)


@router.get("/insight/casemix")
def casemix_page(
    request: Request,
    year: Year = None,
    igo_id: Annotated[str, Query(max_length=40)] = "",
    uzovi: Annotated[str, Query(max_length=4)] = "",
) -> Response:
    """The casemix per IGO × insurer with bars for the client profiles and the fallback, and the exports."""
    visitor = _visitor(request)
    principal = visitor.principal
    assert principal is not None
    if not allowed(principal, Action.READ_AGGREGATES):
        return _error(request, visitor, 403, "forbidden")
    db = get_database(request)
    years = dashboard.years_in_scope(db, principal)
    chosen = year or (years[0] if years else date.today().year)
    igo = principal.igo_id or igo_id or None
    insurer = principal.uzovi or (uzovi if uzovi.isdigit() and len(uzovi) == 4 else None)
    try:
        report = casemix(db, principal, chosen, igo, insurer, configured_minimum())
    except NotFoundError:
        return _error(request, visitor, 404, "not_found")
    nl = visitor.lang == "nl"
    profiles = report.table("profiles")
    totals = [r for r in profiles.rows if r.category != CASEMIX_TOTAL]
    cells = sorted({(r.igo_id, r.uzovi) for r in totals})
    categories = list(dict.fromkeys(r.category for r in totals))
    labels = {r.category: (r.label_nl if nl else r.label_en) for r in totals}
    by_cell = {(r.igo_id, r.uzovi, r.category): r for r in totals}

    def count(cell: tuple[str, str], category: str) -> int:
        row = by_cell.get((*cell, category))
        value = None if row is None or row.withheld else row.values[0]
        return int(value) if isinstance(value, int) else 0

    bars = grouped_bars(
        [labels[c] for c in categories],
        [Series(f"{i} · {u}", [count((i, u), c) for c in categories]) for i, u in cells[:6]],
        title="Zwangerschappen per cliëntprofiel" if nl else "Pregnancies per client profile",
        description=(
            "Aantal zwangerschappen per cliëntprofiel per IGO en verzekeraar; verborgen cellen tellen als 0."
            if nl
            else "Pregnancies per client profile per IGO and insurer; withheld cells count as 0."
        ),
        fmt=lambda n: f"{n:,}".replace(",", "." if nl else ","),
    )
    return _page(
        request,
        visitor,
        "casemix.html",
        report=report,
        year=chosen,
        years=years,
        igo=igo or "",
        uzovi=insurer or "",
        bars=bars,
        shown_cells=min(len(cells), 6),
        all_cells=len(cells),
        marker=CASEMIX_MARKER,
        total=CASEMIX_TOTAL,
    )
