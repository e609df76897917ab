"""The command line as a user runs it (Typer's runner, a temporary database)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dbutil import fresh_url, release
from integraal.cli.main import app

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    url = fresh_url(tmp_path, "cli")  # empty: the tests run `integraal init`
    yield {"INTEGRAAL_DATABASE_URL": url, "COLUMNS": "200"}
    release(url)


def run(args: list[str], env: dict[str, str]):
    return CliRunner().invoke(app, args, env=env)


def test_commands_without_a_database_ask_for_init(env):
    result = run(["decide"], env)
    assert result.exit_code == 2
    assert "integraal init" in " ".join(result.output.split())  # the console wraps lines (a long database URL)


def test_import_decide_json_and_explain(env, tmp_path):
    assert run(["init"], env).exit_code == 0
    imported = run(["import", str(EXAMPLES)], env)
    assert imported.exit_code == 0, imported.output
    assert "activities" in imported.output

    decided = run(["decide", "--json", "--as-of", "2026-01-01"], env)
    assert decided.exit_code == 0, decided.output
    objects = [json.loads(line) for line in decided.stdout.splitlines() if line.startswith("{")]
    assert [o["pregnancy_id"] for o in objects] == ["Z-0001", "Z-0002", "Z-0003"]
    prenatal = objects[0]["phases"]["prenatal"]
    assert prenatal["decision"] == "fallback"
    assert prenatal["reasons"] == ["NON_MEMBER_CARE"]
    claim = prenatal["claims"][0]
    assert set(claim) >= {"prestatie_code", "amount_cents", "declaration_date", "claimant_agb"}
    assert isinstance(claim["amount_cents"], int)
    assert objects[1]["phases"]["natal"]["claims"][0]["claimant_agb"] == "53000001"  # the IGO claims

    dutch = run(["explain", "Z-0001", "--as-of", "2026-01-01"], env)
    assert dutch.exit_code == 0, dutch.output
    assert "Echopunt Buiten" in dutch.output
    assert "bundel is gebroken" in dutch.output
    english = run(["explain", "Z-0001", "--as-of", "2026-01-01", "--lang", "en"], env)
    assert "the bundle is broken" in english.output


def test_import_of_bad_rows_exits_non_zero_and_names_row_and_field(env, tmp_path):
    run(["init"], env)
    folder = tmp_path / "files"
    shutil.copytree(EXAMPLES, folder)
    (folder / "activities.csv").write_text(
        (EXAMPLES / "activities.csv").read_text() + "BAD-1,111222334,Z-0001,08000001,VK_CONTROLE,2025-04-01,1\n"
    )
    result = run(["import", str(folder)], env)
    assert result.exit_code == 1
    assert "row 19, field 'bsn'" in result.output
    assert "1 row(s) rejected" in result.output


def test_unknown_pregnancy_is_a_clear_error(env):
    run(["init"], env)
    result = run(["explain", "NOPE"], env)
    assert result.exit_code == 2
    assert "Unknown pregnancy" in result.output


def test_catalogue_lists_the_years_codes(env):
    result = run(["catalogue", "--year", "2025"], env)
    assert result.exit_code == 0
    assert "VK_TERMIJNECHO" in result.output
    assert run(["catalogue", "--year", "1999"], env).exit_code == 2
