"""The REST API over a real (SQLite) database: endpoints, problem+json errors, uploads, decisions, sessions, audit.

Authorisation per role and tenant is in ``test_authorisation_matrix``; here each feature is checked as the user
it is meant for (mostly the back office of IGO Rivierenland, ``admin_riv``).
"""

from __future__ import annotations

import pytest
from api_world import ALL_PREGNANCIES, PSEUDONYM_KEY, World, build_world, clone_world
from sqlalchemy import func, select

from dbutil import release
from integraal.domain.identifiers import pseudonymise_bsn
from integraal.store import activity_blocks, tables

HEADER = "activity_id,bsn,pregnancy_id,agb,activity_code,date,quantity\n"


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> World:
    world = build_world(tmp_path_factory.mktemp("api"))
    yield world
    release(world.db)


@pytest.fixture
def world(template, tmp_path) -> World:
    """Each test writes to its own copy of the world."""
    world = clone_world(template, tmp_path)
    yield world
    release(world.db)


def get(world: World, url: str, user: str = "admin_riv", **params):
    return world.client.get(url, params=params, headers=world.headers(user))


def upload(world: World, text: str, user: str = "admin_riv", name: str = "activities.csv"):
    files = {"file": (name, text.encode(), "text/csv")}
    return world.client.post("/api/activities/upload", files=files, headers=world.headers(user))


def audit_actions(world: World) -> list[tuple[str, str]]:
    with world.db.unit_of_work() as c:
        return [(r.actor, r.action) for r in c.execute(select(tables.audit_log).order_by(tables.audit_log.c.id))]


# --- the document and the errors ------------------------------------------------------------------------------


def test_openapi_lists_every_feature_and_problem_json_errors(world):
    schema = world.client.get("/openapi.json").json()
    paths = set(schema["paths"])
    for feature in (
        "providers",
        "igos",
        "contracts",
        "pregnancies",
        "activities",
        "decisions",
        "audit",
        "me",
        "health",
    ):
        assert any(path.startswith(f"/api/{feature}") for path in paths), feature
    detail = schema["paths"]["/api/pregnancies/{pregnancy_id}"]["get"]["responses"]
    assert set(detail["404"]["content"]) == {"application/problem+json"}
    assert {"HTTPBearer", "APIKeyCookie"} <= set(schema["components"]["securitySchemes"])


def test_health_is_public(world):
    response = world.client.get("/api/health")
    assert response.status_code == 200 and response.json()["database"] == "ready"


def test_no_credentials_is_401_problem_with_a_bearer_challenge(world):
    response = world.client.get("/api/pregnancies")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith("Bearer")
    problem = response.json()
    assert problem["type"] == "/problems/unauthenticated"
    assert problem["instance"] == "/api/pregnancies" and problem["status"] == 401
    bad = world.client.get("/api/pregnancies", headers={"Authorization": "Bearer igr_not-a-token"})
    assert bad.status_code == 401 and "unknown" in bad.json()["detail"]


def test_validation_errors_name_every_field(world):
    response = get(world, "/api/pregnancies", limit=0, outcome="maybe", intake_from="yesterday")
    assert response.status_code == 422
    problem = response.json()
    assert problem["type"] == "/problems/validation" and problem["title"] == "Invalid request"
    assert {(e["field"], e["location"]) for e in problem["errors"]} == {
        ("limit", "query"),
        ("outcome", "query"),
        ("intake_from", "query"),
    }


def test_unknown_route_and_method_are_problems_too(world):
    missing = get(world, "/api/nothing-here")
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"
    wrong = world.client.delete("/api/pregnancies", headers=world.headers("admin_riv"))
    assert wrong.status_code == 405 and wrong.json()["status"] == 405


def test_problem_types_are_documented(world):
    problem = get(world, "/api/pregnancies/NOPE").json()
    assert problem["type"] == "/problems/not-found"
    explained = world.client.get(problem["type"])
    assert explained.status_code == 200 and "another tenant" in explained.text


