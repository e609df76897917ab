"""Casemix views (issue 6, part 2): the numbers against independent SQL, every role's scope, and small numbers
withheld — with complementary suppression — in everything an insurer or analyst gets, exports included.

World: a synthetic region of two IGOs and six insurers, imported and decided, then a few pregnancies decided
again (so "the current decision" is not simply the newest run). Its IGO × insurer cells range from a few dozen
to hundreds of pregnancies, so some rows are shown and many are withheld.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections import defaultdict
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from xml.etree import ElementTree

import pytest
from sqlalchemy import text as sql_text

from dbutil import fresh_database, release
from integraal.distribution import derive_client_profile
from integraal.services.access import SYSTEM, AccessDeniedError, NotFoundError, Principal, Role
from integraal.services.casemix import (
    MARKER,
    TABLES,
    TOTAL,
    CasemixReport,
    CasemixTable,
    casemix,
    casemix_csv,
    casemix_xlsx,
)
from integraal.services.decisions import decide_all
from integraal.services.imports import import_files
from integraal.services.reruns import rerun_decisions
from integraal.store import activity_blocks
from integraal.store.database import Database
from integraal.store.repositories import load_pregnancies
from integraal.synth import generate_region, write_region

YEAR = 2025
COUNTS = ("pregnancies", "activities", "claim_lines", "decided", "fallback", "phases")
"""Measures that are counts (the rest are amounts, averages and percentages)."""
ADDITIVE = {
    # table: measures whose group total is the sum of the rows (so a reader can subtract)
    "prestaties": ("pregnancies",),
    "profiles": ("pregnancies",),
    "referrals": ("pregnancies",),
    "activities": ("activities",),
    "euros": ("claim_lines",),
    "breaker_rate": ("decided", "fallback"),
    "breaker_causes": ("phases",),
}
CURRENT = """
    c.run_id = (SELECT max(d.run_id) FROM phase_decisions d WHERE d.pregnancy_id = c.pregnancy_id AND d.phase = c.phase)
