"""``integraal claims``: build claim batches from the decisions, write the files, apply the insurer's returns.

The command line acts for the whole database (as a superuser: whoever runs it holds the database file).
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from integraal.claims.formats import FormatError, get_format
from integraal.cli.common import DbOption, console, open_database, save_whole
from integraal.domain.money import format_euros
from integraal.services import claims, reconciliation
from integraal.services.access import SYSTEM
from integraal.services.insurer_simulation import MonthRun, last_day_of_month, run_month
from integraal.store.database import DatabaseBusyError
from integraal.whole_files import write_whole

app = typer.Typer(
    help="Claims to insurers (declaraties): batches per IGO and insurer from the bundle decisions, KZ301-style "
    "files out, KZ302-style return files in, and the worklist of rejected lines with the action to take.",
    no_args_is_help=True,
)
out = Console()
T = TypeVar("T")
LangOption = Annotated[str, typer.Option("--lang", help="Language of texts: nl or en.")]


@app.command()
def build(
    period_from: Annotated[datetime, typer.Option("--from", formats=["%Y-%m-%d"], help="First declaration date.")],
    period_to: Annotated[datetime, typer.Option("--to", formats=["%Y-%m-%d"], help="Last declaration date.")],
    integral_only: Annotated[
        bool, typer.Option(help="Only integral lines; members claim their separate lines themselves.")
    ] = False,
    send: Annotated[
        str | None,
        typer.Option(
            "--send",
            help="Send the batches as they are built, as claim files in this format (kz301, fhir-claim or csv) "
            "written into --out-dir: the same files as `export-ready` right after, in one step.",
        ),
    ] = None,
    out_dir: Annotated[Path | None, typer.Option("--out-dir", help="With --send: write the files here.")] = None,
    db: DbOption = None,
) -> None:
    """Make claim batches (one per IGO × insurer) of every decided claim line declared in the period.

    Nothing is claimed twice; a line whose decision changed after it was booked is corrected with a credit and a
    new debit. With --send the batches are sent as they are built (a file that cannot be made builds nothing)."""
    if (send is None) != (out_dir is None):
        console.print("[red]--send and --out-dir go together: nothing built[/]")
        raise typer.Exit(1)
    if out_dir is not None:
        _check_folder(out_dir, "nothing built")
    database = open_database(db, needs="claim_batches")
    result = _exported(
        lambda: claims.build_batches(
            database,
            SYSTEM,
            period_start=period_from.date(),
            period_end=period_to.date(),
            include_mono=not integral_only,
            send=send,
        )
    )
    table = Table(title="Claim batches (declaratiebatches)")
    for column in ("batch", "IGO", "insurer", "lines", "credits", "total"):
        table.add_column(column, justify="right" if column in ("lines", "credits", "total") else "left")
    for b in result.batches:
        table.add_row(b.batch_id, b.igo_id, b.uzovi, f"{b.lines:,}", f"{b.credits:,}", format_euros(b.total_cents))
    out.print(table)
    out.print(
        f"Already claimed: {result.already_claimed:,}; waiting for an answer before correcting: {result.waiting:,}; "
        f"rejected and unchanged (see the worklist): {result.unchanged_rejections:,}."
    )
    if result.owed_redecided:
        out.print(
            "Decided again first (a 0587 of an earlier, interrupted return application): "
            f"{', '.join(result.owed_redecided)}."
        )
    if send is not None and out_dir is not None:
        _save(result.files, out_dir, send)


def _exported(export: Callable[[], T]) -> T:
    """What ``export`` gives, or the command's end with its error: exit 1 (the batch or the format), 3 (busy)."""
    try:
        return export()
    except (FormatError, claims.ClaimsError, LookupError) as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from exc
    except DatabaseBusyError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(3) from exc


