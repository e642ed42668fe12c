"""Bearer token validation: the refused-token table, through the real app, and the JWKS cache.

SMART App Launch access tokens (https://hl7.org/fhir/smart-app-launch/app-launch.html#access-token),
RFC 6750 section 3 (``WWW-Authenticate``), RFC 8725 (JWT best practices: algorithm allow-list).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from joserfc.jwk import RSAKey
from starlette.testclient import TestClient

from firehouse.auth.jwks import JwksCache, JwksError, read_jwks
from firehouse.auth.tokens import TokenValidator
from firehouse.errors import FhirError
from tests.auth.keys import AUDIENCE, ISSUER, claims, ec_key, jwks, rsa_key, sign


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64json(value: Any) -> str:
    return b64(json.dumps(value).encode())


def _unsigned(key: RSAKey) -> str:
    return f"{b64json({'alg': 'RS256', 'kid': key.kid})}.{b64json(claims('user/*.read'))}"


def _alg_none(key: RSAKey) -> str:
    return f"{b64json({'alg': 'none', 'kid': key.kid})}.{b64json(claims('user/*.read'))}."


def _wrong_key(key: RSAKey) -> str:
    return sign(rsa_key(str(key.kid)), claims("user/*.read"))  # same kid, other key


def _unknown_kid(_: RSAKey) -> str:
    return sign(rsa_key("never-published"), claims("user/*.read"))


def _expired(key: RSAKey) -> str:
    now = int(time.time())
    return sign(key, claims("user/*.read", exp=now - 3600, iat=now - 7200))


def _not_yet_valid(key: RSAKey) -> str:
    return sign(key, claims("user/*.read", nbf=int(time.time()) + 3600))


def _wrong_issuer(key: RSAKey) -> str:
    return sign(key, claims("user/*.read", iss="https://evil.test"))


def _wrong_audience(key: RSAKey) -> str:
    return sign(key, claims("user/*.read", aud="https://other-fhir.test"))


def _no_expiry(key: RSAKey) -> str:
    payload = claims("user/*.read")
    del payload["exp"]
    return sign(key, payload)


def _tampered(key: RSAKey) -> str:
    header, _, signature = sign(key, claims("patient/*.read", patient="p1")).split(".")
    forged = b64json(claims("user/*.cruds"))  # escalate, keep the old signature
    return f"{header}.{forged}.{signature}"


def _hmac_with_public_key(key: RSAKey) -> str:
    # The classic algorithm-confusion attack: HS256 keyed with the public key.
    public_pem = key.as_pem(private=False)
    signing_input = f"{b64json({'alg': 'HS256', 'kid': key.kid})}.{b64json(claims('user/*.cruds'))}"
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"


def _garbage(_: RSAKey) -> str:
    return "not-a-jwt"


REFUSED: dict[str, Callable[[RSAKey], str]] = {
    "unsigned": _unsigned,
    "alg none": _alg_none,
    "wrong key": _wrong_key,
    "unknown kid": _unknown_kid,
    "expired": _expired,
    "not yet valid": _not_yet_valid,
    "wrong issuer": _wrong_issuer,
    "wrong audience": _wrong_audience,
    "no exp": _no_expiry,
    "tampered payload": _tampered,
    "HMAC with the public key": _hmac_with_public_key,
    "garbage": _garbage,
}


def assert_401(response: Any) -> None:
    assert response.status_code == 401, response.text
    challenge = response.headers["www-authenticate"]
    expected = 'Bearer realm="firehouse", error="invalid_token", error_description="'
    assert challenge.startswith(expected)
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["code"] == "login"


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_refused_tokens(case: str, smart_client: TestClient, signing_key: RSAKey) -> None:
    raw = REFUSED[case](signing_key)
    assert_401(smart_client.get("/Patient", headers={"Authorization": f"Bearer {raw}"}))


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Bearer "}],
    ids=["missing", "basic", "empty bearer"],
)
def test_missing_or_malformed_authorization(
    smart_client: TestClient, headers: dict[str, str]
) -> None:
    assert_401(smart_client.get("/Patient", headers=headers))
    bundle = {"resourceType": "Bundle", "type": "batch"}
    assert_401(smart_client.post("/", json=bundle, headers=headers))


def test_a_good_token_passes(smart_client: TestClient, signing_key: RSAKey) -> None:
    raw = sign(signing_key, claims("user/*.read"))
    response = smart_client.get("/Patient", headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == 200, response.text


def test_an_ec_key_in_the_jwks_works(tmp_path: Any) -> None:
    key = ec_key("ec-1")
    cache = JwksCache("mem", loader=lambda _: jwks(key))
    validator = TokenValidator(cache, issuer=ISSUER, audience=AUDIENCE)
    assert validator.validate(sign(key, claims("user/*.rs"))).scopes == ("user/*.rs",)


def test_small_clock_skew_is_tolerated() -> None:
    key = rsa_key("k")
    validator = TokenValidator(
        JwksCache("mem", loader=lambda _: jwks(key)), issuer=ISSUER, audience=AUDIENCE, leeway=30
    )
    now = int(time.time())
    validator.validate(sign(key, claims("user/*.rs", exp=now - 10)))
    validator.validate(sign(key, claims("user/*.rs", nbf=now + 10)))
    with pytest.raises(FhirError):
        validator.validate(sign(key, claims("user/*.rs", exp=now - 60)))


def test_unsafe_algorithms_cannot_even_be_configured() -> None:
    cache = JwksCache("mem", loader=lambda _: {"keys": []})
    for alg in ("none", "HS256"):
        with pytest.raises(ValueError):
            TokenValidator(cache, issuer=ISSUER, audience=AUDIENCE, algorithms=(alg,))


def test_symmetric_and_private_members_are_dropped_from_a_jwks(tmp_path: Any) -> None:
    key = rsa_key("k")
    data = {"keys": [key.as_dict(private=True), {"kty": "oct", "k": "c2VjcmV0", "kid": "h"}]}
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(data))
    loaded = read_jwks(str(path))
    assert [k["kid"] for k in loaded["keys"]] == ["k"]
    assert "d" not in loaded["keys"][0]


# -- rotation and the JWKS URL ---------------------------------------------------------


class _Jwks:
    """A JWKS served over HTTP on 127.0.0.1, changeable, counting fetches."""

    def __init__(self) -> None:
        self.document: dict[str, Any] = {"keys": []}
        self.fetches = 0


@pytest.fixture
def served() -> Iterator[tuple[_Jwks, str]]:
    state = _Jwks()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.fetches += 1
            body = json.dumps(state.document).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_port}/jwks.json"
    finally:
        server.shutdown()
        server.server_close()


def test_jwks_url_key_rotation_and_rate_limited_refresh(served: tuple[_Jwks, str]) -> None:
    state, url = served
    old, new = rsa_key("old"), rsa_key("new")
    state.document = jwks(old)
    now = [1000.0]
    cache = JwksCache(url, min_refresh=30, clock=lambda: now[0])
    validator = TokenValidator(cache, issuer=ISSUER, audience=AUDIENCE)

    validator.validate(sign(old, claims("user/*.rs")))
    assert state.fetches == 1
    validator.validate(sign(old, claims("user/*.rs")))
    assert state.fetches == 1  # cached

    # The IdP rotates: a token with the new kid triggers one refetch...
    state.document = jwks(new)
    now[0] += 31
    validator.validate(sign(new, claims("user/*.rs")))
    assert state.fetches == 2

    # ...and made-up kids cannot make it fetch again within the interval.
    for _ in range(5):
        with pytest.raises(FhirError):
            validator.validate(sign(rsa_key("made-up"), claims("user/*.rs")))
    assert state.fetches == 2
    # The old key is gone from the IdP, so its tokens no longer pass.
    with pytest.raises(FhirError):
        validator.validate(sign(old, claims("user/*.rs")))


def test_unreachable_jwks_is_an_error_not_a_pass() -> None:
    with pytest.raises(JwksError):
        read_jwks("http://127.0.0.1:9/nothing", timeout=1)
