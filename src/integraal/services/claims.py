"""Claims to insurers: batches from the bundle decisions, files out, return files in (issue 4).

The use cases of the *berichtenverkeer* (DOMAIN.md §4):

- :func:`build_batches` turns the latest decision of every pregnancy and phase whose declaration date falls in
  the claim period into claim lines, one batch per IGO × insurer. Nothing is claimed twice: a decided line
  that is already claimed (same prestatie, claimant, amount and dates) is left alone; one that *changed*
  since it was booked is corrected with a linked credit and a replacement debit; a rejected line is resent
  only when its data changed (the worklist shows the others).
- :func:`export_batch` writes a batch in a registered format (KZ301-style by default) and marks it sent;
  :func:`export_batches` a day's batches at once, in one transaction.
- :func:`apply_return` reads the insurer's return (KZ302-style), matches every line, applies the outcome and
  the next action of its return codes, all in one transaction (a bad file changes nothing; the same file
  twice changes nothing the second time; ``claim_returns`` records each file that answered lines, keyed by its
  SHA-256). Code 0587 on an integral line is a bundle breaker the IGO could not
  see: it is recorded and the pregnancy is decided again, which yields the members' separate claim lines.
  :func:`apply_returns` applies several files (each in its own transaction) and decides the pregnancies hit in
  any of them again once, after the last.
- :func:`worklist` groups what needs a person: rejected and reduced lines by return code and next action.

State changes follow ``claims.lifecycle`` and are kept in ``claim_transitions``; every write is audited. The
use cases that write take the ``claims`` lock of ``Database.unit_of_work``, so two runs at the same time (two
builds, the same return file twice) queue instead of interleaving; sent lines and batches are immutable in
the database (migration 0006).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import partial
from types import SimpleNamespace
from typing import Any

import polars as pl
from sqlalchemy import (
    BigInteger,
    Column,
    ColumnElement,
    Connection,
    Integer,
    MetaData,
    Select,
    String,
    Table,
    Text,
    bindparam,
    cast,
    func,
    insert,
    literal,
    literal_column,
    select,
    true,
    union_all,
    update,
)

from integraal.claims.batch import (
    LINE_SCHEMA,
    ClaimBatch,
    ClaimBatchLine,
    ReturnBatch,
    lines_from_frame,
    return_lines_frame,
)
from integraal.claims.formats import FormatError, get_format
from integraal.claims.formats.vektis_ei import read_return_frame, write_claim_frame
from integraal.claims.lifecycle import BOOKED_STATES, TRANSITIONS, ClaimState, IllegalTransitionError
from integraal.claims.returncodes import NextAction, return_code, return_codes
from integraal.services import audit
from integraal.services.access import (
    Action,
    NotFoundError,
    Principal,
    Role,
    pregnancy_scope,
    require,
)
from integraal.services.latest import claim_lines_of, decision_of, latest_decisions
from integraal.store import tables
from integraal.store.bulk import in_values, insert_frame, read_frame, refresh_statistics
from integraal.store.database import Database

SYSTEM_VIEW = Principal(None, "members", Role.SUPERUSER)
"""Reads a member's own lines across IGOs (its tenant is its AGB, not an IGO); never used to write."""

BUNDLE_BREAKER_CODE = "0587"
"""Already claimed or paid, also to another provider: on an integral line, a bundle breaker (DOMAIN.md §3)."""

_ACTIVE = (ClaimState.READY, ClaimState.SENT, *BOOKED_STATES)

CLAIM_FORMATS = ("kz301", "fhir-claim", "csv")
"""Formats a claim batch can be sent in."""
RETURN_FORMATS = ("kz302", "fhir-claimresponse", "csv-return")
"""Formats an insurer's return can be read from."""


def _check_format(fmt: str, allowed_formats: tuple[str, ...], what: str) -> None:
    if fmt not in allowed_formats:
        raise ClaimsError(f"{fmt!r} is not a {what} format; use one of {', '.join(allowed_formats)}")


class ClaimsError(ValueError):
    """A claims use case that cannot proceed; the message says why, and nothing was changed."""


BATCH_STATES = ("ready", "sent", "returned")
"""A batch's states, in order: built, its file made (handed on), its return file applied."""


@dataclass(frozen=True, slots=True)
class BatchSummary:
    batch_id: str
    igo_id: str
    uzovi: str
    period_start: date
    period_end: date
    lines: int
    credits: int
    total_cents: int
    state: str


@dataclass(slots=True)
class BuildResult:
    batches: list[BatchSummary] = field(default_factory=list)
    already_claimed: int = 0  # decided lines that are claimed as they are
    waiting: int = 0  # changed lines whose earlier claim is not answered yet (sent): corrected after the answer
    unchanged_rejections: int = 0  # decided lines equal to a rejected one: not resent (see the worklist)
    owed_redecided: list[str] = field(default_factory=list)  # decided again first: a 0587 an apply left owed
    files: dict[str, bytes] = field(default_factory=dict)  # built with ``send``: each batch's file, as sent


@dataclass(slots=True)
class ReturnSummary:
    batch_id: str
    accepted: int = 0
    partially_accepted: int = 0
    rejected: int = 0
    already_applied: int = 0
    awarded_cents: int = 0
    bundle_breakers: list[str] = field(default_factory=list)  # pregnancies decided again after 0587
    rerun_ids: list[int] = field(default_factory=list)
    owed_redecided: list[str] = field(default_factory=list)  # left undecided by an interrupted earlier return


@dataclass(frozen=True, slots=True)
class WorkItem:
    line_id: str
    batch_id: str
    pregnancy_id: str
    phase: str
    prestatie_code: str
    claimant_agb: str
    amount_cents: int
    awarded_cents: int | None
    state: str


@dataclass(frozen=True, slots=True)
class WorkGroup:
    """Lines that need the same action for the same reason."""

    return_code: str
    text_nl: str
    text_en: str
    next_action: str
    lines: list[WorkItem]

    @property
    def open_cents(self) -> int:
        return sum(i.amount_cents - (i.awarded_cents or 0) for i in self.lines)


# --- build --------------------------------------------------------------------------------------------------


_LINE_KEY = (
    "kind",
    "prestatie_code",
    "claimant_agb",
    "quantity_hundredths",
    "amount_cents",
    "service_start",
    "service_end",
)
"""What makes two claim lines the same claim (the id and the run do not)."""

_DESIRED_SCHEMA: dict[str, Any] = {
    "run_id": pl.Int64,
    "line_no": pl.Int64,
    "pregnancy_id": pl.String,
    "phase": pl.String,
    "kind": pl.String,
    "prestatie_code": pl.String,
    "claimant_agb": pl.String,
    "uzovi": pl.String,
    "quantity_hundredths": pl.Int64,
    "amount_cents": pl.Int64,
    "service_start": pl.Date,
    "service_end": pl.Date,
    "bsn": pl.String,
    "igo_id": pl.String,
    "ruleset_version": pl.String,
}

_ITEM_SCHEMA: dict[str, Any] = {
    "line_id": pl.String,
    "batch_id": pl.String,
    "run_id": pl.Int64,
    "decision_line_no": pl.Int64,
    "debit_credit": pl.String,
    "pregnancy_id": pl.String,
    "phase": pl.String,
    "kind": pl.String,
    "prestatie_code": pl.String,
    "claimant_agb": pl.String,
    "uzovi": pl.String,
    "bsn": pl.String,
    "service_start": pl.Date,
    "service_end": pl.Date,
    "quantity_hundredths": pl.Int64,
    "amount_cents": pl.Int64,
    "original_line_id": pl.String,
    "ruleset_version": pl.String,
    "state": pl.String,
    "attempt": pl.Int64,
}
"""The columns of ``claim_items`` a build writes (the answer columns stay empty)."""


_PLAN_COLUMNS = (
    "run_id",
    "line_no",
    "pregnancy_id",
    "phase",
    "uzovi",
    "amount_cents",
    "igo_id",
    "bsn",
    "ruleset_version",
)
"""What a build needs of the decided lines while nothing of them is claimed yet (the rest is copied in SQL)."""

_FILE_COLUMNS = ("prestatie_code", "service_start", "service_end", "quantity_hundredths")
"""What a build that sends its batches also needs of each new line for the files (:func:`build_batches`'
``send``), besides its BSN, amount and direction."""

LINE_ROWID = "line_rowid"
"""SQLite: a decided line's ``rowid``, read with it, so that copying it into ``claim_items`` finds it in one
search of the table instead of its key's index and then the table (a national year's build ≈0.25 s shorter).
PostgreSQL has no stable row number; there the copy joins on the key."""