# --- register -----------------------------------------------------------------------------------------------


def test_providers_igos_and_contracts_of_the_back_office(world):
    providers = get(world, "/api/providers", discipline="ultrasound").json()
    assert {p["agb"] for p in providers["items"]} == {"24000001"}  # Echopunt Buiten (24000002) is no member
    assert get(world, "/api/providers", search="linde").json()["items"][0]["agb"] == "08000001"
    provider = get(world, "/api/providers/24000001").json()
    assert provider["memberships"] == [
        {
            "igo_id": "IGO-RIV",
            "agb": "24000001",
            "provider_name": "Echocentrum Betuwe",
            "discipline": "ultrasound",
            "start_date": "2020-01-01",
            "end_date": "2025-06-30",
        }
    ]
    igo = get(world, "/api/igos/IGO-RIV").json()
    assert igo["name"] == "IGO Rivierenland" and len(igo["members"]) == 6
    contract = get(world, "/api/contracts/ZK-RIV-2025").json()
    assert contract["uzovi"] == "3311" and contract["overlap_policy"] == "break_bundle"
    assert {p["prestatie_code"]: p["tariff_cents"] for p in contract["prestaties"]}["IG_PRENATAAL"] == 118000
    assert get(world, "/api/contracts", year=2024).json()["total"] == 0


# --- pregnancies -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["Z-0001", "Z-0002", "Z-0003"]),
        ({"uzovi": "7029"}, ["Z-0003"]),
        ({"end_reason": "miscarriage"}, ["Z-0003"]),
        ({"ongoing": "false"}, ["Z-0001", "Z-0002", "Z-0003"]),
        ({"phase": "prenatal", "outcome": "fallback"}, ["Z-0001", "Z-0003"]),  # bundle breaker; no contract
        ({"phase": "prenatal", "outcome": "integral"}, ["Z-0002"]),
        ({"outcome": "not_applicable"}, ["Z-0003"]),
        ({"phase": "natal", "outcome": "integral"}, ["Z-0001", "Z-0002"]),
        ({"intake_from": "2025-01-10", "intake_to": "2025-01-31"}, ["Z-0002"]),
        ({"search": "0003"}, ["Z-0003"]),
        ({"search": "z-000"}, ["Z-0001", "Z-0002", "Z-0003"]),
        ({"search": "123456782"}, ["Z-0002"]),  # the back office may search by BSN
        ({"igo_id": "IGO-WEST"}, []),
    ],
)
def test_pregnancy_list_filters(world, params, expected):
    page = get(world, "/api/pregnancies", **params).json()
    assert [p["pregnancy_id"] for p in page["items"]] == expected
    assert page["total"] == len(expected)


def test_pregnancy_list_pages_with_a_total(world):
    first = get(world, "/api/pregnancies", user="root", limit=2).json()
    second = get(world, "/api/pregnancies", user="root", limit=2, offset=2).json()
    assert first["total"] == second["total"] == 5 and (first["limit"], second["offset"]) == (2, 2)
    ids = [p["pregnancy_id"] for p in first["items"] + second["items"]]
    assert ids == sorted(ids) and len(set(ids)) == 4
    row = first["items"][0]
    assert row["decisions"] == {"prenatal": "integral", "natal": "integral", "postnatal": "integral"}