"""
IN_YEAR = "p.due_date >= '2025-01-01' AND p.due_date < '2026-01-01'"


@pytest.fixture(scope="module")
def region(tmp_path_factory) -> Database:
    folder = tmp_path_factory.mktemp("casemix")
    paths = write_region(generate_region(4000, seed=11), folder / "region")
    db = fresh_database(folder, "casemix")
    assert all(r.ok for r in import_files(db, list(paths.values())))
    decide_all(db, date(2026, 3, 1))
    some = _sql(db, f"SELECT pregnancy_id FROM pregnancies p WHERE {IN_YEAR} ORDER BY pregnancy_id LIMIT 40")
    rerun_decisions(db, SYSTEM, date(2026, 4, 1), [pid for (pid,) in some])
    yield db
    release(db)


def _sql(db: Database, text: str) -> list[tuple]:
    """Plain SQL that SQLite and PostgreSQL both read (``text()`` escapes the ``%`` of LIKE for the driver)."""
    with db.engine.connect() as connection:
        return [tuple(row) for row in connection.execute(sql_text(text)).all()]


def _insurer(uzovi: str) -> Principal:
    return Principal(None, f"insurer {uzovi}", Role.INSURER, uzovi=uzovi)


ANALYST = Principal(None, "analyst", Role.ANALYST)


def _by_key(table: CasemixTable) -> dict[tuple[str, str, str, str], tuple]:
    return {(r.igo_id, r.uzovi, r.group, r.category): r.values for r in table.rows}


def _insurers(db: Database) -> list[str]:
    return [u for (u,) in _sql(db, f"SELECT DISTINCT uzovi FROM pregnancies p WHERE {IN_YEAR} ORDER BY uzovi")]


def _outside_reports(db: Database) -> list[CasemixReport]:
    return [casemix(db, ANALYST, YEAR)] + [casemix(db, _insurer(u), YEAR) for u in _insurers(db)]


# --- the numbers ---------------------------------------------------------------------------------------------


def test_prestatie_totals_equal_the_integral_claim_lines_of_the_current_decisions(region):
    expected = {
        (igo, uzovi, phase, code): (int(n), int(cents))
        for igo, uzovi, phase, code, n, cents in _sql(
            region,
            f"""SELECT p.igo_id, p.uzovi, c.phase, c.prestatie_code, count(*), sum(c.amount_cents)
                FROM claim_lines c JOIN pregnancies p ON p.pregnancy_id = c.pregnancy_id
                WHERE c.kind = 'integral' AND {IN_YEAR} AND {CURRENT}
                GROUP BY 1, 2, 3, 4""",
        )
    }
    table = casemix(region, SYSTEM, YEAR).table("prestaties")
    rows = _by_key(table)
    shown = {key: (int(v[0]), int(v[1])) for key, v in rows.items() if key[3] != TOTAL and v[0]}
    assert shown == expected
    totals = sum(int(v[0]) for key, v in rows.items() if key[3] == TOTAL)
    (lines,) = _sql(
        region,
        f"""SELECT count(*) FROM claim_lines c JOIN pregnancies p ON p.pregnancy_id = c.pregnancy_id
            WHERE c.kind = 'integral' AND {IN_YEAR} AND {CURRENT}""",
    )[0]
    assert totals == lines > 100
    # The rerun made newer runs for a few pregnancies: counting every run's lines would be more.
    (all_runs,) = _sql(
        region,
        f"""SELECT count(*) FROM claim_lines c JOIN pregnancies p ON p.pregnancy_id = c.pregnancy_id
            WHERE c.kind = 'integral' AND {IN_YEAR}""",
    )[0]
    assert all_runs > lines


def test_profiles_are_those_of_derive_client_profile(region):
    with region.unit_of_work() as connection:
        pregnancies = [x for x in load_pregnancies(connection) if x.due_date.year == YEAR]
    expected: dict[tuple[str, str, str], int] = defaultdict(int)
    for x in pregnancies:
        expected[(x.igo_id, x.uzovi, derive_client_profile(x).value)] += 1
    rows = _by_key(casemix(region, SYSTEM, YEAR).table("profiles"))
    assert {(i, u, c): v[0] for (i, u, _, c), v in rows.items() if c != TOTAL and v[0]} == dict(expected)
    assert sum(v[0] for (*_, c), v in rows.items() if c == TOTAL) == len(pregnancies)


def test_activities_per_discipline_match_a_count_of_the_stored_activities(region):
    """Counted one by one in Python over the stored activities (columnar blocks), against the report's joins."""
    cells = {
        pid: (igo, uzovi)
        for pid, igo, uzovi in _sql(region, f"SELECT pregnancy_id, igo_id, uzovi FROM pregnancies p WHERE {IN_YEAR}")
    }
    discipline = dict(_sql(region, "SELECT agb, discipline FROM providers"))
    with region.unit_of_work() as connection:
        stored = activity_blocks.read_all(connection)
    pregnancies: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    activities: dict[tuple[str, str, str], int] = defaultdict(int)
    for pregnancy_id, agb in stored.select("pregnancy_id", "agb").iter_rows():
        if pregnancy_id in cells:
            key = (*cells[pregnancy_id], discipline.get(agb, "unknown"))
            pregnancies[key].add(pregnancy_id)
            activities[key] += 1
    expected = {key: (len(pregnancies[key]), n) for key, n in activities.items()}
    assert len(expected) > 3
    rows = _by_key(casemix(region, SYSTEM, YEAR).table("activities"))
    assert {(i, u, c): (v[0], v[1]) for (i, u, _, c), v in rows.items() if c != TOTAL and v[1]} == expected


