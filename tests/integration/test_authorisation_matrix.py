"""Every route × every role (and anonymous): the status each may get, and that no row of another tenant leaks.

The expected table below is written out by hand, independently of ``services.access.PERMISSIONS``: it is the
specification the code is checked against (issue 3, "tests try every endpoint as every role"). A route added
to the app without a line here fails ``test_every_route_has_an_expectation``.

World: two IGOs (Rivierenland, West), providers in each, insurers 3311 and 7029 with insured women in both
(``api_world``). Leak checks scan every successful response body for ids and BSNs the caller may not see.
"""

from __future__ import annotations

import json
import re

import pytest
from api_world import (
    ALL_PREGNANCIES,
    BY_NAME,
    EXAMPLES,
    IGO_OF,
    PEOPLE,
    RIV_PREGNANCIES,
    WEST,
    WEST_PREGNANCIES,
    Person,
    World,
    build_world,
)
from fastapi import routing as fastapi_routing
from small_numbers import small_counts

from dbutil import release
from integraal.api.deps import SESSION_COOKIE
from integraal.claims.batch import ReturnBatch, ReturnLine
from integraal.claims.formats import get_format
from integraal.services.users import csrf_token

PUBLIC = "public"
ANY_USER = "any user"
ROLES = ("igo_admin", "igo_board", "member", "insurer", "analyst", "superuser")


def roles(*names: str) -> frozenset[str]:
    return frozenset(names)


REGISTER = roles("igo_admin", "igo_board", "member", "insurer", "superuser")
CASE_DATA = roles("igo_admin", "igo_board", "insurer", "superuser")  # pregnancies, decisions, contracts
INSIGHT = roles("igo_admin", "igo_board", "insurer", "analyst", "superuser")  # aggregates, suppressed outside

EXPECTED: dict[tuple[str, str], str | frozenset[str]] = {
    ("GET", "/openapi.json"): PUBLIC,
    ("GET", "/api/docs"): PUBLIC,
    ("GET", "/api/docs/oauth2-redirect"): PUBLIC,
    ("GET", "/problems/{slug}"): PUBLIC,
    ("GET", "/api/health"): PUBLIC,
    ("POST", "/api/auth/login"): PUBLIC,  # with the person's own password; anonymous sends a wrong one
    ("GET", "/api/me"): ANY_USER,
    ("POST", "/api/auth/logout"): ANY_USER,
    ("GET", "/api/providers"): REGISTER,
    ("GET", "/api/providers/{agb}"): REGISTER,
    ("GET", "/api/igos"): REGISTER,
    ("GET", "/api/igos/{igo_id}"): REGISTER,
    ("GET", "/api/contracts"): CASE_DATA,
    ("GET", "/api/contracts/{contract_id}"): CASE_DATA,
    ("GET", "/api/pregnancies"): CASE_DATA,
    ("GET", "/api/pregnancies/{pregnancy_id}"): CASE_DATA,
    ("GET", "/api/pregnancies/{pregnancy_id}/decisions"): CASE_DATA,
    ("GET", "/api/activities"): roles("igo_admin", "igo_board", "member", "superuser"),
    ("POST", "/api/activities/upload"): roles("igo_admin", "member", "superuser"),
    ("GET", "/api/decisions"): CASE_DATA,
    ("GET", "/api/decisions/runs"): CASE_DATA,
    ("GET", "/api/decisions/summary"): roles("igo_admin", "igo_board", "insurer", "analyst", "superuser"),
    ("POST", "/api/decisions/runs"): roles("igo_admin", "superuser"),
    ("GET", "/api/audit"): roles("igo_admin", "superuser"),
    ("GET", "/api/claims/batches"): CASE_DATA,
    ("POST", "/api/claims/batches"): roles("igo_admin", "superuser"),
    ("POST", "/api/claims/batches/{batch_id}/send"): roles("igo_admin", "superuser"),
    ("POST", "/api/claims/returns"): roles("igo_admin", "superuser"),
    ("GET", "/api/claims/worklist"): CASE_DATA,
    ("POST", "/api/claims/payments"): roles("igo_admin", "superuser"),
    ("GET", "/api/claims/open"): CASE_DATA,
    ("GET", "/api/distribution/plans"): roles("igo_admin", "igo_board", "superuser"),
    ("GET", "/api/distribution/simulation"): roles("igo_admin", "igo_board", "superuser"),
    ("POST", "/api/distribution/periods"): roles("igo_admin", "superuser"),
    ("GET", "/api/distribution/periods"): roles("igo_admin", "igo_board", "member", "superuser"),
    ("GET", "/api/distribution/periods/{period_id}/statements/{agb}"): roles(
        "igo_admin", "igo_board", "member", "superuser"
    ),
    ("GET", "/api/distribution/periods/{period_id}/statements/{agb}/pdf"): roles(
        "igo_admin", "igo_board", "member", "superuser"
    ),
    ("GET", "/api/insight/indicators"): INSIGHT,
    ("GET", "/api/insight/indicators/{indicator_id}"): INSIGHT,
    ("GET", "/api/insight/indicators/{indicator_id}/trend"): INSIGHT,
    ("GET", "/api/insight/overview"): INSIGHT,
    ("GET", "/api/insight/casemix"): INSIGHT,
    ("GET", "/api/insight/casemix.csv"): INSIGHT,
    ("GET", "/api/insight/casemix.xlsx"): INSIGHT,
    ("GET", "/api/insight/report.pdf"): INSIGHT,
}

