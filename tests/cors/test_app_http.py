"""CORS through the real FHIR app: ``create_app(Settings(...))`` on a real SQLite file.

The middleware tests (``test_middleware.py``) pin the CORS layer over a stand-in
app; these pin what a browser sees from Firehouse itself: real routes, real
errors, the real CapabilityStatement, the policy coming from the settings as
``firehouse serve`` gives it. Test names carry the ``shared/spec/cors.md`` case
numbers.

Cases 2 and 10 run with ``--auth smart`` (issue 7; tokens minted with the local
development key); cases 19 and 20 are run-time changes (issue 4) and the
browser (``tests/browser``).
"""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from firehouse.app import create_app
from firehouse.cors.policy import InvalidPolicy
from firehouse.settings import Settings
from firehouse.storage.base import Storage, StoredVersion
from firehouse.storage.sqlite import SqliteStorage
from tests.support.server import command, free_port, running_server

# The test client's response type; its module (httpx or httpx2) depends on Starlette.
HttpResponse = Any

FHIR = {"Content-Type": "application/fhir+json"}
PATIENT = b'{"resourceType":"Patient","name":[{"family":"Chalmers"}]}'
C1_ORIGIN = "https://localhost:6001"
A, B = "https://a.example", "https://b.example"

C1 = {
    "cors_origins": (C1_ORIGIN,),
    "cors_headers": ("*",),
    "cors_methods": ("*",),
    "cors_max_age": 1440,
}
C2 = {
    "cors_origins": (A, B),
    "cors_headers": ("authorization", "content-type"),
    "cors_methods": ("GET", "PUT"),
    "cors_allow_credentials": True,
}
C3 = {"cors_origins": ("*",), "cors_headers": ("*",), "cors_methods": ("*",)}
OFF: dict[str, Any] = {}
# Small enough that a 413 is cheap to provoke.
MAX_BODY = 4096


def cors_headers(response: HttpResponse) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.lower().startswith("access-control-")}


def vary_of(response: HttpResponse) -> list[str]:
    values = response.headers.get_list("vary")
    return [token.strip() for value in values for token in value.split(",") if token.strip()]


def listed(value: str | None) -> list[str]:
    return [v.strip().lower() for v in (value or "").split(",") if v.strip()]


def preflight(
    client: TestClient,
    origin: str,
    method: str,
    headers: str | None = None,
    path: str = "/Patient",
) -> HttpResponse:
    asked = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers is not None:
        asked["Access-Control-Request-Headers"] = headers
    return client.options(path, headers=asked)


def settings_for(database: Path, **cors: Any) -> Settings:
    """Settings as ``serve`` resolves them: the CORS values count as given explicitly."""
    return Settings(
        database=f"sqlite:///{database}",
        max_body_size=MAX_BODY,
        explicit=frozenset(cors),
        **cors,
    )


def app_client(database: Path, storage: Storage | None = None, **cors: Any) -> TestClient:
    app = create_app(settings_for(database, **cors), storage=storage)
    return TestClient(app, base_url="http://fhir.test")


@pytest.fixture(scope="module")
def clients(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, TestClient]]:
    """One app per configuration, each on its own SQLite file, shared by the module."""
    folder = tmp_path_factory.mktemp("cors-app")
    made = {
        name: app_client(folder / f"{name}.db", **cors)
        for name, cors in {"C1": C1, "C2": C2, "C3": C3, "off": OFF}.items()
    }
    for client in made.values():
        client.__enter__()
    yield made
    for client in made.values():
        client.__exit__(None, None, None)


@pytest.fixture
def c1(clients: dict[str, TestClient]) -> TestClient:
    return clients["C1"]


@pytest.fixture
def c2(clients: dict[str, TestClient]) -> TestClient:
    return clients["C2"]


@pytest.fixture
def c3(clients: dict[str, TestClient]) -> TestClient:
    return clients["C3"]


@pytest.fixture
def off(clients: dict[str, TestClient]) -> TestClient:
    return clients["off"]


def create_patient(client: TestClient, origin: str | None = None) -> HttpResponse:
    headers = {**FHIR, **({"Origin": origin} if origin else {})}
    response = client.post("/Patient", content=PATIENT, headers=headers)
    assert response.status_code == 201, response.text
    return response


# --------------------------------------------------------------------------- preflights


