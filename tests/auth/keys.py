"""Keys and tokens made by the tests themselves (joserfc), never fetched."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, RSAKey

ISSUER = "https://idp.test/realms/firehouse"
AUDIENCE = "https://fhir.test"


def rsa_key(kid: str) -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": kid, "alg": "RS256"}, private=True)


def ec_key(kid: str) -> ECKey:
    return ECKey.generate_key("P-256", parameters={"kid": kid, "alg": "ES256"}, private=True)


def jwks(*keys: RSAKey | ECKey) -> dict[str, Any]:
    return dict(KeySet(list(keys)).as_dict(private=False))


def write_jwks(path: Path, *keys: RSAKey | ECKey) -> Path:
    path.write_text(json.dumps(jwks(*keys)))
    return path


def claims(scope: str, *, patient: str | None = None, **extra: Any) -> dict[str, Any]:
    now = int(time.time())
    made: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "user-1",
        "client_id": "app-1",
        "scope": scope,
        "iat": now,
        "exp": now + 300,
    }
    if patient is not None:
        made["patient"] = patient
    made.update(extra)
    return made


def sign(key: RSAKey | ECKey, payload: dict[str, Any], alg: str | None = None) -> str:
    alg = alg or ("ES256" if isinstance(key, ECKey) else "RS256")
    return jwt.encode({"alg": alg, "kid": key.kid}, payload, key)
