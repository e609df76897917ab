"""The import formats of ``docs/formats.md`` as data: columns, checks, row rules, key and target table.

Adding a format means adding one ``FileFormat`` here; the import service does the rest the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import polars as pl

from integraal.domain.contract import OverlapPolicy, PartialPolicy
from integraal.domain.pregnancy import EndReason, ReferralStage
from integraal.domain.provider import Discipline
from integraal.importing.validation import (
    ROW,
    Column,
    RowRule,
    as_date,
    as_hundredths,
    bsn_eleven_test,
    digits,
    iso_date,
    non_negative_int,
    one_of,
    pattern,
    positive_quantity,
)
from integraal.insight.outcomes import (
    MAX_BLOOD_LOSS_ML,
    MAX_GESTATION_DAYS,
    PREM_RANGE,
    PROM_RANGE,
    BirthMode,
    BirthPlace,
    LabourOnset,
)

IDENT = (pattern(r"^[A-Za-z0-9_.\-]{1,60}$"), "must be 1–60 letters, digits, '.', '_' or '-'")
AGB = (digits(8), "AGB code must be exactly 8 digits")
UZOVI = (digits(4), "UZOVI code must be exactly 4 digits")
BSN = (bsn_eleven_test, "BSN must be 9 digits and pass the 11-test (elfproef)")
DATE = (iso_date, "must be a date as YYYY-MM-DD")


@dataclass(frozen=True)
class References:
    """Keys already known (stored, or earlier in the same import) that rows may refer to."""

    providers: frozenset[str] = frozenset()
    igos: frozenset[str] = frozenset()
    insurers: frozenset[str] = frozenset()
    pregnancies: pl.DataFrame = field(
        default_factory=lambda: pl.DataFrame(schema={"pregnancy_id": pl.Utf8, "bsn": pl.Utf8})
    )
    memberships: pl.DataFrame = field(
        default_factory=lambda: pl.DataFrame(
            schema={"igo_id": pl.Utf8, "agb": pl.Utf8, "start_date": pl.Utf8, "end_date": pl.Utf8}
        )
    )
    """Stored membership periods, dates as ISO text (empty end = open)."""
    pregnancy_ends: pl.DataFrame = field(
        default_factory=lambda: pl.DataFrame(schema={"pregnancy_id": pl.Utf8, "end_reason": pl.Utf8})
    )
    """Stored trajectories and how they ended (empty: ongoing), for outcome rows."""
    activity_codes_by_year: dict[int, frozenset[str]] = field(default_factory=dict)
    prestatie_codes_by_year: dict[int, frozenset[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class FileFormat:
    """One import format."""

    kind: str
    table: str
    key: tuple[str, ...]
    columns: Callable[[References], Sequence[Column]]
    row_rules: Callable[[References], Sequence[RowRule]]
    to_rows: Callable[[pl.DataFrame], pl.DataFrame]
    """Valid rows → a frame with exactly the table's columns, typed."""
    prepare: Callable[[pl.DataFrame, References], pl.DataFrame] = lambda frame, refs: frame
    """Adds helper columns (joins with stored data) that row rules need."""


def _selecting(*columns: str | pl.Expr) -> Callable[[pl.DataFrame], pl.DataFrame]:
    """A ``to_rows`` that selects ``columns``, lazily: Polars then computes a part that an expression uses twice
    (the halves of a quantity in ``as_hundredths``) once, which an eager ``select`` does not."""
    return lambda frame: frame.lazy().select(*columns).collect()


def _known(values: frozenset[str], what: str) -> tuple[Callable[[pl.Expr], pl.Expr], str]:
    return one_of(sorted(values)), f"unknown {what} (import that file first)"


def _c(name: str) -> pl.Expr:
    return pl.col(name)


def _date_before(later: str, earlier: str) -> pl.Expr:
    """True where both dates are given and valid and ``later`` < ``earlier``."""
    return (_c(later) != "") & (_c(earlier) != "") & (as_date(later) < as_date(earlier))


# --- providers, IGOs, insurers ---------------------------------------------------------------------------

PROVIDERS = FileFormat(
    kind="providers",
    table="providers",
    key=("agb",),
    columns=lambda refs: (
        Column("agb", checks=(AGB,)),
        Column("name"),
        Column("discipline", checks=((one_of([d.value for d in Discipline]), "unknown discipline"),)),
        Column("city", required=False),
    ),
    row_rules=lambda refs: (),
    to_rows=_selecting("agb", "name", "discipline", "city"),
)

