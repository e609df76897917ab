"""Closing distribution periods: booking is exact, immutable, and corrected only forward (issue 5, part 5).

Issue 5, part 5: "close a period: book the chosen plan's allocation (immutable, versioned) ... and book later
corrections (rejections, credits from the claims issue) as adjustments in the next period, never by rewriting a
closed one." Acceptance: "A closed period cannot change; a correction shows up as an adjustment line in the next
statement; test proves it." Runs on the two-IGO world of the API tests (``api_world``), cloned per test.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime

import pytest
from api_world import BY_NAME, World, build_world, clone_world
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import DBAPIError
from test_claims_service import answer, items

from dbutil import release
from integraal.distribution import run_plan
from integraal.services import claims, periods, queries, reruns
from integraal.services.access import AccessDeniedError, NotFoundError, Principal, Role
from integraal.services.distribution import build_plan, plan_presets
from integraal.services.distribution_input import distribution_input
from integraal.store import tables

CLAIM_PERIOD = {"period_start": date(2025, 1, 1), "period_end": date(2025, 12, 31)}
AT = datetime(2026, 2, 1, 9, 0, tzinfo=UTC)


def principal(username: str) -> Principal:
    person = BY_NAME[username]
    return Principal(None, person.username, Role(person.role), person.igo_id, person.agb, person.uzovi)


ADMIN = principal("admin_riv")


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> World:
    world = build_world(tmp_path_factory.mktemp("periods"))
    yield world
    release(world.db)


@pytest.fixture
def world(template, tmp_path) -> World:
    world = clone_world(template, tmp_path)
    yield world
    release(world.db)


def booking(world: World, period_id: str) -> dict[str, list]:
    """Every stored row of a period's booking (its own rows and the receipts booked in it), for comparison."""
    dp, bl, br = tables.distribution_periods, tables.booked_lines, tables.booked_receipts
    with world.db.unit_of_work() as connection:
        return {
            "period": connection.execute(select(dp).where(dp.c.period_id == period_id)).all(),
            "lines": connection.execute(select(bl).where(bl.c.period_id == period_id).order_by(bl.c.line_no)).all(),
            "receipts": connection.execute(
                select(br).where(br.c.booked_in == period_id).order_by(br.c.pregnancy_id, br.c.phase)
            ).all(),
        }


def per_recipient(lines) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for line in lines:
        totals[line.recipient] += line.amount_cents
    return dict(totals)


def test_closing_books_every_line_of_the_plan_summing_exactly_to_the_money_received(world):
    """Issue 5.5: the chosen plan's allocation is booked line by line; lines sum exactly to the money received."""
    data = distribution_input(world.db, ADMIN, "IGO-RIV", 2025)
    received = sum(r.amount_cents for r in data.receipts)
    assert received > 0

    closed = periods.close_period(world.db, ADMIN, "IGO-RIV", 2025, "verdeelsleutel", at=AT)

    assert closed.period.period_id == "IGO-RIV-2025"
    assert closed.period.received_cents == received and closed.period.adjustment_cents == 0
    assert sum(line.amount_cents for line in closed.lines) == received
    assert all(line.kind == "allocation" for line in closed.lines)
    expected = run_plan(build_plan(plan_presets()[1]["verdeelsleutel"], 2025), data)
    assert [(x.recipient, x.step, x.amount_cents, x.text_nl) for x in closed.lines] == [
        (x.recipient, x.step, x.amount_cents, x.text_nl) for x in expected.lines
    ]
    assert periods.period_lines(world.db, ADMIN, "IGO-RIV-2025") == list(closed.lines)
    # Reproducible: the stored plan on the stored input gives the booked lines again; the fingerprint holds.
    assert periods.verify_period(world.db, ADMIN, "IGO-RIV-2025") == []
    # The money it rested on, per pregnancy and phase, is booked with it.
    receipts = booking(world, "IGO-RIV-2025")["receipts"]
    assert sum(r.amount_cents for r in receipts) == received
    log = queries.list_audit(world.db, ADMIN, entity="distribution_period").items
    assert [(e.action, e.entity_id, e.detail["received_cents"]) for e in log] == [
        ("close_period", "IGO-RIV-2025", received)
    ]


