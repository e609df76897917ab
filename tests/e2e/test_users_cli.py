"""``integraal user add`` / ``user token`` as an operator runs them, and the token working against the API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from dbutil import fresh_url, release
from integraal.api import create_app
from integraal.api.settings import Settings
from integraal.cli.main import app
from integraal.store.database import Database

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    url = fresh_url(tmp_path, "cli")  # empty: the tests run `integraal init`
    yield {"INTEGRAAL_DATABASE_URL": url, "COLUMNS": "200"}
    release(url)


def run(args: list[str], env: dict[str, str], stdin: str | None = None):
    return CliRunner().invoke(app, args, env=env, input=stdin)


def test_add_users_issue_a_token_and_use_it(env):
    assert run(["init"], env).exit_code == 0
    assert run(["import", str(EXAMPLES)], env).exit_code == 0
    added = run(
        ["user", "add", "alice", "--role", "igo_admin", "--igo", "IGO-RIV", "--password-stdin"],
        env,
        stdin="a long enough password\n",
    )
    assert added.exit_code == 0, added.output
    assert "Added alice (igo_admin, IGO-RIV)" in added.output
    token = run(["user", "token", "alice"], env)
    assert token.exit_code == 0
    secret = token.stdout.strip()
    assert secret.startswith("igr_")

    client = TestClient(create_app(Database(env["INTEGRAAL_DATABASE_URL"]), settings=Settings(pseudonym_key=b"k")))
    me = client.get("/api/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.status_code == 200 and me.json()["igo_id"] == "IGO-RIV"
    login = client.post("/api/auth/login", json={"username": "alice", "password": "a long enough password"})
    assert login.status_code == 200
    listed = run(["user", "list"], env)
    assert "alice" in listed.output and "igo_admin" in listed.output

    disabled = run(["user", "disable", "alice"], env)
    assert disabled.exit_code == 0 and "1 token(s) revoked, 1 session(s) ended" in disabled.output
    assert client.get("/api/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    assert client.get("/api/me").status_code == 401  # the session cookie of the login above
    again = client.post("/api/auth/login", json={"username": "alice", "password": "a long enough password"})
    assert again.status_code == 401


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["user", "add", "bob", "--role", "member", "--igo", "IGO-RIV"], "role member needs exactly agb"),
        (["user", "add", "bob", "--role", "insurer", "--uzovi", "9999"], "unknown insurer (UZOVI) '9999'"),
        (["user", "add", "bob", "--role", "analyst", "--password-stdin"], "at least 12 characters"),
        (["user", "add", "b", "--role", "analyst"], "a user name is"),
        (["user", "token", "nobody"], "no user 'nobody'"),
    ],
)
def test_wrong_users_are_refused_with_a_reason(env, args, message):
    run(["init"], env)
    run(["import", str(EXAMPLES)], env)
    result = run(args, env, stdin="short\n")
    assert result.exit_code == 2
    assert message in result.output


def test_user_commands_need_an_initialised_database(env):
    result = run(["user", "list"], env)
    assert result.exit_code == 2 and "integraal init" in " ".join(result.output.split())  # wrapped: a long URL


def test_serve_is_a_command_with_host_and_port(env):
    result = run(["serve", "--help"], env)
    assert result.exit_code == 0 and "--host" in result.output and "--port" in result.output
