"""Settings: environment over config file over defaults, and a bad file named with its key."""

from __future__ import annotations

from pathlib import Path

import pytest

from integraal.api.settings import Settings
from integraal.config import CONFIG_ENV, ConfigError, config_file, load_config
from integraal.store.database import database_url

FULL_FILE = """\
database_url = "data/from-file.db"
pseudonym_key = "file-key"
secure_cookies = true
log_format = "json"
log_level = "debug"
"""


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No INTEGRAAL_* variable set, and a working folder without integraal.toml."""
    for variable in (
        CONFIG_ENV,
        "INTEGRAAL_DATABASE_URL",
        "INTEGRAAL_PSEUDONYM_KEY",
        "INTEGRAAL_SECURE_COOKIES",
        "INTEGRAAL_LOG_FORMAT",
        "INTEGRAAL_LOG_LEVEL",
    ):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return path


def test_defaults_without_file_or_environment(clean_env: Path) -> None:
    config = load_config()
    assert config.file is None
    assert (config.database_url, config.pseudonym_key, config.secure_cookies) == (None, None, False)
    assert (config.log_format, config.log_level) == ("text", None)
    assert set(config.sources.values()) == {"default"}
    assert database_url() == "sqlite:///integraal.db"


def test_file_over_defaults_and_relative_database_path_is_next_to_the_file(clean_env: Path) -> None:
    folder = clean_env / "etc"
    folder.mkdir()
    path = write(folder / "integraal.toml", FULL_FILE)
    config = load_config({CONFIG_ENV: str(path)})
    assert config.file == path
    assert config.database_url == str(folder / "data" / "from-file.db")
    assert config.pseudonym_key == "file-key"
    assert config.secure_cookies is True
    assert (config.log_format, config.log_level) == ("json", "DEBUG")
    assert config.sources["log_level"] == f"file:{path}"


def test_environment_over_file(clean_env: Path) -> None:
    path = write(clean_env / "integraal.toml", FULL_FILE)  # found in the working folder without INTEGRAAL_CONFIG
    environ = {
        "INTEGRAAL_DATABASE_URL": "postgresql://u@db/integraal",
        "INTEGRAAL_PSEUDONYM_KEY": "env-key",
        "INTEGRAAL_SECURE_COOKIES": "0",
        "INTEGRAAL_LOG_FORMAT": "TEXT",
        "INTEGRAAL_LOG_LEVEL": "warning",
    }
    config = load_config(environ)
    assert config.file == path
    assert config.database_url == "postgresql://u@db/integraal"
    assert config.pseudonym_key == "env-key"
    assert config.secure_cookies is False
    assert (config.log_format, config.log_level) == ("text", "WARNING")
    assert config.sources["database_url"] == "env:INTEGRAAL_DATABASE_URL"
    # An empty variable counts as not set: the file's value stands.
    assert load_config({"INTEGRAAL_LOG_LEVEL": ""}).log_level == "DEBUG"


def test_cli_and_api_see_the_same_settings(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(clean_env / "integraal.toml", FULL_FILE)
    assert database_url() == f"sqlite:///{clean_env / 'data' / 'from-file.db'}"
    settings = Settings()
    assert settings.pseudonym_key == b"file-key" and settings.secure_cookies is True
    monkeypatch.setenv("INTEGRAAL_DATABASE_URL", "other.db")
    monkeypatch.setenv("INTEGRAAL_PSEUDONYM_KEY", "env-key")
    assert database_url() == "sqlite:///other.db"
    assert Settings().pseudonym_key == b"env-key"
    assert database_url("given.db") == "sqlite:///given.db"  # an explicit --db wins over both


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('log_level = "LOUD"', "key 'log_level': expected one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got 'LOUD'"),
        ('log_format = "xml"', "key 'log_format': expected one of text, json, got 'xml'"),
        ('secure_cookies = "yes"', "key 'secure_cookies': expected true or false, got 'yes'"),
        ("database_url = 3", "key 'database_url': expected a non-empty string, got 3"),
        ('databse_url = "x.db"', "unknown key 'databse_url'"),
        ("database_url = ", "not valid TOML"),
    ],
)
def test_a_bad_file_names_the_file_and_the_key(clean_env: Path, text: str, expected: str) -> None:
    path = write(clean_env / "bad.toml", text + "\n")
    with pytest.raises(ConfigError) as caught:
        load_config({CONFIG_ENV: str(path)})
    assert str(caught.value).startswith(str(path))
    assert expected in str(caught.value)


def test_bad_environment_values_and_a_missing_named_file(clean_env: Path) -> None:
    with pytest.raises(ConfigError, match="INTEGRAAL_SECURE_COOKIES: expected 1/true/yes/on"):
        load_config({"INTEGRAAL_SECURE_COOKIES": "maybe"})
    with pytest.raises(ConfigError, match="INTEGRAAL_LOG_FORMAT: expected one of text, json"):
        load_config({"INTEGRAAL_LOG_FORMAT": "xml"})
    with pytest.raises(ConfigError, match=f"{CONFIG_ENV}=.*missing.toml: no such file"):
        config_file({CONFIG_ENV: str(clean_env / "missing.toml")})


def test_a_readable_key_file_is_warned_about(clean_env: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = clean_env / "integraal.toml"
    path.write_text('pseudonym_key = "k"\n', encoding="utf-8")
    path.chmod(0o644)
    load_config()
    assert "chmod 600" in caplog.text
