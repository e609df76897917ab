"""Use cases of mirror information: indicators per unit with intervals, funnel plots, case-mix adjustment,
shrinkage and quarterly trends, with suppression for everyone outside the IGO (issue 6, DOMAIN.md §6).

Who sees what (authorisation here, filters in SQL, as everywhere):

- **IGO roles** (back office, board) see their own IGO in full (named, with excluded and missing counts) and
  the other IGOs as anonymous units ("IGO A", "IGO B" … in a per-table random-free order: by pseudonym), with
  suppression. Their own row is known to them, so suppression is computed over the *other* rows (whose total
  they could derive), otherwise their own numbers would reveal a complementary cell.
- **insurer**: per IGO, only its own insured, suppressed. **analyst**: per IGO, all, suppressed; only
  aggregates, never a pregnancy. **superuser**: everything in full. **member**: no access (its figures are in
  its statement and in the quality scores of the distribution).

Units: ``igo`` (per IGO) or ``financing`` — pregnancies whose care the IGO claims as integral prestaties versus
those claimed separately by the disciplines (a bundle breaker or no contract): the nearest thing in our data to
"IGO versus non-IGO". Periods: the calendar year of the end of the trajectory (the birth), quarters for trends.
The minimum cell size is ``$INTEGRAAL_MINIMUM_CELL`` (default 10); a caller may raise it, never lower it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from enum import StrEnum
from typing import Any

import polars as pl
from sqlalchemy import ColumnElement, Connection, Select, and_, exists, literal, select, true

from integraal.distribution.inputs import ClientProfile
from integraal.domain.pregnancy import EndReason, ReferralStage
from integraal.insight import (
    FunnelPlot,
    FunnelPoint,
    Indicator,
    IndicatorKind,
    IndicatorResult,
    Interval,
    Position,
    StandardisedResult,
    Suppressed,
    Tally,
    funnel_plot,
    indirect_standardisation,
    load_indicators,
    shrink_rates,
    suppression_pattern,
)
from integraal.insight.columnar import MEAN_SCALE, OUTCOME_SCHEMA, tally_frame
from integraal.insight.indicators import proportion_result
from integraal.insight.intervals import two_sided_z
from integraal.services.access import (
    OUTSIDE_ROLES,
    Action,
    NotFoundError,
    Principal,
    Role,
    configured_minimum,
    require,
)
from integraal.services.latest import claim_lines_of, latest_decisions
from integraal.store import tables
from integraal.store.bulk import read_frame
from integraal.store.database import Database

INTEGRAL = "integraal"
SEPARATE = "gescheiden"


class UnitLevel(StrEnum):
    IGO = "igo"
    FINANCING = "financing"


# --- reading outcomes ----------------------------------------------------------------------------------------

_PREGNANCY_COLUMNS = {
    "pregnancy_id": pl.String(),
    "igo_id": pl.String(),
    "uzovi": pl.String(),
    "intake_date": pl.Date(),
    "labour_date": pl.Date(),
    "end_date": pl.Date(),
    "end_reason": pl.String(),
    "referral_date": pl.Date(),
    "referral_stage": pl.String(),
}
_MEASURES = [name for name in OUTCOME_SCHEMA if name not in ("end_reason", "profile")]


def profile_expr() -> pl.Expr:
    """The client profile of every row, exactly as :func:`integraal.distribution.derive_client_profile`."""
    natal_start = pl.coalesce(
        pl.col("labour_date"), pl.when(pl.col("end_reason") == EndReason.BIRTH.value).then(pl.col("end_date"))
    )
    stage = pl.coalesce(
        pl.col("referral_stage"),
        pl.when(pl.col("referral_date").is_null())
        .then(None)
        .when(pl.col("referral_date") <= pl.col("intake_date"))
        .then(pl.lit(ReferralStage.INTAKE.value))
        .when(natal_start.is_null() | (pl.col("referral_date") < natal_start))
        .then(pl.lit(ReferralStage.PREGNANCY.value))
        .otherwise(pl.lit(ReferralStage.LABOUR.value)),
    )
    return (
        pl.when(pl.col("end_reason").is_in([EndReason.MISCARRIAGE.value, EndReason.TERMINATION.value]))
        .then(pl.lit(ClientProfile.ENDED_EARLY.value))
        .when(stage == ReferralStage.INTAKE.value)
        .then(pl.lit(ClientProfile.MEDICAL_INDICATION.value))
        .when(stage == ReferralStage.PREGNANCY.value)
        .then(pl.lit(ClientProfile.REFERRED_PREGNANCY.value))
        .when(stage == ReferralStage.LABOUR.value)
        .then(pl.lit(ClientProfile.REFERRED_LABOUR.value))
        .otherwise(pl.lit(ClientProfile.LOW_RISK_PRIMARY.value))
        .alias("profile")
    )


def _scope(principal: Principal) -> ColumnElement[bool]:
    p = tables.pregnancies
    if principal.role is Role.INSURER:
        return p.c.uzovi == principal.uzovi
    return true()


def outcome_frame(
    db: Database | Connection,
    where: ColumnElement[bool],
    years: Sequence[int] | None = None,
    financing: bool = True,
    *,
    many: bool = False,
) -> pl.DataFrame:
    """One row per pregnancy matching ``where`` that ended in ``years`` (all ended ones when ``None``), read in a
    unit of work of its own (or on the connection given): the
    outcome fields, the client profile, ``year``, ``quarter`` (``2025-Q3``), IGO, insurer and ``financing``
    (``financing=False`` skips looking up the current decisions' claim lines and marks every row integral: for
    callers that do not group by it, such as the quality scores). ``many``: the country's pregnancies may match
    (a national read): on SQLite read in a separate process per range of pregnancies."""
    p, o, c = tables.pregnancies, tables.outcomes, tables.claim_lines
    schema = {**_PREGNANCY_COLUMNS, **{name: OUTCOME_SCHEMA[name] for name in _MEASURES}, "integral": pl.Boolean()}

    def query_of(pregnancies: ColumnElement[bool]) -> Select[Any]:
        condition = and_(where, pregnancies, p.c.end_date.is_not(None))
        if years:
            condition = and_(
                condition, p.c.end_date >= date(min(years), 1, 1), p.c.end_date <= date(max(years), 12, 31)
            )
        latest = latest_decisions(condition)
        integral = (
            exists(
                select(c.c.pregnancy_id)
                .select_from(latest)
                .join(c, claim_lines_of(latest))
                .where(latest.c.pregnancy_id == p.c.pregnancy_id, c.c.kind == "integral")
            )
            if financing
            else literal(True)
        )
        return (
            select(
                *(p.c[name] for name in _PREGNANCY_COLUMNS),
                *(o.c[name] for name in _MEASURES),
                integral.label("integral"),
            )
            .select_from(p.outerjoin(o, o.c.pregnancy_id == p.c.pregnancy_id))
            .where(condition)
        )

    query, split = query_of(true()), (p.c.pregnancy_id, query_of)
    if isinstance(db, Connection):
        frame = read_frame(db, query, schema, many=many, split=split)
    else:
        with db.unit_of_work() as connection:
            frame = read_frame(connection, query, schema, many=many, split=split)
    if years:
        frame = frame.filter(pl.col("end_date").dt.year().is_in(list(years)))
    return frame.with_columns(
        profile_expr(),
        pl.col("end_date").dt.year().alias("year"),
        (pl.col("end_date").dt.year().cast(pl.String) + "-Q" + pl.col("end_date").dt.quarter().cast(pl.String)).alias(
            "quarter"
        ),
        pl.when(pl.col("integral")).then(pl.lit(INTEGRAL)).otherwise(pl.lit(SEPARATE)).alias("financing"),
    )


# --- what a reader gets -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UnitRow:
    """One unit of an indicator table as this reader may see it; ``None`` wherever suppression applies."""

    unit: str  # the label shown (an IGO id, "IGO B" for another IGO seen by an IGO, or a financing group)
    own: bool  # the reader's own IGO
    numerator: int | None
    denominator: int | None
    excluded: int | None  # only in the IGO's own view (small numbers of their own)
    missing: int | None
    rate: float | None  # a proportion, or a mean for a mean indicator
    interval: Interval | None  # Wilson for a proportion; mean ± z·sd/√n for a mean
    exact: Interval | None  # Clopper–Pearson
    suppressed: Suppressed | None
    positions: tuple[tuple[float, Position], ...] = ()  # funnel position per level
    standardised: StandardisedResult | None = None
    shrunk_rate: float | None = None


@dataclass(frozen=True, slots=True)
class IndicatorTable:
    indicator: Indicator
    year: int
    level: UnitLevel
    minimum: int
    suppressing: bool  # the reader is outside at least part of the table
    rows: tuple[UnitRow, ...]
    total: UnitRow
    funnel: FunnelPlot | None  # shown units only; None for a mean indicator or a hidden total
    hidden_units: int


def _minimum(principal: Principal, requested: int | None) -> int:
    floor = configured_minimum()
    return floor if requested is None else max(floor, requested)


def _check_reader(principal: Principal) -> None:
    require(principal, Action.READ_AGGREGATES)


def indicator_by_id(indicator_id: str) -> Indicator:
    indicators = load_indicators()
    if indicator_id not in indicators:
        raise NotFoundError("indicator", indicator_id)
    return indicators[indicator_id]


def _anonymous_labels(units: Sequence[str], year: int) -> dict[str, str]:
    """Other IGOs as "IGO A", "IGO B" … in an order that says nothing about size or rate (by a hash)."""
    ordered = sorted(units, key=lambda u: hashlib.sha256(f"{year}:{u}".encode()).hexdigest())
    labels = {}
    for k, unit in enumerate(ordered):
        letters = ""
        n = k
        while True:
            letters = chr(ord("A") + n % 26) + letters
            n = n // 26 - 1
            if n < 0:
                break
        labels[unit] = f"IGO {letters}"
    return labels


def _mean_cells(indicator: Indicator, frame: pl.DataFrame, column: str) -> dict[str, tuple[Tally, float, float]]:
    table = tally_frame(indicator, frame, [column])
    return {
        str(row[column]): (
            Tally(0, row["denominator"], row["excluded"], row["missing"]),
            (row["value_sum"] or 0) / MEAN_SCALE,
            (row["value_sum_sq"] or 0) / MEAN_SCALE**2,
        )
        for row in table.iter_rows(named=True)
    }


def _mean_interval(n: int, total: float, total_sq: float, level: float = 0.95) -> tuple[float | None, Interval | None]:
    if n == 0:
        return None, None
    mean = total / n
    if n < 2:
        return mean, None
    variance = max(0.0, (total_sq - n * mean * mean) / (n - 1))
    half = two_sided_z(level) * variance**0.5 / n**0.5
    return mean, Interval(mean - half, mean + half, level)


def indicator_table(
    db: Database,
    principal: Principal,
    indicator_id: str,
    year: int,
    level: UnitLevel = UnitLevel.IGO,
    adjust: bool = False,
    shrink: bool = False,
    minimum: int | None = None,
    frame: pl.DataFrame | None = None,
) -> IndicatorTable:
    """One indicator for one year, one row per unit, as ``principal`` may see it (module docstring).

    ``adjust``: add the case-mix adjusted O/E per unit (indirect standardisation on the indicator's case-mix
    variables, reference = all units of the table); ``shrink``: add empirical-Bayes shrunken rates. ``frame``:
    a pre-read :func:`outcome_frame` (for reports that show many indicators), already in the reader's scope.
    """
    _check_reader(principal)
    indicator = indicator_by_id(indicator_id)
    limit = _minimum(principal, minimum)
    data = frame if frame is not None else outcome_frame(db, _scope(principal), [year], many=True)
    data = data.filter(pl.col("year") == year)
    column = "igo_id" if level is UnitLevel.IGO else "financing"
    own_unit = (
        principal.igo_id if level is UnitLevel.IGO and principal.role in (Role.IGO_ADMIN, Role.IGO_BOARD) else None
    )
    outside = principal.role in OUTSIDE_ROLES or (principal.role in (Role.IGO_ADMIN, Role.IGO_BOARD))
    if principal.role in (Role.IGO_ADMIN, Role.IGO_BOARD) and level is UnitLevel.FINANCING:
        data = data.filter(pl.col("igo_id") == principal.igo_id)  # its own pregnancies, integral or not
        outside = False
    if indicator.kind is IndicatorKind.MEAN:
        return _mean_table(indicator, year, level, limit, data, column, own_unit, outside)
    counts = {row[0]: Tally(*row[1:]) for row in tally_frame(indicator, data, [column]).iter_rows()}
    results = {unit: proportion_result(indicator.id, unit, str(year), t) for unit, t in counts.items()}
    shown_to_all = not outside
    # Suppression over the rows the reader does not own (module docstring).
    others = [(u, r.numerator, r.denominator) for u, r in sorted(results.items()) if u != own_unit]
    pattern = suppression_pattern(others, limit) if outside and others else None
    hidden = pattern.hidden_units if pattern else frozenset()
    total_counts = Tally(sum(t.numerator for t in counts.values()), sum(t.denominator for t in counts.values()))
    total_hidden = bool(pattern and pattern.total_hidden) if outside else False
    total_result = proportion_result(indicator.id, "(totaal)", str(year), total_counts)
    shown_cells = [(u, r.numerator, r.denominator) for u, r in sorted(results.items()) if u not in hidden]
    plot = None
    if shown_cells and not total_hidden and total_counts.denominator:
        plot = funnel_plot(shown_cells, target=total_result.rate)
    positions = {p.unit: p.positions for p in plot.points} if plot else {}
    standardised: dict[str, StandardisedResult] = {}
    if adjust and indicator.casemix:
        strata = tally_frame(
            indicator,
            data.with_columns(pl.col(v).cast(pl.String) for v in indicator.casemix),
            [column, *indicator.casemix],
        )
        cells: dict[str, dict[tuple[str, ...], tuple[int, int]]] = {}
        for row in strata.iter_rows(named=True):
            stratum = tuple("unknown" if row[v] is None else str(row[v]).lower() for v in indicator.casemix)
            cells.setdefault(str(row[column]), {})[stratum] = (row["numerator"], row["denominator"])
        standardised = {r.unit: r for r in indirect_standardisation(cells)}
    shrunk = {}
    if shrink and len(results) >= 2:
        shrunk = {
            s.unit: s.shrunk_rate
            for s in shrink_rates([(u, r.numerator, r.denominator) for u, r in results.items()]).rates
        }
    labels = _anonymous_labels([u for u in results if u != own_unit], year) if own_unit else {}
    rows = []
    for unit, result in sorted(results.items(), key=lambda item: labels.get(item[0], item[0])):
        reason = pattern.reason(unit) if pattern and unit != own_unit else None
        mine = unit == own_unit
        rows.append(
            _row(
                labels.get(unit, unit),
                mine,
                result,
                counts[unit],
                reason,
                shown_to_all or mine,
                positions.get(unit, ()),
                standardised.get(unit),
                shrunk.get(unit),
            )
        )
    total = _row(
        "(totaal)",
        False,
        total_result,
        total_counts,
        Suppressed.PRIMARY if total_hidden else None,
        False,
        (),
        None,
        None,
    )
    if plot is not None and labels:
        plot = FunnelPlot(plot.target, plot.levels, tuple(_relabel(p, labels) for p in plot.points), plot.curve)
    return IndicatorTable(indicator, year, level, limit, outside, tuple(rows), total, plot, len(hidden))


def _relabel(point: FunnelPoint, labels: dict[str, str]) -> FunnelPoint:
    return replace(point, unit=labels.get(point.unit, point.unit))


def _row(
    label: str,
    own: bool,
    result: IndicatorResult,
    counts: Tally,
    reason: Suppressed | None,
    full: bool,
    positions: tuple[tuple[float, Position], ...],
    standardised: StandardisedResult | None,
    shrunk: float | None,
) -> UnitRow:
    if reason is not None:
        return UnitRow(label, own, None, None, None, None, None, None, None, reason)
    if standardised is not None:  # the label, never the real id of an anonymous IGO
        standardised = replace(standardised, unit=label)
    return UnitRow(
        label,
        own,
        result.numerator,
        result.denominator,
        counts.excluded if full else None,
        counts.missing if full else None,
        result.rate,
        result.wilson,
        result.exact,
        None,
        positions,
        standardised,
        shrunk,
    )


def _mean_table(
    indicator: Indicator,
    year: int,
    level: UnitLevel,
    limit: int,
    data: pl.DataFrame,
    column: str,
    own_unit: str | None,
    outside: bool,
) -> IndicatorTable:
    """A mean indicator: a unit with fewer than ``minimum`` answers is hidden; if that leaves exactly one hidden
    unit next to a shown total, the smallest shown unit is hidden too (its mean could be recovered otherwise)."""
    cells = _mean_cells(indicator, data, column)
    hidden: dict[str, Suppressed] = {}
    total_hidden = False
    if outside:
        others = {u: c for u, c in cells.items() if u != own_unit}
        hidden = {u: Suppressed.PRIMARY for u, (t, _, _) in others.items() if t.denominator < limit}
        total_n = sum(t.denominator for t, _, _ in others.values())
        total_hidden = total_n < limit
        if len(hidden) == 1 and not total_hidden:
            shown = sorted((t.denominator, u) for u, (t, _, _) in others.items() if u not in hidden)
            if shown:
                hidden[shown[0][1]] = Suppressed.COMPLEMENTARY
            else:
                total_hidden = True
    labels = _anonymous_labels([u for u in cells if u != own_unit], year) if own_unit else {}
    rows = []
    for unit, (t, s, ss) in sorted(cells.items(), key=lambda item: labels.get(item[0], item[0])):
        mine = unit == own_unit
        reason = None if mine else hidden.get(unit)
        if reason is not None:
            rows.append(UnitRow(labels.get(unit, unit), mine, None, None, None, None, None, None, None, reason))
            continue
        mean, interval = _mean_interval(t.denominator, s, ss)
        full = mine or not outside
        rows.append(
            UnitRow(
                labels.get(unit, unit),
                mine,
                None,
                t.denominator,
                t.excluded if full else None,
                t.missing if full else None,
                mean,
                interval,
                None,
                None,
            )
        )
    n = sum(t.denominator for t, _, _ in cells.values())
    mean, interval = _mean_interval(n, sum(s for _, s, _ in cells.values()), sum(ss for _, _, ss in cells.values()))
    total = (
        UnitRow("(totaal)", False, None, None, None, None, None, None, None, Suppressed.PRIMARY)
        if total_hidden
        else UnitRow("(totaal)", False, None, n, None, None, mean, interval, None, None)
    )
    return IndicatorTable(indicator, year, level, limit, outside, tuple(rows), total, None, len(hidden))


# --- trend per quarter and the overview of one unit ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TrendPoint:
    quarter: str
    numerator: int | None
    denominator: int | None
    rate: float | None
    interval: Interval | None
    suppressed: Suppressed | None


def _unit_filter(principal: Principal, igo_id: str | None) -> tuple[ColumnElement[bool], str | None]:
    """The pregnancies of the trend or overview: an IGO (own for IGO roles), else all in the reader's scope."""
    p = tables.pregnancies
    if principal.role in (Role.IGO_ADMIN, Role.IGO_BOARD):
        if igo_id not in (None, principal.igo_id):
            raise NotFoundError("igo", str(igo_id))
        return p.c.igo_id == principal.igo_id, principal.igo_id
    where = _scope(principal)
    return (and_(where, p.c.igo_id == igo_id), igo_id) if igo_id else (where, None)


