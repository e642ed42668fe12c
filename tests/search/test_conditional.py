"""Conditional create, update and delete.

https://hl7.org/fhir/R4/http.html#ccreate, #cond-update and #cdelete.
"""

from __future__ import annotations

from starlette.testclient import TestClient

from tests.search.conftest import FHIR


def _patient(mrn: str, family: str = "Cond") -> dict[str, object]:
    return {
        "resourceType": "Patient",
        "identifier": [{"system": "urn:cond", "value": mrn}],
        "name": [{"family": family}],
    }


def test_conditional_create(api: TestClient) -> None:
    header = {**FHIR, "If-None-Exist": "identifier=urn:cond|c1"}
    first = api.post("/Patient", json=_patient("c1"), headers=header)
    assert first.status_code == 201
    again = api.post("/Patient", json=_patient("c1", "Other"), headers=header)
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["name"][0]["family"] == "Cond"
    api.post("/Patient", json=_patient("c1"), headers=FHIR)  # a second one, unconditionally
    several = api.post("/Patient", json=_patient("c1"), headers=header)
    assert several.status_code == 412
    unknown = api.post(
        "/Patient", json=_patient("c2"), headers={**FHIR, "If-None-Exist": "colour=x"}
    )
    assert unknown.status_code == 400


def test_conditional_update(api: TestClient) -> None:
    created = api.put("/Patient?identifier=urn:cond|u1", json=_patient("u1"), headers=FHIR)
    assert created.status_code == 201
    id = created.json()["id"]
    updated = api.put(
        "/Patient?identifier=urn:cond|u1", json=_patient("u1", "Updated"), headers=FHIR
    )
    assert updated.status_code == 200
    assert updated.json()["id"] == id and updated.json()["meta"]["versionId"] == "2"
    wrong_id = api.put(
        "/Patient?identifier=urn:cond|u1", json={**_patient("u1"), "id": "other"}, headers=FHIR
    )
    assert wrong_id.status_code == 400
    api.post("/Patient", json=_patient("u1"), headers=FHIR)
    several = api.put("/Patient?identifier=urn:cond|u1", json=_patient("u1"), headers=FHIR)
    assert several.status_code == 412


def test_conditional_delete(api: TestClient) -> None:
    id = api.post("/Patient", json=_patient("d1"), headers=FHIR).json()["id"]
    assert api.delete("/Patient?identifier=urn:cond|nobody").status_code == 204
    assert api.delete("/Patient?identifier=urn:cond|d1").status_code == 204
    assert api.get(f"/Patient/{id}").status_code == 410
    api.post("/Patient", json=_patient("d2"), headers=FHIR)
    api.post("/Patient", json=_patient("d2"), headers=FHIR)
    assert api.delete("/Patient?identifier=urn:cond|d2").status_code == 412
    assert api.delete("/Patient").status_code == 400
