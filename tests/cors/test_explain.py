"""Plain-words verdicts of ``firehouse cors check`` / ``POST /admin/cors/check``."""

from __future__ import annotations

import pytest

from firehouse.cors.explain import _browser_checks_preflight, explain
from firehouse.cors.policy import CorsDecision, CorsPolicy, Reason, parse_policy
from tests.cors.configs import C1, C2, C3, OFF

C1_ORIGIN = "https://localhost:6001"
C2_NO_CREDENTIALS = parse_policy(
    {
        "origins": ["https://a.example", "https://b.example"],
        "headers": ["authorization", "content-type"],
        "methods": ["GET", "PUT", "PATCH"],
    }
)

CASES = [
    # (id, policy, origin, method, headers, allowed, preflight needed, words in the reason)
    pytest.param(
        C1,
        C1_ORIGIN,
        "PUT",
        ["Authorization", "Content-Type"],
        True,
        True,
        ["allowed", "preflight", "PUT", "Authorization", "1440 seconds"],
        id="case01_c1_put_with_auth",
    ),
    pytest.param(
        C1,
        "https://evil.example",
        "PUT",
        ["Authorization"],
        False,
        True,
        ["refused", "origin https://evil.example is not allowed", "https://localhost:6001"],
        id="case03_c1_evil_origin",
    ),
    pytest.param(
        C2,
        "https://x.example",
        "PUT",
        [],
        False,
        True,
        [
            "refused: origin https://x.example is not allowed; allowed origins are "
            "https://a.example, https://b.example"
        ],
        id="origin_not_allowed_lists_the_allowed_ones",
    ),
    pytest.param(
        C2,
        "https://x.example",
        "POST",
        [],
        False,
        False,
        ["not allowed", "server still receives this simple request"],
        id="refused_simple_request_still_reaches_the_server",
    ),
    pytest.param(
        C2,
        "https://a.example",
        "PUT",
        ["X-Trace"],
        False,
        True,
        [
            "allowed, but header X-Trace is not in the allowed headers "
            "(authorization, content-type), so the browser will block the request"
        ],
        id="case07_header_not_allowed",
    ),
    pytest.param(
        C2,
        "https://a.example",
        "PUT",
        ["X-Trace", "If-Match"],
        False,
        True,
        ["headers If-Match, X-Trace are not in the allowed headers"],
        id="several_headers_not_allowed",
    ),
    pytest.param(
        C2,
        "https://a.example",
        "DELETE",
        [],
        False,
        True,
        ["method DELETE is not in the allowed methods (GET, PUT)", "will block"],
        id="method_not_allowed",
    ),
    pytest.param(
        C2_NO_CREDENTIALS,
        "https://a.example",
        "patch",
        [],
        False,
        True,
        ["method patch is not in the allowed methods", "write PATCH"],
        id="lower_case_patch_is_not_normalised_by_browsers",
    ),
    pytest.param(
        C2_NO_CREDENTIALS,
        "https://a.example",
        "delete",
        [],
        False,
        True,
        ["method DELETE"],
        id="delete_is_normalised_by_browsers",
    ),
    pytest.param(
        C2,
        "https://a.example",
        "GET",
        [],
        True,
        False,
        ["allowed", "simple request that needs no preflight", "with credentials", "Location"],
        id="simple_get_needs_no_preflight",
    ),
    pytest.param(
        C2,
        "https://a.example",
        "POST",
        ["Accept", "Accept-Language"],
        True,
        False,
        ["simple request"],
        id="safelisted_headers_need_no_permission",
    ),
    pytest.param(
        C2,
        "https://a.example",
        "POST",
        ["Content-Type"],
        True,
        True,
        ["preflight for POST with headers Content-Type"],
        id="content_type_for_fhir_json_needs_a_preflight",
    ),
    pytest.param(
        C2,
        "https://a.example",
        "GET",
        ["Cookie"],
        True,
        False,
        ["script cannot set Cookie"],
        id="forbidden_header_is_ignored_with_a_note",
    ),
    pytest.param(
        OFF,
        "https://a.example",
        "GET",
        [],
        False,
        False,
        ["CORS is off"],
        id="case18_cors_off",
    ),
    pytest.param(
        C3,
        "null",
        "GET",
        [],
        True,
        False,
        ["allowed", "Access-Control-Allow-Origin: *"],
        id="null_origin_under_any",
    ),
    pytest.param(
        C2,
        "null",
        "GET",
        [],
        False,
        False,
        ['origin "null"', "only allowed when origins is *"],
        id="case14_null_origin",
    ),
    pytest.param(
        C2,
        "https://a.example/app",
        "GET",
        [],
        False,
        False,
        ['"https://a.example/app" is not an origin'],
        id="a_url_is_not_an_origin",
    ),
    pytest.param(
        C2,
        "HTTPS://A.Example:443",
        "GET",
        [],
        True,
        False,
        ["from https://a.example"],
        id="case17_origin_normalised",
    ),
    pytest.param(
        C3,
        "https://any.example",
        "DELETE",
        ["Authorization", "X-Trace"],
        True,
        True,
        ["allowed", "DELETE with headers Authorization, X-Trace"],
        id="case04_any_headers_echoed_so_authorization_works",
    ),
    pytest.param(
        C2,
        "https://a.example",
        "TRACE",
        [],
        False,
        True,
        ["never let a page send a TRACE request"],
        id="forbidden_method",
    ),
    pytest.param(
        C2,
        "https://a.example",
        "GET",
        ["X Trace"],
        False,
        True,
        ['"X Trace" is not a valid header name'],
        id="invalid_header_name",
    ),
]