SUCCESS = {
    ("POST", "/api/decisions/runs"): 201,
    ("POST", "/api/claims/batches"): 201,
    ("POST", "/api/claims/payments"): 201,
    ("POST", "/api/distribution/periods"): 201,
}
CLAIM_PERIOD = {"period_start": "2025-01-01", "period_end": "2025-12-31"}

# The web UI: the same roles per page as the API routes they show. A visitor without a session is sent to the
# login page (303); a role without the permission gets a 403 page. Writes answer with a redirect (303).
WEB_EXPECTED: dict[tuple[str, str], str | frozenset[str]] = {
    ("GET", "/"): PUBLIC,
    ("GET", "/login"): PUBLIC,
    ("POST", "/login"): PUBLIC,
    ("GET", "/language/{lang}"): PUBLIC,
    ("POST", "/logout"): ANY_USER,
    ("GET", "/dashboard"): roles("igo_admin", "igo_board", "insurer", "analyst", "superuser"),
    ("GET", "/pregnancies"): CASE_DATA,
    ("GET", "/pregnancies/{pregnancy_id}"): CASE_DATA,
    ("POST", "/pregnancies/{pregnancy_id}/decide"): roles("igo_admin", "superuser"),
    ("GET", "/activities"): roles("igo_admin", "igo_board", "member", "superuser"),
    ("GET", "/upload"): roles("igo_admin", "member", "superuser"),
    ("POST", "/upload"): roles("igo_admin", "member", "superuser"),
    ("GET", "/audit"): roles("igo_admin", "superuser"),
    ("GET", "/claims"): CASE_DATA,
    ("POST", "/claims/build"): roles("igo_admin", "superuser"),
    ("POST", "/claims/batches/{batch_id}/send"): roles("igo_admin", "superuser"),
    ("POST", "/claims/returns"): roles("igo_admin", "superuser"),
    ("POST", "/claims/resubmit"): roles("igo_admin", "superuser"),
    ("GET", "/distribution"): roles("igo_admin", "igo_board", "superuser"),
    ("GET", "/distribution/scenarios"): roles("igo_admin", "igo_board", "superuser"),
    ("POST", "/distribution/close"): roles("igo_admin", "superuser"),
    ("GET", "/statements"): roles("igo_admin", "igo_board", "member", "superuser"),
    ("GET", "/statements/{period_id}/{agb}"): roles("igo_admin", "igo_board", "member", "superuser"),
    ("GET", "/statements/{period_id}/{agb}/pdf"): roles("igo_admin", "igo_board", "member", "superuser"),
    ("GET", "/insight"): INSIGHT,
    ("GET", "/insight/indicators/{indicator_id}"): INSIGHT,
    ("GET", "/insight/casemix"): INSIGHT,
    ("GET", "/insight/report.pdf"): INSIGHT,
}
WEB_SUCCESS = {
    ("GET", "/"): 303,
    ("POST", "/login"): 303,
    ("GET", "/language/{lang}"): 303,
    ("POST", "/logout"): 303,
    ("POST", "/pregnancies/{pregnancy_id}/decide"): 303,
    ("POST", "/claims/build"): 303,
    ("POST", "/claims/resubmit"): 303,
    ("POST", "/distribution/close"): 303,
}