def _latest_lines(
    connection: Connection,
    principal: Principal,
    start: date,
    end: date,
    include_mono: bool,
    columns: Sequence[str] = tuple(_DESIRED_SCHEMA),
) -> pl.DataFrame:
    """The claim lines of the latest decision of each pregnancy and phase, declared in [start, end], in the order
    of pregnancy, phase and line (the database's order, kept as the rows' order)."""
    p, d, c = tables.pregnancies, tables.phase_decisions, tables.claim_lines
    source = {name: c.c[name] for name in list(_DESIRED_SCHEMA)[:12]} | {
        "bsn": p.c.bsn,
        "igo_id": p.c.igo_id,
        "ruleset_version": d.c.ruleset_version,
        LINE_ROWID: literal_column(f"{c.name}.rowid", Integer),
    }

    def lines_of(pregnancies: ColumnElement[bool]) -> Select[Any]:
        latest = latest_decisions(pregnancy_scope(principal) & pregnancies)
        query = (
            select(*(source[name] for name in columns))
            .select_from(latest)
            .join(c, claim_lines_of(latest))
            .join(p, p.c.pregnancy_id == c.c.pregnancy_id)
            # A line of zero euros (a specialist's DBC whose fee is inside the hospital's) is not sent: it claims
            # nothing.
            .where(c.c.declaration_date >= start, c.c.declaration_date <= end, c.c.amount_cents != 0)
            .order_by(c.c.pregnancy_id, c.c.phase, c.c.line_no)
        )
        if "ruleset_version" in columns:  # every row of ``latest`` is a stored decision: joined only for this
            query = query.join(d, decision_of(latest))
        if not include_mono:
            query = query.where(c.c.kind == "integral")
        return query

    # Read in a separate process per range of pregnancies where big reads go to separate processes.
    schema = {name: pl.Int64 if name == LINE_ROWID else _DESIRED_SCHEMA[name] for name in columns}
    return read_frame(connection, lines_of(true()), schema, many=True, split=(p.c.pregnancy_id, lines_of))


def _claimed_items(connection: Connection, pregnancy_ids: pl.Series) -> pl.DataFrame:
    """Debit claim items of the given pregnancies, in any state, in line id order."""
    i = tables.claim_items
    schema = {k: v for k, v in _ITEM_SCHEMA.items() if k != "batch_id"}
    ids = pregnancy_ids.unique().sort().to_list()
    if not ids:
        return pl.DataFrame(schema=schema)
    query = select(*(i.c[name] for name in schema)).where(in_values(i.c.pregnancy_id, ids), i.c.debit_credit == "D")
    # Sorted here, not by the database: the line id is the key (a total order, byte order on every database), and
    # an unordered read is read column-wise (``read_frame``).
    return read_frame(connection, query, schema).sort("line_id")


@dataclass(frozen=True, slots=True)
class _Plan:
    items: pl.DataFrame  # new claim items (without batch and line id) with igo_id, in batch and line order
    closing: pl.DataFrame  # line_id of the originals a correction closes, in order
    already_claimed: int
    waiting: int
    unchanged_rejections: int


def _items(credits: pl.DataFrame, debits: pl.DataFrame) -> pl.DataFrame:
    """New items by IGO × insurer, phase by phase, credits before debits: where each comes from (a decided line,
    ``run_id`` and ``line_no``, or for a credit the claimed line ``source_line_id`` and its ``run_id``), its
    direction and amount. With the decided line's :data:`LINE_ROWID` where the decided lines have it, and the
    :data:`_FILE_COLUMNS` where both have them (a credit's BSN is then the claimed line's, else empty)."""
    rowid = [LINE_ROWID] if LINE_ROWID in debits.columns else []
    file = [name for name in _FILE_COLUMNS if name in debits.columns and name in credits.columns]
    debits = debits.select(
        "igo_id",
        "uzovi",
        "_phase",
        pl.lit(1).alias("_part"),
        "_n",
        "run_id",
        "line_no",
        pl.lit(None, dtype=pl.String).alias("source_line_id"),
        pl.lit("D").alias("debit_credit"),
        "amount_cents",
        "original_line_id",
        # The woman's and the decision's rule set, read with the decided line: no lookup of her pregnancy or of
        # the phase decision per line when it is copied.
        "bsn",
        "ruleset_version",
        *rowid,
        *file,
    )
    credits = credits.select(  # a credit copies the claimed line's (in SQL: these only for the files)
        *(name for name in credits.columns if name not in _FILE_COLUMNS and name != "bsn"),
        (pl.col("bsn") if file else pl.lit(None, dtype=pl.String)).alias("bsn"),
        pl.lit(None, dtype=pl.String).alias("ruleset_version"),
        *(pl.lit(None, dtype=pl.Int64).alias(name) for name in rowid),
        *file,
    )
    return (
        pl.concat([credits, debits], how="vertical_relaxed")
        .sort("igo_id", "uzovi", "_phase", "_part", "_n")
        .drop("_phase", "_part", "_n")
    )


def _plan(desired: pl.DataFrame, claimed: pl.DataFrame) -> _Plan:
    """What a build does, phase by phase, for every phase at once.

    Per phase: a decided line equal (``_LINE_KEY``) to an active claimed one is already claimed; else equal to a
    rejected one it stays on the worklist; else it is to do. Of several claimed lines with one key the last (in
    line id order) stands for the key. Active claimed lines no decided line matches are stale. A phase with a
    stale line still unanswered (ready, sent) waits. Otherwise stale lines are credited and closed, and with
    something to do so are the rejected lines nothing matched; the n-th new debit replaces the n-th closed line.
    New items go per IGO × insurer: phase by phase, each phase's credits before its debits.
    """
    key = list(_LINE_KEY)
    if claimed.height == 0:  # nothing claimed for these pregnancies yet: every decided line is new
        debits = desired.with_columns(
            pl.int_range(pl.len(), dtype=pl.Int64).alias("_phase"),  # the rows' order is phase order
            pl.lit(0, dtype=pl.Int64).alias("_n"),
            pl.lit(None, dtype=pl.String).alias("original_line_id"),
        )
        empty = debits.clear().select(
            "igo_id",
            "uzovi",
            "_phase",
            pl.lit(0).alias("_part"),
            "_n",
            "run_id",
            "line_no",
            pl.lit(None, dtype=pl.String).alias("source_line_id"),
            pl.lit("C").alias("debit_credit"),
            "amount_cents",
            "original_line_id",
            "bsn",
            *(name for name in _FILE_COLUMNS if name in debits.columns),
        )
        return _Plan(_items(empty, debits), pl.DataFrame(schema={"line_id": pl.String}), 0, 0, 0)
    phases = desired.with_columns(
        (
            pl.col("pregnancy_id").ne_missing(pl.col("pregnancy_id").shift(1))
            | pl.col("phase").ne_missing(pl.col("phase").shift(1))
        )
        .fill_null(True)
        .cast(pl.Int64)
        .cum_sum()
        .alias("_phase"),
        pl.int_range(pl.len(), dtype=pl.Int64).alias("_row"),
    )
    phase_ids = phases.group_by("pregnancy_id", "phase").agg(pl.col("_phase").first(), pl.col("igo_id").first())
    existing = claimed.with_row_index("_pos").join(phase_ids.drop("igo_id"), on=["pregnancy_id", "phase"], how="inner")

    def standing(states: list[str]) -> pl.DataFrame:
        """One claimed line per phase and key: the last one, at the place of the first."""
        rows = existing.filter(pl.col("state").is_in(states))
        return rows.group_by(["_phase", *key]).agg(
            pl.col("_pos").min().alias("_first"), pl.all().exclude("_pos").last()
        )

    active = standing([s.value for s in _ACTIVE])
    rejected = standing([ClaimState.REJECTED.value])
    counted = phases.with_columns(pl.int_range(pl.len()).over(["_phase", *key]).alias("_occurrence"))
    matches = counted.group_by(["_phase", *key]).agg(pl.len().alias("_decided"))
    counted = counted.join(
        active.select("_phase", *key, pl.lit(1).alias("_active")),
        on=["_phase", *key],
        how="left",
        maintain_order="left",
    ).join(
        rejected.select("_phase", *key, pl.lit(1).alias("_rejected")),
        on=["_phase", *key],
        how="left",
        maintain_order="left",
    )
    a, r = pl.col("_active").fill_null(0), pl.col("_rejected").fill_null(0)
    counted = counted.with_columns(
        pl.when(pl.col("_occurrence") < a)
        .then(pl.lit("claimed"))
        .when(pl.col("_occurrence") < a + r)
        .then(pl.lit("unchanged"))
        .otherwise(pl.lit("todo"))
        .alias("_status")
    )
    stale = active.join(matches, on=["_phase", *key], how="anti")
    left_rejected = (
        rejected.join(matches, on=["_phase", *key], how="left")
        .join(active.select("_phase", *key, pl.lit(1).alias("_active")), on=["_phase", *key], how="left")
        .filter(pl.col("_decided").fill_null(0) <= pl.col("_active").fill_null(0))
        .drop("_decided", "_active")
    )
    todo = counted.filter(pl.col("_status") == "todo")
    waiting = stale.filter(pl.col("state").is_in([ClaimState.READY.value, ClaimState.SENT.value]))["_phase"].unique()
    with_todo = todo["_phase"].unique()
    going = (
        pl.concat([with_todo.to_frame(), stale.select("_phase")])
        .unique()
        .filter(~pl.col("_phase").is_in(waiting.implode()))
    )
    replaced = (
        pl.concat(
            [
                stale.with_columns(pl.lit(0).alias("_part")),
                left_rejected.filter(pl.col("_phase").is_in(with_todo.implode())).with_columns(
                    pl.lit(1).alias("_part")
                ),
            ]
        )
        .filter(pl.col("_phase").is_in(going["_phase"].implode()))
        .sort("_phase", "_part", "_first")
        .with_columns(pl.int_range(pl.len()).over("_phase").alias("_n"))
        .join(phase_ids.select("_phase", "igo_id"), on="_phase", how="left")
    )
    credits = replaced.filter(pl.col("state") != ClaimState.REJECTED.value).select(
        "igo_id",
        "uzovi",
        "_phase",
        pl.lit(0).alias("_part"),
        "_n",
        "run_id",  # the run of the line it takes back (its first history row names it)
        pl.lit(None, dtype=pl.Int64).alias("line_no"),
        pl.col("line_id").alias("source_line_id"),
        pl.lit("C").alias("debit_credit"),
        "amount_cents",
        pl.col("line_id").alias("original_line_id"),
        "bsn",
        *_FILE_COLUMNS,
    )
    debits = (
        todo.filter(pl.col("_phase").is_in(going["_phase"].implode()))
        .with_columns(pl.int_range(pl.len()).over("_phase").alias("_n"))
        .join(
            replaced.select("_phase", "_n", pl.col("line_id").alias("original_line_id")),
            on=["_phase", "_n"],
            how="left",
        )
    )
    items = _items(credits, debits)
    return _Plan(
        items=items,
        closing=replaced.select("line_id"),
        already_claimed=int((counted["_status"] == "claimed").sum()),
        waiting=waiting.len(),
        unchanged_rejections=int((counted["_status"] == "unchanged").sum()),
    )


