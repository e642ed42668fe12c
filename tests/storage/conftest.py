from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from firehouse.storage import open_storage
from firehouse.storage.base import Storage

BACKENDS = ["sqlite"]


@pytest.fixture(params=BACKENDS)
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    store = open_storage(f"sqlite:///{tmp_path / 'contract.db'}")
    store.migrate()
    yield store
    store.close()
