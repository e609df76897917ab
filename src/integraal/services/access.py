"""Who may do what, and which rows they may see: roles, the principal, permission checks and scope filters.

Every use case that reads or writes tenant data takes a :class:`Principal` and applies the filters of this
module *in SQL*, so the REST API, the web UI and any export get exactly the same rows (openIMIS applied its
access filter in one API and forgot it in another; here there is one place). Adapters never filter.

Tenants: an IGO (``igo_admin``, ``igo_board``), a provider AGB (``member``), an insurer UZOVI (``insurer``).
``analyst`` and ``superuser`` have no tenant. A filter for a role that may not see a kind of row at all is
``false()``, so a forgotten :func:`require` still returns nothing rather than everything.

The role × action table is :data:`PERMISSIONS`; ``docs/api.md`` shows it for readers.
"""

from __future__ import annotations

import logging
import os
import secrets
from dataclasses import dataclass
from enum import StrEnum

import polars as pl
from sqlalchemy import ColumnElement, Connection, FromClause, Select, false, or_, select, true

from integraal.domain.identifiers import is_valid_agb, is_valid_uzovi, pseudonymise_bsn
from integraal.store import tables

log = logging.getLogger(__name__)

PSEUDONYM_KEY_ENV = "INTEGRAAL_PSEUDONYM_KEY"
MINIMUM_CELL_ENV = "INTEGRAAL_MINIMUM_CELL"
DEFAULT_MINIMUM_CELL = 10


class Role(StrEnum):
    """What a user is. The tenant a role needs is in :data:`TENANT_OF_ROLE`."""

    IGO_ADMIN = "igo_admin"  # back office of one IGO: reads its IGO's data, uploads, re-runs decisions
    IGO_BOARD = "igo_board"  # board of one IGO: reads its IGO's data (BSN pseudonymised), writes nothing
    MEMBER = "member"  # one provider (AGB): its own activities only
    INSURER = "insurer"  # one insurer (UZOVI): decisions and claims of its insured, BSN pseudonymised
    ANALYST = "analyst"  # aggregates across IGOs only: never a BSN, a name or a pregnancy id
    SUPERUSER = "superuser"  # everything, including data of every tenant


