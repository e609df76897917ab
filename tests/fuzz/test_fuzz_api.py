"""Fuzz the REST API: no request, however wrong, gets a 500; every 4xx is a problem document (RFC 9457).

- Schemathesis over the whole OpenAPI document (valid and schema-breaking requests, bodies and multipart
  uploads included) as the superuser and as an insurer, on the two-IGO world of ``tests/integration``.
  ``tests/integration/test_api_properties.py`` runs the same operations with fixed examples in the ordinary
  suite; here the examples are random per run (seed in the pytest header) and every answer is also checked
  for its problem document.
- By hand: random and damaged files as the activities upload (as the superuser, an IGO's back office and a
  member, whose uploads are checked against their scope first) and as the insurer's return file in every
  return format, against a batch that was really sent; and random query strings on every GET route.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote

import pytest
import schemathesis
from api_world import BY_NAME, World, build_world, clone_world
from fuzzing import fuzz
from hypothesis import event, example, given
from hypothesis import strategies as st
from mutations import NASTY_CELLS, mutated_csv, mutated_json, mutated_records
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from dbutil import release
from integraal.api import create_app
from integraal.api.settings import Settings
from integraal.claims.batch import ReturnBatch, ReturnLine
from integraal.claims.formats import get_format
from integraal.services import claims
from integraal.services.access import Principal, Role
from integraal.store.database import Database

_DOCUMENT = create_app(Database("sqlite://"), settings=Settings(pseudonym_key=b"-")).openapi()
OPERATIONS = sorted((method.upper(), path) for path, item in _DOCUMENT["paths"].items() for method in item)
GET_ROUTES = sorted(path for method, path in OPERATIONS if method == "GET")
PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The two-IGO world as built; the tests write to copies of it."""
    world = build_world(tmp_path_factory.mktemp("fuzz-api"))
    yield world
    release(world.db)