@app.command()
def export(
    batch_ids: Annotated[
        list[str], typer.Argument(help="The batches, e.g. B0000001 B0000002 (see `integraal claims batches`).")
    ],
    out_file: Annotated[Path | None, typer.Option("--out", help="Write the file here (one batch).")] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out-dir", help="Write each batch's file (BATCH.kz301, …) into this folder (made if missing)."),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="Claim file format: kz301, fhir-claim or csv.")] = "kz301",
    db: DbOption = None,
) -> None:
    """Write batches as claim files and mark them sent, together (writing a sent batch again is a resend: the same
    file). One batch into --out FILE, or any number into --out-dir: after a send whose files were not saved (a
    killed command, a full disk), `integraal claims batches --missing-in DIR` lists them, and one command writes
    them all."""
    if (out_file is None) == (out_dir is None) or (out_file is not None and len(batch_ids) > 1):
        console.print("[red]Give --out FILE for one batch, or --out-dir FOLDER: nothing sent[/]")
        raise typer.Exit(1)
    if out_dir is not None:
        _check_folder(out_dir, "nothing sent")
    database = open_database(db, needs="claim_batches")
    if out_dir is not None:
        _save(_exported(lambda: claims.export_batches(database, SYSTEM, batch_ids, fmt)), out_dir, fmt)
        return
    assert out_file is not None
    (batch_id,) = batch_ids
    data = _exported(lambda: claims.export_batch(database, SYSTEM, batch_id, fmt))
    again = f"`integraal claims export {batch_id} --out FILE` writes it again (a resend: the same file)."
    save_whole(out_file, data, private=True, if_not_saved=f"{batch_id} is sent, but its file was not saved: {again}")
    console.print(f"{batch_id}: {len(data):,} bytes written to {out_file} ({fmt}).")


def _check_folder(folder: Path, nothing_done: str) -> None:
    """End the command (exit 1) before it changes anything if no file could be saved in ``folder``: the first
    folder on its path that exists (``folder`` itself, or where it would be made) is a file or cannot be written.
    It is made when the files are saved."""
    existing = next(p for p in (folder, *folder.absolute().parents) if p.exists())
    if not existing.is_dir():
        problem = "is not a folder"
    elif not os.access(existing, os.W_OK | os.X_OK):
        problem = "cannot be written"
    else:
        return
    reason = problem if existing == folder else f"cannot be made: {existing} {problem}"
    console.print(f"[red]{folder} {reason}: {nothing_done}[/]")
    raise typer.Exit(1)


EXTENSIONS = {"kz301": "kz301", "fhir-claim": "json", "csv": "csv"}
"""The file name extension of each claim file format."""


@app.command(name="export-ready")
def export_ready(
    out_dir: Annotated[Path, typer.Option("--out-dir", help="Write the files into this folder (made if missing).")],
    fmt: Annotated[str, typer.Option("--format", help="Claim file format: kz301, fhir-claim or csv.")] = "kz301",
    db: DbOption = None,
) -> None:
    """Write every batch still ready as a claim file (BATCH.kz301, …) and mark them all sent, together: if one
    file cannot be made, none is sent. The files are saved once the batches are sent; a batch whose file could not
    be saved (a full disk) is named with the `integraal claims export … --out-dir DIR` command that writes it again
    (a resend: the same file)."""
    _check_folder(out_dir, "nothing sent")
    database = open_database(db, needs="claim_batches")
    ready = [b.batch_id for b in claims.list_batches(database, SYSTEM) if b.state == "ready"]
    if not ready:
        out.print("No batch is ready to be sent.")
        return
    _save(_exported(lambda: claims.export_batches(database, SYSTEM, ready, fmt)), out_dir, fmt)


def _save(files: dict[str, bytes], out_dir: Path, fmt: str) -> None:
    """Save the sent batches' files (BATCH.kz301, …) in ``out_dir``, whole and owner-only as ``save_whole`` does;
    a file that could not be saved is named with the command that writes it again (exit 1)."""
    saved: list[str] = []
    try:
        out_dir.mkdir(parents=True, exist_ok=True)  # checked before sending; again in case it went in between
        for batch_id, data in files.items():
            write_whole(out_dir / f"{batch_id}.{EXTENSIONS.get(fmt, fmt)}", data, private=True)
            saved.append(batch_id)
    except OSError as exc:
        unsaved = [batch_id for batch_id in files if batch_id not in saved]
        console.print(f"[red]{exc}[/]")
        again = _export_command(unsaved, out_dir, fmt)
        console.print(
            f"[red]Sent, but not saved: {', '.join(unsaved)}. `{again}` writes them again (a resend: the same "
            "files).[/]"
        )
        raise typer.Exit(1) from exc
    total = sum(map(len, files.values()))
    console.print(f"{len(files)} batches sent: {total:,} bytes written to {out_dir} ({fmt}).")


