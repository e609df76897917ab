"""Synthetic region generator: a realistic, reproducible birth-care region as the import CSV files.

This module owns the *shape* of a synthetic region: which providers exist (community midwife practices,
hospitals, gynaecologists, kraamzorg organisations, ultrasound centres, labs, GPs, paediatricians), which of
them are members of an IGO and when, which insurers contracted which IGO at what tariff, how pregnancies
run (intake, referral, birth or another end), every care activity registered along the way and the birth
outcomes (outcomes.csv, modelled in synth/outcomes.py on the trajectory decided here). It exists so
the rest of Integraal (import, rules, claims, dashboards) can be developed, tested and demonstrated on data
that looks like a Dutch region - including the awkward cases: bundle breakers (bundelbrekers: in-scope care
by a non-member), membership periods, missing contracts, partial trajectories, activities without a
pregnancy_id - without touching any real person's data.

Why vectorised: a national year is ~170,000 pregnancies and millions of activities; each kind of activity is
generated for all pregnancies at once with numpy (np.repeat for per-pregnancy counts), never with a Python
loop per activity. Loops run only per provider, IGO or VSV.

Why seeded streams: each part of the region draws from its own random stream derived from (seed, year,
part), so the output is byte-identical for the same (pregnancies, seed, year), and changing one part of the
model does not reshuffle all the others.

All numbers come from calibration.yaml (see calibration.py for sources). Dutch words: *verloskundige*
(community midwife), *kraamzorg* (maternity home care, hours), *partusassistentie* (kraamzorg assistance at
a primary-care birth), *VSV* (regional cooperation of birth-care providers), *IGO* (the legal entity that
contracts insurers for integral birth care), *AGB* (8-digit provider code), *UZOVI* (4-digit insurer code),
*BSN* (9-digit citizen number with the 11-test).
"""

from __future__ import annotations

import csv
import io
import zlib
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from integraal.synth.calibration import (
    END_REASONS,
    REFERRAL_STAGES,
    CalibrationRow,
    Facts,
    load_config,
    measure,
    model_value,
    target_value,
)
from integraal.synth.outcomes import OUTCOME_COLUMNS, outcome_frame, simulate_outcomes

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: Columns of each CSV file kind, exactly as in docs/formats.md (and in that order).
COLUMNS: dict[str, tuple[str, ...]] = {
    "providers": ("agb", "name", "discipline", "city"),
    "igos": ("igo_id", "agb", "name"),
    "memberships": ("igo_id", "agb", "start_date", "end_date"),
    "insurers": ("uzovi", "name"),
    "contracts": (
        "contract_id",
        "igo_id",
        "uzovi",
        "year",
        "prestatie_code",
        "tariff_cents",
        "overlap_policy",
        "partial_trajectory_policy",
    ),
    "pregnancies": (
        "pregnancy_id",
        "bsn",
        "uzovi",
        "igo_id",
        "intake_date",
        "due_date",
        "labour_date",
        "end_date",
        "end_reason",
        "referral_date",
        "referral_stage",
    ),
    "activities": ("activity_id", "bsn", "pregnancy_id", "agb", "activity_code", "date", "quantity"),
    "outcomes": OUTCOME_COLUMNS,
}

#: Activity codes the generator uses (activity_types.csv; codes are stable across catalogue years).
CODES: tuple[str, ...] = (
    "VK_PRECONCEPTIE",
    "VK_INTAKE",
    "VK_CONTROLE",
    "VK_TERMIJNECHO",
    "ECHO_SEO",
    "LAB_ZWANGERSCHAP",
    "VK_GROEIECHO",
    "VK_CTG",
    "ECHO_GUO",
    "KIND_ANTENATAAL",
    "KZ_INTAKE",
    "GYN_CONSULT",
    "HA_CONSULT",
    "GYN_HIGHCARE",
    "VK_BEVALLING",
    "GYN_BEVALLING",
    "KZ_PARTUS",
    "GYN_KRAAMBED",
    "KZ_UUR",
    "VK_KRAAMBED",
    "VK_NACONTROLE",
)
C = {code: i for i, code in enumerate(CODES)}

_EPOCH = date(1970, 1, 1)
_OPEN_END = 10**6  # a day far in the future: membership without end date
_GA0 = 280  # due date = day 280 of gestation (40+0 weeks)
_PRETERM = 259  # 37+0 weeks

_CITIES: tuple[str, ...] = (
    "Amersfoort", "Apeldoorn", "Zwolle", "Deventer", "Leeuwarden", "Assen", "Emmen", "Hoorn", "Alkmaar",
    "Haarlem", "Leiden", "Delft", "Gouda", "Dordrecht", "Breda", "Tilburg", "Eindhoven", "Helmond",
    "Venlo", "Roermond", "Sittard", "Heerlen", "Nijmegen", "Arnhem", "Ede", "Tiel", "Den Bosch", "Oss",
    "Roosendaal", "Bergen op Zoom", "Goes", "Middelburg", "Terneuzen", "Lelystad", "Almere", "Hilversum",
    "Zaandam", "Purmerend", "Enschede", "Hengelo", "Almelo", "Groningen", "Drachten", "Heerenveen",
    "Meppel", "Hardenberg", "Doetinchem", "Winterswijk", "Harderwijk", "Utrecht",
)  # fmt: skip
_PRACTICE_NAMES: tuple[str, ...] = (
    "De Wieg", "Het Nest", "De Ooievaar", "Bakermat", "Levenslicht", "Moeder en Kind", "De Geboorte",
    "Navelstreng", "Het Begin", "De Kraamkamer", "Kiem", "Zwanger", "Baringa", "Vroedvrouwen", "De Buik",
)  # fmt: skip
_GP_NAMES: tuple[str, ...] = (
    "De Jong", "Jansen", "De Vries", "Van den Berg", "Bakker", "Visser", "Smit", "Meijer", "Mulder",
    "De Boer", "Bos", "Vos", "Peters", "Hendriks", "Dekker", "Brouwer", "Dijkstra", "Kok",
)  # fmt: skip


@dataclass(frozen=True)
class Region:
    """A synthetic region: one polars DataFrame per CSV file kind, all columns as strings (Utf8).

    Columns are exactly those of docs/formats.md, formatted as written to CSV (ISO dates, integer cents,
    empty string for "not given"). `calibration` compares the region with its targets: measured when first
    asked (a national year's measures take a quarter of its generation, and writing files does not need them).
    """

    providers: pl.DataFrame
    igos: pl.DataFrame
    memberships: pl.DataFrame
    insurers: pl.DataFrame
    contracts: pl.DataFrame
    pregnancies: pl.DataFrame
    activities: pl.DataFrame
    outcomes: pl.DataFrame
    facts: Facts = field(repr=False, compare=False)

    @cached_property
    def calibration(self) -> list[CalibrationRow]:
        return measure(self.facts)


# ----------------------------------------------------------------------------------------------- helpers


def _day(d: date) -> int:
    return (d - _EPOCH).days


def _rng(seed: int, year: int, part: str) -> np.random.Generator:
    """An independent random stream per part of the region (stable when other parts change)."""
    return np.random.default_rng([seed, year, zlib.crc32(part.encode("utf-8"))])


