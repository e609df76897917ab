"""The distribution page: a board compares plans for a year and sees each member's income effect (issue 5).

Nothing is booked here: the page runs ``services.distribution.simulate`` and shows a table per member, a bar
chart per member per plan and a waterfall from the current plan to a candidate.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from integraal.api.deps import get_database
from integraal.domain.money import format_euros
from integraal.services import dashboard
from integraal.services.access import AccessDeniedError, Action, NotFoundError, Role, allowed
from integraal.services.distribution import plan_presets, simulate
from integraal.services.funding_scenarios import funding_scenarios
from integraal.services.periods import PeriodError, close_period, list_periods, period_lines
from integraal.services.statements import Statement, statement, statement_pdf
from integraal.services.users import check_csrf
from integraal.web.charts import Series, grouped_bars, waterfall
from integraal.web.pages import Visitor, _error, _page, _visitor

router = APIRouter(include_in_schema=False)


@router.get("/distribution")
def distribution_page(
    request: Request,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
    igo_id: Annotated[str, Query(max_length=40)] = "",
    plans: Annotated[list[str] | None, Query()] = None,
    compare: Annotated[str, Query(max_length=40)] = "",
) -> Response:
    visitor = _visitor(request)
    principal = visitor.principal
    assert principal is not None
    if not allowed(principal, Action.SIMULATE_DISTRIBUTION):
        return _error(request, visitor, 403, "forbidden")
    current, presets = plan_presets()
    igo = principal.igo_id or igo_id
    chosen = [p for p in (plans or list(presets)) if p in presets]
    context: dict[str, Any] = {"presets": presets, "current": current, "chosen": chosen, "igo": igo, "result": None}
    try:
        years = dashboard.years_in_scope(get_database(request), principal)
    except AccessDeniedError:
        years = []
    year = year or (years[0] if years else date.today().year)
    context.update(year=year, years=years)
    if not igo:  # a superuser picks an IGO first
        return _page(request, visitor, "distribution.html", **context)
    try:
        result = simulate(get_database(request), principal, igo, year, chosen)
    except AccessDeniedError:
        return _error(request, visitor, 403, "forbidden")
    except NotFoundError:
        return _error(request, visitor, 404, "not_found")
    keys = list(result.plans)
    target = compare if compare in keys and compare != current else next((k for k in keys if k != current), current)
    lang = visitor.lang
    name = {k: (p.name_nl if lang == "nl" else p.name_en) for k, p in result.plans.items()}
    members = [r for r in result.rows if any(r.amounts.values())]
    bars = grouped_bars(
        [r.name if r.recipient != "IGO" else "IGO" for r in members],
        [Series(name[k], [r.amounts[k] for r in members]) for k in keys],
        title="Per lid per plan" if lang == "nl" else "Per member per plan",
        description=("Bedrag per lid onder elk plan" if lang == "nl" else "Amount per member under each plan"),
        fmt=lambda cents: format_euros(cents, lang),
    )
    changes = sorted(
        ((r.name if r.recipient != "IGO" else "IGO", r.difference(target, current)) for r in result.rows),
        key=lambda item: item[1],
    )
    fall = waterfall(
        name[current],
        result.received_cents,
        [(label, delta) for label, delta in changes if delta],
        name[target],
        title=("Van het huidige naar het nieuwe plan" if lang == "nl" else "From the current to the new plan"),
        description=(
            "Per lid de verandering; het totaal blijft gelijk"
            if lang == "nl"
            else "Each member's change; the total stays"
        ),
        fmt=lambda cents: format_euros(cents, lang),
    )
    context.update(
        result=result,
        keys=keys,
        names=name,
        target=target,
        bars=bars,
        fall=fall,
    )
    return _page(request, visitor, "distribution.html", **context)


@router.get("/distribution/scenarios")
def scenarios_page(
    request: Request,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
    igo_id: Annotated[str, Query(max_length=40)] = "",
) -> Response:
    """Funding scenarios (a) monodisciplinary, (b) integral contract, (c) client profiles, for a board or policy."""
    visitor = _visitor(request)
    principal = visitor.principal
    assert principal is not None
    if not allowed(principal, Action.SIMULATE_DISTRIBUTION):
        return _error(request, visitor, 403, "forbidden")
    igo = principal.igo_id or igo_id
    years = dashboard.years_in_scope(get_database(request), principal)
    year = year or (years[0] if years else date.today().year)
    context: dict[str, Any] = {"igo": igo, "year": year, "years": years, "s": None}
    if igo:
        try:
            context["s"] = funding_scenarios(get_database(request), principal, igo, year)
        except NotFoundError:
            return _error(request, visitor, 404, "not_found")
    return _page(request, visitor, "scenarios.html", **context)


@router.post("/distribution/close")
def close_page(
    request: Request,
    year: Annotated[int, Form(ge=2000, le=2100)],
    plan: Annotated[str, Form(max_length=40)],
    igo_id: Annotated[str, Form(max_length=40)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Book the chosen plan for the year (back office; the board chose it)."""
    visitor = _visitor(request)
    principal = visitor.principal
    assert principal is not None and visitor.session is not None
    if not check_csrf(visitor.session, csrf_token):
        return _error(request, visitor, 403, "csrf")
    igo = principal.igo_id or igo_id
    try:
        closed = close_period(get_database(request), principal, igo, year, plan)
    except AccessDeniedError:
        return _error(request, visitor, 403, "forbidden")
    except (PeriodError, KeyError, NotFoundError) as exc:
        return _page(
            request, visitor, "statements.html", status=409, periods=[], chosen=None, rows=[], problem=str(exc)
        )
    return RedirectResponse(f"/statements?period={closed.period.period_id}", status_code=303)


