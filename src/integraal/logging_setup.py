"""Logs: plain text for people or JSON lines for a log collector, and never a BSN.

:func:`configure_logging` puts one handler on the root logger (replacing the one it put there before, leaving
any other handler alone) that writes to standard error. A JSON line carries ``time`` (UTC, ISO 8601),
``level``, ``logger``, ``message``, every extra field given with ``log.info(..., extra={...})`` and, for an
exception, ``exception``. The format and level come from ``$INTEGRAAL_LOG_FORMAT`` / ``$INTEGRAAL_LOG_LEVEL``
or the config file (``integraal.config``), or the CLI's ``--log-format`` / ``--log-level``.

Code must not log a BSN (log the pseudonym of ``services.access`` if a woman has to be recognisable). As a
safety net, any 9-digit number that passes the BSN 11-test — in the message, an extra field or an exception
(SQL errors quote their parameters), or a URL in the server's access log — is written as ``[BSN]``, and an
extra field named like a BSN is written as ``[redacted]``.
"""

from __future__ import annotations

import json as _json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import IO, Any

from integraal.config import load_config, parse_log_format, parse_log_level
from integraal.domain.identifiers import is_valid_bsn

_STANDARD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",  # uvicorn's copy of the message with terminal colours
}
_NINE_DIGITS = re.compile(r"(?<!\d)\d{9}(?!\d)")
_BSN_KEYS = frozenset({"bsn", "burgerservicenummer", "client_bsn"})


def redact(text: str) -> str:
    """``text`` with every 9-digit number that passes the BSN 11-test replaced by ``[BSN]``."""
    return _NINE_DIGITS.sub(lambda match: "[BSN]" if is_valid_bsn(match.group()) else match.group(), text)


def _redact_value(key: str, value: Any) -> Any:
    if key.lower() in _BSN_KEYS:
        return "[redacted]"
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, int) and not isinstance(value, bool) and is_valid_bsn(str(value)):
        return "[BSN]"
    if isinstance(value, dict):
        return {k: _redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value("", v) for v in value]
    return value


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {
        key: value for key, value in vars(record).items() if key not in _STANDARD_ATTRIBUTES and not key.startswith("_")
    }


def _time(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the extra fields, the exception if any."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _time(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in _extras(record).items():
            entry.setdefault(key, value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        safe = {key: _redact_value(key, value) for key, value in entry.items()}
        return _json.dumps(safe, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """``time level logger: message key=value …`` on one line (plus a traceback), BSNs redacted."""

    def format(self, record: logging.LogRecord) -> str:
        line = f"{_time(record)} {record.levelname:<7} {record.name}: {record.getMessage()}"
        extras = _extras(record)
        if extras:
            line += " " + " ".join(f"{key}={_redact_value(key, value)}" for key, value in extras.items())
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        if record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
        return redact(line)


class _StandardErrorHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time (test runners and Typer's runner swap it)."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        super().__init__(stream)  # sets self.stream (to sys.stderr when None): undone below
        self._fixed = stream

    @property
    def stream(self) -> IO[str]:
        return self._fixed if self._fixed is not None else sys.stderr

    @stream.setter
    def stream(self, value: IO[str] | None) -> None:
        self._fixed = value


def configure_logging(
    level: str | int = "WARNING", json: bool = False, *, stream: IO[str] | None = None
) -> logging.Handler:
    """Log at ``level`` and above to standard error (or ``stream``), as JSON lines if ``json``.

    Idempotent: a second call replaces the handler of the first. Returns the handler."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_integraal", False):
            root.removeHandler(handler)
    handler = _StandardErrorHandler(stream)
    handler.setFormatter(JsonFormatter() if json else TextFormatter())
    handler._integraal = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level if isinstance(level, int) else parse_log_level(level, "log level"))
    return handler


def configure_from_config(
    level: str | None = None, log_format: str | None = None, *, default_level: str = "WARNING"
) -> logging.Handler:
    """:func:`configure_logging` with ``level`` / ``log_format`` if given (CLI options), else the settings of
    ``integraal.config``, else ``default_level`` and text. Raises ``ConfigError`` for a bad value."""
    config = load_config()
    chosen_level = parse_log_level(level, "--log-level") if level else config.log_level or default_level
    chosen_format = parse_log_format(log_format, "--log-format") if log_format else config.log_format
    return configure_logging(chosen_level, json=chosen_format == "json")


def ensure_logging(default_level: str = "INFO") -> None:
    """Configure logging from the settings unless the process already did (a server started by ``uvicorn
    --factory`` rather than ``integraal serve``)."""
    if not logging.getLogger().handlers:
        configure_from_config(default_level=default_level)