def app_routes(app) -> list[tuple[str, str]]:
    """(method, path) of every route of the app, through included routers too (FastAPI ≥ 0.16x nests them)."""
    contexts = getattr(fastapi_routing, "iter_route_contexts", None)
    routes = list(contexts(app.routes)) if contexts else list(app.routes)
    found = set()
    for route in routes:
        for method in route.methods or ():
            if method != "HEAD":
                found.add((method, route.path))
    return sorted(found)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> World:
    world = build_world(tmp_path_factory.mktemp("matrix"))
    yield world
    release(world.db)


def test_every_route_has_an_expectation(world):
    assert set(app_routes(world.client.app)) == set(EXPECTED) | set(WEB_EXPECTED)


# --- what each person owns: path parameters, upload rows, and what must never appear in its responses -------


def _activities(csv_text: str, unnamed: str) -> dict[str, tuple[str, str]]:
    """Activity id → (pregnancy id, agb); ``unnamed``: the pregnancy a row without one matches (by BSN)."""
    rows = [line.split(",") for line in csv_text.splitlines()[1:]]
    return {r[0]: (r[2] or unnamed, r[3]) for r in rows}


ACTIVITIES = _activities((EXAMPLES / "activities.csv").read_text(), "Z-0001") | _activities(
    WEST["activities.csv"], "W-0002"
)
CONTRACT_OF_IGO = {"IGO-RIV": "ZK-RIV-2025", "IGO-WEST": "MZ-WEST-2025"}
CONTRACT_OF_UZOVI = {"3311": "ZK-RIV-2025", "7029": "MZ-WEST-2025"}
HOME_IGO = {"08000001": "IGO-RIV", "08000011": "IGO-WEST", "3311": "IGO-RIV", "7029": "IGO-WEST"}


def home_igo(person: Person) -> str:
    return person.igo_id or HOME_IGO.get(person.agb or person.uzovi or "", "IGO-RIV")


def member_pregnancies(person: Person) -> set[str]:
    return {pid for pid, agb in ACTIVITIES.values() if agb == person.agb}


def path_params(person: Person | None) -> dict[str, str]:
    if person is None:
        return {
            "agb": "08000001",
            "igo_id": "IGO-RIV",
            "contract_id": "ZK-RIV-2025",
            "pregnancy_id": "Z-0001",
            "slug": "not-found",
            "lang": "en",
            "batch_id": "B0000001",
            "period_id": "IGO-RIV-2025",
            "indicator_id": "caesarean_total",
        }
    igo = home_igo(person)
    own = sorted(person.own_pregnancies()) or ["Z-0001"]
    contract = CONTRACT_OF_UZOVI[person.uzovi] if person.uzovi else CONTRACT_OF_IGO[igo]
    return {
        "agb": person.agb or {"IGO-RIV": "08000001", "IGO-WEST": "08000011"}[igo],
        "igo_id": igo,
        "contract_id": contract,
        "pregnancy_id": own[0],
        "slug": "not-found",
        "lang": "en",
        "batch_id": "B0000001",
        "period_id": f"{igo}-2025",
        "indicator_id": "caesarean_total",
    }


def upload_file(person: Person | None) -> bytes:
    """One activity the person may register (its own AGB, a pregnancy of its IGO)."""
    west = person is not None and home_igo(person) == "IGO-WEST"
    pid, bsn, agb = ("W-0001", "345678011", "08000011") if west else ("Z-0002", "123456782", "08000001")
    name = person.username if person else "anonymous"
    return (
        "activity_id,bsn,pregnancy_id,agb,activity_code,date,quantity\n"
        f"MX-{name},{bsn},{pid},{agb},VK_CONTROLE,2025-05-12,1\n"
    ).encode()