def _uniform_int(rng: np.random.Generator, low: IntArray | int, high: IntArray | int, size: int) -> IntArray:
    """Integers uniform in [low, high] (inclusive), element-wise; high < low yields low."""
    lo = np.asarray(low, dtype=np.int64)
    hi = np.maximum(np.asarray(high, dtype=np.int64), lo)
    return lo + np.floor(rng.random(size) * (hi - lo + 1)).astype(np.int64)


def _dates(days: IntArray) -> pl.Series:
    """ISO date strings for integer days since 1970-01-01 (formatted once per distinct day, then gathered)."""
    if days.size == 0:
        return pl.Series([], dtype=pl.Utf8)
    low = int(days.min())
    return _date_table(low, int(days.max())).gather(days - low)


def _date_table(low: int, high: int) -> pl.Series:
    """The ISO date strings of the days ``low`` … ``high`` (days since 1970-01-01), in order."""
    return pl.Series(np.arange(low, high + 1).astype("datetime64[D]")).dt.to_string("%Y-%m-%d")


def _gathered(table: pl.Series, index: str) -> pl.Expr:
    """``table``'s value at each row's position in column ``index``."""
    return pl.lit(table).gather(pl.col(index))


def _optional_dates(days: IntArray, given: BoolArray) -> pl.Series:
    text = _dates(np.where(given, days, 0))
    return pl.select(pl.when(pl.Series(given)).then(text).otherwise(pl.lit(""))).to_series()


def _utf8_frame(kind: str, data: dict[str, Any]) -> pl.DataFrame:
    frame = pl.DataFrame(data)
    return frame.select([pl.col(c).cast(pl.Utf8) for c in COLUMNS[kind]])


# --------------------------------------------------------------------------------------- catalogue data


def _catalogue_rows(year: int, name: str) -> list[dict[str, str]] | None:
    resource = resources.files("integraal") / "data" / "catalogue" / str(year) / name
    if not resource.is_file():
        return None
    return list(csv.DictReader(io.StringIO(resource.read_text(encoding="utf-8-sig"))))


def integral_prestaties(year: int, fallback_year: int | None = None) -> list[dict[str, str]]:
    """The integral prestaties of a year's catalogue (read at run time: codes may change per year)."""
    rows = _catalogue_rows(year, "integral_prestaties.csv")
    if rows is None and fallback_year is not None:
        rows = _catalogue_rows(fallback_year, "integral_prestaties.csv")
    if rows is None:
        raise FileNotFoundError(f"no integral_prestaties.csv in the catalogue for {year}")
    return rows


def _check_activity_codes(year: int) -> None:
    rows = _catalogue_rows(year, "activity_types.csv")
    if rows is None:
        return
    known = {r["code"] for r in rows}
    missing = [c for c in CODES if c not in known]
    if missing:
        raise ValueError(f"activity codes missing from the {year} catalogue: {missing}")


def _in_scope_flags(year: int) -> tuple[bool, ...]:
    rows = _catalogue_rows(year, "activity_types.csv") or []
    scope = {r["code"]: r["in_scope"].strip().lower() == "yes" for r in rows}
    out_of_scope = {"VK_PRECONCEPTIE", "ECHO_SEO", "ECHO_GUO", "GYN_HIGHCARE", "HA_CONSULT"}
    return tuple(scope.get(c, c not in out_of_scope) for c in CODES)


# ----------------------------------------------------------------------------------------------- layout


@dataclass
class _Layout:
    """Providers, IGOs, VSVs and memberships of the region (indices into the provider lists)."""

    agb: list[str] = field(default_factory=list)
    name: list[str] = field(default_factory=list)
    discipline: list[str] = field(default_factory=list)
    city: list[str] = field(default_factory=list)
    igo_id: list[str] = field(default_factory=list)
    igo_agb: list[str] = field(default_factory=list)
    igo_name: list[str] = field(default_factory=list)
    vsv_igo: list[int] = field(default_factory=list)
    vsv_weight: list[float] = field(default_factory=list)
    vsv_hospital: list[int] = field(default_factory=list)
    vsv_gynaecologist: list[int] = field(default_factory=list)
    vsv_paediatrics: list[int] = field(default_factory=list)
    vsv_lab: list[int] = field(default_factory=list)
    vsv_midwives: list[list[int]] = field(default_factory=list)
    vsv_midwife_weights: list[list[float]] = field(default_factory=list)
    vsv_gps: list[list[int]] = field(default_factory=list)
    igo_ultrasound: list[int] = field(default_factory=list)
    igo_kraamzorg: list[int] = field(default_factory=list)
    regional_kraamzorg: int = -1
    outside_kraamzorg: int = -1
    outside_ultrasound: int = -1
    outside_hospital: int = -1
    memberships: list[tuple[int, int, int, int]] = field(default_factory=list)  # igo, provider, start, end

    def add(self, discipline: str, name: str, city: str) -> int:
        self.discipline.append(discipline)
        self.name.append(name)
        self.city.append(city)
        return len(self.discipline) - 1

    def join(self, igo: int, provider: int, start: int, end: int = _OPEN_END) -> None:
        self.memberships.append((igo, provider, start, end))


