"""Simulation and transition through the service on the two-IGO world (issue 5, parts 3 and 4)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from api_world import World, build_world
from test_claims_service import principal

from dbutil import release
from integraal.services import periods
from integraal.services.access import AccessDeniedError, NotFoundError
from integraal.services.distribution import plan_presets, simulate


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> World:
    world = build_world(tmp_path_factory.mktemp("distribution"))
    yield world
    release(world.db)


def test_every_plan_divides_exactly_what_was_received(world):
    result = simulate(world.db, principal("board_riv"), "IGO-RIV", 2025)
    assert result.received_cents > 0
    for key in result.plans:
        assert sum(row.amounts[key] for row in result.rows) == result.received_cents, key


def test_referral_incentive_is_zero_where_a_plan_ignores_profiles_and_redistributes_otherwise(world):
    """Issue 5: "the incentives (what a member earns ... per referral avoided)". Shadow fee-for-service and fixed
    shares do not look at client profiles; capitation by profile does. The budget is fixed, so what one member
    gains when referrals are avoided, others (or the IGO) lose: the changes sum to zero."""
    result = simulate(world.db, principal("board_riv"), "IGO-RIV", 2025)
    for row in result.rows:
        assert row.per_referral_avoided("historisch") in (0, None)
        assert row.per_referral_avoided("verdeelsleutel") in (0, None)
    for key in result.plans:
        assert sum(r.without_referrals[key] - r.amounts[key] for r in result.rows) == 0, key
    referred = [r for r in result.rows if r.referred]
    assert referred, "the world has a pregnancy referred during pregnancy (Z-0002)"


def test_the_transition_year_keeps_every_member_within_its_corridor(world):
    """plans.yaml: 25 % of the client-profile plan, no member below −5 % of the current plan (when feasible)."""
    current, presets = plan_presets()
    transition = presets["ingroei-clientprofielen"]
    result = simulate(world.db, principal("board_riv"), "IGO-RIV", 2025, ["ingroei-clientprofielen"])
    members = [r for r in result.rows if r.recipient != "IGO"]
    for row in members:
        old = row.amounts[current]
        floor = old - (Decimal(old) * transition.max_loss_pct / 100)
        assert row.amounts["ingroei-clientprofielen"] >= floor.to_integral_value(rounding="ROUND_FLOOR"), row.name
    assert sum(r.amounts["ingroei-clientprofielen"] for r in result.rows) == result.received_cents


def test_a_board_sees_only_its_own_igo_and_members_may_not_simulate(world):
    with pytest.raises(NotFoundError):
        simulate(world.db, principal("board_riv"), "IGO-WEST", 2025)
    with pytest.raises(AccessDeniedError):
        simulate(world.db, principal("member_linde"), "IGO-RIV", 2025)


def test_closing_a_transition_year_books_what_the_simulation_showed(tmp_path, world):
    """A board closes year one of its transition: the booking is the blend within the corridor, and re-running
    the stored recipe (as adjustments and checks do) gives the same lines."""
    admin = principal("admin_riv")
    shown = simulate(world.db, admin, "IGO-RIV", 2025, ["ingroei-clientprofielen"])
    closed = periods.close_period(world.db, admin, "IGO-RIV", 2025, "ingroei-clientprofielen")
    booked: dict[str, int] = {}
    for line in closed.lines:
        booked[line.recipient] = booked.get(line.recipient, 0) + line.amount_cents
    assert sum(booked.values()) == closed.period.received_cents == shown.received_cents
    for row in shown.rows:
        assert booked.get(row.recipient, 0) == row.amounts["ingroei-clientprofielen"], row.name
    assert periods.verify_period(world.db, admin, closed.period.period_id) == []
    member = next(r for r in shown.rows if r.recipient != "IGO" and booked.get(r.recipient))
    from integraal.services.statements import statement, statement_pdf

    result = statement(world.db, admin, closed.period.period_id, member.recipient)
    assert result.total_cents == booked[member.recipient] == sum(line.amount_cents for line in result.lines)
    assert result.deductions == ()  # the new plan's top-slices are inside the blend, not apart
    assert statement_pdf(result).startswith(b"%PDF")
