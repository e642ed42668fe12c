"""A ``patient/`` token stays inside its patient's compartment: every escape is refused or filtered.

https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html#patient-specific-scopes
and https://hl7.org/fhir/R4/compartmentdefinition-patient.html. Patient p1 is
the launch context; p2 is someone else. o3 is p1's Observation that names p2
as a performer, so it is in both compartments and its ``performer`` points out.
"""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.auth.conftest import FHIR, Token

ADMIN = "user/*.cruds"
CODE = {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]}
OTHER_CODE = {"coding": [{"system": "http://loinc.org", "code": "2951-2"}]}

RESOURCES: list[dict[str, Any]] = [
    {"resourceType": "Patient", "id": "p1", "name": [{"family": "One"}]},
    {"resourceType": "Patient", "id": "p2", "name": [{"family": "Two"}]},
    {"resourceType": "Practitioner", "id": "dr", "name": [{"family": "Who"}]},
    {
        "resourceType": "Observation",
        "id": "o1",
        "status": "final",
        "code": CODE,
        "subject": {"reference": "Patient/p1"},
        "performer": [{"reference": "Practitioner/dr"}],
    },
    {
        "resourceType": "Observation",
        "id": "o2",
        "status": "final",
        "code": OTHER_CODE,
        "subject": {"reference": "Patient/p2"},
    },
    {
        "resourceType": "Observation",
        "id": "o3",
        "status": "final",
        "code": CODE,
        "subject": {"reference": "Patient/p1"},
        "performer": [{"reference": "Patient/p2"}],
    },
]


@pytest.fixture
def data(smart_client: TestClient, token: Token) -> TestClient:
    admin = {**token(ADMIN), **FHIR}
    for resource in RESOURCES:
        url = f"/{resource['resourceType']}/{resource['id']}"
        response = smart_client.put(url, json=resource, headers=admin)
        assert response.status_code == 201, response.text
    return smart_client


def ids(bundle: dict[str, Any], mode: str | None = None) -> set[str]:
    return {
        f"{e['resource']['resourceType']}/{e['resource']['id']}"
        for e in bundle.get("entry", [])
        if mode is None or e["search"]["mode"] == mode
    }


def assert_403(response: Any) -> None:
    assert response.status_code == 403, response.text
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["code"] == "forbidden"


READ = "launch/patient patient/*.read"
V2_READ = "launch/patient patient/*.rs"


@pytest.fixture(params=[READ, V2_READ], ids=["v1", "v2"])
def reader(request: Any, token: Token) -> dict[str, str]:
    return token(request.param, patient="p1")


def test_reads_inside_the_compartment(data: TestClient, reader: dict[str, str]) -> None:
    for url in ("/Patient/p1", "/Observation/o1", "/Observation/o3", "/Observation/o1/_history/1"):
        assert data.get(url, headers=reader).status_code == 200, url
    assert data.get("/Patient/p1/_history", headers=reader).status_code == 200


@pytest.mark.parametrize(
    "url",
    [
        "/Patient/p2",
        "/Observation/o2",
        "/Observation/o2/_history/1",
        "/Observation/o2/_history",
        "/Practitioner/dr",  # not in any patient's compartment
        "/Observation/_history",
        "/_history",
        "/",  # a system search without _type
    ],
)
def test_reads_outside_are_refused(data: TestClient, reader: dict[str, str], url: str) -> None:
    assert_403(data.get(url, headers=reader))


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("/Observation", {"Observation/o1", "Observation/o3"}),
        ("/Observation?subject=Patient/p2", set()),
        ("/Observation?patient=p2", set()),
        ("/Observation?code=2951-2", set()),
        ("/Patient", {"Patient/p1"}),
        ("/Patient?_id=p2", set()),
        # o3 is in both compartments (p2 performed it), so p1 may see it; o2 stays hidden
        ("/Patient/p2/Observation", {"Observation/o3"}),
        ("/Patient/p1/Observation", {"Observation/o1", "Observation/o3"}),
        ("/?_type=Observation,Patient", {"Observation/o1", "Observation/o3", "Patient/p1"}),
        # chains and _has reach into other resources: still only p1's data comes back
        ("/Observation?subject:Patient.name=Two", set()),
        ("/Patient?_has:Observation:subject:code=2951-2", set()),
        # p2 performed o3: _has finds p2, the confinement drops it
        ("/Patient?_has:Observation:performer:code=8480-6", set()),
        ("/Patient?_has:Observation:subject:code=8480-6", {"Patient/p1"}),
    ],
)
def test_searches_are_confined(
    data: TestClient, reader: dict[str, str], query: str, expected: set[str]
) -> None:
    response = data.get(query, headers=reader)
    assert response.status_code == 200, response.text
    assert ids(response.json(), "match") == expected


