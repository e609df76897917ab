"""Reference: the bundle decision and the per-member totals of a region as one hand-written DuckDB query.

    .venv/bin/python benchmarks/reference.py [--region /tmp/nat/region] [--db /tmp/nat/bench.db]
                                             [--as-of 2026-06-30] [--repeat 3] [--examples 3]

The query reads the region's CSV files (the files ``integraal import`` reads) with ``read_csv`` and computes, in
one SQL statement, per pregnancy and phase the outcome (``not_applicable`` / ``incomplete`` / ``integral`` /
``fallback``) and the claim lines our engine would make, summed per pregnancy × phase and per claimant (the IGO
for integral lines, the member for mono lines). It follows ``rules/engine.py`` (the specification) and
``rules/bulk.py`` (its columnar twin) step by step; the steps are named in the SQL:

1. assign activities to trajectories: the ``pregnancy_id`` they name, else the woman's (BSN) trajectory running
   on the date, from intake to end + the longest ``postnatal_days``, newest intake (then id) winning
   (``rules/matching.py``); unknown trajectories and BSN mismatches are not placed;
2. phase windows from the trajectory rule set (intake year): prenatal intake..labour (after a miscarriage or
   termination end + ``aftercare_days``), natal labour..birth (or end), postnatal birth..birth +
   ``postnatal_days``;
3. place in-scope activities with a known code and a fitting discipline: a fixed-phase type must fit its window,
   a ``by_date`` type takes natal, then prenatal, then postnatal; member = a membership period of the
   pregnancy's IGO covers the activity date;
4. decide each phase in the engine's order (no window, no rule set for the phase start year, still running,
   nothing placed, declaration date after ``as_of``, else fallback when a non-member did care under
   ``break_bundle`` or no member did any, a partial ending under a ``fallback`` policy, no contract, no integral
   prestatie or one not in the contract; else integral);
5. claim lines: integral = the contract tariff of the integral prestatie, claimed by the IGO's AGB; fallback =
   per member one per-phase prestatie (by the gestational weeks of its first and last activity and whether its
   care ran to the end of the phase) plus one line per scan, test or hour (quantity × tariff, half-up to the
   cent), at the contract's tariff for the code if agreed, else the NZa tariff of the phase start year.

Not replicated (documented limits): insurer-reported overlaps (return code 0587, ``reported_overlaps``) — the
bulk engine refuses them too, and the script reports how many the database holds; reason codes and the
per-activity outcomes (only outcomes and amounts are compared). Like the importer, the CSV files are assumed
valid (a region from ``integraal synth``); rows the import would reject are not filtered here.

The catalogue (every year folder: ``ruleset.yaml`` and the three CSV files, read here without the project's
loader) becomes four small DuckDB tables, loaded outside the timing. The timed part is the one statement, CSV
parsing included, on all cores DuckDB sees; best of ``--repeat`` (wall time; peak RSS of the process sampled every
10 ms). The session sets ``SETTINGS`` (see there). Needs ``duckdb>=1.3`` (the ``dev`` extra) for the
``lambda x: …`` syntax.
With ``--db`` the result is compared with the current (latest) decisions and claim lines of a decided database,
e.g. the one ``benchmarks/national_year.py --keep /tmp/nat`` leaves behind: share of (pregnancy, phase)
outcomes equal, per-pregnancy-phase amounts equal, per-claimant totals equal to the cent and the largest
difference, with example pregnancies for every kind of disagreement.

``reference_seconds(region_dir)`` is what ``benchmarks/national_year.py`` calls to print decide / reference.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import psutil
import yaml

from integraal.data.loader import CATALOGUE_ROOT

MIB = 1024 * 1024
AS_OF = date(2026, 6, 30)
"""The ``as_of`` of ``benchmarks/national_year.py``'s decide stage."""


# --- catalogue: small tables, outside the timing ------------------------------------------------------------

CATALOGUE_DDL = """
CREATE OR REPLACE TABLE ref_rulesets (
    year BIGINT, version VARCHAR, overlap VARCHAR, partial VARCHAR, postnatal_days INTEGER, aftercare_days INTEGER);
CREATE OR REPLACE TABLE ref_types (
    year BIGINT, code VARCHAR, ph TINYINT, in_scope BOOLEAN, mono VARCHAR, disciplines VARCHAR[]);
CREATE OR REPLACE TABLE ref_integral (
    year BIGINT, ord INTEGER, code VARCHAR, ph TINYINT, condition VARCHAR, priority INTEGER, days INTEGER);
CREATE OR REPLACE TABLE ref_mono (
    year BIGINT, ord INTEGER, code VARCHAR, discipline VARCHAR, ph TINYINT, unit VARCHAR, tariff BIGINT,
    start_min INTEGER, start_max INTEGER, end_min INTEGER, end_max INTEGER, completed VARCHAR, priority INTEGER,
    estimated BOOLEAN);
"""
PHASES = ("prenatal", "natal", "postnatal")
"""Phases as numbers 0, 1, 2 inside the query (``ph``); names only in the result."""


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return [{k: (v or "").strip() for k, v in row.items()} for row in csv.DictReader(handle)]