IGOS = FileFormat(
    kind="igos",
    table="igos",
    key=("igo_id",),
    columns=lambda refs: (
        Column("igo_id", checks=(IDENT,)),
        Column("agb", checks=(AGB, (pattern(r"^53"), "an IGO's AGB code has zorgsoort 53: it starts with 53"))),
        Column("name"),
    ),
    row_rules=lambda refs: (),
    to_rows=_selecting("igo_id", "agb", "name"),
)

INSURERS = FileFormat(
    kind="insurers",
    table="insurers",
    key=("uzovi",),
    columns=lambda refs: (Column("uzovi", checks=(UZOVI,)), Column("name")),
    row_rules=lambda refs: (),
    to_rows=_selecting("uzovi", "name"),
)


def _flag_overlapping_periods(frame: pl.DataFrame, refs: References) -> pl.DataFrame:
    """Add ``__overlap``: the row's period overlaps another period of the same provider in the same IGO
    (in this file, or stored and not replaced by this file). ISO dates compare correctly as text."""
    open_end = "9999-12-31"
    own = frame.select(ROW, "igo_id", "agb", "start_date", "end_date")
    stored = refs.memberships.join(
        own.select("igo_id", "agb", "start_date"), on=["igo_id", "agb", "start_date"], how="anti"
    )
    others = pl.concat(
        [
            own.select("igo_id", "agb", "start_date", "end_date", pl.col(ROW).alias("__other")),
            stored.with_columns(pl.lit(None, dtype=pl.Int64).alias("__other")),
        ],
        how="vertical_relaxed",
    ).rename({"start_date": "__o_start", "end_date": "__o_end"})
    end = pl.when(pl.col("end_date") == "").then(pl.lit(open_end)).otherwise(pl.col("end_date"))
    other_end = pl.when(pl.col("__o_end").fill_null("") == "").then(pl.lit(open_end)).otherwise(pl.col("__o_end"))
    pairs = own.join(others, on=["igo_id", "agb"], how="inner").filter(
        (pl.col("__other").is_null() | (pl.col("__other") != pl.col(ROW)))
        & (pl.col("start_date") <= other_end)
        & (pl.col("__o_start") <= end)
    )
    overlapping = pairs.get_column(ROW).unique().implode()
    return frame.with_columns(pl.col(ROW).is_in(overlapping).alias("__overlap"))


MEMBERSHIPS = FileFormat(
    kind="memberships",
    table="memberships",
    key=("igo_id", "agb", "start_date"),
    columns=lambda refs: (
        Column("igo_id", checks=(_known(refs.igos, "IGO"),)),
        Column("agb", checks=(AGB, _known(refs.providers, "provider"))),
        Column("start_date", checks=(DATE,)),
        Column("end_date", required=False, checks=(DATE,)),
    ),
    row_rules=lambda refs: (
        RowRule("end_date", _date_before("end_date", "start_date"), "end date before start date"),
        RowRule(
            "start_date",
            pl.col("__overlap"),
            "membership period overlaps another period of this provider in this IGO",
        ),
    ),
    to_rows=_selecting("igo_id", "agb", as_date("start_date"), as_date("end_date")),
    prepare=_flag_overlapping_periods,
)

# --- contracts ----------------------------------------------------------------------------------------------


def _contract_rules(refs: References) -> Sequence[RowRule]:
    year = _c("year").cast(pl.Int64, strict=False)
    known_years = sorted(refs.prestatie_codes_by_year)
    pairs = pl.Series(
        [f"{y}:{code}" for y, codes in refs.prestatie_codes_by_year.items() for code in codes], dtype=pl.Utf8
    )
    rules = [
        RowRule(
            "year",
            (_c("year") != "") & ~year.is_in(known_years),
            f"no rule set for this year (have {known_years})",
        ),
        RowRule(
            "prestatie_code",
            year.is_in(known_years) & ~(_c("year") + ":" + _c("prestatie_code")).is_in(pairs.implode()),
            "prestatie code not in that year's catalogue",
        ),
    ]
    # One contract, one IGO/insurer/year/policy: every row must agree with the contract's first row.
    for name in ("igo_id", "uzovi", "year", "overlap_policy", "partial_trajectory_policy"):
        rules.append(
            RowRule(
                name,
                _c(name) != _c(name).first().over("contract_id"),
                "differs from the first row of the same contract_id",
            )
        )
    return rules


