"""The set-based claim build (issue 7) against the phase-by-phase rules it replaced.

``services.claims._plan`` decides for every phase at once what a build does; ``reference_plan`` below is the
per-phase loop it replaced (pre-issue-7 ``build_batches``), kept here as the specification. Random phases with
repeated keys, every claim state and several insurers must give the same new items, closed lines and counters.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from typing import Any

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from integraal.claims.lifecycle import BOOKED_STATES, ClaimState
from integraal.services import claims

_ACTIVE = (ClaimState.READY, ClaimState.SENT, *BOOKED_STATES)
KEY = ("kind", "prestatie_code", "claimant_agb", "quantity_hundredths", "amount_cents", "service_start", "service_end")


def reference_plan(
    desired: list[dict[str, Any]], claimed: list[dict[str, Any]]
) -> tuple[list[tuple], list[str], tuple]:
    """The pre-issue-7 loop: (igo, uzovi, source, direction, amount, original) per new item, closed ids, counters."""
    key = lambda r: tuple(r[k] for k in KEY)  # noqa: E731
    by_claimed: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for e in sorted(claimed, key=lambda e: e["line_id"]):
        by_claimed[(e["pregnancy_id"], e["phase"])].append(e)
    by_phase: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in desired:
        by_phase[(r["pregnancy_id"], r["phase"])].append(r)
    new: dict[tuple[str, str], list[tuple]] = defaultdict(list)
    closing: list[str] = []
    already = waiting = unchanged = 0
    for phase, lines in by_phase.items():
        existing = by_claimed.get(phase, [])
        active = {key(e): e for e in existing if e["state"] in _ACTIVE}
        rejected = {key(e): e for e in existing if e["state"] == ClaimState.REJECTED}
        todo = []
        for r in lines:
            k = key(r)
            if k in active:
                del active[k]
                already += 1
            elif k in rejected:
                del rejected[k]
                unchanged += 1
            else:
                todo.append(r)
        stale = list(active.values())
        if any(e["state"] in (ClaimState.READY, ClaimState.SENT) for e in stale):
            waiting += 1
            continue
        if not todo and not stale:
            continue
        igo = lines[0]["igo_id"]
        replaced = stale + (list(rejected.values()) if todo else [])
        for e in replaced:
            if e["state"] != ClaimState.REJECTED:
                new[(igo, e["uzovi"])].append((e["line_id"], "C", e["amount_cents"], e["line_id"]))
            closing.append(e["line_id"])
        originals = [e["line_id"] for e in replaced]
        for n, r in enumerate(todo):
            source = f"{r['run_id']}/{r['line_no']}"
            new[(igo, r["uzovi"])].append(
                (source, "D", r["amount_cents"], originals[n] if n < len(originals) else None)
            )
    items = [(igo, uzovi, *item) for (igo, uzovi), group in sorted(new.items()) for item in group]
    return items, closing, (already, waiting, unchanged)


DAY = date(2025, 3, 1)
small = st.sampled_from


@st.composite
def worlds(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    desired: list[dict[str, Any]] = []
    claimed: list[dict[str, Any]] = []
    line_no = 0
    for p in range(draw(st.integers(1, 4))):
        igo = draw(small(["IGO-A", "IGO-B"]))
        for phase in draw(st.lists(small(["natal", "postnatal", "prenatal"]), min_size=1, max_size=3, unique=True)):
            keys = [
                {
                    "kind": draw(small(["integral", "mono"])),
                    "prestatie_code": draw(small(["P1", "P2"])),
                    "claimant_agb": "53000001",
                    "quantity_hundredths": 100,
                    "amount_cents": draw(small([100, 250])),
                    "service_start": DAY,
                    "service_end": DAY + timedelta(days=draw(st.integers(0, 1))),
                }
                for _ in range(3)
            ]
            for k in draw(st.lists(small(range(3)), max_size=4)):
                line_no += 1
                desired.append(
                    {
                        "run_id": 7,
                        "line_no": line_no,
                        "pregnancy_id": f"Z{p}",
                        "phase": phase,
                        "uzovi": draw(small(["3311", "7029"])),
                        "igo_id": igo,
                        **keys[k],
                    }
                )
            for k in draw(st.lists(small(range(3)), max_size=4)):
                claimed.append(
                    {
                        "line_id": f"B0000001-{len(claimed) + 1:05d}",
                        "run_id": 3,
                        "decision_line_no": len(claimed) + 1,
                        "pregnancy_id": f"Z{p}",
                        "phase": phase,
                        "uzovi": draw(small(["3311", "7029"])),
                        "bsn": "123456782",
                        "ruleset_version": "v",
                        "state": draw(small([s.value for s in ClaimState])),
                        "attempt": 0,
                        **keys[k],
                    }
                )
    desired.sort(key=lambda r: (r["pregnancy_id"], r["phase"], r["line_no"]))
    return desired, claimed


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(world=worlds())
def test_plan_does_what_the_phase_by_phase_build_did(world: tuple[list[dict[str, Any]], list[dict[str, Any]]]) -> None:
    desired, claimed = world
    desired_frame = pl.DataFrame(desired, schema=claims._DESIRED_SCHEMA | {"igo_id": pl.String}, strict=False)
    claimed_frame = pl.DataFrame(
        sorted(claimed, key=lambda e: e["line_id"]),
        schema={k: v for k, v in claims._ITEM_SCHEMA.items() if k != "batch_id"},
        strict=False,
    )
    plan = claims._plan(desired_frame.select(list(claims._DESIRED_SCHEMA)), claimed_frame)
    items = [
        (
            r["igo_id"],
            r["uzovi"],
            r["source_line_id"] or f"{r['run_id']}/{r['line_no']}",
            r["debit_credit"],
            r["amount_cents"],
            r["original_line_id"],
        )
        for r in plan.items.iter_rows(named=True)
    ]
    expected_items, expected_closing, counters = reference_plan(desired, claimed)
    assert items == expected_items
    assert plan.closing["line_id"].to_list() == expected_closing
    assert (plan.already_claimed, plan.waiting, plan.unchanged_rejections) == counters