def _int(value: str) -> int | None:
    return int(value) if value else None


def _declaration_days(moment: str) -> int:
    """``phase_end`` → 0, ``phase_end_plus_N`` → N (as ``data/loader.py``)."""
    if moment == "phase_end":
        return 0
    prefix = "phase_end_plus_"
    if not moment.startswith(prefix):
        raise ValueError(f"unknown declaration moment {moment!r}")
    return int(moment[len(prefix) :])


def _insert(con: duckdb.DuckDBPyConnection, table: str, rows: list[list[Any]]) -> None:
    if rows:
        con.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' * len(rows[0]))})", rows)


def load_catalogue_tables(con: duckdb.DuckDBPyConnection, root: Path = CATALOGUE_ROOT) -> list[int]:
    """Every year folder of the catalogue as the tables ``ref_rulesets``, ``ref_types``, ``ref_integral`` and
    ``ref_mono`` (``ord`` = row order in the file, for 'first/last row wins' as the domain model reads them).
    Returns the years."""
    con.execute(CATALOGUE_DDL)
    years = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and p.name.isdigit()):
        meta = yaml.safe_load((folder / "ruleset.yaml").read_text(encoding="utf-8"))
        year = int(meta["year"])
        years.append(year)
        con.execute(
            "INSERT INTO ref_rulesets VALUES (?, ?, ?, ?, ?, ?)",
            [
                year,
                str(meta["version"]),
                meta["overlap_policy"],
                meta["partial_trajectory_policy"],
                int(meta["postnatal_days"]),
                int(meta.get("aftercare_days", 0)),
            ],
        )
        _insert(
            con,
            "ref_types",
            [
                [
                    year,
                    r["code"],
                    None if r["phase"] == "by_date" else PHASES.index(r["phase"]),
                    r["in_scope"] == "yes",
                    r["mono"],
                    [d for d in r["disciplines"].split("|") if d],
                ]
                for r in _csv_rows(folder / "activity_types.csv")
            ],
        )
        _insert(
            con,
            "ref_integral",
            [
                [
                    year,
                    i,
                    r["code"],
                    PHASES.index(r["phase"]),
                    r["condition"],
                    int(r["priority"]),
                    _declaration_days(r["declaration_moment"]),
                ]
                for i, r in enumerate(_csv_rows(folder / "integral_prestaties.csv"))
            ],
        )
        _insert(
            con,
            "ref_mono",
            [
                [
                    year,
                    i,
                    r["code"],
                    r["discipline"],
                    PHASES.index(r["phase"]),
                    r["unit"],
                    int(r["tariff_cents"]),
                    _int(r["start_week_min"]),
                    _int(r["start_week_max"]),
                    _int(r["end_week_min"]),
                    _int(r["end_week_max"]),
                    r["completed"],
                    int(r["priority"]),
                    r["estimated"] == "yes",
                ]
                for i, r in enumerate(_csv_rows(folder / "mono_prestaties.csv"))
            ],
        )
    return years


# --- the query ----------------------------------------------------------------------------------------------

_COLUMNS = {
    "pregnancies": {
        "pregnancy_id": "VARCHAR",
        "bsn": "VARCHAR",
        "uzovi": "VARCHAR",
        "igo_id": "VARCHAR",
        "intake_date": "DATE",
        "due_date": "DATE",
        "labour_date": "DATE",
        "end_date": "DATE",
        "end_reason": "VARCHAR",
        "referral_date": "DATE",
        "referral_stage": "VARCHAR",
    },
    "activities": {
        "activity_id": "VARCHAR",
        "bsn": "VARCHAR",
        "pregnancy_id": "VARCHAR",
        "agb": "VARCHAR",
        "activity_code": "VARCHAR",
        "date": "DATE",
        "quantity": "DECIMAL(18,2)",
    },
    "providers": {"agb": "VARCHAR", "name": "VARCHAR", "discipline": "VARCHAR", "city": "VARCHAR"},
    "igos": {"igo_id": "VARCHAR", "agb": "VARCHAR", "name": "VARCHAR"},
    "memberships": {"igo_id": "VARCHAR", "agb": "VARCHAR", "start_date": "DATE", "end_date": "DATE"},
    "contracts": {
        "contract_id": "VARCHAR",
        "igo_id": "VARCHAR",
        "uzovi": "VARCHAR",
        "year": "INTEGER",
        "prestatie_code": "VARCHAR",
        "tariff_cents": "BIGINT",
        "overlap_policy": "VARCHAR",
        "partial_trajectory_policy": "VARCHAR",
    },
}


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _read_csv(region: Path, kind: str) -> str:
    """``read_csv`` of one of the region's files with its columns typed (empty cells are NULL)."""
    columns = ", ".join(f"{_quote(name)}: {_quote(dtype)}" for name, dtype in _COLUMNS[kind].items())
    path = _quote(str(region / f"{kind}.csv"))
    return f"read_csv({path}, header = true, delim = ',', quote = '\"', escape = '\"', columns = {{{columns}}})"


