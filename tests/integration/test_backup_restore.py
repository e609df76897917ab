"""Backup and restore: a consistent copy of a database in use, every row back, damaged or newer backups
refused, data never replaced without --force, and the restore in the audit log."""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import sqlite3
import threading
from datetime import date
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import make_url
from typer.testing import CliRunner

from dbutil import fresh_url
from integraal.cli.main import app
from integraal.services import audit
from integraal.services.backup import (
    BackupError,
    TargetNotEmptyError,
    backup,
    manifest_path,
    pg_dump_command,
    pg_environment,
    pg_restore_command,
    restore,
)
from integraal.services.decisions import decide_all
from integraal.services.imports import import_files
from integraal.store.database import Database, alembic_config, head_revision

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
# A SQLite backup is a checked copy of the file, read back here with sqlite3; PostgreSQL's is pg_dump's (below).
SQLITE_FILES = pytest.mark.sqlite_only(reason="backups of a SQLite file; PostgreSQL: test_postgres_round_trip")


@pytest.fixture
def populated(db: Database) -> Database:
    import_files(db, sorted(EXAMPLES.glob("*.csv")))
    decide_all(db, date(2026, 1, 1))
    return db


def sqlite_file(database: Database) -> Path:
    return Path(make_url(database.url).database or "")


