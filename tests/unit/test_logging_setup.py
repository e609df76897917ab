"""Logs as JSON lines (or text) that carry their extra fields and never a BSN."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from integraal.config import ConfigError
from integraal.logging_setup import configure_from_config, configure_logging, redact

BSN = "111222333"  # passes the 11-test
NOT_BSN = "123456789"  # fails it


@pytest.fixture
def restore_root() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def lines(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


def test_json_lines_carry_time_level_logger_message_and_extra_fields(restore_root: None) -> None:
    stream = io.StringIO()
    configure_logging("INFO", json=True, stream=stream)
    log = logging.getLogger("integraal.test")
    log.debug("not shown")
    log.info("imported %d rows", 12, extra={"file": "activities.csv", "rejected": 0, "detail": {"igo": "IGO-RIV"}})
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("failed")
    first, second = (json.loads(line) for line in lines(stream) if line.startswith("{"))
    assert first["level"] == "INFO" and first["logger"] == "integraal.test"
    assert first["message"] == "imported 12 rows"
    assert first["time"].endswith("Z") and first["time"][:4].isdigit()
    assert (first["file"], first["rejected"], first["detail"]) == ("activities.csv", 0, {"igo": "IGO-RIV"})
    assert second["level"] == "ERROR" and "ValueError: boom" in second["exception"]
    assert "not shown" not in stream.getvalue()


def test_a_bsn_is_never_written(restore_root: None) -> None:
    stream = io.StringIO()
    configure_logging("DEBUG", json=True, stream=stream)
    log = logging.getLogger("integraal.test")
    log.info("GET /api/pregnancies?search=%s", BSN, extra={"bsn": "anything", "note": f"bsn {BSN}", "n": int(BSN)})
    try:
        raise RuntimeError(f"[parameters: ('{BSN}', 'Z-0001')]")
    except RuntimeError:
        log.exception("insert failed")
    log.info("amount %s", NOT_BSN)
    text = stream.getvalue()
    assert BSN not in text
    entry = json.loads(lines(stream)[0])
    assert entry["message"] == "GET /api/pregnancies?search=[BSN]"
    assert (entry["bsn"], entry["note"], entry["n"]) == ("[redacted]", "bsn [BSN]", "[BSN]")
    assert "[BSN]" in json.loads(lines(stream)[1])["exception"]
    assert NOT_BSN in text  # only numbers that pass the 11-test are taken for BSNs
    assert redact(f"a{BSN}1 {BSN}") == f"a{BSN}1 [BSN]"  # longer digit runs are not BSNs


def test_text_format_and_reconfiguring_replaces_only_its_own_handler(restore_root: None) -> None:
    other = logging.NullHandler()
    logging.getLogger().addHandler(other)
    first = io.StringIO()
    configure_logging("INFO", json=False, stream=first)
    second = io.StringIO()
    configure_logging("WARNING", json=False, stream=second)
    log = logging.getLogger("integraal.test")
    log.warning("disk %s full", "nearly", extra={"free_mb": 12, "bsn_hint": BSN})
    log.info("quiet")
    assert first.getvalue() == ""
    (line,) = lines(second)
    assert " WARNING integraal.test: disk nearly full free_mb=12 bsn_hint=[BSN]" in line
    assert other in logging.getLogger().handlers


def test_format_and_level_from_the_environment_or_the_options(
    restore_root: None, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("INTEGRAAL_CONFIG", raising=False)
    monkeypatch.setenv("INTEGRAAL_LOG_FORMAT", "json")
    monkeypatch.setenv("INTEGRAAL_LOG_LEVEL", "error")
    handler = configure_from_config()
    assert isinstance(handler.formatter, logging.Formatter) and type(handler.formatter).__name__ == "JsonFormatter"
    assert logging.getLogger().level == logging.ERROR
    handler = configure_from_config("debug", "text")  # options win
    assert type(handler.formatter).__name__ == "TextFormatter" and logging.getLogger().level == logging.DEBUG
    monkeypatch.delenv("INTEGRAAL_LOG_LEVEL")
    configure_from_config(default_level="INFO")
    assert logging.getLogger().level == logging.INFO
    with pytest.raises(ConfigError, match="--log-format: expected one of text, json"):
        configure_from_config(log_format="xml")


def test_cli_options_choose_json_logs(restore_root: None, monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    from typer.testing import CliRunner

    from integraal.cli.main import app

    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        app, ["--log-format", "json", "--log-level", "info", "init", "--db", str(tmp_path / "x.db")]
    )
    assert result.exit_code == 0, result.output
    entries = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert any(entry["logger"].startswith("alembic") for entry in entries)
    bad = CliRunner().invoke(app, ["--log-level", "loud", "init", "--db", str(tmp_path / "x.db")])
    assert bad.exit_code == 2 and "--log-level: expected one of" in bad.output