def test_closing_the_same_period_twice_is_refused_and_changes_nothing(world):
    """Issue 5.5: "A closed period cannot change" — not even by closing it again with another plan."""
    periods.close_period(world.db, ADMIN, "IGO-RIV", 2025, "historisch", at=AT)
    before = booking(world, "IGO-RIV-2025")
    audit_before = len(queries.list_audit(world.db, ADMIN).items)

    with pytest.raises(periods.PeriodError, match=r"IGO-RIV-2025 is already closed .* never changes"):
        periods.close_period(world.db, ADMIN, "IGO-RIV", 2025, "verdeelsleutel", at=AT)

    assert booking(world, "IGO-RIV-2025") == before
    assert len(queries.list_audit(world.db, ADMIN).items) == audit_before
    assert [p.plan_key for p in periods.list_periods(world.db, ADMIN)] == ["historisch"]


@pytest.mark.parametrize(
    "statement",
    [
        update(tables.booked_lines).values(amount_cents=tables.booked_lines.c.amount_cents + 1),
        delete(tables.booked_lines),
        update(tables.distribution_periods).values(plan_key="verdeelsleutel"),
        delete(tables.distribution_periods),
        update(tables.booked_receipts).values(amount_cents=0),
        delete(tables.booked_receipts),
    ],
    ids=["update-lines", "delete-lines", "update-period", "delete-period", "update-receipts", "delete-receipts"],
)
def test_booked_rows_cannot_be_updated_or_deleted_even_through_sql(world, statement):
    """Issue 5.5, immutability in the database too (migration 0004's triggers), not only in the service."""
    periods.close_period(world.db, ADMIN, "IGO-RIV", 2025, "historisch", at=AT)
    before = booking(world, "IGO-RIV-2025")
    with pytest.raises(DBAPIError, match="append-only"), world.db.unit_of_work() as connection:
        connection.execute(statement)
    with pytest.raises(DBAPIError, match="append-only"), world.db.unit_of_work() as connection:
        connection.execute(text("UPDATE booked_lines SET text_en = 'rewritten' WHERE line_no = 1"))
    assert booking(world, "IGO-RIV-2025") == before


def _reject_one_integral_line(world: World) -> tuple[str, int]:
    """Claim 2025, and the insurer rejects one integral line (return code 0320): the IGO gets nothing for it."""
    batch = next(b for b in claims.build_batches(world.db, ADMIN, **CLAIM_PERIOD, at=AT).batches if b.uzovi == "3311")
    sent = claims.export_batch(world.db, ADMIN, batch.batch_id, at=AT)
    target = next(i for i in items(world, batch_id=batch.batch_id) if i.kind == "integral")
    claims.apply_return(world.db, ADMIN, answer(sent, {target.line_id: (0, ("0320",))}), at=AT)
    return target.line_id, -int(target.amount_cents)


def _credit_and_debit_a_higher_amount(world: World) -> tuple[str, int]:
    """Claim 2025, all accepted; the natal tariff is agreed 123,45 higher afterwards: credit + new debit."""
    batch = next(b for b in claims.build_batches(world.db, ADMIN, **CLAIM_PERIOD, at=AT).batches if b.uzovi == "3311")
    claims.apply_return(world.db, ADMIN, answer(claims.export_batch(world.db, ADMIN, batch.batch_id, at=AT)), at=AT)
    old = next(i for i in items(world, pregnancy_id="Z-0002", phase="natal") if i.kind == "integral")
    with world.db.unit_of_work() as connection:
        c = tables.contracts
        connection.execute(
            update(c)
            .where(c.c.contract_id == "ZK-RIV-2025", c.c.prestatie_code == old.prestatie_code)
            .values(tariff_cents=old.amount_cents + 12_345)
        )
    reruns.rerun_decisions(world.db, ADMIN, date(2026, 1, 20), ["Z-0002"])
    (correction,) = claims.build_batches(world.db, ADMIN, **CLAIM_PERIOD, at=AT).batches
    assert correction.total_cents == 12_345
    return old.line_id, 12_345


