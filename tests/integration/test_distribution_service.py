"""Simulation and transition through the service on the two-IGO world (issue 5, parts 3 and 4)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from api_world import World, build_world
from test_claims_service import principal

from integraal.services import periods
from integraal.services.access import AccessDeniedError, NotFoundError
from integraal.services.distribution import plan_presets, simulate


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> World:
    world = build_world(tmp_path_factory.mktemp("distribution"))
    yield world
    world.db.dispose()


def test_every_plan_divides_exactly_what_was_received(world):
    result = simulate(world.db, principal("board_riv"), "IGO-RIV", 2025)
    assert result.received_cents > 0
    for key in result.plans:
        assert sum(row.amounts[key] for row in result.rows) == result.received_cents, key


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


def test_closing_a_transition_year_is_refused_clearly(world):
    with pytest.raises(periods.PeriodError, match="transition year"):
        periods.close_period(world.db, principal("admin_riv"), "IGO-RIV", 2025, "ingroei-clientprofielen")
