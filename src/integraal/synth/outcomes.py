"""Synthetic birth outcomes (outcomes.csv): one row per trajectory, at realistic Dutch national rates.

This module owns *what happened at the birth* in a synthetic region: parity and multiple pregnancy, how labour
began, the mode and place of birth, perinatal death, NICU admission, blood loss, breastfeeding at discharge and
the patient-reported scores (PREM/PROM) - and which of them are missing. The generator decides the trajectory
(referral stage, end reason, dates); this module turns it into outcomes that fit it:

- births under primary care at birth (no referral) are spontaneous vaginal births at home, in a birth centre
  or at the hospital under the midwife (`hospital_primary`); every other birth is `hospital_secondary`;
- a planned caesarean happens only after a referral before labour (mostly without labour), an induction only
  then too; an emergency caesarean or an assisted vaginal birth only in secondary care;
- risk follows the trajectory: first births (nulliparous) have more emergency caesareans and assisted births,
  multiple pregnancies (only after a referral at intake or in pregnancy) and preterm births have more NICU
  admissions and perinatal deaths, perinatal death rises steeply with lower gestational age;
- each IGO and VSV has a small random effect on the log-odds of interventions and outcomes (and on the PREM/PROM
  means), so mirror information (funnel plots) shows realistic variation between units.

How the numbers are set: each yes/no outcome is a logistic model - odds ratios from `calibration.yaml` say *who*
has it, and an intercept solved per region says *how often*, so that the expected count equals the national
target (also in `calibration.yaml`, with sources) whatever the mix of the region. Everything is vectorised over
all trajectories and draws from one seeded stream, so the same inputs and seed give the same outcomes.

Gestational age: for a birth the generator sets end_date = due_date - 280 + gestational age at birth, so the
recorded `gestational_age_days` equals 280 + (end_date - due_date) exactly; preterm births are those born well
before their due date (about 7 %, `preterm` in calibration.yaml).

Unknowns: fields are left empty at realistic rates (`outcome_missing`; PREM/PROM only for responders). Fields
that only make sense for a birth are empty unless the trajectory's end_reason is `birth` (the importer rejects
them otherwise); ongoing and early-ended trajectories get parity and multiple pregnancy only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from integraal.insight.outcomes import MAX_GESTATION_DAYS
from integraal.synth.calibration import (
    BIRTH_MODES,
    BIRTH_PLACES,
    END_REASONS,
    LABOUR_ONSETS,
    REFERRAL_STAGES,
    model_value,
    target_value,
)

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: Columns of outcomes.csv, exactly as in docs/formats.md (and in that order).
OUTCOME_COLUMNS: tuple[str, ...] = (
    "pregnancy_id",
    "nulliparous",
    "multiple_pregnancy",
    "gestational_age_days",
    "labour_onset",
    "birth_mode",
    "birth_place",
    "perinatal_death",
    "nicu_admission",
    "blood_loss_ml",
    "breastfeeding_at_discharge",
    "prem_score",
    "prom_score",
)

UNKNOWN = -1
_PRETERM = 259  # 37+0 weeks
_POST_TERM = 287  # 41+0 weeks
_UNIT_EFFECTS = (
    "planned_caesarean",
    "induction",
    "perinatal_death",
    "emergency_caesarean",
    "assisted_vaginal",
    "home_birth",
    "nicu_admission",
    "haemorrhage",
    "breastfeeding",
    "prem",
    "prom",
)


@dataclass(frozen=True)
class OutcomeArrays:
    """Outcomes per trajectory as recorded in outcomes.csv, plus two true values the generator needs.

    Yes/no fields are 1 (yes), 0 (no) or -1 (unknown); categories are indices into LABOUR_ONSETS, BIRTH_MODES
    and BIRTH_PLACES (calibration.py) or -1; numbers are -1 when unknown. Birth-only fields are -1 unless the
    trajectory ended in a birth. Scores are in tenths (83 = 8.3).
    """

    nulliparous: IntArray
    multiple_pregnancy: IntArray
    gestational_age_days: IntArray
    labour_onset: IntArray
    birth_mode: IntArray
    birth_place: IntArray
    perinatal_death: IntArray
    nicu_admission: IntArray
    blood_loss_ml: IntArray
    breastfeeding_at_discharge: IntArray
    prem_tenths: IntArray
    prom_tenths: IntArray
    caesarean: BoolArray  # every trajectory that gave birth, never missing: drives the hospital stay
    home: BoolArray  # home birth, every trajectory that gave birth, never missing


# ----------------------------------------------------------------------------------------------- helpers


def _logit(p: FloatArray | float) -> FloatArray:
    q = np.clip(np.asarray(p, dtype=np.float64), 1e-9, 1 - 1e-9)
    result: FloatArray = np.log(q / (1 - q))
    return result


def _sigmoid(z: FloatArray) -> FloatArray:
    result: FloatArray = 1.0 / (1.0 + np.exp(-np.clip(z, -40.0, 40.0)))
    return result


def _intercept(z: FloatArray, expected: float) -> float:
    """The b for which sum(sigmoid(b + z)) equals `expected` (Newton's method; the sum is monotone in b)."""
    if z.size == 0 or expected <= 0:
        return -40.0
    expected = min(expected, 0.999 * z.size)
    b = float(_logit(expected / z.size)) - float(np.mean(z))
    for _ in range(60):
        q = _sigmoid(b + z)
        gap = float(q.sum()) - expected
        if abs(gap) <= 1e-7 * z.size:
            break
        slope = float((q * (1 - q)).sum())
        b -= float(np.clip(gap / max(slope, 1e-12), -2.0, 2.0))
    return b


def _probability(x: FloatArray, population: BoolArray, expected: float, where: BoolArray | None = None) -> FloatArray:
    """sigmoid(b + x) on `where` (default: `population`), 0 elsewhere, with the expected count of events in
    `population` equal to `expected`: the odds in x say who, the intercept b says how often."""
    b = _intercept(x[population], expected)
    result: FloatArray = np.where(population if where is None else where, _sigmoid(b + x), 0.0)
    return result


def _ln(odds_ratio: float, mask: BoolArray) -> FloatArray:
    """log(odds ratio) where `mask`, 0 elsewhere."""
    result: FloatArray = np.where(mask, np.log(odds_ratio), 0.0)
    return result


def _by_ga(ga: IntArray, weeks: list[float], values: list[float]) -> FloatArray:
    """Value of the gestational-age band (bands start at `weeks`) each age falls in; below the first: first."""
    starts = np.asarray(weeks, dtype=np.float64) * 7
    band = np.clip(np.searchsorted(starts, ga, side="right") - 1, 0, len(values) - 1)
    result: FloatArray = np.asarray(values, dtype=np.float64)[band]
    return result


def _flag(value: BoolArray, recorded: BoolArray) -> IntArray:
    result: IntArray = np.where(recorded, value.astype(np.int64), UNKNOWN)
    return result


# ------------------------------------------------------------------------------------------------ model


def simulate_outcomes(
    rng: np.random.Generator,
    *,
    end_reason: IntArray,
    born: BoolArray,
    birth_ga: IntArray,
    referral_stage: IntArray,
    igo: IntArray,
    vsv: IntArray,
    n_igo: int,
    n_vsv: int,
) -> OutcomeArrays:
    """Outcomes for every trajectory.

    - `end_reason`, `referral_stage`: indices into END_REASONS and REFERRAL_STAGES (calibration.py);
    - `born`: she gave birth (also when she died afterwards: end_reason maternal_death);
    - `birth_ga`: gestational age at birth in days (read where `born`);
    - `igo`, `vsv`: unit indices (for the random unit effects), with their counts.
    """
    n = end_reason.size
    odds: dict[str, dict[str, float]] = model_value("outcome_odds_ratios")
    recorded = end_reason == END_REASONS.index("birth")  # the birth fields are filled
    births = float(born.sum())
    stage = referral_stage

    sd: dict[str, float] = model_value("outcome_unit_effect_sd")
    igo_effect = rng.normal(0.0, sd["igo"], (len(_UNIT_EFFECTS), max(n_igo, 1)))
    vsv_effect = rng.normal(0.0, sd["vsv"], (len(_UNIT_EFFECTS), max(n_vsv, 1)))
    unit = {name: igo_effect[k][igo] + vsv_effect[k][vsv] for k, name in enumerate(_UNIT_EFFECTS)}

    ga = np.where(born, birth_ga, _PRETERM + 21)
    preterm = born & (ga < _PRETERM)
    post_term = born & (ga >= _POST_TERM)
    primary_birth = born & (stage == 0)
    secondary_birth = born & (stage > 0)
    before_labour = born & np.isin(stage, (REFERRAL_STAGES.index("intake"), REFERRAL_STAGES.index("pregnancy")))

    # Parity (every trajectory): by referral stage, then scaled to the national share of first births.
    by_stage: dict[str, float] = model_value("outcome_nulliparous_by_stage")
    stage_logit = _logit(np.array([by_stage[s or "none"] for s in REFERRAL_STAGES]))
    p = _probability(stage_logit[stage], born, target_value("nulliparous") * births, where=np.ones(n, dtype=np.bool_))
    nulliparous = rng.random(n) < p
    multiparous = ~nulliparous

    # Multiple pregnancy: obstetrician-led care from intake or pregnancy; much more often born preterm.
    mult: dict[str, Any] = model_value("outcome_multiple")
    may_be_multiple = np.isin(stage, [REFERRAL_STAGES.index(s) for s in mult["stages"]])
    x = _ln(float(mult["preterm_odds_ratio"]), preterm)
    p = _probability(x, born & may_be_multiple, target_value("multiple_pregnancy") * births, where=may_be_multiple)
    multiple = rng.random(n) < p

    # Planned caesarean: only after a referral before labour; then induction of the others.
    o = odds["planned_caesarean"]
    x = (
        _ln(o["multiparous"], multiparous)
        + _ln(o["multiple"], multiple)
        + _ln(o["preterm"], preterm)
        + _ln(o["referred_at_intake"], stage == REFERRAL_STAGES.index("intake"))
        + unit["planned_caesarean"]
    )
    planned = rng.random(n) < _probability(x, before_labour, target_value("caesarean_planned") * births)
    o = odds["induction"]
    x = (
        _ln(o["post_term"], post_term)
        + _ln(o["nulliparous"], nulliparous)
        + _ln(o["multiple"], multiple)
        + _ln(o["preterm"], preterm)
        + unit["induction"]
    )
    induced = rng.random(n) < _probability(x, before_labour & ~planned, target_value("induction") * births)
    in_labour = rng.random(n) < float(model_value("outcome_planned_caesarean_in_labour"))
    onset = np.full(n, UNKNOWN, dtype=np.int64)
    onset[born] = LABOUR_ONSETS.index("spontaneous")
    onset[induced] = LABOUR_ONSETS.index("induced")
    onset[planned & ~in_labour] = LABOUR_ONSETS.index("no_labour")

    # Perinatal death (stillbirth from 22 weeks or death in the first week): steeply by gestational age.
    death_table: dict[str, Any] = model_value("outcome_perinatal_death_by_ga")
    o = odds["perinatal_death"]
    base = _by_ga(ga, death_table["weeks"], [v / 1000 for v in death_table["per_1000"]])
    x = _logit(base) + _ln(o["multiple"], multiple) + _ln(o["primary_birth"], primary_birth) + unit["perinatal_death"]
    death = rng.random(n) < _probability(x, born, target_value("perinatal_mortality") / 1000 * births)
    stillbirth = death & (rng.random(n) < float(death_table["stillbirth_share"]))

    # Emergency caesarean and assisted vaginal birth: in secondary care, once labour has begun.
    o = odds["emergency_caesarean"]
    x = (
        _ln(o["nulliparous"], nulliparous)
        + _ln(o["induced"], induced)
        + _ln(o["multiple"], multiple)
        + _ln(o["preterm"], preterm)
        + _ln(o["perinatal_death"], death)
        + unit["emergency_caesarean"]
    )
    labouring = secondary_birth & ~planned
    emergency = rng.random(n) < _probability(x, labouring, target_value("caesarean_emergency") * births)
    o = odds["assisted_vaginal"]
    x = (
        _ln(o["nulliparous"], nulliparous)
        + _ln(o["induced"], induced)
        + _ln(o["preterm"], preterm)
        + _ln(o["perinatal_death"], death)
        + unit["assisted_vaginal"]
    )
    assisted = rng.random(n) < _probability(x, labouring & ~emergency, target_value("assisted_vaginal") * births)
    caesarean = planned | emergency
    mode = np.full(n, UNKNOWN, dtype=np.int64)
    mode[born] = BIRTH_MODES.index("spontaneous_vaginal")
    mode[assisted] = BIRTH_MODES.index("assisted_vaginal")
    mode[planned] = BIRTH_MODES.index("planned_caesarean")
    mode[emergency] = BIRTH_MODES.index("emergency_caesarean")

    # Place: primary-care births at home, in a birth centre or at the hospital under the midwife.
    x = _ln(odds["home_birth"]["multiparous"], multiparous) + unit["home_birth"]
    home = rng.random(n) < _probability(x, primary_birth, target_value("home_birth") * births)
    outpatient = primary_birth & ~home
    centre_share = float(model_value("outcome_birth_centre_share")) * births / max(float(outpatient.sum()), 1.0)
    centre = outpatient & (rng.random(n) < centre_share)
    place = np.full(n, UNKNOWN, dtype=np.int64)
    place[secondary_birth] = BIRTH_PLACES.index("hospital_secondary")
    place[outpatient] = BIRTH_PLACES.index("hospital_primary")
    place[centre] = BIRTH_PLACES.index("birth_centre")
    place[home] = BIRTH_PLACES.index("home")

    # NICU admission (a stillborn child is never admitted).
    nicu_table: dict[str, Any] = model_value("outcome_nicu_by_ga")
    o = odds["nicu_admission"]
    x = (
        _logit(_by_ga(ga, nicu_table["weeks"], nicu_table["share"]))
        + _ln(o["multiple"], multiple)
        + _ln(o["emergency_caesarean"], emergency)
        + _ln(o["primary_birth"], primary_birth)
        + unit["nicu_admission"]
    )
    nicu = rng.random(n) < _probability(x, born & ~stillbirth, target_value("nicu_admission") * births)

    # Blood loss: haemorrhage (> 1000 ml) by care line and mode, then an amount on the right side of 1000 ml.
    hb: dict[str, float] = model_value("outcome_haemorrhage_base")
    o = odds["haemorrhage"]
    line = np.where(primary_birth, hb["primary_birth"], np.where(caesarean, hb["caesarean"], hb["secondary_vaginal"]))
    x = (
        _logit(line)
        + _ln(o["nulliparous"], nulliparous)
        + _ln(o["multiple"], multiple)
        + _ln(o["assisted_vaginal"], assisted)
        + _ln(o["induced"], induced)
        + unit["haemorrhage"]
    )
    haemorrhage = rng.random(n) < _probability(x, born, target_value("postpartum_haemorrhage") * births)
    bl: dict[str, Any] = model_value("outcome_blood_loss")
    (va, vb), (ca, cb) = bl["vaginal_beta"], bl["caesarean_beta"]
    vaginal_ml = rng.beta(float(va), float(vb), n) * 1000
    caesarean_ml = rng.beta(float(ca), float(cb), n) * 1000
    excess_ml = rng.lognormal(np.log(bl["excess_median_ml"]), bl["excess_sigma"], n)
    step = float(bl["round_ml"])
    normal_ml = np.round(np.where(caesarean, caesarean_ml, vaginal_ml) / step) * step  # at most 1000
    heavy_ml = np.minimum(np.ceil((1000 + excess_ml) / step) * step, 20_000)  # above 1000
    blood_loss = np.where(haemorrhage, heavy_ml, normal_ml).astype(np.int64)

    # Breastfeeding at discharge from kraamzorg (live births).
    o = odds["breastfeeding"]
    live = born & ~death
    x = (
        _ln(o["primary_birth"], primary_birth)
        + _ln(o["caesarean"], caesarean)
        + _ln(o["nicu_admission"], nicu)
        + _ln(o["preterm"], preterm)
        + unit["breastfeeding"]
    )
    breastfeeding = rng.random(n) < _probability(
        x, live, target_value("breastfeeding_at_discharge") * float(live.sum())
    )

    # PREM/PROM: only responders (births); correlated scores that drop after a difficult birth.
    o = odds["prem_response"]
    x = _ln(o["nulliparous"], nulliparous) + _ln(o["perinatal_death"], death)
    responder = rng.random(n) < _probability(x, recorded, target_value("prem_response") * float(recorded.sum()))
    scores: dict[str, dict[str, float]] = model_value("outcome_scores")
    events = {
        "emergency_caesarean": emergency,
        "assisted_vaginal": assisted,
        "planned_caesarean": planned,
        "nicu_admission": nicu,
        "perinatal_death": death,
        "haemorrhage": haemorrhage,
        "home": home,
        "referral_in_labour": born & (stage == REFERRAL_STAGES.index("labour")),
        "nulliparous": nulliparous,
    }
    z_prem = rng.standard_normal(n)
    z_prom = 0.4 * z_prem + np.sqrt(1 - 0.4**2) * rng.standard_normal(n)
    tenths: dict[str, IntArray] = {}
    for name, z, top in (("prem", z_prem, 10.0), ("prom", z_prom, 100.0)):
        s = scores[name]
        value = s["mean"] + s["sd"] * z + s["unit_scale"] * unit[name]
        for event, mask in events.items():
            if event in s:
                value = value + np.where(mask, s[event], 0.0)
        tenths[name] = np.rint(np.clip(value, 0.0, top) * 10).astype(np.int64)

    # What is recorded: unknowns at realistic rates; birth fields only for trajectories that ended in a birth.
    missing: dict[str, float] = model_value("outcome_missing")

    def known(name: str, population: BoolArray) -> BoolArray:
        result: BoolArray = population & (rng.random(n) >= missing[name])
        return result

    everyone = np.ones(n, dtype=np.bool_)
    ga_known = known("gestational_age_days", recorded)
    onset_known = known("labour_onset", recorded)
    mode_known = known("birth_mode", recorded)
    place_known = known("birth_place", recorded)
    death_known = known("perinatal_death", recorded)
    return OutcomeArrays(
        nulliparous=_flag(nulliparous, known("nulliparous", everyone)),
        multiple_pregnancy=_flag(multiple, known("multiple_pregnancy", everyone)),
        gestational_age_days=np.where(ga_known, np.clip(ga, 0, MAX_GESTATION_DAYS), UNKNOWN).astype(np.int64),
        labour_onset=np.where(onset_known, onset, UNKNOWN).astype(np.int64),
        birth_mode=np.where(mode_known, mode, UNKNOWN).astype(np.int64),
        birth_place=np.where(place_known, place, UNKNOWN).astype(np.int64),
        perinatal_death=_flag(death, death_known),
        nicu_admission=_flag(nicu, known("nicu_admission", recorded)),
        blood_loss_ml=np.where(known("blood_loss_ml", recorded), blood_loss, UNKNOWN).astype(np.int64),
        breastfeeding_at_discharge=_flag(breastfeeding, known("breastfeeding_at_discharge", recorded & ~death)),
        prem_tenths=np.where(recorded & responder, tenths["prem"], UNKNOWN).astype(np.int64),
        prom_tenths=np.where(recorded & responder, tenths["prom"], UNKNOWN).astype(np.int64),
        caesarean=caesarean,
        home=home,
    )


# ------------------------------------------------------------------------------------------------ frame


def _text(values: IntArray) -> pl.Series:
    """Whole numbers as text; -1 (unknown) as the empty string."""
    text = pl.Series(np.maximum(values, 0)).cast(pl.Utf8)
    return pl.select(pl.when(pl.Series(values >= 0)).then(text).otherwise(pl.lit(""))).to_series()


def _decimal_text(tenths: IntArray) -> pl.Series:
    """Tenths as text with one decimal ("8.3", "100.0"); -1 (unknown) as the empty string."""
    safe = np.maximum(tenths, 0)
    whole = pl.Series(safe // 10).cast(pl.Utf8)
    fraction = pl.Series(safe % 10).cast(pl.Utf8)
    return pl.select(
        pl.when(pl.Series(tenths >= 0)).then(pl.concat_str([whole, pl.lit("."), fraction])).otherwise(pl.lit(""))
    ).to_series()


def _category_text(codes: IntArray, names: tuple[str, ...]) -> pl.Series:
    """Category codes as their names; -1 (unknown) as the empty string."""
    return pl.Series(["", *names], dtype=pl.Utf8).gather(codes + 1)


def outcome_frame(outcomes: OutcomeArrays, pregnancy_ids: pl.Series) -> pl.DataFrame:
    """outcomes.csv as a frame of strings (empty = unknown), one row per trajectory, columns OUTCOME_COLUMNS."""
    yes_no = ("no", "yes")
    o = outcomes
    data = {
        "pregnancy_id": pregnancy_ids.cast(pl.Utf8),
        "nulliparous": _category_text(o.nulliparous, yes_no),
        "multiple_pregnancy": _category_text(o.multiple_pregnancy, yes_no),
        "gestational_age_days": _text(o.gestational_age_days),
        "labour_onset": _category_text(o.labour_onset, LABOUR_ONSETS),
        "birth_mode": _category_text(o.birth_mode, BIRTH_MODES),
        "birth_place": _category_text(o.birth_place, BIRTH_PLACES),
        "perinatal_death": _category_text(o.perinatal_death, yes_no),
        "nicu_admission": _category_text(o.nicu_admission, yes_no),
        "blood_loss_ml": _text(o.blood_loss_ml),
        "breastfeeding_at_discharge": _category_text(o.breastfeeding_at_discharge, yes_no),
        "prem_score": _decimal_text(o.prem_tenths),
        "prom_score": _decimal_text(o.prom_tenths),
    }
    return pl.DataFrame({name: data[name].alias(name) for name in OUTCOME_COLUMNS})