def _next_batch_number(connection: Connection) -> int:
    last = connection.execute(select(func.max(tables.claim_batches.c.batch_id))).scalar()
    return int(last[1:]) + 1 if last else 1


_NEW = Table(
    "claim_new_items",
    MetaData(),
    Column("seq", Integer, primary_key=True),  # the plan's order: numbered 1, 2, … by the database as written
    Column("line_id", String(20), nullable=False),
    Column("batch_id", String(12), nullable=False),
    Column("run_id", Integer, nullable=True),
    Column("line_no", Integer, nullable=True),
    Column("source_line_id", String(20), nullable=True),
    Column("original_line_id", String(20), nullable=True),
    Column("bsn", String(9), nullable=True),
    Column("ruleset_version", String(40), nullable=True),
    Column(LINE_ROWID, Integer, nullable=True),
    prefixes=["TEMPORARY"],
)
"""Scratch table (per connection, dropped before the transaction ends): which new item comes from where."""


def _insert_items(
    connection: Connection,
    items: pl.DataFrame,
    at: datetime,
    actor: str,
    sent_note: str | None = None,
    copying: Callable[[], object] | None = None,
) -> None:
    """Insert the planned items, in ``seq`` order, copying every field in SQL from the decided line (a debit) or
    the claimed line it takes back (a credit), with their first history row. Only what the plan read with the
    decided line travels through Python (the woman's BSN and the decision's rule set: a lookup per line each).

    ``sent_note``: the items are sent as they are made: stored ``sent``, with a second history row each
    (``ready → sent``, this note), as if marked sent right after (no update of every line). ``copying`` is called
    when the rows are handed over and the database's own work begins (the copy and the history, without the
    interpreter): work for a second thread starts there, not while the rows are bound."""
    state = ClaimState.READY if sent_note is None else ClaimState.SENT
    n, c, i = _NEW, tables.claim_lines, tables.claim_items
    _NEW.create(connection)  # inside the transaction: a rollback takes it away with everything else
    insert_frame(connection, n, items.select(col.name for col in n.columns if col.name in items.columns))
    if copying is not None:
        copying()
    if LINE_ROWID in items.columns:  # SQLite: the decided line by its row number (``LINE_ROWID``)
        decided = literal_column(f"{c.name}.rowid", Integer) == n.c[LINE_ROWID]
    else:
        decided = (c.c.run_id == n.c.run_id) & (c.c.line_no == n.c.line_no)
    debits = (
        select(
            n.c.seq,
            n.c.line_id,
            n.c.batch_id,
            c.c.run_id,
            c.c.line_no,
            literal("D", String),
            c.c.pregnancy_id,
            c.c.phase,
            c.c.kind,
            c.c.prestatie_code,
            c.c.claimant_agb,
            c.c.uzovi,
            n.c.bsn,
            c.c.service_start,
            c.c.service_end,
            c.c.quantity_hundredths,
            c.c.amount_cents,
            n.c.original_line_id,
            n.c.ruleset_version,
            literal(state.value, String),
            literal(0, Integer),
        )
        .select_from(n)
        .join(c, decided)
        .where(n.c.source_line_id.is_(None))
    )
    e = i.alias("taken_back")
    credits = (
        select(
            n.c.seq,
            n.c.line_id,
            n.c.batch_id,
            e.c.run_id,
            e.c.decision_line_no,
            literal("C", String),
            e.c.pregnancy_id,
            e.c.phase,
            e.c.kind,
            e.c.prestatie_code,
            e.c.claimant_agb,
            e.c.uzovi,
            e.c.bsn,
            e.c.service_start,
            e.c.service_end,
            e.c.quantity_hundredths,
            e.c.amount_cents,
            e.c.line_id,
            e.c.ruleset_version,
            literal(state.value, String),
            e.c.attempt,
        )
        .select_from(n)
        .join(e, e.c.line_id == n.c.source_line_id)
    )
    if items["source_line_id"].is_null().all():  # nothing taken back (a first claim): no union to sort by seq
        # ``seq`` is the scratch table's rowid, so SQLite reads it in order without sorting 474,277 rows again.
        rows = debits.with_only_columns(*debits.selected_columns[1:]).order_by(n.c.seq)
    else:
        both = union_all(debits, credits).subquery("new_items")
        rows = select(*list(both.c)[1:]).order_by(both.c.seq)
    connection.execute(insert(i).from_select(list(_ITEM_SCHEMA), rows))
    note = literal("claimed from decision run ") + cast(n.c.run_id, String)  # every new item's run is in the scratch
    _record_transitions_of(
        connection,
        select(n.c.line_id, literal(None, String), literal(ClaimState.READY.value), note).order_by(n.c.seq),
        at,
        actor,
    )
    if sent_note is not None:  # ``seq`` order is batch and line order (``build_batches`` numbers them so)
        sent = (literal(ClaimState.READY.value), literal(ClaimState.SENT.value), literal(sent_note))
        _record_transitions_of(connection, select(n.c.line_id, *sent).order_by(n.c.seq), at, actor)
    _NEW.drop(connection)
    refresh_statistics(connection, i, items.height)
    refresh_statistics(connection, tables.claim_transitions, items.height * (1 if sent_note is None else 2))


