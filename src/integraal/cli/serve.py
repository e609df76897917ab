"""``integraal serve``: the web UI and the REST API on a local address."""

from __future__ import annotations

from typing import Annotated

import typer

from integraal.cli.common import DbOption, console, open_database

app = typer.Typer()


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on (127.0.0.1: this machine only).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
    db: DbOption = None,
) -> None:
    """Start the HTTP server: the web UI at /, the API under /api (OpenAPI at /openapi.json, docs at /api/docs).

    Users and API tokens come from `integraal user add` and `integraal user token`."""
    import uvicorn

    from integraal.api import create_app

    database = open_database(db)
    console.print(f"Integraal on http://{host}:{port}/  (API docs at /api/docs; database {database.url})")
    # Uvicorn's loggers go through the root handler of `--log-format` / $INTEGRAAL_LOG_FORMAT (BSNs redacted).
    uvicorn.run(create_app(database), host=host, port=port, log_level=None, log_config=None)
