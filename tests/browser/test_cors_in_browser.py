"""``shared/spec/cors.md`` case 20 and more, in real Chromium.

A page on one origin ``fetch``es the FHIR API on another. The allowed origin
reads, creates (and reads ``Location`` and ``ETag`` from script), updates
with ``If-Match`` and ``Authorization``, sends cookies, and reads error
outcomes; a refused origin gets fetch()'s ``TypeError`` every time; with
``origins: *`` plain calls work and credentialed ones fail. Where the proxy
shows what reached the server, the tests check that too: a blocked preflighted
call must never reach it.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.browser.conftest import Fhir, call, open_page
from tests.browser.servers import StaticSite

pytestmark = pytest.mark.browser

PATIENT = {"resourceType": "Patient", "name": [{"family": "Chalmers", "given": ["Peter"]}]}
FHIR_JSON = {"Content-Type": "application/fhir+json"}


def create(page: Any, fhir: Fhir, **init: Any) -> dict[str, Any]:
    result = call(
        page,
        f"{fhir.url}/Patient",
        {"method": "POST", "headers": FHIR_JSON, "body": json.dumps(PATIENT), **init},
    )
    assert result.get("status") == 201, result
    return result


def blocked(result: dict[str, Any]) -> bool:
    # fetch() says nothing more than this to the page, by design.
    return result.get("error") == "TypeError" and "status" not in result


# --------------------------------------------------------------------------- allowed origin


def test_allowed_origin_reads_the_capability_statement(page_a: Any, listed: Fhir) -> None:
    result = call(page_a, f"{listed.url}/metadata")
    assert result["status"] == 200
    assert result["body"]["resourceType"] == "CapabilityStatement"
    assert result["body"]["rest"][0]["security"]["cors"] is True
    # A GET without custom headers is a simple request: no preflight was needed.
    assert listed.proxy.preflights("/metadata") == []


def test_allowed_origin_creates_and_reads_location_and_etag(
    page_a: Any, listed: Fhir, site_a: StaticSite
) -> None:
    result = create(page_a, listed)
    id = result["body"]["id"]
    # Readable from script only because the server exposes them.
    assert result["headers"]["Location"] == f"{listed.url}/Patient/{id}/_history/1"
    assert result["headers"]["ETag"] == 'W/"1"'
    assert result["headers"]["X-Request-Id"]
    # application/fhir+json is not a "simple" content type: the browser asked first.
    arrived = [(s.method, s.origin) for s in listed.proxy.seen("/Patient")]
    assert ("OPTIONS", site_a.origin) in arrived and ("POST", site_a.origin) in arrived


def test_allowed_origin_updates_with_if_match_and_authorization(page_a: Any, listed: Fhir) -> None:
    created = create(page_a, listed)
    id = created["body"]["id"]
    path = f"/Patient/{id}"
    body = json.dumps({**PATIENT, "id": id, "active": True})
    headers = {**FHIR_JSON, "If-Match": created["headers"]["ETag"], "Authorization": "Bearer t0k"}
    updated = call(
        page_a, f"{listed.url}{path}", {"method": "PUT", "headers": headers, "body": body}
    )
    assert updated["status"] == 200, updated
    assert updated["headers"]["ETag"] == 'W/"2"'
    assert updated["body"]["active"] is True
    put = [s for s in listed.proxy.seen(path) if s.method == "PUT"]
    assert put[0].headers["authorization"] == "Bearer t0k"
    assert put[0].headers["if-match"] == 'W/"1"'
    # The same If-Match again is stale now: a 412 the page can read, outcome and all.
    stale = call(page_a, f"{listed.url}{path}", {"method": "PUT", "headers": headers, "body": body})
    assert stale["status"] == 412
    assert stale["body"]["resourceType"] == "OperationOutcome"


def test_credentialed_request_sends_cookies_and_reads_the_answer(page_a: Any, listed: Fhir) -> None:
    # Cookies are per host, not per port: this one belongs to the API's host too.
    page_a.evaluate("() => { document.cookie = 'fh_session=abc123; SameSite=Lax; path=/'; }")
    id = create(page_a, listed)["body"]["id"]
    path = f"/Patient/{id}"
    read = call(page_a, f"{listed.url}{path}", {"credentials": "include"})
    assert read["status"] == 200 and read["body"]["id"] == id
    with_auth = call(
        page_a,
        f"{listed.url}{path}",
        {"credentials": "include", "headers": {"Authorization": "Basic dXNlcjpwdw=="}},
    )
    assert with_auth["status"] == 200
    gets = [s for s in listed.proxy.seen(path) if s.method == "GET"]
    assert [s.headers.get("cookie") for s in gets] == ["fh_session=abc123"] * 2
    # Without credentials: "same-origin" is fetch()'s default, so no cookie crosses.
    call(page_a, f"{listed.url}{path}?plain")
    assert "cookie" not in listed.proxy.seen(path)[-1].headers


def test_a_404_outcome_is_readable(page_a: Any, listed: Fhir) -> None:
    result = call(page_a, f"{listed.url}/Patient/does-not-exist")
    assert result["status"] == 404
    assert result["body"]["resourceType"] == "OperationOutcome"
    assert result["body"]["issue"][0]["code"] == "not-found"


def test_a_405_with_allow_is_readable(page_a: Any, listed: Fhir) -> None:
    # DELETE on an instance's history is not an interaction FHIR defines.
    result = call(page_a, f"{listed.url}/Patient/p1/_history", {"method": "DELETE"})
    assert result["status"] == 405
    assert result["body"]["resourceType"] == "OperationOutcome"
    # Allow is not exposed by default: the page sees the outcome, not the header.
    assert result["headers"]["Allow"] is None


@pytest.mark.parametrize(
    ("init", "why"),
    [
        ({"headers": {"X-Trace": "1"}}, "header X-Trace is not allowed"),
        ({"method": "PATCH", "headers": FHIR_JSON, "body": "{}"}, "PATCH is not allowed"),
    ],
    ids=["unlisted-header", "unlisted-method"],
)
def test_allowed_origin_is_still_held_to_the_methods_and_headers(
    page_a: Any, listed: Fhir, init: dict[str, Any], why: str
) -> None:
    path = f"/Patient/held-{init.get('method', 'GET').lower()}"
    assert blocked(call(page_a, f"{listed.url}{path}", init)), why
    # The preflight went out and was answered; the call itself never left the browser.
    assert [s.method for s in listed.proxy.seen(path)] == ["OPTIONS"]


# --------------------------------------------------------------------------- refused origin


REFUSED_CALLS = {
    "get": {},
    "get-404": {},
    "create": {"method": "POST", "headers": FHIR_JSON, "body": json.dumps(PATIENT)},
    "update": {
        "method": "PUT",
        "headers": {**FHIR_JSON, "If-Match": 'W/"1"'},
        "body": json.dumps({**PATIENT, "id": "x"}),
    },
    "delete": {"method": "DELETE"},
    "credentialed": {"credentials": "include"},
    "authorization": {"headers": {"Authorization": "Bearer t0k"}},
}


@pytest.mark.parametrize("name", list(REFUSED_CALLS))
def test_refused_origin_gets_a_type_error_every_time(
    page_b: Any, listed: Fhir, site_b: StaticSite, name: str
) -> None:
    path = f"/Patient/refused-{name}"
    init = REFUSED_CALLS[name]
    assert blocked(call(page_b, f"{listed.url}{path}", init))
    arrived = {s.method for s in listed.proxy.seen(path) if s.origin == site_b.origin}
    if init.get("method") in ("POST", "PUT", "DELETE") or "headers" in init:
        # Preflighted: refused at the preflight, the call itself never sent.
        assert arrived == {"OPTIONS"}
    else:
        # A simple GET is sent; the browser only hides the answer from the page.
        assert arrived == {"GET"}


SANDBOXED_FETCH = """async (url) => {
  const answer = new Promise(resolve =>
    window.addEventListener("message", event => resolve(event.data), {once: true}));
  const frame = document.createElement("iframe");
  frame.sandbox = "allow-scripts";  // no allow-same-origin: an opaque origin
  frame.srcdoc = `<script>fetch(${JSON.stringify(url)}).then(
    r => parent.postMessage(r.status, "*"), e => parent.postMessage(e.name, "*"))<\\/script>`;
  document.body.appendChild(frame);
  return await answer;
}"""


def test_a_null_origin_is_refused_unless_any_origin(
    page_a: Any, listed: Fhir, any_origin: Fhir
) -> None:
    # A sandboxed frame's requests say Origin: null (so do file: pages and some redirects).
    assert page_a.evaluate(SANDBOXED_FETCH, f"{listed.url}/Patient/null-origin") == "TypeError"
    assert listed.proxy.seen("/Patient/null-origin")[0].origin == "null"
    assert page_a.evaluate(SANDBOXED_FETCH, f"{any_origin.url}/Patient/null-origin") == 404


# --------------------------------------------------------------------------- origins: *


@pytest.mark.parametrize("site", ["a", "b"])
def test_any_origin_plain_requests_work(
    context: Any, any_origin: Fhir, site_a: StaticSite, site_b: StaticSite, site: str
) -> None:
    page = open_page(context, site_a if site == "a" else site_b)
    assert call(page, f"{any_origin.url}/metadata")["status"] == 200
    created = create(page, any_origin)
    assert re.fullmatch(
        rf"{re.escape(any_origin.url)}/Patient/[^/]+/_history/1", created["headers"]["Location"]
    )
    id = created["body"]["id"]
    # headers "*" echoes what was asked, so even Authorization works (no credentials).
    updated = call(
        page,
        f"{any_origin.url}/Patient/{id}",
        {
            "method": "PUT",
            "headers": {**FHIR_JSON, "Authorization": "Bearer t0k", "If-Match": 'W/"1"'},
            "body": json.dumps({**PATIENT, "id": id}),
        },
    )
    assert updated["status"] == 200, updated


@pytest.mark.parametrize(
    "init",
    [
        {"credentials": "include"},
        {"credentials": "include", "method": "PUT", "headers": FHIR_JSON, "body": "{}"},
    ],
    ids=["simple", "preflighted"],
)
def test_any_origin_credentialed_requests_fail(
    page_a: Any, any_origin: Fhir, init: dict[str, Any]
) -> None:
    assert blocked(call(page_a, f"{any_origin.url}/Patient/with-cookies", init))
