"""The CARIN Blue Button ExplanationOfBenefit searches and includes.

http://hl7.org/fhir/us/carin-bb/CapabilityStatement-c4bb.html: _id, patient,
_lastUpdated, type, identifier, service-date, service-start-date,
billable-period-start, insurer; _include of patient, provider, care-team,
coverage, insurer, payee and ``*``.
"""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.search.conftest import ids, put

CLAIM_TYPE = "http://terminology.hl7.org/CodeSystem/claim-type"


def _eob(id: str, patient: str, kind: str, **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "ExplanationOfBenefit",
        "id": id,
        "identifier": [{"system": "https://payer.example/claim", "value": f"claim-{id}"}],
        "status": "active",
        "type": {"coding": [{"system": CLAIM_TYPE, "code": kind}]},
        "use": "claim",
        "patient": {"reference": f"Patient/{patient}"},
        "created": "2024-02-01T00:00:00Z",
        "insurer": {"reference": "Organization/payer"},
        "provider": {"reference": "Practitioner/prov"},
        "payee": {"type": {"text": "provider"}, "party": {"reference": "Organization/clinic"}},
        "careTeam": [{"sequence": 1, "provider": {"reference": "Practitioner/team"}}],
        "insurance": [{"focal": True, "coverage": {"reference": "Coverage/cov"}}],
        "outcome": "complete",
        **extra,
    }


RESOURCES: list[dict[str, Any]] = [
    {"resourceType": "Patient", "id": "bb1"},
    {"resourceType": "Patient", "id": "bb2"},
    {"resourceType": "Organization", "id": "payer", "name": "Payer"},
    {"resourceType": "Organization", "id": "clinic", "name": "Clinic"},
    {"resourceType": "Practitioner", "id": "prov"},
    {"resourceType": "Practitioner", "id": "team"},
    {
        "resourceType": "Coverage",
        "id": "cov",
        "status": "active",
        "beneficiary": {"reference": "Patient/bb1"},
        "payor": [{"reference": "Organization/payer"}],
    },
    _eob(
        "inpatient",
        "bb1",
        "institutional",
        billablePeriod={"start": "2024-01-03", "end": "2024-01-09"},
    ),
    _eob(
        "pharmacy",
        "bb1",
        "pharmacy",
        item=[{"sequence": 1, "servicedDate": "2024-03-15", "productOrService": {"text": "Rx"}}],
    ),
    _eob(
        "professional",
        "bb2",
        "professional",
        billablePeriod={"start": "2024-05-01", "end": "2024-05-01"},
        item=[
            {
                "sequence": 1,
                "servicedPeriod": {"start": "2024-05-01", "end": "2024-05-02"},
                "productOrService": {"text": "Visit"},
            }
        ],
    ),
]


@pytest.fixture(scope="module")
def loaded(api: TestClient) -> TestClient:
    for resource in RESOURCES:
        put(api, resource)
    return api


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("_id=pharmacy", {"pharmacy"}),
        ("patient=bb1", {"inpatient", "pharmacy"}),
        ("patient=Patient/bb2", {"professional"}),
        ("_lastUpdated=gt2000-01-01&patient=bb2", {"professional"}),
        (f"type={CLAIM_TYPE}|pharmacy", {"pharmacy"}),
        ("type=institutional,professional", {"inpatient", "professional"}),
        ("identifier=https://payer.example/claim|claim-inpatient", {"inpatient"}),
        ("service-date=2024-01-05", set()),  # a day does not contain the whole stay
        ("service-date=ge2024-01-05&service-date=le2024-01-05", {"inpatient"}),
        ("service-date=2024-03-15", {"pharmacy"}),
        ("service-date=ge2024-03-01", {"pharmacy", "professional"}),
        ("service-date=2024-05", {"professional"}),
        ("service-start-date=2024-05-01", {"professional"}),
        ("service-start-date=lt2024-02-01", {"inpatient"}),
        ("billable-period-start=2024-01-03", {"inpatient"}),
        ("billable-period-start=ge2024-02", {"professional"}),
        ("insurer=Organization/payer", {"inpatient", "pharmacy", "professional"}),
        ("insurer=payer&patient=bb1", {"inpatient", "pharmacy"}),
    ],
)
def test_carin_searches(loaded: TestClient, query: str, expected: set[str]) -> None:
    assert ids(loaded, f"/ExplanationOfBenefit?{query}") == expected


@pytest.mark.parametrize(
    ("include", "added"),
    [
        ("ExplanationOfBenefit:patient", {"bb1"}),
        ("ExplanationOfBenefit:provider", {"prov"}),
        ("ExplanationOfBenefit:care-team", {"team"}),
        ("ExplanationOfBenefit:coverage", {"cov"}),
        ("ExplanationOfBenefit:insurer", {"payer"}),
        ("ExplanationOfBenefit:payee", {"clinic"}),
        ("ExplanationOfBenefit:*", {"bb1", "prov", "team", "cov", "payer", "clinic"}),
    ],
)
def test_carin_includes(loaded: TestClient, include: str, added: set[str]) -> None:
    bundle = loaded.get(f"/ExplanationOfBenefit?patient=bb1&_include={include}").json()
    matches = {e["resource"]["id"] for e in bundle["entry"] if e["search"]["mode"] == "match"}
    included = {e["resource"]["id"] for e in bundle["entry"] if e["search"]["mode"] == "include"}
    assert matches == {"inpatient", "pharmacy"}
    assert included == added


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        # The other CARIN BB resources are searched by _id (and Coverage by patient).
        ("/Patient?_id=bb1", {"bb1"}),
        ("/Coverage?_id=cov", {"cov"}),
        ("/Coverage?patient=bb1", {"cov"}),
        ("/Coverage?patient=bb2", set()),
        ("/Organization?_id=payer", {"payer"}),
        ("/Practitioner?_id=team", {"team"}),
    ],
)
def test_carin_other_resources(loaded: TestClient, url: str, expected: set[str]) -> None:
    assert ids(loaded, url) == expected