def _build_layout(n: int, seed: int, year: int) -> _Layout:
    rng = _rng(seed, year, "layout")
    lay = _Layout()
    n_vsv = max(1, round(n / float(model_value("pregnancies_per_vsv"))))
    n_igo = min(int(model_value("max_igos")), n_vsv)
    per_practice = float(model_value("pregnancies_per_midwife_practice"))
    weights = rng.uniform(0.75, 1.25, n_vsv)
    weights /= weights.sum()

    def city_of(v: int) -> str:
        base = _CITIES[v % len(_CITIES)]
        return base if v < len(_CITIES) else f"{base} {v // len(_CITIES) + 1}"

    for k in range(n_igo):
        first_city = city_of(k)
        lay.igo_id.append(f"IGO-{k + 1:02d}")
        lay.igo_name.append(f"Integrale Geboortezorg {first_city}")
        lay.igo_ultrasound.append(lay.add("ultrasound", f"Echocentrum {first_city}", first_city))
        lay.igo_kraamzorg.append(lay.add("kraamzorg", f"Kraamzorg {first_city}", first_city))
    lay.regional_kraamzorg = lay.add("kraamzorg", "Kraamzorg De Regio", city_of(0))
    lay.outside_kraamzorg = lay.add("kraamzorg", "Kraamzorg Elders", "Buiten de regio")
    lay.outside_ultrasound = lay.add("ultrasound", "Echopraktijk Buiten de Regio", "Buiten de regio")
    lay.outside_hospital = lay.add("hospital", "Ziekenhuis Buiten de Regio", "Buiten de regio")

    for v in range(n_vsv):
        city = city_of(v)
        lay.vsv_igo.append(v % n_igo)
        lay.vsv_weight.append(float(weights[v]))
        lay.vsv_hospital.append(lay.add("hospital", f"Ziekenhuis {city}", city))
        lay.vsv_gynaecologist.append(lay.add("gynaecologist", f"Maatschap Gynaecologie {city}", city))
        lay.vsv_paediatrics.append(lay.add("paediatrics", f"Kindergeneeskunde {city}", city))
        lay.vsv_lab.append(lay.add("lab", f"Eerstelijnslaboratorium {city}", city))
        n_practices = max(3, round(n * weights[v] / per_practice))
        names = rng.permutation(len(_PRACTICE_NAMES))
        practices: list[int] = []
        for p in range(n_practices):
            label = _PRACTICE_NAMES[int(names[p % len(names)])]
            suffix = "" if p < len(names) else f" {p // len(names) + 1}"
            practices.append(lay.add("midwife", f"Verloskundigenpraktijk {label}{suffix} {city}", city))
        sizes = rng.lognormal(0.0, 0.35, n_practices)
        lay.vsv_midwives.append(practices)
        lay.vsv_midwife_weights.append([float(s) for s in sizes])
        gps = []
        for g in range(int(model_value("gps_per_vsv"))):
            surname = _GP_NAMES[int(rng.integers(len(_GP_NAMES)))]
            gps.append(lay.add("gp", f"Huisartsenpraktijk {surname} {city} {g + 1}", city))
        lay.vsv_gps.append(gps)

    # Memberships. Founding members joined when the IGO started (two years back, some one year back);
    # per IGO one midwife practice joins mid year-1 and one leaves just before the end of `year`, and the
    # ultrasound centre has a one-day gap (two periods), so membership dates visibly matter.
    founding = (_day(date(year - 2, 1, 1)), _day(date(year - 1, 1, 1)))
    for k in range(n_igo):
        vsvs = [v for v in range(n_vsv) if lay.vsv_igo[v] == k]

        def start() -> int:
            return founding[int(rng.random() < 0.2)]

        for v in vsvs:
            for provider in (lay.vsv_hospital[v], lay.vsv_gynaecologist[v], lay.vsv_paediatrics[v]):
                lay.join(k, provider, start())
            lay.join(k, lay.vsv_lab[v], start())
            for i, practice in enumerate(lay.vsv_midwives[v]):
                if v == vsvs[0] and i == 0:  # late joiner: a small practice
                    lay.vsv_midwife_weights[v][i] *= 0.3
                    lay.join(k, practice, _day(date(year - 1, 7, 1)))
                elif v == vsvs[0] and i == 1:  # leaves at the end of the year
                    lay.join(k, practice, start(), _day(date(year, 12, 28)))
                else:
                    lay.join(k, practice, start())
        lay.join(k, lay.igo_ultrasound[k], founding[0], _day(date(year, 3, 31)))
        lay.join(k, lay.igo_ultrasound[k], _day(date(year, 4, 2)))
        lay.join(k, lay.igo_kraamzorg[k], start())
        lay.join(k, lay.regional_kraamzorg, founding[0])

    # AGB codes: zorgsoort prefix + 6 unique digits per prefix (disciplines may share a prefix).
    prefixes: dict[str, str] = load_config()["agb_prefix"]
    lay.agb = [""] * len(lay.discipline)
    by_prefix: dict[str, list[int]] = {}
    for i, d in enumerate(lay.discipline):
        by_prefix.setdefault(prefixes[d], []).append(i)
    for prefix in sorted(by_prefix):
        members = by_prefix[prefix]
        numbers = rng.choice(900_000, size=len(members), replace=False) + 100_000
        for i, number in zip(members, numbers, strict=True):
            lay.agb[i] = f"{prefix}{int(number):06d}"
    igo_numbers = rng.choice(900_000, size=n_igo, replace=False) + 100_000
    lay.igo_agb = [f"{prefixes['igo']}{int(x):06d}" for x in igo_numbers]
    return lay


# ---------------------------------------------------------------------------------------------- insurers


@dataclass(frozen=True)
class _Insurer:
    uzovi: str
    name: str
    share: float


def _insurers() -> list[_Insurer]:
    return [_Insurer(str(i["uzovi"]), str(i["name"]), float(i["share"])) for i in load_config()["insurers"]]


def _contracts(lay: _Layout, insurers: list[_Insurer], seed: int, year: int) -> pl.DataFrame:
    """IGO x insurer x year (year-1 and year): one row per integral prestatie of that year's catalogue.

    The smallest insurer has no contract with the last IGO for `year` ("contract missing" must occur).
    Tariffs are synthetic: a base per prestatie phase/condition, varied a few % by insurer and IGO.
    Policies (synthetic design choice, so every rule path shows up in a demo): the two largest insurers keep
    the experiment's ban on overlapping prestaties in their contracts (``break_bundle``: a non-member's care
    breaks the bundle); the third largest lets the IGO claim integrally when a trajectory ends early. The
    others take the rule set's defaults.
    """
    rng = _rng(seed, year, "contracts")
    tariffs: dict[str, float] = load_config()["tariff_variation"]
    base: dict[str, dict[str, float]] = load_config()["tariffs_cents"]
    insurer_dev = rng.uniform(-tariffs["insurer_spread"], tariffs["insurer_spread"], len(insurers))
    igo_dev = rng.uniform(-tariffs["igo_spread"], tariffs["igo_spread"], len(lay.igo_id))
    smallest = min(range(len(insurers)), key=lambda j: insurers[j].share)
    by_size = sorted(range(len(insurers)), key=lambda j: -insurers[j].share)
    overlap = dict.fromkeys(by_size[:2], "break_bundle")
    partial = {by_size[2]: "integral"} if len(by_size) > 2 else {}
    rows: dict[str, list[str]] = {c: [] for c in COLUMNS["contracts"]}
    for y in (year - 1, year):
        prestaties = integral_prestaties(y, fallback_year=year)
        for k, igo in enumerate(lay.igo_id):
            for j, insurer in enumerate(insurers):
                if y == year and j == smallest and k == len(lay.igo_id) - 1:
                    continue
                for p in prestaties:
                    by_condition = base.get(p.get("phase", ""), base["other"])
                    cents = by_condition.get(p.get("condition", ""), by_condition["default"])
                    cents *= (1 + insurer_dev[j]) * (1 + igo_dev[k])
                    if y < year:
                        cents *= tariffs["previous_year_factor"]
                    rows["contract_id"].append(f"{igo}-{insurer.uzovi}-{y}")
                    rows["igo_id"].append(igo)
                    rows["uzovi"].append(insurer.uzovi)
                    rows["year"].append(str(y))
                    rows["prestatie_code"].append(p["code"])
                    rows["tariff_cents"].append(str(round(cents / 100.0) * 100))
                    rows["overlap_policy"].append(overlap.get(j, ""))
                    rows["partial_trajectory_policy"].append(partial.get(j, ""))
    return _utf8_frame("contracts", rows)


# ---------------------------------------------------------------------------------------------- people


def valid_bsns(count: int, rng: np.random.Generator) -> IntArray:
    """`count` distinct 9-digit BSNs passing the 11-test (first digit 1-9), in random order."""
    weights = np.array([9, 8, 7, 6, 5, 4, 3, 2], dtype=np.int64)
    found = np.empty(0, dtype=np.int64)
    while found.size < count:
        draw = max(2 * (count - found.size), 64)
        digits = rng.integers(0, 10, size=(draw, 8))
        digits[:, 0] = rng.integers(1, 10, size=draw)
        check = (digits @ weights) % 11  # sum(d_i * w_i) - d9 must be divisible by 11
        ok = check < 10
        number = digits[ok] @ (10 ** np.arange(8, 0, -1, dtype=np.int64)) + check[ok]
        found = np.concatenate([found, number])
        _, first = np.unique(found, return_index=True)
        found = found[np.sort(first)]
    return found[:count]


