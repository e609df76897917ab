"""``integraal distribute`` as an IGO's board and back office run it: close a period, list it, save a member's
statement (issue 5; a statement is saved whole or not at all, issue 7)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dbutil import fresh_url, release
from disk_faults import FullDisk
from integraal.cli.main import app

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """The example region decided and its batches sent."""
    url = fresh_url(tmp_path, "cli")
    environment = {"INTEGRAAL_DATABASE_URL": url, "COLUMNS": "200"}
    build = ["claims", "build", "--from", "2025-01-01", "--to", "2025-12-31"]
    for args in (
        ["init"],
        ["import", str(EXAMPLES)],
        ["decide", "--as-of", "2026-01-01"],
        [*build, "--send", "kz301", "--out-dir", str(tmp_path / "sent")],
    ):
        assert CliRunner().invoke(app, args, env=environment).exit_code == 0
    yield environment
    release(url)


def run(args: list[str], env: dict[str, str]):
    return CliRunner().invoke(app, args, env=env)


def test_a_period_is_closed_once_and_a_statement_saved_whole(env, tmp_path, monkeypatch):
    close = ["distribute", "close", "--igo", "IGO-RIV", "--year", "2025", "--plan", "historisch"]
    assert "historisch" not in run(["distribute", "periods"], env).output  # none closed yet
    closed = run(close, env)
    assert closed.exit_code == 0, closed.output
    assert "IGO-RIV-2025 closed with plan historisch" in closed.output
    # The table's cells, not the period id: the table may be narrower than COLUMNS (its console is made at import).
    listed = run(["distribute", "periods"], env).output
    assert all(cell in listed for cell in ("IGO-RIV", "2025", "historisch"))
    again = run(close, env)
    assert again.exit_code == 1 and "already closed" in again.output  # a closed period never changes

    folder = tmp_path / "statements"
    folder.mkdir()
    pdf = folder / "linde.pdf"
    statement = ["distribute", "statement", "--period", "IGO-RIV-2025", "--agb", "08000001", "--pdf", str(pdf)]
    saved = run(statement, env)
    assert saved.exit_code == 0, saved.output
    assert "Verloskundigenpraktijk De Linde" in saved.output
    first = pdf.read_bytes()
    assert first.startswith(b"%PDF") and first.rstrip().endswith(b"%%EOF")

    disk = FullDisk(monkeypatch, "linde.pdf")  # the disk fills up half-way through saving it again
    refused = run([*statement, "--lang", "en"], env)
    monkeypatch.undo()
    assert refused.exit_code == 1 and disk.hit and "No space left on device" in refused.output
    assert pdf.read_bytes() == first and [f.name for f in folder.iterdir()] == ["linde.pdf"]  # as it was
