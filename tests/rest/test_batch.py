"""POST [base] with batch and transaction Bundles through the ASGI app on a real
SQLite file: https://hl7.org/fhir/R4/http.html#transaction and #transaction-response."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from carebundle.cli import main as carebundle
from starlette.testclient import TestClient

from firehouse.settings import Settings

FHIR = {"Content-Type": "application/fhir+json"}
BASE = "http://fhir.test"
LOCATION = re.compile(rf"{BASE}/([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]+)/_history/(\d+)")
INSTANT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z")


def entry(method: str, url: str, resource: Any = None, full_url: str | None = None, **request: Any):
    item: dict[str, Any] = {"request": {"method": method, "url": url, **request}}
    if resource is not None:
        item["resource"] = resource
    if full_url is not None:
        item["fullUrl"] = full_url
    return item


def bundle(kind: str, *entries: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": kind, "entry": list(entries)}


def post(client: TestClient, body: Any, **headers: str):
    return client.post("/", content=json.dumps(body), headers={**FHIR, **headers})


def observation(**extra: Any) -> dict[str, Any]:
    return {"resourceType": "Observation", "status": "final", "code": {"text": "x"}, **extra}


def references(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "reference" and isinstance(item, str):
                yield item
            else:
                yield from references(item)
    elif isinstance(value, list):
        for item in value:
            yield from references(item)


# -- carebundle: real transaction Bundles ------------------------------------------------


@pytest.fixture(scope="module")
def care_bundles(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    out = tmp_path_factory.mktemp("carebundle")
    args = ["generate", "--seed", "5", "--count", "10", "--profile", "mixed", "--out", str(out)]
    assert carebundle(args) == 0
    return [json.loads(path.read_text()) for path in sorted(out.glob("*.json"))]


def test_carebundle_transactions_load_with_every_reference_resolvable(
    client: TestClient, care_bundles: list[dict[str, Any]]
) -> None:
    created: dict[str, dict[str, Any]] = {}
    for sent in care_bundles:
        response = post(client, sent)
        assert response.status_code == 200, response.text
        answer = response.json()
        assert answer["type"] == "transaction-response"
        assert len(answer["entry"]) == len(sent["entry"])
        for request_entry, answered in zip(sent["entry"], answer["entry"], strict=True):
            result = answered["response"]
            assert result["status"] == "201 Created"
            match = LOCATION.fullmatch(result["location"])
            assert match is not None, result["location"]
            # In the request's order: each answer is about the resource its request sent.
            assert match[1] == request_entry["resource"]["resourceType"]
            assert match[3] == "1" and result["etag"] == 'W/"1"'
            assert INSTANT.fullmatch(result["lastModified"])
            assert answered["resource"]["id"] == match[2]
            created[f"{match[1]}/{match[2]}"] = answered["resource"]
    assert len(created) == sum(len(b["entry"]) for b in care_bundles)
    resolved = 0
    for key, resource in created.items():
        assert client.get(f"/{key}").json() == resource
        for reference in references(resource):
            assert not reference.startswith("urn:"), f"{key} still points at {reference}"
            if not reference.startswith("#"):
                assert reference in created, f"{key} points at {reference}, not created"
                resolved += 1
    assert resolved > len(created)  # every Observation points at its patient and more
    # Indexed as they were written: a search on a reference finds the patient's data.
    patient = next(k for k in created if k.startswith("Patient/"))
    found = client.get("/Observation", params={"subject": patient, "_count": "1000"}).json()
    expected = sum(
        1
        for key, r in created.items()
        if key.startswith("Observation/") and r.get("subject", {}).get("reference") == patient
    )
    assert len(found.get("entry", [])) == expected > 0


# -- transaction failures ----------------------------------------------------------------


def test_a_failed_transaction_is_one_outcome_naming_the_entry_and_stores_nothing(
    client: TestClient,
) -> None:
    invalid = bundle(
        "transaction",
        entry("POST", "Patient", {"resourceType": "Patient"}, "urn:uuid:p"),
        entry("POST", "Observation", observation(subject={"reference": "urn:uuid:p"})),
        entry("POST", "Observation", observation()),
        entry("POST", "Observation", observation(effectiveDateTime="2020-13-45")),
    )
    response = post(client, invalid)
    assert response.status_code == 400
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    [issue] = outcome["issue"]
    assert issue["expression"] == ["Bundle.entry[3]", "Bundle.entry[3].resource.effectiveDateTime"]
    assert issue["diagnostics"].startswith("Bundle.entry[3] (POST Observation): Invalid dateTime")
    client.put("/Patient/known", content=b'{"resourceType":"Patient","id":"known"}', headers=FHIR)
    stale = bundle(
        "transaction",
        entry("POST", "Observation", observation(subject={"reference": "Patient/known"})),
        entry("PUT", "Patient/known", {"resourceType": "Patient", "id": "known"}, ifMatch='W/"4"'),
    )
    response = post(client, stale)
    assert response.status_code == 412
    assert response.json()["issue"][0]["expression"] == ["Bundle.entry[1]"]
    assert client.get("/Observation").json().get("entry", []) == []
    assert client.get("/Patient").json()["entry"][0]["resource"]["id"] == "known"


def test_post_base_takes_only_batch_and_transaction_bundles(client: TestClient) -> None:
    not_a_bundle = post(client, {"resourceType": "Patient"})
    assert not_a_bundle.status_code == 400
    collection = post(client, bundle("collection"))
    assert collection.status_code == 400
    assert "batch or transaction" in collection.json()["issue"][0]["diagnostics"]
    assert client.post("/", content=b"{", headers=FHIR).status_code == 400
    assert post(client, bundle("batch")).json()["type"] == "batch-response"


def test_more_entries_than_the_setting_allows_is_413(tmp_path: Path) -> None:
    from firehouse.app import create_app

    settings = Settings(database=f"sqlite:///{tmp_path / 'db.sqlite'}", max_bundle_entries=2)
    with TestClient(create_app(settings), base_url=BASE) as small:
        three = bundle("batch", *[entry("GET", "Patient/x")] * 3)
        response = post(small, three)
        assert response.status_code == 413
        assert "at most 2" in response.json()["issue"][0]["diagnostics"]
        assert post(small, bundle("batch", *[entry("GET", "Patient/x")] * 2)).status_code == 200


# -- batch -------------------------------------------------------------------------------


def test_batch_response_reports_each_entry(client: TestClient) -> None:
    client.put("/Patient/p", content=b'{"resourceType":"Patient","id":"p"}', headers=FHIR)
    response = post(
        client,
        bundle(
            "batch",
            entry("POST", "Observation", observation()),
            entry("PUT", "Patient/p", {"resourceType": "Patient", "id": "p"}, ifMatch='W/"3"'),
            entry("GET", "Patient/nobody"),
            entry("PUT", "Patient/p", {"resourceType": "Patient", "id": "p", "active": True}),
            entry("PUT", "Patient/new", {"resourceType": "Patient", "id": "new"}),
            entry("DELETE", "Patient/new"),
            entry("GET", "Patient/p"),
            entry("HEAD", "Patient/p"),
        ),
    )
    assert response.status_code == 200
    answer = response.json()
    assert answer["type"] == "batch-response"
    statuses = [e["response"]["status"] for e in answer["entry"]]
    assert statuses == [
        "201 Created",
        "412 Precondition Failed",
        "404 Not Found",
        "200 OK",
        "201 Created",
        "204 No Content",
        "200 OK",
        "200 OK",
    ]
    failed = answer["entry"][1]["response"]["outcome"]
    assert failed["resourceType"] == "OperationOutcome"
    assert "the current version is 1" in failed["issue"][0]["diagnostics"]
    updated = answer["entry"][3]
    assert updated["response"]["location"] == f"{BASE}/Patient/p/_history/2"
    assert updated["response"]["etag"] == 'W/"2"' and updated["resource"]["active"] is True
    assert answer["entry"][5]["response"]["etag"] == 'W/"2"'  # the deletion's version
    assert answer["entry"][6]["resource"]["meta"]["versionId"] == "2"
    assert "resource" not in answer["entry"][7]  # HEAD: headers only
    assert client.get("/Patient/new").status_code == 410


def test_prefer_return_shapes_every_write_entry(client: TestClient) -> None:
    sent = bundle("transaction", entry("POST", "Observation", observation()))
    minimal = post(client, sent, Prefer="return=minimal").json()["entry"][0]
    assert "resource" not in minimal and minimal["response"]["status"] == "201 Created"
    outcome = post(client, sent, Prefer="return=OperationOutcome").json()["entry"][0]
    assert "resource" not in outcome
    assert outcome["response"]["outcome"]["issue"][0]["severity"] == "information"
    full = post(client, sent).json()["entry"][0]
    assert full["resource"]["resourceType"] == "Observation"
    assert full["fullUrl"] == f"{BASE}/Observation/{full['resource']['id']}"


def test_patch_conditional_and_search_entries_through_the_api(client: TestClient) -> None:
    patient = {
        "resourceType": "Patient",
        "id": "ada",
        "identifier": [{"system": "http://ids", "value": "ada"}],
    }
    client.put("/Patient/ada", content=json.dumps(patient), headers=FHIR)
    operations = [{"op": "add", "path": "/gender", "value": "female"}]
    binary = {
        "resourceType": "Binary",
        "contentType": "application/json-patch+json",
        "data": base64.b64encode(json.dumps(operations).encode()).decode(),
    }
    response = post(
        client,
        bundle(
            "transaction",
            entry(
                "POST",
                "Observation",
                observation(subject={"reference": "Patient?identifier=http://ids|ada"}),
            ),
            entry("PATCH", "Patient/ada", binary, ifMatch='W/"1"'),
            entry("POST", "Patient", {"resourceType": "Patient"}, ifNoneExist="identifier=ada"),
            entry("GET", "Observation?subject=Patient/ada"),
        ),
    )
    assert response.status_code == 200, response.text
    answers = response.json()["entry"]
    assert [a["response"]["status"] for a in answers] == [
        "201 Created",
        "200 OK",
        "200 OK",
        "200 OK",
    ]
    assert answers[0]["resource"]["subject"] == {"reference": "Patient/ada"}
    assert answers[1]["resource"]["gender"] == "female"
    # POSTs run before PATCHes: the conditional create matched version 1.
    assert answers[2]["response"]["location"] == f"{BASE}/Patient/ada/_history/1"
    assert answers[3]["resource"]["type"] == "searchset"
    assert len(client.get("/Patient").json()["entry"]) == 1


def test_the_capability_statement_lists_batch_transaction_and_patch(client: TestClient) -> None:
    statement = client.get("/metadata").json()
    assert statement["patchFormat"] == ["application/json-patch+json", "application/fhir+json"]
    rest = statement["rest"][0]
    system = {i["code"] for i in rest["interaction"]}
    assert {"batch", "transaction"} <= system
    patient = next(r for r in rest["resource"] if r["type"] == "Patient")
    assert "patch" in {i["code"] for i in patient["interaction"]}