@router.get("/statements")
def statements_page(request: Request, period: Annotated[str, Query(max_length=60)] = "") -> Response:
    """Closed periods and, for one, the members' totals (a member: its own statement only)."""
    visitor = _visitor(request)
    principal = visitor.principal
    assert principal is not None
    try:
        closed = list_periods(get_database(request), principal)
    except AccessDeniedError:
        return _error(request, visitor, 403, "forbidden")
    chosen = next((p for p in closed if p.period_id == period), closed[0] if closed else None)
    rows = []
    if chosen is not None:
        if principal.role is Role.MEMBER and principal.agb:
            agbs = [principal.agb]
        else:
            agbs = sorted({line.recipient for line in period_lines(get_database(request), principal, chosen.period_id)})
        for agb in agbs:
            try:
                rows.append(statement(get_database(request), principal, chosen.period_id, agb))
            except NotFoundError:
                continue
    return _page(request, visitor, "statements.html", periods=closed, chosen=chosen, rows=rows, problem=None)


def _statement(request: Request, period_id: str, agb: str) -> tuple[Visitor, Statement | Response]:
    """The member's statement, or the error page the visitor gets instead (403 role, 404 not in scope)."""
    visitor = _visitor(request)
    assert visitor.principal is not None
    try:
        return visitor, statement(get_database(request), visitor.principal, period_id, agb)
    except AccessDeniedError:
        return visitor, _error(request, visitor, 403, "forbidden")
    except NotFoundError:
        return visitor, _error(request, visitor, 404, "not_found")


@router.get("/statements/{period_id}/{agb}")
def statement_page(request: Request, period_id: str, agb: str) -> Response:
    visitor, result = _statement(request, period_id, agb)
    if isinstance(result, Response):
        return result
    return _page(request, visitor, "statement.html", s=result)


@router.get("/statements/{period_id}/{agb}/pdf")
def statement_pdf_page(request: Request, period_id: str, agb: str) -> Response:
    visitor, result = _statement(request, period_id, agb)
    if isinstance(result, Response):
        return result
    headers = {"Content-Disposition": f'attachment; filename="{period_id}-{agb}.pdf"'}
    return Response(statement_pdf(result, visitor.lang), media_type="application/pdf", headers=headers)
