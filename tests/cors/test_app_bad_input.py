"""Hostile and broken CORS request headers through the real app (issue 3, "Bad input").

Whatever a client puts in ``Origin``, ``Access-Control-Request-Method`` and
``-Headers`` (spaces, several origins, ``null``, userinfo, unicode, 10 kB), the
app never answers 5xx, never grants a refused origin, and never copies input
that is not a valid origin or token into a response header: a response header
built from raw input is how header injection and cache poisoning start
(https://fetch.spec.whatwg.org/#http-cors-protocol, ``shared/spec/cors.md``).

The oracles below are written independently of ``firehouse.cors.grammar`` on
purpose, so a bug there cannot hide itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from firehouse.app import create_app
from firehouse.settings import Settings

HttpResponse = Any

A, B = "https://a.example", "https://b.example"
POLICIES: dict[str, dict[str, Any]] = {
    # Lists and credentials: only A and B may ever be granted.
    "C2": {
        "cors_origins": (A, B),
        "cors_headers": ("authorization", "content-type"),
        "cors_methods": ("GET", "PUT"),
        "cors_allow_credentials": True,
    },
    # Echoes method and headers: the place raw input could leak into a header.
    "echo": {
        "cors_origins": (A,),
        "cors_headers": ("*",),
        "cors_methods": ("*",),
        "cors_max_age": 600,
    },
    "any": {"cors_origins": ("*",), "cors_headers": ("*",), "cors_methods": ("*",)},
}

# Headers whose values the FHIR app writes from its own fixed texts.
APP_TEXTS = {"allow", "content-type"}
TCHAR = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]"
TOKEN = re.compile(rf"{TCHAR}+")
TOKEN_LIST = re.compile(rf"{TCHAR}+(?:,{TCHAR}+)*")
ORIGIN = re.compile(r"(https?)://([a-z0-9-]+(?:\.[a-z0-9-]+)*)(?::([0-9]{1,5}))?", re.IGNORECASE)
DEFAULT_PORT = {"http": 80, "https": 443}


def normalised(origin: bytes) -> str | None:
    """The origin a browser means, or None when the bytes are not an origin at all."""
    try:
        text = origin.decode("ascii")
    except UnicodeDecodeError:
        return None
    match = ORIGIN.fullmatch(text)
    if match is None:
        return None
    scheme, host, port = match.group(1).lower(), match.group(2).lower(), match.group(3)
    if port is not None:
        if not 1 <= int(port) <= 65535:
            return None
        if int(port) != DEFAULT_PORT[scheme]:
            return f"{scheme}://{host}:{int(port)}"
    return f"{scheme}://{host}"


# ---------------------------------------------------------------------- what clients send

NASTY_ORIGINS = [
    b"https://a.example ",
    b" https://a.example",
    b"https://a.example https://b.example",
    b"https://a.example,https://b.example",
    b"https://a.example, https://b.example",
    b"null",
    b"NULL",
    b"https://user@a.example",
    b"https://user:secret@a.example",
    b"https://a.example@evil.example",
    "https://\u00e4.example".encode(),
    "https://a.\u212aexample".encode(),  # KELVIN SIGN lower-cases to an ASCII k
    "https://a.example\u3002evil".encode(),
    b"https://a.example\r\nSet-Cookie: x=1",
    b"https://a.example\x00",
    b"https://a.example/",
    b"https://a.example/path",
    b"https://a.example:0",
    b"https://a.example:65536",
    b"https://a.example:443:443",
    b"https://*.example",
    b"*",
    b"",
    b"https://" + b"a" * 10_000 + b".example",
    b"https://a.example" + b" " * 10_000,
    b"\xff\xfe",
]
odd_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=60).map(
    str.encode
)
latin1 = st.binary(max_size=60)
origin_like = st.builds(
    lambda scheme, host, port, tail: f"{scheme}://{host}{port}{tail}".encode(),
    st.sampled_from(["http", "https", "HTTPS", "ftp", "", "https:"]),
    st.sampled_from(["a.example", "A.EXAMPLE", "b.example", "a.example.evil", "a.exampl", "x"]),
    st.sampled_from(["", ":443", ":80", ":8443", ":0", ":99999", ":44 3", ":0443"]),
    st.sampled_from(["", "/", " ", ",https://b.example", "@evil", "\t", "?q"]),
)
origins = st.one_of(st.sampled_from(NASTY_ORIGINS), origin_like, odd_text, latin1)

methods = st.one_of(
    st.sampled_from([b"", b"*", b"GET ", b" put", b"get", b"PUT,DELETE", b"GE T", b"M\x00"]),
    st.sampled_from([b"X" * 10_000, "P\u00dcT".encode(), b"CONNECT", b"TRACE", b"PATCH"]),
    odd_text,
    latin1,
)
header_lists = st.one_of(
    st.none(),
    st.sampled_from(
        [b"", b",", b" , ,", b"authorization,content-type", b"x-a, x-b ,,x-c", b"x a", b"*"]
    ),
    st.lists(st.one_of(st.from_regex(TOKEN, fullmatch=True), odd_text.map(bytes.decode))).map(
        lambda names: ",".join(names).encode("utf-8")
    ),
    st.just(b"x-long," * 2_000),
    latin1,
)


# ---------------------------------------------------------------------- the app


@pytest.fixture(scope="module")
def apps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, TestClient]]:
    folder = tmp_path_factory.mktemp("bad-input")
    made = {}
    for name, cors in POLICIES.items():
        settings = Settings(
            database=f"sqlite:///{folder / name}.db", explicit=frozenset(cors), **cors
        )
        made[name] = TestClient(create_app(settings), raise_server_exceptions=False)
    for client in made.values():
        client.__enter__()
    yield made
    for client in made.values():
        client.__exit__(None, None, None)


def sent_tokens(raw: bytes | None) -> set[str]:
    """The items of a comma list that are tokens, lower-cased: all an echo may contain."""
    if raw is None:
        return set()
    text = raw.decode("latin-1")
    items = (item.strip(" \t") for item in text.split(","))
    return {item.lower() for item in items if TOKEN.fullmatch(item)}


def check_response(
    policy: str,
    response: HttpResponse,
    origin: bytes,
    method: bytes | None = None,
    headers: bytes | None = None,
) -> None:
    assert response.status_code < 500, response.text
    cors = {k.lower(): v for k, v in response.headers.items() if k.lower().startswith("access-")}
    for name, value in cors.items():
        assert value.isascii() and value.isprintable(), (name, value)
    granted = cors.get("access-control-allow-origin")
    meant = normalised(origin)
    if policy == "any":
        if granted is not None:
            assert granted == "*"
            assert meant is not None or origin == b"null", origin
    elif granted is not None:
        assert meant in POLICIES[policy]["cors_origins"], origin
        assert granted == meant  # the policy's spelling, never the request's bytes
    if granted is None:
        assert cors == {}  # a refusal adds no Access-Control-* header at all
    if "access-control-allow-methods" in cors and policy != "C2":
        echoed = cors["access-control-allow-methods"]
        assert method is not None and echoed == method.decode("latin-1")
        assert TOKEN.fullmatch(echoed) and echoed != "*"
    if "access-control-allow-headers" in cors and policy != "C2":
        echoed = cors["access-control-allow-headers"]
        assert TOKEN_LIST.fullmatch(echoed), echoed
        assert set(echoed.split(",")) == sent_tokens(headers)
    # Long enough not to turn up by chance in the app's own texts; valid origins
    # and token lists may come back (normalised), anything else never.
    suspects = [
        raw.decode("latin-1")
        for raw in (origin, method, headers)
        if raw and len(raw) >= 8 and normalised(raw) is None
    ]
    suspects = [text for text in suspects if not TOKEN_LIST.fullmatch(text)]
    for name, value in response.headers.items():
        if name.lower() not in APP_TEXTS:
            for text in suspects:
                assert text not in value, (name, value)


# ---------------------------------------------------------------------- the properties

PROFILE = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.mark.parametrize("policy", list(POLICIES))
@PROFILE
@given(origin=origins, method=methods, headers=header_lists)
@example(origin=A.encode(), method=b"PUT", headers=b"authorization")
def test_preflights_with_bad_input(
    apps: dict[str, TestClient], policy: str, origin: bytes, method: bytes, headers: bytes | None
) -> None:
    asked = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers is not None:
        asked["Access-Control-Request-Headers"] = headers
    response = apps[policy].options("/Patient", headers=asked)
    assert response.status_code == 204
    check_response(policy, response, origin, method, headers)


@pytest.mark.parametrize("policy", list(POLICIES))
@PROFILE
@given(
    origin=origins,
    path=st.sampled_from(["/Patient/nobody", "/Patient?name=x", "/health/check", "/nowhere"]),
    method=st.sampled_from(["GET", "HEAD", "DELETE", "PROPFIND", "get", "X-Odd", "OPTIONS"]),
)
@example(origin=A.encode(), path="/Patient/nobody", method="GET")
def test_actual_requests_with_bad_origins(
    apps: dict[str, TestClient], policy: str, origin: bytes, path: str, method: str
) -> None:
    response = apps[policy].request(method, path, headers={"Origin": origin})
    check_response(policy, response, origin)


@pytest.mark.parametrize("origin", NASTY_ORIGINS, ids=lambda o: repr(o[:40]))
def test_several_origin_headers_are_refused(apps: dict[str, TestClient], origin: bytes) -> None:
    # Two Origin headers read as a list of origins: refused, even when both are allowed.
    client = apps["C2"]
    for pair in ([A.encode(), B.encode()], [A.encode(), origin], [origin, A.encode()]):
        response = client.get("/Patient/nobody", headers=[("Origin", o) for o in pair])
        assert response.status_code == 404
        assert "access-control-allow-origin" not in response.headers


def test_the_oracles_grant_what_they_should(apps: dict[str, TestClient]) -> None:
    """The checks above only bite if good input is granted: pin that too."""
    for client, origin, granted in (
        (apps["C2"], b"https://a.example", A),
        (apps["C2"], b"HTTPS://B.EXAMPLE:443", B),
        (apps["echo"], b"https://a.example", A),
        (apps["any"], b"null", "*"),
        (apps["any"], b"http://x.example:8080", "*"),
    ):
        asked = {"Origin": origin, "Access-Control-Request-Method": b"PUT"}
        response = client.options("/Patient", headers=asked)
        assert response.headers["access-control-allow-origin"] == granted
        check_response(
            {apps["C2"]: "C2", apps["echo"]: "echo", apps["any"]: "any"}[client],
            response,
            origin,
            b"PUT",
        )
