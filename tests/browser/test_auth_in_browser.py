"""SMART bearer tokens and CORS together, in real Chromium (issue 7, ``shared/spec/cors.md``).

A page on an allowed origin calls a ``--auth smart`` Firehouse with an
``Authorization`` header (a preflighted request: the preflight needs no
token), with and without ``credentials: "include"``, and succeeds; it reads a
401's and a 403's OperationOutcome from script, because error responses carry
the CORS headers too; a refused origin's call fails in the browser.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from firehouse.auth.devkeys import mint
from firehouse.settings import Settings
from tests.browser.conftest import call
from tests.browser.servers import StaticSite
from tests.support.server import ServerProcess, start_server

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def smart_fhir(
    tmp_path_factory: pytest.TempPathFactory, site_a: StaticSite
) -> Iterator[tuple[ServerProcess, Settings]]:
    folder = tmp_path_factory.mktemp("browser-smart")
    server = start_server(
        folder / "smart.db",
        "--auth",
        "smart",
        "--auth-key-dir",
        str(folder),
        "--cors-origins",
        site_a.origin,
        "--cors-methods",
        "GET,POST",
        "--cors-headers",
        "authorization,content-type",
        "--cors-allow-credentials",
    )
    # Tokens minted with the same local key the server trusts.
    settings = replace(Settings(), auth_key_dir=str(folder))
    try:
        yield server, settings
    finally:
        server.stop()


def bearer(settings: Settings, scope: str, patient: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint(settings, scope.split(), patient=patient)}"}


@pytest.mark.parametrize("credentials", ["same-origin", "include"])
def test_allowed_origin_with_a_token_succeeds(
    page_a: Any, smart_fhir: tuple[ServerProcess, Settings], credentials: str
) -> None:
    server, settings = smart_fhir
    init = {"headers": bearer(settings, "user/*.rs"), "credentials": credentials}
    result = call(page_a, f"{server.url}/Patient", init)
    assert result.get("status") == 200, result
    assert result["body"]["resourceType"] == "Bundle"


def test_allowed_origin_reads_the_401_and_403_outcomes(
    page_a: Any, smart_fhir: tuple[ServerProcess, Settings]
) -> None:
    server, settings = smart_fhir
    missing = call(page_a, f"{server.url}/Patient")
    assert missing.get("status") == 401, missing
    assert missing["body"]["resourceType"] == "OperationOutcome"
    assert missing["body"]["issue"][0]["code"] == "login"
    bad = call(page_a, f"{server.url}/Patient", {"headers": {"Authorization": "Bearer a.b.c"}})
    assert bad.get("status") == 401, bad
    assert bad["body"]["resourceType"] == "OperationOutcome"
    narrow = {"headers": bearer(settings, "user/Observation.rs"), "credentials": "include"}
    refused = call(page_a, f"{server.url}/Patient", narrow)
    assert refused.get("status") == 403, refused
    assert refused["body"]["issue"][0]["code"] == "forbidden"


def test_discovery_is_readable_without_a_token(
    page_a: Any, smart_fhir: tuple[ServerProcess, Settings]
) -> None:
    server, _ = smart_fhir
    result = call(page_a, f"{server.url}/.well-known/smart-configuration")
    assert result.get("status") == 200, result
    assert "launch-standalone" in result["body"]["capabilities"]


def test_refused_origin_fails_even_with_a_good_token(
    page_b: Any, smart_fhir: tuple[ServerProcess, Settings]
) -> None:
    server, settings = smart_fhir
    result = call(page_b, f"{server.url}/Patient", {"headers": bearer(settings, "user/*.rs")})
    assert result.get("error") == "TypeError" and "status" not in result, result


def test_server_key_folder_is_the_one_given(smart_fhir: tuple[ServerProcess, Settings]) -> None:
    _, settings = smart_fhir
    assert (Path(settings.auth_key_dir) / "firehouse-dev-key.json").exists()
