"""Use case: re-run the bundle decisions on behalf of a principal (API, web UI).

A superuser re-decides everything (or the pregnancies it names); an IGO's back office re-decides its own IGO's
pregnancies (all, or those it names). The deciding itself is ``services.decisions.decide_all``, called with
its public signature only; large scopes are decided in chunks (one stored run per chunk) so that the id lists
stay within what every database accepts as bound parameters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import func, select

from integraal.services import audit
from integraal.services.access import Action, NotFoundError, Principal, Role, pregnancy_scope, require
from integraal.services.decisions import RunSummary, decide_all
from integraal.store import tables
from integraal.store.database import Database

CHUNK = 10_000


@dataclass(slots=True)
class RerunResult:
    as_of: date
    previous_run_id: int | None
    runs: list[RunSummary] = field(default_factory=list)

    @property
    def run_ids(self) -> list[int]:
        return [r.run_id for r in self.runs if r.run_id is not None]

    @property
    def pregnancies(self) -> int:
        return sum(r.pregnancies for r in self.runs)


def rerun_decisions(
    db: Database, principal: Principal, as_of: date, pregnancy_ids: Sequence[str] | None = None
) -> RerunResult:
    """Decide (and store) the pregnancies in the principal's scope, or those of ``pregnancy_ids``.

    Raises ``NotFoundError`` when a named pregnancy is unknown or outside the scope (nothing is decided then).
    """
    require(principal, Action.RERUN_DECISIONS)
    p = tables.pregnancies
    scope = pregnancy_scope(principal)
    with db.unit_of_work() as connection:
        previous = connection.execute(select(func.max(tables.decision_runs.c.run_id))).scalar()
        if pregnancy_ids is not None:
            wanted = sorted(set(pregnancy_ids))
            found: set[str] = set()
            for start in range(0, len(wanted), CHUNK):
                chunk = wanted[start : start + CHUNK]
                found.update(
                    connection.execute(select(p.c.pregnancy_id).where(p.c.pregnancy_id.in_(chunk), scope)).scalars()
                )
            missing = [i for i in wanted if i not in found]
            if missing:
                raise NotFoundError("pregnancy", missing[0])
            ids: list[str] | None = wanted
        elif principal.role is Role.SUPERUSER:
            ids = None
        else:
            ids = list(connection.execute(select(p.c.pregnancy_id).where(scope).order_by(p.c.pregnancy_id)).scalars())
        igo_query = select(p.c.igo_id).where(scope).distinct()
        if ids is not None and len(ids) <= CHUNK:
            igo_query = igo_query.where(p.c.pregnancy_id.in_(ids))
        igo_ids = sorted(connection.execute(igo_query).scalars())

    result = RerunResult(as_of, int(previous) if previous is not None else None)
    if ids is None:
        result.runs.append(decide_all(db, as_of, actor=principal.username))
    else:
        for start in range(0, len(ids), CHUNK):
            result.runs.append(decide_all(db, as_of, ids[start : start + CHUNK], actor=principal.username))
    with db.unit_of_work() as connection:
        audit.record(
            connection,
            principal.username,
            "rerun",
            "decision_run",
            " ".join(str(i) for i in result.run_ids) or "-",
            igo_ids=igo_ids,
            before={"run_id": result.previous_run_id},
            after={"run_ids": result.run_ids},
            as_of=as_of.isoformat(),
            pregnancies=result.pregnancies,
        )
    return result