CONTRACTS = FileFormat(
    kind="contracts",
    table="contracts",
    key=("contract_id", "prestatie_code"),
    columns=lambda refs: (
        Column("contract_id", checks=(IDENT,)),
        Column("igo_id", checks=(_known(refs.igos, "IGO"),)),
        Column("uzovi", checks=(UZOVI, _known(refs.insurers, "insurer"))),
        Column("year", checks=((digits(4), "year must be 4 digits"),)),
        Column("prestatie_code"),
        Column("tariff_cents", checks=((non_negative_int, "tariff must be whole cents, 0 or more"),)),
        Column("overlap_policy", False, ((one_of([p.value for p in OverlapPolicy]), "unknown overlap policy"),)),
        Column(
            "partial_trajectory_policy",
            False,
            ((one_of([p.value for p in PartialPolicy]), "unknown partial trajectory policy"),),
        ),
    ),
    row_rules=_contract_rules,
    to_rows=_selecting(
        "contract_id",
        "prestatie_code",
        "igo_id",
        "uzovi",
        _c("year").cast(pl.Int64),
        _c("tariff_cents").cast(pl.Int64),
        pl.when(_c("overlap_policy") == "").then(None).otherwise(_c("overlap_policy")).alias("overlap_policy"),
        pl.when(_c("partial_trajectory_policy") == "")
        .then(None)
        .otherwise(_c("partial_trajectory_policy"))
        .alias("partial_trajectory_policy"),
    ),
)

# --- pregnancies ---------------------------------------------------------------------------------------------


def _pregnancy_rules(refs: References) -> Sequence[RowRule]:
    return (
        RowRule("end_reason", (_c("end_date") != "") & (_c("end_reason") == ""), "required when end_date is given"),
        RowRule("end_date", (_c("end_reason") != "") & (_c("end_date") == ""), "required when end_reason is given"),
        RowRule("end_date", _date_before("end_date", "intake_date"), "end date before intake date"),
        RowRule("labour_date", _date_before("labour_date", "intake_date"), "labour before intake date"),
        RowRule("labour_date", _date_before("end_date", "labour_date"), "end date before labour date"),
        RowRule(
            "labour_date",
            (_c("labour_date") != "")
            & (_c("end_reason") != "")
            & (_c("end_reason") != EndReason.BIRTH.value)
            & (_c("end_reason") != EndReason.MATERNAL_DEATH.value),
            "labour date only with end reason birth or maternal_death",
        ),
        RowRule(
            "referral_stage",
            (_c("referral_date") != "") & (_c("referral_stage") == ""),
            "required with referral_date",
        ),
        RowRule(
            "referral_date",
            (_c("referral_stage") != "") & (_c("referral_date") == ""),
            "required with referral_stage",
        ),
        RowRule("referral_date", _date_before("referral_date", "intake_date"), "referral before intake date"),
        RowRule(
            "due_date",
            (_c("due_date") != "")
            & (_c("intake_date") != "")
            & ((as_date("due_date") - as_date("intake_date")).dt.total_days() > 300),
            "due date more than 300 days after intake",
        ),
    )


PREGNANCIES = FileFormat(
    kind="pregnancies",
    table="pregnancies",
    key=("pregnancy_id",),
    columns=lambda refs: (
        Column("pregnancy_id", checks=(IDENT,)),
        Column("bsn", checks=(BSN,)),
        Column("uzovi", checks=(UZOVI, _known(refs.insurers, "insurer"))),
        Column("igo_id", checks=(_known(refs.igos, "IGO"),)),
        Column("intake_date", checks=(DATE,)),
        Column("due_date", checks=(DATE,)),
        Column("labour_date", False, (DATE,)),
        Column("end_date", False, (DATE,)),
        Column("end_reason", False, ((one_of([e.value for e in EndReason]), "unknown end reason"),)),
        Column("referral_date", False, (DATE,)),
        Column("referral_stage", False, ((one_of([s.value for s in ReferralStage]), "unknown referral stage"),)),
    ),
    row_rules=_pregnancy_rules,
    to_rows=_selecting(
        "pregnancy_id",
        "bsn",
        "uzovi",
        "igo_id",
        as_date("intake_date"),
        as_date("due_date"),
        as_date("labour_date"),
        as_date("end_date"),
        pl.when(_c("end_reason") == "").then(None).otherwise(_c("end_reason")).alias("end_reason"),
        as_date("referral_date"),
        pl.when(_c("referral_stage") == "").then(None).otherwise(_c("referral_stage")).alias("referral_stage"),
    ),
)

# --- activities ---------------------------------------------------------------------------------------------


