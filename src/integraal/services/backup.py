"""Use cases: back up the whole database to one file and restore it, checked at both ends.

A backup is two files: the copy itself and ``<copy>.json``, its manifest (format, dialect, SHA-256 and size of
the copy, the schema's Alembic revision, when it was made, by which Integraal, and the row count of every
table). Nothing is restored unless the copy still has that checksum.

SQLite: the online backup API of ``sqlite3`` copies one consistent snapshot while others go on reading and
writing (WAL); the copy gets ``PRAGMA integrity_check``, its revision and its row counts before it is put in
place (under a temporary name first, so a half-written backup never looks like a good one). A restore copies
the backup next to the target under a temporary name, verifies it again (checksum, integrity, row counts,
revision), upgrades an older backup to this code's schema, records the restore in the audit log, and only then
renames it over the target: the database is either the old one or the restored one, never a mix.

PostgreSQL: ``pg_dump --format=custom`` taken on the snapshot in which the row counts are made, and
``pg_restore --clean --if-exists --single-transaction``; credentials go to the tools in the environment
(``PGPASSWORD``), never on the command line.

A restore refuses to replace a database that holds data unless ``force``; refuses a backup whose checksum,
integrity check or row counts fail; and refuses a backup made by a newer Integraal (a schema revision this code
does not know).
"""

from __future__ import annotations

import contextlib
import getpass
import hashlib
import json
import logging
import os
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from sqlalchemy import URL, inspect, make_url, text
from sqlalchemy.exc import SQLAlchemyError

from integraal import __version__
from integraal.services import audit
from integraal.store.database import Database, alembic_config, database_url, head_revision, migration_revisions
from integraal.whole_files import fsync_path, write_whole

log = logging.getLogger(__name__)

MANIFEST_FORMAT = "integraal-backup/1"
DEFAULT_FOLDER = Path("backups")
_CHUNK = 1024 * 1024


class BackupError(Exception):
    """A backup or restore that was not done, and why (the database is unchanged)."""


class TargetNotEmptyError(BackupError):
    """The restore target holds data and ``force`` was not given."""


@dataclass(frozen=True, slots=True)
class BackupReport:
    path: Path
    manifest: Path
    dialect: str
    revision: str
    sha256: str
    size: int
    created_at: datetime
    tables: Mapping[str, int] = field(default_factory=dict)

    @property
    def at_head(self) -> bool:
        """Whether the backed-up schema is at this code's newest revision (else: run ``integraal init``)."""
        return self.revision == head_revision()

    @property
    def rows(self) -> int:
        return sum(self.tables.values())


@dataclass(frozen=True, slots=True)
class RestoreReport:
    database: str
    """The restored database's URL, password hidden."""
    source: Path
    backup_created_at: str
    backup_revision: str
    revision: str
    replaced: bool
    """Whether the target held data that the restore replaced (only with ``force``)."""
    audit_id: int
    tables: Mapping[str, int] = field(default_factory=dict)

    @property
    def upgraded(self) -> bool:
        return self.revision != self.backup_revision

    @property
    def rows(self) -> int:
        return sum(self.tables.values())


def manifest_path(path: Path) -> Path:
    """The manifest that belongs to a backup file: ``<file>.json``."""
    return path.with_name(path.name + ".json")


def backup(db_url: str | None, target: Path | None = None) -> BackupReport:
    """Back up the database at ``db_url`` (default: the configured one) to ``target``: a new file (a name with
    a suffix, such as ``x.db``), or a folder (an existing one, or a name without a suffix) to put a time-stamped
    file in (default ``./backups/``). Never overwrites an existing backup."""
    url = make_url(database_url(db_url))
    created_at = datetime.now(UTC).replace(microsecond=0)
    dialect = url.get_backend_name()
    if dialect == "sqlite":
        source = _sqlite_path(url)
        if not source.is_file():
            raise BackupError(f"No database at {source}: nothing to back up.")
        path = _target_path(target, source.stem, ".db", created_at)
        report = _backup_sqlite(source, path, created_at)
    elif dialect == "postgresql":
        path = _target_path(target, url.database or "integraal", ".dump", created_at)
        report = _backup_postgres(url, path, created_at)
    else:
        raise BackupError(f"Cannot back up a {dialect} database: Integraal backs up SQLite and PostgreSQL.")
    log.info(
        "backup written",
        extra={"backup": str(report.path), "sha256": report.sha256, "revision": report.revision, "rows": report.rows},
    )
    return report


