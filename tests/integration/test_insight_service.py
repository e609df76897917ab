"""Mirror information from the database (issue 6): the columnar path counts what the per-record path counts, and
nothing below the minimum cell size reaches a reader outside the IGO through any insight endpoint."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from small_numbers import CASEMIX_COUNTS, small_complements, small_counts
from sqlalchemy import select, true

from dbutil import fresh_database, release
from integraal.api import create_app
from integraal.api.settings import Settings
from integraal.distribution import derive_client_profile
from integraal.domain.pregnancy import EndReason
from integraal.insight import (
    BirthMode,
    BirthPlace,
    IndicatorKind,
    LabourOnset,
    OutcomeRecord,
    compute_indicator,
    compute_mean,
    load_indicators,
)
from integraal.services.access import SYSTEM, AccessDeniedError, Principal, Role
from integraal.services.decisions import decide_all
from integraal.services.imports import import_files
from integraal.services.insight import (
    UnitLevel,
    indicator_table,
    outcome_frame,
    quarterly_trend,
)
from integraal.services.users import add_user, issue_token
from integraal.store import bulk, tables
from integraal.store.database import Database
from integraal.store.repositories import load_pregnancies
from integraal.synth import generate_region, write_region

YEAR = 2025
INDICATORS = list(load_indicators())


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict[str, Any]:
    folder: Path = tmp_path_factory.mktemp("insight")
    paths = write_region(generate_region(8000, seed=21), folder / "region")
    db = fresh_database(folder, "insight")
    reports = import_files(db, list(paths.values()))
    assert all(r.ok for r in reports), [str(e) for r in reports for e in r.errors][:5]
    decide_all(db, date(2026, 3, 1))
    with db.unit_of_work() as c:
        igos = sorted(c.execute(select(tables.igos.c.igo_id)).scalars())
        insurers = sorted(c.execute(select(tables.insurers.c.uzovi)).scalars())
    people = {"analyst": ("analyst", {}), "board": ("igo_board", {"igo_id": igos[0]}), "root": ("superuser", {})}
    people |= {f"ins{u}": ("insurer", {"uzovi": u}) for u in insurers}
    people["member"] = ("member", {"agb": _some_member(db)})
    tokens = {}
    for name, (role, tenant) in people.items():
        add_user(db, name, role, **tenant)
        tokens[name] = issue_token(db, name)
    client = TestClient(create_app(db, settings=Settings(pseudonym_key=b"insight tests")))
    yield {"db": db, "igos": igos, "insurers": insurers, "tokens": tokens, "client": client}
    release(db)


def _some_member(db: Database) -> str:
    with db.unit_of_work() as c:
        return str(c.execute(select(tables.memberships.c.agb).limit(1)).scalar_one())


def records(db: Database) -> list[tuple[str, str, OutcomeRecord]]:
    """(igo, uzovi, record) per ended pregnancy, built row by row the slow way (the per-record path)."""
    o = tables.outcomes
    with db.unit_of_work() as c:
        measures = {row.pregnancy_id: row for row in c.execute(select(o))}
        ids = list(c.execute(select(tables.pregnancies.c.pregnancy_id)).scalars())
        pregnancies = load_pregnancies(c, ids)
        p = tables.pregnancies
        owners = {r[0]: (r[1], r[2]) for r in c.execute(select(p.c.pregnancy_id, p.c.igo_id, p.c.uzovi))}
    out = []
    for p in pregnancies:
        if p.end_date is None:
            continue
        m = measures.get(p.pregnancy_id)

        def get(name: str, m: Any = m) -> Any:
            return None if m is None else getattr(m, name)

        record = OutcomeRecord(
            p.pregnancy_id,
            end_reason=p.end_reason,
            end_date=p.end_date,
            profile=derive_client_profile(p),
            nulliparous=get("nulliparous"),
            multiple_pregnancy=get("multiple_pregnancy"),
            gestational_age_days=get("gestational_age_days"),
            labour_onset=LabourOnset(v) if (v := get("labour_onset")) else None,
            birth_mode=BirthMode(v) if (v := get("birth_mode")) else None,
            birth_place=BirthPlace(v) if (v := get("birth_place")) else None,
            perinatal_death=get("perinatal_death"),
            nicu_admission=get("nicu_admission"),
            blood_loss_ml=get("blood_loss_ml"),
            breastfeeding_at_discharge=get("breastfeeding_at_discharge"),
            prem_score=get("prem_score"),
            prom_score=get("prom_score"),
        )
        igo, uzovi = owners[p.pregnancy_id]
        out.append((igo, uzovi, record))
    return out


def test_the_region_has_outcomes_of_births(world):
    frame = outcome_frame(world["db"], tables.pregnancies.c.igo_id.is_not(None), [YEAR])
    births = frame.filter(frame["end_reason"] == EndReason.BIRTH.value)
    assert births.height > 1000
    assert births["birth_mode"].null_count() < births.height * 0.05


def test_a_national_read_in_a_process_per_range_of_pregnancies_is_the_read_here(world, monkeypatch):
    """``many``: on SQLite the outcomes are read in separate processes, one per range of pregnancies (each with
    its own current decisions for the financing): the same frame as one read here."""
    here = outcome_frame(world["db"], true(), [YEAR])
    monkeypatch.setattr(bulk, "CHILD_MIN_ROWS", 1)
    children = []
    real = bulk.subprocess.Popen
    monkeypatch.setattr(bulk.subprocess, "Popen", lambda *a, **k: children.append(a) or real(*a, **k))
    apart = outcome_frame(world["db"], true(), [YEAR], many=True)
    sqlite = world["db"].engine.dialect.name == "sqlite"
    assert len(children) == (bulk.CHILD_PROCESSES if sqlite and (os.cpu_count() or 1) > 1 else 0)
    assert apart.sort("pregnancy_id").equals(here.sort("pregnancy_id"))
    assert apart["financing"].n_unique() == 2  # both integral and separate financing, from the two kinds of reads


@pytest.mark.parametrize("indicator_id", INDICATORS)
def test_every_indicator_per_igo_matches_the_per_record_computation(world, indicator_id):
    """The columnar, SQL-fed path and the record-by-record path (``compute_indicator``) agree on every count."""
    indicator = load_indicators()[indicator_id]
    rows = records(world["db"])
    igo_of = {r.pregnancy_id: igo for igo, _, r in rows}
    table = indicator_table(world["db"], SYSTEM, indicator_id, YEAR)
    got = {r.unit: r for r in table.rows}
    ended_in_year = [r for _, _, r in rows if r.end_date and r.end_date.year == YEAR]
    if indicator.kind is IndicatorKind.MEAN:
        expected = compute_mean(indicator, ended_in_year, lambda r: igo_of[r.pregnancy_id])
        for result in expected:
            assert got[result.unit].denominator == result.n
            assert got[result.unit].rate == pytest.approx(result.mean)
            assert got[result.unit].missing == result.missing
        return
    expected_rows = compute_indicator(indicator, ended_in_year, lambda r: igo_of[r.pregnancy_id])
    assert {e.unit for e in expected_rows if e.denominator + e.missing + e.excluded} == set(got)
    for e in expected_rows:
        row = got[e.unit]
        assert (row.numerator, row.denominator, row.excluded, row.missing) == (
            e.numerator,
            e.denominator,
            e.excluded,
            e.missing,
        )
        assert row.interval == e.wilson and row.exact == e.exact


def test_insurer_sees_only_its_insured(world):
    rows = records(world["db"])
    for uzovi in world["insurers"]:
        reader = Principal(None, "i", Role.INSURER, uzovi=uzovi)
        table = indicator_table(world["db"], reader, "caesarean_total", YEAR, minimum=1)
        indicator = load_indicators()["caesarean_total"]
        mine = [r for _, u, r in rows if u == uzovi and r.end_date and r.end_date.year == YEAR]
        expected = sum(e.denominator for e in compute_indicator(indicator, mine, lambda r: "all"))
        shown = table.total.denominator
        assert shown is None or shown == expected


def test_quarters_add_up_to_the_year(world):
    table = indicator_table(world["db"], SYSTEM, "induction_of_labour", YEAR)
    points = [p for p in quarterly_trend(world["db"], SYSTEM, "induction_of_labour", [YEAR]) if p.numerator]
    assert sum(p.numerator or 0 for p in points) == table.total.numerator
    assert sum(p.denominator or 0 for p in points) == table.total.denominator


def test_a_member_may_not_read_mirror_information(world):
    member = Principal(None, "m", Role.MEMBER, agb=_some_member(world["db"]))
    with pytest.raises(AccessDeniedError):
        indicator_table(world["db"], member, "caesarean_total", YEAR)
    response = world["client"].get(
        "/api/insight/indicators/caesarean_total",
        params={"year": YEAR},
        headers={"Authorization": f"Bearer {world['tokens']['member']}"},
    )
    assert response.status_code == 403


def test_an_igo_sees_itself_in_full_and_the_others_anonymously(world):
    own = world["igos"][0]
    board = Principal(None, "b", Role.IGO_BOARD, igo_id=own)
    table = indicator_table(world["db"], board, "caesarean_total", YEAR, minimum=10)
    mine = [r for r in table.rows if r.own]
    assert len(mine) == 1 and mine[0].unit == own and mine[0].missing is not None
    others = [r for r in table.rows if not r.own]
    assert others and all(r.unit.startswith("IGO ") and r.unit not in world["igos"] for r in others)
    assert all(r.missing is None for r in others)
    full = indicator_table(world["db"], SYSTEM, "caesarean_total", YEAR)
    assert mine[0].numerator == next(r.numerator for r in full.rows if r.unit == own)


def test_the_minimum_cannot_be_lowered_by_the_caller(world):
    reader = Principal(None, "a", Role.ANALYST)
    assert indicator_table(world["db"], reader, "caesarean_total", YEAR, minimum=1).minimum == 10
    assert indicator_table(world["db"], reader, "caesarean_total", YEAR, minimum=400).minimum == 400


# --- suppression across every insight endpoint for the readers outside the IGO ------------------------------


def _small_counts(body: Any, minimum: int) -> list[str]:
    """Every count in the body that is positive and below the minimum, and every shown row whose complement
    (denominator − numerator) is below it."""
    return small_counts(body, minimum=minimum) + small_complements(body, minimum)


def _not_recoverable(body: dict[str, Any]) -> None:
    """With the total shown, no single hidden row may be derived as total minus the shown rows."""
    units = body["units"]
    hidden = [u for u in units if u["suppressed"]]
    if body["total"]["suppressed"] or not hidden:
        return
    assert len(hidden) >= 2
    shown_x = sum(u["numerator"] or 0 for u in units if not u["suppressed"])
    shown_n = sum(u["denominator"] or 0 for u in units if not u["suppressed"])
    if body["indicator"]["kind"] == "proportion":
        hidden_x = body["total"]["numerator"] - shown_x
        hidden_y = body["total"]["denominator"] - shown_n - hidden_x
        assert hidden_x > 0 and hidden_y > 0  # else every hidden x (or y) would be known to be 0


@pytest.mark.parametrize("minimum", [None, 150, 600])
def test_no_number_below_the_minimum_reaches_an_insurer_or_analyst(world, minimum):
    """Issue 6 acceptance: across all insight endpoints, for the roles outside the IGO."""
    client = world["client"]
    limit = minimum or 10
    outside = ["analyst", *(f"ins{u}" for u in world["insurers"])]
    for name in outside:
        headers = {"Authorization": f"Bearer {world['tokens'][name]}"}
        extra = {"minimum": minimum} if minimum else {}
        for indicator_id in INDICATORS:
            for level in UnitLevel:
                for options in ({}, {"adjust": "true", "shrink": "true"}):
                    response = client.get(
                        f"/api/insight/indicators/{indicator_id}",
                        params={"year": YEAR, "level": level.value, **options, **extra},
                        headers=headers,
                    )
                    assert response.status_code == 200, response.text
                    body = response.json()
                    assert body["suppressing"] and body["minimum_cell"] == limit
                    assert not _small_counts(body, limit), (name, indicator_id, level, _small_counts(body, limit))
                    _not_recoverable(body)
            trend = client.get(
                f"/api/insight/indicators/{indicator_id}/trend",
                params={"years": f"{YEAR - 1},{YEAR}", **extra},
                headers=headers,
            )
            if load_indicators()[indicator_id].kind is IndicatorKind.PROPORTION:
                assert trend.status_code == 200
                assert not _small_counts(trend.json(), limit)
        for igo in world["igos"]:
            params = {"year": YEAR, "igo_id": igo, **extra}
            overview = client.get("/api/insight/overview", params=params, headers=headers)
            assert overview.status_code == 200
            assert not _small_counts(overview.json(), limit), (name, igo)


def test_a_high_minimum_hides_rows_and_the_funnel_shows_only_the_rest(world):
    reader = Principal(None, "a", Role.ANALYST)
    table = indicator_table(world["db"], reader, "perinatal_mortality", YEAR, minimum=40)
    hidden = [r for r in table.rows if r.suppressed]
    assert hidden, "perinatal deaths are rare: a minimum of 40 must hide some IGO"
    assert table.hidden_units == len(hidden)
    if table.funnel is not None:
        assert {p.unit for p in table.funnel.points} == {r.unit for r in table.rows if not r.suppressed}


# --- the quality scores feed the distribution's quality pool (issue 6 part 6; issue 5 "per quality point") ------


def test_members_get_quality_scores_from_the_registered_outcomes_and_the_pool_pays_by_them(world):
    from decimal import Decimal

    from integraal.distribution import Budget
    from integraal.distribution.models import quality_pool
    from integraal.services.distribution_input import distribution_input

    igo = world["igos"][0]
    data = distribution_input(world["db"], SYSTEM, igo, YEAR)
    assert data.quality, "outcomes are registered, so members have scores"
    directional = {i.id for i in load_indicators().values() if i.direction.value != "none"}
    assert {q.indicator for q in data.quality} <= directional
    assert all(Decimal(0) <= q.score <= Decimal(1) for q in data.quality)
    assert {q.agb for q in data.quality} <= set(data.member_agbs())
    params = quality_pool.QualityPoolParameters(pool_pct=Decimal(3), threshold=Decimal("0.5"), size_basis="equal")
    budget = Budget.of(data.received_by_phase())
    allocation = quality_pool.allocate(budget, data, params, "quality")
    scores = quality_pool.member_scores(data, params)
    paid = allocation.amounts()
    qualifying = {agb for agb, (s, w) in scores.items() if w > 0 and s >= params.threshold * w}
    assert qualifying, "some member scores above 0.5 (as expected = 0.5)"
    for agb in data.member_agbs():
        assert (paid.get(agb, 0) > 0) == (agb in qualifying), agb
    # Per quality point: with equal sizes, a higher score never gets less.
    ranked = sorted(qualifying, key=lambda agb: scores[agb][0])
    amounts = [paid[agb] for agb in ranked]
    assert amounts == sorted(amounts)


def test_the_simulation_shows_what_a_quality_point_earns_under_each_plan(world):
    """Issue 5: "the incentives (what a member earns ... per quality point)". A plan without a quality pool pays
    nothing for quality; with one, a better score never earns less and somebody's next ten points earn money."""
    from integraal.services.distribution import simulate

    result = simulate(world["db"], SYSTEM, world["igos"][0], YEAR)
    members = [r for r in result.rows if r.recipient != "IGO"]
    scored = [r for r in members if r.per_quality_point("clientprofielen") is not None]
    assert scored
    for row in scored:
        assert row.per_quality_point("historisch") == 0
        assert row.per_quality_point("verdeelsleutel") == 0
        assert row.per_quality_point("clientprofielen") >= 0
    assert any(r.per_quality_point("clientprofielen") > 0 for r in scored)


