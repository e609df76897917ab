"""The distribution page: a board compares plans for a year and sees each member's income effect (issue 5).

Nothing is booked here: the page runs ``services.distribution.simulate`` and shows a table per member, a bar
chart per member per plan and a waterfall from the current plan to a candidate.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from integraal.api.deps import get_database
from integraal.domain.money import format_euros
from integraal.services import dashboard
from integraal.services.access import AccessDeniedError, Action, NotFoundError, allowed
from integraal.services.distribution import plan_presets, simulate
from integraal.services.funding_scenarios import funding_scenarios
from integraal.web.charts import Series, grouped_bars, waterfall
from integraal.web.pages import _error, _page, _visitor

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