def test_case01_c1_preflight_is_answered_by_the_cors_layer(c1: TestClient) -> None:
    response = preflight(c1, C1_ORIGIN, "PUT", "authorization,content-type")
    assert response.status_code == 204
    assert response.content == b""
    assert response.headers["access-control-allow-origin"] == C1_ORIGIN
    assert response.headers["access-control-allow-methods"] == "PUT"
    assert {"authorization", "content-type"} <= set(
        listed(response.headers["access-control-allow-headers"])
    )
    assert response.headers["access-control-max-age"] == "1440"
    assert "access-control-expose-headers" not in response.headers
    assert "access-control-allow-credentials" not in response.headers
    # The FHIR app itself has no OPTIONS on /Patient (405): the 204 came from the CORS layer.
    assert c1.options("/Patient", headers={"Origin": C1_ORIGIN}).status_code == 405


def test_preflight_for_a_path_the_api_does_not_have_is_still_204(c1: TestClient) -> None:
    response = preflight(c1, C1_ORIGIN, "GET", path="/NoSuchType/1/whatever")
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == C1_ORIGIN


def test_case03_refused_origin_gets_204_without_any_cors_header(c1: TestClient) -> None:
    response = preflight(c1, "https://evil.example", "PUT", "authorization,content-type")
    assert response.status_code == 204
    assert cors_headers(response) == {}
    # C1 lists its origin, so a shared cache must not reuse this answer for it.
    assert "Origin" in vary_of(response)


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "GET"])
def test_case04_any_method_echoes_exactly_the_requested_method(c1: TestClient, method: str) -> None:
    response = preflight(c1, C1_ORIGIN, method)
    assert response.headers["access-control-allow-methods"] == method
    assert "Access-Control-Request-Method" in vary_of(response)


def test_case05_any_headers_with_none_requested_sends_no_allow_headers(c1: TestClient) -> None:
    response = preflight(c1, C1_ORIGIN, "PUT")
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == C1_ORIGIN
    assert "access-control-allow-headers" not in response.headers


def test_case06_c2_preflight_from_the_second_origin_with_credentials(c2: TestClient) -> None:
    response = preflight(c2, B, "PUT", "authorization")
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == B
    assert response.headers["access-control-allow-credentials"] == "true"
    assert "Origin" in vary_of(response)


def test_case07_c2_allow_headers_stay_as_configured(c2: TestClient) -> None:
    response = preflight(c2, A, "PUT", "if-match")
    assert listed(response.headers["access-control-allow-headers"]) == [
        "authorization",
        "content-type",
    ]
    assert listed(response.headers["access-control-allow-methods"]) == ["get", "put"]


def test_case08_options_without_request_method_is_a_normal_request(c1: TestClient) -> None:
    response = c1.options("/Patient", headers={"Origin": C1_ORIGIN})
    # The FHIR app's own answer (it serves no OPTIONS), readable by the page.
    assert response.status_code == 405
    assert response.json()["resourceType"] == "OperationOutcome"
    assert response.headers["access-control-allow-origin"] == C1_ORIGIN
    assert "access-control-allow-methods" not in response.headers
    assert "access-control-max-age" not in response.headers


# --------------------------------------------------------------------------- actual requests


def test_case09_c1_404_outcome_carries_allow_origin(c1: TestClient) -> None:
    response = c1.get("/Patient/does-not-exist", headers={"Origin": C1_ORIGIN})
    assert response.status_code == 404
    assert response.json()["resourceType"] == "OperationOutcome"
    assert response.headers["access-control-allow-origin"] == C1_ORIGIN
    assert "access-control-allow-methods" not in response.headers