QUERY = """
CREATE OR REPLACE TABLE ref_out AS
WITH
-- inputs ------------------------------------------------------------------------------------------------------
pregnancies AS (SELECT * FROM {pregnancies}),
activities AS (
    SELECT activity_id, bsn, pregnancy_id, agb, activity_code, date AS day,
           coalesce(CAST(quantity * 100 AS BIGINT), 100) AS qh          -- hundredths; empty = 1
    FROM {activities}
),
providers AS (SELECT agb, discipline FROM {providers}),
igos AS (SELECT igo_id, agb FROM {igos}),
periods AS (                                   -- membership periods per (IGO, AGB), as a list
    SELECT igo_id, agb, list({{'start': start_date, 'end': end_date}}) AS periods
    FROM {memberships} GROUP BY igo_id, agb
),
contract_rows AS (SELECT igo_id, uzovi, CAST(year AS BIGINT) AS year, prestatie_code, tariff_cents,
                         contract_id, overlap_policy, partial_trajectory_policy FROM {contracts}),
contracts AS (                                  -- one contract per IGO x insurer x year
    SELECT igo_id, uzovi, year, max(contract_id) AS contract_id,
           max(overlap_policy) AS c_overlap, max(partial_trajectory_policy) AS c_partial
    FROM contract_rows GROUP BY igo_id, uzovi, year
),
-- 1. trajectories and their phase windows (trajectory rule set = intake year); p = integer key ------------------
traj AS (
    SELECT row_number() OVER (ORDER BY p.pregnancy_id) AS p,
           p.pregnancy_id, p.bsn, p.uzovi, p.igo_id, p.due_date, p.end_reason, p.referral_stage,
           year(p.intake_date) AS traj_year, r.year IS NOT NULL AS has_traj,
           CASE WHEN p.end_reason = 'birth' THEN p.end_date END AS birth,
           coalesce(p.labour_date, birth) AS natal_start,
           p.intake_date AS s0,                                                  -- prenatal
           CASE WHEN natal_start IS NOT NULL THEN natal_start
                WHEN p.end_date IS NULL THEN NULL
                WHEN p.end_reason IN ('miscarriage', 'termination') THEN p.end_date + r.aftercare_days
                ELSE p.end_date END AS e0,
           natal_start AS s1,                                                    -- natal
           CASE WHEN birth IS NULL AND p.end_date IS NOT NULL THEN p.end_date ELSE birth END AS e1,
           CASE WHEN natal_start IS NOT NULL THEN birth END AS s2,               -- postnatal
           birth + r.postnatal_days AS e2
    FROM pregnancies p LEFT JOIN ref_rulesets r ON r.year = year(p.intake_date)
),
-- 2. activities to trajectories: the id they name, else BSN + date (newest running trajectory wins) -----------
by_bsn AS (
    SELECT a.activity_id, a.bsn, t.pregnancy_id, a.agb, a.activity_code, a.day, a.qh
    FROM activities a
    JOIN pregnancies t
      ON t.bsn = a.bsn AND t.intake_date <= a.day
     AND (t.end_date IS NULL OR a.day <= t.end_date + (SELECT max(postnatal_days) FROM ref_rulesets))
    WHERE a.pregnancy_id IS NULL
    QUALIFY row_number() OVER (PARTITION BY a.activity_id ORDER BY t.intake_date DESC, t.pregnancy_id DESC) = 1
),
assigned AS (
    SELECT bsn, pregnancy_id, agb, activity_code, day, qh FROM activities WHERE pregnancy_id IS NOT NULL
    UNION ALL
    SELECT bsn, pregnancy_id, agb, activity_code, day, qh FROM by_bsn
),
-- 3. placing: known trajectory and BSN, known code, in scope, fitting discipline, inside a window -------------
in_trajectory AS (
    SELECT t.p, t.igo_id, t.traj_year, a.agb, a.activity_code, a.day, a.qh,
           coalesce(a.day >= t.s0 AND (t.e0 IS NULL OR a.day <= t.e0), FALSE) AS in0,
           coalesce(a.day >= t.s1 AND (t.e1 IS NULL OR a.day <= t.e1), FALSE) AS in1,
           coalesce(a.day >= t.s2 AND (t.e2 IS NULL OR a.day <= t.e2), FALSE) AS in2
    FROM assigned a JOIN traj t ON t.pregnancy_id = a.pregnancy_id AND t.bsn = a.bsn
),
placed AS (                                     -- pp = pregnancy x phase key; member on the activity date
    SELECT * FROM (
        SELECT a.p * 3 + CASE WHEN ty.ph IS NOT NULL THEN         -- a fixed-phase type must fit its window
                                   CASE WHEN (ty.ph = 0 AND in0) OR (ty.ph = 1 AND in1) OR (ty.ph = 2 AND in2)
                                        THEN ty.ph END
                              WHEN in1 THEN 1 WHEN in0 THEN 0 WHEN in2 THEN 2 END AS pp,   -- labour wins
               a.agb, a.activity_code, a.day, a.qh, pr.discipline AS disc, ty.mono AS mono_traj,
               coalesce(len(list_filter(m.periods, lambda x: x.start <= a.day AND (x.end IS NULL OR a.day <= x.end)))
                        > 0, FALSE) AS member
        FROM in_trajectory a
        LEFT JOIN ref_types ty ON ty.year = a.traj_year AND ty.code = a.activity_code
        LEFT JOIN providers pr ON pr.agb = a.agb
        LEFT JOIN periods m ON m.igo_id = a.igo_id AND m.agb = a.agb
        WHERE coalesce(ty.in_scope, FALSE)                                    -- known code, in scope
          AND (pr.discipline IS NULL OR list_contains(ty.disciplines, pr.discipline))   -- discipline fits
    )
    WHERE pp IS NOT NULL                                                      -- inside a window
),
phase_stats AS (
    SELECT pp, count(*) AS n_placed, count(*) FILTER (WHERE member) AS n_members,
           coalesce(bool_or(disc IN ('hospital', 'gynaecologist')), FALSE) AS secondary
    FROM placed GROUP BY pp
),
-- 4. deciding each pregnancy x phase ---------------------------------------------------------------------------
grid AS (
    SELECT t.p * 3 + w.ph AS pp, t.pregnancy_id, t.igo_id, t.uzovi, t.due_date, t.end_reason, t.referral_stage,
           t.has_traj, w.*
    FROM traj t
    CROSS JOIN LATERAL (VALUES (0, TRUE, t.s0, t.e0),
                               (1, t.s1 IS NOT NULL, t.s1, t.e1),
                               (2, t.s2 IS NOT NULL, t.s2, t.e2)) w(ph, w_exists, w_start, w_end)
),
integral_pick AS (                              -- first integral prestatie whose condition holds, by priority
    SELECT i.year, i.ph, e.end_key, s.secondary, i.code, i.days
    FROM ref_integral i
    CROSS JOIN (VALUES (''), ('birth'), ('miscarriage'), ('termination'), ('moved_away'), ('switched_provider'),
                       ('maternal_death')) e(end_key)
    CROSS JOIN (VALUES (FALSE), (TRUE)) s(secondary)
    WHERE CASE i.condition WHEN 'always' THEN TRUE
                           WHEN 'birth' THEN e.end_key = 'birth'
                           WHEN 'no_birth' THEN e.end_key IN ('miscarriage', 'termination')
                           WHEN 'primary_only' THEN NOT s.secondary
                           WHEN 'secondary' THEN s.secondary END
    QUALIFY row_number() OVER (PARTITION BY i.year, i.ph, e.end_key, s.secondary ORDER BY i.priority, i.ord) = 1
),
phases AS (                                     -- rule set and contract of the year the phase started
    SELECT g.*, year(g.w_start) AS year, r.year IS NOT NULL AS has_rules,
           coalesce(s.n_placed, 0) AS n_placed, coalesce(s.n_members, 0) AS n_members,
           c.contract_id, coalesce(c.c_overlap, r.overlap) AS overlap, coalesce(c.c_partial, r.partial) AS partial,
           ip.code AS i_code, ct.tariff_cents AS i_tariff, g.w_end + coalesce(ip.days, 0) AS declaration_date
    FROM grid g
    LEFT JOIN ref_rulesets r ON r.year = year(g.w_start)
    LEFT JOIN contracts c ON c.igo_id = g.igo_id AND c.uzovi = g.uzovi AND c.year = year(g.w_start)
    LEFT JOIN phase_stats s ON s.pp = g.pp
    LEFT JOIN integral_pick ip ON ip.year = year(g.w_start) AND ip.ph = g.ph
          AND ip.end_key = coalesce(g.end_reason, '') AND ip.secondary = coalesce(s.secondary, FALSE)
    LEFT JOIN contract_rows ct ON ct.igo_id = g.igo_id AND ct.uzovi = g.uzovi AND ct.year = year(g.w_start)
          AND ct.prestatie_code = ip.code
),
decided AS (
    SELECT *,
           CASE WHEN NOT has_traj THEN 'incomplete'                          -- no rule set for the intake year
                WHEN NOT w_exists AND end_reason IS NULL THEN 'incomplete'   -- ongoing
                WHEN NOT w_exists THEN 'not_applicable'                      -- phase not reached
                WHEN NOT has_rules THEN 'incomplete'                         -- no rule set for the phase year
                WHEN w_end IS NULL THEN 'incomplete'                         -- still running
                WHEN n_placed = 0 THEN 'incomplete'                          -- no care in the phase
                WHEN declaration_date > DATE '{as_of}' THEN 'incomplete'      -- not claimable yet
                WHEN (n_placed > n_members AND (overlap = 'break_bundle' OR n_members = 0))   -- bundle breaker
                  OR (end_reason IN ('moved_away', 'switched_provider', 'maternal_death') AND partial = 'fallback')
                  OR contract_id IS NULL OR i_code IS NULL OR i_tariff IS NULL THEN 'fallback'
                ELSE 'integral' END AS outcome
    FROM phases
),
-- 5. claim lines ------------------------------------------------------------------------------------------------
integral_lines AS (                             -- the IGO claims the contract tariff
    SELECT d.pp, 'integral' AS kind, coalesce(i.agb, '') AS claimant_agb, d.i_tariff AS amount
    FROM decided d LEFT JOIN igos i ON i.igo_id = d.igo_id
    WHERE d.outcome = 'integral'
),
fallback_acts AS (                              -- member care (known discipline) in fallback phases
    SELECT p.pp, d.ph, p.agb, p.day, p.qh, p.disc, d.year, d.igo_id, d.uzovi, d.due_date, d.end_reason,
           d.referral_stage,
           coalesce(tp.mono, p.mono_traj) AS mono_code            -- as the phase year's rule set claims it
    FROM placed p
    JOIN decided d ON d.pp = p.pp
    LEFT JOIN ref_types tp ON tp.year = d.year AND tp.code = p.activity_code
    WHERE p.member AND p.disc IS NOT NULL AND d.outcome = 'fallback'
),
mono_priced AS (                                -- per (year, code, discipline): the last row of the file
    SELECT * FROM ref_mono QUALIFY row_number() OVER (PARTITION BY year, code, discipline ORDER BY ord DESC) = 1
),
activity_lines AS (                             -- one line per scan, test or hour: quantity x tariff, half-up
    SELECT f.pp, 'mono' AS kind, f.agb AS claimant_agb,
           (f.qh * coalesce(ct.tariff_cents, m.tariff) + 50) // 100 AS amount
    FROM fallback_acts f
    JOIN mono_priced m ON m.year = f.year AND m.code = f.mono_code AND m.discipline = f.disc
    LEFT JOIN contract_rows ct ON ct.igo_id = f.igo_id AND ct.uzovi = f.uzovi AND ct.year = f.year
          AND ct.prestatie_code = f.mono_code
    WHERE f.mono_code NOT IN ('phase', '')
),
provider_phases AS (                            -- per member: first and last week, care run to the phase end?
    SELECT pp, ph, agb, disc, year, igo_id, uzovi,
           CAST(floor((min(day) - due_date + 280) / 7) AS INTEGER) AS start_week,
           CAST(floor((max(day) - due_date + 280) / 7) AS INTEGER) AS end_week,
           CASE WHEN ph = 2 THEN TRUE
                WHEN coalesce(end_reason, '') <> 'birth' THEN FALSE
                WHEN disc NOT IN ('midwife', 'gp') OR referral_stage IS NULL THEN TRUE
                WHEN ph = 0 THEN referral_stage = 'labour'
                ELSE referral_stage <> 'labour' END AS completed
    FROM fallback_acts WHERE mono_code = 'phase'
    GROUP BY pp, ph, agb, disc, year, igo_id, uzovi, due_date, end_reason, referral_stage
),
phase_lines AS (                                -- the first fitting per-phase prestatie (priority, code)
    SELECT g.pp, 'mono' AS kind, g.agb AS claimant_agb, coalesce(ct.tariff_cents, m.tariff) AS amount
    FROM provider_phases g
    JOIN ref_mono m ON m.unit = 'phase' AND m.year = g.year AND m.discipline = g.disc AND m.ph = g.ph
         AND (m.completed = 'any' OR (m.completed = 'yes') = g.completed)
         AND (m.start_min IS NULL OR g.start_week >= m.start_min)
         AND (m.start_max IS NULL OR g.start_week <= m.start_max)
         AND (m.end_min IS NULL OR g.end_week >= m.end_min) AND (m.end_max IS NULL OR g.end_week <= m.end_max)
    LEFT JOIN contract_rows ct ON ct.igo_id = g.igo_id AND ct.uzovi = g.uzovi AND ct.year = g.year
          AND ct.prestatie_code = m.code
    QUALIFY row_number() OVER (PARTITION BY g.pp, g.agb ORDER BY m.priority, m.code, m.ord) = 1
),
lines AS (
    SELECT * FROM integral_lines UNION ALL SELECT * FROM activity_lines UNION ALL SELECT * FROM phase_lines
),
phase_amounts AS (SELECT pp, count(*) AS n_lines, sum(amount) AS amount FROM lines GROUP BY pp)
-- result: one row per pregnancy x phase, then one row per claimant (kind, AGB) with its total
SELECT 'phase' AS row_kind, d.pregnancy_id, ['prenatal', 'natal', 'postnatal'][d.ph + 1] AS phase, d.outcome,
       NULL AS kind, NULL AS claimant_agb, coalesce(a.n_lines, 0) AS n_lines, coalesce(a.amount, 0) AS amount_cents
FROM decided d LEFT JOIN phase_amounts a ON a.pp = d.pp
UNION ALL
SELECT 'member', NULL, NULL, NULL, kind, claimant_agb, count(*), sum(amount)
FROM lines GROUP BY kind, claimant_agb
"""


