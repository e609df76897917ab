"""The columnar indicator path counts exactly what the per-record path counts (issue 6: a national year in
seconds, with the explanation of one pregnancy still available record by record)."""

from __future__ import annotations

from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st
from insight_builders import frame_of

from integraal.distribution.inputs import ClientProfile
from integraal.domain.pregnancy import EndReason
from integraal.insight import (
    OUTCOME_FIELDS,
    BirthMode,
    BirthPlace,
    LabourOnset,
    OutcomeRecord,
    load_indicators,
    parse_indicators,
    record_status,
    tally,
)
from integraal.insight.columnar import STATUS, status_expr, tallies
from integraal.insight.outcomes import FieldKind


def maybe(strategy: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(st.none(), strategy)


records = st.builds(
    OutcomeRecord,
    pregnancy_id=st.sampled_from(["a", "b", "c"]),
    end_reason=maybe(st.sampled_from(list(EndReason))),
    end_date=st.just(date(2025, 5, 1)),
    profile=maybe(st.sampled_from(list(ClientProfile))),
    nulliparous=maybe(st.booleans()),
    multiple_pregnancy=maybe(st.booleans()),
    gestational_age_days=maybe(st.integers(150, 320)),
    labour_onset=maybe(st.sampled_from(list(LabourOnset))),
    birth_mode=maybe(st.sampled_from(list(BirthMode))),
    birth_place=maybe(st.sampled_from(list(BirthPlace))),
    perinatal_death=maybe(st.booleans()),
    nicu_admission=maybe(st.booleans()),
    blood_loss_ml=maybe(st.integers(0, 3000)),
    breastfeeding_at_discharge=maybe(st.booleans()),
    prem_score=maybe(st.floats(0, 10, allow_nan=False)),
    prom_score=maybe(st.floats(0, 100, allow_nan=False)),
)


def atoms() -> st.SearchStrategy[str]:
    """Single conditions over every field with values of its kind (numbers around the usual thresholds)."""
    choices = []
    for name, spec in OUTCOME_FIELDS.items():
        if spec.kind is FieldKind.BOOLEAN:
            choices.append(st.sampled_from([name, f"{name} == true", f"{name} != false", f"{name} is missing"]))
        elif spec.kind is FieldKind.CATEGORY:
            values = list(spec.values)
            choices.append(
                st.tuples(
                    st.sampled_from(values), st.sampled_from(values), st.sampled_from(["==", "!=", "in", "not in"])
                ).map(lambda t, n=name: f"{n} {t[2]} [{t[0]}, {t[1]}]" if "in" in t[2] else f"{n} {t[2]} {t[0]}")
            )
        else:
            choices.append(
                st.tuples(
                    st.sampled_from(["<", "<=", ">", ">=", "==", "!="]), st.sampled_from(["7", "259", "1000", "8.5"])
                ).map(lambda t, n=name: f"{n} {t[0]} {t[1]}")
            )
            choices.append(st.just(f"{name} is not missing"))
    return st.one_of(choices)


conditions = st.recursive(
    atoms(),
    lambda inner: st.one_of(
        st.tuples(inner, inner).map(lambda t: f"({t[0]}) and ({t[1]})"),
        st.tuples(inner, inner).map(lambda t: f"({t[0]}) or ({t[1]})"),
        inner.map(lambda t: f"not ({t})"),
    ),
    max_leaves=5,
)


def indicator_of(denominator: str, numerator: str, exclusion: str):
    text = f"""
indicators:
  - id: generated
    name: {{nl: x, en: x}}
    explanation: {{nl: x, en: x}}
    denominator: "{denominator}"
    numerator: "{numerator}"
    exclusions: ["{exclusion}"]
    direction: none
    source: {{name: test, verified: false}}
"""
    return parse_indicators(text)["generated"]


@settings(max_examples=150, deadline=None)
@given(st.lists(records, min_size=1, max_size=30), conditions, conditions, conditions)
def test_generated_conditions_count_the_same_per_record_and_per_column(rows, denominator, numerator, exclusion):
    indicator = indicator_of(denominator, numerator, exclusion)
    frame = frame_of(rows)
    columnar = frame.select(status_expr(indicator))[STATUS].to_list()
    assert columnar == [record_status(indicator, r).value for r in rows]


@settings(max_examples=60, deadline=None)
@given(st.lists(records, min_size=1, max_size=60))
def test_every_shipped_indicator_tallies_the_same_per_unit(rows):
    frame = frame_of(rows)
    for indicator in load_indicators().values():
        by_unit = tallies(indicator, frame, ["pregnancy_id"])
        for unit in {r.pregnancy_id for r in rows}:
            expected = tally(indicator, [r for r in rows if r.pregnancy_id == unit])
            got = by_unit.get((unit,))
            if expected.denominator + expected.excluded + expected.missing == 0:
                assert got is None
            else:
                assert got == expected, (indicator.id, unit)
