"""The CORS middleware over HTTP: what a browser (or a cache) sees on the wire.

A tiny Starlette app stands in for the FHIR app, so these tests pin the
middleware alone; ``shared/spec/cors.md`` case numbers are in the test ids.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from firehouse.cors.middleware import CorsMiddleware
from firehouse.cors.policy import CorsPolicy, parse_policy
from tests.cors.configs import C1, C2, C3, OFF

# The test client's response type; its module (httpx or httpx2) depends on the
# Starlette version, so it is not named here.
HttpResponse = Any

C1_ORIGIN = "https://localhost:6001"
EXPOSED = "Location,Content-Location,ETag,Last-Modified,X-Request-Id"
OUTCOME_500 = {
    "resourceType": "OperationOutcome",
    "issue": [{"severity": "error", "code": "exception", "diagnostics": "Internal server error"}],
}


def cors_headers(response: HttpResponse) -> dict[str, str]:
    headers = response.headers
    return {k: v for k, v in headers.items() if k.lower().startswith("access-control-")}


def vary_of(response: HttpResponse) -> list[str]:
    values = response.headers.get_list("vary")
    return [token.strip() for value in values for token in value.split(",") if token.strip()]


# --------------------------------------------------------------------------- the app


async def metadata(request: Request) -> Response:
    return JSONResponse({"resourceType": "CapabilityStatement"})


async def create_patient(request: Request) -> Response:
    return JSONResponse(
        {"resourceType": "Patient", "id": "1"},
        status_code=201,
        headers={"Location": "http://fhir.test/Patient/1/_history/1", "ETag": 'W/"1"'},
    )


async def read_patient(request: Request) -> Response:
    return JSONResponse(
        {"resourceType": "OperationOutcome", "issue": [{"code": "not-found"}]}, status_code=404
    )


async def options_patient(request: Request) -> Response:
    return PlainTextResponse("inner app answered OPTIONS")


async def handler_boom(request: Request) -> Response:
    raise RuntimeError("the handler is on fire")


async def late_boom(request: Request) -> Response:
    async def body() -> AsyncIterator[bytes]:
        yield b"partial"
        raise RuntimeError("failed mid-stream")

    return StreamingResponse(body())


async def status(request: Request) -> Response:
    code = int(request.path_params["code"])
    return Response(b"" if code == 304 else b"{}", status_code=code)


async def with_vary(request: Request) -> Response:
    response = PlainTextResponse("varies")
    response.headers.append("Vary", "Accept-Encoding, origin")
    response.headers.append("Vary", "Accept")
    return response


async def vary_star(request: Request) -> Response:
    return PlainTextResponse("varies", headers={"Vary": "*"})


async def admin(request: Request) -> Response:
    return PlainTextResponse(f"admin {request.method}")


async def echo_socket(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text("hello")
    await websocket.close()


ROUTES = [
    Route("/metadata", metadata),
    Route("/Patient", create_patient, methods=["POST"]),
    Route("/Patient", options_patient, methods=["OPTIONS"]),
    Route("/Patient/{id}", read_patient),
    Route("/handler-boom", handler_boom),
    Route("/late-boom", late_boom),
    Route("/status/{code}", status),
    Route("/vary", with_vary),
    Route("/vary-star", vary_star),
    Route("/admin", admin),
    Route("/admin/cors", admin, methods=["GET", "OPTIONS"]),
    Route("/administrator", admin, methods=["GET", "OPTIONS"]),
    WebSocketRoute("/ws", echo_socket),
]


class PolicyHolder:
    """Stands in for the run-time store: a swappable snapshot, counting reads."""

    def __init__(self, policy: CorsPolicy) -> None:
        self.policy = policy
        self.reads = 0

    def __call__(self) -> CorsPolicy:
        self.reads += 1
        return self.policy


STARLETTE_APP = Starlette(routes=ROUTES)


async def inner_app(scope: Scope, receive: Receive, send: Send) -> None:
    """The Starlette app, except that /boom fails before any response, bare.

    Starlette's own error middleware always answers first, so a bare failure
    (the case the CORS layer backs up) needs an app without it.
    """
    if scope["type"] == "http" and scope["path"] == "/boom":
        raise RuntimeError("the database is on fire")
    await STARLETTE_APP(scope, receive, send)


@pytest.fixture
def holder() -> PolicyHolder:
    return PolicyHolder(OFF)


@pytest.fixture
def client(holder: PolicyHolder) -> Iterator[TestClient]:
    app = CorsMiddleware(inner_app, holder)
    with TestClient(app, base_url="http://fhir.test") as test_client:
        yield test_client


def preflight(
    client: TestClient,
    origin: str,
    method: str,
    headers: str | None = None,
    path: str = "/Patient",
) -> HttpResponse:
    request_headers = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers is not None:
        request_headers["Access-Control-Request-Headers"] = headers
    return client.options(path, headers=request_headers)


# --------------------------------------------------------------------------- preflights


def test_case01_c1_preflight_is_answered_here(client: TestClient, holder: PolicyHolder) -> None:
    holder.policy = C1
    response = preflight(client, C1_ORIGIN, "PUT", "authorization,content-type")
    assert response.status_code == 204
    assert response.content == b""
    assert cors_headers(response) == {
        "access-control-allow-origin": C1_ORIGIN,
        "access-control-allow-methods": "PUT",
        "access-control-allow-headers": "authorization,content-type",
        "access-control-max-age": "1440",
    }
    assert set(vary_of(response)) == {
        "Origin",
        "Access-Control-Request-Method",
        "Access-Control-Request-Headers",
    }


@pytest.mark.parametrize(
    ("policy", "origin"),
    [
        pytest.param(C1, "https://evil.example", id="case03_c1_evil_origin"),
        pytest.param(C2, "https://a.example.evil", id="case14_suffix"),
        pytest.param(C2, "https://a.exampl", id="case14_prefix"),
        pytest.param(C2, "http://a.example", id="case14_http_twin"),
        pytest.param(C2, "https://a.example:8443", id="case14_other_port"),
        pytest.param(C2, "null", id="case14_null"),
        pytest.param(C2, "https://a.example https://b.example", id="several_origins"),
        pytest.param(OFF, "https://a.example", id="case18_cors_off"),
    ],
)
def test_refused_preflight_is_204_without_cors_headers(
    client: TestClient, holder: PolicyHolder, policy: CorsPolicy, origin: str
) -> None:
    holder.policy = policy
    response = preflight(client, origin, "PUT", "authorization")
    assert response.status_code == 204
    assert response.content == b""
    assert cors_headers(response) == {}
    assert ("Origin" in vary_of(response)) == policy.varies_by_origin


def test_refused_preflight_is_logged_once_with_origin_and_reason(
    client: TestClient, holder: PolicyHolder, caplog: pytest.LogCaptureFixture
) -> None:
    holder.policy = C1
    with caplog.at_level(logging.INFO, logger="firehouse.cors"):
        for _ in range(3):
            preflight(client, "https://evil.example", "PUT")
    infos = [r for r in caplog.records if r.levelno == logging.INFO]
    assert len(infos) == 1
    assert "https://evil.example" in infos[0].getMessage()
    assert "origin-not-allowed" in infos[0].getMessage()


def test_case04_any_method_echoes_exactly_the_requested_method(
    client: TestClient, holder: PolicyHolder
) -> None:
    holder.policy = C3
    for method in ("PATCH", "DELETE", "GET"):
        response = preflight(client, "https://x.example", method)
        assert response.headers["access-control-allow-methods"] == method


def test_case05_any_headers_and_none_requested_sends_no_allow_headers(
    client: TestClient, holder: PolicyHolder
) -> None:
    holder.policy = C1
    response = preflight(client, C1_ORIGIN, "GET")
    assert "access-control-allow-headers" not in response.headers
    assert response.headers["access-control-allow-origin"] == C1_ORIGIN


def test_case06_c2_preflight_with_credentials(client: TestClient, holder: PolicyHolder) -> None:
    holder.policy = C2
    response = preflight(client, "https://b.example", "PUT", "authorization")
    assert cors_headers(response) == {
        "access-control-allow-origin": "https://b.example",
        "access-control-allow-credentials": "true",
        "access-control-allow-methods": "GET,PUT",
        "access-control-allow-headers": "authorization,content-type",
    }
    assert vary_of(response) == ["Origin"]


def test_case07_c2_configured_headers_stay_as_configured(
    client: TestClient, holder: PolicyHolder
) -> None:
    holder.policy = C2
    response = preflight(client, "https://a.example", "PUT", "if-match")
    assert response.headers["access-control-allow-headers"] == "authorization,content-type"


def test_case08_options_without_request_method_is_a_normal_request(
    client: TestClient, holder: PolicyHolder
) -> None:
    holder.policy = C1
    response = client.options("/Patient", headers={"Origin": C1_ORIGIN})
    assert response.status_code == 200
    assert response.text == "inner app answered OPTIONS"
    assert response.headers["access-control-allow-origin"] == C1_ORIGIN
    assert "access-control-allow-methods" not in response.headers


def test_preflight_to_an_unknown_path_never_reaches_the_app(
    client: TestClient, holder: PolicyHolder
) -> None:
    holder.policy = C1
    response = preflight(client, C1_ORIGIN, "GET", path="/NoSuchType/1")
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == C1_ORIGIN


# --------------------------------------------------------------------------- other responses


def test_case09_c1_404_carries_allow_origin(client: TestClient, holder: PolicyHolder) -> None:
    holder.policy = C1
    response = client.get("/Patient/does-not-exist", headers={"Origin": C1_ORIGIN})
    assert response.status_code == 404
    assert response.json()["resourceType"] == "OperationOutcome"
    assert cors_headers(response) == {
        "access-control-allow-origin": C1_ORIGIN,
        "access-control-expose-headers": EXPOSED,
    }


@pytest.mark.parametrize("code", [200, 201, 304, 400, 401, 403, 404, 410, 412, 422, 429, 500])
def test_every_status_carries_the_cors_headers(
    client: TestClient, holder: PolicyHolder, code: int
) -> None:
    holder.policy = C2
    response = client.get(f"/status/{code}", headers={"Origin": "https://a.example"})
    assert response.status_code == code
    assert cors_headers(response) == {
        "access-control-allow-origin": "https://a.example",
        "access-control-allow-credentials": "true",
        "access-control-expose-headers": EXPOSED,
    }
    assert vary_of(response) == ["Origin"]


def test_case11_c3_any_origin(client: TestClient, holder: PolicyHolder) -> None:
    holder.policy = C3
    response = client.get("/metadata", headers={"Origin": "https://whoever.example"})
    assert response.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in response.headers
    assert "Origin" not in vary_of(response)


def test_case12_c2_no_origin_still_varies_on_origin(
    client: TestClient, holder: PolicyHolder
) -> None:
    holder.policy = C2
    response = client.get("/metadata")
    assert response.status_code == 200
    assert "Origin" in vary_of(response)
    assert cors_headers(response) == {}


def test_case13_c2_create_exposes_location_and_etag(
    client: TestClient, holder: PolicyHolder
) -> None:
    holder.policy = C2
    response = client.post("/Patient", json={}, headers={"Origin": "https://a.example"})
    assert response.status_code == 201
    exposed = response.headers["access-control-expose-headers"].split(",")
    assert {"Location", "ETag"} <= set(exposed)
    assert response.headers["location"] == "http://fhir.test/Patient/1/_history/1"
    assert response.headers["access-control-allow-origin"] == "https://a.example"


@pytest.mark.parametrize(
    "origin",
    [
        pytest.param("https://a.example.evil", id="case14_suffix"),
        pytest.param("https://a.exampl", id="case14_prefix"),
        pytest.param("http://a.example", id="case14_http_twin"),
        pytest.param("https://a.example:8443", id="case14_other_port"),
        pytest.param("null", id="case14_null"),
    ],
)
def test_case14_refused_origin_gets_the_normal_response_and_vary(
    client: TestClient, holder: PolicyHolder, origin: str
) -> None:
    holder.policy = C2
    response = client.get("/metadata", headers={"Origin": origin})
    assert response.status_code == 200  # no 403 invented
    assert response.json() == {"resourceType": "CapabilityStatement"}
    assert cors_headers(response) == {}
    assert vary_of(response) == ["Origin"]


def test_a_repeated_origin_header_is_refused(client: TestClient, holder: PolicyHolder) -> None:
    holder.policy = C2
    response = client.get(
        "/metadata", headers=[("Origin", "https://a.example"), ("Origin", "https://b.example")]
    )
    assert cors_headers(response) == {}


def test_case17_non_normalised_origin_is_answered_normalised(
    client: TestClient, holder: PolicyHolder
) -> None:
    holder.policy = parse_policy({"origins": ["HTTPS://A.Example:443"]})
    response = client.get("/metadata", headers={"Origin": "https://a.example"})
    assert response.headers["access-control-allow-origin"] == "https://a.example"


@pytest.mark.parametrize("path", ["/metadata", "/Patient/1", "/boom", "/vary"])
def test_case18_nothing_configured_adds_nothing(
    client: TestClient, holder: PolicyHolder, path: str
) -> None:
    holder.policy = OFF
    for response in (
        client.get(path, headers={"Origin": "https://a.example"}),
        client.get(path),
        preflight(client, "https://a.example", "GET", path=path),
    ):
        assert cors_headers(response) == {}
        assert "Origin" not in vary_of(response)


def test_case18_an_unhandled_error_is_still_an_outcome(
    client: TestClient, holder: PolicyHolder
) -> None:
    holder.policy = OFF
    response = client.get("/boom", headers={"Origin": "https://a.example"})
    assert (response.status_code, response.json()) == (500, OUTCOME_500)
    assert cors_headers(response) == {}


# --------------------------------------------------------------------------- Vary


def test_existing_vary_values_are_kept_and_merged_without_duplicates(
    client: TestClient, holder: PolicyHolder
) -> None:
    holder.policy = C2
    response = client.get("/vary", headers={"Origin": "https://a.example"})
    assert response.headers.get_list("vary") == ["Accept-Encoding, origin, Accept"]
    assert response.headers["access-control-allow-origin"] == "https://a.example"


def test_vary_star_is_left_alone(client: TestClient, holder: PolicyHolder) -> None:
    holder.policy = C2
    response = client.get("/vary-star", headers={"Origin": "https://a.example"})
    assert response.headers.get_list("vary") == ["*"]


# --------------------------------------------------------------------------- errors


def test_an_unhandled_error_becomes_a_500_outcome_with_cors_headers(
    client: TestClient, holder: PolicyHolder, caplog: pytest.LogCaptureFixture
) -> None:
    holder.policy = C2
    with caplog.at_level(logging.ERROR, logger="firehouse.cors"):
        response = client.get("/boom", headers={"Origin": "https://a.example"})
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/fhir+json"
    assert response.json() == OUTCOME_500
    assert response.headers["access-control-allow-origin"] == "https://a.example"
    assert response.headers["access-control-allow-credentials"] == "true"
    assert vary_of(response) == ["Origin"]
    (record,) = caplog.records
    assert record.exc_info is not None and "on fire" in str(record.exc_info[1])


def test_a_500_sent_by_the_inner_app_carries_cors_headers_too(holder: PolicyHolder) -> None:
    holder.policy = C2
    app = CorsMiddleware(inner_app, holder)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/handler-boom", headers={"Origin": "https://a.example"})
    assert response.status_code == 500
    assert response.headers["access-control-allow-origin"] == "https://a.example"


def test_an_error_after_the_response_started_is_re_raised(
    client: TestClient, holder: PolicyHolder
) -> None:
    holder.policy = C2
    with pytest.raises(RuntimeError, match="mid-stream"):
        client.get("/late-boom", headers={"Origin": "https://a.example"})


# --------------------------------------------------------------------------- scope


@pytest.mark.parametrize("path", ["/admin/cors", "/admin"])
def test_admin_plane_is_never_opened(client: TestClient, holder: PolicyHolder, path: str) -> None:
    holder.policy = C3
    response = client.get(path, headers={"Origin": "https://x.example"})
    assert response.text == "admin GET"
    assert cors_headers(response) == {}
    assert "vary" not in response.headers


def test_admin_preflight_goes_to_the_admin_app(client: TestClient, holder: PolicyHolder) -> None:
    holder.policy = C3
    response = preflight(client, "https://x.example", "PUT", path="/admin/cors")
    assert response.text == "admin OPTIONS"
    assert cors_headers(response) == {}


def test_the_admin_prefix_is_a_path_segment(client: TestClient, holder: PolicyHolder) -> None:
    holder.policy = C3
    response = client.get("/administrator", headers={"Origin": "https://x.example"})
    assert response.headers["access-control-allow-origin"] == "*"


def test_policy_is_read_once_per_request_and_swaps_take_effect(
    client: TestClient, holder: PolicyHolder
) -> None:
    holder.policy = C2
    before = holder.reads
    response = client.get("/metadata", headers={"Origin": "https://a.example"})
    assert holder.reads == before + 1
    assert response.headers["access-control-allow-origin"] == "https://a.example"
    holder.policy = OFF
    response = client.get("/metadata", headers={"Origin": "https://a.example"})
    assert cors_headers(response) == {}


def test_websockets_and_lifespan_pass_through(client: TestClient, holder: PolicyHolder) -> None:
    holder.policy = C3
    with client.websocket_connect("/ws", headers={"Origin": "https://x.example"}) as ws:
        assert ws.receive_text() == "hello"
