"""create, read, vread, update, delete through the ASGI app on a real SQLite file."""

from __future__ import annotations

import json

import pytest
from starlette.testclient import TestClient

FHIR = {"Content-Type": "application/fhir+json"}

PATIENT = b"""{"resourceType":"Patient","active":true,
"extension":[{"url":"http://example.org/weight","valueDecimal":120.00}],
"name":[{"family":"Chalmers","given":["Peter","James"]}],"birthDate":"1974-12-25"}"""


def create(client: TestClient, body: bytes = PATIENT, resource_type: str = "Patient"):
    response = client.post(f"/{resource_type}", content=body, headers=FHIR)
    assert response.status_code == 201, response.text
    return response


def test_create_assigns_id_and_meta_and_answers_with_location_and_etag(client: TestClient) -> None:
    response = create(client)
    body = response.json()
    assert body["id"] and body["meta"]["versionId"] == "1"
    assert body["meta"]["lastUpdated"].endswith("Z")
    assert response.headers["etag"] == 'W/"1"'
    assert response.headers["location"] == f"http://fhir.test/Patient/{body['id']}/_history/1"
    assert response.headers["last-modified"].endswith("GMT")
    assert response.headers["content-type"].startswith("application/fhir+json")


def test_what_the_client_sent_comes_back_exactly(client: TestClient) -> None:
    created = create(client)
    read = client.get(created.headers["location"].rsplit("/_history", 1)[0])
    # 120.00 stays 120.00 (no float round trip) and element order is the client's.
    assert b'"valueDecimal":120.00' in read.content
    keys = list(json.loads(read.content))
    assert keys == ["resourceType", "id", "meta", "active", "extension", "name", "birthDate"]


def test_create_ignores_an_id_in_the_body(client: TestClient) -> None:
    body = create(client, b'{"resourceType":"Patient","id":"chosen"}').json()
    assert body["id"] != "chosen"


def test_read_vread_and_the_404s(client: TestClient) -> None:
    id = create(client).json()["id"]
    read = client.get(f"/Patient/{id}")
    assert read.status_code == 200 and read.json()["id"] == id
    assert read.headers["content-location"].endswith(f"/Patient/{id}/_history/1")
    assert client.get(f"/Patient/{id}/_history/1").json()["meta"]["versionId"] == "1"
    missing = client.get("/Patient/does-not-exist")
    assert missing.status_code == 404
    assert missing.json()["resourceType"] == "OperationOutcome"
    assert client.get(f"/Patient/{id}/_history/9").status_code == 404
    assert client.get(f"/Patient/{id}/_history/x").status_code == 404
    unknown_type = client.get("/Patientt/1")
    assert unknown_type.status_code == 404
    assert "Unknown resource type 'Patientt'" in unknown_type.text


def test_update_makes_a_new_version_and_keeps_the_old(client: TestClient) -> None:
    id = create(client).json()["id"]
    body = {"resourceType": "Patient", "id": id, "active": False}
    response = client.put(f"/Patient/{id}", json=body, headers=FHIR)
    assert response.status_code == 200
    assert response.headers["etag"] == 'W/"2"'
    assert response.json()["meta"]["versionId"] == "2"
    assert client.get(f"/Patient/{id}").json()["active"] is False
    assert client.get(f"/Patient/{id}/_history/1").json()["active"] is True


def test_update_as_create_uses_the_client_id(client: TestClient) -> None:
    response = client.put(
        "/Patient/client-chosen.1",
        json={"resourceType": "Patient", "id": "client-chosen.1"},
        headers=FHIR,
    )
    assert response.status_code == 201
    assert response.headers["location"].endswith("/Patient/client-chosen.1/_history/1")
    assert client.get("/Patient/client-chosen.1").status_code == 200


@pytest.mark.parametrize(
    ("url", "body", "expected"),
    [
        ("/Patient/a", {"resourceType": "Patient", "id": "b"}, "does not match the URL's id"),
        ("/Patient/a", {"resourceType": "Patient"}, "has no id"),
        ("/Patient/a", {"resourceType": "Observation", "id": "a"}, "does not match the URL's type"),
        (
            "/Patient/" + "x" * 65,
            {"resourceType": "Patient", "id": "x" * 65},
            "Invalid resource id",
        ),
        ("/Patient/a", [1, 2], "must be a JSON object"),
    ],
    ids=["id-mismatch", "missing-id", "type-mismatch", "id-too-long", "not-an-object"],
)
def test_bad_updates_are_400_and_change_nothing(
    client: TestClient, url: str, body: object, expected: str
) -> None:
    response = client.put(url, json=body, headers=FHIR)
    assert response.status_code == 400
    assert expected in response.text
    assert client.get("/_history").json().get("entry") is None


def test_if_match_guards_updates_and_deletes(client: TestClient) -> None:
    id = create(client).json()["id"]
    body = {"resourceType": "Patient", "id": id}
    stale = client.put(f"/Patient/{id}", json=body, headers={**FHIR, "If-Match": 'W/"7"'})
    assert stale.status_code == 412
    assert stale.json()["issue"][0]["code"] == "conflict"
    ok = client.put(f"/Patient/{id}", json=body, headers={**FHIR, "If-Match": 'W/"1"'})
    assert ok.status_code == 200
    bad = client.put(f"/Patient/{id}", json=body, headers={**FHIR, "If-Match": "yesterday"})
    assert bad.status_code == 400
    assert client.delete(f"/Patient/{id}", headers={"If-Match": 'W/"1"'}).status_code == 412
    assert client.get(f"/Patient/{id}").status_code == 200


