import os
import sys
from pathlib import Path

import pytest

# Test helpers (builders) live next to the tests that use them.
sys.path.insert(0, str(Path(__file__).parent / "unit"))

import dbutil  # tests/ is on the path: this file's folder


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--database",
        choices=dbutil.BACKENDS,
        default=os.environ.get("INTEGRAAL_TEST_DATABASE") or "sqlite",
        help="The database every test runs on (default $INTEGRAAL_TEST_DATABASE, else sqlite). postgres needs "
        f"${dbutil.POSTGRES_URL_VARIABLE}: a role that may create databases; each test gets a fresh one.",
    )


def pytest_configure(config: pytest.Config) -> None:
    try:
        dbutil.configure(config.getoption("--database"))
    except ValueError as error:
        raise pytest.UsageError(str(error)) from None


def pytest_report_header(config: pytest.Config) -> str:
    if not dbutil.is_postgres():
        return "database: sqlite"
    return f"database: postgres ({dbutil.base_url().render_as_string(hide_password=True)})"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    backend = dbutil.backend()
    for item in items:
        if backend == "sqlite" and item.get_closest_marker("postgres"):
            item.add_marker(pytest.mark.skip(reason="PostgreSQL only: run with --database=postgres"))
        marker = item.get_closest_marker("sqlite_only")
        if backend == "postgres" and marker:
            why = marker.kwargs.get("reason") or (marker.args[0] if marker.args else "")
            item.add_marker(pytest.mark.skip(reason=f"SQLite only: {why}" if why else "SQLite only"))


def pytest_sessionfinish(session: pytest.Session) -> None:
    if dbutil.is_postgres():
        dbutil.release_all()