def forbidden_tokens(person: Person) -> set[str]:
    """Strings that must never appear in a successful response to ``person``."""
    if person.role == "superuser":
        return set()
    visible = member_pregnancies(person) if person.role == "member" else person.own_pregnancies()
    tokens = set()
    for pid, bsn in ALL_PREGNANCIES.items():
        if pid not in visible:
            tokens |= {pid, bsn}
    if person.role in ("insurer", "igo_board", "analyst"):
        tokens |= set(ALL_PREGNANCIES.values())  # never a raw BSN
    if person.role == "analyst":
        tokens |= set(ALL_PREGNANCIES) | set(ACTIVITIES)
    if person.role == "member":
        tokens |= {a for a, (_, agb) in ACTIVITIES.items() if agb != person.agb}
    if person.igo_id or person.role == "member":
        other = "IGO-WEST" if home_igo(person) == "IGO-RIV" else "IGO-RIV"
        tokens |= {other, CONTRACT_OF_IGO[other]}
        tokens |= {a for a, (pid, _) in ACTIVITIES.items() if IGO_OF[pid] == other}
    if person.uzovi:
        tokens |= {c for u, c in CONTRACT_OF_UZOVI.items() if u != person.uzovi}
    return tokens


def call(world: World, method: str, path: str, person: Person | None):
    world.client.cookies.clear()  # a login sets the session cookie; every call here stands alone
    url = path.format(**path_params(person))
    headers = world.headers(person.username if person else None)
    if (method, path) == ("POST", "/api/auth/login"):
        body = (
            {"username": person.username, "password": person.password}
            if person
            else {"username": "nobody", "password": "not a password"}
        )
        return world.client.post(url, json=body)
    if (method, path) == ("POST", "/api/activities/upload"):
        files = {"file": ("activities.csv", upload_file(person), "text/csv")}
        return world.client.post(url, files=files, headers=headers)
    if (method, path) == ("POST", "/api/decisions/runs"):
        return world.client.post(url, json={"as_of": "2026-01-01"}, headers=headers)
    if (method, path) == ("POST", "/api/claims/batches"):
        return world.client.post(url, json=CLAIM_PERIOD, headers=headers)
    if (method, path) == ("POST", "/api/distribution/periods"):
        igo = home_igo(person) if person else "IGO-RIV"
        # Each closes a period no other test closes (the statement tests close 2025 first).
        year = 2026 if person is not None and person.role == "superuser" else 2024
        return world.client.post(url, json={"igo_id": igo, "year": year, "plan": "historisch"}, headers=headers)
    if path.startswith("/api/distribution/periods/{period_id}"):
        igo = home_igo(person) if person else "IGO-RIV"
        root = world.headers("root")  # the period must be closed for a statement (409 when it already is)
        world.client.post(
            "/api/distribution/periods", json={"igo_id": igo, "year": 2025, "plan": "historisch"}, headers=root
        )
        return world.client.request(method, url, headers=headers)
    if (method, path) == ("GET", "/api/distribution/simulation"):
        igo = home_igo(person) if person else "IGO-RIV"
        return world.client.get(url, params={"igo_id": igo, "year": 2025}, headers=headers)
    if path.startswith("/api/insight/"):
        igo = home_igo(person) if person else "IGO-RIV"
        return world.client.get(url, params={"igo_id": igo, "year": 2025, "years": "2025"}, headers=headers)
    if (method, path) == ("POST", "/api/claims/payments"):
        name = person.username if person else "anonymous"
        body = {"payment_id": f"PAY-{name}", "uzovi": "3311", "received_on": "2026-02-01", "total_cents": 0}
        return world.client.post(url, json=body | {"igo_id": "IGO-RIV"}, headers=headers)
    if (method, path) in (("POST", "/api/claims/batches/{batch_id}/send"), ("POST", "/api/claims/returns")):
        return claim_file_call(world, path, person, headers)
    return world.client.request(method, url, headers=headers)