def test_pregnancy_detail_shows_the_trajectory_the_bundle_breaker_and_the_claims(world):
    """Z-0001 had a growth scan at Echopunt Buiten, not a member: the prenatal bundle breaks (DOMAIN.md §3)."""
    detail = get(world, "/api/pregnancies/Z-0001").json()
    assert detail["bsn"] == "111222333" and detail["client_pseudonym"] is None
    timeline = {t["activity_id"]: t for t in detail["timeline"]}
    assert timeline["EP-3001"]["member"] is False and timeline["EP-3001"]["provider_name"] == "Echopunt Buiten"
    assert timeline["EP-3001"]["reason"] == "CLAIMED_BY_NON_MEMBER"
    assert "VL-1003" in timeline  # registered with the BSN only: matched by date
    assert timeline["KN-4001"]["quantity"] == "3.5"
    dates = [t["date"] for t in detail["timeline"]]
    assert dates == sorted(dates)
    phases = {p["phase"]: p for p in detail["phases"]}
    prenatal = phases["prenatal"]
    assert prenatal["outcome"] == "fallback" and prenatal["run_id"] == 1
    reason = prenatal["reasons"][0]
    assert reason["code"] == "NON_MEMBER_CARE" and reason["activity_ids"] == ["EP-3001"]
    assert "Echopunt Buiten" in reason["text_nl"] and "de bundel is gebroken" in reason["text_nl"]
    assert "the bundle is broken" in reason["text_en"]
    assert phases["natal"]["outcome"] == "integral"
    assert detail["explanation_current"] is True
    lines = detail["claim_lines"]
    assert {line["kind"] for line in lines} == {"integral", "mono"}
    assert all(isinstance(line["amount_cents"], int) for line in lines)
    natal = [line for line in lines if line["phase"] == "natal"]
    assert natal[0]["claimant_agb"] == "53000001" and natal[0]["tariff_cents"] == 92000


def test_insurer_and_board_see_a_pseudonym_and_the_insurer_no_activities(world):
    insurer = get(world, "/api/pregnancies/Z-0001", user="insurer_zk").json()
    assert insurer["bsn"] is None
    assert insurer["client_pseudonym"] == pseudonymise_bsn("111222333", PSEUDONYM_KEY)
    assert insurer["timeline"] is None
    assert insurer["claim_lines"] and all(line["uzovi"] == "3311" for line in insurer["claim_lines"])
    board = get(world, "/api/pregnancies/Z-0001", user="board_riv").json()
    assert board["bsn"] is None and board["client_pseudonym"] == insurer["client_pseudonym"]
    assert board["timeline"]
    assert "111222333" not in get(world, "/api/activities", user="board_riv").text


def test_a_changed_trajectory_marks_the_explanation_stale_until_rerun(world):
    """A scan at Echopunt Buiten (no member) registered after the run breaks Z-0002's prenatal bundle."""
    text = HEADER + "LATE-1,123456782,Z-0002,24000002,VK_GROEIECHO,2025-06-20,1\n"
    assert upload(world, text, user="root").json()["accepted"] == 1
    detail = get(world, "/api/pregnancies/Z-0002").json()
    assert detail["phases"][0]["outcome"] == "integral"  # the stored decision, unchanged
    assert detail["explanation_current"] is False
    assert detail["phases"][0]["reasons"][0]["text_en"] == (
        "All care within the integral prestatie was given by members of the IGO."
    )
    world.client.post("/api/decisions/runs", json={"as_of": "2026-01-01"}, headers=world.headers("admin_riv"))
    detail = get(world, "/api/pregnancies/Z-0002").json()
    assert detail["explanation_current"] is True
    reason = detail["phases"][0]["reasons"][0]
    assert (detail["phases"][0]["outcome"], reason["code"]) == ("fallback", "NON_MEMBER_CARE")
    assert reason["activity_ids"] == ["LATE-1"] and "Echopunt Buiten" in reason["text_nl"]


# --- activities and uploads -------------------------------------------------------------------------------

GOOD = "UP-1,123456782,Z-0002,08000001,VK_CONTROLE,2025-05-12,1\nUP-2,111222333,,08000001,VK_CONTROLE,2025-05-19,\n"
BAD = (
    "UP-3,123456789,Z-0002,08000001,VK_CONTROLE,2025-05-13,1\n"  # BSN fails the 11-test
    "UP-4,123456782,Z-0002,08000001,VK_NOPE,2025-05-14,1\n"  # unknown activity code
    "UP-5,123456782,Z-0002,08000001,VK_CONTROLE,2025-13-01,1\n"  # no such date
    "UP-6,123456782,Z-0002,08000001,VK_CONTROLE,2025-05-15,0\n"  # quantity must be > 0
)


