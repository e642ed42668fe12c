"""history (instance, type, system), the basic type search, metadata and health."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from starlette.testclient import TestClient

FHIR = {"Content-Type": "application/fhir+json"}


def _follow(client: TestClient, url: str) -> list[dict]:
    entries: list[dict] = []
    pages = 0
    while url:
        bundle = client.get(url).json()
        pages += 1
        entries.extend(bundle.get("entry", []))
        url = next((link["url"] for link in bundle["link"] if link["relation"] == "next"), "")
        if url:
            parts = urlsplit(url)
            url = f"{parts.path}?{parts.query}"
    assert pages < 100
    return entries


def test_history_pages_cover_every_version_once(client: TestClient) -> None:
    ids = [
        client.post("/Patient", json={"resourceType": "Patient"}, headers=FHIR).json()["id"]
        for _ in range(5)
    ]
    for id in ids[:3]:
        client.put(
            f"/Patient/{id}",
            json={"resourceType": "Patient", "id": id, "active": True},
            headers=FHIR,
        )
    client.post(
        "/Observation",
        json={"resourceType": "Observation", "status": "final", "code": {"text": "x"}},
        headers=FHIR,
    )
    system = _follow(client, "/_history?_count=3")
    assert len(system) == 9
    assert len({(e["fullUrl"], e["response"]["etag"]) for e in system}) == 9
    patients = _follow(client, "/Patient/_history?_count=2")
    assert len(patients) == 8 and all("/Patient/" in e["fullUrl"] for e in patients)
    one = client.get(f"/Patient/{ids[0]}/_history").json()
    assert one["type"] == "history"
    assert [e["response"]["etag"] for e in one["entry"]] == ['W/"2"', 'W/"1"']
    assert [e["request"]["method"] for e in one["entry"]] == ["PUT", "POST"]
    assert client.get("/Patient/nobody/_history").status_code == 404


def test_history_since(client: TestClient) -> None:
    client.post("/Patient", json={"resourceType": "Patient"}, headers=FHIR)
    later = client.post("/Patient", json={"resourceType": "Patient"}, headers=FHIR).json()
    since = later["meta"]["lastUpdated"]
    entries = client.get(f"/_history?_since={since}").json()["entry"]
    assert [e["resource"]["id"] for e in entries] == [later["id"]]
    assert client.get("/_history?_since=yesterday").status_code == 400
    assert client.get("/_history?_since=2024-01-01T00:00:00").status_code == 400


def test_type_search_lists_current_resources_and_pages(client: TestClient) -> None:
    ids = [
        client.post("/Patient", json={"resourceType": "Patient"}, headers=FHIR).json()["id"]
        for _ in range(5)
    ]
    client.delete(f"/Patient/{ids[0]}")
    found = _follow(client, "/Patient?_count=2")
    assert sorted(e["resource"]["id"] for e in found) == sorted(ids[1:])
    assert all(e["search"]["mode"] == "match" for e in found)
    by_id = client.get(f"/Patient?_id={ids[1]},{ids[2]}").json()
    assert sorted(e["resource"]["id"] for e in by_id["entry"]) == sorted(ids[1:3])


def test_unknown_search_parameters_lenient_and_strict(client: TestClient) -> None:
    client.post("/Patient", json={"resourceType": "Patient"}, headers=FHIR)
    lenient = client.get("/Patient?colour=blue").json()
    self_link = next(link["url"] for link in lenient["link"] if link["relation"] == "self")
    assert "colour" not in self_link
    strict = client.get("/Patient?colour=blue", headers={"Prefer": "handling=strict"})
    assert strict.status_code == 400 and "colour" in strict.text
    assert client.get("/Patient?_count=lots").status_code == 400


def test_metadata_describes_what_is_implemented(client: TestClient) -> None:
    statement = client.get("/metadata").json()
    assert statement["resourceType"] == "CapabilityStatement"
    assert statement["fhirVersion"] == "4.0.1"
    assert statement["kind"] == "instance"
    rest = statement["rest"][0]
    types = {r["type"] for r in rest["resource"]}
    assert {"Patient", "Observation", "Bundle", "ExplanationOfBenefit"} <= types
    assert len(types) == 146 and "SubscriptionStatus" not in types  # R4 4.0.1, not 4.3
    patient = next(r for r in rest["resource"] if r["type"] == "Patient")
    codes = {i["code"] for i in patient["interaction"]}
    assert codes == {
        "read",
        "vread",
        "update",
        "patch",
        "delete",
        "history-instance",
        "history-type",
        "create",
        "search-type",
    }
    assert rest["security"]["cors"] is False


def test_health_check(client: TestClient) -> None:
    response = client.get("/health/check")
    assert response.status_code == 200 and response.json()["database"] == "ok"


def test_health_check_is_503_when_the_database_is_gone(
    client: TestClient, database_url: str
) -> None:
    path = Path(database_url.removeprefix("sqlite:///"))
    for suffix in ("", "-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    response = client.get("/health/check")
    assert response.status_code == 503
    assert response.json()["database"] == "not answering"