def test_the_casemix_endpoints_never_show_a_small_count_outside_the_igo(world):
    """Issue 6: casemix per IGO × insurer, and its CSV export, for insurers and the analyst."""
    client = world["client"]
    for name in ["analyst", *(f"ins{u}" for u in world["insurers"])]:
        headers = {"Authorization": f"Bearer {world['tokens'][name]}"}
        body = client.get("/api/insight/casemix", params={"year": YEAR}, headers=headers).json()
        assert body["suppressed"] and body["minimum_cell"] == 10
        withheld = 0
        for table in body["tables"]:
            for row in table["rows"]:
                withheld += row["withheld"]
                assert row["hidden_outside"] is None
        assert not small_counts(body), (name, small_counts(body)[:5])
        assert withheld, "a region of 8,000 pregnancies over many insurers has small cells"
        csv = client.get("/api/insight/casemix.csv", params={"year": YEAR}, headers=headers)
        assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
        header, *lines = csv.text.splitlines()
        columns = header.split(",")
        for line in lines:
            cells = dict(zip(columns, line.split(","), strict=False))
            for measure in CASEMIX_COUNTS:
                value = cells.get(measure, "")
                assert not (value.isdigit() and 0 < int(value) < 10), (name, line)
        xlsx = client.get("/api/insight/casemix.xlsx", params={"year": YEAR}, headers=headers)
        assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