def quarterly_trend(
    db: Database,
    principal: Principal,
    indicator_id: str,
    years: Sequence[int],
    igo_id: str | None = None,
    minimum: int | None = None,
    frame: pl.DataFrame | None = None,
) -> list[TrendPoint]:
    """A proportion indicator per quarter for one IGO (or everything in scope), with Wilson intervals.

    Outside the IGO the quarters of a year are suppressed as one table whose total is that year's figure (which
    the indicator table publishes), so a hidden quarter cannot be recovered from the year. ``frame``: a pre-read
    :func:`outcome_frame` in the reader's scope covering ``years``."""
    _check_reader(principal)
    indicator = indicator_by_id(indicator_id)
    if indicator.kind is not IndicatorKind.PROPORTION:
        raise ValueError(f"indicator {indicator_id!r} is a mean: the quarterly trend shows proportions")
    where, unit = _unit_filter(principal, igo_id)
    limit = _minimum(principal, minimum)
    if frame is None:
        data = outcome_frame(db, where, years)
    else:  # a pre-read frame in the reader's scope (reports): narrowed to the unit and years here
        data = frame.filter(pl.col("year").is_in(list(years)))
        data = data if unit is None else data.filter(pl.col("igo_id") == unit)
    counts = {row[0]: Tally(*row[1:]) for row in tally_frame(indicator, data, ["quarter"]).iter_rows()}
    outside = principal.role in OUTSIDE_ROLES
    points = []
    for year in sorted(years):
        quarters = [f"{year}-Q{q}" for q in range(1, 5)]
        cells = [(q, counts.get(q, Tally()).numerator, counts.get(q, Tally()).denominator) for q in quarters]
        pattern = suppression_pattern(cells, limit) if outside else None
        for quarter, x, n in cells:
            reason = pattern.reason(quarter) if pattern else None
            if reason is not None or n == 0:
                points.append(TrendPoint(quarter, None, None if reason else 0, None, None, reason))
                continue
            result = proportion_result(indicator.id, quarter, quarter, Tally(x, n))
            points.append(TrendPoint(quarter, x, n, result.rate, result.wilson, None))
    return points