def build_batches(
    db: Database,
    principal: Principal,
    *,
    period_start: date,
    period_end: date,
    include_mono: bool = True,
    creation_date: date | None = None,
    at: datetime | None = None,
    send: str | None = None,
) -> BuildResult:
    """Claim batches for the period, one per IGO × insurer, in state ``ready``.

    ``include_mono``: the IGO also claims the members' monodisciplinary lines of fallback phases on their
    behalf (as configured per IGO); without it only integral lines are batched.

    ``send``: a claim file format (:data:`CLAIM_FORMATS`): the batches are sent in it as they are built, in the
    same transaction (``result.files``), with the same files, lines, history and audit as :func:`export_batches`
    right after the build. For a back office that sends what it builds: no stop in ``ready``, so no update of
    every line, and the files are written from the lines the build has in hand while the database stores them.
    A file that cannot be written builds nothing.

    A re-decision that an interrupted return application still owes (a 0587, migration 0008) is made first, so
    the batches claim what the insurer's report decided (``owed_redecided``).
    """
    require(principal, Action.MANAGE_CLAIMS)
    if period_end < period_start:
        raise ClaimsError("the claim period ends before it starts")
    if send is not None:
        _check_format(send, CLAIM_FORMATS, "claim file")
    at = at or datetime.now(UTC)
    creation_date = creation_date or at.date()
    result = BuildResult()
    result.owed_redecided, _ = _decide_owed(db, principal, at.date())
    with db.unit_of_work(lock="claims") as connection:
        rowid = (LINE_ROWID,) if connection.dialect.name == "sqlite" else ()
        file = _FILE_COLUMNS if send is not None else ()
        desired = _latest_lines(
            connection, principal, period_start, period_end, include_mono, (*_PLAN_COLUMNS, *file, *rowid)
        )
        claimed = _claimed_items(connection, desired["pregnancy_id"])
        if claimed.height:  # matching claimed lines needs every field of the decided ones
            desired = _latest_lines(
                connection, principal, period_start, period_end, include_mono, (*_DESIRED_SCHEMA, *rowid)
            )
        plan = _plan(desired, claimed)
        result.already_claimed = plan.already_claimed
        result.waiting = plan.waiting
        result.unchanged_rejections = plan.unchanged_rejections

        number = _next_batch_number(connection)
        igo_agb = dict(connection.execute(select(tables.igos.c.igo_id, tables.igos.c.agb)).all())
        signed = pl.when(pl.col("debit_credit") == "C").then(-pl.col("amount_cents")).otherwise(pl.col("amount_cents"))
        batches = (
            plan.items.group_by("igo_id", "uzovi", maintain_order=True)
            .agg(
                pl.len().alias("lines"),
                (pl.col("debit_credit") == "C").sum().alias("credits"),
                signed.sum().alias("total"),
            )
            .with_columns(
                pl.concat_str(
                    pl.lit("B"),
                    (pl.int_range(pl.len(), dtype=pl.Int64) + number).cast(pl.String).str.pad_start(7, "0"),
                ).alias("batch_id")
            )
        )
        items = plan.items.join(
            batches.select("igo_id", "uzovi", "batch_id"), on=["igo_id", "uzovi"], how="left", maintain_order="left"
        )
        items = items.with_columns(
            pl.concat_str(
                pl.col("batch_id"),
                pl.lit("-"),
                (pl.int_range(1, pl.len() + 1, dtype=pl.Int64).over("batch_id")).cast(pl.String).str.pad_start(5, "0"),
            ).alias("line_id"),
        )
        summaries = list(batches.iter_rows(named=True))
        stored = [
            {
                "batch_id": b["batch_id"],
                "igo_id": b["igo_id"],
                "uzovi": b["uzovi"],
                "sender_agb": igo_agb.get(b["igo_id"], ""),
                "period_start": period_start,
                "period_end": period_end,
                "creation_date": creation_date,
                "created_at": at,
                "actor": principal.username,
                "state": "ready",
                "lines": b["lines"],
                "total_cents": b["total"],
            }
            for b in summaries
        ]
        stored_rows = [SimpleNamespace(**b) for b in stored]  # by name, as read rows are: headers and sent marks
        writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="integraal-claim-write")
        written: list[Future[dict[str, bytes]]] = []  # the files, once the copy has begun

        def start_writing() -> None:
            """The files, from the lines in hand, beside the database's copy of them (not while rows are bound)."""
            if send is not None:
                headers = {row.batch_id: _header_of(row) for row in stored_rows}
                written.append(writer.submit(_write_files, send, headers, items))

        try:
            if summaries:
                connection.execute(insert(tables.claim_batches), stored)
                sent_note = None if send is None else f"sent in {send} file"
                _insert_items(connection, items, at, principal.username, sent_note, start_writing)
            for b in summaries:
                audit.record(
                    connection,
                    principal.username,
                    "build_claims",
                    "claim_batch",
                    b["batch_id"],
                    igo_ids=[b["igo_id"]],
                    uzovi=b["uzovi"],
                    lines=b["lines"],
                    credits=b["credits"],
                    total_cents=b["total"],
                    period=f"{period_start.isoformat()}/{period_end.isoformat()}",
                )
                result.batches.append(
                    BatchSummary(
                        b["batch_id"],
                        b["igo_id"],
                        b["uzovi"],
                        period_start,
                        period_end,
                        b["lines"],
                        b["credits"],
                        b["total"],
                        "ready" if send is None else "sent",
                    )
                )
            _move(
                connection,
                plan.closing.with_columns(
                    pl.lit(ClaimState.CORRECTED.value).alias("to_state"),
                    pl.lit("corrected: the decision changed").alias("note"),
                ),
                at,
                principal.username,
            )
            result.files = written[0].result() if written else {}
        except Exception:
            for future in written:
                future.result()  # a file that cannot be written is the error, as when written first
            raise
        finally:
            writer.shutdown(cancel_futures=True)
        if send is not None:
            _mark_batches_sent(connection, principal, stored_rows, result.files, send, at)
    return result


def _write_files(fmt: str, headers: dict[str, ClaimBatch], items: pl.DataFrame) -> dict[str, bytes]:
    """Each batch's file in ``fmt``, from the new items (with their :data:`_FILE_COLUMNS`), as
    :func:`export_batches` writes the stored lines (:func:`_file_lines`)."""
    lines = _file_lines(
        items.select("batch_id", *(pl.col(name).cast(dtype) for name, dtype in _BATCH_LINE_SCHEMA.items()))
    )
    return {
        batch_id: _write_file(fmt, header, lines.get(batch_id, _no_lines())) for batch_id, header in headers.items()
    }


def _write_file(fmt: str, header: ClaimBatch, lines: pl.DataFrame) -> bytes:
    """The batch ``header`` with ``lines`` (``claims.batch.LINE_SCHEMA``) as a file in ``fmt``: KZ301 column by
    column, any other format from the lines as objects."""
    if fmt == "kz301":
        return write_claim_frame(header, lines)
    return get_format(fmt).write(replace(header, lines=lines_from_frame(lines)))


def _credit_of(e: Any) -> dict[str, Any]:
    """The credit that takes back booked line ``e`` exactly (same cents, other direction)."""
    item = {
        name: getattr(e, name)
        for name in (
            "run_id",
            "decision_line_no",
            "pregnancy_id",
            "phase",
            "kind",
            "prestatie_code",
            "claimant_agb",
            "uzovi",
            "bsn",
            "service_start",
            "service_end",
            "quantity_hundredths",
            "amount_cents",
            "ruleset_version",
        )
    }
    return item | {
        "debit_credit": "C",
        "original_line_id": e.line_id,
        "state": ClaimState.READY.value,
        "attempt": e.attempt,
    }


def _record_transitions(
    connection: Connection, steps: Sequence[tuple[str, ClaimState | None, ClaimState, str]], at: datetime, actor: str
) -> None:
    if steps:
        connection.execute(
            insert(tables.claim_transitions),
            [
                {
                    "line_id": line_id,
                    "from_state": before.value if before else None,
                    "to_state": after.value,
                    "at": at,
                    "actor": actor,
                    "note": note,
                }
                for line_id, before, after, note in steps
            ],
        )


def _record_transitions_of(connection: Connection, steps: Select[Any], at: datetime, actor: str) -> None:
    """History rows for every row of ``steps`` (line id, from state, to state, note), in its order, set-based."""
    t = tables.claim_transitions
    connection.execute(
        insert(t).from_select(
            ["line_id", "from_state", "to_state", "note", "at", "actor"],
            steps.add_columns(
                bindparam("transition_at", at, type_=t.c.at.type),
                bindparam("transition_actor", actor, type_=t.c.actor.type),
            ),
        )
    )


