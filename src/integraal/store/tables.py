"""The schema. Portable types only: dates as DATE, money as integer cents, quantities as integer hundredths."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

providers = Table(
    "providers",
    metadata,
    Column("agb", String(8), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("discipline", String(20), nullable=False),
    Column("city", String(100), nullable=False, server_default=""),
)

igos = Table(
    "igos",
    metadata,
    Column("igo_id", String(40), primary_key=True),
    Column("agb", String(8), nullable=False),
    Column("name", String(200), nullable=False),
)

memberships = Table(
    "memberships",
    metadata,
    Column("igo_id", String(40), ForeignKey("igos.igo_id"), primary_key=True),
    Column("agb", String(8), ForeignKey("providers.agb"), primary_key=True),
    Column("start_date", Date, primary_key=True),
    Column("end_date", Date, nullable=True),
)

insurers = Table(
    "insurers",
    metadata,
    Column("uzovi", String(4), primary_key=True),
    Column("name", String(200), nullable=False),
)

contracts = Table(
    "contracts",
    metadata,
    Column("contract_id", String(60), primary_key=True),
    Column("prestatie_code", String(40), primary_key=True),
    Column("igo_id", String(40), ForeignKey("igos.igo_id"), nullable=False),
    Column("uzovi", String(4), ForeignKey("insurers.uzovi"), nullable=False),
    Column("year", Integer, nullable=False),
    Column("tariff_cents", BigInteger, nullable=False),
    Column("overlap_policy", String(30), nullable=True),
    Column("partial_trajectory_policy", String(30), nullable=True),
    Index("ix_contracts_igo_uzovi_year", "igo_id", "uzovi", "year"),
)

pregnancies = Table(
    "pregnancies",
    metadata,
    Column("pregnancy_id", String(60), primary_key=True),
    Column("bsn", String(9), nullable=False, index=True),
    Column("uzovi", String(4), ForeignKey("insurers.uzovi"), nullable=False),
    Column("igo_id", String(40), ForeignKey("igos.igo_id"), nullable=False),
    Column("intake_date", Date, nullable=False),
    Column("due_date", Date, nullable=False),
    Column("labour_date", Date, nullable=True),
    Column("end_date", Date, nullable=True),
    Column("end_reason", String(30), nullable=True),
    Column("referral_date", Date, nullable=True),
    Column("referral_stage", String(20), nullable=True),
)

activity_blocks = Table(
    "activity_blocks",
    metadata,
    Column("block_id", Integer, primary_key=True, autoincrement=True),
    Column("import_run_id", Integer, nullable=True),  # none: small blocks merged, or made from rows by a migration
    Column("row_count", Integer, nullable=False),
    Column("data", LargeBinary, nullable=False),
)
"""The care activities, kept as compressed columnar blocks (``store.activity_blocks``): every activity is in
exactly one block. A national year's 4.4 million activities are nine values of 15 MB in all, written and read in
a fraction of what as many rows cost; the questions about a few women go through ``activity_block_keys``."""

activity_block_keys = Table(
    "activity_block_keys",
    metadata,
    Column("block_id", Integer, ForeignKey("activity_blocks.block_id"), nullable=False),
    Column("pregnancy_id", String(60), nullable=True, index=True),
    Column("bsn", String(9), nullable=True),
    Index(
        "ix_activity_block_keys_unnamed_bsn",
        "bsn",
        sqlite_where=text("pregnancy_id IS NULL"),
        postgresql_where=text("pregnancy_id IS NULL"),
    ),
)
"""Which blocks hold the activities of a trajectory (``pregnancy_id``) or of a woman's activities that name no
trajectory (``bsn``, ``pregnancy_id`` empty): one row per block and such key, so a page reads one block. Written
with every block (a national year: ≈170,000 rows), so indexed only where it is asked: by trajectory, and by BSN
among the few naming none (a block's keys are deleted by scanning, only when the block is rewritten)."""

import_runs = Table(
    "import_runs",
    metadata,
    Column("run_id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(30), nullable=False),
    Column("file_name", String(500), nullable=False),
    Column("file_sha256", String(64), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("actor", String(100), nullable=False),
    Column("rows_total", Integer, nullable=False),
    Column("rows_accepted", Integer, nullable=False),
    Column("rows_rejected", Integer, nullable=False),
)

import_rejections = Table(
    "import_rejections",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("import_runs.run_id"), nullable=False),
    Column("kind", String(30), nullable=False),
    Column("file_name", String(500), nullable=False),
    Column("file_sha256", String(64), nullable=False),
    Column("row_number", Integer, nullable=False),
    Column("field", String(60), nullable=False),
    Column("value", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("raw_row", Text, nullable=False),
    UniqueConstraint("file_sha256", "row_number", "field", name="uq_import_rejections_file_row_field"),
)

decision_runs = Table(
    "decision_runs",
    metadata,
    Column("run_id", Integer, primary_key=True, autoincrement=True),
    Column("as_of", Date, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("actor", String(100), nullable=False),
    Column("pregnancies", Integer, nullable=False),
    Column("ruleset_versions", String(200), nullable=False),
)

phase_decisions = Table(
    "phase_decisions",
    metadata,
    Column("run_id", Integer, ForeignKey("decision_runs.run_id"), primary_key=True),
    Column("pregnancy_id", String(60), primary_key=True),
    Column("phase", String(12), primary_key=True),
    Column("outcome", String(20), nullable=False),
    Column("reasons", Text, nullable=False),  # space-separated reason codes, in order
    Column("ruleset_version", String(40), nullable=True),
    Column("contract_id", String(60), nullable=True),
    Column("igo_id", String(40), nullable=False),
    Column("uzovi", String(4), nullable=False),
)

claim_lines = Table(
    "claim_lines",
    metadata,
    Column("run_id", Integer, ForeignKey("decision_runs.run_id"), primary_key=True),
    Column("line_no", Integer, primary_key=True),
    Column("pregnancy_id", String(60), nullable=False, index=True),
    Column("phase", String(12), nullable=False),
    Column("kind", String(10), nullable=False),
    Column("prestatie_code", String(40), nullable=False),
    Column("claimant_agb", String(8), nullable=False),
    Column("uzovi", String(4), nullable=False),
    Column("quantity_hundredths", BigInteger, nullable=False),
    Column("tariff_cents", BigInteger, nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("service_start", Date, nullable=False),
    Column("service_end", Date, nullable=False),
    Column("declaration_date", Date, nullable=False),
    Column("tariff_source", String(10), nullable=False),
    Column("activity_ids", Text, nullable=False),  # space-separated
)

activity_outcomes = Table(
    "activity_outcomes",
    metadata,
    Column("run_id", Integer, ForeignKey("decision_runs.run_id"), primary_key=True),
    Column("activity_id", String(60), primary_key=True),
    Column("pregnancy_id", String(60), nullable=True),
    Column("disposition", String(10), nullable=False),
    Column("reason", String(40), nullable=True),
    Column("phase", String(12), nullable=True),
)
"""Only activities that were *not* claimed are stored here; claimed ones are listed on their claim line."""

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(100), nullable=False),
    Column("action", String(60), nullable=False),
    Column("entity", String(60), nullable=False),
    Column("entity_id", String(100), nullable=False),
    Column("detail", Text, nullable=False),
)

# --- users, credentials and access (issue 3) -----------------------------------------------------------

users = Table(
    "users",
    metadata,
    Column("user_id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(100), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=True),  # argon2id; NULL = API tokens only
    Column("role", String(20), nullable=False),
    Column("igo_id", String(40), nullable=True),  # tenant of igo_admin / igo_board
    Column("agb", String(8), nullable=True),  # tenant of member
    Column("uzovi", String(4), nullable=True),  # tenant of insurer
    Column("active", Boolean(create_constraint=False), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
"""People and systems that use the API or web UI. The tenant columns match the role (at most one is set)."""

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("token_id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("users.user_id"), nullable=False, index=True),
    Column("token_hash", String(64), nullable=False, unique=True),  # SHA-256 of the token, never the token
    Column("label", String(100), nullable=False, server_default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=True),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
)

sessions = Table(
    "sessions",
    metadata,
    Column("session_id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("users.user_id"), nullable=False, index=True),
    Column("token_hash", String(64), nullable=False, unique=True),  # SHA-256 of the cookie value
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True), nullable=True),
)
"""Web UI login sessions (cookie); ended on logout, never deleted, so a session can be traced in the audit log."""

audit_scopes = Table(
    "audit_scopes",
    metadata,
    Column("audit_id", Integer, ForeignKey("audit_log.id"), primary_key=True),
    Column("igo_id", String(40), primary_key=True),
    Index("ix_audit_scopes_igo_id", "igo_id"),
)
"""Which IGOs an audit entry concerns, so an IGO's back office sees its own entries and no other's.

Kept apart from ``audit_log`` (unchanged since 0001); entries without a scope row are visible to superusers only.
"""

# Indexes for the pregnancy list and detail. The tables above are unchanged; these only add access paths:
# a tenant's pregnancies in id order (paging without a sort), the latest decision per pregnancy and phase
# (covering: no table read). No index on claim_lines.uzovi:
# an insurer reads claim lines per pregnancy (indexed), and without planner statistics SQLite preferred that
# index and scanned a sixth of a national run's lines for every detail (60 ms instead of 10).
Index("ix_pregnancies_igo_id", pregnancies.c.igo_id, pregnancies.c.pregnancy_id)
Index("ix_pregnancies_uzovi", pregnancies.c.uzovi, pregnancies.c.pregnancy_id)
Index(
    "ix_phase_decisions_pregnancy",
    phase_decisions.c.pregnancy_id,
    phase_decisions.c.phase,
    phase_decisions.c.run_id,
    phase_decisions.c.outcome,
)

# --- claims to insurers (issue 4) --------------------------------------------------------------------------

claim_batches = Table(
    "claim_batches",
    metadata,
    Column("batch_id", String(12), primary_key=True),  # the invoice number in the file (at most 12 positions)
    Column("igo_id", String(40), nullable=False, index=True),
    Column("uzovi", String(4), nullable=False),
    Column("sender_agb", String(8), nullable=False),
    Column("period_start", Date, nullable=False),
    Column("period_end", Date, nullable=False),
    Column("creation_date", Date, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("actor", String(100), nullable=False),
    Column("state", String(12), nullable=False),  # ready, sent, returned
    Column("lines", Integer, nullable=False),
    Column("total_cents", BigInteger, nullable=False),  # signed: debits minus credits
    Column("format", String(30), nullable=True),  # the format of the file that was sent
    Column("file_sha256", String(64), nullable=True),
    Column("sent_at", DateTime(timezone=True), nullable=True),
    Column("returned_at", DateTime(timezone=True), nullable=True),
    Column("return_reference", String(24), nullable=True),
)
"""One claim file to one insurer for one IGO and claim period."""

claim_items = Table(
    "claim_items",
    metadata,
    Column("line_id", String(20), primary_key=True),  # stable across resends ("referentienummer")
    Column("batch_id", String(12), ForeignKey("claim_batches.batch_id"), nullable=False, index=True),
    Column("run_id", Integer, ForeignKey("decision_runs.run_id"), nullable=False),  # the decision it came from
    Column("decision_line_no", Integer, nullable=False),
    Column("debit_credit", String(1), nullable=False),
    Column("pregnancy_id", String(60), nullable=False, index=True),
    Column("phase", String(12), nullable=False),
    Column("kind", String(10), nullable=False),  # integral, mono
    Column("prestatie_code", String(40), nullable=False),
    Column("claimant_agb", String(8), nullable=False),
    Column("uzovi", String(4), nullable=False),
    Column("bsn", String(9), nullable=False),
    Column("service_start", Date, nullable=False),
    Column("service_end", Date, nullable=False),
    Column("quantity_hundredths", BigInteger, nullable=False),
    Column("amount_cents", BigInteger, nullable=False),  # unsigned; debit_credit gives the sign
    Column("original_line_id", String(20), nullable=True),  # the line a credit takes back or a debit replaces
    Column("ruleset_version", String(40), nullable=True),
    Column("state", String(20), nullable=False),
    Column("awarded_cents", BigInteger, nullable=True),  # signed, from the return
    Column("return_codes", String(60), nullable=True),  # space-separated COD954 codes
    Column("next_action", String(20), nullable=True),
    Column("attempt", Integer, nullable=False, server_default="0"),  # 0: first claim; n: the n-th resend
    UniqueConstraint("run_id", "decision_line_no", "debit_credit", "attempt", name="uq_claim_items_decision_line"),
    postgresql_with={"fillfactor": 60},  # room for the updated versions of a line (migration 0007)
)
"""Claim lines as sent to insurers: each decided claim line is debited once per attempt (a resend after a
rejection is the next attempt), so no concurrent or repeated build can claim it twice."""

claim_transitions = Table(
    "claim_transitions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("line_id", String(20), ForeignKey("claim_items.line_id"), nullable=False, index=True),
    Column("from_state", String(20), nullable=True),  # NULL: the line was created
    Column("to_state", String(20), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(100), nullable=False),
    Column("note", Text, nullable=False),
)
"""The history of every claim line's state (append-only)."""

# Sent claims never change: migration 0006 adds database triggers that refuse changing the identity and money of
# a claim line or batch once sent, moving a line's state backwards, rewriting the insurer's answer, deleting
# either, and any UPDATE or DELETE of claim_transitions and claim_returns; migration 0007 has each guard look only
# at an update that sets a column it guards (the same rules, without a trigger call per row sent or answered).

claim_returns = Table(
    "claim_returns",
    metadata,
    Column("file_sha256", String(64), primary_key=True),  # the return file's identity: booked once
    Column("batch_id", String(12), ForeignKey("claim_batches.batch_id"), nullable=False, index=True),
    Column("format", String(30), nullable=False),
    Column("reference", String(100), nullable=False),  # the insurer's reference of the return message
    Column("lines", Integer, nullable=False),  # the claim lines this file answered
    Column("awarded_cents", BigInteger, nullable=False),
    Column("applied_at", DateTime(timezone=True), nullable=False),
    Column("actor", String(100), nullable=False),
)
"""Every insurer return file that answered claim lines, once per file content (append-only)."""

reported_overlaps = Table(
    "reported_overlaps",
    metadata,
    Column("pregnancy_id", String(60), primary_key=True),
    Column("phase", String(12), primary_key=True),
    Column("line_id", String(20), ForeignKey("claim_items.line_id"), primary_key=True),
    Column("return_code", String(4), nullable=False),
    Column("reported_at", DateTime(timezone=True), nullable=False),
    # The stored decision run that first decided the pregnancy knowing this overlap; NULL: not yet (pending).
    Column("decided_in_run", Integer, nullable=True),
)
"""Insurer-reported collisions (return code 0587): care already paid to another provider breaks the bundle.

A report is written with the return file; the pregnancy is decided again in a later transaction. A report whose
``decided_in_run`` is still empty is a re-decision owed (the process stopped in between): the next return
application, claim run or decision run makes it (migration 0008)."""

payments = Table(
    "payments",
    metadata,
    Column("payment_id", String(60), primary_key=True),  # the insurer's payment reference
    Column("uzovi", String(4), nullable=False),
    Column("igo_id", String(40), nullable=False, index=True),
    Column("received_on", Date, nullable=False),
    Column("total_cents", BigInteger, nullable=False),
    Column("unallocated_cents", BigInteger, nullable=False),  # what matched no open line: to investigate
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("actor", String(100), nullable=False),
)
"""Money received from insurers (reconciliation): each payment recorded once."""

payment_allocations = Table(
    "payment_allocations",
    metadata,
    Column("payment_id", String(60), ForeignKey("payments.payment_id"), primary_key=True),
    Column("line_id", String(20), ForeignKey("claim_items.line_id"), primary_key=True),
    Column("amount_cents", BigInteger, nullable=False),  # signed: negative for a credit taken back
    Index("ix_payment_allocations_line_id", "line_id"),
)
"""Which claim lines a payment paid, and how much of each."""

# --- booking and statements (issue 5, part 5) -------------------------------------------------------------
# Append-only: the service never updates or deletes these rows, and migration 0004 adds database triggers that
# refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL), so a closed period cannot change even by hand.

distribution_periods = Table(
    "distribution_periods",
    metadata,
    Column("period_id", String(50), primary_key=True),  # "<igo_id>-<year>", e.g. IGO-RIV-2025
    Column("igo_id", String(40), ForeignKey("igos.igo_id"), nullable=False),
    Column("year", Integer, nullable=False),
    Column("status", String(12), nullable=False),  # closed (a period exists here only once closed)
    Column("plan_key", String(60), nullable=False),
    Column("plan_name", String(200), nullable=False),
    Column("plan_json", Text, nullable=False),  # every step with all its parameters, defaults filled in
    Column("input_json", Text, nullable=False),  # the exact DistributionInput the plan ran on
    Column("input_fingerprint", String(64), nullable=False),  # SHA-256 of input_json
    Column("format_version", Integer, nullable=False),  # layout of plan_json / input_json
    Column("received_cents", BigInteger, nullable=False),  # the year's own money, divided by the allocation
    Column("adjustment_cents", BigInteger, nullable=False),  # corrections of earlier periods booked here
    Column("closed_at", DateTime(timezone=True), nullable=False),
    Column("actor", String(100), nullable=False),
    UniqueConstraint("igo_id", "year", name="uq_distribution_periods_igo_year"),
)
"""A closed distribution period of one IGO and year: the plan and input it was booked on (reproducible)."""

booked_lines = Table(
    "booked_lines",
    metadata,
    Column("period_id", String(50), ForeignKey("distribution_periods.period_id"), primary_key=True),
    Column("line_no", Integer, primary_key=True),
    Column("kind", String(12), nullable=False),  # allocation, adjustment
    Column("recipient", String(8), nullable=False),  # a member's AGB, or IGO
    Column("step", String(200), nullable=False),
    Column("model", String(40), nullable=False),
    Column("phase", String(12), nullable=True),  # the phase a main-model line divides; NULL: the whole period
    Column("basis", Text, nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("text_nl", Text, nullable=False),
    Column("text_en", Text, nullable=False),
    Column("adjusts_period_id", String(50), ForeignKey("distribution_periods.period_id"), nullable=True),
    Column("source", Text, nullable=True),  # for an adjustment: the receipts that changed and the claim lines why
    Index("ix_booked_lines_adjusts_period_id", "adjusts_period_id"),
)
"""The explanation lines a period booked: its own allocation, and adjustments of earlier closed periods."""

booked_receipts = Table(
    "booked_receipts",
    metadata,
    Column("period_id", String(50), ForeignKey("distribution_periods.period_id"), primary_key=True),
    Column("booked_in", String(50), ForeignKey("distribution_periods.period_id"), primary_key=True),
    Column("pregnancy_id", String(60), primary_key=True),
    Column("phase", String(12), primary_key=True),
    Column("amount_cents", BigInteger, nullable=False),  # at closing: the receipt; in an adjustment: the change
    Column("note", Text, nullable=False),  # where the amount comes from: the decision, or the claim lines
)
"""The money each booking of a period rested on, per pregnancy and phase. ``booked_in`` = ``period_id``: the
receipts at closing; a later ``booked_in``: the change found when that later period was closed. Their sum per
pregnancy and phase is the money of the period as booked so far, which the next closing compares with."""

outcomes = Table(
    "outcomes",
    metadata,
    Column("pregnancy_id", String(60), ForeignKey("pregnancies.pregnancy_id"), primary_key=True),
    Column("nulliparous", Boolean, nullable=True),
    Column("multiple_pregnancy", Boolean, nullable=True),
    Column("gestational_age_days", Integer, nullable=True),
    Column("labour_onset", String(20), nullable=True),
    Column("birth_mode", String(30), nullable=True),
    Column("birth_place", String(30), nullable=True),
    Column("perinatal_death", Boolean, nullable=True),
    Column("nicu_admission", Boolean, nullable=True),
    Column("blood_loss_ml", Integer, nullable=True),
    Column("breastfeeding_at_discharge", Boolean, nullable=True),
    Column("prem_score", Float, nullable=True),  # a score, not money: a float is fine
    Column("prom_score", Float, nullable=True),
)
"""Birth outcomes and experience measures per pregnancy (issue 6); NULL = unknown, counted as missing."""