def test_includes_never_leave_the_compartment(data: TestClient, reader: dict[str, str]) -> None:
    bundle = data.get(
        "/Observation?_id=o3&_include=Observation:performer&_include=Observation:subject",
        headers=reader,
    ).json()
    assert ids(bundle, "include") == {"Patient/p1"}  # not p2, the performer
    bundle = data.get(
        "/Patient?_revinclude=Observation:subject&_revinclude=Observation:performer",
        headers=reader,
    ).json()
    assert ids(bundle) == {"Patient/p1", "Observation/o1", "Observation/o3"}
    bundle = data.get("/Observation?_id=o1&_include=Observation:performer", headers=reader).json()
    assert ids(bundle, "include") == set()  # the Practitioner is in no compartment


WRITER = "launch/patient patient/*.cruds"


def _obs(subject: str, id: str | None = None) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "code": CODE,
        "subject": {"reference": subject},
    }
    if id is not None:
        resource["id"] = id
    return resource


def test_writes_must_stay_in_the_compartment(data: TestClient, token: Token) -> None:
    writer = {**token(WRITER, patient="p1"), **FHIR}
    admin = token(ADMIN)
    before = data.get("/Observation?_total=accurate", headers=admin).json()["total"]

    assert data.post("/Observation", json=_obs("Patient/p1"), headers=writer).status_code == 201
    assert_403(data.post("/Observation", json=_obs("Patient/p2"), headers=writer))
    assert_403(data.put("/Observation/o2", json=_obs("Patient/p1", "o2"), headers=writer))
    # Moving one's own resource to someone else is a write outside too.
    assert_403(data.put("/Observation/o1", json=_obs("Patient/p2", "o1"), headers=writer))
    assert_403(data.put("/Observation/new1", json=_obs("Patient/p2", "new1"), headers=writer))
    assert_403(data.delete("/Observation/o2", headers=writer))
    patch = [{"op": "replace", "path": "/status", "value": "amended"}]
    headers = {**writer, "Content-Type": "application/json-patch+json"}
    assert_403(data.patch("/Observation/o2", json=patch, headers=headers))
    assert_403(data.delete("/Observation?code=2951-2", headers=writer))
    assert_403(data.post("/Patient", json={"resourceType": "Patient"}, headers=writer))

    after = data.get("/Observation?_total=accurate", headers=admin).json()["total"]
    assert after == before + 1
    assert data.get("/Observation/o2", headers=admin).json()["status"] == "final"
    assert data.get("/Observation/o1", headers=admin).json()["subject"]["reference"] == "Patient/p1"