@dataclass
class _Trajectories:
    n: int
    vsv: IntArray
    igo: IntArray
    midwife: IntArray
    kraamzorg: IntArray
    gp: IntArray
    insurer: IntArray
    ga0: IntArray  # day of gestational age 0 (due date - 280)
    due: IntArray
    intake_ga: IntArray
    intake: IntArray
    due_next_year: BoolArray
    outcome: IntArray  # index into END_REASONS (0 = ongoing)
    end: IntArray
    labour: IntArray
    born: BoolArray  # gave birth on or before the extraction date
    birth: IntArray
    prenatal_end: IntArray  # labour date or end of care; prenatal activities stop before it
    stage: IntArray  # index into REFERRAL_STAGES
    referral: IntArray
    secondary_from: IntArray  # day from which the hospital leads prenatal care (referral), else open
    direct_secondary: BoolArray
    home: BoolArray  # home birth (synth.outcomes decides, before the activities are made)
    caesarean: BoolArray  # planned or emergency caesarean (synth.outcomes)
    bsn: IntArray
    woman_has_two: BoolArray


def _simulate(lay: _Layout, insurers: list[_Insurer], n: int, seed: int, year: int) -> _Trajectories:
    rng = _rng(seed, year, "trajectories")
    extraction = _day(date(year, 12, 31))
    first, last = _day(date(year, 1, 1)), _day(date(year, 12, 31))

    # Due dates over `year`, a small share early in year+1 (still ongoing at extraction).
    n_next = round(n * target_value("due_next_year"))
    due = np.concatenate(
        [
            _uniform_int(rng, first, last, n - n_next),
            _uniform_int(rng, last + 1, _day(date(year + 1, 2, 28)), n_next),
        ]
    )
    due_next_year = due > last
    order = np.lexsort((rng.random(n), due))  # trajectories numbered in due-date order
    due, due_next_year = due[order], due_next_year[order]
    ga0 = due - _GA0

    # Where she lives (VSV -> IGO), her midwife practice, kraamzorg organisation, GP and insurer.
    vsv = rng.choice(len(lay.vsv_weight), size=n, p=np.asarray(lay.vsv_weight))
    igo = np.asarray(lay.vsv_igo, dtype=np.int64)[vsv]
    midwife = np.empty(n, dtype=np.int64)
    gp = np.empty(n, dtype=np.int64)
    for v in range(len(lay.vsv_weight)):
        rows = np.flatnonzero(vsv == v)
        w = np.asarray(lay.vsv_midwife_weights[v])
        midwife[rows] = np.asarray(lay.vsv_midwives[v])[rng.choice(w.size, size=rows.size, p=w / w.sum())]
        gp[rows] = np.asarray(lay.vsv_gps[v])[rng.integers(0, len(lay.vsv_gps[v]), rows.size)]
    u = rng.random(n)
    p_outside = float(model_value("outside_kraamzorg_share"))
    kraamzorg = np.where(
        u < p_outside,
        lay.outside_kraamzorg,
        np.where(u < p_outside + 0.6, lay.regional_kraamzorg, np.asarray(lay.igo_kraamzorg)[igo]),
    ).astype(np.int64)
    shares = np.array([i.share for i in insurers])
    insurer = rng.choice(len(insurers), size=n, p=shares / shares.sum())

    # Gestational age at intake: mostly 7-10 weeks, some 10-14, a few late.
    iw: dict[str, Any] = model_value("intake_weeks")
    u = rng.random(n)
    intake_ga = np.where(
        u < iw["early_share"],
        _uniform_int(rng, iw["early_days"][0], iw["early_days"][1], n),
        np.where(
            u < iw["early_share"] + iw["mid_share"],
            _uniform_int(rng, iw["mid_days"][0], iw["mid_days"][1], n),
            _uniform_int(rng, iw["late_days"][0], iw["late_days"][1], n),
        ),
    )
    intake = ga0 + intake_ga

    # Gestational age at (spontaneous) birth for everyone; the outcome decides whether it happens.
    term: dict[str, float] = model_value("term_birth_ga_days")
    mix: dict[str, float] = model_value("preterm_ga_mix")
    u = rng.random(n)
    cut = np.cumsum([mix["late_32_36"], mix["moderate_28_32"], mix["early_24_28"]])
    preterm_ga = np.where(
        u < cut[0],
        _uniform_int(rng, 224, 258, n),
        np.where(u < cut[1], _uniform_int(rng, 196, 223, n),
                 np.where(u < cut[2], _uniform_int(rng, 168, 195, n), _uniform_int(rng, 154, 167, n))),
    )  # fmt: skip
    term_ga = np.clip(np.rint(rng.normal(term["mean"], term["sd"], n)), term["min"], term["max"])
    birth_ga = np.where(rng.random(n) < target_value("preterm"), preterm_ga, term_ga.astype(np.int64))
    birth_ga = np.maximum(birth_ga, intake_ga + 21)
    birth_day = ga0 + birth_ga
    labour_day = birth_day - (rng.random(n) < float(model_value("labour_day_before_birth_share")))

    # Outcome of the trajectory.
    names = ("miscarriage", "termination", "moved_away", "switched_provider")
    p = np.array([target_value(x) for x in names] + [target_value("maternal_death") / 100_000])
    u = rng.random(n)
    cuts = np.cumsum(p)
    outcome = np.full(n, END_REASONS.index("birth"), dtype=np.int64)
    for i, reason in enumerate((*names, "maternal_death")):
        low = cuts[i - 1] if i else 0.0
        outcome[(u >= low) & (u < cuts[i])] = END_REASONS.index(reason)

    end_ga = birth_ga.copy()
    latest = birth_ga - 1
    mis = outcome == END_REASONS.index("miscarriage")
    end_ga[mis] = np.minimum(
        intake_ga[mis] + 1 + np.floor(rng.exponential(16.0, int(mis.sum()))).astype(np.int64),
        np.minimum(latest[mis], 153),
    )
    ter = outcome == END_REASONS.index("termination")
    early = rng.random(n) < 0.3
    end_ga[ter] = np.where(
        early[ter],
        intake_ga[ter] + _uniform_int(rng, 3, 28, int(ter.sum())),
        np.maximum(_uniform_int(rng, 140, 168, int(ter.sum())), intake_ga[ter] + 3),
    )
    for reason in ("moved_away", "switched_provider"):
        m = outcome == END_REASONS.index(reason)
        end_ga[m] = _uniform_int(rng, intake_ga[m] + 7, latest[m], int(m.sum()))
    death = outcome == END_REASONS.index("maternal_death")
    antepartum = death & (rng.random(n) < 0.4)
    end_ga[antepartum] = _uniform_int(
        rng, np.maximum(intake_ga[antepartum] + 7, 140), latest[antepartum], int(antepartum.sum())
    )
    end_ga = np.minimum(np.maximum(end_ga, intake_ga + 1), birth_ga)
    end = ga0 + end_ga
    postpartum = death & ~antepartum
    end[postpartum] = birth_day[postpartum] + _uniform_int(rng, 0, 30, int(postpartum.sum()))

    # What is known at extraction: a postpartum death after it is still "birth"; anything later is ongoing.
    late_death = postpartum & (end > extraction) & (birth_day <= extraction)
    outcome[late_death] = END_REASONS.index("birth")
    end[late_death] = birth_day[late_death]
    ongoing = end > extraction
    outcome[ongoing] = 0
    born = np.isin(outcome, (END_REASONS.index("birth"),)) | (postpartum & ~ongoing & ~late_death)
    born &= ~ongoing
    prenatal_end = np.where(born | ongoing, labour_day, end)

    # Referral from primary to secondary care.
    t_intake = 1.0 - target_value("start_primary_care")
    t_pregnancy = target_value("referral_pregnancy")
    t_labour = target_value("referral_labour")
    primary_at_labour = 1.0 - t_intake - t_pregnancy
    forced = primary_at_labour * target_value("preterm")
    p_pregnancy = t_pregnancy / (1.0 - t_intake)
    p_labour = (t_labour - forced) / (primary_at_labour - forced)

    stage = np.zeros(n, dtype=np.int64)
    referral = np.zeros(n, dtype=np.int64)
    at_intake = rng.random(n) < t_intake
    stage[at_intake] = REFERRAL_STAGES.index("intake")
    referral[at_intake] = intake[at_intake]
    labour_ga = labour_day - ga0
    ref_ga = intake_ga + np.floor((labour_ga - intake_ga) * rng.beta(1.6, 1.0, n)).astype(np.int64)
    ref_ga = np.clip(ref_ga, intake_ga + 1, labour_ga - 1)
    in_pregnancy = ~at_intake & (rng.random(n) < p_pregnancy) & (ga0 + ref_ga < prenatal_end)
    in_pregnancy &= ga0 + ref_ga <= extraction
    stage[in_pregnancy] = REFERRAL_STAGES.index("pregnancy")
    referral[in_pregnancy] = (ga0 + ref_ga)[in_pregnancy]
    in_labour = born & (stage == 0) & ((birth_ga < _PRETERM) | (rng.random(n) < p_labour))
    stage[in_labour] = REFERRAL_STAGES.index("labour")
    referral[in_labour] = labour_day[in_labour]
    secondary_from = np.where(np.isin(stage, (1, 2)), referral, _OPEN_END)
    direct_secondary = at_intake & (rng.random(n) < float(model_value("direct_secondary_intake_share")))

    # Women: unique BSNs; some women miscarry and start a new trajectory later in the window.
    bsn = valid_bsns(n, rng)
    woman_has_two = np.zeros(n, dtype=np.bool_)
    gap = 60
    pred = np.flatnonzero(
        (outcome == END_REASONS.index("miscarriage"))
        & (rng.random(n) < float(model_value("second_trajectory_after_miscarriage_share")))
    )
    pool = np.setdiff1d(np.arange(n), pred)
    pool = pool[np.argsort(intake[pool], kind="stable")]
    start_at = np.searchsorted(intake[pool], end[pred] + gap)
    has = start_at < pool.size
    pred, start_at = pred[has], start_at[has]
    pick = start_at + np.floor(rng.random(pred.size) * (pool.size - start_at)).astype(np.int64)
    succ = pool[pick]
    _, keep = np.unique(succ, return_index=True)
    pred, succ = pred[np.sort(keep)], succ[np.sort(keep)]
    bsn[succ] = bsn[pred]
    woman_has_two[pred] = True
    woman_has_two[succ] = True

    return _Trajectories(
        n=n, vsv=vsv, igo=igo, midwife=midwife, kraamzorg=kraamzorg, gp=gp, insurer=insurer, ga0=ga0,
        due=due, intake_ga=intake_ga, intake=intake, due_next_year=due_next_year, outcome=outcome, end=end,
        labour=labour_day, born=born, birth=birth_day, prenatal_end=prenatal_end, stage=stage,
        referral=referral, secondary_from=secondary_from, direct_secondary=direct_secondary,
        home=np.zeros(n, dtype=np.bool_), caesarean=np.zeros(n, dtype=np.bool_),  # set from the outcomes
        bsn=bsn, woman_has_two=woman_has_two,
    )  # fmt: skip


