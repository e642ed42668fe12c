from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from firehouse.app import create_app
from firehouse.settings import Settings

TOKEN = "correct horse battery staple"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def admin_settings(tmp_path: Path) -> Settings:
    return Settings(database=f"sqlite:///{tmp_path / 'admin.db'}", admin_token=TOKEN)


@pytest.fixture
def admin(admin_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(admin_settings), base_url="http://fhir.test") as client:
        yield client