def test_delete_then_gone_and_history_keeps_versions(client: TestClient) -> None:
    id = create(client).json()["id"]
    deleted = client.delete(f"/Patient/{id}")
    assert deleted.status_code == 204 and deleted.headers["etag"] == 'W/"2"'
    gone = client.get(f"/Patient/{id}")
    assert gone.status_code == 410
    assert gone.json()["issue"][0]["code"] == "deleted"
    assert client.get(f"/Patient/{id}/_history/1").status_code == 200
    assert client.get(f"/Patient/{id}/_history/2").status_code == 410
    again = client.delete(f"/Patient/{id}")
    assert again.status_code == 204 and "etag" not in again.headers
    assert client.delete("/Patient/never-was").status_code == 204
    methods = [
        e["request"]["method"] for e in client.get(f"/Patient/{id}/_history").json()["entry"]
    ]
    assert methods == ["DELETE", "POST"]
    # A deleted resource can be brought back by an update (a new version, 201).
    revived = client.put(f"/Patient/{id}", json={"resourceType": "Patient", "id": id}, headers=FHIR)
    assert revived.status_code == 201 and revived.headers["etag"] == 'W/"3"'


def test_conditional_read(client: TestClient) -> None:
    created = create(client)
    url = f"/Patient/{created.json()['id']}"
    assert client.get(url, headers={"If-None-Match": 'W/"1"'}).status_code == 304
    assert client.get(url, headers={"If-None-Match": 'W/"2"'}).status_code == 200
    modified = created.headers["last-modified"]
    assert client.get(url, headers={"If-Modified-Since": modified}).status_code == 304
    old = "Mon, 01 Jan 2001 00:00:00 GMT"
    assert client.get(url, headers={"If-Modified-Since": old}).status_code == 200


def test_prefer_return(client: TestClient) -> None:
    minimal = client.post("/Patient", content=PATIENT, headers={**FHIR, "Prefer": "return=minimal"})
    assert minimal.status_code == 201 and minimal.content == b"" and minimal.headers["location"]
    outcome = client.post(
        "/Patient", content=PATIENT, headers={**FHIR, "Prefer": "return=OperationOutcome"}
    )
    assert outcome.json()["resourceType"] == "OperationOutcome"
    assert outcome.json()["issue"][0]["severity"] == "information"


def test_content_negotiation(client: TestClient) -> None:
    id = create(client).json()["id"]
    assert client.get(f"/Patient/{id}", headers={"Accept": "application/json"}).status_code == 200
    assert (
        client.get(f"/Patient/{id}", headers={"Accept": "application/fhir+xml"}).status_code == 406
    )
    assert client.get(f"/Patient/{id}?_format=xml").status_code == 406
    assert client.get(f"/Patient/{id}?_format=json").status_code == 200
    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    assert client.get(f"/Patient/{id}", headers={"Accept": browser}).status_code == 200
    pretty = client.get(f"/Patient/{id}?_pretty=true")
    assert pretty.text.startswith('{\n  "resourceType": "Patient"')
    assert '"valueDecimal": 120.00' in pretty.text
    xml = client.post(
        "/Patient", content=b"<Patient/>", headers={"Content-Type": "application/fhir+xml"}
    )
    assert xml.status_code == 415
    plain = client.post("/Patient", content=PATIENT, headers={"Content-Type": "application/json"})
    assert plain.status_code == 201


def test_head_is_served_where_get_is(client: TestClient) -> None:
    id = create(client).json()["id"]
    head = client.head(f"/Patient/{id}")
    assert head.status_code == 200 and head.content == b"" and head.headers["etag"] == 'W/"1"'
    assert client.head("/Patient/missing").status_code == 404
    assert client.head("/metadata").status_code == 200


def test_methods_a_path_does_not_serve_are_405_with_allow(client: TestClient) -> None:
    response = client.post("/Patient/123", content=PATIENT, headers=FHIR)
    assert response.status_code == 405
    assert response.headers["allow"] == "DELETE, GET, HEAD, PATCH, PUT"
    assert response.json()["resourceType"] == "OperationOutcome"
    # DELETE [type] is a conditional delete now (400 without criteria); PATCH [type] is not served.
    assert client.patch("/Patient", content=PATIENT, headers=FHIR).status_code == 405


def test_no_endpoint_is_a_404_outcome(client: TestClient) -> None:
    response = client.get("/Patient/1/2/3/4")
    assert response.status_code == 404
    assert response.json()["resourceType"] == "OperationOutcome"


def test_malformed_json_is_400_naming_the_place(client: TestClient) -> None:
    response = client.post("/Patient", content=b'{"resourceType": "Patient",', headers=FHIR)
    assert response.status_code == 400
    assert "line 1 column" in response.json()["issue"][0]["diagnostics"]
    duplicate = client.post(
        "/Patient", content=b'{"resourceType":"Patient","active":true,"active":false}', headers=FHIR
    )
    assert duplicate.status_code == 400 and "duplicate property 'active'" in duplicate.text
    nan = client.post("/Patient", content=b'{"resourceType":"Patient","x":NaN}', headers=FHIR)
    assert nan.status_code == 400
    empty = client.post("/Patient", content=b"", headers=FHIR)
    assert empty.status_code == 400


def test_an_update_that_changes_nothing_makes_no_new_version(client: TestClient) -> None:
    body = {"resourceType": "Patient", "id": "same", "active": True}
    assert client.put("/Patient/same", json=body, headers=FHIR).status_code == 201
    again = client.put("/Patient/same", json=body, headers=FHIR)
    assert again.status_code == 200 and again.headers["etag"] == 'W/"1"'
    changed = client.put("/Patient/same", json={**body, "active": False}, headers=FHIR)
    assert changed.headers["etag"] == 'W/"2"'
    assert len(client.get("/Patient/same/_history").json()["entry"]) == 2