TENANT_OF_ROLE: dict[Role, str | None] = {
    Role.IGO_ADMIN: "igo_id",
    Role.IGO_BOARD: "igo_id",
    Role.MEMBER: "agb",
    Role.INSURER: "uzovi",
    Role.ANALYST: None,
    Role.SUPERUSER: None,
}
"""The one tenant column each role needs (``None``: no tenant)."""


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller of a use case: user, role and tenant. Built by ``services.users``."""

    user_id: int | None
    username: str
    role: Role
    igo_id: str | None = None
    agb: str | None = None
    uzovi: str | None = None

    def __post_init__(self) -> None:
        needed = TENANT_OF_ROLE[self.role]
        given = {name for name in ("igo_id", "agb", "uzovi") if getattr(self, name)}
        if given != ({needed} if needed else set()):
            wanted = f"exactly {needed}" if needed else "no tenant"
            raise ValueError(f"role {self.role.value} needs {wanted}, got {sorted(given) or 'none'}")
        if self.agb is not None and not is_valid_agb(self.agb):
            raise ValueError("agb must be 8 digits")
        if self.uzovi is not None and not is_valid_uzovi(self.uzovi):
            raise ValueError("uzovi must be 4 digits")

    @property
    def tenant(self) -> str | None:
        """The tenant id (IGO id, AGB or UZOVI), if the role has one."""
        return self.igo_id or self.agb or self.uzovi


SYSTEM = Principal(None, "cli", Role.SUPERUSER)
"""The command line acts as superuser: whoever runs it already holds the database file."""


class Action(StrEnum):
    """What a use case does, for :func:`require`."""

    READ_REGISTER = "read_register"  # providers and IGOs (with memberships)
    READ_CONTRACTS = "read_contracts"
    READ_PREGNANCIES = "read_pregnancies"  # list and detail with trajectory, decisions and claim lines
    READ_ACTIVITIES = "read_activities"
    UPLOAD_ACTIVITIES = "upload_activities"
    READ_DECISIONS = "read_decisions"  # row-level decisions and runs
    READ_AGGREGATES = "read_aggregates"  # counts and amounts per IGO × phase × outcome
    RERUN_DECISIONS = "rerun_decisions"
    READ_AUDIT = "read_audit"
    READ_CLAIMS = "read_claims"  # claim batches, their lines and the worklist
    MANAGE_CLAIMS = "manage_claims"  # build batches, send files, apply returns (money-changing)
    SIMULATE_DISTRIBUTION = "simulate_distribution"  # run candidate plans on a period, book nothing
    CLOSE_PERIOD = "close_period"  # book a plan's allocation for a period (money-changing, immutable)
    READ_STATEMENTS = "read_statements"  # members' statements (a member: its own)


_ALL = frozenset(Role)
PERMISSIONS: dict[Action, frozenset[Role]] = {
    Action.READ_REGISTER: _ALL - {Role.ANALYST},
    Action.READ_CONTRACTS: frozenset({Role.IGO_ADMIN, Role.IGO_BOARD, Role.INSURER, Role.SUPERUSER}),
    Action.READ_PREGNANCIES: frozenset({Role.IGO_ADMIN, Role.IGO_BOARD, Role.INSURER, Role.SUPERUSER}),
    Action.READ_ACTIVITIES: frozenset({Role.IGO_ADMIN, Role.IGO_BOARD, Role.MEMBER, Role.SUPERUSER}),
    Action.UPLOAD_ACTIVITIES: frozenset({Role.IGO_ADMIN, Role.MEMBER, Role.SUPERUSER}),
    Action.READ_DECISIONS: frozenset({Role.IGO_ADMIN, Role.IGO_BOARD, Role.INSURER, Role.SUPERUSER}),
    Action.READ_AGGREGATES: frozenset({Role.IGO_ADMIN, Role.IGO_BOARD, Role.INSURER, Role.ANALYST, Role.SUPERUSER}),
    Action.RERUN_DECISIONS: frozenset({Role.IGO_ADMIN, Role.SUPERUSER}),
    Action.READ_AUDIT: frozenset({Role.IGO_ADMIN, Role.SUPERUSER}),
    Action.READ_CLAIMS: frozenset({Role.IGO_ADMIN, Role.IGO_BOARD, Role.INSURER, Role.SUPERUSER}),
    Action.MANAGE_CLAIMS: frozenset({Role.IGO_ADMIN, Role.SUPERUSER}),
    Action.SIMULATE_DISTRIBUTION: frozenset({Role.IGO_ADMIN, Role.IGO_BOARD, Role.SUPERUSER}),
    Action.CLOSE_PERIOD: frozenset({Role.IGO_ADMIN, Role.SUPERUSER}),
    Action.READ_STATEMENTS: frozenset({Role.IGO_ADMIN, Role.IGO_BOARD, Role.MEMBER, Role.SUPERUSER}),
}
"""Role × action. Rows within an allowed action are narrowed further by the scope filters below."""


class AccessDeniedError(PermissionError):
    """The principal's role may not do this at all (HTTP 403)."""

    def __init__(self, principal: Principal, action: Action) -> None:
        super().__init__(f"role {principal.role.value} may not {action.value.replace('_', ' ')}")
        self.principal = principal
        self.action = action


class NotFoundError(LookupError):
    """No such row *in the principal's scope* (HTTP 404): another tenant's row looks exactly like a missing one."""

    def __init__(self, entity: str, key: str) -> None:
        super().__init__(f"no {entity} {key!r}")
        self.entity = entity
        self.key = key


def allowed(principal: Principal, action: Action) -> bool:
    return principal.role in PERMISSIONS[action]


def require(principal: Principal, action: Action) -> None:
    if not allowed(principal, action):
        raise AccessDeniedError(principal, action)


# --- what a principal sees of a BSN ------------------------------------------------------------------------


class BsnView(StrEnum):
    CLEAR = "clear"  # the BSN itself
    PSEUDONYM = "pseudonym"  # keyed HMAC (domain.identifiers.pseudonymise_bsn): links rows, reveals nothing
    HIDDEN = "hidden"


