from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from joserfc.jwk import RSAKey
from starlette.testclient import TestClient

from firehouse.app import create_app
from firehouse.settings import Settings
from tests.auth.keys import AUDIENCE, ISSUER, claims, rsa_key, sign, write_jwks

FHIR = {"Content-Type": "application/fhir+json"}


@pytest.fixture(scope="session")
def signing_key() -> RSAKey:
    return rsa_key("key-1")


@pytest.fixture
def jwks_file(tmp_path: Path, signing_key: RSAKey) -> Path:
    return write_jwks(tmp_path / "jwks.json", signing_key)


@pytest.fixture
def smart_settings(database_url: str, jwks_file: Path) -> Settings:
    return Settings(
        database=database_url,
        auth="smart",
        auth_issuer=ISSUER,
        auth_audience=AUDIENCE,
        auth_jwks=str(jwks_file),
        auth_authorize_url="https://idp.test/authorize",
        auth_token_url="https://idp.test/token",
        admin_token="admin-secret",
    )


@pytest.fixture
def smart_client(smart_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(smart_settings), base_url="http://fhir.test") as client:
        yield client


Token = Callable[..., dict[str, str]]


@pytest.fixture
def token(signing_key: RSAKey) -> Token:
    """Authorization headers for a token with ``scope`` (and ``patient``)."""

    def make(scope: str, patient: str | None = None, **extra: Any) -> dict[str, str]:
        raw = sign(signing_key, claims(scope, patient=patient, **extra))
        return {"Authorization": f"Bearer {raw}"}

    return make