def restore(db_url: str | None, source: Path, force: bool = False, *, actor: str = "cli") -> RestoreReport:
    """Restore the backup ``source`` into the database at ``db_url`` (default: the configured one), upgrade it
    to this code's schema and record the restore in its audit log as ``actor``.

    Refuses (:class:`BackupError`, nothing changed) a damaged backup, one of a newer Integraal, and — unless
    ``force`` — a target that holds data (:class:`TargetNotEmptyError`)."""
    url = make_url(database_url(db_url))
    dialect = url.get_backend_name()
    manifest = verify_backup(source)
    if manifest["dialect"] != dialect:
        raise BackupError(
            f"{source} is a {manifest['dialect']} backup; it cannot be restored into a {dialect} database."
        )
    _check_revision(manifest["revision"], source)
    if dialect == "sqlite":
        report = _restore_sqlite(_sqlite_path(url), source, manifest, force, actor)
    elif dialect == "postgresql":
        report = _restore_postgres(url, source, manifest, force, actor)
    else:  # pragma: no cover - a manifest of another dialect is refused above
        raise BackupError(f"Cannot restore into a {dialect} database.")
    log.info(
        "database restored from a backup",
        extra={
            "backup": str(source),
            "sha256": manifest["sha256"],
            "revision": report.revision,
            "replaced": report.replaced,
            "audit_id": report.audit_id,
        },
    )
    return report


def verify_backup(source: Path) -> dict[str, Any]:
    """The manifest of ``source`` once the file's size and SHA-256 match it; else :class:`BackupError`."""
    if not source.is_file():
        raise BackupError(f"No backup file at {source}.")
    manifest_file = manifest_path(source)
    if not manifest_file.is_file():
        raise BackupError(
            f"{source} has no manifest ({manifest_file.name} next to it): not an Integraal backup, or the manifest "
            "was lost. Without it the copy cannot be checked, so it is not restored."
        )
    try:
        manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BackupError(f"{manifest_file}: unreadable manifest ({exc}).") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        raise BackupError(f"{manifest_file}: not a manifest of format {MANIFEST_FORMAT}.")
    missing = {"dialect", "sha256", "size", "revision", "created_at", "tables"} - set(manifest)
    if missing:
        raise BackupError(f"{manifest_file}: manifest lacks {', '.join(sorted(missing))}.")
    size = source.stat().st_size
    digest = _sha256(source)
    if size != manifest["size"] or digest != manifest["sha256"]:
        raise BackupError(
            f"{source} is damaged or was changed after the backup was made: its SHA-256 is {digest} "
            f"({size} bytes), the manifest says {manifest['sha256']} ({manifest['size']} bytes). Not restored."
        )
    return manifest


# --- SQLite -----------------------------------------------------------------------------------------------


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:" or url.database.startswith("file:"):
        raise BackupError(f"Cannot back up or restore the SQLite database {url}: it needs a file path.")
    return Path(url.database).expanduser()


def _backup_sqlite(source: Path, target: Path, created_at: datetime) -> BackupReport:
    partial = target.with_name(f".{target.name}.partial")
    _remove(partial)
    try:
        # Not read-only: a read-only connection cannot open a WAL database whose -shm is missing. Nothing is written.
        os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))  # only the owner: it holds BSNs
        with (
            contextlib.closing(sqlite3.connect(source, timeout=30)) as reader,
            contextlib.closing(sqlite3.connect(partial)) as copy,
        ):
            reader.backup(copy)  # all pages in one step: one consistent snapshot, writers go on (WAL)
            copy.execute("PRAGMA journal_mode=DELETE")  # a self-contained file, no -wal beside it
        problems, revision, tables = _inspect_sqlite(partial)
        if problems:
            raise BackupError(f"The copy of {source} failed its integrity check: {'; '.join(problems[:5])}")
        if revision is None:
            raise BackupError(f"{source} is not an Integraal database (no schema revision): nothing backed up.")
        if revision not in migration_revisions():
            raise BackupError(
                f"{source} is at schema revision {revision}, which this Integraal ({__version__}) does not know: "
                "back it up with the Integraal that migrated it."
            )
        return _finish(partial, target, "sqlite", revision, tables, created_at, str(source))
    finally:
        _remove(partial)