def claim_file_call(world: World, path: str, person: Person | None, headers: dict[str, str], prepare_only=False):
    """Send a batch of the person's own IGO (built with root's token when the person may not build), or apply the
    insurer's answer to one: the batch is in scope for those allowed, so they get a success. ``prepare_only``:
    return the request (url, files) instead of making it (the web pages send the same with a session)."""
    igo = home_igo(person) if person else "IGO-RIV"
    root = world.headers("root")
    world.client.post("/api/claims/batches", json=CLAIM_PERIOD, headers=root)
    batches = world.client.get("/api/claims/batches", headers=root).json()
    ready = [b for b in batches if b["igo_id"] == igo and b["state"] == "ready"]
    batch = ready[0] if ready else next(b for b in batches if b["igo_id"] == igo)
    if path.endswith("/send"):
        url = f"/api/claims/batches/{batch['batch_id']}/send"
        return {"url": url} if prepare_only else world.client.post(url, headers=headers)
    sent = world.client.post(f"/api/claims/batches/{batch['batch_id']}/send", headers=root).content
    claim = get_format("kz301").read(sent)
    lines = tuple(ReturnLine(line, line.signed_cents, line.signed_cents) for line in claim.lines)
    answer = ReturnBatch(
        claim.sender_agb, claim.receiver_uzovi, claim.batch_id, claim.creation_date, claim.period_start,
        claim.period_end, "MATRIX", claim.creation_date, (), lines,
    )  # fmt: skip
    files = {"file": ("return.kz302", get_format("kz302").write(answer), "application/octet-stream")}
    if prepare_only:
        return {"url": "/api/claims/returns", "files": files}
    return world.client.post("/api/claims/returns", files=files, headers=headers)


def expected_status(method: str, path: str, person: Person | None) -> int:
    rule = EXPECTED[(method, path)]
    ok = SUCCESS.get((method, path), 200)
    if rule == PUBLIC:
        return ok if person is not None or method == "GET" else 401
    if person is None:
        return 401
    if rule == ANY_USER or person.role in rule:
        return ok
    return 403


CALLERS = [None, *PEOPLE]


@pytest.mark.parametrize("person", CALLERS, ids=lambda p: p.username if p else "anonymous")
@pytest.mark.parametrize(("method", "path"), sorted(EXPECTED), ids=lambda v: v)
def test_route_as_role(world, method, path, person):
    """Allowed → success; a role without the permission → 403; no credentials → 401. Never a 5xx."""
    response = call(world, method, path, person)
    assert response.status_code == expected_status(method, path, person), response.text
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith("application/problem+json")
        problem = response.json()
        assert problem["status"] == response.status_code and problem["type"] and problem["title"]
        if response.status_code == 401:
            assert response.headers["www-authenticate"].startswith("Bearer")
    elif person is not None and method in ("GET", "POST") and path not in ("/openapi.json", "/api/docs"):
        body = response.text
        leaked = sorted(token for token in forbidden_tokens(person) if re.search(rf"\b{re.escape(token)}\b", body))
        assert not leaked, f"{person.username} sees {leaked} in {method} {path}"
        if person.role in ("insurer", "analyst") and path in AGGREGATES:
            small = small_counts(response.json())
            assert not small, f"{person.username} sees small numbers in {path}: {small[:5]}"


AGGREGATES = {
    "/api/decisions/summary",
    "/api/insight/indicators/{indicator_id}",
    "/api/insight/indicators/{indicator_id}/trend",
    "/api/insight/overview",
    "/api/insight/casemix",
}
"""The aggregate views: for insurers and analysts no count in them may lie below the minimum cell size (10)."""


# --- the web UI: every page × every role, through a real web session -------------------------------------


def foreign_pregnancies(person: Person) -> list[str]:
    return sorted(set(ALL_PREGNANCIES) - person.own_pregnancies())