def test_upload_with_bad_rows_reports_them_stores_the_rest_and_is_idempotent(world):
    first = upload(world, HEADER + GOOD + BAD)
    assert first.status_code == 200, first.text
    report = first.json()
    assert (report["total"], report["accepted"], report["rejected"], report["ok"]) == (6, 2, 4, False)
    assert report["file"] == "activities.csv" and report["kind"] == "activities"
    problems = {(e["row"], e["field"]) for e in report["errors"]}
    assert problems == {(3, "bsn"), (4, "activity_code"), (5, "date"), (6, "quantity")}
    assert all(e["reason"] for e in report["errors"])

    with world.db.unit_of_work() as c:
        before = activity_blocks.count(c)
        quarantined = c.execute(select(func.count()).select_from(tables.import_rejections)).scalar_one()
    again = upload(world, HEADER + GOOD + BAD).json()
    assert (again["accepted"], again["rejected"]) == (2, 4)
    with world.db.unit_of_work() as c:
        assert activity_blocks.count(c) == before
        assert c.execute(select(func.count()).select_from(tables.import_rejections)).scalar_one() == quarantined == 4

    stored = get(world, "/api/activities", pregnancy_id="Z-0002").json()
    assert {"UP-1"} <= {a["activity_id"] for a in stored["items"]}
    audit = get(world, "/api/audit", action="upload").json()["items"]
    assert len(audit) == 2 and audit[0]["actor"] == "admin_riv" and audit[0]["igo_ids"] == ["IGO-RIV"]
    assert audit[0]["detail"]["after"]["import_run"] == report["run_id"] + 1
    assert audit[0]["detail"]["rejected"] == 4


def test_upload_of_an_unreadable_file_is_a_422_problem_and_stores_nothing(world):
    response = upload(world, "activity_id,bsn,wrong_column\nX,1,2\n")
    assert response.status_code == 422
    problem = response.json()
    assert problem["type"] == "/problems/file-rejected"
    assert problem["errors"][0]["field"] == "file" and "wrong_column" in problem["errors"][0]["message"]
    binary = world.client.post(
        "/api/activities/upload",
        files={"file": ("x.csv", b"\xff\xfe\x00bad", "text/csv")},
        headers=world.headers("admin_riv"),
    )
    assert binary.status_code == 422 and "UTF-8" in binary.json()["detail"]
    missing = world.client.post("/api/activities/upload", headers=world.headers("admin_riv"))
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "file"
    no_id_column = upload(
        world, "activity_id,bsn,agb,activity_code,date\nX,111222333,08000001,VK_CONTROLE,2025-03-03\n"
    )
    assert no_id_column.status_code == 422 and "pregnancy_id" in no_id_column.json()["detail"]
    helper_name = upload(world, "__row,activity_id\n1,2\n")  # found by the property test: no 500
    assert helper_name.status_code == 422


def test_a_member_uploads_only_its_own_activities(world):
    own = upload(world, HEADER + GOOD, user="member_linde")
    assert own.status_code == 200 and own.json()["accepted"] == 2
    other = HEADER + "UP-9,123456782,Z-0002,06000001,GYN_CONSULT,2025-05-12,1\n"
    refused = upload(world, other, user="member_linde")
    assert refused.status_code == 403
    assert refused.json()["errors"] == [
        {
            "field": "agb",
            "location": "file",
            "message": "a member registers only its own activities (its own AGB)",
            "row": 1,
            "value": "06000001",
        }
    ]
    mine = get(world, "/api/activities", user="member_linde", limit=500).json()["items"]
    assert {a["agb"] for a in mine} == {"08000001"} and "UP-9" not in {a["activity_id"] for a in mine}


