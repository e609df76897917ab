"""Settings of one installation, from environment variables and an optional TOML file: one place for the CLI
and the API alike.

Precedence per key: the environment variable, then the config file, then the default. The file is
``$INTEGRAAL_CONFIG`` (which must exist) or else ``./integraal.toml`` (when there is one). It holds flat keys::

    database_url = "/var/lib/integraal/integraal.db"   # a SQLite file path or a SQLAlchemy URL
    pseudonym_key = "…"                                 # a secret: chmod 600 the file
    secure_cookies = true
    log_format = "json"                                 # or "text"
    log_level = "INFO"

A relative SQLite path in the file is taken relative to the file's folder, so the file means the same
database wherever the command is run from. A bad file or value raises :class:`ConfigError` naming the file
(or variable) and the key. See ``docs/operations.md``.
"""

from __future__ import annotations

import logging
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

CONFIG_ENV = "INTEGRAAL_CONFIG"
DEFAULT_CONFIG_FILE = "integraal.toml"

ENV_VARS: dict[str, str] = {
    "database_url": "INTEGRAAL_DATABASE_URL",
    "pseudonym_key": "INTEGRAAL_PSEUDONYM_KEY",
    "secure_cookies": "INTEGRAAL_SECURE_COOKIES",
    "log_format": "INTEGRAAL_LOG_FORMAT",
    "log_level": "INTEGRAAL_LOG_LEVEL",
}
"""Every key and the environment variable that overrides it."""

LOG_FORMATS = ("text", "json")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off"})


class ConfigError(ValueError):
    """A config file or variable that cannot be used; the message names the file (or variable) and the key."""


@dataclass(frozen=True, slots=True)
class Config:
    """The settings in force. ``None`` means "not set": the user of the value picks its default
    (``integraal.db``; a random per-process pseudonym key; ``WARNING`` for commands, ``INFO`` for the server).
    ``sources`` says per key where the value came from (``env:NAME``, ``file:PATH`` or ``default``)."""

    database_url: str | None = None
    pseudonym_key: str | None = field(default=None, repr=False)
    secure_cookies: bool = False
    log_format: str = "text"
    log_level: str | None = None
    file: Path | None = None
    sources: Mapping[str, str] = field(default_factory=dict)


def config_file(environ: Mapping[str, str] | None = None, cwd: Path | None = None) -> Path | None:
    """The config file in use: ``$INTEGRAAL_CONFIG`` (an error if missing) or ``./integraal.toml`` if present."""
    environ = os.environ if environ is None else environ
    named = environ.get(CONFIG_ENV, "").strip()
    if named:
        path = Path(named).expanduser()
        if not path.is_file():
            raise ConfigError(f"{CONFIG_ENV}={named}: no such file")
        return path
    local = (cwd or Path.cwd()) / DEFAULT_CONFIG_FILE
    return local if local.is_file() else None


def load_config(
    environ: Mapping[str, str] | None = None, *, path: Path | None = None, cwd: Path | None = None
) -> Config:
    """The settings: environment over ``path`` (default: :func:`config_file`) over defaults."""
    environ = os.environ if environ is None else environ
    path = path if path is not None else config_file(environ, cwd)
    from_file = _read_file(path) if path is not None else {}
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for key, variable in ENV_VARS.items():
        raw = environ.get(variable)
        if raw is not None and raw.strip() != "":
            values[key] = _parse(key, raw.strip(), variable)
            sources[key] = f"env:{variable}"
        elif key in from_file:
            values[key] = from_file[key]
            sources[key] = f"file:{path}"
        else:
            sources[key] = "default"
    return Config(**values, file=path, sources=sources)


def parse_log_format(value: str, where: str) -> str:
    """``json`` or ``text`` (any case), else :class:`ConfigError` naming ``where``."""
    normal = value.strip().lower()
    if normal not in LOG_FORMATS:
        raise ConfigError(f"{where}: expected one of {', '.join(LOG_FORMATS)}, got {value!r}")
    return normal


def parse_log_level(value: str, where: str) -> str:
    """A logging level name (any case), upper-cased, else :class:`ConfigError` naming ``where``."""
    normal = value.strip().upper()
    if normal not in LOG_LEVELS:
        raise ConfigError(f"{where}: expected one of {', '.join(LOG_LEVELS)}, got {value!r}")
    return normal


def _parse(key: str, raw: str, where: str) -> Any:
    """A value given as text (an environment variable)."""
    if key == "secure_cookies":
        lowered = raw.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ConfigError(f"{where}: expected 1/true/yes/on or 0/false/no/off, got {raw!r}")
    if key == "log_format":
        return parse_log_format(raw, where)
    if key == "log_level":
        return parse_log_level(raw, where)
    return raw


def _read_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file ({exc.strerror or exc})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    values: dict[str, Any] = {}
    for key, value in data.items():
        where = f"{path}: key {key!r}"
        if key not in ENV_VARS:
            raise ConfigError(f"{path}: unknown key {key!r} (known keys: {', '.join(ENV_VARS)})")
        if key == "secure_cookies":
            if not isinstance(value, bool):
                raise ConfigError(f"{where}: expected true or false, got {value!r}")
            values[key] = value
            continue
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{where}: expected a non-empty string, got {value!r}")
        if key == "database_url":
            values[key] = _relative_to(path, value.strip())
        elif key == "log_format":
            values[key] = parse_log_format(value, where)
        elif key == "log_level":
            values[key] = parse_log_level(value, where)
        else:
            values[key] = value
    if "pseudonym_key" in values and _readable_by_others(path):
        log.warning("config file %s holds pseudonym_key but others may read it: chmod 600 it", path)
    return values


def _relative_to(path: Path, database: str) -> str:
    """A relative SQLite file path in a config file means relative to that file's folder."""
    if "://" in database:
        return database
    location = Path(database).expanduser()
    return str(location if location.is_absolute() else path.parent / location)


def _readable_by_others(path: Path) -> bool:
    try:
        return os.name == "posix" and bool(path.stat().st_mode & 0o077)
    except OSError:
        return False
