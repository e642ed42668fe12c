from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from starlette.testclient import TestClient

from firehouse.settings import Settings

FHIR = {"Content-Type": "application/fhir+json"}


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    from firehouse.app import create_app

    path = tmp_path_factory.mktemp("search") / "search.db"
    app = create_app(Settings(database=f"sqlite:///{path}"))
    with TestClient(app, base_url="http://fhir.test") as client:
        client.database_url = f"sqlite:///{path}"  # type: ignore[attr-defined]
        yield client


def put(client: TestClient, resource: dict[str, Any]) -> None:
    url = f"/{resource['resourceType']}/{resource['id']}"
    response = client.put(url, json=resource, headers=FHIR)
    assert response.status_code in (200, 201), response.text


def follow(client: TestClient, url: str, limit: int = 200) -> list[dict[str, Any]]:
    """Every entry of every page, following ``next``."""
    entries: list[dict[str, Any]] = []
    for _ in range(limit):
        response = client.get(url)
        assert response.status_code == 200, response.text
        bundle = response.json()
        entries.extend(bundle.get("entry", []))
        url = next((link["url"] for link in bundle["link"] if link["relation"] == "next"), "")
        if not url:
            return entries
        parts = urlsplit(url)
        url = f"{parts.path}?{parts.query}"
    raise AssertionError("too many pages")


def ids(client: TestClient, url: str) -> set[str]:
    return {e["resource"]["id"] for e in follow(client, url) if e["search"]["mode"] == "match"}