def test_an_activity_without_pregnancy_id_must_land_in_a_pregnancy_of_the_uploader(world):
    # This woman's only pregnancy is in IGO West: matched by BSN and date, the row would land there.
    text = HEADER + "UP-7,345678011,,08000001,VK_CONTROLE,2025-05-12,1\n"
    refused = upload(world, text)
    assert refused.status_code == 403 and refused.json()["errors"][0]["field"] == "bsn"
    assert upload(world, text, user="root").json()["accepted"] == 1  # the superuser has no tenant


def test_an_oversized_upload_is_refused(world):
    world.client.app.state.settings = type(world.client.app.state.settings)(
        pseudonym_key=PSEUDONYM_KEY, max_upload_bytes=10
    )
    response = upload(world, HEADER + GOOD)
    assert response.status_code == 413 and response.json()["type"] == "/problems/too-large"


# --- decisions ------------------------------------------------------------------------------------------


def test_decision_list_runs_and_history(world):
    page = get(world, "/api/decisions", phase="prenatal").json()
    assert page["run"]["run_id"] == 1 and page["run"]["as_of"] == "2026-01-01"
    assert [(d["pregnancy_id"], d["outcome"]) for d in page["items"]] == [
        ("Z-0001", "fallback"),
        ("Z-0002", "integral"),
        ("Z-0003", "fallback"),
    ]
    broken = get(world, "/api/decisions", reason="NON_MEMBER_CARE").json()
    assert [d["pregnancy_id"] for d in broken["items"]] == ["Z-0001"]
    assert get(world, "/api/decisions", run_id=99).status_code == 404
    history = get(world, "/api/pregnancies/Z-0001/decisions").json()
    assert [d["phase"] for d in history["latest"]] == ["prenatal", "natal", "postnatal"]
    summary = get(world, "/api/decisions/summary").json()
    assert summary["suppressed_below"] is None
    assert {(o["phase"], o["outcome"], o["pregnancies"]) for o in summary["outcomes"]} >= {("prenatal", "fallback", 2)}
    assert {c["igo_id"] for c in summary["claims"]} == {"IGO-RIV"}


def test_rerun_by_the_back_office_decides_its_own_igo_and_is_audited(world):
    response = world.client.post(
        "/api/decisions/runs", json={"as_of": "2026-01-01"}, headers=world.headers("admin_riv")
    )
    assert response.status_code == 201, response.text
    result = response.json()
    assert result["previous_run_id"] == 1 and result["run_ids"] == [2]
    assert result["pregnancies"] == 3  # Rivierenland only, not West
    assert sum(o["pregnancies"] for o in result["outcomes"] if o["phase"] == "prenatal") == 3
    assert set(result["amounts_cents"]) <= {"integral", "mono"}
    assert get(world, "/api/decisions").json()["run"]["run_id"] == 2
    assert get(world, "/api/decisions", user="admin_west").json()["run"]["run_id"] == 1
    entry = get(world, "/api/audit", action="rerun").json()["items"][0]
    assert entry["detail"]["before"] == {"run_id": 1} and entry["detail"]["after"] == {"run_ids": [2]}
    one = world.client.post(
        "/api/decisions/runs", json={"pregnancy_ids": ["Z-0003"]}, headers=world.headers("admin_riv")
    )
    assert one.json()["pregnancies"] == 1
    # The list follows the latest decision per pregnancy, not the latest (one-pregnancy) run.
    natal = get(world, "/api/pregnancies", phase="natal", outcome="integral").json()["items"]
    assert [p["pregnancy_id"] for p in natal] == ["Z-0001", "Z-0002"]
    refused = world.client.post("/api/decisions/runs", json={"as_of": "1900-01-01"}, headers=world.headers("root"))
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "as_of"


# --- sessions ---------------------------------------------------------------------------------------------


