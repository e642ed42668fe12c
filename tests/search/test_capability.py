"""The CapabilityStatement lists the real search parameters, includes and revincludes."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient


def _resource(statement: dict[str, Any], resource_type: str) -> dict[str, Any]:
    return next(r for r in statement["rest"][0]["resource"] if r["type"] == resource_type)


def test_every_search_parameter_with_type_and_documentation(api: TestClient) -> None:
    statement = api.get("/metadata").json()
    patient = _resource(statement, "Patient")
    params = {p["name"]: p for p in patient["searchParam"]}
    assert {"_id", "_lastUpdated", "_tag", "_profile", "_security", "_source"} <= set(params)
    assert {"name", "family", "birthdate", "identifier", "general-practitioner"} <= set(params)
    assert params["birthdate"]["type"] == "date"
    assert (
        params["birthdate"]["definition"]
        == "http://hl7.org/fhir/SearchParameter/individual-birthdate"
    )
    assert params["name"]["documentation"]
    assert "_text" not in params and "_content" not in params  # not implemented, not claimed
    eob = {p["name"]: p for p in _resource(statement, "ExplanationOfBenefit")["searchParam"]}
    for code in ("type", "service-date", "service-start-date", "billable-period-start", "insurer"):
        assert eob[code]["definition"].startswith(
            "http://hl7.org/fhir/us/carin-bb/SearchParameter/"
        )
    observation = _resource(statement, "Observation")
    assert "Observation:*" in observation["searchInclude"]
    assert "Observation:patient" in observation["searchInclude"]
    assert "Observation:subject" in patient["searchRevInclude"]
    assert "Provenance:target" in patient["searchRevInclude"]
    assert patient["conditionalCreate"] is True and patient["conditionalDelete"] == "single"
    system = {i["code"] for i in statement["rest"][0]["interaction"]}
    assert "search-system" in system


def test_a_stored_search_parameter_is_searchable_and_listed(api: TestClient) -> None:
    definition = {
        "resourceType": "SearchParameter",
        "url": "http://example.org/SearchParameter/patient-nickname",
        "name": "nickname",
        "status": "active",
        "description": "A patient's nickname",
        "code": "nickname",
        "base": ["Patient"],
        "type": "string",
        "expression": "Patient.name.where(use='nickname').given",
    }
    headers = {"Content-Type": "application/fhir+json"}
    assert api.post("/SearchParameter", json=definition, headers=headers).status_code == 201
    patient = {
        "resourceType": "Patient",
        "name": [{"use": "nickname", "given": ["Bubbles"]}, {"given": ["Robert"]}],
    }
    id = api.post("/Patient", json=patient, headers=headers).json()["id"]
    found = api.get("/Patient?nickname=bub").json()
    assert [e["resource"]["id"] for e in found["entry"]] == [id]
    assert "entry" not in api.get("/Patient?nickname=rob").json()
    listed = _resource(api.get("/metadata").json(), "Patient")["searchParam"]
    assert any(p["name"] == "nickname" for p in listed)