def _cents_per_pregnancy(cents: int, pregnancies: int) -> Decimal:
    return (Decimal(cents) / pregnancies / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def test_euros_per_pregnancy_match_to_the_cent(region):
    size = {
        (igo, uzovi): int(n)
        for igo, uzovi, n in _sql(
            region, f"SELECT igo_id, uzovi, count(*) FROM pregnancies p WHERE {IN_YEAR} GROUP BY 1, 2"
        )
    }
    money = _sql(
        region,
        f"""SELECT p.igo_id, p.uzovi, CASE WHEN c.kind = 'integral' THEN 'integral'
                   ELSE coalesce(v.discipline, 'unknown') END, count(*), sum(c.amount_cents)
            FROM claim_lines c JOIN pregnancies p ON p.pregnancy_id = c.pregnancy_id
            LEFT JOIN providers v ON v.agb = c.claimant_agb
            WHERE {IN_YEAR} AND {CURRENT} GROUP BY 1, 2, 3""",
    )
    table = casemix(region, SYSTEM, YEAR).table("euros")
    rows = _by_key(table)
    totals: dict[tuple[str, str], int] = defaultdict(int)
    for igo, uzovi, claimant, lines, cents in money:
        values = rows[(igo, uzovi, "", claimant)]
        assert values == (lines, cents, _cents_per_pregnancy(cents, size[(igo, uzovi)])), (igo, uzovi, claimant)
        totals[(igo, uzovi)] += cents
    assert len(money) > 10 and len(totals) == len(size)
    for cell, cents in totals.items():
        assert table.value(
            next(r for r in table.rows if (r.igo_id, r.uzovi, r.category) == (*cell, TOTAL)), "euros_per_pregnancy"
        ) == (_cents_per_pregnancy(cents, size[cell]))


def test_fallback_rate_and_causes_match_sql(region):
    decided = _sql(
        region,
        f"""SELECT p.igo_id, p.uzovi, d.phase, sum(CASE WHEN d.outcome IN ('integral', 'fallback') THEN 1 ELSE 0 END),
                   sum(CASE WHEN d.outcome = 'fallback' THEN 1 ELSE 0 END),
                   sum(CASE WHEN d.outcome = 'fallback' AND d.reasons LIKE '%NON_MEMBER_CARE%' THEN 1 ELSE 0 END)
            FROM phase_decisions d JOIN pregnancies p ON p.pregnancy_id = d.pregnancy_id
            WHERE {IN_YEAR} AND d.run_id = (SELECT max(e.run_id) FROM phase_decisions e
                                             WHERE e.pregnancy_id = d.pregnancy_id AND e.phase = d.phase)
            GROUP BY 1, 2, 3""",
    )
    report = casemix(region, SYSTEM, YEAR)
    rate, causes = _by_key(report.table("breaker_rate")), _by_key(report.table("breaker_causes"))
    for igo, uzovi, phase, n, x, non_member in decided:
        pct = (Decimal(100 * x) / n).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP) if n else None
        assert rate[(igo, uzovi, "", phase)] == (n, x, pct)
        assert causes[(igo, uzovi, phase, "NON_MEMBER_CARE")] == (non_member,)
    assert sum(x for *_, x, _ in decided) > 10
    labels = {r.category: (r.label_nl, r.label_en) for r in report.table("breaker_causes").rows}
    assert labels["NON_MEMBER_CARE"] == ("bundelbreker: zorg door niet-lid", "bundle breaker: care by a non-member")


# --- scope ---------------------------------------------------------------------------------------------------


def test_an_insurer_sees_only_its_insured(region):
    size = {
        (igo, uzovi): int(n)
        for igo, uzovi, n in _sql(
            region, f"SELECT igo_id, uzovi, count(*) FROM pregnancies p WHERE {IN_YEAR} GROUP BY 1, 2"
        )
    }
    full = casemix(region, SYSTEM, YEAR)
    for uzovi in _insurers(region):
        report = casemix(region, _insurer(uzovi), YEAR)
        assert report.suppressed and report.minimum == 10
        assert {(r.igo_id, r.uzovi) for t in report.tables for r in t.rows} == {c for c in size if c[1] == uzovi}
        for row in report.table("profiles").rows:
            if row.category == TOTAL:
                n = size[(row.igo_id, uzovi)]
                assert row.values == ((n,) if n >= 10 else (None,))
        # What an insurer is shown is exactly what the IGO sees of its insured: suppression only withholds.
        for t in report.tables:
            mine = _by_key(full.table(t.name))
            for r in t.rows:
                if not r.withheld:
                    assert r.values == mine[(r.igo_id, r.uzovi, r.group, r.category)], (t.name, r)