def web_login(world: World, person: Person) -> str:
    """Log in through the login form; returns the session cookie's value."""
    world.client.cookies.clear()
    response = world.client.post(
        "/login", data={"username": person.username, "password": person.password}, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    return response.cookies[SESSION_COOKIE]


def web_call(world: World, method: str, path: str, person: Person | None):
    url = path.format(**path_params(person))
    world.client.cookies.clear()
    if (method, path) == ("POST", "/login"):
        body = (
            {"username": person.username, "password": person.password}
            if person
            else {"username": "nobody", "password": "not a password"}
        )
        return world.client.post(url, data=body, follow_redirects=False)
    secret = web_login(world, person) if person else None
    if secret:
        world.client.cookies.set(SESSION_COOKIE, secret)
    token = {"csrf_token": csrf_token(secret)} if secret else {}
    if (method, path) == ("POST", "/upload"):
        files = {"file": ("activities.csv", upload_file(person), "text/csv")}
        return world.client.post(url, data=token, files=files, follow_redirects=False)
    if (method, path) == ("POST", "/claims/build"):
        return world.client.post(url, data=token | CLAIM_PERIOD, follow_redirects=False)
    if (method, path) == ("POST", "/distribution/close"):
        year = "2023" if person is not None and person.role != "superuser" else "2027"  # closed once each
        form = token | {"year": year, "plan": "historisch", "igo_id": "IGO-RIV"}
        return world.client.post(url, data=form, follow_redirects=False)
    if path.startswith("/statements/"):
        igo = home_igo(person) if person else "IGO-RIV"
        root = world.headers("root")
        world.client.post(
            "/api/distribution/periods", json={"igo_id": igo, "year": 2025, "plan": "historisch"}, headers=root
        )
        if secret:
            world.client.cookies.set(SESSION_COOKIE, secret)
        return world.client.get(url, follow_redirects=False)
    if path in ("/claims/batches/{batch_id}/send", "/claims/returns"):
        world.client.cookies.clear()
        api_path = "/api/claims/batches/{batch_id}/send" if path.endswith("/send") else "/api/claims/returns"
        request = claim_file_call(world, api_path, person, {}, prepare_only=True)
        if secret:
            world.client.cookies.set(SESSION_COOKIE, secret)
        return world.client.post(
            request["url"].removeprefix("/api"), data=token, files=request.get("files"), follow_redirects=False
        )
    if method == "POST":
        return world.client.post(url, data=token, follow_redirects=False)
    return world.client.get(url, follow_redirects=False)


def web_expected_status(method: str, path: str, person: Person | None) -> int:
    rule = WEB_EXPECTED[(method, path)]
    ok = WEB_SUCCESS.get((method, path), 200)
    if rule == PUBLIC:
        if (method, path) == ("POST", "/login") and person is None:
            return 401  # a wrong password: the form again, with the error
        return 303 if (method, path) == ("GET", "/login") and person else ok  # logged in: to the start page
    if person is None:
        return 303  # to the login page
    if rule == ANY_USER or person.role in rule:
        return ok
    if (method, path) == ("GET", "/dashboard"):
        return 303  # a member provider has no aggregates: its start page is its activities
    return 403


@pytest.mark.parametrize("person", CALLERS, ids=lambda p: p.username if p else "anonymous")
@pytest.mark.parametrize(("method", "path"), sorted(WEB_EXPECTED), ids=lambda v: v)
def test_web_page_as_role(world, method, path, person):
    """The same rules as the API, seen through the web UI; HTML pages leak no row of another tenant."""
    response = web_call(world, method, path, person)
    assert response.status_code == web_expected_status(method, path, person), response.text[:2000]
    if person is None and response.status_code == 303 and WEB_EXPECTED[(method, path)] != PUBLIC:
        assert response.headers["location"].startswith("/login?next=")
    if response.status_code < 300 and person is not None and path.endswith("/send"):
        assert response.headers["content-type"] == "application/octet-stream"  # the claim file itself
    elif response.status_code < 300 and person is not None and path.endswith(("/pdf", ".pdf")):
        assert response.content.startswith(b"%PDF")
    elif response.status_code < 300 and person is not None:
        assert response.headers["content-type"].startswith("text/html")
        body = response.text
        leaked = sorted(token for token in forbidden_tokens(person) if re.search(rf"\b{re.escape(token)}\b", body))
        assert not leaked, f"{person.username} sees {leaked} on {method} {path}"


@pytest.mark.parametrize(
    ("person", "pregnancy_id"),
    [(p, pid) for p in PEOPLE if p.role in CASE_DATA and p.role != "superuser" for pid in foreign_pregnancies(p)],
    ids=lambda v: v.username if isinstance(v, Person) else v,
)
def test_web_page_of_another_tenants_pregnancy_is_not_found(world, person, pregnancy_id):
    web_login(world, person)
    response = world.client.get(f"/pregnancies/{pregnancy_id}")
    assert response.status_code == 404
    assert ALL_PREGNANCIES[pregnancy_id] not in response.text


def test_web_form_without_the_csrf_token_is_refused(world):
    web_login(world, BY_NAME["admin_riv"])
    response = world.client.post("/pregnancies/Z-0001/decide", data={"csrf_token": "forged"}, follow_redirects=False)
    assert response.status_code == 403
    files = {"file": ("activities.csv", upload_file(BY_NAME["admin_riv"]), "text/csv")}
    assert world.client.post("/upload", files=files, follow_redirects=False).status_code == 403


# --- lists contain only own-tenant rows -----------------------------------------------------------------


@pytest.mark.parametrize("person", [p for p in PEOPLE if p.role in CASE_DATA], ids=lambda p: p.username)
def test_pregnancy_and_decision_lists_hold_only_own_tenant_rows(world, person):
    headers = world.headers(person.username)
    listed = world.client.get("/api/pregnancies", params={"limit": 500}, headers=headers).json()
    assert {i["pregnancy_id"] for i in listed["items"]} == person.own_pregnancies()
    assert listed["total"] == len(person.own_pregnancies())
    decisions = world.client.get("/api/decisions", params={"limit": 500}, headers=headers).json()
    assert {i["pregnancy_id"] for i in decisions["items"]} <= person.own_pregnancies()
    # Asking for another tenant's rows by filter gives nothing, not an error and not the rows.
    other_igo = "IGO-WEST" if "Z-0001" in person.own_pregnancies() else "IGO-RIV"
    if person.role != "superuser" and person.igo_id:
        filtered = world.client.get("/api/pregnancies", params={"igo_id": other_igo}, headers=headers).json()
        assert filtered["items"] == [] and filtered["total"] == 0
    if person.role != "superuser":
        for row in listed["items"]:
            assert (row["bsn"] is None) == (person.role in ("insurer", "igo_board"))
            assert (row["client_pseudonym"] is None) == (person.role == "igo_admin")


@pytest.mark.parametrize("person", [p for p in PEOPLE if p.role != "analyst"], ids=lambda p: p.username)
def test_register_lists_hold_only_visible_providers_igos_and_contracts(world, person):
    headers = world.headers(person.username)
    providers = {i["agb"] for i in world.client.get("/api/providers", headers=headers).json()["items"]}
    igos = {i["igo_id"] for i in world.client.get("/api/igos", headers=headers).json()["items"]}
    west_only = {line.split(",")[0] for line in WEST["providers.csv"].splitlines()[1:]}
    if person.role == "superuser":
        assert {"IGO-RIV", "IGO-WEST"} == igos and west_only <= providers
        return
    assert igos == {home_igo(person)}
    if home_igo(person) == "IGO-RIV":
        assert not providers & west_only and "08000001" in providers
    else:
        assert providers <= west_only
    contracts = world.client.get("/api/contracts", headers=headers)
    if person.role == "member":
        assert contracts.status_code == 403
    else:
        ids = {c["contract_id"] for c in contracts.json()["items"]}
        assert ids <= {CONTRACT_OF_UZOVI[person.uzovi]} if person.uzovi else ids == {CONTRACT_OF_IGO[person.igo_id]}


@pytest.mark.parametrize("person", [p for p in PEOPLE if p.role in ("igo_admin", "igo_board", "member")])
def test_activity_list_holds_only_own_activities(world, person):
    items = world.client.get("/api/activities", params={"limit": 500}, headers=world.headers(person.username))
    rows = items.json()["items"]
    assert rows
    for row in rows:
        if person.role == "member":
            assert row["agb"] == person.agb
        else:
            assert IGO_OF[row["pregnancy_id"]] == person.igo_id


# --- direct access to another tenant's rows ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("person", "pregnancy_id"),
    [(p, pid) for p in PEOPLE if p.role != "superuser" for pid in foreign_pregnancies(p)],
    ids=lambda v: v.username if isinstance(v, Person) else v,
)
def test_direct_access_to_another_tenants_pregnancy_is_refused(world, person, pregnancy_id):
    headers = world.headers(person.username)
    expected = 404 if person.role in CASE_DATA else 403
    for url in (f"/api/pregnancies/{pregnancy_id}", f"/api/pregnancies/{pregnancy_id}/decisions"):
        response = world.client.get(url, headers=headers)
        assert response.status_code == expected, (url, response.text)
        assert ALL_PREGNANCIES[pregnancy_id] not in response.text


