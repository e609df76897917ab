"""The decide use case over a real (SQLite) database: stored runs, versions, explain."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from integraal.services.decisions import decide_all, decide_one, decision_as_json
from integraal.services.imports import import_files
from integraal.store import tables


def test_decide_stores_every_phase_with_its_ruleset_version_and_is_reproducible(db, examples):
    import_files(db, sorted(examples.glob("*.csv")))
    first = decide_all(db, date(2026, 1, 1))
    second = decide_all(db, date(2026, 1, 1))
    assert first.pregnancies == 3
    with db.unit_of_work() as c:
        rows = c.execute(select(tables.phase_decisions).order_by("run_id", "pregnancy_id", "phase")).all()
        lines = c.execute(select(tables.claim_lines)).all()
        audit = c.execute(select(tables.audit_log.c.action)).scalars().all()
    run1 = [
        (r.pregnancy_id, r.phase, r.outcome, r.reasons, r.ruleset_version) for r in rows if r.run_id == first.run_id
    ]
    run2 = [
        (r.pregnancy_id, r.phase, r.outcome, r.reasons, r.ruleset_version) for r in rows if r.run_id == second.run_id
    ]
    assert run1 == run2 and len(run1) == 9
    assert all(v == "2025.2" for *_, v in run1 if v)
    assert sum(line.amount_cents for line in lines) == 2 * (first.amounts["integral"] + first.amounts["mono"])
    assert audit.count("decide") == 2


def test_outside_ultrasound_centre_is_a_bundle_breaker_in_the_example(db, examples):
    """The example's Z-0001 had a growth scan at Echopunt Buiten, not a member."""
    import_files(db, sorted(examples.glob("*.csv")))
    _, activities, decision, _ = decide_one(db, "Z-0001", date(2026, 1, 1))
    as_json = decision_as_json(decision)
    assert as_json["phases"]["prenatal"]["decision"] == "fallback"
    assert as_json["phases"]["prenatal"]["reasons"] == ["NON_MEMBER_CARE"]
    assert as_json["phases"]["natal"]["decision"] == "integral"
    # VL-1003 names no trajectory: it was matched on BSN and date.
    assert "VL-1003" in {a.activity_id for a in activities}
