"""Property-based API test: schemathesis generates requests from /openapi.json and no answer may be a 5xx.

Bounded (25 examples per operation, valid and schema-breaking ones, as the superuser, the widest scope reaching
the most code; 10 as an insurer, for pseudonymisation and scoping) so it runs in the ordinary suite and in CI,
on the two-IGO world.

The operations are listed at collection time from the app's OpenAPI document (which needs no data), and each
runs its own Hypothesis test against the live app. (schemathesis' own pytest fixture loader does not work with
pytest 9, hence this small loop.)
"""

from __future__ import annotations

import pytest
import schemathesis
from api_world import World, build_world
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from dbutil import release
from integraal.api import create_app
from integraal.api.settings import Settings
from integraal.store.database import Database

_DOCUMENT = create_app(Database("sqlite://"), settings=Settings(pseudonym_key=b"-")).openapi()
OPERATIONS = sorted((method.upper(), path) for path, item in _DOCUMENT["paths"].items() for method in item)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> World:
    world = build_world(tmp_path_factory.mktemp("schema"))
    yield world
    release(world.db)


@pytest.fixture(scope="module")
def api_schema(world):
    return schemathesis.openapi.from_asgi("/openapi.json", world.client.app)


SLOW = {("POST", "/api/auth/login"): 5}  # every attempt verifies an argon2 hash (by design, ~0.1 s)


def check(api_schema, world: World, method: str, path: str, user: str, examples: int) -> None:
    operation = api_schema[path][method]
    examples = min(examples, SLOW.get((method, path), examples))
    # Valid requests (positive) and requests that break the schema (negative): both must get a 2xx/4xx.
    strategy = operation.as_strategy(GenerationMode.POSITIVE) | operation.as_strategy(GenerationMode.NEGATIVE)

    @given(case=strategy)
    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    def no_server_error(case) -> None:
        world.client.cookies.clear()
        response = case.call(headers=world.headers(user))
        assert response.status_code < 500, f"{method} {case.formatted_path}: {response.content[:500]!r}"
        if user != "root":  # an insurer never sees a raw BSN (in a text body, or in a PDF/Excel file's bytes)
            assert b"111222333" not in response.content

    no_server_error()


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_no_server_error_as_superuser(api_schema, world, method, path):
    check(api_schema, world, method, path, "root", 25)


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_no_server_error_as_insurer(api_schema, world, method, path):
    check(api_schema, world, method, path, "insurer_zk", 10)