def _export_command(batch_ids: list[str], out_dir: Path, fmt: str) -> str:
    """The command that writes the files of sent batches again (a resend), ready to paste into a shell."""
    return shlex.join(["integraal", "claims", "export", *batch_ids, "--out-dir", str(out_dir), "--format", fmt])


@app.command(name="apply")
def apply_return(
    return_files: Annotated[
        list[Path], typer.Argument(help="The insurer's return files.", exists=True, dir_okay=False)
    ],
    fmt: Annotated[
        str, typer.Option("--format", help="Return file format: kz302, fhir-claimresponse or csv-return.")
    ] = "kz302",
    db: DbOption = None,
) -> None:
    """Apply return files: every line accepted, reduced or rejected with its return codes. Each file is applied
    on its own: a bad file changes nothing, the error names the file, line and position, and the other files are
    applied (exit code 1 if any was refused). A return code 0587 (already paid to another provider) decides that
    pregnancy again as a broken bundle, once for all the files."""
    database = open_database(db, needs="claim_batches")
    files = [(str(path), path.read_bytes()) for path in return_files]
    try:
        run = claims.apply_returns(database, SYSTEM, files, fmt, at=datetime.now(UTC))
    except DatabaseBusyError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(3) from exc
    for _, summary in run.applied:
        console.print(
            f"{summary.batch_id}: accepted {summary.accepted:,}, partially accepted "
            f"{summary.partially_accepted:,}, rejected {summary.rejected:,}, already applied "
            f"{summary.already_applied:,}; awarded {format_euros(summary.awarded_cents)}."
        )
    if run.bundle_breakers:
        console.print(
            f"Bundle breakers reported by the insurer (0587), decided again: {', '.join(run.bundle_breakers)}."
        )
    if run.owed_redecided:
        console.print(
            f"Decided again as well (a 0587 of an earlier, interrupted application): {', '.join(run.owed_redecided)}."
        )
    for name, error in run.refused:
        console.print(f"[red]{name}: {error}[/]")
    if run.refused:
        raise typer.Exit(1)


@app.command()
def batches(
    state: Annotated[
        str | None, typer.Option("--state", help="Only batches in this state: ready, sent or returned.")
    ] = None,
    missing_in: Annotated[
        Path | None,
        typer.Option(
            "--missing-in",
            help="Only sent batches whose claim file (BATCH.kz301, …) is not in this folder: after a send killed "
            "or stopped by a full disk before it saved them all.",
        ),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="With --missing-in: the files' format.")] = "kz301",
    db: DbOption = None,
) -> None:
    """List the claim batches and their state (ready, sent, returned)."""
    database = open_database(db, needs="claim_batches")
    if state is not None and state not in claims.BATCH_STATES:
        raise typer.BadParameter(f"one of {', '.join(claims.BATCH_STATES)}", param_hint="--state")
    listed = claims.list_batches(database, SYSTEM)
    if state is not None:
        listed = [b for b in listed if b.state == state]
    if missing_in is not None:
        extension = EXTENSIONS.get(fmt, fmt)
        listed = [b for b in listed if b.state == "sent" and not (missing_in / f"{b.batch_id}.{extension}").exists()]
    table = Table(title="Claim batches")
    for column in ("batch", "IGO", "insurer", "period", "lines", "total", "state"):
        table.add_column(column)
    for b in listed:
        table.add_row(
            b.batch_id,
            b.igo_id,
            b.uzovi,
            f"{b.period_start} – {b.period_end}",
            f"{b.lines:,}",
            format_euros(b.total_cents),
            b.state,
        )
    out.print(table)
    if missing_in is not None and listed:
        again = _export_command([b.batch_id for b in listed], missing_in, fmt)
        out.print(
            f"Sent, without a file in {missing_in}: if their files were never handed on, `{again}` writes them "
            "again (a resend: the same files; nothing changes). A file already uploaded and moved is not missing: "
            "do not send it twice."
        )


