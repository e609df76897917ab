"""Configuration of the web adapters, from the environment unless given explicitly."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from integraal.services.access import pseudonym_key_from_env
from integraal.services.users import SESSION_HOURS


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True, slots=True)
class Settings:
    """``database_url``: ``$INTEGRAAL_DATABASE_URL`` (see ``store.database``); ``pseudonym_key``:
    ``$INTEGRAAL_PSEUDONYM_KEY``; ``secure_cookies``: ``$INTEGRAAL_SECURE_COOKIES`` (set it behind HTTPS)."""

    database_url: str | None = None
    pseudonym_key: bytes = field(default_factory=pseudonym_key_from_env, repr=False)
    session_hours: int = SESSION_HOURS
    secure_cookies: bool = field(default_factory=lambda: _flag("INTEGRAAL_SECURE_COOKIES"))
    max_upload_bytes: int = 200 * 1024 * 1024
