"""The one scan the suppression tests share: which counts in a JSON body lie below the minimum cell size."""

from __future__ import annotations

from typing import Any

COUNT_KEYS = {"pregnancies", "lines", "numerator", "denominator", "excluded", "missing", "observed", "count"}
CASEMIX_COUNTS = {"pregnancies", "activities", "claim_lines", "decided", "fallback", "phases"}


def small_counts(value: Any, key: str = "", minimum: int = 10) -> list[str]:
    """Every count (by key, or by casemix measure) in a JSON body that is positive and below the minimum."""
    found: list[str] = []
    if isinstance(value, dict):
        if "measures" in value and "rows" in value:  # a casemix table: values by measure
            for row in value["rows"]:
                for measure, number in zip(value["measures"], row["values"], strict=True):
                    if measure in CASEMIX_COUNTS and isinstance(number, int) and 0 < number < minimum:
                        found.append(f"{value['name']}.{measure}={number}")
        for k, v in value.items():
            found += small_counts(v, k, minimum)
    elif isinstance(value, list):
        for item in value:
            found += small_counts(item, key, minimum)
    elif key in COUNT_KEYS and isinstance(value, int) and not isinstance(value, bool) and 0 < value < minimum:
        found.append(f"{key}={value}")
    return found


def small_complements(body: Any, minimum: int = 10) -> list[str]:
    """Every shown unit of an indicator table or overview whose numerator or complement (denominator −
    numerator) lies below the minimum: the women *without* the event are a count too."""
    units: list[dict[str, Any]] = []
    if isinstance(body, dict):
        units = [*body.get("units", []), body.get("total") or {}]
    elif isinstance(body, list):
        units = [row.get(part, {}) for row in body if isinstance(row, dict) for part in ("unit", "reference")]
    found = []
    for unit in units:
        x, n = unit.get("numerator"), unit.get("denominator")
        if isinstance(x, int) and isinstance(n, int) and (n - x < minimum or x < minimum):
            found.append(f"{unit.get('unit')}: {x} of {n}")
    return found