@pytest.fixture(scope="module")
def smart(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """C1 and C2 with ``--auth smart`` (the local dev key), and a token minter."""
    from dataclasses import replace

    from firehouse.auth.devkeys import mint

    folder = tmp_path_factory.mktemp("cors-smart")
    made: dict[str, Any] = {}
    for name, cors in {"C1": C1, "C2": C2}.items():
        settings = replace(
            settings_for(folder / f"{name}.db", **cors), auth="smart", auth_key_dir=str(folder)
        )
        made[name] = TestClient(create_app(settings), base_url="http://fhir.test").__enter__()
        made["settings"] = settings
    made["mint"] = lambda scope: mint(made["settings"], scope.split())
    yield made
    for name in ("C1", "C2"):
        made[name].__exit__(None, None, None)


def test_case02_c1_preflight_needs_no_token_with_auth_required(smart: dict[str, Any]) -> None:
    response = preflight(smart["C1"], C1_ORIGIN, "PUT", "authorization,content-type")
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == C1_ORIGIN
    assert response.headers["access-control-allow-methods"] == "PUT"
    assert {"authorization", "content-type"} <= set(
        listed(response.headers["access-control-allow-headers"])
    )
    assert response.headers["access-control-max-age"] == "1440"
    assert "www-authenticate" not in response.headers


def test_case10_c1_401_without_token_carries_allow_origin(smart: dict[str, Any]) -> None:
    response = smart["C1"].get("/Patient", headers={"Origin": C1_ORIGIN})
    assert response.status_code == 401
    assert response.json()["resourceType"] == "OperationOutcome"
    assert response.headers["www-authenticate"].startswith('Bearer realm="firehouse"')
    assert response.headers["access-control-allow-origin"] == C1_ORIGIN
    assert "access-control-allow-methods" not in response.headers


def test_403_and_credentialed_401_carry_the_cors_headers(smart: dict[str, Any]) -> None:
    token = smart["mint"]("user/Observation.rs")
    headers = {"Origin": A, "Authorization": f"Bearer {token}"}
    forbidden = smart["C2"].get("/Patient", headers=headers)
    assert forbidden.status_code == 403
    assert forbidden.json()["issue"][0]["code"] == "forbidden"
    assert forbidden.headers["access-control-allow-origin"] == A
    assert forbidden.headers["access-control-allow-credentials"] == "true"
    assert "Origin" in vary_of(forbidden)
    allowed = smart["C2"].get("/Observation", headers=headers)
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == A
    bad = smart["C2"].get("/Patient", headers={"Origin": B, "Authorization": "Bearer x.y.z"})
    assert bad.status_code == 401
    assert bad.headers["access-control-allow-origin"] == B
    assert bad.headers["access-control-allow-credentials"] == "true"
    # A refused origin gets the same 401, just no CORS permission to read it.
    evil = smart["C2"].get("/Patient", headers={"Origin": "https://evil.example"})
    assert evil.status_code == 401
    assert "access-control-allow-origin" not in evil.headers


def test_case11_c3_any_origin(c3: TestClient) -> None:
    for origin in ("https://anything.example", "http://127.0.0.1:9999", "null"):
        response = c3.get("/metadata", headers={"Origin": origin})
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == "*"
        assert "access-control-allow-credentials" not in response.headers
        assert "Origin" not in vary_of(response)


def test_case12_c2_no_origin_still_varies_on_origin(c2: TestClient) -> None:
    response = c2.get("/metadata")
    assert response.status_code == 200
    assert "Origin" in vary_of(response)
    assert "access-control-allow-origin" not in response.headers


def test_case13_c2_create_exposes_location_and_etag(c2: TestClient) -> None:
    response = create_patient(c2, A)
    assert response.headers["access-control-allow-origin"] == A
    assert response.headers["access-control-allow-credentials"] == "true"
    exposed = listed(response.headers["access-control-expose-headers"])
    assert {"location", "etag"} <= set(exposed)
    assert response.headers["location"].startswith("http://fhir.test/Patient/")
    assert response.headers["etag"] == 'W/"1"'


@pytest.mark.parametrize(
    "origin",
    [
        "https://a.example.evil",
        "https://a.exampl",
        "http://a.example",
        "https://a.example:8443",
        "null",
        "https://a.example, https://b.example",
    ],
)
def test_case14_near_misses_are_refused_and_get_the_normal_response(
    c2: TestClient, origin: str
) -> None:
    response = c2.get("/metadata", headers={"Origin": origin})
    assert response.status_code == 200
    assert response.json()["resourceType"] == "CapabilityStatement"
    assert cors_headers(response) == {}
    assert "Origin" in vary_of(response)
    refused_preflight = preflight(c2, origin, "PUT", "authorization")
    assert refused_preflight.status_code == 204
    assert cors_headers(refused_preflight) == {}
    assert "Origin" in vary_of(refused_preflight)


def test_case17_non_normalised_origin_setting_matches_the_browser_origin(
    tmp_path: Path,
) -> None:
    with app_client(tmp_path / "c17.db", cors_origins=("HTTPS://A.Example:443",)) as client:
        response = client.get("/metadata", headers={"Origin": "https://a.example"})
        assert response.headers["access-control-allow-origin"] == "https://a.example"
        shouting = client.get("/metadata", headers={"Origin": "HTTPS://A.EXAMPLE:443"})
        # Answered in the policy's own spelling, never the request's.
        assert shouting.headers["access-control-allow-origin"] == "https://a.example"


def test_case18_nothing_configured_adds_no_cors_header_anywhere(off: TestClient) -> None:
    origin = {"Origin": "https://a.example"}
    responses = [
        off.get("/metadata", headers=origin),
        off.get("/metadata"),
        off.get("/Patient/nobody", headers=origin),
        off.post("/Patient", content=PATIENT, headers={**FHIR, **origin}),
        off.options("/Patient", headers=origin),
        preflight(off, "https://a.example", "PUT", "authorization"),
    ]
    assert [r.status_code for r in responses] == [200, 200, 404, 201, 405, 204]
    for response in responses:
        assert cors_headers(response) == {}
        assert "Origin" not in vary_of(response)


# --------------------------------------------------------------------------- every status


@pytest.fixture(scope="module")
def c2_broken(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """C2 on a storage whose reads blow up: the real app's own 500."""
    database = tmp_path_factory.mktemp("broken") / "broken.db"

    class BrokenReads(SqliteStorage):
        def read(self, resource_type: str, id: str) -> StoredVersion | None:
            raise RuntimeError("the disk is on fire")

    storage = BrokenReads(f"sqlite:///{database}")
    with app_client(database, storage=storage, **C2) as client:
        yield client


def every_status(client: TestClient, headers: dict[str, str]) -> dict[int, HttpResponse]:
    """One response of each status the FHIR app produces today, keyed by status.

    401, 403, 409, 422 and 429 come with authentication, conditional writes and
    rate limiting; the middleware tests cover those statuses with a stand-in app.
    """
    created = client.post("/Patient", content=PATIENT, headers={**FHIR, **headers})
    id = created.json()["id"]
    gone_id = client.post("/Patient", content=PATIENT, headers=FHIR).json()["id"]
    client.delete(f"/Patient/{gone_id}")
    huge = b'{"resourceType":"Patient","id":"' + b"x" * MAX_BODY + b'"}'
    fhir, xml = {**FHIR, **headers}, "application/fhir+xml"
    got = [
        created,
        client.get(f"/Patient/{id}", headers=headers),
        client.delete(f"/Patient/{gone_id}", headers=headers),
        client.get(f"/Patient/{id}", headers={**headers, "If-None-Match": 'W/"1"'}),
        client.post("/Patient", content=b'{"resourceType":"Patient","x":1}', headers=fhir),
        client.get("/Patient/does-not-exist", headers=headers),
        client.patch("/Patient", headers=headers),
        client.get(f"/Patient/{id}", headers={**headers, "Accept": "application/fhir+xml"}),
        client.get(f"/Patient/{gone_id}", headers=headers),
        client.put(
            f"/Patient/{id}",
            content=PATIENT.replace(b"{", b'{"id":"' + id.encode() + b'",', 1),
            headers={**FHIR, **headers, "If-Match": 'W/"7"'},
        ),
        client.post("/Patient", content=huge, headers={**FHIR, **headers}),
        client.post("/Patient", content=b"<Patient/>", headers={**fhir, "Content-Type": xml}),
        client.get("/Encounter/1/Observation", headers=headers),  # only Patient compartments
    ]  # fmt: skip
    return {response.status_code: response for response in got}


EXPECTED_STATUSES = {200, 201, 204, 304, 400, 404, 405, 406, 410, 412, 413, 415, 501}


def test_every_status_carries_allow_origin_and_vary(c2: TestClient) -> None:
    responses = every_status(c2, {"Origin": A})
    assert set(responses) == EXPECTED_STATUSES
    for status, response in responses.items():
        assert response.headers.get("access-control-allow-origin") == A, status
        assert response.headers.get("access-control-allow-credentials") == "true", status
        assert "etag" in listed(response.headers.get("access-control-expose-headers")), status
        assert "access-control-allow-methods" not in response.headers, status
        assert vary_of(response).count("Origin") == 1, status
        if status >= 400:
            assert response.json()["resourceType"] == "OperationOutcome", status


@pytest.mark.parametrize("origin", [None, "https://evil.example"], ids=["no-origin", "refused"])
def test_every_status_varies_on_origin_without_allowing(c2: TestClient, origin: str | None) -> None:
    responses = every_status(c2, {"Origin": origin} if origin else {})
    assert set(responses) == EXPECTED_STATUSES
    for status, response in responses.items():
        assert cors_headers(response) == {}, status
        assert "Origin" in vary_of(response), status


def test_a_500_from_the_real_app_is_a_readable_outcome(c2_broken: TestClient) -> None:
    response = c2_broken.get("/Patient/any", headers={"Origin": A})
    assert response.status_code == 500
    assert response.json()["resourceType"] == "OperationOutcome"
    assert response.headers["access-control-allow-origin"] == A
    assert response.headers["access-control-allow-credentials"] == "true"
    assert "Origin" in vary_of(response)


# --------------------------------------------------------------------------- capability, admin


@pytest.mark.parametrize(
    ("name", "cors"), [("C1", True), ("C2", True), ("C3", True), ("off", False)]
)
def test_capability_statement_says_cors_exactly_when_origins_are_set(
    clients: dict[str, TestClient], name: str, cors: bool
) -> None:
    statement = clients[name].get("/metadata").json()
    assert statement["rest"][0]["security"]["cors"] is cors


@pytest.mark.parametrize("config", ["C2", "C3"])
@pytest.mark.parametrize("path", ["/admin", "/admin/", "/admin/cors", "/admin/cors/history"])
def test_admin_plane_never_carries_cors_headers(
    clients: dict[str, TestClient], config: str, path: str
) -> None:
    client = clients[config]
    for response in (
        client.get(path, headers={"Origin": A}),
        preflight(client, A, "PUT", "authorization,content-type", path=path),
    ):
        assert cors_headers(response) == {}
        assert "Origin" not in vary_of(response)


# --------------------------------------------------------------------------- start-up


@pytest.mark.parametrize("max_age", [-1, 100000])
def test_case16_max_age_out_of_range_stops_the_app(tmp_path: Path, max_age: int) -> None:
    with pytest.raises(InvalidPolicy) as raised:
        create_app(settings_for(tmp_path / "x.db", **{**C1, "cors_max_age": max_age}))
    assert [p.field for p in raised.value.problems] == ["maxAge"]


@pytest.mark.parametrize("max_age", [0, 99999])
def test_case16_max_age_bounds_are_sent_as_given(tmp_path: Path, max_age: int) -> None:
    settings = {**C1, "cors_max_age": max_age}
    with app_client(tmp_path / "x.db", **settings) as client:
        response = preflight(client, C1_ORIGIN, "PUT")
        assert response.headers["access-control-max-age"] == str(max_age)


def port_is_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.slow
def test_case15_serve_refuses_an_invalid_policy_naming_every_problem(tmp_path: Path) -> None:
    database = tmp_path / "never.db"
    port = free_port()
    result = subprocess.run(
        [
            *command("serve"),
            "--port", str(port),
            "--database", f"sqlite:///{database}",
            "--cors-origins", "* https://x.example/ ftp://x",
            "--cors-allow-credentials",
            "--cors-max-age", "100000",
            "--cors-headers", "x-ok bad;header",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if not k.startswith("FIREHOUSE_")},
    )  # fmt: skip
    assert result.returncode != 0
    problems = [line.strip() for line in result.stderr.splitlines() if line.startswith("  cors.")]
    # Every problem at once: * with credentials, * mixed, two bad origins, bad header, max age.
    ids = {p.split()[0] for p in problems}
    expected = {"cors.E003", "cors.E004", "cors.E006", "cors.E007", "cors.E012", "cors.E014"}
    assert ids == expected, result.stderr
    for bad in ("https://x.example/", "ftp://x", "bad;header", "100000"):
        assert bad in result.stderr
    # Nothing changed: no database was created and nothing listens.
    assert not database.exists()
    assert not port_is_open(port)


@pytest.mark.slow
def test_case15_an_invalid_policy_at_start_up_leaves_the_stored_one_alone(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'kept.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIREHOUSE_")}

    def firehouse(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*command(*args)], capture_output=True, text=True, timeout=60, env=env
        )

    stored = firehouse("cors", "set", "--database", database, "--origins", A, "--max-age", "60")
    assert stored.returncode == 0, stored.stderr
    before = firehouse("cors", "show", "--database", database, "--json").stdout
    refused = firehouse(
        "serve", "--port", str(free_port()), "--database", database,
        "--cors-origins", "*", "--cors-allow-credentials", "--cors-max-age", "-1",
    )  # fmt: skip
    assert refused.returncode != 0
    assert "cors.E003" in refused.stderr and "cors.E014" in refused.stderr
    assert firehouse("cors", "show", "--database", database, "--json").stdout == before
    assert A in before


@pytest.mark.slow
def test_serve_with_any_origin_logs_a_security_warning(tmp_path: Path) -> None:
    with running_server(
        tmp_path / "star.db", "--cors-origins", "*", "--cors-methods", "*"
    ) as server:
        response = server_get(server.url, "/metadata", "https://anyone.example")
        assert response.headers["access-control-allow-origin"] == "*"
        log = server.log()
    assert "WARNING" in log and "security risk: origins is *" in log


def server_get(url: str, path: str, origin: str) -> HttpResponse:
    import httpx2 as httpx

    return httpx.get(f"{url}{path}", headers={"Origin": origin}, timeout=10)