_scratch = MetaData()
_MOVES = Table(
    "claim_moves",
    _scratch,
    Column("seq", Integer, primary_key=True),  # the moves' order: numbered 1, 2, … by the database as written
    Column("line_id", String(20), nullable=False),
    Column("to_state", String(20), nullable=False),
    Column("note", Text, nullable=True),  # none: the caller's ``note`` expression makes it
    Column("awarded_cents", BigInteger, nullable=True),
    Column("return_codes", String(60), nullable=True),
    Column("next_action", String(20), nullable=True),
    Column("state", String(20), nullable=True),  # the line's state before, when the caller read it
    prefixes=["TEMPORARY"],
)
"""Scratch table (per connection, dropped before the transaction ends) that carries a set of moves into SQL."""


def _move(
    connection: Connection,
    moves: Sequence[tuple[str, ClaimState, str]] | pl.DataFrame,
    at: datetime,
    actor: str,
    *,
    answers: bool = False,
    note: ColumnElement[str] | None = None,
) -> None:
    """Move lines (``line_id``, ``to_state``, ``note``; ``state`` if the caller read it) to new states, each step
    checked against the lifecycle table, with one history row each in the given order; set-based. ``answers``: the
    frame also holds the insurer's answer (``awarded_cents``, ``return_codes``, ``next_action``), written with it.
    ``note``: the history's note made in SQL from the scratch table's columns (``_MOVES``), not passed per line.

    What is the same on every line (the state a return's lines were in: sent) is written as a constant, not
    handed over line by line."""
    if not isinstance(moves, pl.DataFrame):
        moves = pl.DataFrame(
            [(line_id, to.value, note) for line_id, to, note in moves],
            schema={"line_id": pl.String, "to_state": pl.String, "note": pl.String},
            orient="row",
        )
    if moves.height == 0:
        return
    i, m = tables.claim_items, _MOVES
    # Created and dropped inside the transaction: a rollback (any error below) takes it away with everything else.
    _MOVES.create(connection)
    # Numbered as the database numbers the rows of the new table (SQLite's rowid, PostgreSQL's serial): 1, 2, …
    frame = moves.with_columns(pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("seq"))
    known = "state" in moves.columns
    same_state = moves["state"][0] if known and moves["state"].n_unique() == 1 else None
    left_out = {"seq"} | ({"state"} if same_state is not None else set()) | ({"note"} if note is not None else set())
    passed = [c.name for c in m.columns if c.name in frame.columns and c.name not in left_out]
    insert_frame(connection, m, frame.select(passed))
    if known:  # the caller read the current states in this transaction
        current = frame.select("seq", "state")
        frame = frame.drop("state")
    else:
        current = read_frame(
            connection,
            select(m.c.seq, i.c.state).join(i, i.c.line_id == m.c.line_id),
            {"seq": pl.Int64, "state": pl.String},
        )
    allowed = pl.DataFrame(
        [(a.value, b.value) for a, targets in TRANSITIONS.items() for b in targets],
        schema={"state": pl.String, "to_state": pl.String},
        orient="row",
    )
    steps = frame.join(current, on="seq", how="left").sort("seq")
    illegal = steps.join(allowed.with_columns(pl.lit(True).alias("_ok")), on=["state", "to_state"], how="left")
    illegal = illegal.filter(pl.col("_ok").is_null()).sort("seq")
    if illegal.height:
        first = illegal.row(0, named=True)
        if first["state"] is None:
            raise KeyError(first["line_id"])
        raise IllegalTransitionError(first["line_id"], ClaimState(first["state"]), ClaimState(first["to_state"]))
    noted = m.c.note if note is None else note
    if same_state is not None:  # one state before: a constant
        history = select(m.c.line_id, literal(same_state, String), m.c.to_state, noted).select_from(m)
    elif known:  # the states the caller read travel with the moves: no lookup of every line for its history row
        history = select(m.c.line_id, m.c.state, m.c.to_state, noted).select_from(m)
    else:
        history = select(m.c.line_id, i.c.state, m.c.to_state, noted).join(i, i.c.line_id == m.c.line_id)
    _record_transitions_of(connection, history.order_by(m.c.seq), at, actor)
    values: dict[str, Any] = {"state": m.c.to_state}
    if answers:
        values |= {"awarded_cents": m.c.awarded_cents, "return_codes": m.c.return_codes, "next_action": m.c.next_action}
    connection.execute(update(i).values(values).where(i.c.line_id == m.c.line_id))
    _MOVES.drop(connection)


def resubmit(
    db: Database, principal: Principal, line_ids: Sequence[str], *, at: datetime | None = None
) -> list[BatchSummary]:
    """Send rejected lines again, unchanged (after the cause was fixed elsewhere, e.g. the insurer corrected the
    insurance record): each gets a replacement debit linked to it in a new batch, and is closed as corrected."""
    require(principal, Action.MANAGE_CLAIMS)
    at = at or datetime.now(UTC)
    i, b = tables.claim_items, tables.claim_batches
    summaries = []
    with db.unit_of_work(lock="claims") as connection:
        rows = list(
            connection.execute(
                select(i, b.c.igo_id, b.c.sender_agb, b.c.period_start, b.c.period_end)
                .join(b, b.c.batch_id == i.c.batch_id)
                .where(in_values(i.c.line_id, line_ids), _batch_scope(principal))
                .order_by(i.c.line_id)
            )
        )
        found = {r.line_id for r in rows}
        missing = [line_id for line_id in line_ids if line_id not in found]
        if missing:
            raise NotFoundError("claim line", missing[0])
        not_rejected = [r.line_id for r in rows if r.state != ClaimState.REJECTED]
        if not_rejected:
            raise ClaimsError(f"only rejected lines can be sent again; not rejected: {', '.join(not_rejected[:5])}")
        groups: dict[tuple[str, str], list[Any]] = defaultdict(list)
        for r in rows:
            groups[(r.igo_id, r.uzovi)].append(r)
        number = _next_batch_number(connection)
        for (igo_id, uzovi), group in sorted(groups.items()):
            batch_id = f"B{number:07d}"
            number += 1
            items = []
            for n, r in enumerate(group, start=1):
                copy = _credit_of(r) | {"debit_credit": "D", "original_line_id": r.line_id, "attempt": r.attempt + 1}
                items.append(copy | {"line_id": f"{batch_id}-{n:05d}", "batch_id": batch_id})
            total = sum(int(r.amount_cents) for r in group)
            start, end = min(r.period_start for r in group), max(r.period_end for r in group)
            connection.execute(
                insert(b).values(
                    batch_id=batch_id,
                    igo_id=igo_id,
                    uzovi=uzovi,
                    sender_agb=group[0].sender_agb,
                    period_start=start,
                    period_end=end,
                    creation_date=at.date(),
                    created_at=at,
                    actor=principal.username,
                    state="ready",
                    lines=len(items),
                    total_cents=total,
                )
            )
            connection.execute(insert(i), items)
            _record_transitions(
                connection,
                [(it["line_id"], None, ClaimState.READY, f"resent: {it['original_line_id']}") for it in items],
                at,
                principal.username,
            )
            _move(
                connection,
                [(r.line_id, ClaimState.CORRECTED, f"resent in {batch_id}") for r in group],
                at,
                principal.username,
            )
            audit.record(
                connection,
                principal.username,
                "resubmit_claims",
                "claim_batch",
                batch_id,
                igo_ids=[igo_id],
                lines=[r.line_id for r in group],
                total_cents=total,
            )
            summaries.append(
                BatchSummary(
                    batch_id,
                    igo_id,
                    uzovi,
                    items[0]["service_start"],
                    items[0]["service_end"],
                    len(items),
                    0,
                    total,
                    "ready",
                )
            )
    return summaries


# --- export ---------------------------------------------------------------------------------------------------


def _batch_row(connection: Connection, principal: Principal, batch_id: str) -> Any:
    b = tables.claim_batches
    row = connection.execute(select(b).where(b.c.batch_id == batch_id)).first()
    if row is None or not _may_see_batch(principal, row):
        raise NotFoundError("claim batch", batch_id)
    return row


def _may_see_batch(principal: Principal, row: Any) -> bool:
    if principal.role is Role.SUPERUSER:
        return True
    if principal.role in (Role.IGO_ADMIN, Role.IGO_BOARD):
        return bool(row.igo_id == principal.igo_id)
    if principal.role is Role.INSURER:
        return bool(row.uzovi == principal.uzovi)
    return False