_BSN_VIEW: dict[Role, BsnView] = {
    Role.SUPERUSER: BsnView.CLEAR,
    Role.IGO_ADMIN: BsnView.CLEAR,  # the back office claims and corrects, with the BSN
    Role.MEMBER: BsnView.CLEAR,  # only on its own activities, which it registered with that BSN
    Role.IGO_BOARD: BsnView.PSEUDONYM,  # governs, never claims: needs no identity
    Role.INSURER: BsnView.PSEUDONYM,
    Role.ANALYST: BsnView.HIDDEN,
}


def configured_minimum() -> int:
    """The minimum cell size for readers outside the IGO: ``$INTEGRAAL_MINIMUM_CELL`` (default 10, at least 1).
    Small numbers mislead and can identify a woman (DOMAIN.md §6)."""
    value = os.environ.get(MINIMUM_CELL_ENV, "")
    return max(1, int(value)) if value.isdigit() else DEFAULT_MINIMUM_CELL


OUTSIDE_ROLES = frozenset({Role.INSURER, Role.ANALYST})
"""Roles that read aggregates from outside the IGO: every count they see is at least the minimum cell size."""


def small_number_threshold(principal: Principal) -> int | None:
    """Counts below this are withheld for ``principal`` (insurers and analysts); ``None``: shown in full."""
    return configured_minimum() if principal.role in OUTSIDE_ROLES else None


def bsn_view(principal: Principal) -> BsnView:
    return _BSN_VIEW[principal.role]


def present_bsn(principal: Principal, bsn: str, key: bytes) -> tuple[str | None, str | None]:
    """``(bsn, pseudonym)`` as this principal may see them: one of the two, or neither."""
    view = _BSN_VIEW[principal.role]
    if view is BsnView.CLEAR:
        return bsn, None
    if view is BsnView.PSEUDONYM:
        return None, pseudonymise_bsn(bsn, key)
    return None, None


_EPHEMERAL_KEY: bytes | None = None


def pseudonym_key_from_env() -> bytes:
    """The pseudonymisation key from ``$INTEGRAAL_PSEUDONYM_KEY``.

    Without it a random key is made for this process (and a warning logged): pseudonyms are then safe but
    change on every restart, so an insurer cannot link them across restarts. Set the variable in production.
    """
    value = os.environ.get(PSEUDONYM_KEY_ENV)
    if value:
        return value.encode("utf-8")
    global _EPHEMERAL_KEY
    if _EPHEMERAL_KEY is None:
        log.warning("%s is not set: using a random pseudonymisation key for this process", PSEUDONYM_KEY_ENV)
        _EPHEMERAL_KEY = secrets.token_bytes(32)
    return _EPHEMERAL_KEY


# --- scope filters: SQL where-clauses, one per kind of row ------------------------------------------------

_p = tables.pregnancies
_m = tables.memberships


def _member_igos(agb: str) -> Select[tuple[str]]:
    """IGOs the provider is or was a member of (any period): the IGOs it works in."""
    return select(_m.c.igo_id).where(_m.c.agb == agb)


def _contracted_igos(uzovi: str) -> Select[tuple[str]]:
    c = tables.contracts
    return select(c.c.igo_id).where(c.c.uzovi == uzovi)


def _igo_role(principal: Principal) -> bool:
    return principal.role in (Role.IGO_ADMIN, Role.IGO_BOARD)


def pregnancy_scope(principal: Principal) -> ColumnElement[bool]:
    """Pregnancies (rows of ``pregnancies``) the principal may read."""
    if principal.role is Role.SUPERUSER:
        return true()
    if _igo_role(principal):
        return _p.c.igo_id == principal.igo_id
    if principal.role is Role.INSURER:
        return _p.c.uzovi == principal.uzovi
    return false()


def writable_pregnancy_scope(principal: Principal) -> ColumnElement[bool]:
    """Pregnancies the principal may register activities for (upload)."""
    if principal.role is Role.SUPERUSER:
        return true()
    if principal.role is Role.IGO_ADMIN:
        return _p.c.igo_id == principal.igo_id
    if principal.role is Role.MEMBER and principal.agb:
        return _p.c.igo_id.in_(_member_igos(principal.agb))
    return false()


