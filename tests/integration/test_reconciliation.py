"""Reconciliation (issue 4): payments received per insurer, matched to claim lines, open amounts."""

from __future__ import annotations

from datetime import date

import pytest
from api_world import World, build_world, clone_world
from sqlalchemy import select
from test_claims_service import ADMIN, AT, PERIOD, answer, items, principal

from dbutil import release
from integraal.claims.formats import get_format
from integraal.claims.payment import Payment
from integraal.services import claims, reconciliation
from integraal.store import tables


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> World:
    world = build_world(tmp_path_factory.mktemp("reconciliation"))
    yield world
    release(world.db)


@pytest.fixture
def world(template, tmp_path) -> World:
    world = clone_world(template, tmp_path)
    yield world
    release(world.db)


def answered_batch(world: World, verdicts=None) -> claims.BatchSummary:
    batch = next(b for b in claims.build_batches(world.db, ADMIN, **PERIOD, at=AT).batches if b.uzovi == "3311")
    sent = claims.export_batch(world.db, ADMIN, batch.batch_id, at=AT)
    claims.apply_return(world.db, ADMIN, answer(sent, verdicts), at=AT)
    return batch


def open_of(world: World) -> reconciliation.OpenAmount:
    (row,) = [o for o in reconciliation.open_amounts(world.db, ADMIN) if o.uzovi == "3311"]
    return row


def test_a_payment_of_everything_awarded_pays_every_line(world):
    batch = answered_batch(world)
    assert open_of(world).open_cents == batch.total_cents
    result = reconciliation.record_payment(
        world.db,
        ADMIN,
        payment_id="ZK-2026-001",
        uzovi="3311",
        received_on=date(2026, 2, 1),
        total_cents=batch.total_cents,
    )
    assert (result.allocated_cents, result.unallocated_cents, result.lines_paid) == (batch.total_cents, 0, batch.lines)
    assert {i.state for i in items(world, batch_id=batch.batch_id)} == {"paid"}
    assert [o for o in reconciliation.open_amounts(world.db, ADMIN) if o.uzovi == "3311"] == []


def test_instalments_pay_lines_in_order_and_every_cent_is_accounted_for(world):
    batch = answered_batch(world)
    first = batch.total_cents // 3
    r1 = reconciliation.record_payment(
        world.db, ADMIN, payment_id="P1", uzovi="3311", received_on=date(2026, 2, 1), total_cents=first
    )
    assert r1.allocated_cents == first and r1.lines_part_paid == 1
    assert open_of(world).open_cents == batch.total_cents - first
    rest = batch.total_cents - first + 500  # the insurer pays 5 euros too much
    r2 = reconciliation.record_payment(
        world.db, ADMIN, payment_id="P2", uzovi="3311", received_on=date(2026, 3, 1), total_cents=rest
    )
    assert (r2.allocated_cents, r2.unallocated_cents) == (batch.total_cents - first, 500)
    assert {i.state for i in items(world, batch_id=batch.batch_id)} == {"paid"}
    with world.db.unit_of_work() as connection:
        a = tables.payment_allocations
        per_line = dict(
            connection.execute(select(a.c.line_id, a.c.amount_cents).where(a.c.payment_id.in_(["P1", "P2"]))).all()
        )
        rows = connection.execute(select(a.c.line_id, a.c.amount_cents)).all()
    paid = {line: sum(c for lid, c in rows if lid == line) for line in per_line}
    for item in items(world, batch_id=batch.batch_id):
        assert paid[item.line_id] == item.awarded_cents  # no line received more or less than awarded


def test_a_payment_is_counted_once(world):
    batch = answered_batch(world)
    kwargs = {"payment_id": "ZK-1", "uzovi": "3311", "received_on": date(2026, 2, 1), "total_cents": 100}
    reconciliation.record_payment(world.db, ADMIN, **kwargs)
    before = open_of(world)
    with pytest.raises(claims.ClaimsError, match="already recorded"):
        reconciliation.record_payment(world.db, ADMIN, **kwargs)
    assert open_of(world) == before and before.open_cents == batch.total_cents - 100


def test_rejected_lines_are_not_open_and_a_reduced_line_is_paid_its_award(world):
    batch = next(b for b in claims.build_batches(world.db, ADMIN, **PERIOD, at=AT).batches if b.uzovi == "3311")
    sent = claims.export_batch(world.db, ADMIN, batch.batch_id, at=AT)
    rejected, reduced, *_ = items(world, batch_id=batch.batch_id)
    verdicts = {rejected.line_id: (0, ("0320",)), reduced.line_id: (reduced.amount_cents - 250, ("0611",))}
    claims.apply_return(world.db, ADMIN, answer(sent, verdicts), at=AT)
    expected = batch.total_cents - rejected.amount_cents - 250
    assert open_of(world).open_cents == expected
    reconciliation.record_payment(
        world.db, ADMIN, payment_id="P", uzovi="3311", received_on=date(2026, 2, 1), total_cents=expected
    )
    assert items(world, line_id=reduced.line_id)[0].state == "paid"
    assert items(world, line_id=rejected.line_id)[0].state == "rejected"


def test_a_payment_reconciliation_file_names_the_lines_it_pays(world):
    batch = answered_batch(world)
    lines = items(world, batch_id=batch.batch_id)[:2]
    payment = Payment("ZK-FHIR-1", "3311", "53000001", date(2026, 2, 3), sum(i.awarded_cents for i in lines),
                      tuple((i.line_id, i.awarded_cents) for i in lines))  # fmt: skip
    data = get_format("fhir-payment").write(payment)
    result = reconciliation.record_payment_file(world.db, ADMIN, data)
    assert result.lines_paid == 2 and result.unallocated_cents == 0
    assert [items(world, line_id=i.line_id)[0].state for i in lines] == ["paid", "paid"]


def test_allocating_to_a_line_of_another_igo_is_refused(world):
    answered_batch(world)
    west_admin = principal("admin_west")
    west = claims.build_batches(world.db, west_admin, **PERIOD, at=AT).batches[0]
    sent = claims.export_batch(world.db, west_admin, west.batch_id, at=AT)
    claims.apply_return(world.db, west_admin, answer(sent), at=AT)
    west_line = items(world, batch_id=west.batch_id)[0]
    with pytest.raises(claims.ClaimsError, match="not an awarded, unpaid line"):
        reconciliation.record_payment(
            world.db, ADMIN, payment_id="X", uzovi=west_line.uzovi, received_on=date(2026, 2, 1),
            total_cents=west_line.awarded_cents, allocations=[(west_line.line_id, west_line.awarded_cents)],
        )  # fmt: skip