def reference_sql(region: Path | None, as_of: date = AS_OF) -> str:
    """The one statement: ``CREATE OR REPLACE TABLE ref_out AS WITH … SELECT …`` over the region's CSV files
    (``region`` None: over the tables ``in_<kind>`` that ``preload`` made)."""
    sources = {kind: _read_csv(region, kind) if region is not None else f"in_{kind}" for kind in _COLUMNS}
    return QUERY.format(as_of=as_of.isoformat(), **sources)


def preload(con: duckdb.DuckDBPyConnection, region: Path) -> None:
    """The region's CSV files as DuckDB tables ``in_<kind>`` (typed as ``read_csv`` types them in the query)."""
    for kind in _COLUMNS:
        con.execute(f"CREATE OR REPLACE TABLE in_{kind} AS SELECT * FROM {_read_csv(region, kind)}")


# --- timing ---------------------------------------------------------------------------------------------------

from national_year import PeakSampler  # noqa: E402 (one sampler for every benchmark)

SETTINGS = "SET disabled_optimizers = 'build_side_probe_side'"
"""DuckDB estimates the rows of a filtered CTE scan badly here (274 placed activities instead of 4.3 million):
left to itself it flips the join of the fallback phases (10,700) to the placed activities and builds its hash
table on the 4.3 million, which costs more than a second. Without the flip every hash join builds on its
right-hand input as the join order optimizer left it, the small side everywhere in this query."""