# ---------------------------------------------------------------------------------------------- activities


class _Activities:
    """Column buffers: each kind of activity is appended for all trajectories at once."""

    def __init__(self) -> None:
        self.traj: list[IntArray] = []
        self.provider: list[IntArray] = []
        self.code: list[IntArray] = []
        self.day: list[IntArray] = []
        self.quantity: list[IntArray] = []

    def add(
        self,
        traj: IntArray,
        provider: IntArray | int,
        code: IntArray | int,
        day: IntArray,
        quantity: IntArray | int = 0,
    ) -> None:
        size = traj.size
        self.traj.append(traj.astype(np.int64))
        self.provider.append(np.broadcast_to(np.asarray(provider, dtype=np.int64), size).copy())
        self.code.append(np.broadcast_to(np.asarray(code, dtype=np.int64), size).copy())
        self.day.append(day.astype(np.int64))
        self.quantity.append(np.broadcast_to(np.asarray(quantity, dtype=np.int64), size).copy())


def _pick(rng: np.random.Generator, size: int, options: list[IntArray | int], probs: list[float]) -> IntArray:
    """Per row, one of `options` (arrays aligned with the rows, or constants) with probabilities."""
    u = rng.random(size)
    cuts = np.cumsum(probs) / np.sum(probs)
    result = np.broadcast_to(np.asarray(options[-1], dtype=np.int64), size).copy()
    for i in range(len(options) - 2, -1, -1):
        chosen = u < cuts[i]
        result[chosen] = np.broadcast_to(np.asarray(options[i], dtype=np.int64), size)[chosen]
    return result


