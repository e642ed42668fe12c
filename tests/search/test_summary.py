"""``_summary``: https://hl7.org/fhir/R4/search.html#summary.

``true`` returns exactly the elements the R4 base definitions mark
``isSummary`` (plus mandatory elements and modifier extensions), walking into
backbone elements; every shaped resource carries the SUBSETTED tag.
"""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.search.conftest import put

NARRATIVE = {"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml">x</div>'}
MODIFIER = {"url": "http://example.org/not-really", "valueBoolean": True}

PATIENT: dict[str, Any] = {
    "resourceType": "Patient",
    "id": "sum1",
    "text": NARRATIVE,
    "extension": [{"url": "http://example.org/pet", "valueString": "cat"}],
    "modifierExtension": [MODIFIER],
    "identifier": [{"system": "urn:example", "value": "42"}],
    "active": True,
    "name": [{"family": "Summers", "given": ["Sam"]}],
    "gender": "female",
    "birthDate": "1970-01-01",
    "_birthDate": {"extension": [{"url": "http://example.org/approx", "valueBoolean": True}]},
    "maritalStatus": {"text": "married"},
    "photo": [{"contentType": "image/png", "data": "AAAA"}],
    "contact": [{"name": {"family": "Summers"}}],
    "communication": [{"language": {"text": "English"}}],
    "link": [{"other": {"reference": "Patient/other"}, "type": "seealso"}],
}

OBSERVATION: dict[str, Any] = {
    "resourceType": "Observation",
    "id": "sum2",
    "text": NARRATIVE,
    "status": "final",
    "code": {"text": "Blood pressure"},
    "subject": {"reference": "Patient/sum1"},
    "note": [{"text": "sitting"}],
    "interpretation": [{"text": "normal"}],
    "component": [
        {
            "code": {"text": "systolic"},
            "valueQuantity": {"value": 120, "unit": "mm[Hg]"},
            "interpretation": [{"text": "normal"}],
            "referenceRange": [{"text": "< 130"}],
        }
    ],
}


@pytest.fixture(scope="module")
def loaded(api: TestClient) -> TestClient:
    put(api, PATIENT)
    put(api, OBSERVATION)
    return api


def _summary(client: TestClient, url: str) -> dict[str, Any]:
    bundle = client.get(url).json()
    resource: dict[str, Any] = bundle["entry"][0]["resource"]
    return resource


def test_patient_summary_is_the_summary_elements(loaded: TestClient) -> None:
    patient = _summary(loaded, "/Patient?_id=sum1&_summary=true")
    assert set(patient) == {
        "resourceType",
        "id",
        "meta",
        "modifierExtension",
        "identifier",
        "active",
        "name",
        "gender",
        "birthDate",
        "_birthDate",
        "link",
    }
    assert patient["link"] == PATIENT["link"]
    assert patient["name"] == PATIENT["name"]  # a datatype value is kept whole
    assert [t["code"] for t in patient["meta"]["tag"]] == ["SUBSETTED"]


def test_backbone_elements_keep_only_their_summary_children(loaded: TestClient) -> None:
    observation = _summary(loaded, "/Observation?_id=sum2&_summary=true")
    assert set(observation) == {
        "resourceType",
        "id",
        "meta",
        "status",
        "code",
        "subject",
        "component",
    }
    assert observation["component"] == [
        {"code": {"text": "systolic"}, "valueQuantity": {"value": 120, "unit": "mm[Hg]"}}
    ]


def test_the_other_summaries(loaded: TestClient) -> None:
    data = _summary(loaded, "/Patient?_id=sum1&_summary=data")
    assert "text" not in data and data["contact"] == PATIENT["contact"]
    text = _summary(loaded, "/Patient?_id=sum1&_summary=text")
    assert set(text) == {"resourceType", "id", "meta", "text"}
    whole = _summary(loaded, "/Patient?_id=sum1&_summary=false")
    assert whole["photo"] == PATIENT["photo"] and "tag" not in whole["meta"]


def test_mandatory_elements_stay_in_the_summary(loaded: TestClient) -> None:
    """Appointment.participant (1..*) is not a summary element, but a summary without it
    would not be a valid Appointment."""
    appointment = {
        "resourceType": "Appointment",
        "id": "sum3",
        "status": "booked",
        "comment": "bring the letter",
        "participant": [
            {"actor": {"reference": "Patient/sum1"}, "status": "accepted", "required": "required"}
        ],
    }
    put(loaded, appointment)
    shaped = _summary(loaded, "/Appointment?_id=sum3&_summary=true")
    assert set(shaped) == {"resourceType", "id", "meta", "status", "participant"}
    # Inside it, ``status`` (1..1) stays with the summary ``actor`` and ``required``.
    assert shaped["participant"] == appointment["participant"]