def _activity_rules(refs: References) -> Sequence[RowRule]:
    years = sorted(refs.activity_codes_by_year)
    pairs = pl.Series(
        [f"{y}:{code}" for y, codes in refs.activity_codes_by_year.items() for code in codes], dtype=pl.Utf8
    )
    # The catalogue year that governs a date: that year, else the nearest earlier one, else the first.
    year = _c("date").str.slice(0, 4).cast(pl.Int64, strict=False)
    governing = pl.lit(years[0] if years else 0)
    for y in years:
        governing = pl.when(year >= y).then(pl.lit(y)).otherwise(governing)
    owner = _c("__owner_bsn")
    return (
        RowRule(
            "activity_code",
            iso_date(_c("date")).fill_null(False)
            & ~(governing.cast(pl.Utf8) + ":" + _c("activity_code")).is_in(pairs.implode()),
            "unknown activity code for the catalogue of that year (see `integraal catalogue`)",
            over=("date", "activity_code"),
        ),
        RowRule(
            "pregnancy_id",
            (_c("pregnancy_id") != "") & owner.is_null(),
            "unknown trajectory (import pregnancies.csv first)",
        ),
        RowRule(
            "bsn",
            (_c("pregnancy_id") != "") & owner.is_not_null() & (owner != _c("bsn")),
            "BSN differs from the BSN of the trajectory named in pregnancy_id",
        ),
    )


def _owner_bsn(pregnancies: pl.DataFrame) -> pl.Expr:
    """``__owner_bsn``: the BSN of the stored trajectory a row's ``pregnancy_id`` names (null: none). A lookup,
    not a join: the frame keeps its rows and their order (a join of 4.4 million rows took three times as long)."""
    return (
        _c("pregnancy_id")
        .replace_strict(pregnancies.get_column("pregnancy_id"), pregnancies.get_column("bsn"), default=None)
        .alias("__owner_bsn")
    )


ACTIVITIES = FileFormat(
    kind="activities",
    table="activities",
    key=("activity_id",),
    columns=lambda refs: (
        Column("activity_id", checks=(IDENT,)),
        Column("bsn", checks=(BSN,), repeats=True),
        Column("pregnancy_id", False, (IDENT,), repeats=True),
        Column("agb", checks=(AGB,), repeats=True),
        Column("activity_code", repeats=True),
        Column("date", checks=(DATE,), repeats=True),
        Column("quantity", False, ((positive_quantity, "quantity must be > 0 with at most 2 decimals"),), repeats=True),
    ),
    row_rules=_activity_rules,
    prepare=lambda frame, refs: frame.with_columns(_owner_bsn(refs.pregnancies)),
    to_rows=_selecting(
        "activity_id",
        "bsn",
        pl.when(_c("pregnancy_id") == "").then(None).otherwise(_c("pregnancy_id")).alias("pregnancy_id"),
        "agb",
        "activity_code",
        as_date("date"),
        as_hundredths("quantity").alias("quantity_hundredths"),
    ),
)

# --- outcomes ------------------------------------------------------------------------------------------------

YES_NO = ("yes", "no")
BOOLEAN = (one_of(YES_NO), "must be yes or no (empty: unknown)")
OUTCOME_FLAGS = ("nulliparous", "multiple_pregnancy", "perinatal_death", "nicu_admission", "breastfeeding_at_discharge")
BIRTH_ONLY = (
    "gestational_age_days",
    "labour_onset",
    "birth_mode",
    "birth_place",
    "perinatal_death",
    "nicu_admission",
    "blood_loss_ml",
    "breastfeeding_at_discharge",
)


def _int_between(low: int, high: int) -> tuple[Callable[[pl.Expr], pl.Expr], str]:
    def check(c: pl.Expr) -> pl.Expr:
        value = c.cast(pl.Int64, strict=False)
        return c.str.contains(r"^[0-9]{1,6}$") & (value >= low) & (value <= high)

    return check, f"must be a whole number from {low} to {high}"


def _score_between(low: float, high: float) -> tuple[Callable[[pl.Expr], pl.Expr], str]:
    def check(c: pl.Expr) -> pl.Expr:
        value = c.cast(pl.Float64, strict=False)
        return c.str.contains(r"^[0-9]{1,3}(\.[0-9]{1,2})?$") & (value >= low) & (value <= high)

    return check, f"must be a number from {low:g} to {high:g} with at most 2 decimals ('.' as decimal sign)"


