"""Use cases of users and credentials: add a user, issue an API token, log in and out, resolve a principal.

Passwords are hashed with argon2id (``argon2-cffi``); API tokens and session cookies are random secrets of
256 bits of which only a SHA-256 hash is stored (a fast hash is enough for a secret that cannot be guessed,
and it keeps a request's token lookup to one indexed read). Every change is written to the audit log.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, Row, insert, select, update

from integraal.services import audit
from integraal.services.access import TENANT_OF_ROLE, Principal, Role
from integraal.store import tables
from integraal.store.database import Database

MIN_PASSWORD_LENGTH = 12
SESSION_HOURS = 12
TOKEN_PREFIX = "igr_"
USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{1,99}$")

_hasher = PasswordHasher()  # argon2id, library defaults (RFC 9106 second recommended option)
_DUMMY_HASH = _hasher.hash("not a password: equalises the time of a login for an unknown user")


class UserError(ValueError):
    """A user cannot be added or changed as asked (bad name, role without its tenant, unknown tenant …)."""


class AuthenticationError(Exception):
    """Wrong user name or password, or an inactive user (one message for all: no user enumeration)."""


@dataclass(frozen=True, slots=True)
class User:
    user_id: int
    username: str
    role: Role
    igo_id: str | None
    agb: str | None
    uzovi: str | None
    active: bool
    has_password: bool
    created_at: datetime

    @property
    def principal(self) -> Principal:
        return Principal(self.user_id, self.username, self.role, self.igo_id, self.agb, self.uzovi)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime) -> datetime:
    """SQLite returns naive datetimes for ``DateTime(timezone=True)``; everything here is stored in UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _user(row: Row[tuple[object, ...]]) -> User:
    m = row._mapping
    return User(
        user_id=int(m["user_id"]),
        username=m["username"],
        role=Role(m["role"]),
        igo_id=m["igo_id"],
        agb=m["agb"],
        uzovi=m["uzovi"],
        active=bool(m["active"]),
        has_password=bool(m["password_hash"]),
        created_at=_aware(m["created_at"]),
    )


def _tenant_exists(connection: Connection, role: Role, tenant: str) -> bool:
    column = TENANT_OF_ROLE[role]
    table = {"igo_id": tables.igos, "agb": tables.providers, "uzovi": tables.insurers}[column or ""]
    key = table.c[column or ""]
    return connection.execute(select(key).where(key == tenant)).first() is not None


def add_user(
    db: Database,
    username: str,
    role: Role | str,
    *,
    igo_id: str | None = None,
    agb: str | None = None,
    uzovi: str | None = None,
    password: str | None = None,
    actor: str = "cli",
) -> User:
    """Add a user with a role and the tenant that role needs (an IGO, an AGB or a UZOVI; none for
    ``analyst`` and ``superuser``). Without a password the user can only use API tokens."""
    if not USERNAME.match(username):
        raise UserError("a user name is 2–100 letters, digits, '.', '_', '@' or '-', starting with a letter or digit")
    try:
        role = Role(role)
    except ValueError as exc:
        raise UserError(f"unknown role {role!r}; one of {', '.join(r.value for r in Role)}") from exc
    try:
        principal = Principal(None, username, role, igo_id or None, agb or None, uzovi or None)
    except ValueError as exc:
        raise UserError(str(exc)) from exc
    if password is not None and len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    with db.unit_of_work() as connection:
        if principal.tenant is not None and not _tenant_exists(connection, role, principal.tenant):
            what = {"igo_id": "IGO", "agb": "provider (AGB)", "uzovi": "insurer (UZOVI)"}[TENANT_OF_ROLE[role] or ""]
            raise UserError(f"unknown {what} {principal.tenant!r}: import it first")
        if connection.execute(select(tables.users.c.user_id).where(tables.users.c.username == username)).first():
            raise UserError(f"user {username!r} exists already")
        result = connection.execute(
            insert(tables.users).values(
                username=username,
                password_hash=_hasher.hash(password) if password is not None else None,
                role=role.value,
                igo_id=principal.igo_id,
                agb=principal.agb,
                uzovi=principal.uzovi,
                active=True,
                created_at=_now(),
            )
        )
        user_id = int(result.inserted_primary_key[0])  # type: ignore[index]
        audit.record(
            connection,
            actor,
            "add_user",
            "user",
            username,
            igo_ids=[principal.igo_id] if principal.igo_id else [],
            after={"user_id": user_id},
            role=role.value,
            tenant=principal.tenant,
        )
        row = connection.execute(select(tables.users).where(tables.users.c.user_id == user_id)).one()
    return _user(row)


