"""Indicators over a whole table at once: conditions compiled to Polars expressions.

The per-record path (:func:`integraal.insight.indicators.record_status`) explains one pregnancy; a national year
(170,000 pregnancies × every indicator) needs the columnar path. Both must count exactly the same, so this module
compiles the *same* parsed conditions, with the same three-valued logic: Polars' boolean ``&``/``|`` already
follow Kleene logic with nulls (``false & null = false``, ``true | null = true``, ``~null = null``), and a
comparison with a null is null. A test compares both paths on generated records.

The frame has one row per pregnancy and one column per field of ``OUTCOME_FIELDS``: categories as strings
(their enum value), yes/no fields as booleans, numbers as integers or floats, unknown as null.

This module must not import storage, files or the web.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from integraal.insight.expression import (
    And,
    Compare,
    Condition,
    Constant,
    InList,
    IsMissing,
    IsTrue,
    Node,
    Not,
    Or,
)
from integraal.insight.indicators import Indicator, IndicatorKind, Status, Tally
from integraal.insight.outcomes import OUTCOME_FIELDS, FieldKind

STATUS = "__status"

_DTYPES: dict[FieldKind, pl.DataType] = {
    FieldKind.INTEGER: pl.Int64(),
    FieldKind.NUMBER: pl.Float64(),
    FieldKind.BOOLEAN: pl.Boolean(),
    FieldKind.CATEGORY: pl.String(),
}
OUTCOME_SCHEMA: dict[str, pl.DataType] = {name: _DTYPES[spec.kind] for name, spec in OUTCOME_FIELDS.items()}
"""The column types of an outcome frame (one column per field the conditions may name)."""


def _operands(field: str, value: str | float | bool) -> tuple[pl.Expr, pl.Expr]:
    """The column and the constant, comparable: numbers compare as floats (the parser keeps numbers as floats)."""
    if OUTCOME_FIELDS[field].kind in (FieldKind.INTEGER, FieldKind.NUMBER):
        return pl.col(field).cast(pl.Float64), pl.lit(float(value), dtype=pl.Float64())
    return pl.col(field), pl.lit(value, dtype=OUTCOME_SCHEMA[field])


def compile_node(node: Node) -> pl.Expr:
    """The Polars expression of one syntax-tree node: true, false or null (unknown)."""
    if isinstance(node, Constant):
        return pl.lit(node.value, dtype=pl.Boolean())
    if isinstance(node, IsTrue):
        return pl.col(node.field).cast(pl.Boolean())
    if isinstance(node, Compare):
        column, value = _operands(node.field, node.value)
        operations = {
            "==": column == value,
            "!=": column != value,
            "<": column < value,
            "<=": column <= value,
            ">": column > value,
            ">=": column >= value,
        }
        return operations[node.operator]
    if isinstance(node, InList):
        column = pl.col(node.field)
        if OUTCOME_FIELDS[node.field].kind in (FieldKind.INTEGER, FieldKind.NUMBER):
            column = column.cast(pl.Float64)
            values = pl.Series([float(v) for v in node.values], dtype=pl.Float64())
        else:
            values = pl.Series(list(node.values), dtype=OUTCOME_SCHEMA[node.field])
        found = column.is_in(values.implode())
        # A missing value is unknown, whatever the list (is_in would say false).
        return pl.when(column.is_null()).then(pl.lit(None, dtype=pl.Boolean())).otherwise(found != node.negated)
    if isinstance(node, IsMissing):
        return pl.col(node.field).is_not_null() if node.negated else pl.col(node.field).is_null()
    if isinstance(node, Not):
        return ~compile_node(node.operand)
    if isinstance(node, And):
        result = compile_node(node.operands[0])
        for operand in node.operands[1:]:
            result = result & compile_node(operand)
        return result
    if isinstance(node, Or):
        result = compile_node(node.operands[0])
        for operand in node.operands[1:]:
            result = result | compile_node(operand)
        return result
    raise TypeError(f"unknown node {type(node).__name__}")


def compile_condition(condition: Condition) -> pl.Expr:
    return compile_node(condition.node)


def status_expr(indicator: Indicator) -> pl.Expr:
    """How each row counts for ``indicator`` (the :class:`Status` value as text), in the rules' order."""
    denominator = compile_condition(indicator.denominator)
    excluded = pl.lit(False)
    for exclusion in indicator.exclusions:
        excluded = excluded | compile_condition(exclusion).fill_null(False)
    if indicator.kind is IndicatorKind.MEAN:
        assert indicator.value_field is not None
        event = pl.when(pl.col(indicator.value_field).is_null()).then(None).otherwise(pl.lit(False))
    else:
        assert indicator.numerator is not None
        event = compile_condition(indicator.numerator)
    return (
        pl.when(denominator.eq_missing(False))
        .then(pl.lit(Status.OUT.value))
        .when(excluded)
        .then(pl.lit(Status.EXCLUDED.value))
        .when(denominator.is_null())
        .then(pl.lit(Status.MISSING.value))
        .when(event.is_null())
        .then(pl.lit(Status.MISSING.value))
        .when(event)
        .then(pl.lit(Status.NUMERATOR.value))
        .otherwise(pl.lit(Status.DENOMINATOR.value))
        .alias(STATUS)
    )