@pytest.mark.parametrize(
    ("policy", "origin", "method", "headers", "allowed", "preflight_needed", "words"), CASES
)
def test_explain(
    policy: CorsPolicy,
    origin: str,
    method: str,
    headers: list[str],
    allowed: bool,
    preflight_needed: bool,
    words: list[str],
) -> None:
    result = explain(policy, origin, method, headers)
    assert (result.allowed, result.preflight_needed) == (allowed, preflight_needed), result.reason
    assert result.reason.startswith("allowed" if allowed else ("refused", "origin allowed, but"))
    for word in words:
        assert word in result.reason


def test_credentials_with_any_origin_are_refused_by_the_browser() -> None:
    result = explain(C3, "https://any.example", "GET", [], credentials=True)
    assert not result.allowed
    assert "credentials" in result.reason and "Access-Control-Allow-Origin: *" in result.reason


def test_credentials_without_allow_credentials_are_refused() -> None:
    result = explain(C1, C1_ORIGIN, "GET", [], credentials=True)
    assert not result.allowed
    assert "allowCredentials is off" in result.reason


def test_authorization_must_be_listed_when_headers_are_listed() -> None:
    policy = parse_policy({"origins": ["https://a.example"], "headers": ["x-a"], "methods": ["*"]})
    result = explain(policy, "https://a.example", "GET", ["Authorization"])
    assert not result.allowed
    assert "header Authorization is not in the allowed headers (x-a)" in result.reason


def literal_star_answer() -> CorsDecision:
    """A preflight answer with literal "*"s, as other servers send (Firehouse echoes)."""
    return CorsDecision(
        True,
        Reason.ALLOWED,
        (
            ("Access-Control-Allow-Origin", "https://a.example"),
            ("Access-Control-Allow-Credentials", "true"),
            ("Access-Control-Allow-Methods", "*"),
            ("Access-Control-Allow-Headers", "*"),
        ),
    )


@pytest.mark.parametrize(
    ("method", "headers", "include", "words"),
    [
        pytest.param("PUT", ["x-a"], False, None, id="star_covers_without_credentials"),
        pytest.param(
            "PUT", ["authorization", "x-a"], False, "never covers Authorization", id="authorization"
        ),
        pytest.param("PUT", [], True, "method PUT is not in the allowed methods", id="credentials"),
        pytest.param("GET", ["x-a"], True, "header X-A is not in", id="credentials_headers"),
    ],
)
def test_browser_rules_for_a_literal_star(
    method: str, headers: list[str], include: bool, words: str | None
) -> None:
    refusal = _browser_checks_preflight(literal_star_answer(), method, headers, include)
    if words is None:
        assert refusal is None
    else:
        assert refusal is not None and words in refusal


def test_any_origin_carries_the_security_warning() -> None:
    assert any("security risk" in w for w in explain(C3, "https://x.example", "GET").warnings)
    assert explain(C2, "https://a.example", "GET").warnings == ()


def test_result_carries_the_server_answers() -> None:
    result = explain(C1, C1_ORIGIN, "PUT", ["Authorization"])
    assert result.preflight.header("Access-Control-Allow-Headers") == "authorization"
    assert result.actual.header("Access-Control-Allow-Origin") == C1_ORIGIN
    body = result.to_json()
    assert body["allowed"] is True
    assert body["preflightNeeded"] is True
    assert body["preflight"] == {
        "allowed": True,
        "reason": "allowed",
        "headers": {
            "Access-Control-Allow-Origin": C1_ORIGIN,
            "Access-Control-Allow-Methods": "PUT",
            "Access-Control-Allow-Headers": "authorization",
            "Access-Control-Max-Age": "1440",
        },
        "vary": ["Origin", "Access-Control-Request-Method", "Access-Control-Request-Headers"],
    }
