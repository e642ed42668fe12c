"""Conditional create, update and delete.

https://hl7.org/fhir/R4/http.html#ccreate, #cond-update and #cdelete.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from firehouse.settings import Settings
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


def test_conditional_delete_of_several_leaves_them_all_by_default(api: TestClient) -> None:
    made = [api.post("/Patient", json=_patient("d3"), headers=FHIR).json()["id"] for _ in range(2)]
    response = api.delete("/Patient?identifier=urn:cond|d3")
    assert response.status_code == 412
    assert response.json()["issue"][0]["code"] == "multiple-matches"
    assert all(api.get(f"/Patient/{id}").status_code == 200 for id in made)
    statement = api.get("/metadata").json()["rest"][0]["resource"]
    assert {r["conditionalDelete"] for r in statement} == {"single"}


@pytest.fixture()
def deletes_all(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    from firehouse.app import create_app
    from firehouse.rest import conditional

    # Rounds of 2, so that deleting 5 matches takes several rounds.
    monkeypatch.setattr(conditional, "_DELETE_ROUND", 2)
    settings = Settings(database=f"sqlite:///{tmp_path}/all.db", conditional_delete_multiple=True)
    with TestClient(create_app(settings), base_url="http://fhir.test") as client:
        yield client


def test_conditional_delete_multiple_deletes_every_match(deletes_all: TestClient) -> None:
    api = deletes_all
    made = [api.post("/Patient", json=_patient("m1"), headers=FHIR).json()["id"] for _ in range(5)]
    other = api.post("/Patient", json=_patient("m2"), headers=FHIR).json()["id"]
    response = api.delete("/Patient?identifier=urn:cond|m1")
    assert response.status_code == 204 and "ETag" not in response.headers
    assert [api.get(f"/Patient/{id}").status_code for id in made] == [410] * 5
    assert api.get(f"/Patient/{other}").status_code == 200
    one = api.delete("/Patient?identifier=urn:cond|m2")
    assert one.status_code == 204 and one.headers["ETag"] == 'W/"2"'
    statement = api.get("/metadata").json()["rest"][0]["resource"]
    assert {r["conditionalDelete"] for r in statement} == {"multiple"}