def igo_scope(principal: Principal) -> ColumnElement[bool]:
    t = tables.igos
    if principal.role is Role.SUPERUSER:
        return true()
    if _igo_role(principal):
        return t.c.igo_id == principal.igo_id
    if principal.role is Role.MEMBER and principal.agb:
        return t.c.igo_id.in_(_member_igos(principal.agb))
    if principal.role is Role.INSURER and principal.uzovi:
        return t.c.igo_id.in_(_contracted_igos(principal.uzovi))
    return false()


def visible_igo_ids(principal: Principal) -> ColumnElement[bool]:
    """``memberships`` rows of IGOs the principal may see (to list members of those IGOs only)."""
    if principal.role is Role.SUPERUSER:
        return true()
    if _igo_role(principal):
        return _m.c.igo_id == principal.igo_id
    if principal.role is Role.MEMBER and principal.agb:
        return _m.c.igo_id.in_(_member_igos(principal.agb))
    if principal.role is Role.INSURER and principal.uzovi:
        return _m.c.igo_id.in_(_contracted_igos(principal.uzovi))
    return false()


def provider_scope(principal: Principal) -> ColumnElement[bool]:
    """Providers: the members (any period) of the IGOs the principal sees; a member also sees itself."""
    t = tables.providers
    if principal.role is Role.SUPERUSER:
        return true()
    if principal.role is Role.ANALYST:
        return false()
    members = select(_m.c.agb).where(visible_igo_ids(principal))
    if principal.role is Role.MEMBER:
        return or_(t.c.agb == principal.agb, t.c.agb.in_(members))
    return t.c.agb.in_(members)


def contract_scope(principal: Principal) -> ColumnElement[bool]:
    t = tables.contracts
    if principal.role is Role.SUPERUSER:
        return true()
    if _igo_role(principal):
        return t.c.igo_id == principal.igo_id
    if principal.role is Role.INSURER:
        return t.c.uzovi == principal.uzovi
    return false()


def activity_scope(connection: Connection, principal: Principal) -> pl.Expr:
    """Activities in the activity list, as a condition on their columns (they are stored as columnar blocks).

    An IGO sees the activities that name one of its pregnancies; activities registered with a BSN only are
    shown under the pregnancy they match (by BSN and date) in the pregnancy detail, where the match is exact.
    """
    if principal.role is Role.SUPERUSER:
        return pl.lit(True)
    if principal.role is Role.MEMBER:
        return pl.col("agb") == principal.agb
    if _igo_role(principal):
        own = connection.execute(select(_p.c.pregnancy_id).where(_p.c.igo_id == principal.igo_id)).scalars().all()
        return pl.col("pregnancy_id").is_in(list(own))
    return pl.lit(False)


def decision_scope(principal: Principal, d: FromClause = tables.phase_decisions) -> ColumnElement[bool]:
    """Stored phase decisions (they carry the pregnancy's IGO and insurer); ``d`` may be an alias."""
    if principal.role is Role.SUPERUSER or principal.role is Role.ANALYST:
        # Analysts only ever get aggregates of these (see queries.decision_summary), never rows.
        return true()
    if _igo_role(principal):
        return d.c.igo_id == principal.igo_id
    if principal.role is Role.INSURER:
        return d.c.uzovi == principal.uzovi
    return false()


def claim_scope(principal: Principal) -> ColumnElement[bool]:
    """Claim lines of a pregnancy already in scope: an insurer sees only lines addressed to it."""
    c = tables.claim_lines
    if principal.role is Role.INSURER:
        return c.c.uzovi == principal.uzovi
    if principal.role in (Role.SUPERUSER, Role.IGO_ADMIN, Role.IGO_BOARD):
        return true()
    return false()


def audit_scope(principal: Principal) -> ColumnElement[bool]:
    """Audit entries: an IGO's back office sees the entries scoped to its IGO (``audit_scopes``)."""
    log_ = tables.audit_log
    if principal.role is Role.SUPERUSER:
        return true()
    if principal.role is Role.IGO_ADMIN:
        s = tables.audit_scopes
        return log_.c.id.in_(select(s.c.audit_id).where(s.c.igo_id == principal.igo_id))
    return false()