def test_the_igo_sees_its_own_igo_in_full_with_the_flags_of_the_outside_view(region):
    board = Principal(None, "board", Role.IGO_BOARD, igo_id="IGO-01")
    report = casemix(region, board, YEAR)
    analyst = casemix(region, ANALYST, YEAR)
    full = casemix(region, SYSTEM, YEAR)
    assert not report.suppressed
    assert {r.igo_id for t in report.tables for r in t.rows} == {"IGO-01"}
    assert len({r.uzovi for r in report.table("profiles").rows}) == 6  # every insurer, one cell each
    for t in report.tables:
        outside = {(r.igo_id, r.uzovi, r.group, r.category): r.withheld for r in analyst.table(t.name).rows}
        everything = _by_key(full.table(t.name))
        for r in t.rows:
            key = (r.igo_id, r.uzovi, r.group, r.category)
            assert not r.withheld and r.values == everything[key]
            assert (r.hidden_outside is not None) == outside[key], (t.name, key)
    assert any(r.hidden_outside for t in report.tables for r in t.rows)
    assert any(not r.hidden_outside for t in report.tables for r in t.rows)
    # The filters narrow within the scope; another IGO is not found.
    assert {r.uzovi for r in casemix(region, board, YEAR, uzovi="3311").table("profiles").rows} == {"3311"}
    with pytest.raises(NotFoundError):
        casemix(region, board, YEAR, igo_id="IGO-02")


def test_a_member_provider_is_refused_and_other_tenants_are_not_found(region):
    with pytest.raises(AccessDeniedError):
        casemix(region, Principal(None, "m", Role.MEMBER, agb="08000001"), YEAR)
    with pytest.raises(NotFoundError):
        casemix(region, _insurer("3311"), YEAR, uzovi="7029")
    with pytest.raises(NotFoundError):
        casemix(region, ANALYST, YEAR, igo_id="IGO-XX")
    with pytest.raises(ValueError, match="minimum"):
        casemix(region, ANALYST, YEAR, minimum=0)
    narrowed = casemix(region, _insurer("3311"), YEAR, igo_id="IGO-02")
    assert {(r.igo_id, r.uzovi) for r in narrowed.table("profiles").rows} == {("IGO-02", "3311")}


def test_an_analyst_report_holds_no_pregnancy_id(region):
    ids = [pid for (pid,) in _sql(region, "SELECT pregnancy_id FROM pregnancies")]
    text = casemix_csv(casemix(region, ANALYST, YEAR)).decode("utf-8")
    assert not [pid for pid in ids if pid in text]


# --- suppression -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("minimum", [10, 25])
def test_no_small_count_is_shown_outside_the_igo(region, minimum):
    for report in [
        casemix(region, ANALYST, YEAR, minimum=minimum),
        casemix(region, _insurer("3311"), YEAR, minimum=minimum),
    ]:
        assert report.suppressed and report.minimum == minimum
        withheld = 0
        for t in report.tables:
            for r in t.rows:
                assert r.hidden_outside is None  # outside, not even the reason is shown
                withheld += r.withheld
                if r.withheld:
                    assert all(v is None for v in r.values)
                for measure in COUNTS:
                    if measure in t.measures:
                        value = t.value(r, measure)
                        assert value is None or value >= minimum, (t.name, r)
        assert withheld > 0


def test_no_small_count_is_written_in_the_exports(region):
    for report in _outside_reports(region):
        shown = withheld = 0
        for record in csv.DictReader(io.StringIO(casemix_csv(report).decode("utf-8"))):
            assert record["hidden_outside"] == ""
            for measure in COUNTS:
                cell = record[measure]
                if cell == MARKER:
                    withheld += 1
                elif cell:
                    assert int(cell) >= 10, record
                    shown += 1
        assert withheld > 0 and shown > 0
        sheets = _read_xlsx(casemix_xlsx(report))
        assert list(sheets) == list(TABLES)
        for t in report.tables:
            header, *rows = sheets[t.name]
            assert len(rows) == len(t.rows)
            for cells, row in zip(rows, t.rows, strict=True):
                record = dict(zip(header, cells, strict=False))
                for measure in t.measures:
                    if row.withheld:
                        assert record.get(measure) == MARKER
                    elif measure in COUNTS:
                        assert float(record[measure]) >= 10
                        assert float(record[measure]) == t.value(row, measure)


