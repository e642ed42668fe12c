"""The compartment check runs inside the write transaction, whatever door the write came in by.

The REST gate also checks the stored resource before an instance-level write,
but a resource can move to another patient between that check and the write;
the storage's write check sees the version it is about to replace, under the
write lock (firehouse.auth.guard.compartment_write_check).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from firehouse.app import create_app
from firehouse.auth.policy import CURRENT, Access
from firehouse.auth.tokens import TokenClaims
from firehouse.errors import Category, FhirError
from firehouse.fhir.service import ResourceService
from firehouse.settings import Settings
from firehouse.storage import open_storage
from firehouse.storage.base import Storage


def _obs(id: str, patient: str) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": id,
        "status": "final",
        "code": {"text": "x"},
        "subject": {"reference": f"Patient/{patient}"},
    }


@pytest.fixture
def storage(tmp_path: Path) -> Iterator[Storage]:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    store = open_storage(url)
    create_app(Settings(database=url), storage=store)  # wires the indexer and the write check
    service = ResourceService(store)
    service.update("Observation", "mine", _obs("mine", "p1"))
    service.update("Observation", "theirs", _obs("theirs", "p2"))
    yield store
    store.close()


@pytest.fixture
def as_patient_p1() -> Iterator[None]:
    claims = TokenClaims("user-1", "app", ("launch/patient", "patient/*.cruds"), "p1", None)
    token = CURRENT.set(Access.of(claims))
    yield
    CURRENT.reset(token)


def test_overwriting_another_patients_resource_is_refused_in_the_transaction(
    storage: Storage, as_patient_p1: None
) -> None:
    service = ResourceService(storage)
    with pytest.raises(FhirError) as refused:
        service.update("Observation", "theirs", _obs("theirs", "p1"))  # would move it to p1
    assert refused.value.category is Category.FORBIDDEN
    with pytest.raises(FhirError):
        service.delete("Observation", "theirs")
    service.update("Observation", "mine", {**_obs("mine", "p1"), "status": "amended"})
    CURRENT.set(None)
    stored = storage.read("Observation", "theirs")
    assert stored is not None and stored.version == 1 and not stored.deleted


def test_writing_into_another_compartment_is_refused(storage: Storage, as_patient_p1: None) -> None:
    with pytest.raises(FhirError):
        ResourceService(storage).create("Observation", _obs("new", "p2"))
