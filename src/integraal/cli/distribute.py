"""``integraal distribute``: compare distribution plans for an IGO's year (verdelen achter de voordeur)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from integraal.cli.common import DbOption, console, open_database
from integraal.domain.money import format_euros
from integraal.services.access import SYSTEM
from integraal.services.distribution import plan_presets, simulate

app = typer.Typer(
    help="Dividing the bundled money among the IGO's members: run candidate plans side by side (nothing is "
    "booked) and see each member's income under each plan and the difference with the current plan.",
    no_args_is_help=True,
)
out = Console()


@app.command(name="plans")
def list_plans(lang: Annotated[str, typer.Option("--lang", help="nl or en")] = "nl") -> None:
    """The plans that can be compared (data/distribution/plans.yaml) and their steps."""
    current, presets = plan_presets()
    table = Table(title="Verdeelplannen" if lang == "nl" else "Distribution plans")
    for column in ("plan", "name", "steps"):
        table.add_column(column)
    for key, info in presets.items():
        name = info.name_nl if lang == "nl" else info.name_en
        table.add_row(key + (" *" if key == current else ""), name, " → ".join(s["model"] for s in info.steps))
    out.print(table)


@app.command(name="simulate")
def simulate_command(
    igo: Annotated[str, typer.Option(help="The IGO.")],
    year: Annotated[int, typer.Option(help="The year whose integral money is divided (declaration dates).")],
    plans: Annotated[
        str | None, typer.Option(help="Comma-separated plan keys (default: all; the current plan always runs).")
    ] = None,
    lang: Annotated[str, typer.Option("--lang", help="nl or en")] = "nl",
    db: DbOption = None,
) -> None:
    """Each member's amount under each plan, and the difference with the current plan (euros and percent)."""
    database = open_database(db)
    try:
        result = simulate(database, SYSTEM, igo, year, plans.split(",") if plans else None)
    except (KeyError, LookupError) as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from exc
    nl = lang == "nl"
    keys = list(result.plans)
    others = [k for k in keys if k != result.current]
    table = Table(
        title=(f"Verdeling {igo} {year}: {format_euros(result.received_cents, lang)} ontvangen" if nl
               else f"Distribution {igo} {year}: {format_euros(result.received_cents, lang)} received")
    )  # fmt: skip
    table.add_column("lid" if nl else "member")
    table.add_column("discipline")
    for key in keys:
        table.add_column(key, justify="right")
    for key in others:
        table.add_column(f"Δ {key}", justify="right")
    for row in result.rows:
        deltas = []
        for key in others:
            pct = row.percent(key, result.current)
            share = "" if pct is None else f" ({str(pct).replace('.', ',') if nl else pct} %)"
            deltas.append(format_euros(row.difference(key, result.current), lang) + share)
        table.add_row(
            row.name if row.recipient != "IGO" else ("IGO (eigen deel)" if nl else "IGO (own share)"),
            row.discipline,
            *(format_euros(row.amounts[k], lang) for k in keys),
            *deltas,
        )
    out.print(table)
    console.print(("Huidig plan: " if nl else "Current plan: ") + result.current + ". " + (
        "Niets is geboekt." if nl else "Nothing was booked."))  # fmt: skip
