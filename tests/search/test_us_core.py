"""Every US Core SHALL search, over carebundle data loaded through the API.

The searches are those the US Core Server CapabilityStatement marks SHALL
(https://hl7.org/fhir/us/core/STU3.1.1/CapabilityStatement-us-core-server.html
and https://hl7.org/fhir/us/core/STU6.1/CapabilityStatement-us-core-server.html),
including the ``_revinclude=Provenance:target`` every resource type must
answer and PractitionerRole's ``_include``s. carebundle makes Patients,
Practitioners, Encounters, Conditions, Observations, DiagnosticReports,
MedicationRequests and AllergyIntolerances (all on one day); the other US
Core types, and Observations on other days, are added per patient so that
every search has something to find and something to leave out.

Each case builds its query from a sample resource and its expected result
set with a plain Python predicate over everything the server holds, so a
search that returns too much fails as surely as one that returns too little.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient

from firehouse.settings import Settings
from tests.search.conftest import FHIR, follow

# An unknown parameter is then a 400, not silently dropped (which would widen the result).
STRICT = {"Prefer": "handling=strict"}

Resource = dict[str, Any]
Data = dict[str, list[Resource]]

LOINC = "http://loinc.org"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
CARE_PLAN_CATEGORY = "http://hl7.org/fhir/us/core/CodeSystem/careplan-category"
DOC_CATEGORY = "http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category"
NUCC = "http://nucc.org/provider-taxonomy"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    from firehouse.app import create_app

    out = tmp_path_factory.mktemp("uscore-bundles")
    subprocess.run(
        [
            str(Path(sys.executable).parent / "carebundle"),
            *("generate", "--seed", "11", "--count", "10", "--profile", "mixed"),
            *("--out", str(out)),
        ],
        check=True,
        capture_output=True,
    )
    path = tmp_path_factory.mktemp("uscore") / "uscore.db"
    app = create_app(Settings(database=f"sqlite:///{path}"))
    with TestClient(app, base_url="http://fhir.test") as api:
        for bundle in sorted(out.glob("*.json")):
            response = api.post("/", content=bundle.read_bytes(), headers=FHIR)
            assert response.status_code == 200, response.text
        patients = [e["resource"] for e in follow(api, "/Patient?_count=100")]
        response = api.post("/", json=_supplement(patients), headers=FHIR)
        assert response.status_code == 200, response.text
        yield api


def _entry(resource: Resource) -> Resource:
    return {"resource": resource, "request": {"method": "POST", "url": resource["resourceType"]}}


def _coding(system: str, code: str) -> Resource:
    return {"coding": [{"system": system, "code": code}]}


def _address(kind: str, line: str, city: str, state: str) -> Any:
    address = {"line": [line], "city": city, "state": state}
    return address if kind == "Location" else [address]  # Location has one address


def _per_patient(i: int, ref: Resource) -> list[Resource]:
    """Two of each kind, differing in the searched values, so each search must pick."""
    entries: list[Resource] = []
    for k in (0, 1):
        day = f"{2024 - k}-{1 + i % 9:02d}-{10 + i:02d}"
        entries += [
            _entry(
                {
                    "resourceType": "Observation",
                    "status": "final",
                    "category": [_coding(OBS_CATEGORY, "vital-signs")],
                    "code": _coding(LOINC, ("8867-4", "9279-1")[k]),
                    "subject": ref,
                    "effectiveDateTime": f"{day}T10:00:00Z",
                    "valueQuantity": {"value": 60 + i, "unit": "/min"},
                }
            ),
            _entry(
                {
                    "resourceType": "MedicationRequest",
                    "status": ("stopped", "active")[k],
                    "intent": ("plan", "order")[k],
                    "medicationCodeableConcept": {"text": "metformin"},
                    "subject": ref,
                }
            ),
            _entry(
                {
                    "resourceType": "Procedure",
                    "status": ("completed", "in-progress")[k],
                    "code": _coding("http://snomed.info/sct", "73761001"),
                    "subject": ref,
                    "performedDateTime": f"{day}T11:00:00Z",
                }
            ),
            _entry(
                {
                    "resourceType": "CarePlan",
                    "status": "active",
                    "intent": "plan",
                    "category": [_coding(CARE_PLAN_CATEGORY, ("assess-plan", "other")[k])],
                    "subject": ref,
                }
            ),
            _entry(
                {"resourceType": "CareTeam", "status": ("active", "inactive")[k], "subject": ref}
            ),
            _entry(
                {
                    "resourceType": "DocumentReference",
                    "status": "current",
                    "type": _coding(LOINC, ("34133-9", "11506-3")[k]),
                    "category": [_coding(DOC_CATEGORY, "clinical-note")],
                    "subject": ref,
                    "date": f"{day}T12:00:00Z",
                    "content": [{"attachment": {"contentType": "text/plain", "data": "aGk="}}],
                }
            ),
        ]
    return [
        *entries,
        _entry(
            {
                "resourceType": "Immunization",
                "status": "completed",
                "vaccineCode": _coding("http://hl7.org/fhir/sid/cvx", "140"),
                "patient": ref,
                "occurrenceDateTime": f"2024-{1 + i % 9:02d}-10",
            }
        ),
        _entry(
            {
                "resourceType": "Goal",
                "lifecycleStatus": "active",
                "description": {"text": "Lower HbA1c"},
                "subject": ref,
            }
        ),
        _entry(
            {"resourceType": "Coverage", "status": "active", "beneficiary": ref, "payor": [ref]}
        ),
        _entry(
            {
                "resourceType": "Provenance",
                "target": [ref],
                "recorded": "2024-01-01T12:00:00Z",
                "agent": [{"who": {"display": "carebundle"}}],
            }
        ),
    ]


def _supplement(patients: list[Resource]) -> Resource:
    """A transaction with the US Core types carebundle does not make, varied per patient."""
    entries: list[Resource] = []
    for city, state, name in (("Boston", "MA", "North"), ("Austin", "TX", "South")):
        for kind in ("Location", "Organization"):
            entries.append(
                _entry(
                    {
                        "resourceType": kind,
                        "name": f"{name} {kind}",
                        "address": _address(kind, f"1 {name} St", city, state),
                    }
                )
            )
    for i, patient in enumerate(sorted(patients, key=lambda p: p["id"])):
        entries += _per_patient(i, {"reference": f"Patient/{patient['id']}"})
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def _roles(practitioners: list[Resource]) -> Resource:
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            _entry(
                {
                    "resourceType": "PractitionerRole",
                    "practitioner": {"reference": f"Practitioner/{p['id']}"},
                    "specialty": [_coding(NUCC, "207Q00000X" if i % 2 else "208D00000X")],
                }
            )
            for i, p in enumerate(practitioners)
        ],
    }


@pytest.fixture(scope="module")
def data(client: TestClient) -> Data:
    practitioners = [e["resource"] for e in follow(client, "/Practitioner?_count=100")]
    response = client.post("/", json=_roles(practitioners), headers=FHIR)
    assert response.status_code == 200, response.text
    types = [
        "Patient",
        "Observation",
        "Condition",
        "Encounter",
        "AllergyIntolerance",
        "MedicationRequest",
        "DiagnosticReport",
        "Procedure",
        "Immunization",
        "CarePlan",
        "CareTeam",
        "Goal",
        "DocumentReference",
        "Location",
        "Organization",
        "Practitioner",
        "PractitionerRole",
        "Coverage",
        "Provenance",
    ]
    return {t: [e["resource"] for e in follow(client, f"/{t}?_count=500")] for t in types}


# --- what a resource says, read plainly -------------------------------------------------


def _patient(resource: Resource) -> str:
    for key in ("subject", "patient", "beneficiary"):
        if isinstance(resource.get(key), dict):
            return str(resource[key].get("reference", ""))
    return ""


def _codes(concepts: Any) -> set[tuple[str, str]]:
    concepts = concepts if isinstance(concepts, list) else [concepts]
    return {
        (c.get("system", ""), c.get("code", ""))
        for concept in concepts
        if isinstance(concept, dict)
        for c in concept.get("coding", [])
    }


def _first_code(concepts: Any) -> str:
    system, code = sorted(_codes(concepts))[0]
    return f"{system}|{code}"


def _has_code(concepts: Any, token: str) -> bool:
    system, _, code = token.partition("|")
    return (system, code) in _codes(concepts)


def _day(resource: Resource, *keys: str) -> str:
    for key in keys:
        value = resource.get(key)
        if isinstance(value, str):
            return value[:10]
    return ""


def _family(resource: Resource) -> str:
    return str(resource["name"][0]["family"]) if isinstance(resource.get("name"), list) else ""


def _identifier(resource: Resource) -> str:
    first = resource["identifier"][0]
    return f"{first['system']}|{first['value']}"


def _idents(resource: Resource) -> set[str]:
    return {f"{i.get('system')}|{i.get('value')}" for i in resource.get("identifier", [])}


# --- the cases --------------------------------------------------------------------------

Query = Callable[[Resource], str]
Match = Callable[[Resource, Resource], bool]


def _by_patient(extra: Query | None = None, match: Match | None = None) -> tuple[Query, Match]:
    def query(sample: Resource) -> str:
        return f"patient={_patient(sample)}" + (f"&{extra(sample)}" if extra else "")

    def matches(sample: Resource, resource: Resource) -> bool:
        same = _patient(resource) == _patient(sample)
        return same and (match is None or match(sample, resource))

    return query, matches


def _category(sample: Resource) -> str:
    return f"category={_first_code(sample.get('category'))}"


def _same_category(sample: Resource, r: Resource) -> bool:
    return _has_code(r.get("category"), _first_code(sample.get("category")))


def _code(key: str, param: str = "code") -> tuple[Query, Match]:
    return (
        lambda s: f"{param}={_first_code(s[key])}",
        lambda s, r: _has_code(r.get(key), _first_code(s[key])),
    )


def _date(*keys: str) -> tuple[Query, Match]:
    # A day holds every time on it (search.html#date): the sample's own day.
    return (lambda s: f"date={_day(s, *keys)}", lambda s, r: _day(r, *keys) == _day(s, *keys))


def _and(*parts: tuple[Query, Match]) -> tuple[Query, Match]:
    return (
        lambda s: "&".join(q(s) for q, _ in parts),
        lambda s, r: all(m(s, r) for _, m in parts),
    )


def _field(param: str, key: str) -> tuple[Query, Match]:
    return (lambda s: f"{param}={s[key]}", lambda s, r: r.get(key) == s[key])


_ID: tuple[Query, Match] = (lambda s: f"_id={s['id']}", lambda s, r: r["id"] == s["id"])
_NAME: tuple[Query, Match] = (
    lambda s: f"name={_family(s)}",
    lambda s, r: _family(r).lower().startswith(_family(s).lower()),
)
_CATEGORY: tuple[Query, Match] = (_category, _same_category)
_OBS_DATE = _date("effectiveDateTime")


def _city(resource: Resource) -> str:
    address = resource["address"]
    return str((address[0] if isinstance(address, list) else address)["city"])


_ADDRESS: tuple[Query, Match] = (lambda s: f"address={_city(s)}", lambda s, r: _city(r) == _city(s))
_ORG_NAME: tuple[Query, Match] = (
    lambda s: f"name={s['name'].split()[0]}",
    lambda s, r: r["name"].startswith(s["name"].split()[0]),
)

CASES: list[tuple[str, str, tuple[Query, Match]]] = [
    ("Patient", "_id", _ID),
    (
        "Patient",
        "identifier",
        (lambda s: f"identifier={_identifier(s)}", lambda s, r: _identifier(s) in _idents(r)),
    ),
    ("Patient", "name", _NAME),
    ("Patient", "birthdate+name", _and(_field("birthdate", "birthDate"), _NAME)),
    ("Patient", "gender+name", _and(_field("gender", "gender"), _NAME)),
    ("Observation", "patient+category", _by_patient(*_CATEGORY)),
    ("Observation", "patient+code", _by_patient(*_code("code"))),
    ("Observation", "patient+category+date", _by_patient(*_and(_CATEGORY, _OBS_DATE))),
    ("Condition", "patient", _by_patient()),
    ("Encounter", "_id", _ID),
    ("Encounter", "patient", _by_patient()),
    ("AllergyIntolerance", "patient", _by_patient()),
    ("MedicationRequest", "patient+intent", _by_patient(*_field("intent", "intent"))),
    (
        "MedicationRequest",
        "patient+intent+status",
        _by_patient(*_and(_field("intent", "intent"), _field("status", "status"))),
    ),
    ("DiagnosticReport", "patient", _by_patient()),
    ("DiagnosticReport", "patient+category", _by_patient(*_CATEGORY)),
    ("DiagnosticReport", "patient+code", _by_patient(*_code("code"))),
    (
        "DiagnosticReport",
        "patient+category+date",
        _by_patient(*_and(_CATEGORY, _date("effectiveDateTime"))),
    ),
    ("Procedure", "patient", _by_patient()),
    ("Procedure", "patient+date", _by_patient(*_date("performedDateTime"))),
    ("Immunization", "patient", _by_patient()),
    ("CarePlan", "patient+category", _by_patient(*_CATEGORY)),
    ("CareTeam", "patient+status", _by_patient(*_field("status", "status"))),
    ("Goal", "patient", _by_patient()),
    ("DocumentReference", "_id", _ID),
    ("DocumentReference", "patient", _by_patient()),
    ("DocumentReference", "patient+category", _by_patient(*_CATEGORY)),
    (
        "DocumentReference",
        "patient+category+date",
        _by_patient(*_and(_CATEGORY, _date("date"))),
    ),
    ("DocumentReference", "patient+type", _by_patient(*_code("type", "type"))),
    ("Location", "name", _ORG_NAME),
    ("Location", "address", _ADDRESS),
    ("Organization", "name", _ORG_NAME),
    ("Organization", "address", _ADDRESS),
    ("Practitioner", "name", _NAME),
    (
        "Practitioner",
        "identifier",
        (lambda s: f"identifier={_identifier(s)}", lambda s, r: _identifier(s) in _idents(r)),
    ),
    (
        "PractitionerRole",
        "specialty",
        (
            lambda s: f"specialty={_first_code(s['specialty'])}",
            lambda s, r: _has_code(r["specialty"], _first_code(s["specialty"])),
        ),
    ),
    (
        "PractitionerRole",
        "practitioner",
        (
            lambda s: f"practitioner={s['practitioner']['reference']}",
            lambda s, r: r["practitioner"] == s["practitioner"],
        ),
    ),
    ("Coverage", "patient", _by_patient()),
]


def ids(client: TestClient, url: str, headers: dict[str, str]) -> set[str]:
    response = client.get(url, headers=headers)
    assert response.status_code == 200, response.text
    entries = follow(client, url)  # the pages after the first, as a user would follow them
    return {e["resource"]["id"] for e in entries if e["search"]["mode"] == "match"}


def _samples(resources: list[Resource]) -> list[Resource]:
    # A handful spread over the data: enough to vary the values, few enough to stay quick.
    step = max(1, len(resources) // 3)
    return [*resources[::step][:3], resources[-1]]


@pytest.mark.parametrize(
    ("resource_type", "search", "case"), CASES, ids=[f"{t}?{s}" for t, s, _ in CASES]
)
def test_us_core_shall_search(
    client: TestClient, data: Data, resource_type: str, search: str, case: tuple[Query, Match]
) -> None:
    query, matches = case
    resources = data[resource_type]
    assert resources, f"no {resource_type} to search"
    for sample in _samples(resources):
        expected = {r["id"] for r in resources if matches(sample, r)}
        got = ids(client, f"/{resource_type}?{query(sample)}&_count=50", STRICT)
        assert sample["id"] in got, query(sample)
        assert got == expected, query(sample)
        # Each search narrows: none of these answers "everything of the type".
        if search != "address" and "name" not in search:
            assert len(expected) < len(resources), query(sample)


def test_revinclude_provenance_target(client: TestClient, data: Data) -> None:
    """US Core: servers SHALL support ``_revinclude=Provenance:target``."""
    patient = data["Patient"][3]
    reference = {"reference": f"Patient/{patient['id']}"}
    bundle = client.get(f"/Patient?_id={patient['id']}&_revinclude=Provenance:target").json()
    by_mode = {
        mode: {e["resource"]["id"] for e in bundle["entry"] if e["search"]["mode"] == mode}
        for mode in ("match", "include")
    }
    provenance = {p["id"] for p in data["Provenance"] if reference in p["target"]}
    assert len(provenance) == 1
    assert by_mode == {"match": {patient["id"]}, "include": provenance}


def test_practitioner_role_includes(client: TestClient, data: Data) -> None:
    role = data["PractitionerRole"][0]
    url = f"/PractitionerRole?_id={role['id']}&_include=PractitionerRole:practitioner"
    bundle = client.get(url).json()
    included = [e["resource"] for e in bundle["entry"] if e["search"]["mode"] == "include"]
    assert [f"Practitioner/{p['id']}" for p in included] == [role["practitioner"]["reference"]]


def test_patient_identifier_round_trips_as_a_user_types_it(client: TestClient) -> None:
    """The identifier a user copies from a Patient finds exactly that Patient."""
    patient = client.get("/Patient?_count=1").json()["entry"][0]["resource"]
    found = client.get(f"/Patient?identifier={_identifier(patient)}").json()
    assert [e["resource"]["id"] for e in found["entry"]] == [patient["id"]]
    assert orjson.loads(orjson.dumps(found["entry"][0]["resource"])) == patient