def test_login_session_cookie_csrf_and_logout(world):
    client = world.client
    wrong = client.post("/api/auth/login", json={"username": "admin_riv", "password": "not the password"})
    assert wrong.status_code == 401
    unknown = client.post("/api/auth/login", json={"username": "nobody", "password": "not the password"})
    assert unknown.json()["detail"] == wrong.json()["detail"]  # no user enumeration

    login = client.post("/api/auth/login", json={"username": "admin_riv", "password": "admin_riv has a long password"})
    assert login.status_code == 200
    cookie = login.headers["set-cookie"]
    assert "integraal_session=" in cookie and "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
    csrf = login.json()["csrf_token"]
    assert client.get("/api/me").json()["igo_id"] == "IGO-RIV"  # the cookie alone authenticates reads

    no_csrf = client.post("/api/decisions/runs", json={"pregnancy_ids": ["Z-0001"]})
    assert no_csrf.status_code == 403 and no_csrf.json()["type"] == "/problems/csrf"
    with_csrf = client.post("/api/decisions/runs", json={"pregnancy_ids": ["Z-0001"]}, headers={"X-CSRF-Token": csrf})
    assert with_csrf.status_code == 201

    out = client.post("/api/auth/logout", headers={"X-CSRF-Token": csrf})
    assert out.json() == {"ended": True}
    client.cookies.clear()
    with world.db.unit_of_work() as c:
        secret_hashes = c.execute(select(tables.sessions.c.token_hash)).scalars().all()
    assert secret_hashes and all(len(h) == 64 for h in secret_hashes)
    actions = audit_actions(world)
    assert ("anonymous", "login_failed") in actions and ("admin_riv", "login") in actions
    assert ("admin_riv", "logout") in actions and ("admin_riv", "rerun") in actions


def test_an_ended_session_no_longer_authenticates(world):
    client = world.client
    login = client.post("/api/auth/login", json={"username": "root", "password": "root has a long password"})
    secret = client.cookies.get("integraal_session")
    assert client.post("/api/auth/logout", headers={"X-CSRF-Token": login.json()["csrf_token"]}).json() == {
        "ended": True
    }
    client.cookies.set("integraal_session", secret)  # replaying the old cookie
    assert client.get("/api/me").status_code == 401


def test_me_lists_the_permissions_of_the_role(world):
    me = get(world, "/api/me", user="insurer_zk").json()
    assert me["role"] == "insurer" and me["uzovi"] == "3311"
    assert "read_pregnancies" in me["permissions"] and "upload_activities" not in me["permissions"]


def test_tokens_and_passwords_are_stored_as_hashes_only(world):
    with world.db.unit_of_work() as c:
        hashes = c.execute(select(tables.api_tokens.c.token_hash)).scalars().all()
        passwords = c.execute(select(tables.users.c.password_hash)).scalars().all()
    assert not set(world.tokens.values()) & set(hashes)
    assert all(p.startswith("$argon2id$") for p in passwords)


def test_every_bsn_is_known_to_the_world():
    assert len(ALL_PREGNANCIES) == 5


def test_batches_built_and_sent_in_one_step_are_fetched_as_resends(world):
    """POST /api/claims/batches with ``send``: the batches are sent as built; each file is then fetched with the
    send endpoint (a resend: the same file, no state changed); a format that is no claim format is refused."""
    headers = world.headers("admin_riv")
    period = {"period_start": "2025-01-01", "period_end": "2025-12-31"}
    refused = world.client.post("/api/claims/batches", json=period | {"send": "kz302"}, headers=headers)
    assert refused.status_code == 422 and "kz302" in refused.text
    assert world.client.get("/api/claims/batches", headers=headers).json() == []
    built = world.client.post("/api/claims/batches", json=period | {"send": "csv"}, headers=headers)
    assert built.status_code == 201, built.text
    batches = built.json()["batches"]
    assert batches and {b["state"] for b in batches} == {"sent"}
    for b in batches:
        url = f"/api/claims/batches/{b['batch_id']}/send"
        first = world.client.post(url, params={"format": "csv"}, headers=headers)
        again = world.client.post(url, params={"format": "csv"}, headers=headers)
        assert first.status_code == 200 and first.content == again.content and first.content
    listed = world.client.get("/api/claims/batches", headers=headers).json()
    assert {b["state"] for b in listed} == {"sent"}
