"""The admin API over HTTP (shared/spec/interface.md, "URLs"; cors.md, "Changing the policy
at run time"), through the real app on a real SQLite file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from firehouse.app import create_app
from firehouse.settings import Settings
from tests.admin.conftest import AUTH, TOKEN

A, B = "https://a.example", "https://b.example"
C1 = {"origins": ["https://localhost:6001"], "headers": ["*"], "methods": ["*"], "maxAge": 1440}


def put(admin: TestClient, body: Any, if_match: str | None = '"0"', **headers: str) -> Any:
    sent = dict(AUTH, **headers)
    if if_match is not None:
        sent["If-Match"] = if_match
    return admin.put("/admin/cors", json=body, headers=sent)


def patch(admin: TestClient, body: Any, if_match: str | None) -> Any:
    sent = dict(AUTH)
    if if_match is not None:
        sent["If-Match"] = if_match
    return admin.patch("/admin/cors", json=body, headers=sent)


def cors_headers(response: Any) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.lower().startswith("access-control-")}


# -- the admin token ------------------------------------------------------------


def test_without_a_token_configured_the_admin_plane_is_off_and_says_how_to_turn_it_on(
    tmp_path: Path,
) -> None:
    settings = Settings(database=f"sqlite:///{tmp_path / 'off.db'}")
    with TestClient(create_app(settings)) as client:
        for method, path in [("GET", "/admin/cors"), ("PUT", "/admin/cors"), ("GET", "/admin/")]:
            response = client.request(method, path, headers=AUTH)
            assert response.status_code == 404
            assert "--admin-token" in response.text and "FIREHOUSE_ADMIN_TOKEN" in response.text
        page = client.get("/admin/", headers={"Accept": "text/html"})
        assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer wrong",
        f"Basic {TOKEN}",
        f"Bearer {TOKEN}x",
        "Bearer " + TOKEN[:-1],
    ],
)
def test_a_missing_or_wrong_token_is_401_and_changes_nothing(
    admin: TestClient, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    for method in ("GET", "PUT", "PATCH"):
        response = admin.request(
            method, "/admin/cors", json={"origins": [A]}, headers={**headers, "If-Match": "*"}
        )
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert response.headers["content-type"] == "application/problem+json"
    assert admin.post("/admin/cors/check", json={}, headers=headers).status_code == 401
    assert admin.get("/admin/cors/history", headers=headers).status_code == 401
    assert admin.get("/admin/cors", headers=AUTH).json()["version"] == 0


def test_the_scheme_is_case_insensitive(admin: TestClient) -> None:
    response = admin.get("/admin/cors", headers={"Authorization": f"bearer {TOKEN}"})
    assert response.status_code == 200


# -- GET ------------------------------------------------------------------------


def test_get_shows_the_policy_with_the_spec_names_version_warnings_and_etag(
    admin: TestClient,
) -> None:
    response = admin.get("/admin/cors", headers=AUTH)
    assert response.status_code == 200
    assert response.headers["etag"] == '"0"'
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body == {
        "origins": [],
        "headers": [],
        "methods": [],
        "maxAge": None,
        "allowCredentials": False,
        "exposedHeaders": ["Location", "Content-Location", "ETag", "Last-Modified", "X-Request-Id"],
        "version": 0,
        "updatedAt": None,
        "updatedBy": None,
        "warnings": [],
    }


# -- PUT ------------------------------------------------------------------------


def test_put_stores_the_whole_policy_and_answers_the_new_version(admin: TestClient) -> None:
    response = put(admin, C1)
    assert response.status_code == 200
    assert response.headers["etag"] == '"1"'
    body = response.json()
    assert body["version"] == 1 and body["origins"] == ["https://localhost:6001"]
    assert body["updatedBy"].startswith("admin API from")
    again = admin.get("/admin/cors", headers=AUTH)
    assert again.json() == body and again.headers["etag"] == '"1"'


def test_put_normalises_origins_case_17(admin: TestClient) -> None:
    assert put(admin, {"origins": ["HTTPS://A.Example:443"]}).json()["origins"] == [A]


def test_a_get_document_can_be_edited_and_put_back(admin: TestClient) -> None:
    document = admin.get("/admin/cors", headers=AUTH).json()
    document["origins"] = [A]
    assert put(admin, document).status_code == 200


def test_without_if_match_a_write_is_428_and_changes_nothing(admin: TestClient) -> None:
    response = put(admin, C1, if_match=None)
    assert response.status_code == 428
    assert "If-Match" in response.json()["detail"]
    assert patch(admin, {"origins": [A]}, None).status_code == 428
    assert admin.get("/admin/cors", headers=AUTH).json()["version"] == 0


def test_if_match_star_writes_over_whatever_is_stored(admin: TestClient) -> None:
    put(admin, C1)
    response = put(admin, {"origins": [A]}, if_match="*")
    assert response.status_code == 200 and response.json()["version"] == 2


@pytest.mark.parametrize("tag", ['"1"', 'W/"1"'])
def test_if_match_with_the_current_etag_writes(admin: TestClient, tag: str) -> None:
    put(admin, C1)
    assert put(admin, {"origins": [A]}, if_match=tag).status_code == 200


def test_a_stale_if_match_is_412_names_the_current_version_and_changes_nothing(
    admin: TestClient,
) -> None:
    put(admin, C1)  # version 1
    put(admin, {"origins": [A]}, if_match='"1"')  # version 2, by someone else
    response = put(admin, {"origins": [B]}, if_match='"1"')
    assert response.status_code == 412
    assert response.headers["etag"] == '"2"'
    body = response.json()
    assert body["currentVersion"] == 2 and "version 2 is stored" in body["detail"]
    assert admin.get("/admin/cors", headers=AUTH).json()["origins"] == [A]
    assert patch(admin, {"maxAge": 1}, '"1"').status_code == 412


@pytest.mark.parametrize("tag", ["1", '"x"', '"1", "2"', "W/1"])
def test_a_malformed_if_match_is_400(admin: TestClient, tag: str) -> None:
    response = put(admin, C1, if_match=tag)
    assert response.status_code == 400
    assert response.json()["problems"][0]["field"] == "If-Match"


def test_an_invalid_policy_is_400_listing_every_problem_and_changes_nothing(
    admin: TestClient,
) -> None:
    put(admin, {"origins": [A]})
    response = put(
        admin,
        {
            "origins": ["*", "https://x.example/", "null"],
            "allowCredentials": True,
            "maxAge": 100000,
            "methods": ["GET", "bad method"],
            "headers": "content-type",
            "color": "red",
        },
        if_match='"1"',
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    problems = response.json()["problems"]
    assert all(set(p) == {"id", "field", "message"} for p in problems)
    pairs = {(p["id"], p["field"]) for p in problems}
    assert pairs == {
        ("cors.E001", "color"),
        ("cors.E002", "headers"),
        ("cors.E003", "allowCredentials"),
        ("cors.E004", "origins"),
        ("cors.E007", "origins"),
        ("cors.E009", "origins"),
        ("cors.E013", "methods"),
        ("cors.E014", "maxAge"),
    }
    assert "100000" in next(p["message"] for p in problems if p["field"] == "maxAge")
    after = admin.get("/admin/cors", headers=AUTH).json()
    assert (after["version"], after["origins"]) == (1, [A])


@pytest.mark.parametrize("value", [-1, 100000, "10", 1.5, True])
def test_case16_bad_max_age_is_rejected(admin: TestClient, value: Any) -> None:
    response = put(admin, {"origins": [A], "maxAge": value})
    assert response.status_code == 400
    assert {p["field"] for p in response.json()["problems"]} == {"maxAge"}


@pytest.mark.parametrize("value", [0, 99999])
def test_case16_edge_max_age_is_accepted(admin: TestClient, value: int) -> None:
    assert put(admin, {"origins": [A], "maxAge": value}).json()["maxAge"] == value


def test_case15_star_with_credentials_is_rejected_and_nothing_changes(admin: TestClient) -> None:
    response = put(admin, {"origins": ["*"], "allowCredentials": True})
    assert response.status_code == 400
    (problem,) = response.json()["problems"]
    assert problem["id"] == "cors.E003" and "any website" in problem["message"]
    assert admin.get("/admin/cors", headers=AUTH).json()["version"] == 0


@pytest.mark.parametrize("body", [b"{", b"[1]", b'"x"', b"null"])
def test_a_body_that_is_not_a_json_object_is_400(admin: TestClient, body: bytes) -> None:
    response = admin.put(
        "/admin/cors",
        content=body,
        headers={**AUTH, "If-Match": "*", "Content-Type": "application/json"},
    )
    assert response.status_code == 400 and response.json()["problems"]


def test_a_huge_body_is_413(admin: TestClient) -> None:
    body = b'{"origins": ["' + b"a" * 70000 + b'"]}'
    response = admin.put("/admin/cors", content=body, headers={**AUTH, "If-Match": "*"})
    assert response.status_code == 413


def test_a_write_that_changes_nothing_keeps_the_version(admin: TestClient) -> None:
    put(admin, C1)
    response = put(admin, C1, if_match='"1"')
    assert response.status_code == 200 and response.json()["version"] == 1
    assert len(admin.get("/admin/cors/history", headers=AUTH).json()["history"]) == 1


# -- PATCH ----------------------------------------------------------------------


def test_patch_merges_the_given_settings_and_null_resets_one(admin: TestClient) -> None:
    put(admin, C1)
    response = patch(admin, {"origins": [A, B], "maxAge": None}, '"1"')
    assert response.status_code == 200
    body = response.json()
    assert body["origins"] == [A, B] and body["maxAge"] is None
    assert body["methods"] == ["*"] and body["headers"] == ["*"]
    assert response.headers["etag"] == '"2"'


def test_patch_is_checked_against_the_stored_policy(admin: TestClient) -> None:
    put(admin, {"origins": [A], "allowCredentials": True})
    response = patch(admin, {"origins": ["*"]}, '"1"')
    assert response.status_code == 400
    assert [p["id"] for p in response.json()["problems"]] == ["cors.E003"]


# -- warnings -------------------------------------------------------------------


def test_responses_warn_while_origins_is_star(admin: TestClient) -> None:
    written = put(admin, {"origins": ["*"]})
    (warning,) = written.json()["warnings"]
    assert "security risk" in warning
    assert admin.get("/admin/cors", headers=AUTH).json()["warnings"] == [warning]
    check = admin.post(
        "/admin/cors/check", json={"origin": A, "method": "GET"}, headers=AUTH
    ).json()
    assert check["warnings"] == [warning]


# -- history --------------------------------------------------------------------


def test_history_lists_versions_newest_first_with_time_actor_old_and_new(
    admin: TestClient,
) -> None:
    put(admin, C1)
    put(admin, {"origins": [A]}, if_match='"1"', **{"X-Firehouse-Actor": "cli alice@desk"})
    response = admin.get("/admin/cors/history", headers=AUTH)
    assert response.status_code == 200
    newest, first = response.json()["history"]
    assert (newest["version"], first["version"]) == (2, 1)
    assert newest["actor"] == "admin API (cli alice@desk) from testclient"
    assert newest["old"]["origins"] == ["https://localhost:6001"]
    assert newest["new"]["origins"] == [A]
    assert set(newest["changed"]) == {"origins", "headers", "methods", "maxAge"}
    assert first["old"] is None and newest["time"] >= first["time"]
    limited = admin.get("/admin/cors/history?limit=1", headers=AUTH).json()["history"]
    assert [c["version"] for c in limited] == [2]


@pytest.mark.parametrize("limit", ["0", "-1", "x", "501"])
def test_a_bad_history_limit_is_400(admin: TestClient, limit: str) -> None:
    assert admin.get(f"/admin/cors/history?limit={limit}", headers=AUTH).status_code == 400


# -- check ----------------------------------------------------------------------


def test_check_says_in_words_what_the_browser_will_do(admin: TestClient) -> None:
    put(admin, C1)
    allowed = admin.post(
        "/admin/cors/check",
        json={"origin": "https://localhost:6001", "method": "PUT", "headers": ["Authorization"]},
        headers=AUTH,
    )
    assert allowed.status_code == 200
    body = allowed.json()
    assert body["allowed"] is True and body["policyVersion"] == 1
    assert body["reason"].startswith("allowed: the preflight for PUT")
    refused = admin.post(
        "/admin/cors/check", json={"origin": "https://evil.example", "method": "GET"}, headers=AUTH
    ).json()
    assert refused["allowed"] is False
    assert "origin https://evil.example is not allowed" in refused["reason"]


def test_check_uses_the_same_engine_as_the_cli(admin: TestClient) -> None:
    from firehouse.cors.explain import explain
    from firehouse.cors.policy import parse_policy

    put(admin, C1)
    body = admin.post(
        "/admin/cors/check", json={"origin": A, "method": "DELETE"}, headers=AUTH
    ).json()
    assert body["reason"] == explain(parse_policy(C1), A, "DELETE").reason


def test_check_lists_every_problem_of_its_input(admin: TestClient) -> None:
    response = admin.post(
        "/admin/cors/check",
        json={"origin": 1, "method": "", "headers": "x", "credentials": "yes", "extra": 1},
        headers=AUTH,
    )
    assert response.status_code == 400
    fields = {p["field"] for p in response.json()["problems"]}
    assert fields == {"origin", "method", "headers", "credentials", "extra"}


# -- same-origin only; the FHIR API follows at once -----------------------------


def test_the_admin_plane_never_carries_cors_headers(admin: TestClient) -> None:
    put(admin, {"origins": [A], "methods": ["*"], "headers": ["*"]})
    origin = {"Origin": A}
    for method, path in [("GET", "/admin/cors"), ("GET", "/admin/"), ("GET", "/admin/login")]:
        response = admin.request(method, path, headers={**AUTH, **origin})
        assert cors_headers(response) == {}
    preflight = admin.options(
        "/admin/cors",
        headers={**origin, "Access-Control-Request-Method": "PUT",
                 "Access-Control-Request-Headers": "authorization"},
    )  # fmt: skip
    assert cors_headers(preflight) == {}
    # ... while the FHIR API does, for the same origin.
    assert admin.get("/metadata", headers=origin).headers["access-control-allow-origin"] == A


def test_a_change_applies_to_the_fhir_api_and_the_capability_statement_at_once(
    admin: TestClient,
) -> None:
    asked = {"Origin": A, "Access-Control-Request-Method": "PUT"}
    assert cors_headers(admin.options("/Patient", headers=asked)) == {}
    assert admin.get("/metadata").json()["rest"][0]["security"]["cors"] is False
    put(admin, {"origins": [A], "methods": ["PUT"]})
    granted = cors_headers(admin.options("/Patient", headers=asked))
    assert granted["access-control-allow-origin"] == A
    assert granted["access-control-allow-methods"] == "PUT"
    assert admin.get("/metadata").json()["rest"][0]["security"]["cors"] is True
    patch(admin, {"origins": []}, '"1"')
    assert cors_headers(admin.options("/Patient", headers=asked)) == {}
    assert admin.get("/metadata").json()["rest"][0]["security"]["cors"] is False


def test_admin_without_a_slash_leads_to_the_page(admin: TestClient) -> None:
    response = admin.get("/admin", follow_redirects=False)
    assert response.status_code == 308 and response.headers["location"] == "/admin/"


def test_startup_settings_given_to_create_app_are_stored(tmp_path: Path) -> None:
    settings = Settings(
        database=f"sqlite:///{tmp_path / 's.db'}",
        admin_token=TOKEN,
        cors_origins=(A,),
        explicit=frozenset({"cors_origins"}),
    )
    with TestClient(create_app(settings)) as client:
        body = client.get("/admin/cors", headers=AUTH).json()
    assert body["origins"] == [A] and body["version"] == 1
    assert body["updatedBy"].startswith("start-up settings")
