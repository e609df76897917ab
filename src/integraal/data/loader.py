"""Load the per-year catalogue (``data/catalogue/<year>/``) into domain rule sets.

Rules and tariffs are data, versioned per year (DOMAIN.md §2): a new year is a new folder, not new code. A
broken catalogue file is a programming-time error, reported with file, row and field.
"""

from __future__ import annotations

import csv
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from integraal.domain.catalogue import (
    PHASE_MONO,
    ActivityType,
    Catalogue,
    Completion,
    IntegralPrestatie,
    MonoPrestatie,
    RuleSet,
    Unit,
)
from integraal.domain.contract import OverlapPolicy, PartialPolicy
from integraal.domain.phase import Phase
from integraal.domain.provider import Discipline
from integraal.rules.engine import INTEGRAL_CONDITIONS

CATALOGUE_ROOT = Path(__file__).parent / "catalogue"
_DECLARATION = re.compile(r"^phase_end(?:_plus_(\d+))?$")


class CatalogueError(ValueError):
    """A catalogue file is malformed; the message names file, row and field."""


def _rows(path: Path) -> list[tuple[int, dict[str, str]]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return [(i, {k: (v or "").strip() for k, v in row.items()}) for i, row in enumerate(csv.DictReader(handle), 1)]


def _int_or_none(value: str) -> int | None:
    return int(value) if value != "" else None


def _field(path: Path, row: int, name: str, parse: Any, value: str) -> Any:
    try:
        return parse(value)
    except (ValueError, KeyError) as exc:
        raise CatalogueError(f"{path}: row {row}, field {name!r}: invalid value {value!r} ({exc})") from exc


def _yes(value: str) -> bool:
    if value not in ("yes", "no"):
        raise ValueError("expected yes or no")
    return value == "yes"


def load_ruleset(folder: Path) -> RuleSet:
    meta_path = folder / "ruleset.yaml"
    meta = yaml.safe_load(meta_path.read_text(encoding="utf-8"))
    types_path = folder / "activity_types.csv"
    activity_types = {}
    for i, r in _rows(types_path):
        activity_types[r["code"]] = ActivityType(
            code=r["code"],
            disciplines=frozenset(
                _field(types_path, i, "disciplines", Discipline, d) for d in r["disciplines"].split("|") if d
            ),
            phase=None if r["phase"] == "by_date" else _field(types_path, i, "phase", Phase, r["phase"]),
            in_scope=_field(types_path, i, "in_scope", _yes, r["in_scope"]),
            mono=r["mono"],
            description_nl=r["description_nl"],
            description_en=r["description_en"],
            note=r.get("note", ""),
        )
    integral_path = folder / "integral_prestaties.csv"
    integral = []
    for i, r in _rows(integral_path):
        match = _DECLARATION.match(r["declaration_moment"])
        if match is None:
            raise CatalogueError(f"{integral_path}: row {i}, field 'declaration_moment': {r['declaration_moment']!r}")
        if r["condition"] not in INTEGRAL_CONDITIONS:
            raise CatalogueError(f"{integral_path}: row {i}, field 'condition': unknown {r['condition']!r}")
        integral.append(
            IntegralPrestatie(
                code=r["code"],
                phase=_field(integral_path, i, "phase", Phase, r["phase"]),
                condition=r["condition"],
                priority=_field(integral_path, i, "priority", int, r["priority"]),
                declaration_days=int(match.group(1) or 0),
                description_nl=r["description_nl"],
                description_en=r["description_en"],
            )
        )
    mono_path = folder / "mono_prestaties.csv"
    mono = []
    for i, r in _rows(mono_path):
        mono.append(
            MonoPrestatie(
                code=r["code"],
                discipline=_field(mono_path, i, "discipline", Discipline, r["discipline"]),
                phase=_field(mono_path, i, "phase", Phase, r["phase"]),
                unit=_field(mono_path, i, "unit", Unit, r["unit"]),
                tariff_cents=_field(mono_path, i, "tariff_cents", int, r["tariff_cents"]),
                start_week_min=_field(mono_path, i, "start_week_min", _int_or_none, r["start_week_min"]),
                start_week_max=_field(mono_path, i, "start_week_max", _int_or_none, r["start_week_max"]),
                end_week_min=_field(mono_path, i, "end_week_min", _int_or_none, r["end_week_min"]),
                end_week_max=_field(mono_path, i, "end_week_max", _int_or_none, r["end_week_max"]),
                completed=_field(mono_path, i, "completed", Completion, r["completed"]),
                priority=_field(mono_path, i, "priority", int, r["priority"]),
                estimated=_field(mono_path, i, "estimated", _yes, r["estimated"]),
                description_nl=r["description_nl"],
                description_en=r["description_en"],
            )
        )
    ruleset = RuleSet(
        version=str(meta["version"]),
        year=int(meta["year"]),
        policy_rule=str(meta.get("policy_rule", "")),
        overlap_policy=OverlapPolicy(meta["overlap_policy"]),
        partial_policy=PartialPolicy(meta["partial_trajectory_policy"]),
        postnatal_days=int(meta["postnatal_days"]),
        aftercare_days=int(meta.get("aftercare_days", 0)),
        activity_types=activity_types,
        integral_prestaties=tuple(integral),
        mono_prestaties=tuple(mono),
    )
    _check_references(folder, ruleset)
    return ruleset


def _check_references(folder: Path, ruleset: RuleSet) -> None:
    """Every per-activity mono code must be priced for each discipline that may deliver the activity."""
    for t in ruleset.activity_types.values():
        if not t.in_scope or t.mono == PHASE_MONO:
            continue
        for discipline in t.disciplines:
            if ruleset.mono(t.mono, discipline) is None:
                raise CatalogueError(
                    f"{folder / 'activity_types.csv'}: activity {t.code!r} claims as {t.mono!r}, "
                    f"but mono_prestaties.csv has no row for discipline {discipline.value!r}"
                )


@lru_cache(maxsize=4)
def load_catalogue(root: Path = CATALOGUE_ROOT) -> Catalogue:
    """All shipped rule sets (one per year folder)."""
    folders = sorted(p for p in root.iterdir() if p.is_dir() and p.name.isdigit())
    return Catalogue(load_ruleset(folder) for folder in folders)
