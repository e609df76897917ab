"""``integraal distribute``: compare distribution plans for an IGO's year (verdelen achter de voordeur)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from integraal.cli.common import DbOption, console, open_database, save_whole
from integraal.domain.money import format_euros
from integraal.services.access import SYSTEM
from integraal.services.distribution import Simulation, TransitionInfo, plan_presets, simulate
from integraal.services.periods import PeriodError, close_period, list_periods
from integraal.services.statements import statement, statement_pdf
from integraal.store.database import DatabaseBusyError

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
        if isinstance(info, TransitionInfo):
            corridor = f", corridor −{info.max_loss_pct} %" if info.max_loss_pct is not None else ""
            steps = f"{current} → {info.to} (α {info.alpha}{corridor})"
        else:
            steps = " → ".join(s["model"] for s in info.steps)
        table.add_row(key + (" *" if key == current else ""), name, steps)
    out.print(table)


@app.command(name="simulate")
def simulate_command(
    igo: Annotated[str, typer.Option(help="The IGO.")],
    year: Annotated[int, typer.Option(help="The year whose integral money is divided (declaration dates).")],
    plans: Annotated[
        str | None, typer.Option(help="Comma-separated plan keys (default: all; the current plan always runs).")
    ] = None,
    lang: Annotated[str, typer.Option("--lang", help="nl or en")] = "nl",
    incentives: Annotated[
        bool,
        typer.Option(
            help="Also show the incentives per plan: per pregnancy, per activity, per referral avoided and per "
            "quality point (0.01 on the quality scores)."
        ),
    ] = False,
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
    if incentives:
        out.print(_incentive_table(result, lang))
    console.print(("Huidig plan: " if nl else "Current plan: ") + result.current + ". " + (
        "Niets is geboekt." if nl else "Nothing was booked."))  # fmt: skip


def _incentive_table(result: Simulation, lang: str) -> Table:
    """Per member and plan: what one more pregnancy, activity, avoided referral or quality point earns."""
    nl = lang == "nl"
    table = Table(title="Prikkels per lid" if nl else "Incentives per member")
    table.add_column("lid" if nl else "member")
    heads = (
        ("per zw.", "per act.", "per verw. vermeden", "per kw.punt")
        if nl
        else ("per pregn.", "per act.", "per referral avoided", "per quality pt")
    )
    for key in result.plans:
        for head in heads:
            table.add_column(f"{key}\n{head}", justify="right")

    def money(cents: int | None) -> str:
        return "–" if cents is None else format_euros(cents, lang)

    for row in result.rows:
        if row.recipient == "IGO":
            continue
        cells = []
        for key in result.plans:
            cells += [
                money(row.per_pregnancy(key)),
                money(row.per_activity(key)),
                money(row.per_referral_avoided(key)),
                money(row.per_quality_point(key)),
            ]
        table.add_row(row.name, *cells)
    return table


@app.command()
def close(
    igo: Annotated[str, typer.Option(help="The IGO.")],
    year: Annotated[int, typer.Option(help="The year to close.")],
    plan: Annotated[str, typer.Option(help="The plan the board chose (see `integraal distribute plans`).")],
    db: DbOption = None,
) -> None:
    """Close a period: book the chosen plan's allocation for good. A closed period never changes; later
    corrections of its money are booked as adjustments when the next period closes."""
    database = open_database(db, needs="booked_lines")
    try:
        closed = close_period(database, SYSTEM, igo, year, plan)
    except (PeriodError, KeyError, LookupError) as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from exc
    except DatabaseBusyError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(3) from exc
    adjustments = sum(line.amount_cents for line in closed.lines if line.kind == "adjustment")
    console.print(
        f"{closed.period.period_id} closed with plan {plan}: {len(closed.lines):,} lines, "
        f"{format_euros(closed.period.received_cents)} divided; adjustments of earlier periods "
        f"{format_euros(adjustments)}."
    )


@app.command()
def periods(db: DbOption = None) -> None:
    """The closed periods."""
    database = open_database(db, needs="booked_lines")
    table = Table(title="Closed periods")
    for column in ("period", "IGO", "year", "plan", "received", "adjustments", "closed"):
        table.add_column(column)
    for p in list_periods(database, SYSTEM):
        table.add_row(
            p.period_id,
            p.igo_id,
            str(p.year),
            p.plan_key,
            format_euros(p.received_cents),
            format_euros(p.adjustment_cents),
            f"{p.closed_at:%Y-%m-%d %H:%M}",
        )
    out.print(table)


@app.command(name="statement")
def statement_command(
    period: Annotated[str, typer.Option(help="The closed period, e.g. IGO-RIV-2025.")],
    agb: Annotated[str, typer.Option(help="The member.")],
    pdf: Annotated[Path | None, typer.Option(help="Write the statement as PDF here.")] = None,
    lang: Annotated[str, typer.Option("--lang", help="nl or en")] = "nl",
    db: DbOption = None,
) -> None:
    """A member's statement for a closed period: received per phase, fees, bonus, adjustments, total, reasons."""
    database = open_database(db, needs="booked_lines")
    try:
        result = statement(database, SYSTEM, period, agb)
    except LookupError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from exc
    if pdf is not None:
        save_whole(pdf, statement_pdf(result, lang), private=False)  # handed to the member: whole or not at all
        console.print(f"{pdf}: {format_euros(result.total_cents, lang)} for {result.name}")
        return
    table = Table(title=f"{result.name} · {result.period_id} · {result.plan_name}")
    table.add_column("")
    table.add_column("", justify="right")
    for line in result.lines:
        table.add_row(line.text_nl if lang == "nl" else line.text_en, format_euros(line.amount_cents, lang))
    table.add_row("[bold]totaal[/]" if lang == "nl" else "[bold]total[/]", format_euros(result.total_cents, lang))
    out.print(table)
