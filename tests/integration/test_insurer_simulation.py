"""A month of claims end to end through the simulated insurer on a synthetic region (issue 4: "the demo runs a
whole month end to end through it"): every batch is answered, the money adds up, and the insurer's 0587s come
back as fallback decisions whose members' lines the follow-up batches claim.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from dbutil import fresh_database, release
from integraal.services import claims
from integraal.services.access import SYSTEM
from integraal.services.decisions import decide_all
from integraal.services.imports import import_files
from integraal.services.insurer_simulation import busiest_month, insurer_view, run_month
from integraal.store import tables
from integraal.store.database import Database
from integraal.synth import generate_region, write_region

AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def region(tmp_path_factory) -> Database:
    folder = tmp_path_factory.mktemp("month")
    paths = write_region(generate_region(800, seed=5), folder / "region")
    db = fresh_database(folder, "month")
    assert all(r.ok for r in import_files(db, list(paths.values())))
    decide_all(db, date(2026, 3, 1))
    yield db
    release(db)


def test_a_month_is_claimed_answered_and_followed_up(region):
    month = busiest_month(region)
    assert month is not None and month[0].day == 1
    run = run_month(region, SYSTEM, *month, hidden_outside_share=0.05, seed=3, at=AT)
    assert run.rounds, "the busiest month has batches"
    batches = {b.batch_id: b for b in claims.list_batches(region, SYSTEM)}
    for r in run.rounds:
        assert batches[r.batch_id].state == "returned"
        assert r.accepted + r.partially_accepted + r.rejected == r.lines
        assert r.awarded_cents <= r.claimed_cents
    breakers = sum(r.bundle_breakers for r in run.rounds)
    assert breakers > 0, "5 % of women with an unregistered outside scan must hit some integral lines"

    with region.unit_of_work() as connection:
        reported = connection.execute(select(tables.reported_overlaps.c.pregnancy_id)).scalars().all()
        d = tables.phase_decisions
        latest = connection.execute(
            select(d.c.outcome, d.c.reasons)
            .where(d.c.pregnancy_id.in_(reported))
            .where(
                d.c.run_id
                == select(func.max(tables.phase_decisions.c.run_id))
                .where(tables.phase_decisions.c.pregnancy_id == d.c.pregnancy_id)
                .scalar_subquery()
            )
        ).all()
    assert len(set(reported)) == breakers
    assert any(outcome == "fallback" and "INSURER_REPORTED_OVERLAP" in reasons for outcome, reasons in latest)
    follow_up = [i for b in run.follow_up_batches for i in _items(region, b.batch_id)]
    assert follow_up and {i.pregnancy_id for i in follow_up} <= set(reported)
    assert all(i.kind == "mono" for i in follow_up if i.debit_credit == "D")


def test_the_simulated_insurer_knows_the_non_members_own_claims(region):
    with region.unit_of_work() as connection:
        uzovi = connection.execute(select(tables.pregnancies.c.uzovi).limit(1)).scalar_one()
    view = insurer_view(region, uzovi)
    assert view.insured and view.contract_tariffs and view.maximum_tariffs
    assert not set(view.contract_tariffs) & set(view.maximum_tariffs)
    assert view.monodisciplinary_paid, "the region has non-member care that the non-members claim themselves"


def _items(db: Database, batch_id: str) -> list:
    i = tables.claim_items
    with db.unit_of_work() as connection:
        return list(connection.execute(select(i).where(i.c.batch_id == batch_id)))
