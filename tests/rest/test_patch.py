"""PATCH [type]/[id] through the ASGI app on a real SQLite file:
https://hl7.org/fhir/R4/http.html#patch with JSON Patch (RFC 6902) and FHIRPath
Patch (https://hl7.org/fhir/R4/fhirpatch.html)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from starlette.testclient import TestClient

FHIR = {"Content-Type": "application/fhir+json"}
JSON_PATCH = {"Content-Type": "application/json-patch+json"}

PATIENT = b"""{"resourceType":"Patient","id":"p","active":true,
"extension":[{"url":"http://example.org/weight","valueDecimal":120.00}],
"name":[{"family":"Chalmers","given":["Peter","James"]}],
"telecom":[{"system":"phone","value":"1"},{"system":"email","value":"a@b.c"}],
"birthDate":"1974-12-25"}"""


@pytest.fixture
def api(client: TestClient) -> TestClient:
    response = client.put("/Patient/p", content=PATIENT, headers=FHIR)
    assert response.status_code == 201, response.text
    return client


def json_patch(client: TestClient, operations: list[dict[str, Any]], **headers: str):
    return client.patch(
        "/Patient/p", content=json.dumps(operations), headers={**JSON_PATCH, **headers}
    )


def operation(kind: str, path: str, **parts: Any) -> dict[str, Any]:
    items: list[dict[str, Any]] = [
        {"name": "type", "valueCode": kind},
        {"name": "path", "valueString": path},
    ]
    for name, value in parts.items():
        if name == "value":
            items.append({"name": "value", **value})
        elif isinstance(value, int):
            items.append({"name": name, "valueInteger": value})
        else:
            items.append({"name": name, "valueString": value})
    return {"name": "operation", "part": items}


def fhirpath_patch(client: TestClient, *operations: dict[str, Any], **headers: str):
    body = {"resourceType": "Parameters", "parameter": list(operations)}
    return client.patch("/Patient/p", content=json.dumps(body), headers={**FHIR, **headers})


def stored(client: TestClient) -> dict[str, Any]:
    response = client.get("/Patient/p")
    assert response.status_code == 200
    result: dict[str, Any] = response.json()
    return result


# -- JSON Patch --------------------------------------------------------------------------


def test_json_patch_operations_make_a_new_version(api: TestClient) -> None:
    response = json_patch(
        api,
        [
            {"op": "test", "path": "/active", "value": True},
            {"op": "add", "path": "/gender", "value": "male"},
            {"op": "replace", "path": "/name/0/family", "value": "Chalmer"},
            {"op": "remove", "path": "/name/0/given/1"},
            {"op": "move", "from": "/telecom/1", "path": "/telecom/0"},
            {"op": "copy", "from": "/name/0", "path": "/name/-"},
        ],
    )
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == 'W/"2"'
    assert response.headers["content-location"].endswith("/Patient/p/_history/2")
    body = response.json()
    assert body["gender"] == "male"
    assert body["name"] == [
        {"family": "Chalmer", "given": ["Peter"]},
        {"family": "Chalmer", "given": ["Peter"]},
    ]
    assert [t["system"] for t in body["telecom"]] == ["email", "phone"]
    assert stored(api) == body
    assert api.get("/Patient/p/_history/1").json()["name"][0]["family"] == "Chalmers"


def test_decimals_elsewhere_keep_their_precision(api: TestClient) -> None:
    response = json_patch(api, [{"op": "replace", "path": "/active", "value": False}])
    assert response.status_code == 200
    raw = api.get("/Patient/p").content
    assert b'"valueDecimal":120.00' in raw
    # RFC 6902 4.6 compares numbers by value: 120 tests equal to 120.00.
    same = json_patch(api, [{"op": "test", "path": "/extension/0/valueDecimal", "value": 120}])
    assert same.status_code == 200
    added = api.patch(
        "/Patient/p",
        content=b'[{"op":"add","path":"/extension/-","value":{"url":"u","valueDecimal":1.50}}]',
        headers=JSON_PATCH,
    )
    assert added.status_code == 200 and b'"valueDecimal":1.50' in api.get("/Patient/p").content


def test_a_failed_test_is_422_and_changes_nothing(api: TestClient) -> None:
    response = json_patch(
        api,
        [
            {"op": "replace", "path": "/active", "value": False},
            {"op": "test", "path": "/birthDate", "value": "2000-01-01"},
        ],
    )
    assert response.status_code == 422
    assert response.json()["resourceType"] == "OperationOutcome"
    assert "test failed" in response.json()["issue"][0]["diagnostics"]
    assert stored(api)["active"] is True and stored(api)["meta"]["versionId"] == "1"


def test_a_path_that_is_not_there_is_422_and_a_malformed_patch_400(api: TestClient) -> None:
    assert json_patch(api, [{"op": "replace", "path": "/nothing/0", "value": 1}]).status_code == 422
    assert json_patch(api, [{"op": "frobnicate", "path": "/active"}]).status_code == 400
    assert api.patch("/Patient/p", content=b'{"op":"add"}', headers=JSON_PATCH).status_code == 400


def test_a_patch_giving_an_invalid_resource_is_422_with_the_issues(api: TestClient) -> None:
    response = json_patch(api, [{"op": "replace", "path": "/birthDate", "value": "1974-13-45"}])
    assert response.status_code == 422
    diagnostics = [issue["diagnostics"] for issue in response.json()["issue"]]
    assert "The patched resource would not be valid" in diagnostics[0]
    assert any("1974-13-45" in d for d in diagnostics[1:])
    changed_id = json_patch(api, [{"op": "replace", "path": "/id", "value": "q"}])
    assert changed_id.status_code == 422
    assert stored(api)["meta"]["versionId"] == "1"


def test_a_patch_that_changes_nothing_keeps_the_version(api: TestClient) -> None:
    response = json_patch(api, [{"op": "replace", "path": "/active", "value": True}])
    assert response.status_code == 200 and response.headers["etag"] == 'W/"1"'
    assert len(api.get("/Patient/p/_history").json()["entry"]) == 1


def test_if_match_and_missing_and_deleted_resources(api: TestClient) -> None:
    change = [{"op": "replace", "path": "/active", "value": False}]
    assert json_patch(api, change, **{"If-Match": 'W/"2"'}).status_code == 412
    assert json_patch(api, change, **{"If-Match": 'W/"1"'}).status_code == 200
    missing = api.patch("/Patient/nobody", content=json.dumps(change), headers=JSON_PATCH)
    assert missing.status_code == 404
    assert api.delete("/Patient/p").status_code == 204
    gone = json_patch(api, change)
    assert gone.status_code == 410 and gone.headers["etag"] == 'W/"3"'


def test_prefer_return_minimal(api: TestClient) -> None:
    response = json_patch(
        api, [{"op": "add", "path": "/gender", "value": "other"}], Prefer="return=minimal"
    )
    assert response.status_code == 200 and response.content == b""
    assert response.headers["etag"] == 'W/"2"'


def test_content_types(api: TestClient) -> None:
    change = [{"op": "replace", "path": "/active", "value": False}]
    as_xml = api.patch(
        "/Patient/p", content=json.dumps(change), headers={"Content-Type": "application/xml"}
    )
    assert as_xml.status_code == 415
    plain = api.patch(
        "/Patient/p", content=json.dumps(change), headers={"Content-Type": "application/json"}
    )
    assert plain.status_code == 200 and plain.json()["active"] is False
    # application/fhir+json means a FHIRPath Patch: a JSON Patch array is not one.
    assert api.patch("/Patient/p", content=json.dumps(change), headers=FHIR).status_code == 400


# -- FHIRPath Patch ----------------------------------------------------------------------


def test_fhirpath_patch_add_insert_delete_replace_move(api: TestClient) -> None:
    response = fhirpath_patch(
        api,
        operation("add", "Patient", name="gender", value={"valueCode": "male"}),
        operation("add", "Patient.name[0]", name="given", value={"valueString": "Jim"}),
        operation("insert", "Patient.name[0].given", index=0, value={"valueString": "Dr"}),
        operation("delete", "Patient.telecom.where(system='phone')"),
        operation("replace", "Patient.birthDate", value={"valueDate": "1975-01-01"}),
        operation("move", "Patient.name[0].given", source=0, destination=3),
        operation("delete", "Patient.photo"),  # nothing there: no error
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["gender"] == "male"
    assert body["name"][0]["given"] == ["Peter", "James", "Jim", "Dr"]
    assert body["telecom"] == [{"system": "email", "value": "a@b.c"}]
    assert body["birthDate"] == "1975-01-01"
    assert body["meta"]["versionId"] == "2"
    assert b'"valueDecimal":120.00' in api.get("/Patient/p").content


def test_fhirpath_patch_backbone_values_and_choice_types(api: TestClient) -> None:
    contact = {
        "part": [
            {"name": "name", "valueHumanName": {"family": "Next-of-kin"}},
            {"name": "telecom", "valueContactPoint": {"system": "phone", "value": "2"}},
        ]
    }
    response = fhirpath_patch(
        api,
        operation("add", "Patient", name="contact", value=contact),
        operation("add", "Patient", name="deceased", value={"valueBoolean": False}),
        operation("replace", "Patient.deceased", value={"valueDateTime": "2020-02-02"}),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["contact"] == [
        {"name": {"family": "Next-of-kin"}, "telecom": [{"system": "phone", "value": "2"}]}
    ]
    assert body["deceasedDateTime"] == "2020-02-02" and "deceasedBoolean" not in body


@pytest.mark.parametrize(
    ("op", "status"),
    [
        (operation("replace", "Patient.telecom", value={"valueString": "x"}), 422),  # 2 matches
        (operation("replace", "Patient.photo", value={"valueString": "x"}), 422),  # none
        (operation("add", "Patient", name="active", value={"valueBoolean": False}), 422),
        (operation("add", "Patient", name="colour", value={"valueString": "red"}), 422),
        (operation("insert", "Patient.name[0].given", index=5, value={"valueString": "x"}), 422),
        (operation("move", "Patient.telecom", source=0, destination=9), 422),
        (operation("upsert", "Patient"), 400),
        (operation("replace", "Patient.name.frob()", value={"valueString": "x"}), 400),
        (operation("add", "Patient", name="gender"), 400),  # no value
    ],
)
def test_fhirpath_patch_failures_change_nothing(
    api: TestClient, op: dict[str, Any], status: int
) -> None:
    response = fhirpath_patch(api, op)
    assert response.status_code == status, response.text
    assert response.json()["resourceType"] == "OperationOutcome"
    assert stored(api)["meta"]["versionId"] == "1"


def test_fhirpath_patch_if_match(api: TestClient) -> None:
    op = operation("replace", "Patient.active", value={"valueBoolean": False})
    assert fhirpath_patch(api, op, **{"If-Match": 'W/"9"'}).status_code == 412
    assert fhirpath_patch(api, op, **{"If-Match": 'W/"1"'}).status_code == 200
