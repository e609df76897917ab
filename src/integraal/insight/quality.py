"""Quality scores per member, from the indicators, for the quality bonus pool (kwaliteitspot, issue 5 and 6).

Outcomes belong to a pregnancy, not to one provider: in integrated care the midwife, the kraamzorg organisation
and the hospital share them. A member's figures on an indicator are those of the pregnancies it cared for (at
least one of its activities), so members share credit and blame as they share the care.

Per member and indicator with a direction, counted as *adverse* outcomes (the numerator for a lower-is-better
indicator, the complement for a higher-is-better one; for a mean score on 0..top, ``top − score``):

- **observed** O: the member's adverse outcomes;
- **expected** E: what the member would have had at the *reference* rate of each woman's case-mix stratum
  (client profile × first birth, as the indicator lists) — so a member that cares for high-risk women is not
  punished for their risk (indirect standardisation, as in :mod:`integraal.insight.casemix`);
- **credible ratio** R = (O + c) / (E + c): with few births chance dominates, so ``c`` pseudo-events at the
  expected level pull the ratio towards 1 (a small member is neither rewarded nor punished for luck);
- **score** = clip(1 − R / 2, 0, 1): 1 = no adverse outcomes, 0.5 = as expected, 0 = twice expected or worse.

Indicators without a direction (a choice such as the home-birth share) give no score. This module must not
import storage, files or the web.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

import polars as pl

from integraal.insight.columnar import STATUS, status_expr
from integraal.insight.indicators import Direction, Indicator, IndicatorKind, Status
from integraal.insight.outcomes import PREM_RANGE, PROM_RANGE

CREDIBILITY_EVENTS = 5.0
"""``c``: pseudo-events at the expected level added to observed and expected (see the module docstring)."""
SCORE_PLACES = Decimal("0.0001")
MEAN_TOP = {"prem_score": PREM_RANGE[1], "prom_score": PROM_RANGE[1]}


@dataclass(frozen=True, slots=True)
class MemberIndicatorScore:
    """One member's score on one indicator, with the figures it rests on (for the explanation)."""

    agb: str
    indicator_id: str
    pregnancies: int  # counted in the indicator (complete cases)
    observed: float  # adverse outcomes (or score points below the top, for a mean indicator)
    expected: float
    ratio: float  # (O + c) / (E + c)
    score: Decimal  # 0..1, four decimals


def _adverse(indicator: Indicator) -> pl.Expr:
    """Per counted row: the adverse amount (1/0 for a proportion, top − value for a mean)."""
    status = pl.col(STATUS)
    if indicator.kind is IndicatorKind.MEAN:
        assert indicator.value_field is not None
        top = MEAN_TOP.get(indicator.value_field, 10.0)
        value = pl.col(indicator.value_field).cast(pl.Float64)
        return (top - value) if indicator.direction is Direction.HIGHER_IS_BETTER else value
    event = (status == Status.NUMERATOR.value).cast(pl.Float64)
    return (1.0 - event) if indicator.direction is Direction.HIGHER_IS_BETTER else event


def score_of(observed: float, expected: float, credibility: float = CREDIBILITY_EVENTS) -> tuple[float, Decimal]:
    """The credible ratio and the score (module docstring)."""
    ratio = (observed + credibility) / (expected + credibility)
    score = min(1.0, max(0.0, 1.0 - ratio / 2.0))
    return ratio, Decimal(repr(score)).quantize(SCORE_PLACES, rounding=ROUND_HALF_UP)


def reference_rates(indicators: Iterable[Indicator], reference: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """Per directional indicator, the adverse rate of each case-mix stratum of ``reference``: the expectation
    :func:`member_scores` compares with, computed once when many IGOs are scored against the same country."""
    return {
        indicator.id: _rates(indicator, reference.lazy()).collect()
        for indicator in indicators
        if indicator.direction is not Direction.NONE
    }


def _counted(indicator: Indicator, rows: pl.LazyFrame) -> pl.LazyFrame:
    """The rows counted for ``indicator`` with their adverse amount and the strata as text."""
    return (
        rows.with_columns(status_expr(indicator))
        .filter(pl.col(STATUS).is_in([Status.NUMERATOR.value, Status.DENOMINATOR.value]))
        .with_columns(_adverse(indicator).alias("__adverse"), *(pl.col(s).cast(pl.String) for s in indicator.casemix))
    )


def _rates(indicator: Indicator, reference: pl.LazyFrame) -> pl.LazyFrame:
    return _counted(indicator, reference).group_by(*indicator.casemix).agg(pl.col("__adverse").mean().alias("__rate"))


def member_scores(
    indicators: Iterable[Indicator],
    outcomes: pl.DataFrame,
    care: pl.DataFrame,
    reference: pl.DataFrame | None = None,
    credibility: float = CREDIBILITY_EVENTS,
    rates: Mapping[str, pl.DataFrame] | None = None,
) -> list[MemberIndicatorScore]:
    """Scores of every member in ``care`` on every directional indicator.

    - ``outcomes``: one row per pregnancy (``pregnancy_id`` and the outcome fields) of the members' IGO and year;
    - ``care``: ``(agb, pregnancy_id)`` pairs, a member that cared for a pregnancy (duplicates are ignored);
    - ``reference``: the outcome rows whose stratum rates give the expectation (default: ``outcomes``; pass the
      national year to compare with the country rather than with the IGO itself);
    - ``rates``: those stratum rates already computed (:func:`reference_rates`); ``reference`` is then unused.
    """
    reference = outcomes if reference is None else reference
    pairs = care.select("agb", "pregnancy_id").unique()
    scores: list[MemberIndicatorScore] = []
    for indicator in indicators:
        if indicator.direction is Direction.NONE:
            continue
        strata: Sequence[str] = indicator.casemix
        ref = rates[indicator.id].lazy() if rates is not None else _rates(indicator, reference.lazy())
        rows = _counted(indicator, outcomes.lazy())
        joined = (
            rows.join(ref, on=list(strata), how="left", nulls_equal=True) if strata else rows.join(ref, how="cross")
        )
        per_member = (
            joined.join(pairs.lazy(), on="pregnancy_id", how="inner")
            .group_by("agb")
            .agg(
                pl.len().alias("n"),
                pl.col("__adverse").sum().alias("observed"),
                pl.col("__rate").fill_null(0.0).sum().alias("expected"),
            )
            .sort("agb")
            .collect()
        )
        for agb, n, observed, expected in per_member.iter_rows():
            ratio, score = score_of(float(observed), float(expected), credibility)
            scores.append(
                MemberIndicatorScore(agb, indicator.id, int(n), float(observed), float(expected), ratio, score)
            )
    return scores
