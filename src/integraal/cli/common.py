"""Options and helpers shared by the command modules added after ``main.py`` (users, serve)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy import inspect

from integraal.store.database import Database
from integraal.whole_files import write_whole

console = Console(stderr=True)

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        envvar="INTEGRAAL_DATABASE_URL",
        help="Database: a SQLite file path or a SQLAlchemy URL. Default: database_url in the config file "
        "(docs/operations.md), else integraal.db in this folder.",
    ),
]


def open_database(db: str | None, *, needs: str = "users") -> Database:
    """The database, created with ``integraal init`` and upgraded far enough to have the table ``needs``
    (``users``: revision 0002; ``claim_batches``: revision 0003)."""
    database = Database(db)
    if not database.is_initialised():
        console.print(f"[red]No Integraal database at {database.url}.[/] Run [bold]integraal init[/] first.")
        raise typer.Exit(2)
    if not inspect(database.engine).has_table(needs):
        console.print(
            f"[red]The database at {database.url} predates {needs}.[/] Run [bold]integraal init[/] to upgrade it."
        )
        raise typer.Exit(2)
    return database


def save_whole(path: Path, data: bytes, *, private: bool, if_not_saved: str | None = None) -> None:
    """Save a file the command hands on whole or not at all (``whole_files``; ``private``: the owner only, for a
    file with BSNs); one that cannot be saved (a full disk) ends the command with the error and ``if_not_saved``
    (exit 1)."""
    try:
        write_whole(path, data, private=private)
    except OSError as exc:
        console.print(f"[red]{exc}[/]")
        if if_not_saved is not None:
            console.print(f"[red]{if_not_saved}[/]")
        raise typer.Exit(1) from exc