def _outcome_rules(refs: References) -> Sequence[RowRule]:
    ended = _c("__end_reason")
    caesarean = _c("birth_mode").is_in([BirthMode.PLANNED_CAESAREAN.value, BirthMode.EMERGENCY_CAESAREAN.value])
    vaginal = _c("birth_mode").is_in([BirthMode.SPONTANEOUS_VAGINAL.value, BirthMode.ASSISTED_VAGINAL.value])
    rules = [
        RowRule("pregnancy_id", ended.is_null(), "unknown trajectory (import pregnancies.csv first)"),
    ]
    rules += [
        RowRule(
            name,
            ended.is_not_null() & (ended != EndReason.BIRTH.value) & (_c(name) != ""),
            "a birth outcome for a trajectory that did not end in a birth (see its end_reason in pregnancies.csv)",
        )
        for name in BIRTH_ONLY
    ]
    rules += [
        RowRule(
            "labour_onset",
            vaginal & (_c("labour_onset") == LabourOnset.NO_LABOUR.value),
            "a vaginal birth without labour",
        ),
        RowRule(
            "birth_place",
            caesarean
            & _c("birth_place").is_in(
                [BirthPlace.HOME.value, BirthPlace.BIRTH_CENTRE.value, BirthPlace.HOSPITAL_PRIMARY.value]
            ),
            "a caesarean section takes place in hospital under secondary care (hospital_secondary)",
        ),
    ]
    return rules


def _flag(name: str) -> pl.Expr:
    return pl.when(_c(name) == "").then(None).otherwise(_c(name) == "yes").alias(name)


def _blank_as_null(name: str, dtype: pl.DataType | None = None) -> pl.Expr:
    value = pl.when(_c(name) == "").then(None).otherwise(_c(name))
    return (value.cast(dtype) if dtype is not None else value).alias(name)


OUTCOMES = FileFormat(
    kind="outcomes",
    table="outcomes",
    key=("pregnancy_id",),
    columns=lambda refs: (
        Column("pregnancy_id", checks=(IDENT,)),
        *(Column(name, False, (BOOLEAN,)) for name in ("nulliparous", "multiple_pregnancy")),
        Column("gestational_age_days", False, (_int_between(0, MAX_GESTATION_DAYS),)),
        Column("labour_onset", False, ((one_of([v.value for v in LabourOnset]), "unknown labour onset"),)),
        Column("birth_mode", False, ((one_of([v.value for v in BirthMode]), "unknown mode of birth"),)),
        Column("birth_place", False, ((one_of([v.value for v in BirthPlace]), "unknown place of birth"),)),
        *(Column(name, False, (BOOLEAN,)) for name in ("perinatal_death", "nicu_admission")),
        Column("blood_loss_ml", False, (_int_between(0, MAX_BLOOD_LOSS_ML),)),
        Column("breastfeeding_at_discharge", False, (BOOLEAN,)),
        Column("prem_score", False, (_score_between(*PREM_RANGE),)),
        Column("prom_score", False, (_score_between(*PROM_RANGE),)),
    ),
    row_rules=_outcome_rules,
    prepare=lambda frame, refs: frame.join(
        refs.pregnancy_ends.select("pregnancy_id", pl.col("end_reason").fill_null("").alias("__end_reason")),
        on="pregnancy_id",
        how="left",
    ),
    to_rows=_selecting(
        "pregnancy_id",
        _flag("nulliparous"),
        _flag("multiple_pregnancy"),
        _blank_as_null("gestational_age_days", pl.Int64()),
        _blank_as_null("labour_onset"),
        _blank_as_null("birth_mode"),
        _blank_as_null("birth_place"),
        _flag("perinatal_death"),
        _flag("nicu_admission"),
        _blank_as_null("blood_loss_ml", pl.Int64()),
        _flag("breastfeeding_at_discharge"),
        _blank_as_null("prem_score", pl.Float64()),
        _blank_as_null("prom_score", pl.Float64()),
    ),
)

FORMATS: dict[str, FileFormat] = {
    f.kind: f for f in (PROVIDERS, IGOS, INSURERS, MEMBERSHIPS, CONTRACTS, PREGNANCIES, ACTIVITIES, OUTCOMES)
}
"""All formats, in dependency order: import files in this order."""


def detect_kind(header: Sequence[str]) -> str | None:
    """The format whose key columns are all in ``header`` and that shares most columns with it."""
    present = set(header)
    best: tuple[int, str] | None = None
    for fmt in FORMATS.values():
        if not set(fmt.key) <= present:
            continue
        names = {c.name for c in fmt.columns(References())}
        score = len(names & present) - len(present - names)
        if best is None or score > best[0]:
            best = (score, fmt.kind)
    return best[1] if best else None
