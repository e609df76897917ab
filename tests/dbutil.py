"""The one door to a test's database: a SQLite file by default, a fresh PostgreSQL database with
``--database=postgres`` (or ``INTEGRAAL_TEST_DATABASE=postgres``).

Every fixture or test that needs a database of its own gets it here, so the whole suite runs on either database.
On PostgreSQL each database is a copy of a template (``CREATE DATABASE ... TEMPLATE``) that has the migrations
applied once per test process, which takes about a tenth of a second; the base URL
(``$INTEGRAAL_TEST_POSTGRES_URL``, a role that may create databases) is only used to create and drop them. Names
carry the process id, so parallel workers (pytest-xdist) and parallel runs on one server never meet; ``release``
drops a database when its fixture ends and the end of the session drops whatever is left.
"""

from __future__ import annotations

import itertools
import os
import re
import sqlite3
import time
from contextlib import closing
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, make_url, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError

from integraal.store.database import Database

BACKENDS = ("sqlite", "postgres")
POSTGRES_URL_VARIABLE = "INTEGRAAL_TEST_POSTGRES_URL"
PREFIX = "itest_"

_backend = "sqlite"
_admin: Engine | None = None
_template: str | None = None
_created: list[str] = []  # PostgreSQL databases of this process not yet dropped
_counter = itertools.count(1)


def configure(backend: str) -> None:
    """Called once by ``tests/conftest.py`` with the value of ``--database``."""
    global _backend
    if backend not in BACKENDS:
        raise ValueError(f"unknown test database {backend!r}: one of {', '.join(BACKENDS)}")
    if backend == "postgres" and not os.environ.get(POSTGRES_URL_VARIABLE):
        raise ValueError(
            f"--database=postgres needs ${POSTGRES_URL_VARIABLE}: a PostgreSQL URL whose role may create databases, "
            "e.g. postgresql+psycopg://integraal:secret@127.0.0.1:5432/integraal"
        )
    _backend = backend


def backend() -> str:
    """``sqlite`` or ``postgres``: the database this test run uses."""
    return _backend


def is_postgres() -> bool:
    return _backend == "postgres"


def base_url() -> URL:
    return make_url(os.environ[POSTGRES_URL_VARIABLE])


def fresh_url(folder: Path, name: str, *, migrate: bool = False) -> str:
    """The URL (SQLite: the file path) of a new database of its own: empty, or at the newest schema revision."""
    if not is_postgres():
        path = folder / f"{name}.db"
        if migrate:
            database = Database(str(path))
            database.migrate()
            database.dispose()
        return str(path)
    return _create(_name(name), template=_migrated_template() if migrate else "template0")


def fresh_database(folder: Path, name: str, *, migrate: bool = True) -> Database:
    """A new database of its own, migrated to the newest revision unless ``migrate=False``."""
    if not is_postgres():
        database = Database(str(folder / f"{name}.db"))
        if migrate:
            database.migrate()
        return database
    return Database(fresh_url(folder, name, migrate=migrate))


def clone_database(source: Database, folder: Path, name: str) -> Database:
    """A private copy of ``source`` with every row (its connections are closed first)."""
    source.dispose()
    if not is_postgres():
        # SQLite's online backup copies a consistent snapshot, write-ahead log included, whoever else has the file
        # open (a plain file copy relies on the checkpoint at close, which another open connection prevents).
        target = folder / f"{name}.db"
        with (
            closing(sqlite3.connect(make_url(source.url).database or "")) as origin,
            closing(sqlite3.connect(target)) as copy,
        ):
            origin.backup(copy)
        return Database(str(target))
    return Database(_create(_name(name), template=_database_name(source.url)))


def unreachable_url(folder: Path) -> str:
    """A database URL nothing answers on."""
    if not is_postgres():
        return str(folder / "no" / "such" / "folder" / "x.db")
    return base_url().set(database=f"{PREFIX}no_such_database").render_as_string(hide_password=False)


def release(target: Database | str) -> None:
    """Close a test database and, on PostgreSQL, drop it (SQLite files go with the test's folder)."""
    if isinstance(target, Database):
        target.dispose()
        url = target.url
    else:
        url = target
    if is_postgres() and "://" in url:
        _drop(_database_name(url))


def release_all() -> None:
    """End of the session: drop every database this process made, the template last."""
    global _template, _admin
    for name in list(_created):
        _drop(name)
    if _template is not None:
        _drop(_template)
        _template = None
    if _admin is not None:
        _admin.dispose()
        _admin = None


# --- PostgreSQL -----------------------------------------------------------------------------------------


def _name(label: str) -> str:
    clean = re.sub(r"[^a-z0-9_]", "_", label.lower())
    return f"{PREFIX}{os.getpid()}_{next(_counter)}_{clean}"[:63]


def _database_name(url: str) -> str:
    return make_url(url).database or ""


def _admin_engine() -> Engine:
    global _admin
    if _admin is None:
        _admin = create_engine(base_url(), isolation_level="AUTOCOMMIT", pool_size=1)
        _drop_leftovers(_admin)
    return _admin


def _create(name: str, template: str) -> str:
    with _admin_engine().connect() as connection:
        if template != "template0":
            # A template must have no sessions; anything still connected to it is a leftover of the test before.
            _terminate(connection, template)
        connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    _created.append(name)
    return base_url().set(database=name).render_as_string(hide_password=False)


def _drop(name: str) -> None:
    with _admin_engine().connect() as connection:
        _drop_with(connection, name)
    if name in _created:
        _created.remove(name)


def _drop_with(connection: Connection, name: str) -> None:
    """Drop a database, ending the sessions the test left open on it first. Not ``WITH (FORCE)``: that fails on
    an autovacuum worker (the server's own, which this role may not end); a plain DROP waits for it to stop."""
    for attempt in range(1, 6):
        _terminate(connection, name)
        try:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            return
        except DBAPIError as error:
            if getattr(error.orig, "sqlstate", None) != "55006" or attempt == 5:  # object_in_use
                raise
            time.sleep(0.2 * attempt)


def _terminate(connection: Connection, name: str) -> None:
    """End this role's sessions on a database (sessions of other roles, e.g. autovacuum, are not ours to end)."""
    connection.execute(
        text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = :name AND pid <> pg_backend_pid() AND usename = current_user"
        ),
        {"name": name},
    )


def _migrated_template() -> str:
    """This process's template database: the migrations applied once, then copied for every test."""
    global _template
    if _template is None:
        name = f"{PREFIX}{os.getpid()}_template"
        url = _create(name, template="template0")
        _created.remove(name)
        database = Database(url)
        database.migrate()
        database.dispose()
        _template = name
    return _template


def _drop_leftovers(admin: Engine) -> None:
    """Databases of earlier runs on this machine that ended without cleaning up (their process is gone)."""
    if base_url().host not in (None, "", "localhost", "127.0.0.1", "::1"):
        return
    with admin.connect() as connection:
        names = connection.execute(
            text("SELECT datname FROM pg_database WHERE datname LIKE :prefix"), {"prefix": f"{PREFIX}%"}
        ).scalars()
        for name in list(names):
            match = re.match(rf"{PREFIX}(\d+)_", name)
            if match and not _alive(int(match.group(1))):
                _drop_with(connection, name)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