_BATCH_LINE_SCHEMA: dict[str, Any] = {k: v for k, v in LINE_SCHEMA.items() if k not in ("birth_date", "comments")}
"""What a batch's lines read from ``claim_items``; birth date and comments are added from elsewhere."""


def _header_of(row: Any) -> ClaimBatch:
    return ClaimBatch(
        sender_agb=row.sender_agb,
        receiver_uzovi=row.uzovi,
        batch_id=row.batch_id,
        creation_date=row.creation_date,
        period_start=row.period_start,
        period_end=row.period_end,
        lines=(),
    )


MANY_LINES = 100_000
"""Batches with at least this many lines together are read in separate processes (``read_frame(many=True)``:
starting them costs ≈0.3 s, a few batches' lines are read faster here)."""


def _no_lines() -> pl.DataFrame:
    return pl.DataFrame(schema=LINE_SCHEMA)


def _lines_of_batches(connection: Connection, batch_ids: Sequence[str], lines: int = 0) -> dict[str, pl.DataFrame]:
    """The stored lines of each batch as the formats write them (:func:`_file_lines`), read together; ``lines``:
    how many are expected."""
    i = tables.claim_items
    schema = {"batch_id": pl.String, **_BATCH_LINE_SCHEMA}
    query = select(*(i.c[name] for name in schema)).where(in_values(i.c.batch_id, batch_ids))
    return _file_lines(read_frame(connection, query, schema, many=lines >= MANY_LINES))


def _file_lines(frame: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """Claim lines (``batch_id`` and :data:`_BATCH_LINE_SCHEMA`) as each batch's file lines
    (``claims.batch.LINE_SCHEMA``), by BSN and line id.

    Sorted here, not by the database: the line id is the key, so the order is total and the same on every
    database (byte order), and an unordered read is read column-wise (three times faster)."""
    frame = frame.sort("batch_id", "bsn", "line_id").with_columns(
        pl.lit(None, dtype=pl.Date).alias("birth_date"), pl.lit([], dtype=pl.List(pl.String)).alias("comments")
    )
    frame = frame.select("batch_id", *LINE_SCHEMA)
    return {key[0]: part for key, part in frame.partition_by("batch_id", as_dict=True, include_key=False).items()}


def export_batch(
    db: Database, principal: Principal, batch_id: str, fmt: str = "kz301", *, at: datetime | None = None
) -> bytes:
    """The batch as a file in format ``fmt``; a batch still ``ready`` becomes ``sent`` (its lines too).

    Exporting a sent batch again gives the same lines (a resend), without changing any state.
    """
    return export_batches(db, principal, [batch_id], fmt, at=at)[batch_id]


def export_batches(
    db: Database, principal: Principal, batch_ids: Sequence[str], fmt: str = "kz301", *, at: datetime | None = None
) -> dict[str, bytes]:
    """Each batch as a file in format ``fmt`` (as :func:`export_batch`), in one transaction: the batches still
    ``ready`` become ``sent`` together, or none does (a file that cannot be written sends nothing).

    Set-based for a day's batches: their lines are read in one query and marked sent in one statement, while a
    second thread writes the files (the formats let go of the interpreter, as the database does)."""
    require(principal, Action.MANAGE_CLAIMS)
    _check_format(fmt, CLAIM_FORMATS, "claim file")
    at = at or datetime.now(UTC)
    ids = list(dict.fromkeys(batch_ids))
    if not ids:
        return {}
    with db.unit_of_work(lock="claims") as connection:
        rows = {batch_id: _batch_row(connection, principal, batch_id) for batch_id in ids}
        lines = _lines_of_batches(connection, ids, sum(row.lines for row in rows.values()))
        writes: dict[str, Callable[[], bytes]] = {
            batch_id: partial(_write_file, fmt, _header_of(row), lines.pop(batch_id, _no_lines()))
            for batch_id, row in rows.items()
        }
        ready = [batch_id for batch_id, row in rows.items() if row.state == "ready"]
        if not ready:  # resends only: nothing changes
            return {batch_id: write() for batch_id, write in writes.items()}
        # The files are written in a second thread while the database marks the lines sent.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="integraal-claim-write") as writer:
            written = {batch_id: writer.submit(write) for batch_id, write in writes.items()}
            try:
                _send_lines(connection, ready, f"sent in {fmt} file", at, principal.username)
            except Exception:
                for future in written.values():
                    future.result()  # a file that cannot be written is the error, as when written first
                raise
            data = {batch_id: future.result() for batch_id, future in written.items()}
        _mark_batches_sent(connection, principal, [rows[batch_id] for batch_id in ready], data, fmt, at)
    return data


def _mark_batches_sent(
    connection: Connection,
    principal: Principal,
    batches: Sequence[Any],
    files: dict[str, bytes],
    fmt: str,
    at: datetime,
) -> None:
    """Each batch (a ``claim_batches`` row, or its values by name) ``sent`` in ``fmt`` with its file's SHA-256,
    audited (its lines are sent by the caller)."""
    b = tables.claim_batches
    for row in batches:
        sha = hashlib.sha256(files[row.batch_id]).hexdigest()
        connection.execute(
            update(b).where(b.c.batch_id == row.batch_id).values(state="sent", format=fmt, file_sha256=sha, sent_at=at)
        )
        audit.record(
            connection,
            principal.username,
            "send_claims",
            "claim_batch",
            row.batch_id,
            igo_ids=[row.igo_id],
            format=fmt,
            sha256=sha,
            lines=row.lines,
            total_cents=row.total_cents,
        )


def _send_lines(connection: Connection, batch_ids: Sequence[str], note: str, at: datetime, actor: str) -> None:
    """Every line of the batches ``ready → sent``, checked against the lifecycle table, with its history row
    (batch after batch, in line order)."""
    i = tables.claim_items
    theirs = in_values(i.c.batch_id, batch_ids)
    sendable = [state.value for state, targets in TRANSITIONS.items() if ClaimState.SENT in targets]
    order = (i.c.batch_id, func.length(i.c.line_id), i.c.line_id)
    not_sendable = connection.execute(
        select(i.c.line_id, i.c.state).where(theirs, i.c.state.not_in(sendable)).order_by(*order).limit(1)
    ).first()
    if not_sendable is not None:
        raise IllegalTransitionError(not_sendable.line_id, ClaimState(not_sendable.state), ClaimState.SENT)
    _record_transitions_of(
        connection,
        select(i.c.line_id, i.c.state, literal(ClaimState.SENT.value), literal(note)).where(theirs).order_by(*order),
        at,
        actor,
    )
    connection.execute(update(i).where(theirs).values(state=ClaimState.SENT.value))


# --- returns --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _ReadReturn:
    """A return file read, with everything that follows from the file alone (no database): made in the reading
    thread while the one before is applied (:func:`apply_returns`)."""

    returned: ReturnBatch  # the header (no lines)
    lines: pl.DataFrame  # ``claims.batch.RETURN_SCHEMA`` and the answer per line (``_answers``)
    sha256: str  # the file's identity (``claim_returns.file_sha256``)


def _read_return(data: bytes, fmt: str) -> _ReadReturn:
    """The return's header, its lines as a frame (``claims.batch.RETURN_SCHEMA``; KZ302 column by column) with
    what each answer means (``_answers``), and the file's SHA-256."""
    if fmt == "kz302":
        returned, lines = read_return_frame(data)
    else:
        whole: ReturnBatch = get_format(fmt).read(data)
        returned, lines = replace(whole, lines=()), return_lines_frame(whole.lines)
    return _ReadReturn(returned, _answers(lines), hashlib.sha256(data).hexdigest())


def _answers(lines: pl.DataFrame) -> pl.DataFrame:
    """Per line of a return: its codes (``_codes``: the insured's, then the line's), whether one is not in the
    COD954 list (``_strange``) or is the bundle breaker's (``_breaks``), and the move it asks for if the line is
    still sent: ``to_state`` (``ReturnLine.outcome()``), ``return_codes`` (joined) and ``next_action``."""
    known = return_codes()
    claimed = pl.when(pl.col("debit_credit") == "C").then(-pl.col("amount_cents")).otherwise(pl.col("amount_cents"))
    awarded = pl.col("awarded_cents")
    codes = pl.concat_list("insured_return_codes", "return_codes")
    answered = (
        lines.with_columns(codes.alias("_codes"))
        .with_columns(
            pl.col("_codes").list.eval(~pl.element().is_in(list(known))).list.any().alias("_strange"),
            pl.col("_codes").list.contains(BUNDLE_BREAKER_CODE).alias("_breaks"),
            # ReturnLine.outcome(), for every line at once.
            pl.when((awarded == 0) & ((claimed != 0) | (pl.col("_codes").list.len() > 0)))
            .then(pl.lit(ClaimState.REJECTED.value))
            .when(awarded == claimed)
            .then(pl.lit(ClaimState.ACCEPTED.value))
            .otherwise(pl.lit(ClaimState.PARTIALLY_ACCEPTED.value))
            .alias("to_state"),
            pl.col("_codes").list.join(" ").alias("_joined"),
        )
        .with_columns(pl.when(pl.col("_joined") == "").then(None).otherwise(pl.col("_joined")).alias("return_codes"))
    )
    plain = answered.filter(~pl.col("_strange"))  # a strange code refuses the file: no action to look up
    actions = {
        (joined, state): next_action_for(joined.split(" ") if joined else [], ClaimState(state))
        for joined, state in plain.select("_joined", "to_state").unique().iter_rows()
    }
    return answered.join(
        pl.DataFrame(
            [(joined, state, action) for (joined, state), action in actions.items()],
            schema={"_joined": pl.String, "to_state": pl.String, "next_action": pl.String},
            orient="row",
        ),
        on=["_joined", "to_state"],
        how="left",
        maintain_order="left",
    )


_ITEM_STATE_SCHEMA: dict[str, Any] = {
    "line_id": pl.String,
    "state": pl.String,
    "kind": pl.String,
    "item_debit_credit": pl.String,
    "pregnancy_id": pl.String,
    "phase": pl.String,
}


def apply_return(
    db: Database,
    principal: Principal,
    data: bytes,
    fmt: str = "kz302",
    *,
    at: datetime | None = None,
    as_of: date | None = None,
) -> ReturnSummary:
    """Apply the insurer's return file; raises the format's error (naming line and position) on a bad file.

    ``as_of``: the date the pregnancies hit by a bundle breaker (0587) are decided again (default: today).
    """
    at = at or datetime.now(UTC)
    summary = _apply_one(db, principal, data, fmt, at)
    decided, summary.rerun_ids = _decide_owed(db, principal, as_of or at.date())
    summary.owed_redecided = sorted(set(decided) - set(summary.bundle_breakers))
    return summary


@dataclass
class ReturnsRun:
    """What :func:`apply_returns` did: each file applied (name, summary) or refused (name, error), and the
    decision runs that decided the bundle breakers of all applied files again."""

    applied: list[tuple[str, ReturnSummary]] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)
    bundle_breakers: list[str] = field(default_factory=list)
    rerun_ids: list[int] = field(default_factory=list)
    owed_redecided: list[str] = field(default_factory=list)
    """Pregnancies an earlier application reported a 0587 for but stopped before deciding again (decided now)."""