def _activities(lay: _Layout, t: _Trajectories, seed: int, year: int, in_scope: tuple[bool, ...]) -> _Activities:
    rng = _rng(seed, year, "activities")
    acts = _Activities()
    n = t.n
    idx = np.arange(n, dtype=np.int64)
    hospital = np.asarray(lay.vsv_hospital, dtype=np.int64)[t.vsv]
    gynaecologist = np.asarray(lay.vsv_gynaecologist, dtype=np.int64)[t.vsv]
    paediatrics = np.asarray(lay.vsv_paediatrics, dtype=np.int64)[t.vsv]
    lab = np.asarray(lay.vsv_lab, dtype=np.int64)[t.vsv]
    ultrasound = np.asarray(lay.igo_ultrasound, dtype=np.int64)[t.igo]
    clinician = np.where(rng.random(n) < 0.6, hospital, gynaecologist)  # who leads secondary care
    stop = t.prenatal_end  # prenatal activities happen strictly before this day
    secondary = t.secondary_from

    def before(day: IntArray, rows: IntArray) -> BoolArray:
        return day < stop[rows]

    # Preconception consult (out of scope) before the intake.
    rows = idx[rng.random(n) < 0.03]
    day = t.intake[rows] - _uniform_int(rng, 30, 200, rows.size)
    prov = np.where(rng.random(rows.size) < 0.5, t.midwife[rows], t.gp[rows])
    acts.add(rows, prov, C["VK_PRECONCEPTIE"], day)

    # Intake: by the community midwife, or straight at the hospital (medical indication from the start).
    direct = t.direct_secondary
    acts.add(idx[~direct], t.midwife[~direct], C["VK_INTAKE"], t.intake[~direct])
    acts.add(idx[direct], clinician[direct], C["GYN_CONSULT"], t.intake[direct])
    rows = idx[t.stage == REFERRAL_STAGES.index("intake")]
    rows = rows[~direct[rows]]
    day = t.intake[rows] + _uniform_int(rng, 7, 21, rows.size)
    keep = before(day, rows)
    acts.add(rows[keep], clinician[rows[keep]], C["GYN_CONSULT"], day[keep])

    # Prenatal check-ups on the KNOV schedule, then a few extra; after a referral the hospital does them.
    slots = np.array([16, 20, 24, 27, 30, 32, 34, 36, 37, 38, 39, 40, 41], dtype=np.int64) * 7
    jitter = rng.integers(-3, 4, size=(n, slots.size))
    day = t.ga0[:, None] + slots[None, :] + jitter
    valid = (day > t.intake[:, None] + 10) & (day < stop[:, None])
    rows, col = np.nonzero(valid)
    day = day[rows, col]
    extra_count = rng.poisson(np.where(secondary < _OPEN_END, 1.2, 0.5))
    extra_rows = np.repeat(idx, extra_count)
    extra_day = _uniform_int(rng, t.intake[extra_rows] + 1, stop[extra_rows] - 1, extra_rows.size)
    keep = before(extra_day, extra_rows)
    rows = np.concatenate([rows.astype(np.int64), extra_rows[keep]])
    day = np.concatenate([day, extra_day[keep]])
    hosp = day >= secondary[rows]
    acts.add(rows[~hosp], t.midwife[rows[~hosp]], C["VK_CONTROLE"], day[~hosp])
    acts.add(rows[hosp], clinician[rows[hosp]], C["GYN_CONSULT"], day[hosp])

    # Dating scan (termijnecho) at 10-13 weeks: midwife, member ultrasound centre, or outside centre.
    rows = idx[rng.random(n) < 0.95]
    day = np.maximum(t.ga0[rows] + _uniform_int(rng, 70, 91, rows.size), t.intake[rows] + rng.integers(0, 8, rows.size))
    keep = before(day, rows)
    rows, day = rows[keep], day[keep]
    p_out = float(model_value("outside_dating_scan_share"))
    own = np.where(direct[rows], ultrasound[rows], t.midwife[rows])
    prov = _pick(rng, rows.size, [own, ultrasound[rows], lay.outside_ultrasound], [0.45, 0.55 - p_out, p_out])
    acts.add(rows, prov, C["VK_TERMIJNECHO"], day)

    # Fetal anomaly scan at 20 weeks. Whether it is in scope is catalogue data (it changed while this was
    # written), so an outside centre is common only when it cannot break the bundle.
    rows = idx[rng.random(n) < 0.95]
    day = t.ga0[rows] + _uniform_int(rng, 133, 150, rows.size)
    keep = before(day, rows) & (day > t.intake[rows])
    rows, day = rows[keep], day[keep]
    p_out = float(model_value("outside_seo_share")) if in_scope[C["ECHO_SEO"]] else 0.10
    prov = _pick(
        rng,
        rows.size,
        [ultrasound[rows], hospital[rows], lay.outside_ultrasound],
        [0.86 - p_out, 0.14, p_out],
    )
    acts.add(rows, prov, C["ECHO_SEO"], day)

    # Lab: first-trimester bloods after the intake, some at ~27 weeks.
    rows = idx[rng.random(n) < 0.95]
    day = t.intake[rows] + _uniform_int(rng, 0, 10, rows.size)
    keep = before(day, rows)
    acts.add(rows[keep], lab[rows[keep]], C["LAB_ZWANGERSCHAP"], day[keep])
    rows = idx[rng.random(n) < 0.3]
    day = t.ga0[rows] + _uniform_int(rng, 175, 200, rows.size)
    keep = before(day, rows) & (day > t.intake[rows])
    acts.add(rows[keep], lab[rows[keep]], C["LAB_ZWANGERSCHAP"], day[keep])

    # Growth/position scans and CTG in primary care (after a referral the hospital does these).
    count = np.where(rng.random(n) < 0.3, rng.integers(1, 3, n), 0)
    rows = np.repeat(idx, count)
    day = t.ga0[rows] + _uniform_int(rng, 196, 266, rows.size)
    keep = before(day, rows) & (day < secondary[rows]) & (day > t.intake[rows])
    rows, day = rows[keep], day[keep]
    p_out = float(model_value("outside_growth_scan_share"))
    prov = _pick(rng, rows.size, [t.midwife[rows], ultrasound[rows], lay.outside_ultrasound], [0.4, 0.6 - p_out, p_out])
    acts.add(rows, prov, C["VK_GROEIECHO"], day)
    rows = idx[rng.random(n) < 0.06]
    day = t.ga0[rows] + _uniform_int(rng, 252, 287, rows.size)
    keep = before(day, rows) & (day < secondary[rows]) & (day > t.intake[rows])
    acts.add(rows[keep], t.midwife[rows[keep]], C["VK_CTG"], day[keep])

    # Advanced ultrasound (out of scope), antenatal paediatric consult, high-care obstetrics (out of scope).
    rows = idx[rng.random(n) < 0.03]
    day = t.ga0[rows] + _uniform_int(rng, 126, 154, rows.size)
    keep = before(day, rows) & (day > t.intake[rows])
    rows, day = rows[keep], day[keep]
    prov = _pick(rng, rows.size, [hospital[rows], ultrasound[rows], lay.outside_ultrasound], [0.6, 0.25, 0.15])
    acts.add(rows, prov, C["ECHO_GUO"], day)
    p_paed = np.where(secondary < _OPEN_END, 0.05, 0.005)
    rows = idx[rng.random(n) < p_paed]
    day = np.maximum(t.ga0[rows] + _uniform_int(rng, 168, 252, rows.size), secondary[rows].clip(max=10**5))
    keep = before(day, rows) & (day > t.intake[rows])
    acts.add(rows[keep], paediatrics[rows[keep]], C["KIND_ANTENATAAL"], day[keep])
    preterm = t.born & (t.birth - t.ga0 < _PRETERM)
    rows = idx[(t.born & (rng.random(n) < np.where(preterm, 0.3, 0.005)))]
    day = np.maximum(t.labour[rows] - rng.integers(0, 6, rows.size), t.intake[rows])
    acts.add(rows, hospital[rows], C["GYN_HIGHCARE"], day, rng.integers(1, 6, rows.size) * 100)
    death = t.outcome == END_REASONS.index("maternal_death")
    rows = idx[death & ~t.born]
    acts.add(rows, hospital[rows], C["GYN_HIGHCARE"], t.end[rows], 100)

    # GP consults (out of scope) during the pregnancy.
    rows = np.repeat(idx, rng.poisson(0.3, n))
    day = _uniform_int(rng, t.intake[rows], np.maximum(stop[rows] - 1, t.intake[rows]), rows.size)
    acts.add(rows, t.gp[rows], C["HA_CONSULT"], day)

    # Kraamzorg intake at 30-34 weeks.
    uses_kz = rng.random(n) >= float(model_value("no_kraamzorg_share"))
    rows = idx[uses_kz]
    day = np.maximum(t.ga0[rows] + _uniform_int(rng, 210, 238, rows.size), t.intake[rows] + 7)
    keep = before(day, rows)
    acts.add(rows[keep], t.kraamzorg[rows[keep]], C["KZ_INTAKE"], day[keep])

    # End of an early-ended pregnancy: hospital treatment after a miscarriage or a termination.
    for reason, share in (("miscarriage", 0.35), ("termination", 0.5)):
        rows = idx[(t.outcome == END_REASONS.index(reason)) & (rng.random(n) < share)]
        acts.add(rows, hospital[rows], C["GYN_CONSULT"], t.end[rows])

    # Birth: community midwife (home or outpatient) with partusassistentie, or the hospital.
    born = idx[t.born]
    primary = born[t.stage[born] == 0]
    acts.add(primary, t.midwife[primary], C["VK_BEVALLING"], t.birth[primary])
    partus = primary[uses_kz[primary] & (rng.random(primary.size) < 0.95)]
    lo, hi = model_value("partus_hours")
    hours = np.rint(rng.uniform(lo, hi, partus.size) * 4) * 25
    acts.add(partus, t.kraamzorg[partus], C["KZ_PARTUS"], t.birth[partus], hours.astype(np.int64))
    labour_ref = born[t.stage[born] == REFERRAL_STAGES.index("labour")]
    acts.add(labour_ref, t.midwife[labour_ref], C["VK_BEVALLING"], t.labour[labour_ref])
    secondary_birth = born[t.stage[born] > 0]
    outside = rng.random(secondary_birth.size) < float(model_value("outside_hospital_birth_share"))
    birth_hospital = np.where(outside, lay.outside_hospital, clinician[secondary_birth])
    acts.add(secondary_birth, birth_hospital, C["GYN_BEVALLING"], t.birth[secondary_birth])

    # Postnatal: hospital stay after some secondary births, then kraamzorg hours over ~8 days.
    stay = np.zeros(n, dtype=np.int64)
    cs = t.caesarean[secondary_birth]
    stays = np.where(
        cs,
        np.where(rng.random(secondary_birth.size) < 0.85, rng.integers(2, 5, secondary_birth.size), 0),
        np.where(rng.random(secondary_birth.size) < 0.3, rng.integers(1, 3, secondary_birth.size), 0),
    )
    stay[secondary_birth] = stays
    rows = secondary_birth[stays > 0]
    stay_hospital = np.where(birth_hospital[stays > 0] == lay.outside_hospital, lay.outside_hospital, hospital[rows])
    acts.add(rows, stay_hospital, C["GYN_KRAAMBED"], t.birth[rows], stay[rows] * 100)
    # Postnatal care stops at a maternal death after birth.
    post_stop = np.where(t.outcome == END_REASONS.index("maternal_death"), t.end, 10**6)

    kz: dict[str, float] = model_value("kraamzorg_hours")
    rows = born[uses_kz[born]]
    mean = np.where(stay[rows] > 0, kz["after_stay_mean"], kz["home_mean"])
    total = np.clip(rng.normal(mean, kz["sd"]), kz["min"], kz["max"])
    extended = rng.random(rows.size) < kz["extended_share"]
    total = np.where(extended, rng.uniform(kz["max"] + 1, kz["extended_max"], rows.size), total)
    total_q = (np.rint(total * 4) * 25).astype(np.int64)  # hundredths of an hour, quarter hours
    n_days = int(kz["days"])
    days_of_care = np.maximum(n_days - stay[rows], 5)
    profile = np.array([1.5, 1.3, 1.15, 1.0, 0.95, 0.9, 0.8, 0.7, 0.6, 0.5], dtype=np.float64)[:n_days]
    weight = np.where(np.arange(n_days)[None, :] < days_of_care[:, None], profile[None, :], 0.0)
    weight /= weight.sum(axis=1, keepdims=True)
    per_day = (np.floor(weight * total_q[:, None] / 25) * 25).astype(np.int64)
    per_day[:, 0] += total_q - per_day.sum(axis=1)
    r, d = np.nonzero(per_day > 0)
    traj = rows[r]
    day = t.birth[traj] + stay[traj] + d
    keep = day <= post_stop[traj]
    acts.add(traj[keep], t.kraamzorg[traj[keep]], C["KZ_UUR"], day[keep], per_day[r, d][keep])

    # Community midwife postnatal visits (also after many secondary births) and the 6-week check.
    visits = np.where(
        t.stage[born] == 0,
        rng.integers(3, 6, born.size),
        np.where(rng.random(born.size) < 0.7, rng.integers(2, 5, born.size), 0),
    )
    rank = np.argsort(rng.random((born.size, 8)), axis=1)
    chosen = rank < visits[:, None]
    r, d = np.nonzero(chosen)
    traj = born[r]
    day = t.birth[traj] + stay[traj] + 1 + d
    keep = day <= post_stop[traj]
    acts.add(traj[keep], t.midwife[traj[keep]], C["VK_KRAAMBED"], day[keep])
    check = t.birth[born] + _uniform_int(rng, 36, 42, born.size)  # inside the 42-day postnatal phase
    keep = check <= post_stop[born]
    u = rng.random(born.size)
    mw = keep & (((t.stage[born] == 0) & (u < 0.75)) | ((t.stage[born] > 0) & (u < 0.25)))
    gyn = keep & (t.stage[born] > 0) & (u >= 0.25) & (u < 0.8)
    acts.add(born[mw], t.midwife[born[mw]], C["VK_NACONTROLE"], check[mw])
    acts.add(born[gyn], clinician[born[gyn]], C["GYN_CONSULT"], check[gyn])
    return acts


