"""``integraal user``: add users with a role and tenant, issue API tokens, list users."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from integraal.cli.common import DbOption, console, open_database
from integraal.services.access import Role
from integraal.services.users import (
    MIN_PASSWORD_LENGTH,
    UserError,
    add_user,
    disable_user,
    issue_token,
    list_users,
)

app = typer.Typer(
    help="Users of the API and web UI. A role says what a user may do, its tenant whose data it sees:\n\n"
    "igo_admin (back office of one IGO, --igo), igo_board (board of one IGO, read-only, --igo), member (one "
    "care provider, --agb: its own activities), insurer (one health insurer, --uzovi: its insured's decisions "
    "and claims, BSN pseudonymised), analyst (aggregates across IGOs only), superuser (everything).",
    no_args_is_help=True,
)
out = Console()


def _read_password(from_stdin: bool) -> str | None:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise typer.BadParameter("no password on standard input", param_hint="--password-stdin")
        return password
    if sys.stdin.isatty():
        return (
            str(typer.prompt("Password (empty: API tokens only)", default="", hide_input=True, show_default=False))
            or None
        )
    return None


@app.command("add")
def add(
    username: Annotated[str, typer.Argument(help="Login name: letters, digits, '.', '_', '@' or '-'.")],
    role: Annotated[Role, typer.Option("--role", help="What the user may do (see `integraal user --help`).")],
    igo: Annotated[str | None, typer.Option("--igo", help="The IGO (igo_id) of an igo_admin or igo_board.")] = None,
    agb: Annotated[str | None, typer.Option("--agb", help="The AGB code (8 digits) of a member provider.")] = None,
    uzovi: Annotated[str | None, typer.Option("--uzovi", help="The UZOVI code (4 digits) of an insurer.")] = None,
    password_stdin: Annotated[
        bool,
        typer.Option(
            "--password-stdin",
            help=f"Read the password (at least {MIN_PASSWORD_LENGTH} characters) from the first line of standard "
            "input. Without it you are asked when at a terminal; otherwise the user gets no password and can "
            "only use API tokens.",
        ),
    ] = False,
    db: DbOption = None,
) -> None:
    """Add a user with a role and the tenant that role needs (an IGO, an AGB or a UZOVI)."""
    database = open_database(db)
    try:
        user = add_user(
            database, username, role, igo_id=igo, agb=agb, uzovi=uzovi, password=_read_password(password_stdin)
        )
    except UserError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from exc
    tenant = user.igo_id or user.agb or user.uzovi
    console.print(
        f"Added {user.username} ({user.role.value}{', ' + tenant if tenant else ''})"
        + ("" if user.has_password else "; no password: API tokens only (integraal user token)")
    )


@app.command("token")
def token(
    username: Annotated[str, typer.Argument(help="The user the token acts as.")],
    label: Annotated[str, typer.Option(help="What the token is for (shown in the audit log).")] = "",
    expires_in_days: Annotated[
        int | None, typer.Option("--expires-in-days", min=1, help="Expire after this many days (default never).")
    ] = None,
    db: DbOption = None,
) -> None:
    """Print a new API token for USERNAME (send it as `Authorization: Bearer <token>`).

    The token is shown once; only its hash is stored. Keep it as secret as a password."""
    database = open_database(db)
    try:
        secret = issue_token(database, username, label=label, expires_in_days=expires_in_days)
    except UserError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from exc
    out.print(secret, soft_wrap=True, highlight=False)


@app.command("disable")
def disable(
    username: Annotated[str, typer.Argument(help="The user to stop.")],
    db: DbOption = None,
) -> None:
    """Stop USERNAME at once: no more logins, every API token revoked, every open session ended.

    The user and its history stay (the audit log refers to them)."""
    database = open_database(db)
    try:
        tokens, sessions = disable_user(database, username)
    except UserError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from exc
    console.print(f"Disabled {username}: {tokens} token(s) revoked, {sessions} session(s) ended.")


@app.command("list")
def list_command(db: DbOption = None) -> None:
    """List the users with their role, tenant and whether they can log in with a password."""
    database = open_database(db)
    table = Table(title="Users")
    for column in ("user", "role", "tenant", "password", "active"):
        table.add_column(column)
    for user in list_users(database):
        table.add_row(
            user.username,
            user.role.value,
            user.igo_id or user.agb or user.uzovi or "",
            "yes" if user.has_password else "no",
            "yes" if user.active else "no",
        )
    out.print(table)
