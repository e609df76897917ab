"""The ``integraal`` command line: set up a region, load a year of care, decide and explain bundles."""

from __future__ import annotations

import json
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from integraal import __version__
from integraal.cli.render import explain_text, summary_tables
from integraal.importing.validation import FileError
from integraal.rules.decision import PregnancyDecision
from integraal.services.decisions import decide_all, decide_one, decision_as_json
from integraal.services.imports import import_files
from integraal.store.database import Database, DatabaseBusyError

if TYPE_CHECKING:
    from integraal.synth import CalibrationRow

app = typer.Typer(
    help="Integraal — the money and data side of integrated birth care (integrale geboortezorg).\n\n"
    "Register every care activity once, decide per pregnancy and phase whether the IGO claims the bundled "
    "(integral) prestatie or members fall back to separate (monodisciplinary) claims, and explain why.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console(stderr=True)
out = Console()

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        envvar="INTEGRAAL_DATABASE_URL",
        help="Database: a SQLite file path or a SQLAlchemy URL. Default: database_url in the config file "
        "(docs/operations.md), else integraal.db in this folder.",
    ),
]
AsOfOption = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        help="Decide as known on this date (YYYY-MM-DD): phases whose declaration date lies later stay "
        "incomplete. Default: today.",
    ),
]
LangOption = Annotated[str, typer.Option("--lang", help="Language of texts: nl (Dutch) or en (English).")]


def _version(value: bool) -> None:
    if value:
        out.print(f"integraal {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
    log_level: Annotated[
        str | None,
        typer.Option(
            "--log-level",
            help="DEBUG, INFO, WARNING, ERROR or CRITICAL. Default: $INTEGRAAL_LOG_LEVEL, the config file, else "
            "WARNING (INFO for serve).",
        ),
    ] = None,
    log_format: Annotated[
        str | None,
        typer.Option(
            "--log-format", help="text or json (one JSON object per line). Default: $INTEGRAAL_LOG_FORMAT, else text."
        ),
    ] = None,
) -> None:
    """Integraal command line."""
    from integraal.config import ConfigError
    from integraal.logging_setup import configure_from_config

    try:
        configure_from_config(
            log_level, log_format, default_level="INFO" if ctx.invoked_subcommand == "serve" else "WARNING"
        )
    except ConfigError as exc:
        console.print(f"[red]Configuration error:[/] {exc}")
        raise typer.Exit(2) from exc


def _open(db: str | None, create: bool = False) -> Database:
    database = Database(db)
    if create:
        database.migrate()
    elif not database.is_initialised():
        console.print(f"[red]No Integraal database at {database.url}.[/] Run [bold]integraal init[/] first.")
        raise typer.Exit(2)
    return database


def _as_of(value: str | None) -> date:
    if value is None:
        return date.today()
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"--as-of must be a date as YYYY-MM-DD, not {value!r}") from exc


@contextmanager
def _progress(description: str, total: int | None) -> Iterator[Progress]:
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )
    with progress:
        progress.add_task(description, total=total)
        yield progress


@app.command()
def init(db: DbOption = None) -> None:
    """Create (or upgrade) the database schema. Safe to run again: migrations only move forward."""
    database = _open(db, create=True)
    console.print(f"Database ready: {database.url}")


@app.command()
def synth(
    pregnancies: Annotated[int, typer.Option("--pregnancies", "-n", help="Number of pregnancies (trajectories).")],
    seed: Annotated[int, typer.Option("--seed", help="Random seed: same seed, same region.")] = 1,
    year: Annotated[int, typer.Option("--year", help="Year whose due dates the region covers.")] = 2025,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the CSV files.")] = Path("region"),
) -> None:
    """Write a realistic synthetic region (providers, IGOs, members, contracts, pregnancies, activities and
    birth outcomes; docs/synthetic.md).

    Calibrated to national figures (DOMAIN.md §7); prints target against generated so you can judge it.
    """
    from integraal.synth import generate_region, write_region

    started = time.perf_counter()
    with _progress("Generating region", None):
        region = generate_region(pregnancies, seed=seed, year=year)
        paths = write_region(region, out_dir)
    elapsed = time.perf_counter() - started
    out.print(_calibration_table(region.calibration))
    for kind, path in paths.items():
        console.print(f"  {kind:<12} {path}")
    console.print(f"Wrote {len(paths)} files to {out_dir} in {elapsed:.1f} s.")


