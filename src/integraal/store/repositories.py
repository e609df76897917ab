"""Reading the stored inputs of a decision back into domain objects (and activities as columns).

Activities are read as a Polars frame, not as one ORM object per row: a national year has millions.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import polars as pl
from sqlalchemy import Connection, select

from integraal.domain.catalogue import Catalogue
from integraal.domain.contract import Contract, ContractBook, OverlapPolicy, PartialPolicy
from integraal.domain.igo import Igo, MembershipPeriod, MembershipRegister
from integraal.domain.phase import Phase
from integraal.domain.pregnancy import EndReason, Pregnancy, ReferralStage
from integraal.domain.provider import Discipline, Provider
from integraal.rules.engine import DecisionContext, ReportedOverlap
from integraal.store import activity_blocks, tables
from integraal.store.bulk import in_values

ACTIVITY_SCHEMA = activity_blocks.SCHEMA


def load_context(
    connection: Connection, catalogue: Catalogue, pregnancy_ids: Sequence[str] | None = None
) -> DecisionContext:
    """Everything a decision needs besides the trajectory and its activities. With ``pregnancy_ids``, only
    their insurer-reported overlaps (a re-decision after a return file decides a few hundred women; the
    country's thousands of reports are not theirs)."""
    providers = {
        r.agb: Provider(r.agb, r.name, Discipline(r.discipline), r.city or "")
        for r in connection.execute(select(tables.providers))
    }
    igos = {r.igo_id: Igo(r.igo_id, r.agb, r.name) for r in connection.execute(select(tables.igos))}
    memberships = MembershipRegister(
        MembershipPeriod(r.igo_id, r.agb, r.start_date, r.end_date)
        for r in connection.execute(select(tables.memberships))
    )
    grouped: dict[str, list[tuple[str, int]]] = {}
    heads: dict[str, tuple[str, str, int, str | None, str | None]] = {}
    for r in connection.execute(select(tables.contracts).order_by(tables.contracts.c.contract_id)):
        grouped.setdefault(r.contract_id, []).append((r.prestatie_code, int(r.tariff_cents)))
        heads.setdefault(r.contract_id, (r.igo_id, r.uzovi, int(r.year), r.overlap_policy, r.partial_trajectory_policy))
    contracts = ContractBook(
        Contract(
            contract_id,
            head[0],
            head[1],
            head[2],
            dict(grouped[contract_id]),
            OverlapPolicy(head[3]) if head[3] else None,
            PartialPolicy(head[4]) if head[4] else None,
        )
        for contract_id, head in heads.items()
    )
    reported: dict[tuple[str, Phase], list[ReportedOverlap]] = {}
    o = tables.reported_overlaps
    overlaps = select(o).order_by(o.c.pregnancy_id, o.c.phase, o.c.line_id)
    if pregnancy_ids is not None:
        overlaps = overlaps.where(in_values(o.c.pregnancy_id, pregnancy_ids))
    for r in connection.execute(overlaps):
        reported.setdefault((r.pregnancy_id, Phase(r.phase)), []).append(ReportedOverlap(r.line_id, r.return_code))
    return DecisionContext(
        catalogue, providers, igos, memberships, contracts, {k: tuple(v) for k, v in reported.items()}
    )


def load_pregnancies(connection: Connection, pregnancy_ids: Sequence[str] | None = None) -> list[Pregnancy]:
    query = select(tables.pregnancies).order_by(tables.pregnancies.c.pregnancy_id)
    if pregnancy_ids is not None:
        query = query.where(in_values(tables.pregnancies.c.pregnancy_id, pregnancy_ids))
    return [
        Pregnancy(
            r.pregnancy_id,
            r.bsn,
            r.uzovi,
            r.igo_id,
            r.intake_date,
            r.due_date,
            r.labour_date,
            r.end_date,
            EndReason(r.end_reason) if r.end_reason else None,
            r.referral_date,
            ReferralStage(r.referral_stage) if r.referral_stage else None,
        )
        for r in connection.execute(query)
    ]


def load_pregnancies_of_bsn(connection: Connection, bsn: str) -> list[Pregnancy]:
    """Every trajectory of one woman (to match her activities that name no trajectory)."""
    ids = connection.execute(select(tables.pregnancies.c.pregnancy_id).where(tables.pregnancies.c.bsn == bsn)).scalars()
    return load_pregnancies(connection, list(ids))


def load_activities(connection: Connection, bsns: Sequence[str] | None = None) -> pl.DataFrame:
    """All activities as columns, or those of some women that name one of their trajectories or none.

    With ``bsns`` this is what deciding, explaining or dividing those women's trajectories needs: an activity
    naming a trajectory of another woman, or one that does not exist, is never decided with theirs. Their blocks
    are found through ``activity_block_keys`` (a re-decision after a 0587 reads a few hundred women's activities,
    not a national year's millions)."""
    if bsns is None:
        return activity_blocks.read_all(connection)
    p = tables.pregnancies
    theirs = connection.execute(select(p.c.pregnancy_id).where(in_values(p.c.bsn, bsns))).scalars().all()
    return activity_blocks.read_for(connection, theirs, bsns).filter(pl.col("bsn").is_in(list(bsns)))


def latest_decision_run(connection: Connection) -> tuple[int, date] | None:
    row = connection.execute(
        select(tables.decision_runs.c.run_id, tables.decision_runs.c.as_of)
        .order_by(tables.decision_runs.c.run_id.desc())
        .limit(1)
    ).first()
    return (int(row[0]), row[1]) if row else None
