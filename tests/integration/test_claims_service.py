"""Claims end to end on the two-IGO world: batches from decisions, KZ301 out, KZ302 back, corrections (issue 4).

The return files here are written by hand with the KZ302 writer, so each test states exactly what the insurer
said; the insurer simulator has its own tests.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest
from api_world import BY_NAME, PSEUDONYM_KEY, World, build_world, clone_world
from sqlalchemy import func, select, update

from dbutil import release
from integraal.claims.batch import ReturnBatch, ReturnLine
from integraal.claims.formats import FormatError, get_format
from integraal.services import claims, queries, reruns
from integraal.services.access import AccessDeniedError, NotFoundError, Principal, Role
from integraal.store import bulk, tables

PERIOD = {"period_start": date(2025, 1, 1), "period_end": date(2025, 12, 31)}
AT = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)


def principal(username: str) -> Principal:
    person = BY_NAME[username]
    return Principal(None, person.username, Role(person.role), person.igo_id, person.agb, person.uzovi)


ADMIN = principal("admin_riv")


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> World:
    world = build_world(tmp_path_factory.mktemp("claims"))
    yield world
    release(world.db)


@pytest.fixture
def world(template, tmp_path) -> World:
    world = clone_world(template, tmp_path)
    yield world
    release(world.db)


def decided_lines(world: World, who: Principal) -> list[queries.ClaimLineView]:
    """The claim lines of every pregnancy page in scope (the latest decision per phase)."""
    page = queries.list_pregnancies(world.db, who, paging=queries.Paging(500, 0), pseudonym_key=PSEUDONYM_KEY)
    lines = []
    for row in page.items:
        detail = queries.get_pregnancy(world.db, who, row.pregnancy_id, pseudonym_key=PSEUDONYM_KEY)
        lines += [
            c
            for c in detail.claim_lines
            if PERIOD["period_start"] <= c.declaration_date <= PERIOD["period_end"] and c.amount_cents
        ]
    return lines


def items(world: World, **where) -> list:
    i = tables.claim_items
    query = select(i).order_by(i.c.line_id)
    for name, value in where.items():
        query = query.where(i.c[name] == value)
    with world.db.unit_of_work() as connection:
        return list(connection.execute(query))


def answer(sent: bytes, verdicts: dict[str, tuple[int, tuple[str, ...]]] | None = None) -> bytes:
    """The insurer's KZ302 for a sent KZ301: every line accepted unless ``verdicts`` says (awarded, codes)."""
    batch = get_format("kz301").read(sent)
    verdicts = verdicts or {}
    lines = []
    for line in batch.lines:
        awarded, codes = verdicts.get(line.line_id, (line.signed_cents, ()))
        lines.append(ReturnLine(line, line.signed_cents, awarded, codes))
    returned = ReturnBatch(
        batch.sender_agb,
        batch.receiver_uzovi,
        batch.batch_id,
        batch.creation_date,
        batch.period_start,
        batch.period_end,
        "ZK-RET-0001",
        date(2026, 1, 20),
        (),
        tuple(lines),
    )
    return get_format("kz302").write(returned)


@pytest.mark.parametrize("read_apart", [False, True], ids=["read-here", "read-in-processes"])
def test_batches_hold_every_decided_line_once_per_insurer(world, monkeypatch, read_apart):
    if read_apart:  # the decided lines read as a national year's are: a process per range of pregnancies
        monkeypatch.setattr(bulk, "CHILD_MIN_ROWS", 1)
    result = claims.build_batches(world.db, ADMIN, **PERIOD, at=AT)
    expected = decided_lines(world, ADMIN)
    assert {b.uzovi for b in result.batches} == {line.uzovi for line in expected}
    assert all(b.igo_id == "IGO-RIV" for b in result.batches)
    assert sum(b.lines for b in result.batches) == len(expected)
    assert sum(b.total_cents for b in result.batches) == sum(line.amount_cents for line in expected)
    stored = items(world)
    assert {(s.run_id, s.decision_line_no) for s in stored} == {(c.run_id, c.line_no) for c in expected}
    assert all(s.state == "ready" for s in stored)
    d = tables.phase_decisions
    with world.db.engine.connect() as connection:
        versions = {(r.run_id, r.pregnancy_id, r.phase): r.ruleset_version for r in connection.execute(select(d))}
    assert all(s.ruleset_version == versions[(s.run_id, s.pregnancy_id, s.phase)] for s in stored)
    assert {s.ruleset_version for s in stored} >= {"2025.2"}  # each line keeps its decision's rule set
    assert first_notes(world, [s.line_id for s in stored]) == [f"claimed from decision run {s.run_id}" for s in stored]


def test_building_again_claims_nothing_twice(world):
    first = claims.build_batches(world.db, ADMIN, **PERIOD, at=AT)
    again = claims.build_batches(world.db, ADMIN, **PERIOD, at=AT)
    assert again.batches == []
    assert again.already_claimed == sum(b.lines for b in first.batches)


def test_exported_file_reads_back_as_the_stored_batch_and_marks_it_sent(world):
    batch = claims.build_batches(world.db, ADMIN, **PERIOD, at=AT).batches[0]
    data = claims.export_batch(world.db, ADMIN, batch.batch_id, at=AT)
    read = get_format("kz301").read(data)
    assert read.batch_id == batch.batch_id and len(read.lines) == batch.lines
    assert read.total_signed_cents == batch.total_cents
    assert {s.state for s in items(world, batch_id=batch.batch_id)} == {"sent"}
    assert claims.export_batch(world.db, ADMIN, batch.batch_id, at=AT) == data  # a resend: same file, no change


def transitions(world: World) -> int:
    with world.db.engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(tables.claim_transitions)).scalar_one()