@app.command("import")
def import_command(
    files: Annotated[
        list[Path],
        typer.Argument(help="CSV files or FHIR outcome bundles (.json), or folders holding them (docs/formats.md)."),
    ],
    kind: Annotated[
        str | None,
        typer.Option(
            help="Kind of file (providers, igos, insurers, memberships, contracts, pregnancies, "
            "activities, outcomes); default: recognised from the header (a .json file: a FHIR outcome bundle)."
        ),
    ] = None,
    db: DbOption = None,
    show: Annotated[int, typer.Option(help="How many rejected rows to print per file.")] = 20,
) -> None:
    """Import CSV files (and FHIR bundles of birth outcomes). Valid rows are stored (idempotently, by key); bad
    rows are quarantined with file, row, field and reason, and the command exits with status 1 when any row was
    rejected."""
    database = _open(db)
    paths: list[Path] = []
    for item in files:
        paths.extend(sorted([*item.glob("*.csv"), *item.glob("*.json")]) if item.is_dir() else [item])
    try:
        with _progress("Importing", None):
            reports = import_files(database, paths, kind=kind)
    except FileError as exc:
        console.print(f"[red]Rejected file[/] {exc}")
        raise typer.Exit(2) from exc
    except DatabaseBusyError as exc:
        console.print(f"[red]Not imported:[/] {exc}")
        raise typer.Exit(3) from exc
    table = Table(title="Import")
    for column in ("file", "kind", "rows", "stored", "rejected"):
        table.add_column(column, justify="right" if column in ("rows", "stored", "rejected") else "left")
    for r in reports:
        table.add_row(
            Path(r.file).name,
            r.kind,
            str(r.total),
            str(r.accepted),
            f"[red]{r.rejected}[/]" if r.rejected else "0",
        )
    out.print(table)
    rejected = 0
    for r in reports:
        rejected += r.rejected
        for error in r.errors[:show]:
            console.print(f"  [red]✗[/] {error}")
        if len(r.errors) > show:
            console.print(f"  … and {len(r.errors) - show} more problems in {Path(r.file).name}")
    if rejected:
        console.print(f"[red]{rejected} row(s) rejected and quarantined[/]; valid rows were stored.")
        raise typer.Exit(1)


@app.command()
def decide(
    pregnancy_id: Annotated[str | None, typer.Argument(help="Decide only this pregnancy (trajectory id).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object per pregnancy.")] = False,
    as_of: AsOfOption = None,
    db: DbOption = None,
    lang: LangOption = "nl",
) -> None:
    """Decide per pregnancy and phase: integral (bundled claim), fallback (separate claims), incomplete, or
    not applicable — with reasons — and store the run with its rule-set versions."""
    database = _open(db)
    when = _as_of(as_of)
    ids = [pregnancy_id] if pregnancy_id else None

    def printer(decision: PregnancyDecision) -> None:
        sys.stdout.write(json.dumps(decision_as_json(decision), ensure_ascii=False) + "\n")

    started = time.perf_counter()
    with _progress("Deciding", None) as progress:
        summary = decide_all(
            database,
            when,
            ids,
            on_decision=printer if as_json else None,
            progress=lambda n: progress.advance(progress.task_ids[0], n),
        )
    if pregnancy_id and summary.pregnancies == 0:
        console.print(f"[red]Unknown pregnancy {pregnancy_id!r}.[/]")
        raise typer.Exit(2)
    if not as_json:
        for table in summary_tables(summary, lang):
            out.print(table)
    console.print(f"Decision run {summary.run_id} as of {when} in {time.perf_counter() - started:.1f} s.")


@app.command()
def explain(
    pregnancy_id: Annotated[str, typer.Argument(help="The pregnancy (trajectory id) to explain.")],
    as_of: AsOfOption = None,
    db: DbOption = None,
    lang: LangOption = "nl",
) -> None:
    """Show one trajectory as a timeline per provider and the decision per phase with its reasons."""
    database = _open(db)
    result = decide_one(database, pregnancy_id, _as_of(as_of))
    if result is None:
        console.print(f"[red]Unknown pregnancy {pregnancy_id!r}.[/]")
        raise typer.Exit(2)
    for renderable in explain_text(*result, lang=lang):
        out.print(renderable)