def apply_returns(
    db: Database,
    principal: Principal,
    files: Sequence[tuple[str, bytes]],
    fmt: str = "kz302",
    *,
    at: datetime | None = None,
    as_of: date | None = None,
) -> ReturnsRun:
    """Apply several return files (a day's post: one per batch), then decide the pregnancies hit by a bundle
    breaker (0587) in any of them again in one run, not one run per file.

    Each file is applied as :func:`apply_return` applies it, in its own transaction: a bad file (format, unknown
    batch or line, unknown return code) changes nothing and is listed in ``refused`` with its error, the others
    are applied. The re-decision runs after the last file, and also when a file raised something else (the
    database busy): the files applied by then are never left without it. A pregnancy hit in two files is
    decided again once, with both reported overlaps (as the second of two single applications would).

    Re-decisions owed by an earlier application that stopped between its file and its re-decision (a killed
    process; migration 0008) are made in the same run: ``owed_redecided``."""
    require(principal, Action.MANAGE_CLAIMS)
    at = at or datetime.now(UTC)
    run = ReturnsRun()
    hit: dict[str, None] = {}  # insertion-ordered set
    # The next files are read (parsed, no database) in a second thread while this one applies the current file:
    # the database work lets go of the interpreter, so on a national day's post most of the reading is hidden.
    reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="integraal-return-read")
    upcoming = iter(files)
    reads: deque[Future[_ReadReturn]] = deque()  # the current file's and those ahead
    try:
        for name, data in files:
            while len(reads) <= READ_AHEAD and (following := next(upcoming, None)) is not None:
                reads.append(reader.submit(_read_return, following[1], fmt))
            read = reads.popleft()  # not kept once applied: the frame is let go
            try:
                summary = _apply_one(db, principal, data, fmt, at, read=read)
            except (FormatError, ClaimsError, NotFoundError) as error:
                run.refused.append((name, str(error)))
                continue
            run.applied.append((name, summary))
            hit.update(dict.fromkeys(summary.bundle_breakers))
    finally:
        reader.shutdown(wait=True, cancel_futures=True)
        decided, run.rerun_ids = _decide_owed(db, principal, as_of or at.date())
        run.bundle_breakers = sorted(hit)
        run.owed_redecided = sorted(set(decided) - set(hit))
        for _, summary in run.applied:
            if summary.bundle_breakers:
                summary.rerun_ids = run.rerun_ids
    return run


def owed_redecisions(db: Database, principal: Principal) -> list[str]:
    """The pregnancies (in the principal's scope) with an insurer-reported overlap (0587) that no stored decision
    run has decided yet: a return application stopped between its file and its re-decision (migration 0008)."""
    o, p = tables.reported_overlaps, tables.pregnancies
    with db.unit_of_work() as connection:
        return list(
            connection.execute(
                select(o.c.pregnancy_id)
                .join(p, p.c.pregnancy_id == o.c.pregnancy_id)
                .where(o.c.decided_in_run.is_(None), pregnancy_scope(principal))
                .distinct()
                .order_by(o.c.pregnancy_id)
            ).scalars()
        )


def _decide_owed(db: Database, principal: Principal, as_of: date) -> tuple[list[str], list[int]]:
    """Decide the pregnancies owed a re-decision after a 0587 again — those of the files just applied and any an
    interrupted earlier application left (with the reported overlap the phase falls back and the members' lines
    appear); the pregnancies and the ids of the decision runs. Each run marks the reports it decided
    (``services.decisions``), in the transaction that stores it."""
    from integraal.services.reruns import rerun_decisions

    owed = owed_redecisions(db, principal)
    if not owed:
        return [], []
    return owed, rerun_decisions(db, principal, as_of, owed).run_ids


READ_AHEAD = 2
"""Return files :func:`apply_returns` reads ahead of the one it applies (each a batch's answer: megabytes)."""