def _inspect_sqlite(path: Path) -> tuple[list[str], str | None, dict[str, int]]:
    """``(integrity problems, Alembic revision, rows per table)`` of a SQLite file, opened read-only."""
    try:
        with contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as connection:
            problems = [row[0] for row in connection.execute("PRAGMA integrity_check")]
            names = [
                row[0]
                for row in connection.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
                )
            ]
            tables = {name: connection.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()[0] for name in names}
            revision = None
            if "alembic_version" in tables:
                row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
                revision = row[0] if row else None
    except sqlite3.DatabaseError as exc:
        return [f"not a readable SQLite database ({exc})"], None, {}
    return ([] if problems == ["ok"] else problems), revision, tables


def _data_rows_sqlite(path: Path) -> int:
    """Rows in the tables of an existing SQLite file, not counting the schema revision (-1: not a database)."""
    if not path.exists() or path.stat().st_size == 0:
        return 0
    try:
        with contextlib.closing(sqlite3.connect(path, timeout=30)) as connection:
            names = [
                row[0]
                for row in connection.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
                )
            ]
            return sum(
                connection.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()[0]
                for name in names
                if name != "alembic_version"
            )
    except sqlite3.DatabaseError:
        return -1


def _restore_sqlite(target: Path, source: Path, manifest: Mapping[str, Any], force: bool, actor: str) -> RestoreReport:
    existing = _data_rows_sqlite(target)
    if existing and not force:
        what = "is not an SQLite database" if existing < 0 else f"holds data ({existing} rows)"
        raise TargetNotEmptyError(
            f"{target} {what}: a restore would replace it. Restore into an empty database, or pass --force "
            "(take a backup of it first)."
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{target.name}.restore-", dir=target.parent)
    os.close(handle)
    staged = Path(name)
    try:
        shutil.copyfile(source, staged)
        if _sha256(staged) != manifest["sha256"]:
            raise BackupError(f"Copying {source} next to {target} damaged it (checksum differs). Not restored.")
        problems, revision, tables = _inspect_sqlite(staged)
        if problems:
            raise BackupError(f"{source} failed its integrity check: {'; '.join(problems[:5])}. Not restored.")
        if revision != manifest["revision"] or tables != manifest["tables"]:
            raise BackupError(f"{source} does not hold what its manifest says (revision or row counts). Not restored.")
        staged_url = f"sqlite:///{staged}"
        if revision != head_revision():
            command.upgrade(alembic_config(staged_url), "head")
        database = Database(staged_url)
        try:
            with database.unit_of_work() as connection:
                audit_id = audit.record(
                    connection,
                    actor,
                    "restore",
                    "database",
                    source.name,
                    **_audit_detail(source, manifest, existing, force),
                )
            final_revision = database.revision() or ""
        finally:
            database.dispose()
        with contextlib.closing(sqlite3.connect(staged)) as connection:
            connection.execute("PRAGMA journal_mode=DELETE")  # fold the WAL in: one file to rename
        _, _, final_tables = _inspect_sqlite(staged)
        if target.exists():
            _quiesce(target)
            os.chmod(staged, target.stat().st_mode & 0o777)
        fsync_path(staged)
        for suffix in ("-wal", "-shm", "-journal"):  # checkpointed by _quiesce; stale ones would corrupt the new file
            _remove(target.with_name(target.name + suffix))
        os.replace(staged, target)
        fsync_path(target.parent)
    finally:
        for suffix in ("", "-wal", "-shm", "-journal"):
            _remove(staged.with_name(staged.name + suffix))
    return RestoreReport(
        database=f"sqlite:///{target}",
        source=source,
        backup_created_at=str(manifest["created_at"]),
        backup_revision=str(manifest["revision"]),
        revision=final_revision,
        replaced=existing != 0,
        audit_id=audit_id,
        tables=final_tables,
    )


def _quiesce(target: Path) -> None:
    """Fold the target's WAL into it and leave WAL mode, which needs every other connection closed."""
    try:
        with contextlib.closing(sqlite3.connect(target, timeout=5)) as connection:
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            mode = connection.execute("PRAGMA journal_mode=DELETE").fetchone()[0]
    except sqlite3.OperationalError as exc:
        raise BackupError(
            f"{target} is in use ({exc}): stop `integraal serve` and other users of the database, then restore again."
        ) from exc
    except sqlite3.DatabaseError:
        return  # not a database at all (only replaced with force): nothing to fold in
    if mode != "delete":
        raise BackupError(
            f"{target} is in use (still in {mode} mode): stop `integraal serve` and other users of the database, "
            "then restore again."
        )


# --- PostgreSQL -------------------------------------------------------------------------------------------


def pg_environment(url: URL, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for ``pg_dump`` / ``pg_restore``: the URL's host, port, user, password and database as
    ``PG*`` variables (the password never appears in a process list)."""
    env = dict(os.environ if base is None else base)
    parts = {
        "PGHOST": url.host,
        "PGPORT": str(url.port) if url.port else None,
        "PGUSER": url.username,
        "PGPASSWORD": url.password if isinstance(url.password, str) else None,
        "PGDATABASE": url.database,
    }
    query = {key: value if isinstance(value, str) else value[-1] for key, value in url.query.items()}
    parts["PGHOST"] = parts["PGHOST"] or query.get("host")  # a Unix socket folder: ?host=/var/run/postgresql
    for key, variable in (
        ("sslmode", "PGSSLMODE"),
        ("sslrootcert", "PGSSLROOTCERT"),
        ("application_name", "PGAPPNAME"),
    ):
        parts[variable] = query.get(key)
    env.update({variable: value for variable, value in parts.items() if value})
    return env


def pg_dump_command(target: Path, snapshot: str | None = None) -> list[str]:
    """``pg_dump`` to a custom-format archive (the database comes from ``PGDATABASE``)."""
    command_line = [_tool("pg_dump"), "--format=custom", "--no-password", f"--file={target}"]
    if snapshot:
        command_line.append(f"--snapshot={snapshot}")
    return command_line


def pg_restore_command(url: URL, source: Path) -> list[str]:
    """``pg_restore`` of a custom-format archive into the URL's database, all or nothing."""
    return [
        _tool("pg_restore"),
        "--clean",
        "--if-exists",
        "--no-owner",
        "--single-transaction",
        "--exit-on-error",
        "--no-password",
        f"--dbname={url.database}",
        str(source),
    ]


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            f"{name} not found on PATH: install the PostgreSQL client tools (Debian/Ubuntu: apt-get install "
            "postgresql-client), the server's major version or newer."
        )
    return found


def _run(command_line: list[str], env: Mapping[str, str]) -> None:
    result = subprocess.run(command_line, env=dict(env), capture_output=True, text=True, check=False)
    if result.returncode != 0:
        message = (result.stderr or result.stdout).strip()[-2000:]
        raise BackupError(f"{Path(command_line[0]).name} failed (exit {result.returncode}): {message}")


def _open_postgres(url: URL) -> Database:
    try:
        return Database(url.render_as_string(hide_password=False))
    except ImportError as exc:
        raise BackupError(f"No PostgreSQL driver for SQLAlchemy ({exc}): pip install 'psycopg[binary]'.") from exc


def _postgres_tables(database: Database) -> list[str]:
    return sorted(inspect(database.engine).get_table_names())


def _backup_postgres(url: URL, target: Path, created_at: datetime) -> BackupReport:
    partial = target.with_name(f".{target.name}.partial")
    _remove(partial)
    database = _open_postgres(url)
    env = pg_environment(url)
    try:
        # Counts, revision and dump from one snapshot: the manifest describes exactly what the archive holds.
        with database.engine.connect() as connection:
            connection = connection.execution_options(isolation_level="REPEATABLE READ")
            with connection.begin():
                snapshot = connection.execute(text("SELECT pg_export_snapshot()")).scalar_one()
                names = _postgres_tables(database)
                if "alembic_version" not in names:
                    raise BackupError(f"{url.render_as_string()} is not an Integraal database: nothing backed up.")
                revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
                tables = {
                    name: connection.execute(text(f'SELECT COUNT(*) FROM "{name}"')).scalar_one() for name in names
                }
                _run(pg_dump_command(partial, snapshot), env)
        _run([_tool("pg_restore"), "--list", str(partial)], env)  # the archive is readable
        os.chmod(partial, 0o600)
        return _finish(partial, target, "postgresql", revision, tables, created_at, url.render_as_string())
    except SQLAlchemyError as exc:
        raise BackupError(f"Cannot read {url.render_as_string()}: {exc}") from exc
    finally:
        database.dispose()
        _remove(partial)


def _restore_postgres(url: URL, source: Path, manifest: Mapping[str, Any], force: bool, actor: str) -> RestoreReport:
    env = pg_environment(url)
    _run([_tool("pg_restore"), "--list", str(source)], env)
    database = _open_postgres(url)
    try:
        names = _postgres_tables(database)
        with database.engine.connect() as connection:
            existing = sum(
                connection.execute(text(f'SELECT COUNT(*) FROM "{name}"')).scalar_one()
                for name in names
                if name != "alembic_version"
            )
        if existing and not force:
            raise TargetNotEmptyError(
                f"{url.render_as_string()} holds data ({existing} rows): a restore would replace it. Restore into an "
                "empty database, or pass --force (take a backup of it first)."
            )
        _run(pg_restore_command(url, source), env)  # one transaction: all of it or nothing
        database.migrate()
        with database.unit_of_work() as connection:
            audit_id = audit.record(
                connection,
                actor,
                "restore",
                "database",
                source.name,
                **_audit_detail(source, manifest, existing, force),
            )
        revision = database.revision() or ""
        with database.engine.connect() as connection:
            tables = {
                name: connection.execute(text(f'SELECT COUNT(*) FROM "{name}"')).scalar_one()
                for name in _postgres_tables(database)
            }
    except SQLAlchemyError as exc:
        raise BackupError(f"Restoring into {url.render_as_string()} failed: {exc}") from exc
    finally:
        database.dispose()
    return RestoreReport(
        database=url.render_as_string(),
        source=source,
        backup_created_at=str(manifest["created_at"]),
        backup_revision=str(manifest["revision"]),
        revision=revision,
        replaced=existing != 0,
        audit_id=audit_id,
        tables=tables,
    )


# --- shared -----------------------------------------------------------------------------------------------


def _target_path(target: Path | None, stem: str, suffix: str, created_at: datetime) -> Path:
    name = f"{stem}-{created_at:%Y%m%dT%H%M%SZ}{suffix}"
    if target is None:
        path = DEFAULT_FOLDER / name
    elif target.is_dir() or not target.suffix:  # `--to backups` or `--to /srv/backups/`: a folder
        path = target / name
    else:
        path = target
    path = path.expanduser()
    if path.exists() or manifest_path(path).exists():
        raise BackupError(f"{path} already exists: a backup never overwrites another. Choose another --to.")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _finish(
    partial: Path,
    target: Path,
    dialect: str,
    revision: str,
    tables: Mapping[str, int],
    created_at: datetime,
    source: str,
) -> BackupReport:
    """Checksum the finished copy, put it in place and write its manifest beside it."""
    digest = _sha256(partial)
    size = partial.stat().st_size
    fsync_path(partial)
    os.replace(partial, target)
    manifest = {
        "format": MANIFEST_FORMAT,
        "dialect": dialect,
        "file": target.name,
        "sha256": digest,
        "size": size,
        "revision": revision,
        "created_at": created_at.isoformat(),
        "integraal_version": __version__,
        "source": source,
        "tables": dict(tables),
    }
    manifest_file = manifest_path(target)
    write_whole(manifest_file, (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode("utf-8"))
    return BackupReport(
        path=target,
        manifest=manifest_file,
        dialect=dialect,
        revision=revision,
        sha256=digest,
        size=size,
        created_at=created_at,
        tables=dict(tables),
    )


def _check_revision(revision: object, source: Path) -> None:
    known = migration_revisions()
    if not isinstance(revision, str) or revision not in known:
        raise BackupError(
            f"{source} is at schema revision {revision}, which this Integraal ({__version__}, newest revision "
            f"{known[-1]}) does not know: it was made by a newer Integraal. Install that version (or newer) to "
            "restore it. Not restored."
        )


def _audit_detail(source: Path, manifest: Mapping[str, Any], existing: int, force: bool) -> dict[str, Any]:
    try:
        os_user = getpass.getuser()
    except (KeyError, OSError):  # no user name in a bare container
        os_user = None
    return {
        "backup": str(source.resolve()),
        "sha256": manifest["sha256"],
        "backup_created_at": manifest["created_at"],
        "backup_revision": manifest["revision"],
        "revision": head_revision(),
        "replaced_rows": max(existing, 0),
        "force": force,
        "os_user": os_user,
    }


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
