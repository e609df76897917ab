"""Configuration of the web adapters, from the environment and the config file unless given explicitly."""

from __future__ import annotations

from dataclasses import dataclass, field

from integraal.config import load_config
from integraal.services.access import pseudonym_key_from_env
from integraal.services.users import SESSION_HOURS


def _pseudonym_key() -> bytes:
    key = load_config().pseudonym_key
    return key.encode("utf-8") if key else pseudonym_key_from_env()


@dataclass(frozen=True, slots=True)
class Settings:
    """Defaults from ``integraal.config`` (environment over ``integraal.toml``): ``database_url``:
    ``$INTEGRAAL_DATABASE_URL`` (resolved by ``store.database``); ``pseudonym_key``: ``$INTEGRAAL_PSEUDONYM_KEY``
    (without one, a random key per process); ``secure_cookies``: ``$INTEGRAAL_SECURE_COOKIES`` (set it behind
    HTTPS)."""

    database_url: str | None = None
    pseudonym_key: bytes = field(default_factory=_pseudonym_key, repr=False)
    session_hours: int = SESSION_HOURS
    secure_cookies: bool = field(default_factory=lambda: load_config().secure_cookies)
    max_upload_bytes: int = 200 * 1024 * 1024
