"""Discovery, public endpoints, the separate admin token, the audit log, ``auth dev-token``.

SMART discovery: https://hl7.org/fhir/smart-app-launch/conformance.html;
audit: https://hl7.org/fhir/R4/security.html#audit.
"""

from __future__ import annotations

import json
import logging
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from firehouse.app import create_app
from firehouse.auth.cli import auth
from firehouse.auth.discovery import CARIN_BB_CAPABILITIES, OAUTH_URIS
from firehouse.settings import Settings
from tests.auth.conftest import FHIR, Token

# CARIN Blue Button, "Authorization, Authentication, and Registration".
CARIN = {
    "launch-standalone",
    "authorize-post",
    "client-public",
    "client-confidential-symmetric",
    "context-standalone-patient",
    "sso-openid-connect",
    "permission-offline",
    "permission-patient",
}


def test_smart_configuration_is_public(smart_client: TestClient) -> None:
    response = smart_client.get("/.well-known/smart-configuration")
    assert response.status_code == 200
    document = response.json()
    assert document["issuer"] == "https://idp.test/realms/firehouse"
    assert document["authorization_endpoint"] == "https://idp.test/authorize"
    assert document["token_endpoint"] == "https://idp.test/token"
    assert "code" in document["response_types_supported"]
    assert {"launch/patient", "patient/*.read", "patient/*.rs"} <= set(document["scopes_supported"])
    assert set(CARIN_BB_CAPABILITIES) == CARIN
    assert set(document["capabilities"]) >= CARIN


def test_metadata_and_health_are_public_and_declare_smart(smart_client: TestClient) -> None:
    assert smart_client.get("/health/check").status_code == 200
    response = smart_client.get("/metadata")
    assert response.status_code == 200
    security = response.json()["rest"][0]["security"]
    assert security["service"][0]["coding"][0]["code"] == "SMART-on-FHIR"
    (extension,) = security["extension"]
    assert extension["url"] == OAUTH_URIS
    uris = {e["url"]: e["valueUri"] for e in extension["extension"]}
    assert uris == {"authorize": "https://idp.test/authorize", "token": "https://idp.test/token"}


def test_without_auth_there_is_no_discovery_and_a_loud_warning(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="firehouse.auth"):
        app = create_app(settings)
    assert any("AUTHENTICATION IS OFF" in r.getMessage() for r in caplog.records)
    with TestClient(app) as client:
        assert client.get("/.well-known/smart-configuration").status_code == 404
        assert "service" not in client.get("/metadata").json()["rest"][0]["security"]
        assert client.get("/Patient").status_code == 200


def test_a_fhir_token_never_opens_the_admin_plane(smart_client: TestClient, token: Token) -> None:
    fhir = token("user/*.cruds system/*.cruds")
    assert smart_client.get("/admin/cors", headers=fhir).status_code == 401
    assert smart_client.put("/admin/cors", json={"origins": []}, headers=fhir).status_code in (
        401,
        403,
    )
    admin = {"Authorization": "Bearer admin-secret"}
    assert smart_client.get("/admin/cors", headers=admin).status_code == 200
    # ...and the admin token is no FHIR token.
    assert smart_client.get("/Patient", headers=admin).status_code == 401