COUNTS = ("numerator", "denominator", "excluded", "missing")
MEAN_SCALE = 100
"""Mean indicators sum their values in hundredths (``value_sum`` / ``MEAN_SCALE``; ``value_sum_sq`` /
``MEAN_SCALE``²)."""


def tally_frame(indicator: Indicator, frame: pl.DataFrame | pl.LazyFrame, by: Sequence[str]) -> pl.DataFrame:
    """Per group of ``by``: numerator, denominator, excluded and missing counts (groups with only rows outside
    the population are left out). For a mean indicator also ``value_sum`` and ``value_sum_sq`` over the counted
    rows, in hundredths (:data:`MEAN_SCALE`)."""
    status = pl.col(STATUS)
    aggregations = [
        (status == Status.NUMERATOR.value).sum().alias("numerator"),
        status.is_in([Status.NUMERATOR.value, Status.DENOMINATOR.value]).sum().alias("denominator"),
        (status == Status.EXCLUDED.value).sum().alias("excluded"),
        (status == Status.MISSING.value).sum().alias("missing"),
    ]
    if indicator.kind is IndicatorKind.MEAN:
        assert indicator.value_field is not None
        # In hundredths as integers: scores have at most two decimals (the import checks it), and an integer sum
        # is exact and independent of the order Polars adds in, so a mean never differs in its last digit.
        value = pl.col(indicator.value_field).cast(pl.Float64) * MEAN_SCALE
        counted = pl.when(status == Status.DENOMINATOR.value).then(value.round(0).cast(pl.Int64))
        aggregations += [counted.sum().alias("value_sum"), (counted * counted).sum().alias("value_sum_sq")]
    lazy = frame.lazy() if isinstance(frame, pl.DataFrame) else frame
    return (
        lazy.with_columns(status_expr(indicator))
        .filter(pl.col(STATUS) != Status.OUT.value)
        .group_by(list(by))
        .agg(aggregations)
        .with_columns(pl.col(c).cast(pl.Int64) for c in COUNTS)
        .sort(list(by))
        .collect()
    )


def tallies(indicator: Indicator, frame: pl.DataFrame, by: Sequence[str]) -> dict[tuple[str, ...], Tally]:
    """:func:`tally_frame` as :class:`Tally` per group key (each key a tuple of the ``by`` values as text)."""
    table = tally_frame(indicator, frame, by)
    return {
        tuple(str(row[name]) for name in by): Tally(
            row["numerator"], row["denominator"], row["excluded"], row["missing"]
        )
        for row in table.iter_rows(named=True)
    }
