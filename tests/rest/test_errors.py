"""The error shape, pinned: what every client parsing our errors relies on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from firehouse.app import create_app
from firehouse.settings import Settings


def test_a_404_is_exactly_this_operation_outcome(client: TestClient) -> None:
    response = client.get("/Patient/nobody")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/fhir+json; fhirVersion=4.0"
    assert response.json() == {
        "resourceType": "OperationOutcome",
        "issue": [
            {"severity": "error", "code": "not-found", "diagnostics": "Patient/nobody is not known"}
        ],
    }


def test_validation_issues_carry_their_fhirpath(client: TestClient) -> None:
    response = client.post(
        "/Patient",
        json={"resourceType": "Patient", "birthDate": "1974-13-45", "colour": "blue"},
        headers={"Content-Type": "application/fhir+json"},
    )
    assert response.status_code == 400
    issues = response.json()["issue"]
    assert {tuple(i["expression"]) for i in issues} == {("Patient.birthDate",), ("Patient.colour",)}
    assert all(i["severity"] == "error" and i["diagnostics"] for i in issues)


@pytest.fixture
def small_client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(database=f"sqlite:///{tmp_path / 'small.db'}", max_body_size=1000)
    with TestClient(create_app(settings)) as client:
        yield client


def test_a_body_over_the_limit_is_413_without_being_read(small_client: TestClient) -> None:
    big = b'{"resourceType":"Patient","name":[{"text":"' + b"x" * 5000 + b'"}]}'
    response = small_client.post(
        "/Patient", content=big, headers={"Content-Type": "application/fhir+json"}
    )
    assert response.status_code == 413
    assert response.json()["issue"][0]["code"] == "too-costly"

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit applies while streaming
        for _ in range(10):
            yield b" " * 500

    streamed = small_client.post(
        "/Patient", content=chunks(), headers={"Content-Type": "application/fhir+json"}
    )
    assert streamed.status_code == 413
    assert small_client.get("/_history").json().get("entry") is None


def test_every_request_gets_a_request_id(client: TestClient) -> None:
    assert len(client.get("/metadata").headers["x-request-id"]) == 32
    assert (
        client.get("/metadata", headers={"X-Request-Id": "abc-123"}).headers["x-request-id"]
        == "abc-123"
    )
    hostile = client.get("/metadata", headers={"X-Request-Id": "a b\tc"}).headers["x-request-id"]
    assert hostile != "a b\tc"


def test_a_write_that_cannot_get_the_lock_is_a_retryable_503(tmp_path: Path) -> None:
    import sqlite3

    from firehouse.storage.sqlite import SqliteStorage

    path = tmp_path / "busy.db"
    storage = SqliteStorage(f"sqlite:///{path}", busy_timeout_ms=200)
    with TestClient(create_app(Settings(database=f"sqlite:///{path}"), storage=storage)) as client:
        other_writer = sqlite3.connect(path, isolation_level=None)
        other_writer.execute("BEGIN IMMEDIATE")  # a long transaction elsewhere holds the lock
        try:
            response = client.put(
                "/Patient/p",
                json={"resourceType": "Patient", "id": "p"},
                headers={"Content-Type": "application/fhir+json"},
            )
        finally:
            other_writer.execute("ROLLBACK")
            other_writer.close()
        assert response.status_code == 503
        assert response.headers["retry-after"] == "1"
        assert response.json()["issue"][0]["code"] == "transient"
        assert client.get("/Patient/p").status_code == 404
        retried = client.put(
            "/Patient/p",
            json={"resourceType": "Patient", "id": "p"},
            headers={"Content-Type": "application/fhir+json"},
        )
        assert retried.status_code == 201