@dataclass(frozen=True, slots=True)
class OverviewRow:
    """One indicator for the reader's unit next to everything else in its scope (the reference)."""

    indicator: Indicator
    unit: UnitRow  # the IGO (own for IGO roles); for outside readers suppressed where small
    reference: UnitRow  # all units in the reader's scope together


def indicator_overview(
    db: Database, principal: Principal, year: int, igo_id: str | None = None, minimum: int | None = None
) -> list[OverviewRow]:
    """Every indicator for one IGO and the reference (all IGOs in the reader's scope), for the overview page
    and the yearly report. Outside the IGO the IGO's row follows the suppression of the per-IGO table."""
    _check_reader(principal)
    own = principal.igo_id if principal.role in (Role.IGO_ADMIN, Role.IGO_BOARD) else igo_id
    if own is None:
        raise NotFoundError("igo", "")
    data = outcome_frame(db, _scope(principal), [year], many=True)
    rows = []
    for indicator in load_indicators().values():
        table = indicator_table(db, principal, indicator.id, year, minimum=minimum, frame=data)
        unit = next((r for r in table.rows if r.own or r.unit == own), None)
        if unit is None:  # no pregnancy of this IGO counts for the indicator
            unit = UnitRow(own, True, None, 0, None, None, None, None, None, None)
        rows.append(OverviewRow(indicator, unit, table.total))
    return rows


def insight_years(db: Database, principal: Principal) -> list[int]:
    """Years in which pregnancies in the reader's scope ended, newest first."""
    _check_reader(principal)
    p = tables.pregnancies
    where = _scope(principal)
    if principal.role in (Role.IGO_ADMIN, Role.IGO_BOARD):
        where = p.c.igo_id == principal.igo_id
    with db.unit_of_work() as connection:
        dates = connection.execute(
            select(p.c.end_date).where(where, p.c.end_date.is_not(None)).group_by(p.c.end_date)
        ).scalars()
        return sorted({d.year for d in dates}, reverse=True)


def igos_in_scope(db: Database, principal: Principal) -> list[str]:
    """The IGOs a reader may choose for an overview (IGO roles: their own)."""
    _check_reader(principal)
    if principal.role in (Role.IGO_ADMIN, Role.IGO_BOARD):
        return [str(principal.igo_id)]
    p = tables.pregnancies
    with db.unit_of_work() as connection:
        return list(
            connection.execute(
                select(p.c.igo_id).where(_scope(principal)).group_by(p.c.igo_id).order_by(p.c.igo_id)
            ).scalars()
        )