def test_the_csv_and_the_workbook_of_the_igo_carry_every_number(region):
    report = casemix(region, Principal(None, "admin", Role.IGO_ADMIN, igo_id="IGO-02"), YEAR)
    records = list(csv.DictReader(io.StringIO(casemix_csv(report).decode("utf-8"))))
    assert len(records) == sum(len(t.rows) for t in report.tables)
    assert {r["table"] for r in records} == set(TABLES)
    assert MARKER not in {v for r in records for v in r.values()}
    assert {r["hidden_outside"] for r in records} == {"", "primary", "complementary"}
    euros = [r for r in records if r["table"] == "euros" and r["category"] == TOTAL]
    assert all(re.fullmatch(r"\d+\.\d\d", r["euros_per_pregnancy"]) for r in euros)
    sheets = _read_xlsx(casemix_xlsx(report))
    header, *rows = sheets["profiles"]
    assert header[:3] == ["year", "igo_id", "uzovi"] and "pregnancies" in header
    assert [float(row[header.index("pregnancies")]) for row in rows] == [
        r.values[0] for r in report.table("profiles").rows
    ]


def test_complementary_suppression_leaves_nothing_to_subtract(region):
    """Within every group with a shown total, the withheld rows are never exactly one, and what a reader gets by
    subtraction (total minus the shown rows) is never zero — which would pin every withheld row to zero."""
    truth = {t.name: _by_key(t) for t in casemix(region, SYSTEM, YEAR).tables}
    checked = 0
    for report in _outside_reports(region):
        for t in report.tables:
            groups: dict[tuple[str, str, str], list] = defaultdict(list)
            for r in t.rows:
                groups[(r.igo_id, r.uzovi, r.group)].append(r)
            for key, rows in groups.items():
                total = next(r for r in rows if r.category == TOTAL)
                hidden = [r for r in rows if r.withheld and r.category != TOTAL]
                if total.withheld or not hidden:
                    continue
                checked += 1
                assert len(hidden) >= 2, (t.name, key)
                for measure in ADDITIVE[t.name]:
                    i = t.measures.index(measure)
                    derived = total.values[i] - sum(r.values[i] for r in rows if not r.withheld and r is not total)
                    assert derived == sum(truth[t.name][(*key, r.category)][i] for r in hidden)
                    assert derived > 0, (t.name, key, measure)
                if t.name == "breaker_rate":  # the phases that did not fall back are a count too
                    rest = total.values[0] - total.values[1]
                    shown_rest = sum(r.values[0] - r.values[1] for r in rows if not r.withheld and r is not total)
                    assert rest - shown_rest > 0
    assert checked > 20


def test_linked_tables_are_withheld_together(region):
    """A referral group whose profile is withheld, a causes group whose fallback rate is withheld, and the
    integral euros of a cell with a withheld prestatie total are withheld as a whole."""
    for report in _outside_reports(region):
        withheld = {
            t.name: {(r.igo_id, r.uzovi, r.group, r.category) for r in t.rows if r.withheld} for t in report.tables
        }
        for t_name, parent_table in (("referrals", "profiles"), ("breaker_causes", "breaker_rate")):
            for r in report.table(t_name).rows:
                if (r.igo_id, r.uzovi, "", r.group) in withheld[parent_table]:
                    assert r.withheld, (t_name, r)
        cells_with_hidden_sums = {(i, u) for i, u, _, c in withheld["prestaties"] if c == TOTAL}
        for i, u in cells_with_hidden_sums:
            assert (i, u, "", "integral") in withheld["euros"]