def test_a_kz301_file_is_written_in_a_second_thread_while_its_lines_are_marked_sent(world, monkeypatch):
    batch = claims.build_batches(world.db, ADMIN, **PERIOD, at=AT).batches[0]
    writers = []
    real = claims.write_claim_frame

    def recording(*args, **kwargs):
        writers.append(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(claims, "write_claim_frame", recording)
    data = claims.export_batch(world.db, ADMIN, batch.batch_id, at=AT)
    assert len(writers) == 1 and writers[0].startswith("integraal-claim-write")
    assert {s.state for s in items(world, batch_id=batch.batch_id)} == {"sent"}
    assert claims.export_batch(world.db, ADMIN, batch.batch_id, at=AT) == data  # a resend: written here, same file
    assert writers[1] == threading.current_thread().name


def test_a_claim_file_that_cannot_be_written_sends_nothing(world, monkeypatch):
    batch = claims.build_batches(world.db, ADMIN, **PERIOD, at=AT).batches[0]
    before = transitions(world)

    def broken(*args, **kwargs):
        raise ValueError("amount does not fit")

    monkeypatch.setattr(claims, "write_claim_frame", broken)
    with pytest.raises(ValueError, match="does not fit"):
        claims.export_batch(world.db, ADMIN, batch.batch_id, at=AT)
    assert {s.state for s in items(world, batch_id=batch.batch_id)} == {"ready"}
    assert transitions(world) == before
    # Also when marking the lines sent fails too: the file's error is the one reported, as when it came first.
    monkeypatch.setattr(claims, "_send_lines", lambda *args: (_ for _ in ()).throw(RuntimeError("not sendable")))
    with pytest.raises(ValueError, match="does not fit"):
        claims.export_batch(world.db, ADMIN, batch.batch_id, at=AT)


def audited(world: World, action: str) -> list[str]:
    a = tables.audit_log
    with world.db.engine.connect() as connection:
        return list(connection.execute(select(a.c.entity_id).where(a.c.action == action).order_by(a.c.id)).scalars())


@pytest.mark.parametrize("read_apart", [False, True], ids=["read-here", "read-in-processes"])
def test_batches_exported_together_are_the_files_of_each_and_are_sent_together(world, monkeypatch, read_apart):
    apart: list[bool] = []
    if read_apart:  # the lines of the batches read as a national day's would be: in separate processes
        monkeypatch.setattr(claims, "MANY_LINES", 1)
        monkeypatch.setattr(bulk, "CHILD_MIN_ROWS", 1)
        real_read = bulk._read_in_child

        def spying(*args):
            frame = real_read(*args)
            apart.append(frame is not None)
            return frame

        monkeypatch.setattr(bulk, "_read_in_child", spying)
    batches = claims.build_batches(world.db, ADMIN, **PERIOD, at=AT).batches
    assert len(batches) >= 2
    ids = [b.batch_id for b in reversed(batches)]
    before = transitions(world)
    assert apart == ([True] if read_apart and world.db.engine.dialect.name == "sqlite" else [])  # the build's
    apart.clear()
    files = claims.export_batches(world.db, ADMIN, [*ids, ids[0]], at=AT)  # a batch named twice is one file
    assert list(files) == ids
    assert apart == ([True] if read_apart and world.db.engine.dialect.name == "sqlite" else [])
    for b in batches:
        read = get_format("kz301").read(files[b.batch_id])
        stored = items(world, batch_id=b.batch_id)
        assert read.batch_id == b.batch_id and read.total_signed_cents == b.total_cents
        assert sorted(line.line_id for line in read.lines) == [s.line_id for s in stored]
        assert {s.state for s in stored} == {"sent"}
        assert claims.export_batch(world.db, ADMIN, b.batch_id, at=AT) == files[b.batch_id]  # a resend: the same
    assert transitions(world) - before == sum(b.lines for b in batches)  # one history row per line
    assert audited(world, "send_claims") == ids
    t = tables.claim_transitions
    with world.db.engine.connect() as connection:
        sent = connection.execute(select(t.c.line_id).where(t.c.to_state == "sent").order_by(t.c.id)).scalars().all()
    assert sent == sorted(sent)  # batch after batch, in line order


def test_batches_exported_together_are_sent_all_or_none(world, monkeypatch):
    batches = claims.build_batches(world.db, ADMIN, **PERIOD, at=AT).batches
    ids = [b.batch_id for b in batches]
    before = transitions(world)
    assert claims.export_batches(world.db, ADMIN, [], at=AT) == {}
    with pytest.raises(NotFoundError):
        claims.export_batches(world.db, ADMIN, [*ids, "B9999999"], at=AT)
    real = claims.write_claim_frame

    def broken_last(header, frame):
        if header.batch_id == ids[-1]:
            raise ValueError("amount does not fit")
        return real(header, frame)

    monkeypatch.setattr(claims, "write_claim_frame", broken_last)
    with pytest.raises(ValueError, match="does not fit"):
        claims.export_batches(world.db, ADMIN, ids, at=AT)
    assert {s.state for s in items(world)} == {"ready"}
    assert transitions(world) == before and audited(world, "send_claims") == []


def test_return_applies_outcomes_and_0587_turns_the_phase_into_a_fallback(world):
    """DOMAIN.md §4: 0587 'already claimed/paid, also to another provider' is the bundle breaker."""
    batches = claims.build_batches(world.db, ADMIN, **PERIOD, at=AT).batches
    batch = next(b for b in batches if b.uzovi == "3311")
    sent = claims.export_batch(world.db, ADMIN, batch.batch_id, at=AT)
    target = next(i for i in items(world, pregnancy_id="Z-0002", phase="prenatal") if i.kind == "integral")
    partial = next(i for i in items(world, batch_id=batch.batch_id) if i.line_id != target.line_id)
    returned = answer(sent, {target.line_id: (0, ("0587",)), partial.line_id: (partial.amount_cents - 100, ("0611",))})

    summary = claims.apply_return(world.db, ADMIN, returned, at=AT, as_of=date(2026, 1, 20))
    assert (summary.rejected, summary.partially_accepted, summary.accepted) == (1, 1, batch.lines - 2)
    assert summary.bundle_breakers == ["Z-0002"]
    assert summary.awarded_cents == batch.total_cents - target.amount_cents - 100
    line = items(world, line_id=target.line_id)[0]
    assert (line.state, line.return_codes, line.next_action, line.awarded_cents) == ("rejected", "0587", "rebundle", 0)
    # Every answered line's history: ready → sent → its answer, the last step from the state read with the return.
    t = tables.claim_transitions
    with world.db.unit_of_work() as connection:
        steps = connection.execute(
            select(t.c.line_id, t.c.from_state, t.c.to_state, t.c.note)
            .join(tables.claim_items, tables.claim_items.c.line_id == t.c.line_id)
            .where(tables.claim_items.c.batch_id == batch.batch_id)
            .order_by(t.c.id)
        ).all()
    answered = {line_id: (before, after, note) for line_id, before, after, note in steps if before == "sent"}
    assert set(answered) == {i.line_id for i in items(world, batch_id=batch.batch_id)}
    assert answered[target.line_id][:2] == ("sent", "rejected") and answered[target.line_id][2].endswith(": 0587")
    assert answered[partial.line_id][:2] == ("sent", "partially_accepted")
    said = {target.line_id: "0587", partial.line_id: "0611"}  # the reference, then the line's codes or "ok"
    assert {lid: note for lid, (_, _, note) in answered.items()} == {
        lid: f"return ZK-RET-0001: {said.get(lid, 'ok')}" for lid in answered
    }
    assert [(b, a) for lid, b, a, _ in steps if lid == partial.line_id] == [
        (None, "ready"),
        ("ready", "sent"),
        ("sent", "partially_accepted"),
    ]

    detail = queries.get_pregnancy(world.db, ADMIN, "Z-0002", pseudonym_key=PSEUDONYM_KEY)
    prenatal = next(p for p in detail.phases if p.phase == "prenatal")
    assert prenatal.outcome == "fallback"
    assert "INSURER_REPORTED_OVERLAP" in [r.code for r in prenatal.reasons]
    assert target.line_id in next(r.text_en for r in prenatal.reasons if r.code == "INSURER_REPORTED_OVERLAP")

    work = claims.worklist(world.db, ADMIN)
    assert [(g.return_code, g.next_action, [w.line_id for w in g.lines]) for g in work if g.return_code == "0587"] == [
        ("0587", "rebundle", [target.line_id])
    ]

    # The next batch claims the members' separate lines and links them to the rejected integral line.
    follow_up = claims.build_batches(world.db, ADMIN, **PERIOD, at=AT)
    new = [i for b in follow_up.batches for i in items(world, batch_id=b.batch_id)]
    assert new and all(i.pregnancy_id == "Z-0002" and i.phase == "prenatal" and i.kind == "mono" for i in new)
    assert new[0].original_line_id == target.line_id
    assert all(i.debit_credit == "D" for i in new)  # nothing was booked, so nothing to credit
    assert items(world, line_id=target.line_id)[0].state == "corrected"


def test_the_same_return_twice_changes_nothing_the_second_time(world):
    batch = claims.build_batches(world.db, ADMIN, **PERIOD, at=AT).batches[0]
    returned = answer(claims.export_batch(world.db, ADMIN, batch.batch_id, at=AT))
    claims.apply_return(world.db, ADMIN, returned, at=AT)
    before = [(i.line_id, i.state, i.awarded_cents) for i in items(world)]
    again = claims.apply_return(world.db, ADMIN, returned, at=AT)
    assert again.already_applied == batch.lines and again.accepted == 0
    assert [(i.line_id, i.state, i.awarded_cents) for i in items(world)] == before


def test_a_malformed_return_file_changes_nothing(world):
    batch = claims.build_batches(world.db, ADMIN, **PERIOD, at=AT).batches[0]
    returned = answer(claims.export_batch(world.db, ADMIN, batch.batch_id, at=AT))
    before = [(i.line_id, i.state) for i in items(world)]
    with pytest.raises(FormatError) as caught:
        claims.apply_return(world.db, ADMIN, returned[: len(returned) // 2], at=AT)
    assert "line" in str(caught.value)
    assert [(i.line_id, i.state) for i in items(world)] == before


def test_a_changed_decision_credits_the_booked_line_and_debits_the_new_amount(world):
    """Corrections are credit/debit pairs (DOMAIN.md §4); the pair history sums exactly to the new amount."""
    batch = next(b for b in claims.build_batches(world.db, ADMIN, **PERIOD, at=AT).batches if b.uzovi == "3311")
    claims.apply_return(world.db, ADMIN, answer(claims.export_batch(world.db, ADMIN, batch.batch_id, at=AT)), at=AT)
    old = next(i for i in items(world, pregnancy_id="Z-0002", phase="natal") if i.kind == "integral")
    with world.db.unit_of_work() as connection:  # the contract's natal tariff was agreed higher, afterwards
        c = tables.contracts
        connection.execute(
            update(c)
            .where(c.c.contract_id == "ZK-RIV-2025", c.c.prestatie_code == old.prestatie_code)
            .values(tariff_cents=old.amount_cents + 12_345)
        )
    reruns.rerun_decisions(world.db, ADMIN, date(2026, 1, 20), ["Z-0002"])

    result = claims.build_batches(world.db, ADMIN, **PERIOD, at=AT)
    (correction,) = result.batches
    credit, debit = sorted(items(world, batch_id=correction.batch_id), key=lambda i: i.debit_credit)
    assert (credit.debit_credit, credit.original_line_id, credit.amount_cents) == ("C", old.line_id, old.amount_cents)
    assert (debit.debit_credit, debit.original_line_id, debit.amount_cents) == (
        "D",
        old.line_id,
        old.amount_cents + 12_345,
    )
    assert correction.total_cents == 12_345  # net: the new amount minus the old, to the cent
    assert items(world, line_id=old.line_id)[0].state == "corrected"
    with world.db.unit_of_work() as connection:
        history = (
            connection.execute(
                select(tables.claim_transitions.c.to_state).where(tables.claim_transitions.c.line_id == old.line_id)
            )
            .scalars()
            .all()
        )
    assert history == ["ready", "sent", "accepted", "corrected"]
    # Each new line's first history row names the run it was claimed from: the credit the old line's run.
    assert first_notes(world, [credit.line_id, debit.line_id]) == [
        f"claimed from decision run {old.run_id}",
        f"claimed from decision run {debit.run_id}",
    ]
    assert debit.run_id > old.run_id


def reported(world: World) -> list[tuple[str, str, str]]:
    """The insurer-reported overlaps: (pregnancy, phase, line)."""
    o = tables.reported_overlaps
    with world.db.unit_of_work() as connection:
        return [
            tuple(r) for r in connection.execute(select(o.c.pregnancy_id, o.c.phase, o.c.line_id).order_by(o.c.line_id))
        ]


def test_only_an_integral_debit_answered_0587_reports_a_bundle_breaker(world):
    """0587 on a member's separate (mono) line or on a credit is a refusal of that line, not a bundle breaker:
    only the integral claim of a phase can be broken (DOMAIN.md §4). The integral debit in the same file is."""
    batches = claims.build_batches(world.db, ROOT, **PERIOD, at=AT).batches
    batch = next(b for b in batches if {i.kind for i in items(world, batch_id=b.batch_id)} >= {"integral", "mono"})
    lines = items(world, batch_id=batch.batch_id)
    mono = next(i for i in lines if i.kind == "mono")
    integral = next(i for i in lines if i.kind == "integral" and i.pregnancy_id != mono.pregnancy_id)
    sent = claims.export_batch(world.db, ROOT, batch.batch_id, at=AT)
    verdicts = {line.line_id: (0, ("0587",)) for line in (mono, integral)}
    summary = claims.apply_return(world.db, ROOT, answer(sent, verdicts), at=AT, as_of=date(2026, 1, 20))
    assert summary.rejected == 2
    assert summary.bundle_breakers == [integral.pregnancy_id]
    assert reported(world) == [(integral.pregnancy_id, integral.phase, integral.line_id)]

    # A credit answered 0587: the correction of a booked integral line (its decision changed).
    old = next(i for i in items(world, batch_id=batch.batch_id) if i.kind == "integral" and i.state == "accepted")
    with world.db.unit_of_work() as connection:
        c = tables.contracts
        connection.execute(
            update(c).where(c.c.prestatie_code == old.prestatie_code).values(tariff_cents=old.amount_cents + 500)
        )
    reruns.rerun_decisions(world.db, ROOT, date(2026, 1, 20), [old.pregnancy_id])
    new = [
        i
        for b in claims.build_batches(world.db, ROOT, **PERIOD, at=AT).batches
        for i in items(world, batch_id=b.batch_id)
    ]
    credit = next(i for i in new if i.debit_credit == "C" and i.original_line_id == old.line_id)
    sent = claims.export_batch(world.db, ROOT, credit.batch_id, at=AT)
    summary = claims.apply_return(
        world.db, ROOT, answer(sent, {credit.line_id: (0, ("0587",))}), at=AT, as_of=date(2026, 1, 20)
    )
    assert summary.bundle_breakers == []
    assert reported(world) == [(integral.pregnancy_id, integral.phase, integral.line_id)]


def first_notes(world: World, line_ids: list[str]) -> list[str]:
    """The note of each line's first history row (``None`` → ``ready``)."""
    t = tables.claim_transitions
    with world.db.unit_of_work() as connection:
        rows = connection.execute(
            select(t.c.line_id, t.c.note).where(
                t.c.line_id.in_(line_ids), t.c.from_state.is_(None), t.c.to_state == "ready"
            )
        ).all()
    notes = dict(rows)
    assert len(rows) == len(notes) == len(line_ids)  # one first row each
    return [notes[line_id] for line_id in line_ids]


def test_only_the_back_office_and_superuser_handle_claims(world):
    for username in ("board_riv", "insurer_zk", "member_linde", "analyst"):
        with pytest.raises(AccessDeniedError):
            claims.build_batches(world.db, principal(username), **PERIOD, at=AT)
    west = claims.build_batches(world.db, principal("admin_west"), **PERIOD, at=AT)
    assert west.batches and all(b.igo_id == "IGO-WEST" for b in west.batches)
    assert all(b.igo_id == "IGO-WEST" for b in claims.list_batches(world.db, principal("admin_west")))
    assert claims.list_batches(world.db, ADMIN) == []
    insurer = claims.list_batches(world.db, principal("insurer_menzis"))
    assert insurer and all(b.uzovi == "7029" for b in insurer)


def test_every_state_change_is_audited(world):
    batch = claims.build_batches(world.db, ADMIN, **PERIOD, at=AT).batches[0]
    claims.apply_return(world.db, ADMIN, answer(claims.export_batch(world.db, ADMIN, batch.batch_id, at=AT)), at=AT)
    log = [e for e in queries.list_audit(world.db, ADMIN, entity="claim_batch").items if e.entity_id == batch.batch_id]
    assert [e.action for e in log] == ["apply_return", "send_claims", "build_claims"]
    assert all(e.igo_ids == ["IGO-RIV"] and e.actor == "admin_riv" for e in log)
    assert log[0].detail["accepted"] == batch.lines and log[2].detail["total_cents"] == batch.total_cents


def test_a_rejected_line_is_resent_once_with_a_link_to_it(world):
    batch = next(b for b in claims.build_batches(world.db, ADMIN, **PERIOD, at=AT).batches if b.uzovi == "3311")
    sent = claims.export_batch(world.db, ADMIN, batch.batch_id, at=AT)
    rejected = items(world, batch_id=batch.batch_id)[0]
    claims.apply_return(world.db, ADMIN, answer(sent, {rejected.line_id: (0, ("0320",))}), at=AT)

    (again,) = claims.resubmit(world.db, ADMIN, [rejected.line_id], at=AT)
    (copy,) = items(world, batch_id=again.batch_id)
    assert (copy.original_line_id, copy.amount_cents, copy.prestatie_code, copy.state) == (
        rejected.line_id,
        rejected.amount_cents,
        rejected.prestatie_code,
        "ready",
    )
    assert items(world, line_id=rejected.line_id)[0].state == "corrected"
    with pytest.raises(claims.ClaimsError, match="only rejected lines"):
        claims.resubmit(world.db, ADMIN, [rejected.line_id], at=AT)
    with pytest.raises(NotFoundError):
        claims.resubmit(world.db, principal("admin_west"), [copy.line_id], at=AT)


@pytest.mark.parametrize(("fmt", "claim"), [("fhir-claim", "fhir-claimresponse"), ("csv", "csv-return")])
def test_batches_go_out_and_returns_come_back_in_the_other_formats(world, fmt, claim):
    """The same batch as FHIR or CSV (issue 4, formats behind one interface), answered in the same family."""
    batch = claims.build_batches(world.db, ADMIN, **PERIOD, at=AT).batches[0]
    data = claims.export_batch(world.db, ADMIN, batch.batch_id, fmt, at=AT)
    sent = get_format(fmt).read(data)
    assert sent.batch_id == batch.batch_id and sent.total_signed_cents == batch.total_cents
    lines = tuple(ReturnLine(line, line.signed_cents, line.signed_cents) for line in sent.lines)
    returned = ReturnBatch(
        sent.sender_agb, sent.receiver_uzovi, sent.batch_id, sent.creation_date, sent.period_start,
        sent.period_end, "R-1", date(2026, 1, 20), (), lines,
    )  # fmt: skip
    summary = claims.apply_return(world.db, ADMIN, get_format(claim).write(returned), claim, at=AT)
    assert summary.accepted == batch.lines and summary.awarded_cents == batch.total_cents


def test_a_format_of_the_wrong_kind_is_refused(world):
    batch = claims.build_batches(world.db, ADMIN, **PERIOD, at=AT).batches[0]
    with pytest.raises(claims.ClaimsError, match="not a claim file format"):
        claims.export_batch(world.db, ADMIN, batch.batch_id, "kz302", at=AT)
    with pytest.raises(claims.ClaimsError, match="not a return file format"):
        claims.apply_return(world.db, ADMIN, b"", "fhir-payment", at=AT)
    assert {i.state for i in items(world, batch_id=batch.batch_id)} == {"ready"}


def test_a_return_code_outside_cod954_is_refused_naming_where_and_changes_nothing(world):
    batch = claims.build_batches(world.db, ADMIN, **PERIOD, at=AT).batches[0]
    sent = claims.export_batch(world.db, ADMIN, batch.batch_id, at=AT)
    first = items(world, batch_id=batch.batch_id)[0]
    before = [(i.line_id, i.state) for i in items(world)]
    # KZ302: the reader names the line and the column of the code.
    with pytest.raises(FormatError, match=r"line \d+, column \d+, field 'retourcode_01'.*9999 is not in the COD954"):
        claims.apply_return(world.db, ADMIN, answer(sent, {first.line_id: (0, ("9999",))}), at=AT)
    # CSV keeps unknown codes readable (a spreadsheet is where one investigates them); applying refuses them.
    read = get_format("kz301").read(sent)
    lines = tuple(
        ReturnLine(line, line.signed_cents, 0 if line.line_id == first.line_id else line.signed_cents,
                   ("9999",) if line.line_id == first.line_id else ())
        for line in read.lines
    )  # fmt: skip
    returned = ReturnBatch(
        read.sender_agb, read.receiver_uzovi, read.batch_id, read.creation_date, read.period_start,
        read.period_end, "R", date(2026, 1, 20), (), lines,
    )  # fmt: skip
    with pytest.raises(claims.ClaimsError, match=f"line {first.line_id}: return code 9999"):
        claims.apply_return(world.db, ADMIN, get_format("csv-return").write(returned), "csv-return", at=AT)
    assert [(i.line_id, i.state) for i in items(world)] == before


def test_a_member_that_claims_itself_gets_its_separate_lines_once(world):
    """Members claim their monodisciplinary lines themselves where the IGO does not (issue 4, item 1)."""
    member = principal("member_linde")
    own = claims.member_batches(world.db, member, "08000001", **PERIOD)
    assert own and all(b.sender_agb == "08000001" for b in own)
    expected = [c for c in decided_lines(world, ADMIN) if c.kind == "mono" and c.claimant_agb == "08000001"]
    assert sum(len(b.lines) for b in own) == len(expected)
    assert sum(b.total_signed_cents for b in own) == sum(c.amount_cents for c in expected)
    assert {b.receiver_uzovi for b in own} == {c.uzovi for c in expected}
    # Once the IGO claimed them on the member's behalf, the member's export leaves them out.
    claims.build_batches(world.db, ADMIN, **PERIOD, at=AT)
    assert claims.member_batches(world.db, member, "08000001", **PERIOD) == []
    with pytest.raises(NotFoundError):
        claims.member_batches(world.db, member, "08000011", **PERIOD)


ROOT = principal("root")  # both IGOs: three batches, two of them with integral lines


def breaker_answers(world: World) -> tuple[list[tuple[str, bytes]], list[str]]:
    """Every batch sent and answered; in the first two batches with an integral line, the first such line gets a
    0587 (the pregnancies hit are returned too)."""
    batches = claims.build_batches(world.db, ROOT, **PERIOD, at=AT).batches
    files, hit = [], []
    for batch in batches:
        sent = claims.export_batch(world.db, ROOT, batch.batch_id, at=AT)
        integral = [i for i in items(world, batch_id=batch.batch_id) if i.kind == "integral"]
        verdicts = {}
        if integral and len(hit) < 2:
            verdicts = {integral[0].line_id: (0, ("0587",))}
            hit.append(integral[0].pregnancy_id)
        files.append((batch.batch_id, answer(sent, verdicts)))
    return files, hit


def decided(world: World, pregnancy_ids: list[str]) -> list[tuple]:
    """The current phases (outcome and reasons) and claim lines of the pregnancies, as their page shows them."""
    shown = []
    for pregnancy_id in pregnancy_ids:
        detail = queries.get_pregnancy(world.db, ROOT, pregnancy_id, pseudonym_key=PSEUDONYM_KEY)
        shown.append([(p.phase, p.outcome, [r.code for r in p.reasons]) for p in detail.phases])
        shown.append(sorted((c.phase, c.kind, c.claimant_agb, c.amount_cents) for c in detail.claim_lines))
    return shown


def assert_same_as(
    world: World, hit: list[str], template: World, tmp_path, apply: Callable[[World, list[tuple[str, bytes]]], None]
) -> None:
    """``world`` shows what a fresh copy of ``template`` shows after ``apply`` of the same answers: the hit
    pregnancies' phases, reasons and lines, and every claim item's state, award and next action."""
    (tmp_path / "alone").mkdir()
    alone = clone_world(template, tmp_path / "alone")
    try:
        files_alone, _ = breaker_answers(alone)
        apply(alone, files_alone)
        assert decided(world, hit) == decided(alone, hit)
        assert [(i.line_id, i.state, i.awarded_cents, i.next_action) for i in items(world)] == [
            (i.line_id, i.state, i.awarded_cents, i.next_action) for i in items(alone)
        ]
    finally:
        release(alone.db)


def test_several_returns_at_once_refuse_only_the_bad_file_and_decide_the_breakers_once(world, template, tmp_path):
    files, hit = breaker_answers(world)
    assert len(files) >= 2 and len(set(hit)) == 2
    bad = ("broken.kz302", files[1][1][: len(files[1][1]) // 2])

    run = claims.apply_returns(world.db, ROOT, [files[0], bad, *files[1:]], at=AT, as_of=date(2026, 1, 20))
    assert [name for name, _ in run.applied] == [name for name, _ in files]
    assert [name for name, _ in run.refused] == ["broken.kz302"] and "line" in run.refused[0][1]
    assert run.bundle_breakers == sorted(hit) and len(run.rerun_ids) == 1  # one decision run for every file
    assert all(s.rerun_ids == run.rerun_ids for _, s in run.applied if s.bundle_breakers)
    assert sorted(b for _, s in run.applied for b in s.bundle_breakers) == sorted(hit)
    assert {i.state for i in items(world)} <= {"accepted", "rejected"}

    # The same as applying the files one at a time (each deciding its own breaker again).
    def one_by_one(alone: World, files_alone: list[tuple[str, bytes]]) -> None:
        for _, data in files_alone:
            claims.apply_return(alone.db, ROOT, data, at=AT, as_of=date(2026, 1, 20))

    assert_same_as(world, hit, template, tmp_path, one_by_one)
    for pregnancy_id in hit:
        detail = queries.get_pregnancy(world.db, ROOT, pregnancy_id, pseudonym_key=PSEUDONYM_KEY)
        assert "fallback" in [p.outcome for p in detail.phases]


def _readers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("integraal-return-read")]


def test_several_returns_are_read_ahead_in_a_second_thread_each_once_in_order(world, monkeypatch):
    files, hit = breaker_answers(world)
    bad = ("broken.kz302", files[0][1][: len(files[0][1]) // 2])
    posted = [bad, *files]
    read = []
    real = claims._read_return

    def recording(data, fmt):
        read.append((threading.current_thread().name, data))
        return real(data, fmt)

    monkeypatch.setattr(claims, "_read_return", recording)
    run = claims.apply_returns(world.db, ROOT, posted, at=AT, as_of=date(2026, 1, 20))
    assert [data for _, data in read] == [data for _, data in posted]
    assert all(name.startswith("integraal-return-read") for name, _ in read)
    # The broken first file, read ahead with the others, is refused with its own error; the rest applied.
    assert [name for name, _ in run.refused] == ["broken.kz302"] and "line" in run.refused[0][1]
    assert [name for name, _ in run.applied] == [name for name, _ in files]
    assert run.bundle_breakers == sorted(hit)
    assert not _readers()
    # One file alone is read where it is applied.
    read.clear()
    again = claims.apply_return(world.db, ROOT, files[0][1], at=AT, as_of=date(2026, 1, 20))
    assert again.already_applied > 0 and again.accepted == again.rejected == 0
    assert [name for name, _ in read] == [threading.current_thread().name]


def test_the_files_applied_before_a_failure_still_have_their_breakers_decided_again(world, monkeypatch):
    files, hit = breaker_answers(world)
    applied = []
    apply_one = claims._apply_one

    def busy_on_the_second(*args, **kwargs):
        if applied:
            raise RuntimeError("the database went away")
        applied.append(apply_one(*args, **kwargs))
        return applied[-1]

    monkeypatch.setattr(claims, "_apply_one", busy_on_the_second)
    with pytest.raises(RuntimeError):
        claims.apply_returns(world.db, ROOT, files, at=AT, as_of=date(2026, 1, 20))
    assert applied[0].bundle_breakers == [hit[0]]
    assert not _readers()  # the files read ahead were let go
    detail = queries.get_pregnancy(world.db, ROOT, hit[0], pseudonym_key=PSEUDONYM_KEY)
    reasons = [r.code for p in detail.phases for r in p.reasons]
    assert "INSURER_REPORTED_OVERLAP" in reasons  # decided again although the run stopped at the second file


def apply_with_its_re_decision_killed(world: World, data: bytes, monkeypatch) -> None:
    """Apply a return file as a process killed between its commit and its re-decision would leave it."""

    def killed(*args, **kwargs):
        raise KeyboardInterrupt("killed between the file and its re-decision")

    monkeypatch.setattr(reruns, "rerun_decisions", killed)
    with pytest.raises(KeyboardInterrupt):
        claims.apply_return(world.db, ROOT, data, at=AT, as_of=date(2026, 1, 20))
    monkeypatch.undo()


def reasons_of(world: World, pregnancy_id: str) -> list[str]:
    detail = queries.get_pregnancy(world.db, ROOT, pregnancy_id, pseudonym_key=PSEUDONYM_KEY)
    return [r.code for p in detail.phases for r in p.reasons]


def test_a_return_stopped_before_its_re_decision_owes_it_and_the_next_application_makes_it(
    world, template, tmp_path, monkeypatch
):
    """A process killed between a return file's commit and its re-decision (simulated: the re-decision fails)
    leaves the 0587 reported and owed; the next application of any file decides that pregnancy again too, and the
    result is that of an application that never stopped (migration 0008)."""
    files, hit = breaker_answers(world)
    first, rest = files[0], files[1:]
    assert claims.owed_redecisions(world.db, ROOT) == []

    apply_with_its_re_decision_killed(world, first[1], monkeypatch)
    assert claims.owed_redecisions(world.db, ROOT) == [hit[0]]
    assert "INSURER_REPORTED_OVERLAP" not in reasons_of(world, hit[0])  # the old decision still stands

    run = claims.apply_returns(world.db, ROOT, rest, at=AT, as_of=date(2026, 1, 20))
    assert run.bundle_breakers == [hit[1]] and run.owed_redecided == [hit[0]]
    assert len(run.rerun_ids) == 1  # both in the one run
    assert claims.owed_redecisions(world.db, ROOT) == []
    with world.db.unit_of_work() as connection:
        marks = connection.execute(select(tables.reported_overlaps.c.decided_in_run)).scalars().all()
    assert marks == [run.rerun_ids[0]] * 2

    def never_stopped(alone: World, files_alone: list[tuple[str, bytes]]) -> None:
        claims.apply_returns(alone.db, ROOT, files_alone, at=AT, as_of=date(2026, 1, 20))

    assert_same_as(world, hit, template, tmp_path, never_stopped)


def test_a_decision_run_marks_only_the_reports_it_read(world, monkeypatch):
    """A 0587 booked while a decision run is deciding (after its read, before its write) is not one that run
    decided: it stays owed, and the next run that reads it marks it."""
    from integraal.services.decisions import decide_all

    files, hit = breaker_answers(world)
    booked = []

    def book_meanwhile(_: int) -> None:  # called between the run's read and its write
        if not booked:
            booked.append(claims._apply_one(world.db, ROOT, files[0][1], "kz302", AT))

    decide_all(world.db, date(2026, 1, 20), progress=book_meanwhile)
    assert booked and booked[0].bundle_breakers == [hit[0]]
    assert claims.owed_redecisions(world.db, ROOT) == [hit[0]]
    assert "INSURER_REPORTED_OVERLAP" not in reasons_of(world, hit[0])

    summary = decide_all(world.db, date(2026, 1, 20))  # a full run reads it, decides it and marks it
    assert claims.owed_redecisions(world.db, ROOT) == []
    assert "INSURER_REPORTED_OVERLAP" in reasons_of(world, hit[0])
    with world.db.unit_of_work() as connection:
        assert connection.execute(select(tables.reported_overlaps.c.decided_in_run)).scalars().all() == [summary.run_id]


def test_migration_0008_counts_earlier_reports_as_decided_by_their_newest_run(world):
    from alembic import command

    from integraal.store.database import alembic_config

    files, hit = breaker_answers(world)
    run = claims.apply_returns(world.db, ROOT, files, at=AT, as_of=date(2026, 1, 20))
    world.db.engine.dispose()
    config = alembic_config(world.db.url)
    command.downgrade(config, "0007")
    command.upgrade(config, "head")
    with world.db.unit_of_work() as connection:
        o = tables.reported_overlaps
        marks = dict(connection.execute(select(o.c.pregnancy_id, o.c.decided_in_run)).all())
    assert marks == dict.fromkeys(hit, run.rerun_ids[0])
    assert claims.owed_redecisions(world.db, ROOT) == []


def test_building_batches_first_makes_a_re_decision_a_stopped_return_still_owes(world, template, tmp_path, monkeypatch):
    """A claim run after a return whose re-decision was interrupted claims what the 0587 decided (the members'
    separate lines), exactly as after an application that never stopped."""
    files, hit = breaker_answers(world)

    apply_with_its_re_decision_killed(world, files[0][1], monkeypatch)
    assert claims.owed_redecisions(world.db, ROOT) == [hit[0]]

    built = claims.build_batches(world.db, ROOT, **PERIOD, at=AT)
    assert built.owed_redecided == [hit[0]] and claims.owed_redecisions(world.db, ROOT) == []
    assert any(
        i.pregnancy_id == hit[0] and i.kind == "mono" for b in built.batches for i in items(world, batch_id=b.batch_id)
    )

    def never_stopped(alone: World, files_alone: list[tuple[str, bytes]]) -> None:
        claims.apply_return(alone.db, ROOT, files_alone[0][1], at=AT, as_of=AT.date())
        assert claims.build_batches(alone.db, ROOT, **PERIOD, at=AT).owed_redecided == []

    assert_same_as(world, hit, template, tmp_path, never_stopped)


def test_the_claims_page_says_how_many_owed_re_decisions_a_claim_run_made_first(world, monkeypatch):
    from test_authorisation_matrix import web_login

    from integraal.api.deps import SESSION_COOKIE
    from integraal.services.users import csrf_token

    files, hit = breaker_answers(world)
    apply_with_its_re_decision_killed(world, files[0][1], monkeypatch)
    assert claims.owed_redecisions(world.db, ROOT) == [hit[0]]

    secret = web_login(world, BY_NAME["root"])
    world.client.cookies.set(SESSION_COOKIE, secret)
    form = {"csrf_token": csrf_token(secret), "period_start": "2025-01-01", "period_end": "2025-12-31"}
    response = world.client.post("/claims/build", data=form, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].endswith("&redecided=1")
    page = world.client.get(response.headers["location"])  # Dutch, the default
    assert "1 zwangerschappen zijn eerst opnieuw besloten" in page.text
    assert claims.owed_redecisions(world.db, ROOT) == []
    assert 'id="owed-redecided"' not in world.client.get("/claims?built=1&redecided=<b>x</b>").text


def _correction_round(world: World) -> None:
    """Build, send and book one insurer's batch, raise a tariff, decide a pregnancy again and build again."""
    batch = next(b for b in claims.build_batches(world.db, ADMIN, **PERIOD, at=AT).batches if b.uzovi == "3311")
    claims.apply_return(world.db, ADMIN, answer(claims.export_batch(world.db, ADMIN, batch.batch_id, at=AT)), at=AT)
    with world.db.unit_of_work() as connection:
        c = tables.contracts
        connection.execute(
            update(c).where(c.c.contract_id == "ZK-RIV-2025").values(tariff_cents=c.c.tariff_cents + 1_000)
        )
    reruns.rerun_decisions(world.db, ADMIN, date(2026, 1, 20), ["Z-0002", "Z-0003"])
    claims.build_batches(world.db, ADMIN, **PERIOD, at=AT)


@pytest.mark.sqlite_only(reason="only SQLite copies a decided line by its row number")
def test_decided_lines_copied_by_row_number_are_the_items_copied_by_key(world, template, tmp_path, monkeypatch):
    """A build copies each new item's fields from its decided line found by ``rowid`` on SQLite
    (``claims.LINE_ROWID``) and by the line's key elsewhere: the same items, debits and credits, either way."""
    seen: list[list[str]] = []
    insert_items = claims._insert_items
    monkeypatch.setattr(
        claims, "_insert_items", lambda c, items, *a: seen.append(items.columns) or insert_items(c, items, *a)
    )
    _correction_round(world)
    assert len(seen) == 2 and all(claims.LINE_ROWID in columns for columns in seen)

    (tmp_path / "by-key").mkdir()
    by_key = clone_world(template, tmp_path / "by-key")
    latest_lines = claims._latest_lines

    def without_row_numbers(connection, principal, start, end, include_mono, columns=tuple(claims._DESIRED_SCHEMA)):
        return latest_lines(
            connection, principal, start, end, include_mono, [c for c in columns if c != claims.LINE_ROWID]
        )

    monkeypatch.setattr(claims, "_latest_lines", without_row_numbers)
    _correction_round(by_key)
    assert len(seen) == 4 and not any(claims.LINE_ROWID in columns for columns in seen[2:])
    stored, expected = items(world), items(by_key)
    release(by_key.db)
    assert [tuple(r) for r in stored] == [tuple(r) for r in expected]
    assert {r.debit_credit for r in stored} == {"C", "D"}


def _reverse_bsns(world: World) -> None:
    """Hand the women's BSNs out in the reverse order (the smallest's to the largest's, …; twice: as before)."""
    p = tables.pregnancies
    with world.db.unit_of_work() as connection:
        rows = connection.execute(select(p.c.pregnancy_id, p.c.bsn)).all()
        ordered = sorted({bsn for _, bsn in rows})
        swap = dict(zip(ordered, reversed(ordered), strict=True))
        for pregnancy_id, bsn in rows:
            connection.execute(update(p).where(p.c.pregnancy_id == pregnancy_id).values(bsn=swap[bsn]))


def _send_round(world: World, fmt: str, send: Callable[[World, str], dict[str, bytes]]) -> list[dict[str, bytes]]:
    """A first claim sent with ``send``, one insurer's batch booked, a tariff raised and two pregnancies decided
    again, then their corrections (credits and debits) sent with ``send``: the files of both rounds.

    The first claim is made while the women's BSNs are reversed, so that a file's order (by BSN, then line) is
    not its lines' order; they are put back before the re-decisions (which find activities by BSN)."""
    _reverse_bsns(world)
    first = send(world, fmt)
    _reverse_bsns(world)
    batch = next(b for b in items(world) if b.uzovi == "3311").batch_id
    sent = first[batch] if fmt == "kz301" else claims.export_batch(world.db, ADMIN, batch, at=AT)  # a resend
    claims.apply_return(world.db, ADMIN, answer(sent), at=AT)
    with world.db.unit_of_work() as connection:
        c = tables.contracts
        connection.execute(
            update(c).where(c.c.contract_id == "ZK-RIV-2025").values(tariff_cents=c.c.tariff_cents + 1_000)
        )
    reruns.rerun_decisions(world.db, ADMIN, date(2026, 1, 20), ["Z-0002", "Z-0003"])
    return [first, send(world, fmt)]


def built_then_exported(world: World, fmt: str) -> dict[str, bytes]:
    built = claims.build_batches(world.db, ADMIN, **PERIOD, at=AT)
    return claims.export_batches(world.db, ADMIN, [b.batch_id for b in built.batches], fmt, at=AT)


def built_and_sent(world: World, fmt: str) -> dict[str, bytes]:
    result = claims.build_batches(world.db, ADMIN, **PERIOD, at=AT, send=fmt)
    assert [b.batch_id for b in result.batches] == list(result.files)
    assert {b.state for b in result.batches} <= {"sent"}
    return result.files


def stored_claims(world: World) -> tuple[list, ...]:
    """Every batch and item, each line's history in order (its id order across lines aside), the audit trail."""
    b, i, t, a = tables.claim_batches, tables.claim_items, tables.claim_transitions, tables.audit_log
    with world.db.engine.connect() as connection:
        return (
            [tuple(r) for r in connection.execute(select(b).order_by(b.c.batch_id))],
            [tuple(r) for r in connection.execute(select(i).order_by(i.c.line_id))],
            [
                tuple(r)
                for r in connection.execute(
                    select(t.c.line_id, t.c.from_state, t.c.to_state, t.c.note, t.c.at, t.c.actor).order_by(
                        t.c.line_id, t.c.id
                    )
                )
            ],
            [tuple(r) for r in connection.execute(select(a.c.action, a.c.entity_id, a.c.detail).order_by(a.c.id))],
        )


@pytest.mark.parametrize(
    ("fmt", "read_apart"),
    [("kz301", False), ("kz301", True), ("fhir-claim", False), ("csv", False)],
    ids=["kz301", "kz301-read-in-processes", "fhir-claim", "csv"],
)
def test_batches_built_and_sent_in_one_step_are_those_built_and_then_exported(
    world, template, tmp_path, monkeypatch, fmt, read_apart
):
    """``build_batches(send=…)`` writes the files from the lines it has in hand and stores the lines sent at once:
    the same files, batches, lines, history and audit as a build exported right after, corrections included."""
    if read_apart:  # the decided lines read as a national year's are: a process per range of pregnancies
        monkeypatch.setattr(bulk, "CHILD_MIN_ROWS", 1)
    writers: list[str] = []
    real = claims._write_files  # the one step's files (a resend writes through ``_write_file`` here, alone)
    monkeypatch.setattr(claims, "_write_files", lambda *a: writers.append(threading.current_thread().name) or real(*a))
    one_step = _send_round(world, fmt, built_and_sent)
    assert writers and all(name.startswith("integraal-claim-write") for name in writers)
    (tmp_path / "two-steps").mkdir()
    two_steps = clone_world(template, tmp_path / "two-steps")
    try:
        assert _send_round(two_steps, fmt, built_then_exported) == one_step
        assert stored_claims(world) == stored_claims(two_steps)
    finally:
        release(two_steps.db)
    first, corrections = one_step
    assert len(first) >= 2 and len(corrections) == 1
    (batch,) = corrections
    assert {i.debit_credit for i in items(world, batch_id=batch)} == {"C", "D"}
    for batch_id, data in (first | corrections).items():  # a resend of a stored batch: the file sent
        assert claims.export_batch(world.db, ADMIN, batch_id, fmt, at=AT) == data


def test_batches_built_and_sent_in_one_step_are_built_all_or_none(world, monkeypatch):
    """A file that cannot be written builds nothing, and its error is the one reported also when the database
    fails too once the files are being written; a format that is not a claim file format is refused."""
    before = stored_claims(world)
    with pytest.raises(claims.ClaimsError, match="not a claim file format"):
        claims.build_batches(world.db, ADMIN, **PERIOD, at=AT, send="kz302")
    real = claims.write_claim_frame

    def broken_second(header, frame):
        if header.batch_id == "B0000002":
            raise ValueError("amount does not fit")
        return real(header, frame)

    monkeypatch.setattr(claims, "write_claim_frame", broken_second)
    with pytest.raises(ValueError, match="does not fit"):
        claims.build_batches(world.db, ADMIN, **PERIOD, at=AT, send="kz301")
    assert stored_claims(world) == before
    # The history rows fail after the files have begun (with the copy of the lines): the file's error is reported.
    monkeypatch.setattr(
        claims, "_record_transitions_of", lambda *a: (_ for _ in ()).throw(RuntimeError("disk I/O error"))
    )
    with pytest.raises(ValueError, match="does not fit"):
        claims.build_batches(world.db, ADMIN, **PERIOD, at=AT, send="kz301")
    assert stored_claims(world) == before
    monkeypatch.setattr(claims, "write_claim_frame", real)
    built = claims.build_batches  # and with the files written, the database's error is reported
    with pytest.raises(RuntimeError, match="disk I/O"):
        built(world.db, ADMIN, **PERIOD, at=AT, send="kz301")
    assert stored_claims(world) == before