def test_every_data_request_is_audited_without_content(
    smart_client: TestClient, token: Token, caplog: pytest.LogCaptureFixture
) -> None:
    writer = {**token("launch/patient patient/*.cruds", patient="p1"), **FHIR}
    secret = "Very-Private-Family-Name"
    patient = {"resourceType": "Patient", "id": "p1", "name": [{"family": secret}]}
    with caplog.at_level(logging.INFO, logger="firehouse.audit"):
        assert smart_client.put("/Patient/p1", json=patient, headers=writer).status_code == 201
        assert smart_client.get("/Patient/p1", headers=writer).status_code == 200
        assert smart_client.get(f"/Patient?name={secret}", headers=writer).status_code == 200
        assert smart_client.get("/Patient/p2", headers=writer).status_code in (403, 404)
        assert smart_client.get("/Patient").status_code == 401
        smart_client.get("/metadata")
    records = [json.loads(r.getMessage()) for r in caplog.records if r.name == "firehouse.audit"]
    assert [(r["interaction"], r["resource_type"], r["id"], r["status"]) for r in records] == [
        ("update", "Patient", "p1", 201),
        ("read", "Patient", "p1", 200),
        ("search-type", "Patient", None, 200),
        ("read", "Patient", "p2", records[3]["status"]),
        ("search-type", "Patient", None, 401),
    ]
    first = records[0]
    assert first["client_id"] == "app-1" and first["subject"] == "user-1"
    assert first["patient"] == "p1" and first["outcome"] == "success"
    assert first["time"].endswith("Z")
    assert records[4]["client_id"] is None and records[4]["outcome"] == "failure"
    assert all(secret not in r.getMessage() for r in caplog.records)


def test_dev_token_round_trip(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'dev.db'}"
    runner = CliRunner()
    result = runner.invoke(
        auth,
        [
            "dev-token",
            "--scope",
            "launch/patient patient/*.read",
            "--patient",
            "p1",
            "--database",
            database,
        ],
    )
    assert result.exit_code == 0, result.output
    token = result.stdout.strip().splitlines()[0]
    key_file = tmp_path / "firehouse-dev-key.json"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600

    settings = Settings(database=database, auth="smart")
    with TestClient(create_app(settings)) as client:
        headers = {"Authorization": f"Bearer {token}"}
        assert client.get("/Patient", headers=headers).status_code == 200
        assert client.get("/Patient").status_code == 401
        assert client.get("/Patient/p2", headers=headers).status_code in (403, 404)
        # The local key signs nothing but what dev-token mints: a write is out of scope.
        assert client.post("/Patient", json={}, headers={**headers, **FHIR}).status_code == 403


def test_dev_token_key_folder_and_expiry(tmp_path: Path) -> None:
    folder = tmp_path / "keys"
    result = CliRunner().invoke(
        auth,
        [
            "dev-token",
            "--scope",
            "user/*.rs",
            "--expires",
            "1",
            "--auth-key-dir",
            str(folder),
        ],
    )
    assert result.exit_code == 0, result.output
    assert (folder / "firehouse-dev-key.json").exists()


def test_batch_entries_are_audited_one_by_one(
    smart_client: TestClient, token: Token, caplog: pytest.LogCaptureFixture
) -> None:
    headers = {**token("user/Patient.cruds"), **FHIR}
    bundle = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            {
                "request": {"method": "PUT", "url": "Patient/a"},
                "resource": {"resourceType": "Patient", "id": "a"},
            },
            {"request": {"method": "GET", "url": "Observation?code=secret-value"}},
            "not an entry",
        ],
    }
    with caplog.at_level(logging.INFO, logger="firehouse.audit"):
        assert smart_client.post("/", json=bundle, headers=headers).status_code == 200
    records = [json.loads(r.getMessage()) for r in caplog.records if r.name == "firehouse.audit"]
    summary = [(r["interaction"], r["resource_type"], r["id"], r["status"]) for r in records]
    assert summary == [
        ("batch-entry:PUT", "Patient", "a", 201),
        ("batch-entry:GET", "Observation", None, 403),
        ("batch-entry:?", None, None, 400),
        ("batch", None, None, 200),
    ]
    assert all("secret-value" not in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    "overrides",
    [{"auth_jwks": "/nowhere/jwks.json"}, {"auth_algorithms": ("HS256",)}],
    ids=["jwks-without-issuer", "hmac-algorithm"],
)
def test_serve_refuses_bad_auth_settings_before_starting(
    database_url: str, overrides: dict[str, object], capsys: pytest.CaptureFixture[str]
) -> None:
    from firehouse.server import run

    settings = Settings(database=database_url, auth="smart", **overrides)  # type: ignore[arg-type]
    assert run(settings) == 2
    assert "auth settings are invalid" in capsys.readouterr().err
