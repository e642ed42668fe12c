"""A local signing key for trying ``--auth smart`` without an identity provider.

``firehouse auth dev-token`` mints SMART access tokens
(https://hl7.org/fhir/smart-app-launch/app-launch.html#response-5) signed with
a key pair created on first use and kept (mode 0600) in the key folder: the
``auth_key_dir`` setting, or the folder of the SQLite database.
``firehouse serve --auth smart`` without ``--auth-jwks`` verifies with that
key's public half. For development only: anyone who can read the file can
mint any token.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

from joserfc import jwt
from joserfc.jwk import ECKey

from firehouse.settings import Settings

KEY_FILE = "firehouse-dev-key.json"
DEV_ISSUER = "urn:firehouse:dev"
DEV_AUDIENCE = "urn:firehouse:dev:fhir"
ALGORITHM = "ES256"


def key_dir(settings: Settings) -> Path:
    if settings.auth_key_dir:
        return Path(settings.auth_key_dir)
    if settings.database.startswith("sqlite:///"):
        return Path(settings.database[len("sqlite:///") :]).expanduser().resolve().parent
    return Path.home() / ".firehouse"


def issuer_and_audience(settings: Settings) -> tuple[str, str]:
    """What dev tokens say, and what the server expects of them."""
    return settings.auth_issuer or DEV_ISSUER, settings.auth_audience or DEV_AUDIENCE


def load_or_create_key(folder: Path) -> ECKey:
    path = folder / KEY_FILE
    if path.exists():
        return ECKey.import_key(json.loads(path.read_text()))
    folder.mkdir(parents=True, exist_ok=True)
    key = ECKey.generate_key(
        "P-256",
        parameters={"kid": uuid.uuid4().hex[:16], "alg": ALGORITHM, "use": "sig"},
        private=True,
    )
    # Created 0600 from the start: never readable by others, not even briefly.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        # Another worker process won the race; use its key.
        time.sleep(0.2)
        return ECKey.import_key(json.loads(path.read_text()))
    with os.fdopen(fd, "w") as handle:
        json.dump(key.as_dict(private=True), handle)
    return key


def public_jwks(key: ECKey) -> dict[str, Any]:
    return {"keys": [key.as_dict(private=False)]}


def mint(
    settings: Settings,
    scopes: list[str],
    *,
    patient: str | None = None,
    subject: str = "dev-user",
    client_id: str = "firehouse-dev-token",
    expires: int = 3600,
) -> str:
    key = load_or_create_key(key_dir(settings))
    issuer, audience = issuer_and_audience(settings)
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "sub": subject,
        "client_id": client_id,
        "scope": " ".join(scopes),
        "iat": now,
        "nbf": now,
        "exp": now + expires,
        "jti": uuid.uuid4().hex,
    }
    if patient:
        claims["patient"] = patient
    return jwt.encode({"alg": ALGORITHM, "kid": key.kid, "typ": "JWT"}, claims, key)