@pytest.fixture(scope="module")
def world(template: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The world every request of this module goes to (they build batches, run decisions, upload ...)."""
    world = clone_world(template, tmp_path_factory.mktemp("fuzz-api-world"))
    yield world
    release(world.db)


@pytest.fixture(scope="module")
def claims_world(template: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """A copy with no claim built yet, for the return files."""
    world = clone_world(template, tmp_path_factory.mktemp("fuzz-api-claims"))
    yield world
    release(world.db)


@pytest.fixture(scope="module")
def api_schema(world: World) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", world.client.app)


def assert_clear_answer(status: int, content_type: str, body: bytes, what: str) -> None:
    """Not a server error; a client error is ``application/problem+json`` with type, title and status."""
    assert status < 500, f"{what}: {status} {body[:500]!r}"
    if 400 <= status < 500:
        assert content_type.split(";")[0].strip() == PROBLEM, f"{what}: {status} as {content_type!r}"
        problem = json.loads(body)
        assert isinstance(problem, dict), what
        assert isinstance(problem.get("type"), str) and problem["type"], what
        assert isinstance(problem.get("title"), str) and problem["title"], what
        assert problem.get("status") == status, what


def problem_documents(ctx: Any, response: Any, case: Any) -> bool | None:
    """A schemathesis check: every 4xx answer is a problem document."""
    content_type = (response.headers.get("content-type") or [""])[0]
    assert_clear_answer(response.status_code, content_type, response.content, case.operation.label)
    return None


# --- schemathesis over the whole schema ------------------------------------------------------------------------

SLOW = {("POST", "/api/auth/login"): 0.1}  # every attempt verifies an argon2 hash (by design, ~0.1 s)
EXAMPLES_PER_OPERATION = 0.5  # of the profile's examples, per operation and user (41 operations, 2 users)


def run_schema(api_schema: Any, world: World, method: str, path: str, user: str) -> None:
    operation = api_schema[path][method]
    strategy = operation.as_strategy(GenerationMode.POSITIVE) | operation.as_strategy(GenerationMode.NEGATIVE)

    @fuzz(share=SLOW.get((method, path), EXAMPLES_PER_OPERATION))
    @given(case=strategy)
    def answers_clearly(case: Any) -> None:
        case.call_and_validate(headers=world.headers(user), checks=[not_a_server_error, problem_documents])

    answers_clearly()


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
@pytest.mark.parametrize("user", ["root", "insurer_zk"])
def test_every_operation_answers_clearly(api_schema: Any, world: World, user: str, method: str, path: str) -> None:
    run_schema(api_schema, world, method, path, user)


# --- uploads of activities -------------------------------------------------------------------------------------

ACTIVITIES = (
    b"activity_id,bsn,pregnancy_id,agb,activity_code,date,quantity\n"
    b"FZ-1001,111222333,Z-0001,08000001,VK_CONTROLE,2025-04-07,1\n"
    b"FZ-1002,111222333,,08000001,VK_CONTROLE,2025-05-05,1\n"
    b"FZ-1003,123456782,Z-0002,08000001,VK_CONTROLE,2025-04-14,1\n"
)
file_names = st.sampled_from(["activities.csv", "", "../../etc/passwd", "a b\x00.csv", "x" * 300, "ü.csv", "."])


@fuzz(share=3)
@given(
    user=st.sampled_from(["root", "admin_riv", "member_linde"]),
    name=file_names,
    content=st.binary(max_size=300) | mutated_csv(ACTIVITIES) | mutated_csv(ACTIVITIES) | mutated_csv(ACTIVITIES),
    content_type=st.sampled_from(["text/csv", "application/octet-stream", "", "multipart/form-data"]),
)
@example(user="root", name="activities.csv", content=b"activity_id,bsn,agb\nA,1,2\n", content_type="text/csv")
@example(user="admin_riv", name="a.csv", content=b"__row,activity_id\n1,A\n", content_type="text/csv")
def test_uploaded_activity_files_get_a_report_or_a_problem(
    world: World, user: str, name: str, content: bytes, content_type: str
) -> None:
    files = {"file": (name, content, content_type)} if content_type else {"file": (name, content)}
    response = world.client.post("/api/activities/upload", files=files, headers=world.headers(user))
    event(f"{user}: {response.status_code}")
    assert_clear_answer(response.status_code, response.headers.get("content-type", ""), response.content, "upload")
    if response.status_code == 200:
        report = response.json()
        assert report["accepted"] + report["rejected"] == report["total"]
        assert all(e["row"] >= 1 and e["field"] and e["reason"] for e in report["errors"])
    elif response.status_code == 422:
        problem = response.json()
        assert problem["errors"], "a rejected file says why"


# --- return files ----------------------------------------------------------------------------------------------

RETURN_FORMATS = ("kz302", "csv-return", "fhir-claimresponse")


def _principal(username: str) -> Principal:
    person = BY_NAME[username]
    return Principal(None, person.username, Role(person.role), person.igo_id, person.agb, person.uzovi)


@pytest.fixture(scope="module")
def good_returns(claims_world: World) -> dict[str, bytes]:
    """The insurer's answer, in each return format, to a batch of IGO Rivierenland that was really sent."""
    admin = _principal("admin_riv")
    built = claims.build_batches(
        claims_world.db,
        admin,
        period_start=date(2025, 1, 1),
        period_end=date(2025, 12, 31),
        at=datetime(2026, 1, 10, tzinfo=UTC),
    )
    batch_id = built.batches[0].batch_id
    sent = get_format("kz301").read(claims.export_batch(claims_world.db, admin, batch_id, "kz301"))
    lines = tuple(
        ReturnLine(line, line.signed_cents, line.signed_cents if n % 2 else 0, () if n % 2 else ("0587",))
        for n, line in enumerate(sent.lines)
    )
    returned = ReturnBatch(
        sent.sender_agb,
        sent.receiver_uzovi,
        sent.batch_id,
        sent.creation_date,
        sent.period_start,
        sent.period_end,
        "ZK-FUZZ-1",
        date(2026, 1, 20),
        (),
        lines,
    )
    return {name: get_format(name).write(returned) for name in RETURN_FORMATS}


@st.composite
def return_files(draw: st.DrawFn, good: dict[str, bytes]) -> tuple[str, bytes]:
    fmt = draw(st.sampled_from([*RETURN_FORMATS, "kz301", "csv", "nonsense", "KZ302", ""]))
    source = fmt if fmt in good else draw(st.sampled_from(RETURN_FORMATS))
    if draw(st.integers(0, 4)) == 0:
        return fmt, draw(st.binary(max_size=300) | st.just(good[source]))
    mutate = {"kz302": mutated_records, "fhir-claimresponse": mutated_json, "csv-return": mutated_csv}[source]
    return fmt, draw(mutate(good[source]))


def test_return_files_get_a_summary_or_a_problem(claims_world: World, good_returns: dict[str, bytes]) -> None:
    @fuzz(share=3)
    @given(user=st.sampled_from(["admin_riv", "root", "admin_west"]), case=return_files(good_returns))
    def answers_clearly(user: str, case: tuple[str, bytes]) -> None:
        fmt, content = case
        response = claims_world.client.post(
            f"/api/claims/returns?format={quote(fmt)}",
            files={"file": ("return.dat", content)},
            headers=claims_world.headers(user),
        )
        what = f"return as {fmt!r}"
        event(f"{fmt}: {response.status_code}")
        assert_clear_answer(response.status_code, response.headers.get("content-type", ""), response.content, what)

    answers_clearly()
    # The good files themselves apply (the fuzz started from files the API takes).
    for fmt, content in good_returns.items():
        response = claims_world.client.post(
            f"/api/claims/returns?format={fmt}",
            files={"file": ("r", content)},
            headers=claims_world.headers("admin_riv"),
        )
        assert response.status_code == 200, response.text


# --- random query strings on every GET route -------------------------------------------------------------------

PATH_VALUES = ["Z-0001", "W-0001", "IGO-RIV", "08000001", "ZK-RIV-2025", "1", "0", "-1", "B0000001", "%", ".."]
SHORT_NASTY = [c for c in NASTY_CELLS if len(c) < 100]  # a URL has a limit on the client side too
query_values = st.text(max_size=30) | st.sampled_from([*SHORT_NASTY, "x" * 5_000, "2025-13-01", "true", "[]"])


def _parameters(path: str) -> list[str]:
    operation = _DOCUMENT["paths"][path]["get"]
    return [p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"]


@st.composite
def get_requests(draw: st.DrawFn) -> str:
    template = path = draw(st.sampled_from(GET_ROUTES))
    for name in [part[1:-1] for part in path.split("/") if part.startswith("{")]:
        value = draw(st.sampled_from(PATH_VALUES) | st.text(min_size=1, max_size=20))
        path = path.replace("{" + name + "}", quote(value, safe=""))
    names = st.sampled_from(_parameters(template) or ["x"]) | st.text(max_size=10)
    if draw(st.booleans()):
        pairs = draw(st.lists(st.tuples(names, query_values), max_size=5))
        query = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in pairs)
    else:  # raw, unencoded, possibly broken
        query = draw(st.sampled_from(["a=%ZZ", "&&&=", "limit=1&limit=2", "%00=%00", "=", "offset=1e9"]) | st.text())
        query = quote(query, safe="=&%")
    return f"{path}?{query}"


@fuzz(share=5)
@given(user=st.sampled_from(["root", "insurer_zk", "member_linde", None]), url=get_requests())
@example(user="root", url="/api/pregnancies?limit=1&limit=2")
@example(user="root", url="/api/providers/%00")  # was a 500 on PostgreSQL (NUL in a text comparison)
@example(user="insurer_zk", url="/api/pregnancies?search=%00")  # idem
def test_random_query_strings_on_every_get_route(world: World, user: str | None, url: str) -> None:
    world.client.cookies.clear()
    response = world.client.get(url, headers=world.headers(user))
    event(f"{response.status_code}")
    assert_clear_answer(response.status_code, response.headers.get("content-type", ""), response.content, url)


# --- NUL characters: PostgreSQL can neither store nor compare them ---------------------------------------------

NUL_BODIES = [
    ("/api/auth/login", {"json": {"username": "root\x00", "password": "x"}}, None, "username"),
    ("/api/decisions/runs", {"json": {"pregnancy_ids": ["Z-0001\x00"]}}, "root", "pregnancy_ids.0"),
    (
        "/api/claims/payments",
        {"json": {"payment_id": "P\x00", "uzovi": "3311", "received_on": "2026-01-01", "total_cents": 1}},
        "root",
        "payment_id",
    ),
    ("/login", {"data": {"username": "root\x00", "password": "x"}}, None, "username"),
]


@pytest.mark.parametrize(("path", "body", "user", "field"), NUL_BODIES)
def test_a_nul_character_in_a_body_is_a_problem_naming_the_field(
    world: World, path: str, body: dict[str, Any], user: str | None, field: str
) -> None:
    """Each was a 500 on PostgreSQL (the value reached a query); now a 422 naming the field, on every database."""
    world.client.cookies.clear()
    response = world.client.post(path, headers=world.headers(user), **body)
    assert_clear_answer(response.status_code, response.headers.get("content-type", ""), response.content, path)
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {
            "field": field,
            "location": "body",
            "message": "contains a NUL character (%00 or \\u0000), which no value may hold",
        }
    ]