def _bundle(kind: str, *entries: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": kind, "entry": list(entries)}


def _get(url: str) -> dict[str, Any]:
    return {"request": {"method": "GET", "url": url}}


def test_batch_entries_are_confined_one_by_one(data: TestClient, token: Token) -> None:
    writer = {**token(WRITER, patient="p1"), **FHIR}
    bundle = _bundle(
        "batch",
        _get("Observation/o1"),
        _get("Observation/o2"),
        _get("Observation/o2/_history/1"),
        _get("Observation?subject=Patient/p2"),
        {"request": {"method": "DELETE", "url": "Observation/o2"}},
        {"request": {"method": "DELETE", "url": "Observation?code=2951-2"}},
        {"request": {"method": "POST", "url": "Observation"}, "resource": _obs("Patient/p2")},
        {
            "request": {"method": "PUT", "url": "Observation/o2"},
            "resource": _obs("Patient/p1", "o2"),
        },
        _get("Observation/_history"),
    )
    response = data.post("/", json=bundle, headers=writer)
    assert response.status_code == 200, response.text
    entries = response.json()["entry"]
    statuses = [e["response"]["status"].split()[0] for e in entries]
    assert statuses[:8] == ["200", "403", "403", "200", "403", "403", "403", "403"]
    assert entries[3]["resource"].get("entry", []) == []  # the search found nothing outside
    assert "resource" not in entries[1]
    assert data.get("/Observation/o2", headers=token(ADMIN)).status_code == 200


@pytest.mark.parametrize(
    "entry",
    [
        {"request": {"method": "POST", "url": "Observation"}, "resource": _obs("Patient/p2")},
        {"request": {"method": "DELETE", "url": "Observation/o2"}},
        {"request": {"method": "DELETE", "url": "Observation?code=2951-2"}},
        _get("Observation/o2"),
    ],
    ids=["create-outside", "delete-outside", "conditional-delete-outside", "read-outside"],
)
def test_a_transaction_with_one_escape_changes_nothing(
    data: TestClient, token: Token, entry: dict[str, Any]
) -> None:
    writer = {**token(WRITER, patient="p1"), **FHIR}
    inside = {"request": {"method": "POST", "url": "Observation"}, "resource": _obs("Patient/p1")}
    admin = token(ADMIN)
    before = data.get("/Observation?_total=accurate", headers=admin).json()["total"]
    assert_403(data.post("/", json=_bundle("transaction", inside, entry), headers=writer))
    assert data.get("/Observation?_total=accurate", headers=admin).json()["total"] == before
    assert data.get("/Observation/o2", headers=admin).status_code == 200


# -- scopes -------------------------------------------------------------------------------


def test_scope_escalation_is_refused(data: TestClient, token: Token) -> None:
    obs_read = {**token("user/Observation.read"), **FHIR}
    assert data.get("/Observation", headers=obs_read).status_code == 200
    assert data.get("/Observation/o2", headers=obs_read).status_code == 200
    assert_403(data.post("/Observation", json=_obs("Patient/p1"), headers=obs_read))
    assert_403(data.put("/Observation/o1", json=_obs("Patient/p1", "o1"), headers=obs_read))
    assert_403(data.delete("/Observation/o1", headers=obs_read))
    assert_403(data.get("/Patient/p1", headers=obs_read))  # another resource type
    assert_403(data.get("/Patient", headers=obs_read))
    assert_403(data.get("/?_type=Patient", headers=obs_read))
    # An include of a type the token cannot read is dropped, not returned.
    bundle = data.get("/Observation?_id=o1&_include=Observation:subject", headers=obs_read).json()
    assert ids(bundle) == {"Observation/o1"}
    batch = _bundle(
        "batch",
        _get("Observation/o1"),
        _get("Patient/p1"),
        {"request": {"method": "POST", "url": "Observation"}, "resource": _obs("Patient/p1")},
    )
    batch["entry"].append(_get("Observation?subject:Patient.name=Two"))
    # A search entry's include of a type the token cannot read is dropped, as over GET.
    batch["entry"].append(_get("Observation?_id=o1&_include=Observation:subject"))
    entries = data.post("/", json=batch, headers=obs_read).json()["entry"]
    statuses = [e["response"]["status"].split()[0] for e in entries]
    assert statuses == ["200", "403", "403", "403", "200"]
    assert ids(entries[4]["resource"]) == {"Observation/o1"}


@pytest.mark.parametrize(
    ("scope", "allowed", "refused"),
    [
        (
            "user/Observation.rs",
            ["GET /Observation", "GET /Observation/o1"],
            ["DELETE /Observation/o1"],
        ),
        ("user/Observation.r", ["GET /Observation/o1"], ["GET /Observation"]),
        ("user/Observation.s", ["GET /Observation"], ["GET /Observation/o1"]),
        ("user/Observation.d", ["DELETE /Observation/o1"], ["GET /Observation/o1"]),
        ("user/*.cruds", ["GET /Patient/p2", "DELETE /Observation/o1"], []),
        ("system/*.read", ["GET /Patient/p2", "GET /_history"], ["DELETE /Observation/o1"]),
        # patient/ scopes without a patient in the launch context grant nothing
        ("patient/*.read", [], ["GET /Patient/p1", "GET /Observation"]),
        # granular v2 scopes are not honoured (never wider than asked)
        ("user/Observation.rs?category=laboratory", [], ["GET /Observation"]),
        ("openid fhirUser launch/patient", [], ["GET /Patient/p1"]),
        ("user/Observation.sr", [], ["GET /Observation"]),  # letters out of order: invalid
    ],
)
def test_scope_table(
    data: TestClient, token: Token, scope: str, allowed: list[str], refused: list[str]
) -> None:
    headers = token(scope)
    for call in allowed:
        method, url = call.split()
        response = data.request(method, url, headers=headers)
        assert response.status_code in (200, 204), (scope, call, response.text)
    for call in refused:
        method, url = call.split()
        assert_403(data.request(method, url, headers=headers))


def test_conditional_create_cannot_fish_outside(data: TestClient, token: Token) -> None:
    writer = {**token(WRITER, patient="p1"), **FHIR, "If-None-Exist": "code=2951-2"}
    assert_403(data.post("/Observation", json=_obs("Patient/p1"), headers=writer))
    # Without search permission a conditional create would still show the match.
    creator = {**token("user/Observation.c"), **FHIR, "If-None-Exist": "code=2951-2"}
    assert_403(data.post("/Observation", json=_obs("Patient/p1"), headers=creator))


@pytest.mark.parametrize(
    "query",
    [
        "/Observation?subject:Patient.name=Two",
        "/Observation?subject.name=Two",  # no target type: could be any type
        "/Observation?_has:Provenance:target:agent=x",
        "/Observation?subject:Patient._has:Observation:subject:code=x",
    ],
)
def test_chains_and_has_need_scopes_on_what_they_look_into(
    data: TestClient, token: Token, query: str
) -> None:
    assert_403(data.get(query, headers=token("user/Observation.rs")))


def test_chains_into_granted_types_work(data: TestClient, token: Token) -> None:
    headers = token("user/Observation.rs user/Patient.rs")
    response = data.get("/Observation?subject:Patient.name=Two", headers=headers)
    assert response.status_code == 200
    assert ids(response.json()) == {"Observation/o2"}


def test_instance_history_with_a_version_outside_is_refused(data: TestClient, token: Token) -> None:
    admin = {**token(ADMIN), **FHIR}
    # o2 was p2's; an administrator moves it to p1: its first version stays p2's.
    moved = data.put("/Observation/o2", json=_obs("Patient/p1", "o2"), headers=admin)
    assert moved.status_code == 200
    reader = token(READ, patient="p1")
    assert data.get("/Observation/o2", headers=reader).status_code == 200
    assert_403(data.get("/Observation/o2/_history/1", headers=reader))
    assert data.get("/Observation/o2/_history/2", headers=reader).status_code == 200
    assert_403(data.get("/Observation/o2/_history", headers=reader))
    assert data.get("/Observation/o1/_history", headers=reader).status_code == 200
