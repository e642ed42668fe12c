"""Each parameter type, prefix and modifier, table-driven from https://hl7.org/fhir/R4/search.html."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from firehouse.search.custom import RegistryHolder
from firehouse.search.engine import SearchEngine, SearchRequest
from firehouse.storage import open_storage
from tests.search.conftest import ids, put

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"

RESOURCES: list[dict[str, Any]] = [
    {
        "resourceType": "Patient",
        "id": "p1",
        "meta": {"tag": [{"system": "http://tags", "code": "vip"}]},
        "identifier": [{"system": "urn:mrn", "value": "123"}],
        "name": [{"family": "Müller", "given": ["Eve"]}],
        "telecom": [{"system": "email", "value": "eve@example.org"}],
        "gender": "female",
        "birthDate": "1970-03-15",
        "generalPractitioner": [{"reference": "Practitioner/dr1"}],
    },
    {
        "resourceType": "Patient",
        "id": "p2",
        "name": [{"family": "Miller", "given": ["Max"]}],
        "gender": "male",
        "birthDate": "1985",
        "active": True,
    },
    {
        "resourceType": "Patient",
        "id": "p3",
        "name": [{"family": "Chalmers", "given": ["Peter", "James"]}],
        "gender": "male",
        "birthDate": "1974-12-25",
        "managingOrganization": {"reference": "http://fhir.test/Organization/o1"},
    },
    {"resourceType": "Practitioner", "id": "dr1", "name": [{"family": "Who"}]},
    {"resourceType": "Organization", "id": "o1", "name": "Acme Clinic"},
    {
        "resourceType": "Observation",
        "id": "sys1",
        "status": "final",
        "category": [{"coding": [{"code": "vital-signs"}]}],
        "code": {"coding": [{"system": LOINC, "code": "8480-6", "display": "Systolic BP"}]},
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": "2020-01-01T10:00:00Z",
        "valueQuantity": {"value": 120, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"},
    },
    {
        "resourceType": "Observation",
        "id": "sys2",
        "status": "final",
        "category": [{"coding": [{"code": "vital-signs"}]}],
        "code": {"coding": [{"system": LOINC, "code": "8480-6"}]},
        "subject": {"reference": "Patient/p2"},
        "effectivePeriod": {"start": "2021-01-10", "end": "2021-02-20"},
        "valueQuantity": {"value": 140.5, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"},
    },
    {
        "resourceType": "Observation",
        "id": "na1",
        "status": "preliminary",
        "category": [{"coding": [{"code": "laboratory"}]}],
        "code": {"coding": [{"system": LOINC, "code": "2951-2"}], "text": "Sodium"},
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": "2022-06",
        "valueQuantity": {"value": 0.143, "unit": "mol/L", "system": UCUM, "code": "mol/L"},
    },
    {
        "resourceType": "Observation",
        "id": "bp1",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "85354-9"}]},
        "subject": {"reference": "Patient/p3"},
        "component": [
            {
                "code": {"coding": [{"system": LOINC, "code": "8480-6"}]},
                "valueQuantity": {"value": 110, "system": UCUM, "code": "mm[Hg]"},
            },
            {
                "code": {"coding": [{"system": LOINC, "code": "8462-4"}]},
                "valueQuantity": {"value": 70, "system": UCUM, "code": "mm[Hg]"},
            },
        ],
    },
    {
        "resourceType": "RiskAssessment",
        "id": "r1",
        "status": "final",
        "subject": {"reference": "Patient/p1"},
        "prediction": [{"probabilityDecimal": 0.8}],
    },
    {
        "resourceType": "ValueSet",
        "id": "vs1",
        "status": "active",
        "url": "http://acme.org/fhir/ValueSet/123",
    },
]


@pytest.fixture(scope="module")
def loaded(api: TestClient) -> TestClient:
    for resource in RESOURCES:
        put(api, resource)
    return api


CASES = [
    # string: starts-with, case and accent insensitive; :exact; :contains
    ("Patient?name=mul", {"p1"}),
    ("Patient?name=MUL", {"p1"}),
    ("Patient?family=m", {"p1", "p2"}),
    ("Patient?family:exact=Müller", {"p1"}),
    ("Patient?family:exact=müller", set()),
    ("Patient?name:contains=ame", {"p3"}),
    ("Patient?given=peter,eve", {"p1", "p3"}),
    ("Patient?given=peter&given=james", {"p3"}),
    # token: code, system|code, |code, system|, :text, :not
    ("Patient?gender=male", {"p2", "p3"}),
    ("Patient?identifier=urn:mrn|123", {"p1"}),
    ("Patient?identifier=urn:other|123", set()),
    ("Patient?identifier=123", {"p1"}),
    ("Patient?identifier=urn:mrn|", {"p1"}),
    ("Observation?code=http://loinc.org|8480-6", {"sys1", "sys2"}),
    ("Observation?code=|8480-6", set()),
    ("Observation?category=|vital-signs", {"sys1", "sys2"}),
    ("Observation?code:text=systolic", {"sys1"}),
    ("Observation?code:text=sod", {"na1"}),
    ("Observation?status:not=final", {"na1"}),
    ("Patient?email=eve@example.org", {"p1"}),
    ("Patient?active=true", {"p2"}),
    ("Patient?_tag=http://tags|vip", {"p1"}),
    # date: partial dates are ranges; prefixes
    ("Patient?birthdate=1970", {"p1"}),
    ("Patient?birthdate=1970-03", {"p1"}),
    ("Patient?birthdate=1970-03-15", {"p1"}),
    ("Patient?birthdate=1985-06-01", set()),  # 1985 is not contained in one day
    ("Patient?birthdate=ge1974-12-25", {"p2", "p3"}),
    ("Patient?birthdate=gt1974-12-25", {"p2"}),
    ("Patient?birthdate=lt1974-12-25", {"p1"}),
    ("Patient?birthdate=le1974-12-25", {"p1", "p3"}),
    ("Patient?birthdate=ne1985", {"p1", "p3"}),
    ("Patient?birthdate=sa1970&birthdate=eb1980", {"p3"}),
    # ap: within 10% of the gap to now (~5.6 years here), so 1974 is near 1970
    ("Patient?birthdate=ap1970-03-14", {"p1", "p3"}),
    ("Patient?birthdate=ap1960", set()),
    ("Observation?date=2020-01-01", {"sys1"}),
    ("Observation?date=2021", {"sys2"}),  # the period lies within 2021
    ("Observation?date=2021-01", set()),  # ... but not within January
    ("Observation?date=ge2021-02-01&date=le2021-02-01", {"sys2"}),  # the period spans it
    ("Observation?date=gt2021-02-01", {"sys2", "na1"}),
    ("Observation?date=eb2021-01-01", {"sys1"}),
    ("Observation?date=sa2021-03-01", {"na1"}),
    ("Observation?date=2022-06-15", set()),  # a month is not within a day
    ("Observation?date=2022", {"na1"}),
    # quantity and number: implicit precision, prefixes, units
    ("Observation?value-quantity=120", {"sys1"}),
    ("Observation?value-quantity=120.0", {"sys1"}),
    ("Observation?value-quantity=140", set()),  # 140.5 is outside [139.5, 140.5)
    ("Observation?value-quantity=141", {"sys2"}),  # ... inside [140.5, 141.5)
    ("Observation?value-quantity=gt120", {"sys2"}),
    ("Observation?value-quantity=ge120", {"sys1", "sys2"}),
    ("Observation?value-quantity=lt1", {"na1"}),
    ("Observation?value-quantity=ap130", {"sys1", "sys2"}),
    ("Observation?value-quantity=120|http://unitsofmeasure.org|mm[Hg]", {"sys1"}),
    ("Observation?value-quantity=120||mmHg", {"sys1"}),
    ("Observation?value-quantity=120|http://unitsofmeasure.org|mg", set()),
    ("Observation?value-quantity=0.143||mol/L", {"na1"}),
    ("RiskAssessment?probability=0.8", {"r1"}),
    ("RiskAssessment?probability=gt0.5", {"r1"}),
    ("RiskAssessment?probability=lt0.79", set()),
    # reference: Type/id, id, absolute URL of this server, :Type, chaining
    ("Observation?subject=Patient/p1", {"sys1", "na1"}),
    ("Observation?patient=p1", {"sys1", "na1"}),
    ("Observation?subject:Patient=p2", {"sys2"}),
    ("Observation?subject=http://fhir.test/Patient/p3", {"bp1"}),
    ("Patient?organization=Organization/o1", {"p3"}),
    ("Patient?organization=o1", {"p3"}),
    ("Observation?subject:Patient.name=chal", {"bp1"}),
    ("Observation?subject.name=mil", {"sys2"}),
    ("Observation?patient.general-practitioner.name=who", {"sys1", "na1"}),
    ("Observation?subject:Patient.birthdate=lt1975", {"sys1", "na1", "bp1"}),
    ("Patient?general-practitioner:missing=false", {"p1"}),
    ("Patient?general-practitioner:missing=true", {"p2", "p3"}),
    # reverse chaining
    ("Patient?_has:Observation:patient:code=8480-6", {"p1", "p2"}),
    ("Patient?_has:Observation:patient:status=preliminary", {"p1"}),
    (
        "Practitioner?_has:Patient:general-practitioner:_has:Observation:patient:code=2951-2",
        {"dr1"},
    ),
    # uri
    ("ValueSet?url=http://acme.org/fhir/ValueSet/123", {"vs1"}),
    ("ValueSet?url:below=http://acme.org/fhir", {"vs1"}),
    ("ValueSet?url:above=http://acme.org/fhir/ValueSet/123/_history/5", {"vs1"}),
    ("ValueSet?url=http://acme.org/fhir", set()),
    # composite: both halves from one component
    ("Observation?component-code-value-quantity=http://loinc.org|8480-6$gt100", {"bp1"}),
    ("Observation?component-code-value-quantity=8462-4$gt100", set()),
    ("Observation?component-code-value-quantity=8462-4$lt100", {"bp1"}),
    ("Observation?code-value-quantity=8480-6$120", {"sys1"}),
    # _id and _lastUpdated on the resource row
    ("Patient?_id=p1,p3", {"p1", "p3"}),
    ("Patient?_id=p1&_id=p2", set()),
    ("Patient?_lastUpdated=gt2000-01-01", {"p1", "p2", "p3"}),
    ("Patient?_lastUpdated=lt2000-01-01", set()),
    # escaping: a comma inside a value
    ("Patient?name=mu\\,ller", set()),
]


@pytest.mark.parametrize(("query", "expected"), CASES)
def test_search(loaded: TestClient, query: str, expected: set[str]) -> None:
    assert ids(loaded, "/" + query) == expected


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("Patient?birthdate=ge2020-13-45", "birthdate"),
        ("Patient?birthdate=yesterday", "birthdate"),
        ("Observation?value-quantity=lots", "value-quantity"),
        ("Observation?value-quantity=1|2", "value-quantity"),
        ("Patient?gender:exact=male", "gender:exact"),
        ("Patient?family:missing=maybe", "family:missing"),
        ("Observation?subject=Patient/", "subject"),
        ("Observation?component-code-value-quantity=8480-6", "component-code-value-quantity"),
        ("Patient?_lastUpdated=2020-02-30", "_lastUpdated"),
        ("Patient?_count=many", "_count"),
        ("Patient?_include=Nothing:here", "_include"),
        ("Patient?_total=some", "_total"),
        ("Patient?_cursor=notacursor", "_cursor"),
    ],
)
def test_malformed_values_are_400_naming_the_parameter(
    loaded: TestClient, query: str, parameter: str
) -> None:
    response = loaded.get("/" + query)
    assert response.status_code == 400, response.text
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    issue = outcome["issue"][0]
    assert parameter in issue.get("expression", []) or parameter in issue["diagnostics"]


def test_unknown_parameters_lenient_and_strict(loaded: TestClient) -> None:
    lenient = loaded.get("/Patient?colour=blue&gender=male").json()
    self_link = next(link["url"] for link in lenient["link"] if link["relation"] == "self")
    assert "colour" not in self_link and "gender=male" in self_link
    assert {e["resource"]["id"] for e in lenient["entry"]} == {"p2", "p3"}
    strict = loaded.get("/Patient?colour=blue", headers={"Prefer": "handling=strict"})
    assert strict.status_code == 400 and "colour" in strict.text
    chained = loaded.get("/Observation?subject.colour=x", headers={"Prefer": "handling=strict"})
    assert chained.status_code == 400


def test_post_search_with_a_form_body(loaded: TestClient) -> None:
    response = loaded.post(
        "/Patient/_search",
        content="gender=male&family=chal",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200
    assert [e["resource"]["id"] for e in response.json()["entry"]] == ["p3"]
    wrong = loaded.post("/Patient/_search", json={"gender": "male"})
    assert wrong.status_code == 415


def test_sort_on_several_keys(loaded: TestClient) -> None:
    def order(query: str) -> list[str]:
        return [e["resource"]["id"] for e in loaded.get(query).json()["entry"]]

    assert order("/Patient?_sort=birthdate") == ["p1", "p3", "p2"]
    assert order("/Patient?_sort=-birthdate") == ["p2", "p3", "p1"]
    assert order("/Patient?_sort=gender,-birthdate") == ["p1", "p2", "p3"]
    assert order("/Patient?_sort=family&_count=1")[0] == "p3"
    assert order("/Observation?_sort=-date&status=final") == ["sys2", "sys1", "bp1"]


def test_include_and_revinclude(loaded: TestClient) -> None:
    bundle = loaded.get("/Observation?code=8480-6&_include=Observation:patient").json()
    modes = {(e["resource"]["id"], e["search"]["mode"]) for e in bundle["entry"]}
    assert modes == {("sys1", "match"), ("sys2", "match"), ("p1", "include"), ("p2", "include")}
    star = loaded.get("/Patient?_id=p3&_include=Patient:*").json()
    assert {e["resource"]["id"] for e in star["entry"]} == {"p3", "o1"}
    rev = loaded.get("/Patient?_id=p1&_revinclude=Observation:subject").json()
    assert {e["resource"]["id"] for e in rev["entry"]} == {"p1", "sys1", "na1"}
    iterate = loaded.get(
        "/Observation?_id=sys1&_include=Observation:patient"
        "&_include:iterate=Patient:general-practitioner"
    ).json()
    assert {e["resource"]["id"] for e in iterate["entry"]} == {"sys1", "p1", "dr1"}
    no_iterate = loaded.get(
        "/Observation?_id=sys1&_include=Observation:patient&_include=Patient:general-practitioner"
    ).json()
    assert {e["resource"]["id"] for e in no_iterate["entry"]} == {"sys1", "p1"}


def test_total_summary_and_elements(loaded: TestClient) -> None:
    assert "total" not in loaded.get("/Patient").json()
    assert loaded.get("/Patient?_total=accurate&_count=1").json()["total"] == 3
    count = loaded.get("/Patient?_summary=count").json()
    assert count["total"] == 3 and "entry" not in count
    text = loaded.get("/Patient?_id=p1&_summary=text").json()["entry"][0]["resource"]
    assert set(text) <= {"resourceType", "id", "meta", "text"}
    assert any(t["code"] == "SUBSETTED" for t in text["meta"]["tag"])
    elements = loaded.get("/Patient?_id=p1&_elements=gender,birthDate").json()
    assert set(elements["entry"][0]["resource"]) == {
        "resourceType",
        "id",
        "meta",
        "gender",
        "birthDate",
    }


def test_system_and_compartment_search(loaded: TestClient) -> None:
    assert ids(loaded, "/?_type=Patient,Practitioner&name=w") == {"dr1"}
    assert ids(loaded, "/?_type=Organization,Patient&_id=o1,p2") == {"o1", "p2"}
    assert len(ids(loaded, "/?_lastUpdated=gt2000")) == len(RESOURCES)
    assert ids(loaded, "/Patient/p1/Observation") == {"sys1", "na1"}
    assert ids(loaded, "/Patient/p1/Observation?code=2951-2") == {"na1"}
    assert ids(loaded, "/Patient/p1/RiskAssessment") == {"r1"}
    assert loaded.get("/Patient/p1/ValueSet").status_code == 400


def test_compartment_search_includes_may_leave_the_compartment(loaded: TestClient) -> None:
    bundle = loaded.get("/Patient/p1/Patient?_include=Patient:general-practitioner").json()
    assert {(e["resource"]["id"], e["search"]["mode"]) for e in bundle["entry"]} == {
        ("p1", "match"),
        ("dr1", "include"),
    }


def test_patient_confinement_filters_matches_and_includes(loaded: TestClient) -> None:
    """The hook SMART patient context uses (issue 7): nothing outside the compartment."""
    storage = open_storage(loaded.database_url)  # type: ignore[attr-defined]
    search = SearchEngine(storage, RegistryHolder(storage).current)

    def run(resource_type: str, params: list[tuple[str, str]]) -> set[tuple[str, str]]:
        request = SearchRequest(
            (resource_type,), tuple(params), "http://fhir.test", restrict_to_patients=("p1",)
        )
        result = search.search(request)
        return {(h.resource_type, h.id) for h in (*result.matches, *result.included)}

    try:
        assert run("Observation", [("code", "8480-6")]) == {("Observation", "sys1")}
        assert run("Patient", []) == {("Patient", "p1")}
        assert run("Observation", [("_id", "sys2")]) == set()
        # Revincludes, includes and chains never pull another patient's data.
        assert run("Patient", [("_revinclude", "Observation:subject")]) == {
            ("Patient", "p1"),
            ("Observation", "sys1"),
            ("Observation", "na1"),
        }
        assert run("Observation", [("subject.name", "miller")]) == set()
        assert run("Observation", [("_id", "sys1"), ("_include", "Observation:subject")]) == {
            ("Observation", "sys1"),
            ("Patient", "p1"),
        }
        assert ("Practitioner", "dr1") not in run(
            "Patient", [("_include", "Patient:general-practitioner")]
        )
    finally:
        storage.close()


def test_list_selects_what_a_list_points_at(loaded: TestClient) -> None:
    put(
        loaded,
        {
            "resourceType": "List",
            "id": "favourites",
            "status": "current",
            "mode": "working",
            "entry": [{"item": {"reference": "Patient/p1"}}, {"item": {"reference": "Patient/p3"}}],
        },
    )
    assert ids(loaded, "/Patient?_list=favourites") == {"p1", "p3"}
    assert ids(loaded, "/Patient?_list=favourites&gender=male") == {"p3"}
    assert ids(loaded, "/Patient?_list=no-such-list") == set()
    strict = loaded.get("/Patient?_list=favourites", headers={"Prefer": "handling=strict"})
    assert strict.status_code == 200