# ------------------------------------------------------------------------------------------------ frames


def _quantity_table(q: IntArray) -> pl.Series:
    """The text of every quantity from 0 to the largest in ``q``, by its hundredths: "3", "2.5", "2.75"; 0 means
    not given (""). Quantities take few distinct values: each is formatted once and gathered."""
    top = int(q.max(initial=0))
    return pl.Series([""] + [f"{v / 100:.2f}".rstrip("0").rstrip(".") for v in range(1, top + 1)], dtype=pl.Utf8)


def generate_region(pregnancies: int, seed: int, year: int = 2025) -> Region:
    """Generate a synthetic region with `pregnancies` care trajectories around `year`.

    Deterministic: the same (pregnancies, seed, year) gives byte-identical frames. Data are extracted on
    31 December of `year`: later events are not known (such trajectories are ongoing) and later activities
    are absent. Trajectories span year-1 and year, so contracts exist for both years.
    """
    if pregnancies < 1:
        raise ValueError("pregnancies must be at least 1")
    if seed < 0:
        raise ValueError("seed must be non-negative")
    integral_prestaties(year)  # fail early when the year has no catalogue
    _check_activity_codes(year - 1)
    _check_activity_codes(year)
    extraction = _day(date(year, 12, 31))

    lay = _build_layout(pregnancies, seed, year)
    insurers = _insurers()
    t = _simulate(lay, insurers, pregnancies, seed, year)
    # Birth outcomes first: place and mode of birth shape the birth and postnatal activities.
    outcomes = simulate_outcomes(
        _rng(seed, year, "outcomes"),
        end_reason=t.outcome,
        born=t.born,
        birth_ga=t.birth - t.ga0,  # for a birth: 280 + (end_date - due_date)
        referral_stage=t.stage,
        igo=t.igo,
        vsv=t.vsv,
        n_igo=len(lay.igo_id),
        n_vsv=len(lay.vsv_weight),
    )
    t.home, t.caesarean = outcomes.home, outcomes.caesarean
    in_scope = _in_scope_flags(year)
    acts = _activities(lay, t, seed, year, in_scope)

    traj = np.concatenate(acts.traj)
    provider = np.concatenate(acts.provider)
    code = np.concatenate(acts.code)
    day = np.concatenate(acts.day)
    quantity = np.concatenate(acts.quantity)
    del acts  # free the per-kind buffers before building the frames
    known = day <= extraction
    traj, provider, code, day, quantity = (
        traj[known],
        provider[known],
        code[known],
        day[known],
        quantity[known],
    )
    # Stable order (trajectory, date, kind) so activity ids are stable for the seed.
    key = (traj << np.int64(32)) + ((day - day.min(initial=0)) << np.int64(8)) + code
    order = np.argsort(key, kind="stable")
    traj, provider, code, day, quantity = (
        traj[order],
        provider[order],
        code[order],
        day[order],
        quantity[order],
    )

    # ~1 % of activities carry no pregnancy_id (the importer matches them on BSN and date): only dates
    # inside the trajectory's own [intake, end] window, and only for women with one trajectory.
    ends = np.where(t.outcome == 0, extraction, t.end)
    eligible = (day >= t.intake[traj]) & (day <= ends[traj]) & ~t.woman_has_two[traj]
    blank = eligible & (_rng(seed, year, "blank").random(traj.size) < float(model_value("blank_pregnancy_id_share")))

    # ------------------------------------------------------------------ frames (all Utf8, CSV formatted)
    preg_ids = pl.Series(np.arange(1, t.n + 1)).cast(pl.Utf8).str.zfill(7)
    preg_ids = pl.select(pl.concat_str([pl.lit("ZT"), preg_ids])).to_series()
    bsn_text = pl.Series(t.bsn).cast(pl.Utf8).str.zfill(9)
    agb = pl.Series(lay.agb)
    insurer_codes = pl.Series([i.uzovi for i in insurers])
    igo_ids = pl.Series(lay.igo_id)

    ended = t.outcome > 0
    has_labour = t.born
    has_referral = t.stage > 0
    pregnancies_frame = _utf8_frame(
        "pregnancies",
        {
            "pregnancy_id": preg_ids,
            "bsn": bsn_text,
            "uzovi": insurer_codes.gather(t.insurer),
            "igo_id": igo_ids.gather(t.igo),
            "intake_date": _dates(t.intake),
            "due_date": _dates(t.due),
            "labour_date": _optional_dates(t.labour, has_labour),
            "end_date": _optional_dates(t.end, ended),
            "end_reason": pl.Series(list(END_REASONS)).gather(t.outcome),
            "referral_date": _optional_dates(t.referral, has_referral),
            "referral_stage": pl.Series(list(REFERRAL_STAGES)).gather(t.stage),
        },
    )
    # Every column of the 4.4 million activities in one select: Polars builds them side by side.
    first_day = int(day.min(initial=0))
    activity_frame = pl.DataFrame(
        {"traj": traj, "provider": provider, "code": code, "day": day - first_day, "q": quantity, "blank": blank}
    ).select(
        pl.concat_str([pl.lit("A"), pl.int_range(1, pl.len() + 1).cast(pl.Utf8).str.zfill(9)]).alias("activity_id"),
        _gathered(bsn_text, "traj").alias("bsn"),
        pl.when(pl.col("blank")).then(pl.lit("")).otherwise(_gathered(preg_ids, "traj")).alias("pregnancy_id"),
        _gathered(agb, "provider").alias("agb"),
        _gathered(pl.Series(list(CODES)), "code").alias("activity_code"),
        _gathered(_date_table(first_day, int(day.max(initial=0))), "day").alias("date"),
        _gathered(_quantity_table(quantity), "q").alias("quantity"),
    )
    providers_frame = _utf8_frame(
        "providers", {"agb": lay.agb, "name": lay.name, "discipline": lay.discipline, "city": lay.city}
    )
    igos_frame = _utf8_frame("igos", {"igo_id": lay.igo_id, "agb": lay.igo_agb, "name": lay.igo_name})
    m = np.array(lay.memberships, dtype=np.int64).reshape(-1, 4)
    memberships_frame = _utf8_frame(
        "memberships",
        {
            "igo_id": igo_ids.gather(m[:, 0]),
            "agb": agb.gather(m[:, 1]),
            "start_date": _dates(m[:, 2]),
            "end_date": _optional_dates(m[:, 3], m[:, 3] < _OPEN_END),
        },
    )
    insurers_frame = _utf8_frame("insurers", {"uzovi": [i.uzovi for i in insurers], "name": [i.name for i in insurers]})
    contracts_frame = _contracts(lay, insurers, seed, year)

    kz_complete = t.born & (t.birth + 14 <= extraction)
    facts = Facts(
        end_reason=t.outcome,
        referral_stage=t.stage,
        ga_at_end=t.end - t.ga0,
        intake_ga=t.intake_ga,
        due_next_year=t.due_next_year,
        home_birth=t.home,
        caesarean=t.caesarean,
        kraamzorg_window_complete=kz_complete,
        insurer=t.insurer,
        insurer_shares=tuple(i.share for i in insurers),
        prenatal_end_day=t.prenatal_end,
        igo=t.igo,
        act_trajectory=traj,
        act_code=code,
        act_provider=provider,
        act_day=day,
        act_quantity=quantity,
        codes=CODES,
        in_scope=in_scope,
        m_igo=m[:, 0],
        m_provider=m[:, 1],
        m_start=m[:, 2],
        m_end=m[:, 3],
        outcomes=outcomes,
    )
    return Region(
        providers=providers_frame,
        igos=igos_frame,
        memberships=memberships_frame,
        insurers=insurers_frame,
        contracts=contracts_frame,
        pregnancies=pregnancies_frame,
        activities=activity_frame,
        outcomes=outcome_frame(outcomes, preg_ids),
        facts=facts,
    )


def write_region(region: Region, out_dir: Path) -> dict[str, Path]:
    """Write one CSV file per kind (providers.csv ... outcomes.csv) into `out_dir`; returns kind -> path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for kind in COLUMNS:
        frame: pl.DataFrame = getattr(region, kind)
        path = out_dir / f"{kind}.csv"
        # "Not given" is an empty field (polars would quote an empty string as "").
        blank_as_null = [pl.when(pl.col(c) != "").then(pl.col(c)).alias(c) for c in frame.columns]
        frame.select(blank_as_null).write_csv(path, line_terminator="\n")
        paths[kind] = path
    return paths