def test_a_cell_is_shown_the_same_way_whatever_the_filters(region):
    """Each cell's pattern is its own: narrowing a report cannot be used to difference it against the whole."""
    whole = {t.name: set(t.rows) for t in casemix(region, ANALYST, YEAR).tables}
    for igo, uzovi in (("IGO-01", None), (None, "3313"), ("IGO-02", "7029")):
        narrowed = casemix(region, ANALYST, YEAR, igo_id=igo, uzovi=uzovi)
        for t in narrowed.tables:
            assert t.rows and set(t.rows) <= whole[t.name]
    mine = casemix(region, _insurer("3313"), YEAR)
    assert all(set(t.rows) <= whole[t.name] for t in mine.tables)


def test_a_cell_below_the_minimum_is_withheld_entirely(region):
    """A cell of fewer pregnancies than the minimum goes as a whole, even where one of its counts is large: a
    claimant's many lines next to their euros per pregnancy would give the small number of pregnancies away."""
    full = casemix(region, SYSTEM, YEAR)
    size = {(r.igo_id, r.uzovi): r.values[0] for r in full.table("profiles").rows if r.category == TOTAL}
    many_lines = [
        (r.values[0], r.igo_id, r.uzovi)
        for r in full.table("euros").rows
        if r.category not in (TOTAL, "integral") and r.values[0] > size[(r.igo_id, r.uzovi)] + 1
    ]
    assert many_lines  # e.g. the hourly kraamzorg lines of a cell without a contract
    _, igo, uzovi = max(many_lines)
    minimum = size[(igo, uzovi)] + 1
    report = casemix(region, _insurer(uzovi), YEAR, minimum=minimum)
    shown = {r.igo_id for t in report.tables for r in t.rows if not r.withheld}
    for t in report.tables:
        for r in t.rows:
            if size[(r.igo_id, uzovi)] < minimum:
                assert r.withheld, (t.name, r)
    assert igo not in shown
    assert shown == {i for (i, u), n in size.items() if u == uzovi and n >= minimum}


# --- reading an xlsx without openpyxl: it is a zip of XML ------------------------------------------------------

_NS = {
    "m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
    "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    "p": "http://schemas.openxmlformats.org/package/2006/relationships",
}


def _column(ref: str) -> int:
    letters = re.match(r"[A-Z]+", ref)
    assert letters
    n = 0
    for ch in letters.group():
        n = n * 26 + ord(ch) - 64
    return n - 1


def _read_xlsx(data: bytes) -> dict[str, list[list[str]]]:
    """Every sheet as rows of cell texts (numbers as written), by sheet name, in workbook order."""
    z = zipfile.ZipFile(io.BytesIO(data))
    strings = []
    if "xl/sharedStrings.xml" in z.namelist():
        for si in ElementTree.fromstring(z.read("xl/sharedStrings.xml")).findall("m:si", _NS):
            strings.append("".join(t.text or "" for t in si.iter(f"{{{_NS['m']}}}t")))
    rels = {
        rel.get("Id"): rel.get("Target")
        for rel in ElementTree.fromstring(z.read("xl/_rels/workbook.xml.rels")).findall("p:Relationship", _NS)
    }
    sheets = {}
    for sheet in ElementTree.fromstring(z.read("xl/workbook.xml")).find("m:sheets", _NS) or []:
        target = rels[sheet.get(f"{{{_NS['r']}}}id")]
        root = ElementTree.fromstring(z.read("xl/" + target.removeprefix("/xl/")))
        rows = []
        for row in root.iter(f"{{{_NS['m']}}}row"):
            cells: dict[int, str] = {}
            for c in row.findall("m:c", _NS):
                v = c.find("m:v", _NS)
                kind = c.get("t")
                if kind == "s" and v is not None:
                    cells[_column(c.get("r"))] = strings[int(v.text)]
                elif kind == "inlineStr":
                    cells[_column(c.get("r"))] = "".join(t.text or "" for t in c.iter(f"{{{_NS['m']}}}t"))
                elif v is not None:
                    cells[_column(c.get("r"))] = v.text or ""
            width = max(cells, default=-1) + 1
            rows.append([cells.get(i, "") for i in range(width)])
        sheets[sheet.get("name")] = rows
    return sheets