@app.command()
def catalogue(
    year: Annotated[int, typer.Option(help="Contract year.")] = 2025,
    lang: LangOption = "nl",
) -> None:
    """List the activity codes, integral prestaties and monodisciplinary prestaties of a year."""
    from integraal.cli.render import catalogue_tables
    from integraal.data.loader import load_catalogue

    ruleset = load_catalogue().for_year(year)
    if ruleset is None:
        console.print(f"[red]No rule set for {year}[/]; available: {load_catalogue().years}")
        raise typer.Exit(2)
    for table in catalogue_tables(ruleset, lang):
        out.print(table)


@app.command()
def demo(
    pregnancies: Annotated[int, typer.Option("--pregnancies", "-n", help="Number of synthetic pregnancies.")] = 10_000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 1,
    keep: Annotated[Path | None, typer.Option(help="Keep the demo database and files in this folder.")] = None,
    lang: LangOption = "nl",
) -> None:
    """Synthesise a region, import it into a fresh database, decide every pregnancy, print the summary."""
    from integraal.synth import generate_region, write_region

    folder = keep or Path(tempfile.mkdtemp(prefix="integraal-demo-"))
    folder.mkdir(parents=True, exist_ok=True)
    db_path = folder / "integraal.db"
    db_path.unlink(missing_ok=True)
    timings: list[tuple[str, float]] = []

    started = time.perf_counter()
    region = generate_region(pregnancies, seed=seed)
    paths = write_region(region, folder / "region")
    timings.append(("synth", time.perf_counter() - started))
    out.print(_calibration_table(region.calibration, sources=False))

    database = Database(str(db_path))
    database.migrate()
    started = time.perf_counter()
    with _progress("Importing", None):
        reports = import_files(database, list(paths.values()), actor="demo")
    timings.append(("import", time.perf_counter() - started))
    rejected = sum(r.rejected for r in reports)

    started = time.perf_counter()
    with _progress("Deciding", pregnancies) as progress:
        summary = decide_all(
            database, date.today(), actor="demo", progress=lambda n: progress.advance(progress.task_ids[0], n)
        )
    timings.append(("decide", time.perf_counter() - started))
    for table in summary_tables(summary, lang):
        out.print(table)

    # The busiest declaration month, claimed end to end through the simulated insurer.
    from integraal.cli.claims import month_table
    from integraal.services.access import SYSTEM
    from integraal.services.insurer_simulation import busiest_month, run_month

    month = busiest_month(database)
    if month is not None:
        started = time.perf_counter()
        with _progress(f"Claiming {month[0]:%Y-%m}", None):
            month_run = run_month(database, SYSTEM, *month, seed=seed)
        timings.append(("claims", time.perf_counter() - started))
        out.print(month_table(month_run, lang))
    console.print(
        "Timings: "
        + ", ".join(f"{stage} {seconds:.1f} s" for stage, seconds in timings)
        + f"; rows rejected at import: {rejected}."
    )
    console.print(f"Demo database: {db_path}  (try: integraal explain <pregnancy_id> --db {db_path})")


def _calibration_table(rows: Sequence[CalibrationRow], sources: bool = True) -> Table:
    """Target against generated per calibrated measure; sources (abridged) where asked for."""
    table = Table(title="Calibration: target vs generated (sources: src/integraal/synth/calibration.yaml)")
    columns = ["measure", "target", "generated", "unit"] + (["source"] if sources else [])
    for column in columns:
        table.add_column(column, justify="right" if column in ("target", "generated") else "left")
    for row in rows:
        cells = [row.measure, f"{row.target:.3g}", f"{row.generated:.3g}", row.unit]
        if sources:
            cells.append(row.source if len(row.source) <= 60 else row.source[:59] + "…")
        table.add_row(*cells)
    return table


app.add_typer(__import__("integraal.cli.users", fromlist=["app"]).app, name="user")
app.add_typer(__import__("integraal.cli.serve", fromlist=["app"]).app)
app.add_typer(__import__("integraal.cli.claims", fromlist=["app"]).app, name="claims")
app.add_typer(__import__("integraal.cli.distribute", fromlist=["app"]).app, name="distribute")
app.add_typer(__import__("integraal.cli.backup", fromlist=["app"]).app)


if __name__ == "__main__":  # pragma: no cover
    app()