@pytest.mark.parametrize(
    ("username", "url"),
    [
        ("admin_riv", "/api/providers/08000011"),
        ("admin_riv", "/api/igos/IGO-WEST"),
        ("admin_riv", "/api/contracts/MZ-WEST-2025"),
        ("board_riv", "/api/contracts/MZ-WEST-2025"),
        ("admin_west", "/api/providers/24000002"),
        ("admin_west", "/api/igos/IGO-RIV"),
        ("member_linde", "/api/providers/08000011"),
        ("member_west", "/api/igos/IGO-RIV"),
        ("insurer_zk", "/api/contracts/MZ-WEST-2025"),
        ("insurer_zk", "/api/igos/IGO-WEST"),
        ("insurer_menzis", "/api/contracts/ZK-RIV-2025"),
    ],
)
def test_direct_access_to_another_tenants_register_rows_is_not_found(world, username, url):
    response = world.client.get(url, headers=world.headers(username))
    assert response.status_code == 404, response.text


@pytest.mark.parametrize("username", ["admin_riv", "member_linde"])
def test_uploading_rows_of_another_tenant_is_refused_and_stores_nothing(world, username):
    west_row = "WX-1,345678011,W-0001,{agb},VK_CONTROLE,2025-05-12,1\n"
    agb = BY_NAME[username].agb or "08000001"
    data = ("activity_id,bsn,pregnancy_id,agb,activity_code,date,quantity\n" + west_row.format(agb=agb)).encode()
    response = world.client.post(
        "/api/activities/upload",
        files={"file": ("activities.csv", data, "text/csv")},
        headers=world.headers(username),
    )
    assert response.status_code == 403
    problem = response.json()
    assert problem["type"] == "/problems/upload-refused"
    assert problem["errors"][0]["row"] == 1 and problem["errors"][0]["field"] == "pregnancy_id"
    assert "345678011" in data.decode() and "IGO-WEST" not in response.text
    listed = world.client.get("/api/activities", params={"pregnancy_id": "W-0001"}, headers=world.headers("root"))
    assert "WX-1" not in {a["activity_id"] for a in listed.json()["items"]}