def all_rows(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table (sorted), read straight from the file."""
    with contextlib.closing(sqlite3.connect(path)) as connection:
        names = [
            row[0]
            for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        return {name: sorted(connection.execute(f'SELECT * FROM "{name}"').fetchall(), key=repr) for name in names}


@SQLITE_FILES
def test_backup_of_a_database_in_use_restores_every_row(populated: Database, tmp_path: Path) -> None:
    source = sqlite_file(populated)
    stop = threading.Event()
    written: list[int] = []

    def writer() -> None:  # someone keeps working while the backup runs
        while not stop.is_set():
            with populated.unit_of_work() as connection:
                written.append(audit.record(connection, "writer", "test", "thing", str(len(written))))

    thread = threading.Thread(target=writer)
    with contextlib.closing(sqlite3.connect(source)) as reader:
        reader.execute("BEGIN")
        reader.execute("SELECT COUNT(*) FROM activity_blocks").fetchone()  # and someone holds a read transaction
        thread.start()
        while len(written) < 5:
            stop.wait(0.01)
        report = backup(populated.url, tmp_path / "backups")
        stop.set()
        thread.join()
        reader.execute("COMMIT")

    assert report.path.parent == tmp_path / "backups" and report.path.suffix == ".db"
    assert report.manifest == manifest_path(report.path) and report.revision == head_revision() and report.at_head
    assert report.path.stat().st_mode & 0o077 == 0  # it holds BSNs: the owner only
    manifest = json.loads(report.manifest.read_text())
    assert manifest["sha256"] == hashlib.sha256(report.path.read_bytes()).hexdigest()
    assert manifest["revision"] == head_revision() and manifest["dialect"] == "sqlite"
    snapshot = all_rows(report.path)
    assert manifest["tables"] == {name: len(rows) for name, rows in snapshot.items()}
    assert snapshot["activity_blocks"] and snapshot["phase_decisions"]
    assert not report.path.with_name(report.path.name + "-wal").exists()

    target = tmp_path / "restored" / "integraal.db"
    restored = restore(f"sqlite:///{target}", report.path)
    assert not restored.replaced and not restored.upgraded and restored.revision == head_revision()
    after = all_rows(target)
    assert set(after) == set(snapshot)
    for name, rows in snapshot.items():
        if name != "audit_log":
            assert after[name] == rows, name
    # The audit log is the backup's plus exactly one entry: the restore.
    extra = [row for row in after["audit_log"] if row not in snapshot["audit_log"]]
    assert len(after["audit_log"]) == len(snapshot["audit_log"]) + 1 and len(extra) == 1
    entry = extra[0]
    assert entry[0] == restored.audit_id and entry[2:6] == ("cli", "restore", "database", report.path.name)
    detail = json.loads(entry[6])
    assert detail["sha256"] == report.sha256 and detail["force"] is False and detail["replaced_rows"] == 0
    # The writer touched only the audit log: every other table equals the live database.
    live = all_rows(source)
    assert all(after[name] == live[name] for name in live if name not in ("audit_log", "audit_scopes"))
    assert Database(f"sqlite:///{target}").revision() == head_revision()
    assert not list(target.parent.glob(".integraal.db.restore-*"))  # no staging file left behind


@SQLITE_FILES
def test_a_damaged_backup_is_refused_and_nothing_is_written(populated: Database, tmp_path: Path) -> None:
    report = backup(populated.url, tmp_path / "b.db")
    data = bytearray(report.path.read_bytes())
    page = int.from_bytes(data[16:18], "big")  # the file's page size (SQLite's header)
    for offset in (page, page + 1, 2 * page):  # flip bytes in the b-tree pages
        data[offset] ^= 0xFF
    report.path.write_bytes(bytes(data))
    target = tmp_path / "target.db"
    with pytest.raises(BackupError, match="damaged or was changed after the backup was made") as caught:
        restore(str(target), report.path)
    assert report.sha256 in str(caught.value)
    assert not target.exists()

    # A manifest rewritten to match the damaged file: the integrity check still refuses it.
    manifest = json.loads(report.manifest.read_text())
    manifest["sha256"] = hashlib.sha256(bytes(data)).hexdigest()
    report.manifest.write_text(json.dumps(manifest))
    with pytest.raises(BackupError, match="failed its integrity check"):
        restore(str(target), report.path)
    assert not target.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".target.db")] == []

    report.manifest.unlink()
    with pytest.raises(BackupError, match="has no manifest"):
        restore(str(target), report.path)


@SQLITE_FILES
def test_a_backup_of_a_newer_integraal_is_refused(populated: Database, tmp_path: Path) -> None:
    report = backup(populated.url, tmp_path / "b.db")
    with contextlib.closing(sqlite3.connect(report.path)) as connection, connection:
        connection.execute("UPDATE alembic_version SET version_num = '9999'")
    manifest = json.loads(report.manifest.read_text())
    manifest.update(revision="9999", sha256=hashlib.sha256(report.path.read_bytes()).hexdigest())
    manifest["size"] = report.path.stat().st_size
    report.manifest.write_text(json.dumps(manifest))
    with pytest.raises(BackupError, match="made by a newer Integraal"):
        restore(str(tmp_path / "target.db"), report.path)


@SQLITE_FILES
def test_restore_over_data_needs_force(populated: Database, tmp_path: Path) -> None:
    report = backup(populated.url, tmp_path / "b.db")
    with populated.unit_of_work() as connection:
        audit.record(connection, "someone", "later", "thing", "1")  # work done after the backup
    before = all_rows(sqlite_file(populated))
    with pytest.raises(TargetNotEmptyError, match=r"holds data .* pass --force"):
        restore(populated.url, report.path)
    assert all_rows(sqlite_file(populated)) == before

    with populated.engine.connect(), pytest.raises(BackupError, match="is in use"):  # still open here
        restore(populated.url, report.path, force=True)
    assert all_rows(sqlite_file(populated)) == before

    populated.dispose()
    restored = restore(populated.url, report.path, force=True, actor="operator")
    assert restored.replaced
    after = all_rows(sqlite_file(populated))
    assert after["activity_blocks"] == before["activity_blocks"]
    entries = sorted(after["audit_log"], key=lambda row: row[0])  # by id
    assert ("someone", "later") not in [(row[2], row[3]) for row in entries]
    assert entries[-1][2:4] == ("operator", "restore") and entries[-1][0] == restored.audit_id
    assert json.loads(entries[-1][6])["replaced_rows"] > 0


@SQLITE_FILES
def test_an_older_backup_is_upgraded_on_restore(tmp_path: Path) -> None:
    old = tmp_path / "old.db"
    command.upgrade(alembic_config(f"sqlite:///{old}"), "0004")
    report = backup(str(old), tmp_path / "b.db")
    assert report.revision == "0004" and not report.at_head
    restored = restore(str(tmp_path / "new.db"), report.path)
    assert (restored.backup_revision, restored.revision, restored.upgraded) == ("0004", head_revision(), True)


@SQLITE_FILES
def test_a_backup_never_overwrites_and_needs_a_database(populated: Database, tmp_path: Path) -> None:
    report = backup(populated.url, tmp_path / "b.db")
    with pytest.raises(BackupError, match="already exists"):
        backup(populated.url, report.path)
    with pytest.raises(BackupError, match="No database at"):
        backup(str(tmp_path / "missing.db"), tmp_path / "c.db")
    with pytest.raises(BackupError, match="cannot be restored into a postgresql database"):
        restore("postgresql://u:p@localhost/x", report.path)


@SQLITE_FILES
def test_cli_backup_and_restore_round_trip(tmp_path: Path) -> None:
    live, other = tmp_path / "live.db", tmp_path / "other.db"
    env = {"INTEGRAAL_DATABASE_URL": str(live), "COLUMNS": "200"}
    runner = CliRunner()
    assert runner.invoke(app, ["init"], env=env).exit_code == 0
    assert runner.invoke(app, ["import", str(EXAMPLES)], env=env).exit_code == 0
    made = runner.invoke(app, ["backup", "--to", str(tmp_path / "backups")], env=env)
    assert made.exit_code == 0, made.output
    assert "Backup written:" in made.output and "schema revision" in made.output
    (file,) = (tmp_path / "backups").glob("*.db")
    assert manifest_path(file).exists()

    into_other = runner.invoke(app, ["restore", str(file), "--db", str(other)], env=env)
    assert into_other.exit_code == 0, into_other.output
    assert "Restored" in into_other.output and "Audit entry" in into_other.output
    refused = runner.invoke(app, ["restore", str(file)], env=env)
    assert refused.exit_code == 2 and "--force" in refused.output
    # Each command is a process of its own in real life; here the earlier commands' engines (and their open
    # SQLite connections) live until the garbage collector finds them, and a restore refuses a file in use.
    gc.collect()
    forced = runner.invoke(app, ["restore", str(file), "--force"], env=env)
    assert forced.exit_code == 0, forced.output
    assert "replaced" in forced.output
    for path in (live, other):
        rows = all_rows(path)
        assert rows["activity_blocks"] == all_rows(file)["activity_blocks"]
        assert max(rows["audit_log"], key=lambda row: row[0])[3] == "restore"

    (tmp_path / "bad.db").write_bytes(b"not a backup")
    missing = runner.invoke(app, ["restore", str(tmp_path / "bad.db")], env=env)
    assert missing.exit_code == 2 and "has no manifest" in missing.output


# --- PostgreSQL -------------------------------------------------------------------------------------------

PG_URL = make_url("postgresql+psycopg://integraal:s3cret@db.example:5433/integraal?sslmode=require")


def test_pg_tools_get_the_credentials_in_the_environment_not_the_command_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("shutil.which", lambda name: f"/usr/bin/{name}")
    env = pg_environment(PG_URL, {"PATH": "/usr/bin"})
    assert env == {
        "PATH": "/usr/bin",
        "PGHOST": "db.example",
        "PGPORT": "5433",
        "PGUSER": "integraal",
        "PGPASSWORD": "s3cret",
        "PGDATABASE": "integraal",
        "PGSSLMODE": "require",
    }
    dump = pg_dump_command(Path("/b/x.dump"), snapshot="00000003-1")
    assert dump == ["/usr/bin/pg_dump", "--format=custom", "--no-password", "--file=/b/x.dump", "--snapshot=00000003-1"]
    restore_line = pg_restore_command(PG_URL, Path("/b/x.dump"))
    assert restore_line[0] == "/usr/bin/pg_restore"
    assert {"--clean", "--if-exists", "--single-transaction", "--exit-on-error", "--dbname=integraal"} <= set(
        restore_line
    )
    assert restore_line[-1] == "/b/x.dump"
    assert not any("s3cret" in part for part in dump + restore_line)
    socket = pg_environment(make_url("postgresql:///integraal?host=/var/run/postgresql"), {})
    assert socket == {"PGHOST": "/var/run/postgresql", "PGDATABASE": "integraal"}


def test_missing_pg_tools_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("shutil.which", lambda name: None)
    with pytest.raises(BackupError, match="pg_dump not found on PATH: install the PostgreSQL client tools"):
        pg_dump_command(Path("x.dump"))


@pytest.mark.postgres
def test_postgres_round_trip(tmp_path: Path) -> None:
    url = fresh_url(tmp_path, "round_trip")  # a database of its own on $INTEGRAAL_TEST_POSTGRES_URL's server
    database = Database(url)
    database.migrate()
    import_files(database, sorted(EXAMPLES.glob("*.csv")))
    with database.engine.connect() as connection:
        before = connection.exec_driver_sql("SELECT COUNT(*) FROM activity_blocks").scalar_one()
    database.dispose()
    report = backup(url, tmp_path)
    assert report.dialect == "postgresql" and report.tables["activity_blocks"] == before
    with pytest.raises(TargetNotEmptyError):
        restore(url, report.path)
    restored = restore(url, report.path, force=True)
    assert restored.replaced and restored.tables["activity_blocks"] == before
    assert restored.tables["audit_log"] == report.tables["audit_log"] + 1