@app.command()
def worklist(lang: LangOption = "nl", db: DbOption = None) -> None:
    """Rejected and reduced lines, grouped by return code, with the action to take."""
    database = open_database(db, needs="claim_batches")
    groups = claims.worklist(database, SYSTEM)
    if not groups:
        out.print("Nothing to do: no rejected or reduced lines.")
        return
    table = Table(title="Worklist (afgewezen en verlaagde regels)")
    for column in ("code", "meaning", "action", "lines", "open amount"):
        table.add_column(column)
    for g in groups:
        table.add_row(
            g.return_code,
            g.text_nl if lang == "nl" else g.text_en,
            g.next_action,
            f"{len(g.lines):,}",
            format_euros(g.open_cents, lang),
        )
    out.print(table)


def month_table(run: MonthRun, lang: str = "nl") -> Table:
    """Per insurer, the month's batches: lines, what was claimed and awarded, and what came back."""
    nl = lang == "nl"
    table = Table(title="Declaraties van de maand via de gesimuleerde verzekeraar" if nl else "The month's claims")
    headers = (
        ("uzovi", "regels", "gedeclareerd", "toegekend", "ok/verl./afw.", "0587")
        if nl
        else ("uzovi", "lines", "claimed", "awarded", "ok/red./rej.", "0587")
    )
    for n, header in enumerate(headers):
        table.add_column(header, justify="right" if n else "left", no_wrap=True)
    per_insurer: dict[str, list[int]] = {}
    for r in run.rounds:
        row = per_insurer.setdefault(r.uzovi, [0] * 7)
        for n, value in enumerate(
            (r.lines, r.claimed_cents, r.awarded_cents, r.accepted, r.partially_accepted, r.rejected, r.bundle_breakers)
        ):
            row[n] += value
    for uzovi, (lines, claimed, awarded, ok, reduced, rejected, breakers) in sorted(per_insurer.items()):
        table.add_row(
            uzovi,
            f"{lines:,}",
            format_euros(claimed, lang),
            format_euros(awarded, lang),
            f"{ok:,}/{reduced:,}/{rejected:,}",
            f"{breakers:,}",
        )
    follow = sum(b.lines for b in run.follow_up_batches)
    table.caption = (
        f"{len(run.rounds)} batches; daarna {len(run.follow_up_batches)} vervolgbatches met {follow:,} regels "
        "(o.a. de losse declaraties van leden na een 0587)."
        if nl
        else f"{len(run.rounds)} batches; then {len(run.follow_up_batches)} follow-up batches with {follow:,} lines "
        "(e.g. members' separate claims after a 0587)."
    )
    return table


@app.command()
def month(
    month_start: Annotated[
        datetime, typer.Option("--month", formats=["%Y-%m"], help="The month whose declarations to claim, YYYY-MM.")
    ],
    hidden_outside_share: Annotated[
        float, typer.Option(min=0, max=1, help="Share of women with an outside scan the IGO never registered.")
    ] = 0.01,
    reject_share: Annotated[float, typer.Option(min=0, max=1, help="Share of lines the insurer rejects (0613).")] = 0.0,
    seed: Annotated[int, typer.Option(help="Seed of the simulated insurer.")] = 1,
    lang: LangOption = "nl",
    db: DbOption = None,
) -> None:
    """Claim a whole month end to end through the simulated insurer (for demos and tests): build, KZ301 out,
    KZ302 back, apply, and the follow-up batches the returns caused (e.g. members' lines after a 0587)."""
    database = open_database(db, needs="claim_batches")
    start = month_start.date()
    end = last_day_of_month(start)
    run = run_month(
        database, SYSTEM, start, end, hidden_outside_share=hidden_outside_share, reject_share=reject_share, seed=seed
    )
    out.print(month_table(run, lang))