def test_rerun_of_another_tenants_pregnancy_is_not_found(world):
    response = world.client.post(
        "/api/decisions/runs", json={"pregnancy_ids": ["W-0001"]}, headers=world.headers("admin_riv")
    )
    assert response.status_code == 404


def test_audit_entries_of_another_igo_are_invisible(world):
    riv = world.client.get("/api/audit", params={"limit": 500}, headers=world.headers("admin_riv")).json()["items"]
    assert riv, "the matrix wrote entries"
    assert all(entry["igo_ids"] == ["IGO-RIV"] for entry in riv)
    assert "admin_west" not in json.dumps(riv) and "W-0001" not in json.dumps(riv)
    everything = world.client.get("/api/audit", params={"limit": 500}, headers=world.headers("root")).json()
    assert everything["total"] > len(riv)


def test_analyst_gets_aggregates_with_small_numbers_withheld(world):
    # Run 1 is the world's full decision run; other tests add runs of a few pregnancies (re-decide).
    summary = world.client.get("/api/decisions/summary", params={"run_id": 1}, headers=world.headers("analyst")).json()
    assert {o["igo_id"] for o in summary["outcomes"]} == {"IGO-RIV", "IGO-WEST"}
    assert summary["suppressed_below"] == 10
    assert all(o["pregnancies"] is None for o in summary["outcomes"])  # every cell here is small
    assert summary["run"]["actor"] == ""
    text = json.dumps(summary)
    assert not any(token in text for token in [*ALL_PREGNANCIES, *ALL_PREGNANCIES.values()])


def test_the_world_has_two_tenants_of_each_kind():
    assert set(RIV_PREGNANCIES) and set(WEST_PREGNANCIES)
    assert {p.role for p in PEOPLE} == set(ROLES)