def _apply_one(
    db: Database,
    principal: Principal,
    data: bytes,
    fmt: str,
    at: datetime,
    *,
    read: Future[_ReadReturn] | None = None,
) -> ReturnSummary:
    """One return file in one transaction, without deciding its bundle breakers again (the caller does).
    ``read``: :func:`_read_return` of ``data`` started by the caller (its error, if any, is raised here)."""
    require(principal, Action.MANAGE_CLAIMS)
    _check_format(fmt, RETURN_FORMATS, "return file")
    file = read.result() if read is not None else _read_return(data, fmt)
    returned, lines = file.returned, file.lines
    summary = ReturnSummary(returned.batch_id)
    breakers: list[str] = []
    i = tables.claim_items
    with db.unit_of_work(lock="claims") as connection:
        row = _batch_row(connection, principal, returned.batch_id)
        if row.uzovi != returned.receiver_uzovi or row.sender_agb != returned.sender_agb:
            raise ClaimsError(
                f"the return names sender {returned.sender_agb} and insurer {returned.receiver_uzovi}, "
                f"batch {row.batch_id} was sent by {row.sender_agb} to {row.uzovi}"
            )
        items = read_frame(
            connection,
            select(i.c.line_id, i.c.state, i.c.kind, i.c.debit_credit, i.c.pregnancy_id, i.c.phase).where(
                i.c.batch_id == row.batch_id
            ),
            _ITEM_STATE_SCHEMA,
        )
        answered = lines.join(items, on="line_id", how="left", maintain_order="left")
        unknown = answered.filter(pl.col("state").is_null())["line_id"].head(5).to_list()
        if unknown:
            raise ClaimsError(f"return lines not in batch {row.batch_id}: {', '.join(unknown)}")
        strange = answered.filter(pl.col("_strange"))
        if strange.height:
            first = strange.row(0, named=True)
            known = return_codes()
            code = next(c for c in first["_codes"] if c not in known)
            raise ClaimsError(f"line {first['line_id']}: return code {code} is not in the COD954 list")
        summary.already_applied = int((answered["state"] != ClaimState.SENT.value).sum())
        moves = answered.filter(pl.col("state") == ClaimState.SENT.value)
        counts = dict(moves.group_by("to_state").len().iter_rows())
        summary.accepted = int(counts.get(ClaimState.ACCEPTED.value, 0))
        summary.partially_accepted = int(counts.get(ClaimState.PARTIALLY_ACCEPTED.value, 0))
        summary.rejected = int(counts.get(ClaimState.REJECTED.value, 0))
        summary.awarded_cents = int(moves["awarded_cents"].sum() or 0)
        hits = moves.filter(pl.col("_breaks") & (pl.col("kind") == "integral") & (pl.col("item_debit_credit") == "D"))
        breakers = hits["pregnancy_id"].unique(maintain_order=True).to_list()
        if hits.height:  # a few per batch: the moment goes through SQLAlchemy's own types
            connection.execute(
                insert(tables.reported_overlaps),
                [
                    {**hit, "return_code": BUNDLE_BREAKER_CODE, "reported_at": at}
                    for hit in hits.select("pregnancy_id", "phase", "line_id").iter_rows(named=True)
                ],
            )
        # The note is "return <reference>: " and the line's codes (or "ok"): made in SQL from the codes.
        said = literal(f"return {returned.insurer_reference}: ", Text) + func.coalesce(_MOVES.c.return_codes, "ok")
        _move(
            connection,
            moves.select("line_id", "state", "to_state", "awarded_cents", "return_codes", "next_action"),
            at,
            principal.username,
            answers=True,
            note=said,
        )
        if moves.height:
            # The file's identity is unique in the database: the same return is booked once (migration 0006).
            connection.execute(
                insert(tables.claim_returns).values(
                    file_sha256=file.sha256,
                    batch_id=row.batch_id,
                    format=fmt,
                    reference=returned.insurer_reference[:100],
                    lines=moves.height,
                    awarded_cents=summary.awarded_cents,
                    applied_at=at,
                    actor=principal.username,
                )
            )
            connection.execute(
                update(tables.claim_batches)
                .where(tables.claim_batches.c.batch_id == row.batch_id)
                .values(state="returned", returned_at=at, return_reference=returned.insurer_reference[:24])
            )
            audit.record(
                connection,
                principal.username,
                "apply_return",
                "claim_batch",
                row.batch_id,
                igo_ids=[row.igo_id],
                reference=returned.insurer_reference,
                accepted=summary.accepted,
                partially_accepted=summary.partially_accepted,
                rejected=summary.rejected,
                awarded_cents=summary.awarded_cents,
                bundle_breakers=sorted(breakers),
            )
    summary.bundle_breakers = sorted(breakers)
    return summary


def next_action_for(codes: Sequence[str], outcome: ClaimState) -> str | None:
    """The action for a line: that of its first return code with one (0587 first: it changes the decision)."""
    if outcome is ClaimState.ACCEPTED:
        return None
    if BUNDLE_BREAKER_CODE in codes:
        return NextAction(return_code(BUNDLE_BREAKER_CODE).next_action).value
    for code in codes:
        action = return_code(code).next_action
        if action is not NextAction.NONE:
            return NextAction(action).value
    return NextAction.FIX_AND_RESEND.value if outcome is ClaimState.REJECTED else NextAction.ASK_MEMBER.value


# --- worklist and status ----------------------------------------------------------------------------------------


def worklist(db: Database, principal: Principal) -> list[WorkGroup]:
    """Rejected and reduced lines in scope, grouped by return code and next action, largest group first."""
    require(principal, Action.READ_CLAIMS)
    i, b = tables.claim_items, tables.claim_batches
    query = (
        select(i)
        .join(b, b.c.batch_id == i.c.batch_id)
        .where(i.c.state.in_([ClaimState.REJECTED.value, ClaimState.PARTIALLY_ACCEPTED.value]), _batch_scope(principal))
        .order_by(i.c.line_id)
    )
    groups: dict[tuple[str, str], list[WorkItem]] = defaultdict(list)
    with db.unit_of_work() as connection:
        for r in connection.execute(query):
            code = (r.return_codes or "").split(" ")[0] or "-"
            groups[(code, r.next_action or "")].append(
                WorkItem(
                    r.line_id,
                    r.batch_id,
                    r.pregnancy_id,
                    r.phase,
                    r.prestatie_code,
                    r.claimant_agb,
                    int(r.amount_cents),
                    int(r.awarded_cents) if r.awarded_cents is not None else None,
                    r.state,
                )
            )
    out = []
    for (code, action), items in groups.items():
        known = return_code(code) if code != "-" else None
        out.append(WorkGroup(code, known.text_nl if known else "", known.text_en if known else "", action, items))
    return sorted(out, key=lambda g: (-len(g.lines), g.return_code))


def _batch_scope(principal: Principal) -> Any:
    b = tables.claim_batches
    if principal.role is Role.SUPERUSER:
        return b.c.batch_id.is_not(None)
    if principal.role in (Role.IGO_ADMIN, Role.IGO_BOARD):
        return b.c.igo_id == principal.igo_id
    if principal.role is Role.INSURER:
        return b.c.uzovi == principal.uzovi
    return b.c.batch_id.is_(None)


def list_batches(db: Database, principal: Principal) -> list[BatchSummary]:
    require(principal, Action.READ_CLAIMS)
    b, i = tables.claim_batches, tables.claim_items
    credits = (
        select(i.c.batch_id, func.count().label("n")).where(i.c.debit_credit == "C").group_by(i.c.batch_id).subquery()
    )
    with db.unit_of_work() as connection:
        rows = connection.execute(
            select(b, func.coalesce(credits.c.n, 0).label("credits"))
            .outerjoin(credits, credits.c.batch_id == b.c.batch_id)
            .where(_batch_scope(principal))
            .order_by(b.c.batch_id)
        ).all()
    return [
        BatchSummary(
            r.batch_id,
            r.igo_id,
            r.uzovi,
            r.period_start,
            r.period_end,
            r.lines,
            int(r.credits),
            int(r.total_cents),
            r.state,
        )
        for r in rows
    ]


# --- members who claim themselves -----------------------------------------------------------------------------


def member_batches(
    db: Database, principal: Principal, agb: str, *, period_start: date, period_end: date
) -> list[ClaimBatch]:
    """The monodisciplinary lines of member ``agb`` (fallback phases) declared in the period, one batch per
    insurer with the member as sender, for members that claim their separate lines themselves. Lines the IGO
    already claimed on the member's behalf are left out, so nothing is claimed by both."""
    if principal.role is Role.MEMBER and principal.agb != agb:
        raise NotFoundError("provider", agb)
    require(principal, Action.READ_CLAIMS if principal.role is not Role.MEMBER else Action.READ_ACTIVITIES)
    scope = principal if principal.role is not Role.MEMBER else SYSTEM_VIEW
    i = tables.claim_items
    with db.unit_of_work() as connection:
        mine = _latest_lines(connection, scope, period_start, period_end, include_mono=True).filter(
            (pl.col("kind") == "mono") & (pl.col("claimant_agb") == agb)
        )
        lines = [SimpleNamespace(**r) for r in mine.iter_rows(named=True)]
        claimed = {
            (r.run_id, r.decision_line_no)
            for chunk in range(0, len(lines), 900)
            for r in connection.execute(
                select(i.c.run_id, i.c.decision_line_no).where(
                    i.c.pregnancy_id.in_({line.pregnancy_id for line in lines[chunk : chunk + 900]})
                )
            )
        }
    per_insurer: dict[str, list[ClaimBatchLine]] = defaultdict(list)
    for r in lines:
        if (r.run_id, r.line_no) in claimed:
            continue
        per_insurer[r.uzovi].append(
            ClaimBatchLine(
                line_id=f"M{r.run_id:06d}-{r.line_no:08d}",
                bsn=r.bsn,
                prestatie_code=r.prestatie_code,
                service_start=r.service_start,
                service_end=r.service_end,
                quantity=Decimal(int(r.quantity_hundredths)) / 100,
                amount_cents=int(r.amount_cents),
            )
        )
    return [
        ClaimBatch(agb, uzovi, f"{agb}{n:04d}", date.today(), period_start, period_end, tuple(batch))
        for n, (uzovi, batch) in enumerate(sorted(per_insurer.items()), start=1)
    ]