def get_user(db: Database, username: str) -> User | None:
    with db.unit_of_work() as connection:
        row = connection.execute(select(tables.users).where(tables.users.c.username == username)).first()
    return _user(row) if row else None


def list_users(db: Database) -> list[User]:
    with db.unit_of_work() as connection:
        rows = connection.execute(select(tables.users).order_by(tables.users.c.username)).all()
    return [_user(r) for r in rows]


def issue_token(
    db: Database, username: str, *, label: str = "", expires_in_days: int | None = None, actor: str = "cli"
) -> str:
    """A new API token for ``username``; it is shown once and only its hash is kept."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with db.unit_of_work() as connection:
        row = connection.execute(select(tables.users).where(tables.users.c.username == username)).first()
        if row is None:
            raise UserError(f"no user {username!r}")
        user = _user(row)
        if not user.active:
            raise UserError(f"user {username!r} is not active")
        expires = _now() + timedelta(days=expires_in_days) if expires_in_days else None
        result = connection.execute(
            insert(tables.api_tokens).values(
                user_id=user.user_id,
                token_hash=_digest(token),
                label=label[:100],
                created_at=_now(),
                expires_at=expires,
            )
        )
        audit.record(
            connection,
            actor,
            "issue_token",
            "user",
            username,
            igo_ids=[user.igo_id] if user.igo_id else [],
            after={"token_id": int(result.inserted_primary_key[0])},  # type: ignore[index]
            label=label,
            expires_at=expires,
        )
    return token


def disable_user(db: Database, username: str, *, actor: str = "cli") -> tuple[int, int]:
    """Stop a user at once: no more logins, its API tokens revoked, its open sessions ended (rows are kept).

    Returns the numbers of tokens revoked and sessions ended."""
    u, t, s = tables.users, tables.api_tokens, tables.sessions
    now = _now()
    with db.unit_of_work() as connection:
        row = connection.execute(select(u).where(u.c.username == username)).first()
        if row is None:
            raise UserError(f"no user {username!r}")
        user = _user(row)
        connection.execute(update(u).where(u.c.user_id == user.user_id).values(active=False))
        tokens = connection.execute(
            update(t).where(t.c.user_id == user.user_id, t.c.revoked_at.is_(None)).values(revoked_at=now)
        ).rowcount
        sessions = connection.execute(
            update(s).where(s.c.user_id == user.user_id, s.c.ended_at.is_(None)).values(ended_at=now)
        ).rowcount
        audit.record(
            connection,
            actor,
            "disable_user",
            "user",
            username,
            igo_ids=[user.igo_id] if user.igo_id else [],
            before={"active": user.active},
            after={"active": False},
            tokens_revoked=tokens,
            sessions_ended=sessions,
        )
    return int(tokens), int(sessions)


def _active_user(connection: Connection, user_id: int) -> User | None:
    row = connection.execute(select(tables.users).where(tables.users.c.user_id == user_id)).first()
    user = _user(row) if row else None
    return user if user is not None and user.active else None


def principal_for_token(db: Database, token: str) -> Principal | None:
    """The principal behind a bearer token, or ``None`` for an unknown, revoked or expired token."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    t = tables.api_tokens
    with db.unit_of_work() as connection:
        row = connection.execute(
            select(t.c.user_id, t.c.expires_at, t.c.revoked_at).where(t.c.token_hash == _digest(token))
        ).first()
        if row is None or row.revoked_at is not None:
            return None
        if row.expires_at is not None and _aware(row.expires_at) <= _now():
            return None
        user = _active_user(connection, int(row.user_id))
    return user.principal if user else None