@contextmanager
def connection() -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB connection with ``SETTINGS``; the catalogue tables still have to be loaded."""
    con = duckdb.connect()
    try:
        con.execute(SETTINGS)
        yield con
    finally:
        con.close()


def run_reference(
    con: duckdb.DuckDBPyConnection, region: Path | None, as_of: date = AS_OF, repeat: int = 3
) -> tuple[float, list[tuple[float, float]], float]:
    """Run the query ``repeat`` times on ``con`` (catalogue tables loaded; ``region`` None: on preloaded tables).

    Returns the best wall time, (wall, CPU) seconds of every run (CPU: user + system time of this process, all
    threads) and the peak RSS in MiB."""
    sql = reference_sql(region, as_of)
    process = psutil.Process()
    runs = []
    peak = 0
    for _ in range(repeat):
        con.execute("DROP TABLE IF EXISTS ref_out")
        with PeakSampler() as sampler:
            cpu = process.cpu_times()
            started = time.perf_counter()
            con.execute(sql)
            wall = time.perf_counter() - started
            after = process.cpu_times()
        runs.append((wall, after.user + after.system - cpu.user - cpu.system))
        peak = max(peak, sampler.peak)
    return min(wall for wall, _ in runs), runs, peak / MIB


def reference_seconds(region_dir: Path | str, as_of: date = AS_OF, repeat: int = 3) -> float:
    """Best-of-``repeat`` wall time of the reference query on a region folder (catalogue loading not timed)."""
    with connection() as con:
        load_catalogue_tables(con)
        best, _, _ = run_reference(con, Path(region_dir), as_of, repeat)
    return best


# --- comparison with a decided database --------------------------------------------------------------------


def _ours(db_path: Path) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """From a decided database, the current decisions: per pregnancy × phase (outcome, lines, amount) and the
    claim lines (pregnancy, phase, kind, claimant, amount); plus the number of insurer-reported overlaps."""
    from sqlalchemy import func, select, true

    from integraal.services.latest import claim_lines_of, decision_of, latest_decisions
    from integraal.store import tables
    from integraal.store.database import Database

    database = Database(str(db_path))
    latest = latest_decisions(true())
    d, c = tables.phase_decisions, tables.claim_lines
    with database.engine.connect() as connection:
        phase_rows = connection.execute(
            select(d.c.pregnancy_id, d.c.phase, d.c.outcome).join(latest, decision_of(latest))
        ).all()
        line_rows = connection.execute(
            select(c.c.pregnancy_id, c.c.phase, c.c.kind, c.c.claimant_agb, c.c.amount_cents).join(
                latest, claim_lines_of(latest)
            )
        ).all()
        overlaps = connection.execute(select(func.count()).select_from(tables.reported_overlaps)).scalar_one()
    phases = pl.DataFrame(
        phase_rows, schema={"pregnancy_id": pl.String, "phase": pl.String, "outcome": pl.String}, orient="row"
    )
    lines = pl.DataFrame(
        line_rows,
        schema={
            "pregnancy_id": pl.String,
            "phase": pl.String,
            "kind": pl.String,
            "claimant_agb": pl.String,
            "amount_cents": pl.Int64,
        },
        orient="row",
    )
    return phases, lines, int(overlaps)


def _reference_frames(con: duckdb.DuckDBPyConnection) -> tuple[pl.DataFrame, pl.DataFrame]:
    phases = con.execute(
        "SELECT pregnancy_id, phase, outcome, n_lines, amount_cents FROM ref_out WHERE row_kind = 'phase'"
    ).fetchall()
    members = con.execute(
        "SELECT kind, claimant_agb, n_lines, amount_cents FROM ref_out WHERE row_kind = 'member'"
    ).fetchall()
    return (
        pl.DataFrame(
            phases,
            schema={
                "pregnancy_id": pl.String,
                "phase": pl.String,
                "outcome": pl.String,
                "n_lines": pl.Int64,
                "amount_cents": pl.Int64,
            },
            orient="row",
        ),
        pl.DataFrame(
            members,
            schema={"kind": pl.String, "claimant_agb": pl.String, "n_lines": pl.Int64, "amount_cents": pl.Int64},
            orient="row",
        ),
    )


def compare(con: duckdb.DuckDBPyConnection, db_path: Path, examples: int = 3) -> dict[str, Any]:
    """Agreement between ``ref_out`` and the current decisions in ``db_path``; prints a report, returns figures."""
    ref_phases, ref_members = _reference_frames(con)
    our_phases, our_lines, overlaps = _ours(db_path)
    our_amounts = our_lines.group_by("pregnancy_id", "phase").agg(
        pl.len().cast(pl.Int64).alias("n_lines"), pl.col("amount_cents").sum()
    )
    our_phases = our_phases.join(our_amounts, on=["pregnancy_id", "phase"], how="left").with_columns(
        pl.col("n_lines").fill_null(0), pl.col("amount_cents").fill_null(0)
    )
    both = ref_phases.join(our_phases, on=["pregnancy_id", "phase"], how="full", suffix="_ours", coalesce=True)
    n = both.height
    same_outcome = both.filter(pl.col("outcome") == pl.col("outcome_ours")).height
    same_amount = both.filter(
        (pl.col("amount_cents") == pl.col("amount_cents_ours")) & (pl.col("n_lines") == pl.col("n_lines_ours"))
    ).height
    print(
        f"(pregnancy, phase) outcomes: {n:,} (reference {ref_phases.height:,}, ours {our_phases.height:,}); "
        f"equal {same_outcome:,} = {100 * same_outcome / n:.4f} %"
    )
    print(f"(pregnancy, phase) claim lines and amounts equal: {same_amount:,} = {100 * same_amount / n:.4f} %")
    table = both.group_by("phase", "outcome", "outcome_ours").len().sort("phase", "outcome", "outcome_ours")
    differing = table.filter(pl.col("outcome") != pl.col("outcome_ours"))
    if differing.height:
        print("outcomes that differ (reference → ours):")
        for phase, ref, ours, count in differing.rows():
            sample = (
                both.filter((pl.col("phase") == phase) & (pl.col("outcome") == ref) & (pl.col("outcome_ours") == ours))
                .sort("pregnancy_id")["pregnancy_id"]
                .head(examples)
                .to_list()
            )
            print(f"  {phase:<9} {ref} → {ours}: {count:,}  e.g. {', '.join(sample)}")
    amount_diff = both.filter(
        (pl.col("outcome") == pl.col("outcome_ours"))
        & ((pl.col("amount_cents") != pl.col("amount_cents_ours")) | (pl.col("n_lines") != pl.col("n_lines_ours")))
    )
    if amount_diff.height:
        print(f"same outcome, different lines or amount: {amount_diff.height:,}")
        for row in amount_diff.sort("pregnancy_id").head(examples).iter_rows(named=True):
            print(
                f"  {row['pregnancy_id']} {row['phase']} {row['outcome']}: reference {row['n_lines']} lines "
                f"{row['amount_cents']} ct, ours {row['n_lines_ours']} lines {row['amount_cents_ours']} ct"
            )

    our_members = our_lines.group_by("kind", "claimant_agb").agg(
        pl.len().cast(pl.Int64).alias("n_lines"), pl.col("amount_cents").sum()
    )
    members = (
        ref_members.join(our_members, on=["kind", "claimant_agb"], how="full", suffix="_ours", coalesce=True)
        .with_columns(pl.col(c).fill_null(0) for c in ("n_lines", "amount_cents", "n_lines_ours", "amount_cents_ours"))
        .with_columns((pl.col("amount_cents") - pl.col("amount_cents_ours")).alias("diff"))
    )
    equal = members.filter(pl.col("diff") == 0).height
    max_diff = int(members["diff"].abs().max() or 0)
    print(
        f"per-claimant totals (IGOs: integral lines; members: mono lines): {members.height:,} claimants, "
        f"equal to the cent {equal:,}, max difference {max_diff} ct"
    )
    for kind in ("integral", "mono"):
        part = members.filter(pl.col("kind") == kind)
        ref_total, our_total = part["amount_cents"].sum() / 100, part["amount_cents_ours"].sum() / 100
        print(
            f"  {kind:<8} {part.height:4d} claimants, equal {part.filter(pl.col('diff') == 0).height:4d}; "
            f"total reference {ref_total:,.2f} EUR, ours {our_total:,.2f} EUR"
        )
    if equal < members.height:
        print(members.filter(pl.col("diff") != 0).sort(pl.col("diff").abs(), descending=True).head(10))
    if overlaps:
        print(f"note: the database holds {overlaps} insurer-reported overlaps (0587), which the reference ignores")
    return {
        "phases": n,
        "outcomes_equal": same_outcome,
        "amounts_equal": same_amount,
        "claimants": members.height,
        "claimants_equal": equal,
        "max_diff_cents": max_diff,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--region", type=Path, default=Path("/tmp/nat/region"), help="folder with the CSV files")
    parser.add_argument("--db", type=Path, default=None, help="a decided database to compare with")
    parser.add_argument("--as-of", type=date.fromisoformat, default=AS_OF)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--examples", type=int, default=3, help="example pregnancies per kind of disagreement")
    parser.add_argument(
        "--preloaded",
        action="store_true",
        help="also time the query on the CSV files loaded into DuckDB tables first (decision without parsing)",
    )
    parser.add_argument("--sql", action="store_true", help="print the query and stop")
    args = parser.parse_args()
    if args.sql:
        print(reference_sql(args.region, args.as_of))
        return 0

    with connection() as con:
        started = time.perf_counter()
        years = load_catalogue_tables(con)
        print(f"catalogue {', '.join(map(str, years))} loaded in {time.perf_counter() - started:.2f} s (not timed)")
        best, runs, peak = run_reference(con, args.region, args.as_of, args.repeat)
        print(f"runs (wall / CPU): {', '.join(f'{w:.2f} / {c:.2f} s' for w, c in runs)}; peak RSS {peak:.0f} MiB")
        print(f"reference decision: {best:.2f} s")
        if args.preloaded:
            started = time.perf_counter()
            preload(con, args.region)
            print(f"CSV files loaded into DuckDB tables in {time.perf_counter() - started:.2f} s")
            best_loaded, runs, peak = run_reference(con, None, args.as_of, args.repeat)
            print(f"runs (wall / CPU): {', '.join(f'{w:.2f} / {c:.2f} s' for w, c in runs)}; peak RSS {peak:.0f} MiB")
            print(f"reference decision on preloaded tables: {best_loaded:.2f} s")
        counts = con.execute(
            "SELECT phase, outcome, count(*) FROM ref_out WHERE row_kind = 'phase' GROUP BY ALL ORDER BY ALL"
        ).fetchall()
        print("phase outcomes: " + ", ".join(f"{p}/{o} {n:,}" for p, o, n in counts))
        if args.db is not None:
            compare(con, args.db, args.examples)
    return 0


if __name__ == "__main__":
    sys.exit(main())
