"""``integraal claims`` as a back-office user runs it: build, export, apply a return, worklist (issue 4)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dbutil import fresh_url, release
from disk_faults import FullDisk
from integraal.claims.batch import ReturnBatch, ReturnLine
from integraal.claims.formats import get_format
from integraal.cli.main import app
from integraal.domain.money import format_euros

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    url = fresh_url(tmp_path, "cli")
    environment = {"INTEGRAAL_DATABASE_URL": url, "COLUMNS": "200"}
    for args in (["init"], ["import", str(EXAMPLES)], ["decide", "--as-of", "2026-01-01"]):
        assert CliRunner().invoke(app, args, env=environment).exit_code == 0
    yield environment
    release(url)


def run(args: list[str], env: dict[str, str]):
    return CliRunner().invoke(app, args, env=env)


def test_build_export_apply_and_worklist(env, tmp_path):
    built = run(["claims", "build", "--from", "2025-01-01", "--to", "2025-12-31"], env)
    assert built.exit_code == 0, built.output
    assert "B0000001" in built.output and "B0000002" in built.output

    claim_file = tmp_path / "b1.kz301"
    exported = run(["claims", "export", "B0000001", "--out", str(claim_file)], env)
    assert exported.exit_code == 0, exported.output
    sent = get_format("kz301").read(claim_file.read_bytes())
    assert sent.batch_id == "B0000001" and sent.lines

    # The insurer rejects the first line as not insured (0320) and accepts the rest.
    first = sent.lines[0]
    lines = tuple(
        ReturnLine(
            line, line.signed_cents, 0 if line is first else line.signed_cents, ("0320",) if line is first else ()
        )
        for line in sent.lines
    )
    returned = ReturnBatch(
        sent.sender_agb, sent.receiver_uzovi, sent.batch_id, sent.creation_date, sent.period_start,
        sent.period_end, "RET-1", date(2026, 2, 1), (), lines,
    )  # fmt: skip
    return_file = tmp_path / "b1.kz302"
    return_file.write_bytes(get_format("kz302").write(returned))
    applied = run(["claims", "apply", str(return_file)], env)
    assert applied.exit_code == 0, applied.output
    assert f"accepted {len(sent.lines) - 1}" in applied.output and "rejected 1" in applied.output

    work = run(["claims", "worklist", "--lang", "en"], env)
    assert work.exit_code == 0 and "0320" in work.output

    listed = run(["claims", "batches"], env)
    assert "returned" in listed.output and "ready" in listed.output


def test_a_truncated_return_file_is_refused_naming_the_line(env, tmp_path):
    run(["claims", "build", "--from", "2025-01-01", "--to", "2025-12-31"], env)
    claim_file = tmp_path / "b1.kz301"
    run(["claims", "export", "B0000001", "--out", str(claim_file)], env)
    broken = tmp_path / "broken.kz302"
    broken.write_bytes(b"01" + b"0" * 100 + b"\r\n")
    result = run(["claims", "apply", str(broken)], env)
    assert result.exit_code == 1
    assert "line 1" in result.output


def test_several_return_files_at_once_apply_the_good_and_name_the_bad(env, tmp_path):
    run(["claims", "build", "--from", "2025-01-01", "--to", "2025-12-31"], env)
    claim_file = tmp_path / "b1.kz301"
    run(["claims", "export", "B0000001", "--out", str(claim_file)], env)
    sent = get_format("kz301").read(claim_file.read_bytes())
    returned = ReturnBatch(
        sent.sender_agb, sent.receiver_uzovi, sent.batch_id, sent.creation_date, sent.period_start,
        sent.period_end, "RET-1", date(2026, 2, 1), (),
        tuple(ReturnLine(line, line.signed_cents, line.signed_cents, ()) for line in sent.lines),
    )  # fmt: skip
    good = tmp_path / "b1.kz302"
    good.write_bytes(get_format("kz302").write(returned))
    broken = tmp_path / "broken.kz302"
    broken.write_bytes(b"01" + b"0" * 100 + b"\r\n")
    result = run(["claims", "apply", str(broken), str(good)], env)
    assert result.exit_code == 1
    output = result.output.replace("\n", "")  # long paths wrap
    assert f"B0000001: accepted {len(sent.lines)}," in output
    assert "broken.kz302: line 1" in output
    assert "returned" in run(["claims", "batches"], env).output


def test_every_ready_batch_is_exported_at_once(env, tmp_path):
    run(["claims", "build", "--from", "2025-01-01", "--to", "2025-12-31"], env)
    folder = tmp_path / "out"
    wrong = run(["claims", "export-ready", "--out-dir", str(folder), "--format", "kz302"], env)
    assert wrong.exit_code == 1 and "kz302" in wrong.output and not folder.exists()  # a return format: refused
    result = run(["claims", "export-ready", "--out-dir", str(folder)], env)
    assert result.exit_code == 0, result.output
    files = sorted(folder.iterdir())
    assert [f.name for f in files] == ["B0000001.kz301", "B0000002.kz301"]
    for f in files:
        assert get_format("kz301").read(f.read_bytes()).batch_id == f.stem
    listed = run(["claims", "batches"], env).output
    assert "ready" not in listed and listed.count("sent") == 2
    resent = tmp_path / "again.kz301"
    assert run(["claims", "export", "B0000002", "--out", str(resent)], env).exit_code == 0
    assert resent.read_bytes() == (folder / "B0000002.kz301").read_bytes()  # a resend: the same file
    again = run(["claims", "export-ready", "--out-dir", str(folder)], env)
    assert again.exit_code == 0 and "No batch is ready" in again.output


def test_a_file_not_saved_after_sending_is_named_with_how_to_write_it_again(env, tmp_path, monkeypatch):
    run(["claims", "build", "--from", "2025-01-01", "--to", "2025-12-31"], env)
    not_a_folder = tmp_path / "a-file"
    not_a_folder.write_text("")
    refused = run(["claims", "export-ready", "--out-dir", str(not_a_folder)], env)
    assert refused.exit_code == 1 and "not a folder" in refused.output
    assert run(["claims", "batches"], env).output.count("ready") == 2  # nothing sent

    folder = tmp_path / "out"
    disk = FullDisk(monkeypatch, "B0000002")  # the disk fills up half-way through the second file
    result = run(["claims", "export-ready", "--out-dir", str(folder)], env)
    monkeypatch.undo()
    assert result.exit_code == 1 and disk.hit
    output = result.output.replace("\n", "")
    assert "No space left on device" in output and "Sent, but not saved: B0000002." in output
    assert f"'{folder / 'B0000002.kz301'}'" in output  # the file asked for, not the hidden one it was made as
    assert f"`integraal claims export B0000002 --out-dir {folder} --format kz301` writes them again" in output
    assert [f.name for f in folder.iterdir()] == ["B0000001.kz301"]  # no cut file, no temporary one
    assert "ready" not in run(["claims", "batches"], env).output  # both were sent
    again = tmp_path / "B0000002.kz301"
    FullDisk(monkeypatch, "B0000002")
    refused = run(["claims", "export", "B0000002", "--out", str(again)], env)
    monkeypatch.undo()
    assert refused.exit_code == 1 and not again.exists() and list(tmp_path.glob(".B0000002*")) == []
    assert "`integraal claims export B0000002 --out FILE` writes it again" in refused.output.replace("\n", "")
    assert run(["claims", "export", "B0000002", "--out", str(again)], env).exit_code == 0
    assert get_format("kz301").read(again.read_bytes()).batch_id == "B0000002"
    assert again.stat().st_mode & 0o077 == 0  # it holds BSNs: the owner only, as the backups
    resent = run(["claims", "export", "B0000002", "--out-dir", str(folder)], env)  # the command it named
    assert resent.exit_code == 0, resent.output
    assert (folder / "B0000002.kz301").read_bytes() == again.read_bytes()


def test_several_batches_are_sent_into_a_folder_together(env, tmp_path):
    """``claims export B1 B2 --out-dir DIR``: after a send whose files were lost (a killed command), one command
    writes them all again; ready batches among them are sent together."""
    run(["claims", "build", "--from", "2025-01-01", "--to", "2025-12-31"], env)
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    export = ["claims", "export", "B0000001", "B0000002"]
    for wrong, why in [
        ([*export], "Give --out FILE for one batch, or --out-dir FOLDER"),
        ([*export, "--out", str(tmp_path / "both.kz301")], "Give --out FILE for one batch, or --out-dir FOLDER"),
        ([*export, "--out-dir", str(a_file)], f"{a_file} is not a folder: nothing sent"),
        ([*export, "--out-dir", str(a_file / "out")], f"cannot be made: {a_file} is not a folder: nothing sent"),
    ]:
        refused = run(wrong, env)
        assert refused.exit_code == 1 and why in refused.output.replace("\n", ""), refused.output
    assert run(["claims", "batches"], env).output.count("ready") == 2  # nothing sent
    missing = run(["claims", "export", "B0000001", "B0000009", "--out-dir", str(tmp_path / "x")], env)
    assert missing.exit_code == 1 and "B0000009" in missing.output and not (tmp_path / "x").exists()
    assert run(["claims", "batches"], env).output.count("ready") == 2  # not even the one that exists

    folder = tmp_path / "outbox" / "today"
    first = run(["claims", "export", "B0000001", "--out-dir", str(folder)], env)
    assert first.exit_code == 0 and [f.name for f in folder.iterdir()] == ["B0000001.kz301"]
    sent_once = (folder / "B0000001.kz301").read_bytes()
    (folder / "B0000001.kz301").unlink()  # lost, as after a killed send
    listed = run(["claims", "batches", "--missing-in", str(folder)], env)
    assert listed.exit_code == 0 and "B0000001" in listed.output and "B0000002" not in listed.output  # still ready
    assert f"`integraal claims export B0000001 --out-dir {folder} --format kz301` writes them" in (
        listed.output.replace("\n", "")
    )
    ready = run(["claims", "batches", "--state", "ready"], env).output
    assert "B0000002" in ready and "B0000001" not in ready
    assert run(["claims", "batches", "--state", "lost"], env).exit_code == 2  # not a state: a usage error
    both = run([*export, "--out-dir", str(folder), "--format", "kz301"], env)
    assert both.exit_code == 0 and "2 batches sent" in both.output
    assert sorted(f.name for f in folder.iterdir()) == ["B0000001.kz301", "B0000002.kz301"]
    assert (folder / "B0000001.kz301").read_bytes() == sent_once  # a resend: the same file
    assert "ready" not in run(["claims", "batches"], env).output
    none_missing = run(["claims", "batches", "--missing-in", str(folder)], env).output
    assert "B0000001" not in none_missing and "B0000002" not in none_missing and "writes them" not in none_missing


def test_batches_are_built_and_sent_in_one_step(env, tmp_path):
    folder = tmp_path / "outbox"
    build = ["claims", "build", "--from", "2025-01-01", "--to", "2025-12-31"]
    alone = run([*build, "--send", "kz301"], env)
    assert alone.exit_code == 1 and "go together" in alone.output
    wrong = run([*build, "--send", "kz302", "--out-dir", str(folder)], env)
    assert wrong.exit_code == 1 and "kz302" in wrong.output and not folder.exists()  # a return format: refused
    assert "B0000001" not in run(["claims", "batches"], env).output  # nothing built

    result = run([*build, "--send", "kz301", "--out-dir", str(folder)], env)
    assert result.exit_code == 0, result.output
    assert "B0000001" in result.output and "2 batches sent" in result.output
    files = sorted(folder.iterdir())
    assert [f.name for f in files] == ["B0000001.kz301", "B0000002.kz301"]
    listed = run(["claims", "batches"], env).output
    assert "ready" not in listed and listed.count("sent") == 2
    for f in files:  # the file sent is the stored batch's (a resend writes it from the database)
        again = tmp_path / f.name
        assert run(["claims", "export", f.stem, "--out", str(again)], env).exit_code == 0
        assert again.read_bytes() == f.read_bytes()


def test_a_member_exports_its_separate_lines_whole_and_once(env, tmp_path, monkeypatch):
    """``claims member-export``: a member that claims its own monodisciplinary lines gets one file per insurer,
    whole or not at all and readable by its owner only; once the IGO claimed the lines, none are left."""
    folder = tmp_path / "linde"
    export = ["claims", "member-export", "--agb", "08000001", "--from", "2025-01-01", "--to", "2025-12-31"]
    disk = FullDisk(monkeypatch, "08000001-7029")  # the disk fills up half-way through the second file
    refused = run([*export, "--out", str(folder)], env)
    monkeypatch.undo()
    assert refused.exit_code == 1 and disk.hit
    assert "No space left on device" in refused.output and "nothing was changed" in refused.output
    assert [f.name for f in folder.iterdir()] == ["08000001-3311.csv"]  # no cut file, no temporary one

    result = run([*export, "--out", str(folder)], env)
    assert result.exit_code == 0, result.output
    files = sorted(folder.iterdir())
    assert [f.name for f in files] == ["08000001-3311.csv", "08000001-7029.csv"]
    for f in files:
        batch = get_format("csv").read(f.read_bytes())
        assert batch.sender_agb == "08000001" and batch.receiver_uzovi == f.stem.split("-")[1]
        assert batch.lines and f"{f}: {len(batch.lines):,} lines, {format_euros(batch.total_signed_cents)}" in (
            result.output.replace("\n", "")
        )
        assert f.stat().st_mode & 0o077 == 0  # it holds BSNs: the owner only
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    refused = run([*export, "--out", str(a_file)], env)
    assert refused.exit_code == 1 and f"{a_file} is not a folder: nothing written" in refused.output.replace("\n", "")
    fhir = run([*export, "--out", str(tmp_path / "fhir"), "--format", "fhir-claim"], env)
    assert fhir.exit_code == 0 and sorted(f.name for f in (tmp_path / "fhir").iterdir()) == [
        "08000001-3311.json",
        "08000001-7029.json",
    ]  # named as every claim file of that format
    assert run(["claims", "build", "--from", "2025-01-01", "--to", "2025-12-31"], env).exit_code == 0
    after = run([*export, "--out", str(tmp_path / "after")], env)
    assert after.exit_code == 0 and "No separate lines of 08000001" in after.output  # the IGO claimed them