def login(db: Database, username: str, password: str, *, hours: int = SESSION_HOURS) -> tuple[str, Principal]:
    """Check a password and open a web session; returns the session secret (for the cookie) and principal."""
    with db.unit_of_work() as connection:
        row = connection.execute(select(tables.users).where(tables.users.c.username == username)).first()
        stored = row._mapping["password_hash"] if row is not None else None
        try:
            _hasher.verify(stored or _DUMMY_HASH, password)
            verified = stored is not None
        except (VerificationError, InvalidHashError):
            verified = False
        user = _user(row) if row is not None else None
        refused = not verified or user is None or not user.active
        if refused:
            audit.record(
                connection,
                "anonymous",
                "login_failed",
                "user",
                username[:100],
                igo_ids=[user.igo_id] if user and user.igo_id else [],
            )
    if refused or user is None:  # the failed attempt is committed above, then refused
        raise AuthenticationError("wrong user name or password")
    with db.unit_of_work() as connection:
        if _hasher.check_needs_rehash(stored or ""):
            connection.execute(
                update(tables.users)
                .where(tables.users.c.user_id == user.user_id)
                .values(password_hash=_hasher.hash(password))
            )
        secret = secrets.token_urlsafe(32)
        result = connection.execute(
            insert(tables.sessions).values(
                user_id=user.user_id,
                token_hash=_digest(secret),
                created_at=_now(),
                expires_at=_now() + timedelta(hours=hours),
            )
        )
        audit.record(
            connection,
            username,
            "login",
            "session",
            str(result.inserted_primary_key[0]),  # type: ignore[index]
            igo_ids=[user.igo_id] if user.igo_id else [],
        )
    return secret, user.principal


def principal_for_session(db: Database, secret: str) -> Principal | None:
    """The principal of a live session cookie, or ``None`` (unknown, ended or expired)."""
    if not secret or len(secret) > 200:
        return None
    s = tables.sessions
    with db.unit_of_work() as connection:
        row = connection.execute(
            select(s.c.user_id, s.c.expires_at, s.c.ended_at).where(s.c.token_hash == _digest(secret))
        ).first()
        if row is None or row.ended_at is not None or _aware(row.expires_at) <= _now():
            return None
        user = _active_user(connection, int(row.user_id))
    return user.principal if user else None


def logout(db: Database, secret: str, principal: Principal) -> bool:
    """End the session of this cookie; returns whether there was a live one."""
    s = tables.sessions
    with db.unit_of_work() as connection:
        row = connection.execute(
            select(s.c.session_id).where(s.c.token_hash == _digest(secret), s.c.ended_at.is_(None))
        ).first()
        if row is None:
            return False
        connection.execute(update(s).where(s.c.session_id == row.session_id).values(ended_at=_now()))
        audit.record(
            connection,
            principal.username,
            "logout",
            "session",
            str(row.session_id),
            igo_ids=[principal.igo_id] if principal.igo_id else [],
        )
    return True


def csrf_token(session_secret: str) -> str:
    """The anti-forgery token of a session: forms and scripts of the web UI send it back on every write.

    Derived from the session secret (which a cross-site attacker cannot read), so nothing extra is stored.
    """
    return hmac.new(session_secret.encode("utf-8"), b"integraal-csrf", hashlib.sha256).hexdigest()


def check_csrf(session_secret: str, token: str | None) -> bool:
    return token is not None and hmac.compare_digest(csrf_token(session_secret), token)