@pytest.mark.parametrize("correct", [_reject_one_integral_line, _credit_and_debit_a_higher_amount])
def test_a_correction_after_closing_is_booked_as_adjustment_lines_in_the_next_period(world, correct):
    """Issue 5.5 acceptance: a rejection or credit after closing 2025 does not touch the 2025 booking; closing
    2026 books adjustment lines naming 2025 and the cause, summing exactly to the money difference, each
    recipient's delta being the 2025 plan re-run on the corrected 2025 money minus what was booked."""
    closed = periods.close_period(world.db, ADMIN, "IGO-RIV", 2025, "historisch", at=AT)
    before = booking(world, "IGO-RIV-2025")

    line_id, difference = correct(world)
    later = periods.close_period(world.db, ADMIN, "IGO-RIV", 2026, "verdeelsleutel", at=AT)

    assert booking(world, "IGO-RIV-2025") == before  # the closed period is unchanged
    assert periods.verify_period(world.db, ADMIN, "IGO-RIV-2025") == []
    adjustments = [line for line in later.lines if line.kind == "adjustment"]
    assert adjustments and later.adjusted_periods == ("IGO-RIV-2025",)
    assert {line.adjusts_period_id for line in adjustments} == {"IGO-RIV-2025"}
    assert sum(line.amount_cents for line in adjustments) == difference == later.period.adjustment_cents
    assert all("IGO-RIV-2025" in line.text_nl and "IGO-RIV-2025" in line.text_en for line in adjustments)
    assert all(line_id in (line.source or "") for line in adjustments)

    # Exactly the earlier plan on the earlier (stored) input with the corrected money, minus the booking.
    with world.db.unit_of_work() as connection:
        row = connection.execute(
            select(tables.distribution_periods).where(tables.distribution_periods.c.period_id == "IGO-RIV-2025")
        ).one()
        money = periods.period_money(connection, "IGO-RIV", 2025)
    corrected = periods.input_from_json(row.input_json).replace(receipts=periods.receipts_from_money(money))
    rerun = run_plan(periods.plan_from_json(row.plan_json), corrected)
    assert rerun.distributed_cents == closed.period.received_cents + difference
    booked = per_recipient(closed.lines)
    wanted = {r: rerun.amount(r) - booked.get(r, 0) for r in set(booked) | set(rerun.amounts())}
    assert per_recipient(adjustments) == {r: d for r, d in wanted.items() if d}

    # The money each booking rested on adds up to the corrected money of 2025.
    with world.db.unit_of_work() as connection:
        br = tables.booked_receipts
        total = connection.execute(
            select(func.sum(br.c.amount_cents)).where(br.c.period_id == "IGO-RIV-2025")
        ).scalar_one()
    assert total == closed.period.received_cents + difference


def test_a_correction_is_booked_once_and_later_periods_only_book_new_changes(world):
    """Issue 5.5: after 2026 booked the correction, closing 2027 finds nothing new for 2025."""
    periods.close_period(world.db, ADMIN, "IGO-RIV", 2025, "historisch", at=AT)
    _reject_one_integral_line(world)
    first = periods.close_period(world.db, ADMIN, "IGO-RIV", 2026, "historisch", at=AT)
    assert first.adjusted_periods == ("IGO-RIV-2025",)
    again = periods.close_period(world.db, ADMIN, "IGO-RIV", 2027, "historisch", at=AT)
    assert again.adjusted_periods == () and not [x for x in again.lines if x.kind == "adjustment"]


def test_closing_is_for_the_back_office_of_that_igo(world):
    """Access (issue 3): close_period is igo_admin/superuser only, and an admin only closes its own IGO."""
    for username in ("board_riv", "member_linde", "insurer_zk", "analyst"):
        with pytest.raises(AccessDeniedError):
            periods.close_period(world.db, principal(username), "IGO-RIV", 2025, "historisch", at=AT)
    with pytest.raises(NotFoundError):
        periods.close_period(world.db, principal("admin_west"), "IGO-RIV", 2025, "historisch", at=AT)
    with pytest.raises(periods.PeriodError, match="unknown plan 'nope'"):
        periods.close_period(world.db, ADMIN, "IGO-RIV", 2025, "nope", at=AT)
    assert periods.list_periods(world.db, principal("root")) == []

    periods.close_period(world.db, ADMIN, "IGO-RIV", 2025, "historisch", at=AT)
    periods.close_period(world.db, principal("admin_west"), "IGO-WEST", 2025, "historisch", at=AT)
    assert [p.period_id for p in periods.list_periods(world.db, ADMIN)] == ["IGO-RIV-2025"]
    assert [p.period_id for p in periods.list_periods(world.db, principal("member_west"))] == ["IGO-WEST-2025"]
    assert len(periods.list_periods(world.db, principal("root"))) == 2
    with pytest.raises(NotFoundError):
        periods.period_lines(world.db, principal("admin_west"), "IGO-RIV-2025")
    own = periods.period_lines(world.db, principal("member_linde"), "IGO-RIV-2025")
    assert own and {line.recipient for line in own} == {"08000001"}
