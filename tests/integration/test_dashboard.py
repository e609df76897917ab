"""The dashboard's year overview: the same numbers as adding up the pregnancy pages one by one, in every scope.

Checked against an independent path: the pregnancy list and detail use cases (latest decision per phase, claim
lines) summed in Python, for every role that may see aggregates (issue 3: "dashboard of the current year").
"""

from __future__ import annotations

from datetime import date

import pytest
from api_world import BY_NAME, PSEUDONYM_KEY, World, build_world

from dbutil import release
from integraal.services import dashboard, queries, reruns
from integraal.services.access import AccessDeniedError, Principal, Role

YEAR = 2025


def principal(username: str) -> Principal:
    person = BY_NAME[username]
    return Principal(None, person.username, Role(person.role), person.igo_id, person.agb, person.uzovi)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> World:
    world = build_world(tmp_path_factory.mktemp("dashboard"))
    yield world
    release(world.db)


def by_hand(world: World, who: Principal) -> dict:
    """The overview of YEAR computed from the pregnancy pages, one pregnancy at a time."""
    page = queries.list_pregnancies(world.db, who, paging=queries.Paging(500, 0), pseudonym_key=PSEUDONYM_KEY)
    rows = [r for r in page.items if r.due_date.year == YEAR]
    outcomes: dict[str, dict[str, int]] = {}
    cents = {"integral": 0, "mono": 0}
    fallback = 0
    for row in rows:
        detail = queries.get_pregnancy(world.db, who, row.pregnancy_id, pseudonym_key=PSEUDONYM_KEY)
        for phase in detail.phases:
            outcomes.setdefault(phase.phase, {}).setdefault(phase.outcome, 0)
            outcomes[phase.phase][phase.outcome] += 1
        fallback += any(p.outcome == "fallback" for p in detail.phases)
        for line in detail.claim_lines:
            cents[line.kind] += line.amount_cents
    return {"pregnancies": len(rows), "outcomes": outcomes, "cents": cents, "fallback": fallback}


@pytest.mark.parametrize("username", ["admin_riv", "board_riv", "admin_west", "insurer_zk", "insurer_menzis", "root"])
def test_overview_equals_the_sum_of_the_pregnancy_pages(world, username, monkeypatch):
    """Insurers read from outside the IGO, so their counts are withheld below the minimum cell size; with the
    minimum at 1 (only zero withheld) their overview must add up like everyone else's."""
    who = principal(username)
    outside = who.role is Role.INSURER
    if outside:
        monkeypatch.setenv("INTEGRAAL_MINIMUM_CELL", "1")
    overview = dashboard.year_overview(world.db, who, YEAR)
    expected = by_hand(world, who)
    assert overview.pregnancies == expected["pregnancies"] > 0
    assert (overview.with_fallback or 0) == expected["fallback"]
    assert (overview.integral_cents or 0) == expected["cents"]["integral"]
    assert (overview.mono_cents or 0) == expected["cents"]["mono"]
    for phase, counts in expected["outcomes"].items():
        shown = {o: n for o, n in overview.outcomes[phase].items() if n}
        assert shown == counts, phase
    assert overview.suppressed_below == (1 if outside else None)


@pytest.mark.parametrize("username", ["insurer_zk", "insurer_menzis", "analyst"])
def test_readers_outside_the_igo_see_no_count_below_the_minimum(world, username):
    """Issue 6: no number below the minimum cell size (10) in any insurer or analyst view; in this small world
    every count is below ten, so nothing may be shown."""
    overview = dashboard.year_overview(world.db, principal(username), YEAR)
    assert overview.suppressed_below == 10
    assert overview.pregnancies is None and overview.decided is None
    assert all(n is None for counts in overview.outcomes.values() for n in counts.values())
    assert all(i.pregnancies is None and i.with_fallback is None for i in overview.igos)
    summary = queries.decision_summary(world.db, principal(username))
    assert all(o.pregnancies is None for o in summary.outcomes) and all(c.lines is None for c in summary.claims)


def test_a_re_decided_pregnancy_does_not_hide_the_others(tmp_path, world):
    """A run of one pregnancy is the newest run, but the overview counts the latest decision of *each* one."""
    who = principal("root")
    before = dashboard.year_overview(world.db, who, YEAR)
    reruns.rerun_decisions(world.db, who, date(2026, 1, 1), ["Z-0002"])
    after = dashboard.year_overview(world.db, who, YEAR)
    assert after.pregnancies == before.pregnancies
    assert after.outcomes == before.outcomes
    assert (after.integral_cents, after.mono_cents) == (before.integral_cents, before.mono_cents)


def test_analyst_sees_every_igo_with_small_numbers_withheld(world):
    overview = dashboard.year_overview(world.db, principal("analyst"), YEAR)
    assert overview.suppressed_below == 10
    assert {i.igo_id for i in overview.igos} == {"IGO-RIV", "IGO-WEST"}
    # Every number in this small world is below ten: none may be shown, amounts included.
    assert overview.pregnancies is None and overview.with_fallback is None
    assert all(n is None for counts in overview.outcomes.values() for n in counts.values())  # zero is small too
    assert overview.integral_cents is None and overview.mono_cents is None and overview.mono_lines is None
    assert all(i.pregnancies is None and i.integral_cents is None and i.mono_cents is None for i in overview.igos)


def test_member_provider_has_no_overview(world):
    with pytest.raises(AccessDeniedError):
        dashboard.year_overview(world.db, principal("member_linde"), YEAR)


def test_default_year_is_the_newest_with_data_when_this_year_has_none(world):
    overview = dashboard.year_overview(world.db, principal("admin_riv"))
    assert overview.years and overview.year == (
        date.today().year if date.today().year in overview.years else max(overview.years)
    )


def test_the_api_summary_counts_the_current_decision_of_every_pregnancy(tmp_path, world):
    """Without a run, the summary is of the current decisions; a run of one pregnancy does not shrink it."""
    who = principal("root")
    before = queries.decision_summary(world.db, who)
    rerun = reruns.rerun_decisions(world.db, who, date(2026, 1, 2), ["Z-0001"])
    after = queries.decision_summary(world.db, who)
    newest = queries.decision_summary(world.db, who, run_id=rerun.run_ids[-1])
    total = sum(o.pregnancies or 0 for o in after.outcomes)
    assert total == sum(o.pregnancies or 0 for o in before.outcomes) == 3 * 5  # five pregnancies, three phases
    assert sum(o.pregnancies or 0 for o in newest.outcomes) == 3  # that run decided one pregnancy
    assert {(c.igo_id, c.kind, c.amount_cents) for c in after.claims} == {
        (c.igo_id, c.kind, c.amount_cents) for c in before.claims
    }
