"""Calibration of the synthetic region: targets, their sources, and how far a generated region is off.

This module owns two things: reading `calibration.yaml` (every number the generator draws from, each with
its public source and year, or marked *estimated*), and measuring a generated region against those targets
(`CalibrationRow`: target vs generated). Keeping both here means a reviewer can check in one place *why* the
synthetic region looks the way it does and *whether* it does, without reading the generator.

Dutch words used: *kraamzorg* (maternity home care after birth, paid per hour), *IGO* (integrale
geboortezorgorganisatie, the legal entity that claims integral birth care), *VSV* (verloskundig
samenwerkingsverband, the regional cooperation of birth-care providers).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import yaml

from integraal.insight.outcomes import BirthMode, BirthPlace, LabourOnset

if TYPE_CHECKING:
    from integraal.synth.outcomes import OutcomeArrays

#: End reasons as integer codes inside the generator (index into this tuple); 0 means "ongoing".
END_REASONS: tuple[str, ...] = (
    "",
    "birth",
    "miscarriage",
    "termination",
    "moved_away",
    "switched_provider",
    "maternal_death",
)
#: Referral stages as integer codes (0 = no referral).
REFERRAL_STAGES: tuple[str, ...] = ("", "intake", "pregnancy", "labour")
#: Outcome categories as integer codes (index into these tuples; -1 means unknown or not a birth).
LABOUR_ONSETS: tuple[str, ...] = tuple(v.value for v in LabourOnset)
BIRTH_MODES: tuple[str, ...] = tuple(v.value for v in BirthMode)
BIRTH_PLACES: tuple[str, ...] = tuple(v.value for v in BirthPlace)

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class CalibrationRow:
    """One calibrated parameter: the target (with source) next to the value the region actually has."""

    measure: str
    target: float
    generated: float
    unit: str
    source: str


@dataclass(frozen=True)
class Target:
    """A target from calibration.yaml."""

    name: str
    target: float
    unit: str
    tolerance: float | None
    year: int
    estimated: bool
    source: str


@cache
def load_config() -> dict[str, Any]:
    """The parsed calibration.yaml shipped inside this package (read once)."""
    text = (resources.files("integraal.synth") / "calibration.yaml").read_text(encoding="utf-8")
    config = yaml.safe_load(text)
    if not isinstance(config, dict):
        raise ValueError("calibration.yaml must contain a mapping")
    return config


def targets() -> dict[str, Target]:
    """All calibration targets by name."""
    result: dict[str, Target] = {}
    for name, entry in load_config()["targets"].items():
        tolerance = entry.get("tolerance")
        result[name] = Target(
            name=name,
            target=float(entry["target"]),
            unit=str(entry["unit"]),
            tolerance=None if tolerance is None else float(tolerance),
            year=int(entry["year"]),
            estimated=bool(entry["estimated"]),
            source=" ".join(str(entry["source"]).split()),
        )
    return result


def target_value(name: str) -> float:
    """The target value of one parameter (used by the generator to derive its probabilities)."""
    return targets()[name].target


def model_value(name: str) -> Any:
    """A model parameter (section `model` of calibration.yaml)."""
    return load_config()["model"][name]["value"]


def member_on_date(
    igo: IntArray,
    provider: IntArray,
    day: IntArray,
    m_igo: IntArray,
    m_provider: IntArray,
    m_start: IntArray,
    m_end: IntArray,
) -> BoolArray:
    """Whether `provider` was a member of `igo` on `day`, element-wise, for millions of rows at once.

    Membership periods (m_*) of one provider in one IGO must not overlap (docs/formats.md), so the only
    candidate period for a date is the last one that started on or before it: one sorted search finds it.
    Days are integer days since 1970-01-01; an open end is a day far in the future.
    """
    if m_igo.size == 0:
        return np.zeros(igo.shape, dtype=np.bool_)
    n_prov = int(max(int(provider.max(initial=0)), int(m_provider.max())) + 1)
    shift = np.int64(1) << np.int64(24)
    offset = np.int64(1) << np.int64(23)  # days are shifted to be positive
    m_key = (m_igo * n_prov + m_provider) * shift + (m_start + offset)
    order = np.argsort(m_key, kind="stable")
    m_key_sorted = m_key[order]
    key = (igo * n_prov + provider) * shift + (day + offset)
    pos = np.searchsorted(m_key_sorted, key, side="right") - 1
    valid = pos >= 0
    pos_c = np.where(valid, pos, 0)
    period = order[pos_c]
    same_pair = (m_igo[period] == igo) & (m_provider[period] == provider)
    result: BoolArray = valid & same_pair & (m_start[period] <= day) & (day <= m_end[period])
    return result


@dataclass(frozen=True)
class Facts:
    """What the generator knows about its region, as arrays (one entry per trajectory or activity).

    Some facts (place of birth, caesarean) are not columns of any CSV file; the rest could be recomputed
    from the frames, but arrays are exact (no BSN/date matching of activities without pregnancy_id).
    """

    end_reason: IntArray  # index into END_REASONS
    referral_stage: IntArray  # index into REFERRAL_STAGES
    ga_at_end: IntArray  # gestational age in days at end_date (births: at birth)
    intake_ga: IntArray  # gestational age in days at intake
    due_next_year: BoolArray
    home_birth: BoolArray
    caesarean: BoolArray
    kraamzorg_window_complete: BoolArray  # birth early enough that all kraamzorg lies before extraction
    insurer: IntArray  # index into the insurer list
    insurer_shares: tuple[float, ...]
    prenatal_end_day: IntArray  # labour date (births) or end date; activities before it are prenatal
    igo: IntArray  # IGO index per trajectory
    act_trajectory: IntArray
    act_code: IntArray
    act_provider: IntArray
    act_day: IntArray
    act_quantity: IntArray  # hundredths of a unit; 0 = not given
    codes: tuple[str, ...]
    in_scope: tuple[bool, ...]  # per code
    m_igo: IntArray
    m_provider: IntArray
    m_start: IntArray
    m_end: IntArray
    outcomes: OutcomeArrays  # outcomes.csv as recorded (unknowns and non-births are -1)


def _share(mask: BoolArray, denominator: BoolArray) -> float:
    total = int(denominator.sum())
    return float((mask & denominator).sum() / total) if total else float("nan")


def bundle_broken(facts: Facts) -> BoolArray:
    """Per trajectory: had in-scope care by a provider that was not a member of its IGO on that date."""
    scope = np.asarray(facts.in_scope, dtype=np.bool_)[facts.act_code]
    traj = facts.act_trajectory[scope]
    member = member_on_date(
        facts.igo[traj],
        facts.act_provider[scope],
        facts.act_day[scope],
        facts.m_igo,
        facts.m_provider,
        facts.m_start,
        facts.m_end,
    )
    broken = np.zeros(facts.end_reason.shape, dtype=np.bool_)
    broken[traj[~member]] = True
    return broken


def _known_share(values: IntArray, event: BoolArray, population: BoolArray) -> float:
    """Share of `event` among `population` rows whose recorded value is known (not -1)."""
    return _share(event, population & (values >= 0))


def _outcome_measures(facts: Facts, births: BoolArray) -> dict[str, float]:
    """Generated values of the outcome targets, measured on outcomes.csv as recorded (unknowns left out)."""
    o = facts.outcomes
    mode, onset = o.birth_mode, o.labour_onset
    live = births & (o.perinatal_death == 0)
    return {
        "nulliparous": _known_share(o.nulliparous, o.nulliparous == 1, births),
        "multiple_pregnancy": _known_share(o.multiple_pregnancy, o.multiple_pregnancy == 1, births),
        "perinatal_mortality": 1000.0 * _known_share(o.perinatal_death, o.perinatal_death == 1, births),
        "caesarean_planned": _known_share(mode, mode == BIRTH_MODES.index("planned_caesarean"), births),
        "caesarean_emergency": _known_share(mode, mode == BIRTH_MODES.index("emergency_caesarean"), births),
        "assisted_vaginal": _known_share(mode, mode == BIRTH_MODES.index("assisted_vaginal"), births),
        "induction": _known_share(onset, onset == LABOUR_ONSETS.index("induced"), births),
        "nicu_admission": _known_share(o.nicu_admission, o.nicu_admission == 1, births),
        "postpartum_haemorrhage": _known_share(o.blood_loss_ml, o.blood_loss_ml > 1000, births),
        "breastfeeding_at_discharge": _known_share(
            o.breastfeeding_at_discharge, o.breastfeeding_at_discharge == 1, live
        ),
        "prem_response": _share(o.prem_tenths >= 0, births),
    }


def measure(facts: Facts) -> list[CalibrationRow]:
    """Generated value of every target in calibration.yaml, in the file's order."""
    n = facts.end_reason.size
    everyone = np.ones(n, dtype=np.bool_)
    births = facts.end_reason == END_REASONS.index("birth")
    stage = facts.referral_stage
    code = {c: i for i, c in enumerate(facts.codes)}

    kz_rows = facts.act_code == code["KZ_UUR"]
    kz_hours = np.bincount(facts.act_trajectory[kz_rows], weights=facts.act_quantity[kz_rows] / 100.0, minlength=n)
    kz_births = births & facts.kraamzorg_window_complete
    with_kz = kz_births & (kz_hours > 0)

    contact_codes = np.array([code["VK_INTAKE"], code["VK_CONTROLE"], code["GYN_CONSULT"]])
    prenatal = np.isin(facts.act_code, contact_codes) & (facts.act_day < facts.prenatal_end_day[facts.act_trajectory])
    contacts = np.bincount(facts.act_trajectory[prenatal], minlength=n)
    term_early = births & (facts.ga_at_end >= 259) & (facts.intake_ga < 77)

    largest = int(np.argmax(np.asarray(facts.insurer_shares)))
    maternal = facts.end_reason == END_REASONS.index("maternal_death")

    generated: dict[str, float] = {
        "start_primary_care": _share(stage != REFERRAL_STAGES.index("intake"), births),
        "referral_pregnancy": _share(stage == REFERRAL_STAGES.index("pregnancy"), births),
        "referral_labour": _share(stage == REFERRAL_STAGES.index("labour"), births),
        "primary_care_birth": _share(stage == 0, births),
        "home_birth": _share(facts.home_birth, births),
        "caesarean": _share(facts.caesarean, births),
        "preterm": _share(facts.ga_at_end < 259, births),
        "intake_before_10_weeks": _share(facts.intake_ga < 70, everyone),
        "miscarriage": _share(facts.end_reason == END_REASONS.index("miscarriage"), everyone),
        "termination": _share(facts.end_reason == END_REASONS.index("termination"), everyone),
        "moved_away": _share(facts.end_reason == END_REASONS.index("moved_away"), everyone),
        "switched_provider": _share(facts.end_reason == END_REASONS.index("switched_provider"), everyone),
        "maternal_death": float(maternal.sum() / n * 100_000) if n else float("nan"),
        "kraamzorg_uptake": _share(kz_hours > 0, kz_births),
        "kraamzorg_hours_mean": float(kz_hours[with_kz].mean()) if with_kz.any() else float("nan"),
        "prenatal_checkups": float(contacts[term_early].mean()) if term_early.any() else float("nan"),
        "activities_per_pregnancy": float(facts.act_trajectory.size / n) if n else float("nan"),
        "bundle_breakers": _share(bundle_broken(facts), everyone),
        "due_next_year": _share(facts.due_next_year, everyone),
        "largest_insurer_share": _share(facts.insurer == largest, everyone),
        **_outcome_measures(facts, births),
    }
    rows: list[CalibrationRow] = []
    for name, t in targets().items():
        source = f"{t.source} ({'estimated, ' if t.estimated else ''}{t.year})"
        rows.append(CalibrationRow(name, t.target, generated[name], t.unit, source))
    return rows
