"""The current decision: per pregnancy and phase the newest stored decision, and the claim lines it made.

Runs may cover a subset of pregnancies (a re-decision after a correction or a 0587), so the current decision of
a pregnancy and phase is the newest run that decided *it* — never simply the newest run. Shared by every use
case that reads "what is decided now" (dashboard, claims, distribution input, periods).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Subquery, and_, func, select

from integraal.store import tables


def latest_decisions(where: ColumnElement[bool]) -> Subquery:
    """``(pregnancy_id, phase, run_id)`` of the current decision of every phase of the pregnancies (rows of
    ``pregnancies``) that match ``where``."""
    p, d = tables.pregnancies, tables.phase_decisions
    return (
        select(d.c.pregnancy_id, d.c.phase, func.max(d.c.run_id).label("run_id"))
        .join(p, p.c.pregnancy_id == d.c.pregnancy_id)
        .where(where)
        .group_by(d.c.pregnancy_id, d.c.phase)
        .subquery("latest")
    )


def decision_of(latest: Subquery) -> ColumnElement[bool]:
    """Join condition: the stored phase decision behind each row of ``latest``."""
    d = tables.phase_decisions
    return and_(d.c.run_id == latest.c.run_id, d.c.pregnancy_id == latest.c.pregnancy_id, d.c.phase == latest.c.phase)


def claim_lines_of(latest: Subquery) -> ColumnElement[bool]:
    """Join condition: the claim lines of each row of ``latest``.

    ``run_id + 0`` keeps SQLite from reading claim lines through their ``(run_id, line_no)`` key, which scans a
    whole run's lines for every decision (minutes on a national year); the ``pregnancy_id`` index finds a phase's
    few lines directly. PostgreSQL plans it the same way without the hint; the result is identical.
    """
    c: Any = tables.claim_lines
    return and_(
        c.c.pregnancy_id == latest.c.pregnancy_id, c.c.phase == latest.c.phase, (c.c.run_id + 0) == latest.c.run_id
    )
