"""``integraal backup`` and ``integraal restore``: the whole database to one checked file and back."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from integraal.cli.common import DbOption, console
from integraal.services.backup import BackupError, TargetNotEmptyError
from integraal.services.backup import backup as backup_database
from integraal.services.backup import restore as restore_database
from integraal.store.database import head_revision

app = typer.Typer()


@app.command()
def backup(
    to: Annotated[
        Path | None,
        typer.Option(
            "--to",
            help="The backup file to write (a name with a suffix, e.g. x.db), or a folder for a time-stamped "
            "one (an existing folder, or a name without a suffix). Default: ./backups/. "
            "A manifest <file>.json (checksum, schema revision, row counts) is written beside it.",
        ),
    ] = None,
    db: DbOption = None,
) -> None:
    """Back up the database to one file while it stays in use (SQLite: online backup API; PostgreSQL: pg_dump).

    The copy is checked (integrity check, schema revision, row counts) before it is kept. It holds BSNs:
    store it as carefully as the database."""
    try:
        report = backup_database(db, to)
    except BackupError as exc:
        console.print(f"[red]Backup failed:[/] {exc}")
        raise typer.Exit(2) from exc
    console.print(
        f"Backup written: {report.path} ({report.size / 1_048_576:.1f} MiB, {report.rows} rows in "
        f"{len(report.tables)} tables, schema revision {report.revision}, sha256 {report.sha256[:16]}…)"
    )
    console.print(f"Manifest: {report.manifest}")
    if not report.at_head:
        console.print(
            f"[yellow]The database is at schema revision {report.revision}, not {head_revision()}:[/] run "
            "[bold]integraal init[/] to upgrade it (this backup is the way back)."
        )


@app.command()
def restore(
    source: Annotated[Path, typer.Argument(help="A backup file written by `integraal backup` (its .json beside it).")],
    force: Annotated[
        bool, typer.Option("--force", help="Replace a database that holds data (back it up first).")
    ] = False,
    db: DbOption = None,
) -> None:
    """Restore a backup into the database (default: the configured one), after checking its checksum, integrity
    and schema revision; an older backup is upgraded to this version's schema. All or nothing.

    Stop `integraal serve` first. The restore is recorded in the restored database's audit log."""
    try:
        report = restore_database(db, source, force=force)
    except TargetNotEmptyError as exc:
        console.print(f"[red]Not restored:[/] {exc}")
        raise typer.Exit(2) from exc
    except BackupError as exc:
        console.print(f"[red]Restore failed:[/] {exc}")
        raise typer.Exit(2) from exc
    upgraded = f", upgraded from revision {report.backup_revision}" if report.upgraded else ""
    console.print(
        f"Restored {report.source} (made {report.backup_created_at}) into {report.database}: {report.rows} rows in "
        f"{len(report.tables)} tables, schema revision {report.revision}{upgraded}"
        f"{'; the data that was there is replaced' if report.replaced else ''}. Audit entry {report.audit_id}."
    )