@app.command()
def pay(
    payment_id: Annotated[str, typer.Option("--id", help="The insurer's payment reference (recorded once).")],
    uzovi: Annotated[str, typer.Option(help="The insurer that paid.")],
    igo: Annotated[str, typer.Option(help="The IGO the payment is for.")],
    amount: Annotated[str, typer.Option(help="The amount received in euros, e.g. 1234.56.")],
    received_on: Annotated[datetime, typer.Option("--date", formats=["%Y-%m-%d"], help="Date received.")],
    db: DbOption = None,
) -> None:
    """Record a payment (afletteren): matched to the IGO's awarded, unpaid lines at that insurer, oldest first."""
    database = open_database(db, needs="payments")
    euros = Decimal(amount)
    if euros != euros.quantize(Decimal("0.01")):
        raise typer.BadParameter("at most two decimals (cents)", param_hint="--amount")
    try:
        result = reconciliation.record_payment(
            database,
            SYSTEM,
            payment_id=payment_id,
            uzovi=uzovi,
            received_on=received_on.date(),
            total_cents=int(euros * 100),
            igo_id=igo,
        )
    except claims.ClaimsError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from exc
    except DatabaseBusyError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(3) from exc
    console.print(
        f"{result.payment_id}: {format_euros(result.allocated_cents)} matched to claim lines "
        f"({result.lines_paid:,} now paid, {result.lines_part_paid:,} partly); "
        f"unmatched {format_euros(result.unallocated_cents)}."
    )


@app.command(name="open")
def open_(db: DbOption = None) -> None:
    """What insurers awarded and have not paid yet, per IGO and insurer."""
    database = open_database(db, needs="payments")
    table = Table(title="Still to be received (openstaand)")
    for column in ("IGO", "insurer", "lines", "awarded", "received", "open", "unmatched"):
        table.add_column(column, justify="left" if column in ("IGO", "insurer") else "right")
    for o in reconciliation.open_amounts(database, SYSTEM):
        table.add_row(
            o.igo_id,
            o.uzovi,
            f"{o.lines:,}",
            format_euros(o.awarded_cents),
            format_euros(o.received_cents),
            format_euros(o.open_cents),
            format_euros(o.unallocated_cents),
        )
    out.print(table)


@app.command(name="member-export")
def member_export(
    agb: Annotated[str, typer.Option(help="The member provider's AGB code.")],
    period_from: Annotated[datetime, typer.Option("--from", formats=["%Y-%m-%d"], help="First declaration date.")],
    period_to: Annotated[datetime, typer.Option("--to", formats=["%Y-%m-%d"], help="Last declaration date.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the files (one per insurer).")],
    fmt: Annotated[str, typer.Option("--format", help="csv, kz301 or fhir-claim.")] = "csv",
    db: DbOption = None,
) -> None:
    """For a member that claims its separate (monodisciplinary) lines itself: its lines of fallback phases, one
    file per insurer, without the lines the IGO already claimed on its behalf."""
    database = open_database(db, needs="claim_batches")
    if fmt not in claims.CLAIM_FORMATS:
        raise typer.BadParameter(f"one of {', '.join(claims.CLAIM_FORMATS)}", param_hint="--format")
    _check_folder(out_dir, "nothing written")
    batches = claims.member_batches(database, SYSTEM, agb, period_start=period_from.date(), period_end=period_to.date())
    writer = get_format(fmt)
    if batches:
        out_dir.mkdir(parents=True, exist_ok=True)
    for batch in batches:
        path = out_dir / f"{agb}-{batch.receiver_uzovi}.{EXTENSIONS.get(fmt, fmt)}"
        unsaved = f"{path} was not saved; nothing was changed: run the command again."
        save_whole(path, writer.write(batch), private=True, if_not_saved=unsaved)
        console.print(
            f"{path}: {len(batch.lines):,} lines, {format_euros(batch.total_signed_cents)} "
            f"for insurer {batch.receiver_uzovi}"
        )
    if not batches:
        console.print(f"No separate lines of {agb} declared in the period (or the IGO claimed them).")
