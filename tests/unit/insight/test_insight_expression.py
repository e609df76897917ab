"""The indicator condition language: parsed by hand, never eval'd; anything outside the grammar — attribute
access, calls, quotes, unknown fields, values of the wrong kind — is refused with a clear error."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from insight_builders import birth

from integraal.insight import BirthMode, ExpressionError, parse_condition
from integraal.insight.expression import MAX_DEPTH


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("gestational_age_days < 259", False),
        ("gestational_age_days >= 259", True),
        ("gestational_age_days == 280", True),
        ("gestational_age_days != 280", False),
        ("gestational_age_days <= 279.5", False),
        ("birth_mode == spontaneous_vaginal", True),
        ("birth_mode in [planned_caesarean, emergency_caesarean]", False),
        ("birth_mode not in [planned_caesarean, emergency_caesarean]", True),
        ("breastfeeding_at_discharge", True),
        ("not breastfeeding_at_discharge", False),
        ("nicu_admission == false", True),
        ("perinatal_death or nicu_admission", False),
        ("not (perinatal_death or nicu_admission) and end_reason == birth", True),
        ("prem_score is missing", True),
        ("prem_score is not missing", False),
        ("true", True),
        ("false or (true and not false)", True),
        ("blood_loss_ml > -1", True),
    ],
)
def test_conditions_evaluate_on_a_record(text: str, expected: bool) -> None:
    assert parse_condition(text).evaluate(birth("p")) is expected


def test_and_binds_tighter_than_or() -> None:
    record = birth("p")
    # true or (false and false) = true;  (true or false) and false = false
    assert parse_condition("breastfeeding_at_discharge or nicu_admission and perinatal_death").evaluate(record)
    assert not parse_condition("(breastfeeding_at_discharge or nicu_admission) and perinatal_death").evaluate(record)


def test_missing_values_follow_three_valued_logic() -> None:
    """A comparison with a missing value is unknown; false and unknown is false; true or unknown is true."""
    unknown_age = birth("p", gestational_age_days=None)
    assert parse_condition("gestational_age_days < 259").evaluate(unknown_age) is None
    assert parse_condition("not gestational_age_days < 259").evaluate(unknown_age) is None
    assert parse_condition("nicu_admission and gestational_age_days < 259").evaluate(unknown_age) is False
    assert parse_condition("breastfeeding_at_discharge or gestational_age_days < 259").evaluate(unknown_age) is True
    assert parse_condition("breastfeeding_at_discharge and gestational_age_days < 259").evaluate(unknown_age) is None
    assert parse_condition("gestational_age_days in [280]").evaluate(unknown_age) is None
    assert parse_condition("gestational_age_days is missing").evaluate(unknown_age) is True


def test_fields_lists_what_a_condition_reads() -> None:
    condition = parse_condition("end_reason == birth and not (nicu_admission or blood_loss_ml > 1000)")
    assert condition.fields == {"end_reason", "nicu_admission", "blood_loss_ml"}


def test_category_values_compare_with_enum_members() -> None:
    condition = parse_condition("birth_mode == emergency_caesarean")
    assert condition.evaluate(birth("p", birth_mode=BirthMode.EMERGENCY_CAESAREAN)) is True


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("perinatal_death.__class__", "attribute access"),
        ("birth_mode.value == home", "attribute access"),
        ("__import__(os)", "'_'"),
        ("__import__('os')", "quoted strings"),
        ("open(x)", "unknown field 'open'"),
        ("perinatal_death()", "function calls are not allowed"),
        ("birth_mode == home()", "not a value of 'birth_mode'"),
        ("birth_mode == planned_caesarean()", "function calls are not allowed"),
        ("unknown_field == 1", "unknown field 'unknown_field'"),
        ("gestational_age_days < 259 and foo", "unknown field 'foo'"),
        ("birth_mode == 'home'", "quoted strings"),
        ('birth_mode == "home"', "quoted strings"),
        ("birth_mode < 3", "needs a number field"),
        ("birth_mode == walking", "not a value of 'birth_mode'"),
        ("gestational_age_days == home", "expected a number"),
        ("perinatal_death == 1", "expected true or false"),
        ("gestational_age_days = 1", "use '=='"),
        ("perinatal_death && nicu_admission", "use 'and'"),
        ("!perinatal_death", "use 'not'"),
        ("gestational_age_days", "compare it with a value"),
        ("", "empty condition"),
        ("(perinatal_death", "to close '('"),
        ("perinatal_death perinatal_death", "unexpected 'perinatal_death'"),
        ("perinatal_death and", "expected a field name"),
        ("birth_mode in planned_caesarean", "expected '['"),
        ("birth_mode in [planned_caesarean", "to close the list"),
        ("birth_mode not planned_caesarean", "expected 'in' after 'not'"),
        ("prem_score is absent", "expected 'missing'"),
        ("and == 1", "keyword 'and'"),
        ("lambda: 1", "unexpected character ':'"),
        ("[x for x in ()]", "expected a field name"),
        ("not " * (MAX_DEPTH + 5) + "perinatal_death", "nested deeper"),
        ("(" * (MAX_DEPTH + 5) + "perinatal_death" + ")" * (MAX_DEPTH + 5), "nested deeper"),
        ("perinatal_death or " * 200 + "nicu_admission", "longer than"),
    ],
)
def test_unsafe_or_malformed_conditions_are_refused(text: str, reason: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        parse_condition(text)
    assert reason in str(caught.value)
    assert 0 <= caught.value.position <= len(text)


def test_error_names_the_position() -> None:
    with pytest.raises(ExpressionError) as caught:
        parse_condition("nicu_admission and colour == red")
    assert caught.value.position == len("nicu_admission and ")
    assert "known fields:" in str(caught.value)


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("abinotrudeflsm_ ()[],.=<>!'\"0123456789-")), max_size=60))
def test_any_text_parses_or_raises_only_expression_error(text: str) -> None:
    """Fuzz: the parser never lets another exception (or a hang) escape, whatever the input."""
    try:
        condition = parse_condition(text)
    except ExpressionError:
        return
    condition.evaluate(birth("p"))


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(["perinatal_death", "nicu_admission", "breastfeeding_at_discharge", "gestational_age_days < 259"]),
    st.sampled_from(["perinatal_death", "nicu_admission", "breastfeeding_at_discharge", "gestational_age_days < 259"]),
    st.booleans(),
    st.booleans(),
)
def test_connectives_match_python_on_known_values(left: str, right: str, negate: bool, conjunction: bool) -> None:
    record = birth("p", gestational_age_days=250, nicu_admission=True)
    a = parse_condition(left).evaluate(record)
    b = parse_condition(right).evaluate(record)
    joined = f"{'not ' if negate else ''}({left}) {'and' if conjunction else 'or'} ({right})"
    first = (not a) if negate else a  # 'not' binds tighter than 'and' / 'or'
    expected = (first and b) if conjunction else (first or b)
    assert parse_condition(joined).evaluate(record) is expected
