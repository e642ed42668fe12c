from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from firehouse.settings import Settings


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'firehouse.db'}"


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database=database_url)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    from firehouse.app import create_app

    with TestClient(create_app(settings), base_url="http://fhir.test") as test_client:
        yield test_client


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Debian Chromium for the whole run (playwright allows one sync driver)."""
    from tests.support.browser import chromium

    with chromium() as launched:
        yield launched
