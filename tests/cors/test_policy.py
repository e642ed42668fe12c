"""The CORS policy and decision as tables: ``shared/spec/cors.md`` without a server."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firehouse.cors.policy import (
    CORS_OFF,
    DEFAULT_EXPOSED_HEADERS,
    CorsDecision,
    CorsPolicy,
    InvalidPolicy,
    Reason,
    decide_actual,
    decide_preflight,
    parse_policy,
    policy_to_json,
    split_list_setting,
    warnings,
)
from tests.cors.configs import C1, C2, C3, CONFIGS

EXPOSED = "Location,Content-Location,ETag,Last-Modified,X-Request-Id"
PREFLIGHT_ONLY = {
    "access-control-allow-methods",
    "access-control-allow-headers",
    "access-control-max-age",
}


def problems_of(data: Any) -> list[tuple[str, str, str]]:
    with pytest.raises(InvalidPolicy) as raised:
        parse_policy(data)
    return [(p.id, p.field, p.message) for p in raised.value.problems]


# --------------------------------------------------------------------------- validation

INVALID = [
    # (test id, JSON policy, problem id, field, words the message must contain)
    pytest.param(
        {"origins": ["*"], "allowCredentials": True},
        "cors.E003",
        "allowCredentials",
        ["origins is *", "any website"],
        id="case15_any_origin_with_credentials",
    ),
    pytest.param(
        {"origins": ["*", "https://a.example"]},
        "cors.E004",
        "origins",
        ["*"],
        id="any_origin_mixed",
    ),
    pytest.param({"headers": ["*", "x-a"]}, "cors.E004", "headers", ["*"], id="any_header_mixed"),
    pytest.param({"methods": ["GET", "*"]}, "cors.E004", "methods", ["*"], id="any_method_mixed"),
    pytest.param(
        {"origins": ["https://x.com/"]},
        "cors.E007",
        "origins",
        ['"https://x.com/"', "trailing slash"],
        id="origin_trailing_slash",
    ),
    pytest.param(
        {"origins": ["https://x.com/path"]},
        "cors.E007",
        "origins",
        ['"https://x.com/path"', "path"],
        id="origin_path",
    ),
    pytest.param(
        {"origins": ["https://x.com?a=1"]}, "cors.E007", "origins", ["x.com?a=1"], id="origin_query"
    ),
    pytest.param(
        {"origins": ["https://x.com#top"]},
        "cors.E007",
        "origins",
        ["x.com#top"],
        id="origin_fragment",
    ),
    pytest.param(
        {"origins": ["https://*.x.com"]},
        "cors.E008",
        "origins",
        ['"https://*.x.com"', "wildcard"],
        id="origin_wildcard_subdomain",
    ),
    pytest.param({"origins": ["null"]}, "cors.E009", "origins", ['"null"'], id="origin_null"),
    pytest.param(
        {"origins": ["ftp://x"]}, "cors.E006", "origins", ['"ftp://x"', "http"], id="origin_ftp"
    ),
    pytest.param(
        {"origins": ["x.com"]}, "cors.E005", "origins", ['"x.com"', "scheme"], id="origin_no_scheme"
    ),
    pytest.param(
        {"origins": ["https://me:pw@x.com"]},
        "cors.E010",
        "origins",
        ["me:pw@x.com", "user name"],
        id="origin_userinfo",
    ),
    pytest.param({"origins": ["https://x.com:0"]}, "cors.E011", "origins", [":0"], id="port_zero"),
    pytest.param(
        {"origins": ["https://x.com:65536"]}, "cors.E011", "origins", ["65536"], id="port_too_big"
    ),
    pytest.param(
        {"origins": ["https://x.com:"]}, "cors.E011", "origins", ["x.com:"], id="port_empty"
    ),
    pytest.param(
        {"origins": ["https://x.com:+443"]}, "cors.E011", "origins", [":+443"], id="port_signed"
    ),
    pytest.param(
        {"origins": ["https://x_y.com"]},
        "cors.E005",
        "origins",
        ["x_y.com", "host"],
        id="underscore",
    ),
    pytest.param(
        {"origins": ["https://a..example"]},
        "cors.E005",
        "origins",
        ["a..example"],
        id="empty_label",
    ),
    pytest.param(
        {"origins": ["https://exämple.com"]},
        "cors.E005",
        "origins",
        ["punycode"],
        id="origin_unicode_host",
    ),
    pytest.param(
        {"origins": ["https://\u212aa.example"]},  # KELVIN SIGN lower-cases to ASCII "k"
        "cors.E005",
        "origins",
        ["non-ASCII"],
        id="origin_lookalike_lowercases_to_ascii",
    ),
    pytest.param(
        {"origins": [" https://x.com"]}, "cors.E005", "origins", ["spaces"], id="origin_space"
    ),
    pytest.param({"origins": [""]}, "cors.E005", "origins", ["empty"], id="origin_empty"),
    pytest.param({"origins": ["https://[::1]"]}, "cors.E005", "origins", ["[::1]"], id="ipv6"),
    pytest.param({"origins": ["https://"]}, "cors.E005", "origins", ["host"], id="no_host"),
    pytest.param({"maxAge": -1}, "cors.E014", "maxAge", ["-1", "0 to 99999"], id="case16_minus1"),
    pytest.param(
        {"maxAge": 100000}, "cors.E014", "maxAge", ["100000", "0 to 99999"], id="case16_100000"
    ),
    pytest.param({"maxAge": "10"}, "cors.E002", "maxAge", ['string "10"'], id="case16_string_ten"),
    pytest.param({"maxAge": True}, "cors.E002", "maxAge", ["true"], id="max_age_true"),
    pytest.param({"maxAge": 1.5}, "cors.E002", "maxAge", ["1.5"], id="max_age_float"),
    pytest.param(
        {"allowCredentials": "true"}, "cors.E002", "allowCredentials", ['"true"'], id="creds_string"
    ),
    pytest.param(
        {"origins": "https://a.example"}, "cors.E002", "origins", ["list"], id="origins_not_list"
    ),
    pytest.param({"headers": None}, "cors.E002", "headers", ["null"], id="headers_null"),
    pytest.param({"methods": [1]}, "cors.E002", "methods", ["methods[0]", "1"], id="method_number"),
    pytest.param(
        {"headers": ["X Trace"]}, "cors.E012", "headers", ['"X Trace"'], id="header_space"
    ),
    pytest.param({"headers": ["x:y"]}, "cors.E012", "headers", ['"x:y"'], id="header_colon"),
    pytest.param({"headers": [""]}, "cors.E012", "headers", ['""'], id="header_empty"),
    pytest.param(
        {"headers": ["x-a\r\nSet-Cookie: a=b"]},
        "cors.E012",
        "headers",
        ["\\r\\n"],
        id="header_crlf",
    ),
    pytest.param({"methods": ["GE T"]}, "cors.E013", "methods", ['"GE T"'], id="method_space"),
    pytest.param({"exposedHeaders": ["*"]}, "cors.E015", "exposedHeaders", ["*"], id="exposed_any"),
    pytest.param(
        {"exposedHeaders": ["E Tag"]}, "cors.E012", "exposedHeaders", ['"E Tag"'], id="exposed_bad"
    ),
    pytest.param(
        {"max_age": 10}, "cors.E001", "max_age", ["did you mean maxAge"], id="unknown_snake_case"
    ),
    pytest.param(
        {"origin": []}, "cors.E001", "origin", ["did you mean origins"], id="unknown_typo"
    ),
    pytest.param({"colour": "red"}, "cors.E001", "colour", ["the settings are"], id="unknown_key"),
]


@pytest.mark.parametrize(("data", "problem_id", "field", "words"), INVALID)
def test_an_invalid_policy_is_rejected_naming_the_value(
    data: dict[str, Any], problem_id: str, field: str, words: list[str]
) -> None:
    found = problems_of(data)
    matching = [message for pid, f, message in found if (pid, f) == (problem_id, field)]
    assert matching, found
    for word in words:
        assert word in matching[0]


def test_case15_every_problem_is_listed_at_once() -> None:
    found = problems_of(
        {
            "origins": ["*"],
            "allowCredentials": True,
            "maxAge": "10",
            "headers": ["a b", "c d"],
            "methods": ["G T"],
            "exposedHeaders": ["*"],
            "flavour": 1,
        }
    )
    assert [(pid, field) for pid, field, _ in found] == [
        ("cors.E001", "flavour"),
        ("cors.E002", "maxAge"),
        ("cors.E012", "headers"),
        ("cors.E012", "headers"),
        ("cors.E013", "methods"),
        ("cors.E015", "exposedHeaders"),
        ("cors.E003", "allowCredentials"),
    ]


def test_a_rejected_policy_names_every_bad_origin() -> None:
    bad = ["https://x.com/", "https://*.x.com", "null", "ftp://x", "x.com", "https://x.com/path"]
    found = problems_of({"origins": ["https://good.example", *bad]})
    assert len(found) == len(bad)
    for value, (_, field, message) in zip(bad, found, strict=True):
        assert field == "origins"
        assert f'"{value}"' in message


def test_a_policy_that_is_not_an_object_is_rejected() -> None:
    assert problems_of(["https://a.example"])[0][0] == "cors.E002"


def test_building_a_policy_directly_is_checked_too() -> None:
    with pytest.raises(InvalidPolicy) as raised:
        CorsPolicy(origins=("*",), allow_credentials=True)
    assert [p.id for p in raised.value.problems] == ["cors.E003"]


def test_problems_serialise_for_the_admin_api() -> None:
    with pytest.raises(InvalidPolicy) as raised:
        parse_policy({"maxAge": -1})
    assert raised.value.problems[0].to_json() == {
        "id": "cors.E014",
        "field": "maxAge",
        "message": raised.value.problems[0].message,
    }
    assert "cors.E014" in str(raised.value)


@pytest.mark.parametrize(
    ("data", "attribute", "stored"),
    [
        pytest.param({"maxAge": 0}, "max_age", 0, id="case16_zero"),
        pytest.param({"maxAge": 99999}, "max_age", 99999, id="case16_99999"),
        pytest.param({"maxAge": None}, "max_age", None, id="max_age_null_is_unset"),
        pytest.param(
            {"origins": ["HTTPS://App.Example.com:443"]},
            "origins",
            ("https://app.example.com",),
            id="case17_normalised",
        ),
        pytest.param(
            {"origins": ["HTTPS://A.Example:443"]}, "origins", ("https://a.example",), id="case17"
        ),
        pytest.param(
            {"origins": ["http://x.test:80"]}, "origins", ("http://x.test",), id="http_80"
        ),
        pytest.param(
            {"origins": ["https://x.test:80", "http://x.test:443"]},
            "origins",
            ("https://x.test:80", "http://x.test:443"),
            id="other_scheme_default_port_kept",
        ),
        pytest.param(
            {"origins": ["https://x.test:08443"]},
            "origins",
            ("https://x.test:8443",),
            id="port_zeros",
        ),
        pytest.param(
            {
                "origins": [
                    "https://b.test",
                    "https://a.test",
                    "HTTPS://B.TEST",
                    "https://a.test:443",
                ]
            },
            "origins",
            ("https://b.test", "https://a.test"),
            id="duplicates_removed_in_order",
        ),
        pytest.param({"origins": ["*"]}, "origins", ("*",), id="any_origin"),
        pytest.param({"origins": ["*", "*"]}, "origins", ("*",), id="any_twice"),
        pytest.param(
            {"methods": ["get", "Put", "GET"]}, "methods", ("GET", "PUT"), id="methods_up"
        ),
        pytest.param(
            {"headers": ["Authorization", "authorization", "X-Trace"]},
            "headers",
            ("Authorization", "X-Trace"),
            id="headers_deduplicated_first_spelling_kept",
        ),
        pytest.param({}, "exposed_headers", DEFAULT_EXPOSED_HEADERS, id="exposed_default"),
        pytest.param({"exposedHeaders": []}, "exposed_headers", (), id="exposed_none"),
        pytest.param({}, "origins", (), id="default_is_cors_off"),
        pytest.param({}, "allow_credentials", False, id="credentials_default_off"),
    ],
)
def test_a_valid_policy_is_stored_normalised(
    data: dict[str, Any], attribute: str, stored: object
) -> None:
    assert getattr(parse_policy(data), attribute) == stored


@pytest.mark.parametrize("name", list(CONFIGS))
def test_policy_json_round_trips(name: str) -> None:
    policy = CONFIGS[name]
    assert parse_policy(policy_to_json(policy)) == policy


def test_policy_json_uses_the_setting_names() -> None:
    assert policy_to_json(C1) == {
        "origins": ["https://localhost:6001"],
        "headers": ["*"],
        "methods": ["*"],
        "maxAge": 1440,
        "allowCredentials": False,
        "exposedHeaders": list(DEFAULT_EXPOSED_HEADERS),
    }


def test_any_origin_warns_of_a_security_risk() -> None:
    assert any("security risk" in w for w in warnings(C3))
    assert warnings(C1) == warnings(C2) == warnings(CORS_OFF) == []


@pytest.mark.parametrize(
    ("text", "entries"),
    [
        ("", []),
        ("  ", []),
        ("https://a.example", ["https://a.example"]),
        ("https://a.example,https://b.example", ["https://a.example", "https://b.example"]),
        ("GET, PUT  POST\tDELETE", ["GET", "PUT", "POST", "DELETE"]),
        (",authorization,,content-type,", ["authorization", "content-type"]),
        ("*", ["*"]),
    ],
)
def test_list_settings_split_on_commas_and_whitespace(text: str, entries: list[str]) -> None:
    assert split_list_setting(text) == entries


def test_policy_properties() -> None:
    assert not CORS_OFF.enabled and not CORS_OFF.varies_by_origin
    assert C2.enabled and C2.varies_by_origin and not C2.any_origin
    assert C3.any_origin and C3.any_header and C3.any_method and not C3.varies_by_origin


# --------------------------------------------------------------------------- decisions


def headers_of(decision: CorsDecision) -> dict[str, str]:
    return {name.lower(): value for name, value in decision.headers}


PREFLIGHTS = [
    # (id, policy, origin, request method, request headers, expected headers, expected vary)
    pytest.param(
        C1,
        "https://localhost:6001",
        "PUT",
        "authorization,content-type",
        {
            "access-control-allow-origin": "https://localhost:6001",
            "access-control-allow-methods": "PUT",
            "access-control-allow-headers": "authorization,content-type",
            "access-control-max-age": "1440",
        },
        ("Origin", "Access-Control-Request-Method", "Access-Control-Request-Headers"),
        id="case01_c1_preflight_allowed",
    ),
    pytest.param(
        C1, "https://evil.example", "PUT", "authorization", {}, ("Origin",), id="case03_c1_evil"
    ),
    pytest.param(
        C1,
        "https://localhost:6001",
        "DELETE",
        None,
        {
            "access-control-allow-origin": "https://localhost:6001",
            "access-control-allow-methods": "DELETE",
            "access-control-max-age": "1440",
        },
        ("Origin", "Access-Control-Request-Method", "Access-Control-Request-Headers"),
        id="case04_case05_any_method_echoed_and_no_headers_requested",
    ),
    pytest.param(
        C3,
        "https://anyone.example",
        "PATCH",
        "",
        {"access-control-allow-origin": "*", "access-control-allow-methods": "PATCH"},
        ("Access-Control-Request-Method", "Access-Control-Request-Headers"),
        id="case04_case05_c3_empty_request_headers",
    ),
    pytest.param(
        C2,
        "https://b.example",
        "PUT",
        "authorization",
        {
            "access-control-allow-origin": "https://b.example",
            "access-control-allow-credentials": "true",
            "access-control-allow-methods": "GET,PUT",
            "access-control-allow-headers": "authorization,content-type",
        },
        ("Origin",),
        id="case06_c2_b_with_credentials",
    ),
    pytest.param(
        C2,
        "https://a.example",
        "PUT",
        "if-match",
        {
            "access-control-allow-origin": "https://a.example",
            "access-control-allow-credentials": "true",
            "access-control-allow-methods": "GET,PUT",
            "access-control-allow-headers": "authorization,content-type",
        },
        ("Origin",),
        id="case07_c2_configured_headers_not_widened",
    ),
    pytest.param(
        C2,
        "https://a.example",
        "DELETE",
        None,
        {
            "access-control-allow-origin": "https://a.example",
            "access-control-allow-credentials": "true",
            "access-control-allow-methods": "GET,PUT",
            "access-control-allow-headers": "authorization,content-type",
        },
        ("Origin",),
        id="configured_methods_sent_the_browser_decides",
    ),
    pytest.param(
        C3,
        "https://x.example",
        "PUT",
        "X-Trace, x-trace,Authorization",
        {
            "access-control-allow-origin": "*",
            "access-control-allow-methods": "PUT",
            "access-control-allow-headers": "x-trace,authorization",
        },
        ("Access-Control-Request-Method", "Access-Control-Request-Headers"),
        id="any_headers_echoed_lowercase_deduplicated",
    ),
    pytest.param(
        C3,
        "null",
        "GET",
        None,
        {"access-control-allow-origin": "*", "access-control-allow-methods": "GET"},
        ("Access-Control-Request-Method", "Access-Control-Request-Headers"),
        id="null_allowed_only_by_any",
    ),
    pytest.param(
        C1,
        "HTTPS://LOCALHOST:6001",
        "PUT",
        None,
        {
            "access-control-allow-origin": "https://localhost:6001",
            "access-control-allow-methods": "PUT",
            "access-control-max-age": "1440",
        },
        ("Origin", "Access-Control-Request-Method", "Access-Control-Request-Headers"),
        id="case17_request_origin_normalised_and_answered_normalised",
    ),
    pytest.param(CORS_OFF, "https://a.example", "GET", "x-a", {}, (), id="case18_off_preflight"),
    pytest.param(
        C3,
        "https://x.example",
        "*",
        None,
        {},
        ("Access-Control-Request-Method", "Access-Control-Request-Headers"),
        id="case04_star_method_never_echoed",
    ),
    pytest.param(
        C3,
        "https://x.example",
        "GE T",
        None,
        {},
        ("Access-Control-Request-Method", "Access-Control-Request-Headers"),
        id="invalid_method_refused",
    ),
    pytest.param(
        C3,
        "https://x.example",
        "GET",
        "x-a\r\nSet-Cookie: a=b",
        {},
        ("Access-Control-Request-Method", "Access-Control-Request-Headers"),
        id="invalid_request_headers_refused",
    ),
]


@pytest.mark.parametrize(
    ("policy", "origin", "method", "request_headers", "expected", "vary"), PREFLIGHTS
)
def test_preflight_decision(
    policy: CorsPolicy,
    origin: str,
    method: str,
    request_headers: str | None,
    expected: dict[str, str],
    vary: tuple[str, ...],
) -> None:
    decision = decide_preflight(policy, origin, method, request_headers)
    assert headers_of(decision) == expected
    assert decision.vary == vary
    assert decision.allowed == bool(expected)
    assert "access-control-expose-headers" not in headers_of(decision)


def test_max_age_zero_is_sent_and_unset_is_absent() -> None:
    zero = parse_policy({"origins": ["https://a.example"], "methods": ["GET"], "maxAge": 0})
    unset = parse_policy({"origins": ["https://a.example"], "methods": ["GET"]})
    assert (
        decide_preflight(zero, "https://a.example", "GET", None).header("Access-Control-Max-Age")
        == "0"
    )
    assert (
        decide_preflight(unset, "https://a.example", "GET", None).header("access-control-max-age")
        is None
    )


def test_an_origin_with_no_request_method_is_no_preflight() -> None:
    decision = decide_preflight(C2, "https://a.example", None, None)
    assert (decision.allowed, decision.reason, decision.headers) == (
        False,
        Reason.NOT_PREFLIGHT,
        (),
    )


ACTUALS = [
    # (id, policy, origin, expected headers, expected vary)
    pytest.param(
        C1,
        "https://localhost:6001",
        {
            "access-control-allow-origin": "https://localhost:6001",
            "access-control-expose-headers": EXPOSED,
        },
        ("Origin",),
        id="case09_c1_allowed",
    ),
    pytest.param(
        C3,
        "https://anyone.example",
        {
            "access-control-allow-origin": "*",
            "access-control-expose-headers": EXPOSED,
        },
        (),
        id="case11_c3_any_no_credentials_no_vary",
    ),
    pytest.param(C2, None, {}, ("Origin",), id="case12_c2_no_origin_still_varies"),
    pytest.param(
        C2,
        "https://a.example",
        {
            "access-control-allow-origin": "https://a.example",
            "access-control-allow-credentials": "true",
            "access-control-expose-headers": EXPOSED,
        },
        ("Origin",),
        id="case13_c2_exposes_location_and_etag",
    ),
    pytest.param(C2, "https://evil.example", {}, ("Origin",), id="case03_refused_only_vary"),
    pytest.param(CORS_OFF, "https://a.example", {}, (), id="case18_off_actual"),
    pytest.param(CORS_OFF, None, {}, (), id="case18_off_no_origin"),
    pytest.param(
        parse_policy({"origins": ["https://a.example"], "exposedHeaders": []}),
        "https://a.example",
        {"access-control-allow-origin": "https://a.example"},
        ("Origin",),
        id="no_expose_header_when_list_empty",
    ),
]


@pytest.mark.parametrize(("policy", "origin", "expected", "vary"), ACTUALS)
def test_actual_decision(
    policy: CorsPolicy, origin: str | None, expected: dict[str, str], vary: tuple[str, ...]
) -> None:
    decision = decide_actual(policy, origin)
    assert headers_of(decision) == expected
    assert decision.vary == vary
    assert not PREFLIGHT_ONLY & headers_of(decision).keys()


REFUSED_ORIGINS = [
    pytest.param("https://a.example.evil", Reason.ORIGIN_NOT_ALLOWED, id="case14_suffix"),
    pytest.param("https://a.exampl", Reason.ORIGIN_NOT_ALLOWED, id="case14_prefix"),
    pytest.param("http://a.example", Reason.ORIGIN_NOT_ALLOWED, id="case14_http_twin"),
    pytest.param("https://a.example:8443", Reason.ORIGIN_NOT_ALLOWED, id="case14_other_port"),
    pytest.param("null", Reason.ORIGIN_NULL, id="case14_null"),
    pytest.param("https://evil.a.example", Reason.ORIGIN_NOT_ALLOWED, id="subdomain"),
    pytest.param("https://a.example https://b.example", Reason.ORIGIN_MALFORMED, id="two_origins"),
    pytest.param("https://a.example, https://b.example", Reason.ORIGIN_MALFORMED, id="two_comma"),
    pytest.param("https://a.example/", Reason.ORIGIN_MALFORMED, id="trailing_slash"),
    pytest.param("https://me@a.example", Reason.ORIGIN_MALFORMED, id="userinfo"),
    pytest.param("https://\u212a.example", Reason.ORIGIN_MALFORMED, id="unicode_kelvin"),
    pytest.param("https://a.example\r\nX-Evil: 1", Reason.ORIGIN_MALFORMED, id="crlf"),
    pytest.param("https://" + "a" * 10_000 + ".example", Reason.ORIGIN_MALFORMED, id="10kB"),
    pytest.param("", Reason.ORIGIN_MALFORMED, id="empty"),
    pytest.param("*", Reason.ORIGIN_MALFORMED, id="star"),
]


@pytest.mark.parametrize(("origin", "reason"), REFUSED_ORIGINS)
def test_case14_refused_origins_get_no_cors_header(origin: str, reason: Reason) -> None:
    for decision in (
        decide_actual(C2, origin),
        decide_preflight(C2, origin, "PUT", "authorization"),
    ):
        assert (decision.allowed, decision.reason, decision.headers) == (False, reason, ())
        assert decision.vary == ("Origin",)


@pytest.mark.parametrize(
    "origin",
    [
        "https://a.example https://b.example",
        "https://x.example/",
        "https://\u212a.example",
        "x" * 10_000,
    ],
)
def test_malformed_origins_are_refused_even_under_any(origin: str) -> None:
    assert decide_actual(C3, origin).headers == ()


@pytest.mark.parametrize(
    "origin", ["https://a.example", "HTTPS://A.Example:443", "https://A.EXAMPLE"]
)
def test_case17_normalised_origin_matches(origin: str) -> None:
    policy = parse_policy({"origins": ["HTTPS://A.Example:443"]})
    assert (
        decide_actual(policy, origin).header("access-control-allow-origin") == "https://a.example"
    )


# --------------------------------------------------------------------------- properties

_TCHAR = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_HEADER_VALUE = re.compile(r"[\x21-\x7e]+")
POLICIES = st.sampled_from([C1, C2, C3, CORS_OFF])
TEXT = st.one_of(
    st.none(),
    st.text(max_size=60),
    st.sampled_from(["https://a.example", "https://localhost:6001", "null", "*", "PUT", "GET"]),
    st.lists(st.sampled_from(["x-a", "Authorization", " ", ",", "\r\n", "é", "*"])).map("".join),
)


def check_safe(policy: CorsPolicy, origin: str | None, decision: CorsDecision) -> None:
    allow_origin = decision.header("access-control-allow-origin")
    if allow_origin is not None:
        assert origin is not None
        if allow_origin != "*":
            assert allow_origin in policy.origins
            assert allow_origin == origin.lower().removesuffix(":443")
    for name, value in decision.headers:
        assert _HEADER_VALUE.fullmatch(value), (name, value)
        if name in ("Access-Control-Allow-Methods", "Access-Control-Allow-Headers"):
            assert all(_TCHAR.fullmatch(item) for item in value.split(","))
        if name == "Access-Control-Allow-Methods":
            assert value != "*"
    for token in decision.vary:
        assert _TCHAR.fullmatch(token)


@settings(max_examples=300, deadline=None)
@given(policy=POLICIES, origin=TEXT, method=TEXT, request_headers=TEXT)
def test_property_preflight_never_raises_nor_leaks_input(
    policy: CorsPolicy, origin: str | None, method: str | None, request_headers: str | None
) -> None:
    check_safe(policy, origin, decide_preflight(policy, origin, method, request_headers))


@settings(max_examples=300, deadline=None)
@given(policy=POLICIES, origin=TEXT)
def test_property_actual_never_raises_nor_leaks_input(
    policy: CorsPolicy, origin: str | None
) -> None:
    decision = decide_actual(policy, origin)
    check_safe(policy, origin, decision)
    assert decision.allowed == (decision.header("access-control-allow-origin") is not None)


@settings(max_examples=200, deadline=None)
@given(
    scheme=st.sampled_from(["http", "https", "HTTP", "Https"]),
    host=st.from_regex(r"[A-Za-z0-9-]{1,10}(\.[A-Za-z0-9-]{1,10}){0,2}", fullmatch=True),
    port=st.one_of(st.none(), st.integers(1, 65535)),
)
def test_property_any_configured_origin_matches_its_browser_spelling(
    scheme: str, host: str, port: int | None
) -> None:
    configured = f"{scheme}://{host}" + ("" if port is None else f":{port}")
    policy = parse_policy({"origins": [configured]})
    (stored,) = policy.origins
    default = {"http": 80, "https": 443}[scheme.lower()]
    expected = f"{scheme.lower()}://{host.lower()}" + (
        "" if port in (None, default) else f":{port}"
    )
    assert stored == expected
    assert decide_actual(policy, expected).header("Access-Control-Allow-Origin") == expected
    assert parse_policy(policy_to_json(policy)) == policy


def test_echoed_answers_are_remembered_but_bounded() -> None:
    policy = parse_policy({"origins": ["https://a.example"], "headers": ["*"], "methods": ["*"]})
    first = decide_preflight(policy, "https://a.example", "PUT", "x-a")
    assert decide_preflight(policy, "https://a.example", "PUT", "x-a") is first
    for i in range(3000):
        decision = decide_preflight(policy, "https://a.example", "PUT", f"x-{i}")
        assert decision.header("access-control-allow-headers") == f"x-{i}"
    assert len(policy._plan._echoes) <= 512
    long_headers = ",".join(f"x-{i}" for i in range(500))
    decision = decide_preflight(policy, "https://a.example", "PUT", long_headers)
    assert decision.header("access-control-allow-headers") == long_headers
    assert all(len(key[2] or "") < 1024 for key in policy._plan._echoes)
