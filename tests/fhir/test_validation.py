"""Structural validation: what a client sees when it sends a resource."""

from __future__ import annotations

import string
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firehouse.errors import Issue
from firehouse.fhir import definitions
from firehouse.fhir.json import JsonDecimal, loads
from firehouse.fhir.validation import validate_resource

# --- carebundle: realistic resources must pass -----------------------------------------


def _carebundle(out: Path, *extra: str) -> Path:
    command = [sys.executable, "-m", "carebundle.cli", "generate", "--seed", "7", "--count", "20"]
    subprocess.run([*command, "--profile", "mixed", "--out", str(out), *extra], check=True)
    return out


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    out = _carebundle(tmp_path_factory.mktemp("bundles"))
    return [loads(path.read_bytes()) for path in sorted(out.glob("*.json"))]


@pytest.fixture(scope="module")
def ndjson_resources(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    out = _carebundle(tmp_path_factory.mktemp("ndjson"), "--format", "ndjson")
    return [
        loads(line)
        for path in sorted(out.glob("*.ndjson"))
        for line in path.read_bytes().splitlines()
        if line.strip()
    ]


def _failures(resources: list[dict[str, Any]]) -> dict[str, list[str]]:
    failures = {}
    for resource in resources:
        issues = validate_resource(resource)
        if issues:
            name = f"{resource.get('resourceType')}/{resource.get('id')}"
            failures[name] = [issue.diagnostics for issue in issues]
    return failures


def test_every_carebundle_bundle_is_valid(bundles: list[dict[str, Any]]) -> None:
    assert len(bundles) == 20
    assert _failures(bundles) == {}


def test_every_carebundle_entry_resource_is_valid_on_its_own(
    bundles: list[dict[str, Any]],
) -> None:
    resources = [entry["resource"] for bundle in bundles for entry in bundle["entry"]]
    assert len({r["resourceType"] for r in resources}) >= 8
    assert _failures(resources) == {}


def test_every_carebundle_bulk_resource_is_valid(ndjson_resources: list[dict[str, Any]]) -> None:
    assert len(ndjson_resources) > 800
    assert _failures(ndjson_resources) == {}


# --- valid edge cases: no false alarms -----------------------------------------------

OBSERVATION = '"resourceType": "Observation", "status": "final", "code": {"text": "x"}'
EXT = '{"url": "http://example.org/x", "valueBoolean": true}'

VALID = {
    "minimal-patient": '{"resourceType": "Patient"}',
    "decimal-keeps-precision": f'{{{OBSERVATION}, "valueQuantity": {{"value": 120.00}}}}',
    "decimal-with-exponent": f'{{{OBSERVATION}, "valueQuantity": {{"value": 1.5e3}}}}',
    "decimal-beyond-64-bits": (
        f'{{{OBSERVATION}, "valueQuantity": {{"value": 123456789012345678901}}}}'
    ),
    "integer-extremes": '{"resourceType": "Patient", "multipleBirthInteger": -2147483648}',
    "partial-dates": (
        '{"resourceType": "Patient", "birthDate": "1970-01", "deceasedDateTime": "2020"}'
    ),
    "leap-day": '{"resourceType": "Patient", "birthDate": "2020-02-29"}',
    "leap-second": f'{{{OBSERVATION}, "effectiveDateTime": "2016-12-31T23:59:60Z"}}',
    "no-break-space-in-string": (
        '{"resourceType": "Patient", "name": [{"text": "Anne\\u00a0Marie"}]}'
    ),
    "extension-only-primitive": (
        f'{{"resourceType": "Patient", "_birthDate": {{"extension": [{EXT}]}}}}'
    ),
    "required-via-extension-only": (
        '{"resourceType": "Observation", "_status": {"extension": [' + EXT + "]},"
        ' "code": {"text": "x"}}'
    ),
    "parallel-arrays-with-null": (
        '{"resourceType": "Patient", "name": [{"given": ["Ann", null, "Bo"],'
        f' "_given": [null, {{"extension": [{EXT}]}}, {{"id": "g3"}}]}}]}}'
    ),
    "base64-with-line-breaks": (
        '{"resourceType": "Binary", "contentType": "text/plain", "data": "aGVs\\nbG8="}'
    ),
    "nested-extensions": (
        '{"resourceType": "Patient", "extension": [{"url": "http://e.org/a",'
        f' "extension": [{EXT}]}}]}}'
    ),
    "contained-resource": (
        '{"resourceType": "Patient", "contained": [{"resourceType": "Organization",'
        ' "id": "org1", "name": "Acme"}], "managingOrganization": {"reference": "#org1"}}'
    ),
    "questionnaire-nested-items": (
        '{"resourceType": "Questionnaire", "status": "draft", "item": [{"linkId": "1",'
        ' "type": "group", "item": [{"linkId": "1.1", "type": "string"}]}]}'
    ),
    "component-values": (
        f'{{{OBSERVATION}, "component": [{{"code": {{"text": "sys"}},'
        ' "valueQuantity": {"value": 120}}, {"code": {"text": "note"}, "valueString": "ok"}]}'
    ),
    "bundle-with-entries": (
        '{"resourceType": "Bundle", "type": "collection", "entry": [{"fullUrl": "urn:uuid:'
        'c757873d-ec9a-4326-a141-556f43239520", "resource": {"resourceType": "Patient"}}]}'
    ),
}


@pytest.mark.parametrize("text", VALID.values(), ids=VALID.keys())
def test_valid_resources_have_no_issues(text: str) -> None:
    assert validate_resource(loads(text)) == []


def test_decimal_is_validated_as_the_literal_text() -> None:
    resource = loads(f'{{{OBSERVATION}, "valueQuantity": {{"value": 120.00}}}}')
    assert resource["valueQuantity"]["value"] == JsonDecimal("120.00")
    assert validate_resource(resource) == []


# --- broken resources: each one issue, at the right place ---------------------------

PATIENT = '"resourceType": "Patient"'

# id: (JSON text, expected FHIRPath, a word of the message, issue code)
BROKEN: dict[str, tuple[str, str, str, str]] = {
    "unknown-element": (f'{{{PATIENT}, "foo": 1}}', "Patient.foo", "Unknown element", "structure"),
    "unknown-nested-element": (
        f'{{{PATIENT}, "name": [{{"family": "X", "nickname": "Y"}}]}}',
        "Patient.name[0].nickname",
        "Unknown element 'nickname'",
        "structure",
    ),
    "string-for-object": (
        f'{{{PATIENT}, "maritalStatus": "married"}}',
        "Patient.maritalStatus",
        "Expected an object",
        "structure",
    ),
    "number-for-string": (f'{{{PATIENT}, "gender": 1}}', "Patient.gender", "string", "structure"),
    "array-item-wrong-type": (
        f'{{{PATIENT}, "name": [{{"given": ["Ann", 7]}}]}}',
        "Patient.name[0].given[1]",
        "Expected a string",
        "structure",
    ),
    "nested-array": (
        f'{{{PATIENT}, "name": [[{{"family": "X"}}]]}}',
        "Patient.name[0]",
        "Expected an object",
        "structure",
    ),
    "bad-date": (
        f'{{{PATIENT}, "birthDate": "2020-13-45"}}',
        "Patient.birthDate",
        "Invalid date '2020-13-45'",
        "value",
    ),
    "date-no-such-day": (
        f'{{{PATIENT}, "birthDate": "2021-02-29"}}',
        "Patient.birthDate",
        "no such day",
        "value",
    ),
    "bad-dateTime": (
        f'{{{OBSERVATION}, "effectiveDateTime": "2020-01-01T10:00"}}',
        "Observation.effectiveDateTime",
        "Invalid dateTime",
        "value",
    ),
    "dateTime-without-timezone": (
        f'{{{OBSERVATION}, "effectiveDateTime": "2020-01-01T10:00:00"}}',
        "Observation.effectiveDateTime",
        "Invalid dateTime",
        "value",
    ),
    "bad-instant": (
        f'{{{OBSERVATION}, "issued": "2020-01-01"}}',
        "Observation.issued",
        "Invalid instant",
        "value",
    ),
    "bad-time": (
        f'{{{OBSERVATION}, "valueTime": "25:00:00"}}',
        "Observation.valueTime",
        "Invalid time",
        "value",
    ),
    "bad-code": (
        f'{{{PATIENT}, "gender": "male "}}',
        "Patient.gender",
        "Invalid code",
        "value",
    ),
    "bad-id": (f'{{{PATIENT}, "id": "a_b"}}', "Patient.id", "Invalid id", "value"),
    "id-too-long": (f'{{{PATIENT}, "id": "{"a" * 65}"}}', "Patient.id", "Invalid id", "value"),
    "bad-uri": (
        f'{{{PATIENT}, "implicitRules": "http://a b"}}',
        "Patient.implicitRules",
        "Invalid uri",
        "value",
    ),
    "bad-canonical": (
        f'{{{PATIENT}, "meta": {{"profile": ["http://a b"]}}}}',
        "Patient.meta.profile[0]",
        "Invalid canonical",
        "value",
    ),
    "string-for-decimal": (
        f'{{{OBSERVATION}, "valueQuantity": {{"value": "12.5"}}}}',
        "Observation.valueQuantity.value",
        "Expected a number",
        "structure",
    ),
    "boolean-for-decimal": (
        f'{{{OBSERVATION}, "valueQuantity": {{"value": true}}}}',
        "Observation.valueQuantity.value",
        "got a boolean",
        "structure",
    ),
    "string-for-boolean": (
        f'{{{PATIENT}, "active": "true"}}',
        "Patient.active",
        "true or false",
        "structure",
    ),
    "fraction-for-integer": (
        f'{{{PATIENT}, "multipleBirthInteger": 1.5}}',
        "Patient.multipleBirthInteger",
        "whole number",
        "value",
    ),
    "boolean-for-integer": (
        f'{{{PATIENT}, "multipleBirthInteger": true}}',
        "Patient.multipleBirthInteger",
        "got a boolean",
        "structure",
    ),
    "integer-out-of-range": (
        f'{{{PATIENT}, "multipleBirthInteger": 2147483648}}',
        "Patient.multipleBirthInteger",
        "between -2147483648 and 2147483647",
        "value",
    ),
    "integer-beyond-64-bits": (
        f'{{{PATIENT}, "multipleBirthInteger": 99999999999999999999}}',
        "Patient.multipleBirthInteger",
        "between",
        "value",
    ),
    "positiveInt-zero": (
        f'{{{OBSERVATION}, "valueSampledData": {{"origin": {{"value": 0}}, "period": 1,'
        ' "dimensions": 0}}',
        "Observation.valueSampledData.dimensions",
        "Invalid positiveInt 0",
        "value",
    ),
    "unsignedInt-negative": (
        f'{{{PATIENT}, "photo": [{{"size": -1}}]}}',
        "Patient.photo[0].size",
        "Invalid unsignedInt -1",
        "value",
    ),
    "bad-base64": (
        f'{{{PATIENT}, "photo": [{{"data": "abc"}}]}}',
        "Patient.photo[0].data",
        "Invalid base64Binary",
        "value",
    ),
    "control-character": (
        f'{{{PATIENT}, "name": [{{"text": "Ann\\u0007"}}]}}',
        "Patient.name[0].text",
        "control character U+0007",
        "value",
    ),
    "missing-observation-status": (
        '{"resourceType": "Observation", "code": {"text": "x"}}',
        "Observation.status",
        "Missing required element 'status'",
        "required",
    ),
    "missing-observation-code": (
        '{"resourceType": "Observation", "status": "final"}',
        "Observation.code",
        "Missing required element 'code'",
        "required",
    ),
    "missing-required-in-backbone": (
        f'{{{OBSERVATION}, "component": [{{"valueString": "x"}}]}}',
        "Observation.component[0].code",
        "Missing required",
        "required",
    ),
    "array-for-max-1": (
        f'{{{PATIENT}, "gender": ["male"]}}',
        "Patient.gender",
        "single value",
        "structure",
    ),
    "object-array-for-max-1": (
        f'{{{PATIENT}, "maritalStatus": [{{"text": "x"}}]}}',
        "Patient.maritalStatus",
        "single value",
        "structure",
    ),
    "single-for-max-star": (
        f'{{{PATIENT}, "name": {{"family": "X"}}}}',
        "Patient.name",
        "Expected an array",
        "structure",
    ),
    "primitive-single-for-max-star": (
        f'{{{PATIENT}, "name": [{{"given": "Ann"}}]}}',
        "Patient.name[0].given",
        "Expected an array",
        "structure",
    ),
    "two-choice-types": (
        f'{{{PATIENT}, "deceasedBoolean": true, "deceasedDateTime": "2020"}}',
        "Patient.deceased",
        "only one",
        "structure",
    ),
    "disallowed-choice-type": (
        f'{{{PATIENT}, "deceasedString": "yes"}}',
        "Patient.deceasedString",
        "not allowed",
        "structure",
    ),
    "null-value": (f'{{{PATIENT}, "gender": null}}', "Patient.gender", "Null", "structure"),
    "null-in-array": (
        f'{{{PATIENT}, "name": [{{"given": ["Ann", null]}}]}}',
        "Patient.name[0].given[1]",
        "Null",
        "structure",
    ),
    "empty-string": (f'{{{PATIENT}, "gender": ""}}', "Patient.gender", "Empty string", "value"),
    "empty-object": (
        f'{{{PATIENT}, "maritalStatus": {{}}}}',
        "Patient.maritalStatus",
        "Empty object",
        "structure",
    ),
    "empty-array": (f'{{{PATIENT}, "name": []}}', "Patient.name", "Empty array", "structure"),
    "contained-in-contained": (
        f'{{{PATIENT}, "contained": [{{"resourceType": "Organization", "id": "o",'
        ' "contained": [{"resourceType": "Organization", "id": "p"}]}]}',
        "Patient.contained[0].contained",
        "dom-2",
        "structure",
    ),
    "contained-with-version": (
        f'{{{PATIENT}, "contained": [{{"resourceType": "Organization", "id": "o",'
        ' "meta": {"versionId": "3"}}]}',
        "Patient.contained[0].meta.versionId",
        "dom-4",
        "structure",
    ),
    "contained-element-error": (
        f'{{{PATIENT}, "contained": [{{"resourceType": "Organization", "active": "yes"}}]}}',
        "Patient.contained[0].active",
        "true or false",
        "structure",
    ),
    "contained-unknown-type": (
        f'{{{PATIENT}, "contained": [{{"resourceType": "Organisation"}}]}}',
        "Patient.contained[0].resourceType",
        "Unknown resource type 'Organisation'",
        "value",
    ),
    "primitive-extension-not-object": (
        f'{{{PATIENT}, "_birthDate": "unknown"}}',
        "Patient.birthDate",
        "'_birthDate' must be an object",
        "structure",
    ),
    "primitive-extension-unknown-key": (
        f'{{{PATIENT}, "birthDate": "1970", "_birthDate": {{"reason": "x"}}}}',
        "Patient.birthDate.reason",
        "Unknown element 'reason'",
        "structure",
    ),
    "primitive-extension-without-url": (
        f'{{{PATIENT}, "_birthDate": {{"extension": [{{"valueCode": "unknown"}}]}}}}',
        "Patient.birthDate.extension[0].url",
        "Missing required element 'url'",
        "required",
    ),
    "parallel-arrays-both-null": (
        f'{{{PATIENT}, "name": [{{"given": ["Ann", null], "_given": [null, null]}}]}}',
        "Patient.name[0].given[1]",
        "Null",
        "structure",
    ),
    "parallel-arrays-length-mismatch": (
        f'{{{PATIENT}, "name": [{{"given": ["Ann", "Bo"], "_given": [{{"id": "x"}}]}}]}}',
        "Patient.name[0].given",
        "parallel",
        "structure",
    ),
    "parallel-array-extension-without-url": (
        f'{{{PATIENT}, "name": [{{"given": ["Ann"], "_given": [{{"extension":'
        ' [{"valueString": "x"}]}]}]}',
        "Patient.name[0].given[0].extension[0].url",
        "Missing required element 'url'",
        "required",
    ),
    "parallel-array-twin-not-array": (
        f'{{{PATIENT}, "name": [{{"given": ["Ann"], "_given": {{"id": "x"}}}}]}}',
        "Patient.name[0].given",
        "Expected an array",
        "structure",
    ),
    "unknown-element-in-backbone": (
        f'{{{PATIENT}, "contact": [{{"gender": "female", "nickname": "x"}}]}}',
        "Patient.contact[0].nickname",
        "Unknown element 'nickname'",
        "structure",
    ),
    "contained-with-security-label": (
        f'{{{PATIENT}, "contained": [{{"resourceType": "Organization", "id": "o",'
        ' "meta": {"security": [{"code": "R"}]}}]}',
        "Patient.contained[0].meta.security",
        "dom-5",
        "structure",
    ),
    "twin-of-complex-element": (
        f'{{{PATIENT}, "_name": [{{"id": "x"}}]}}',
        "Patient._name",
        "Unknown element '_name'",
        "structure",
    ),
    "unknown-resource-type": (
        '{"resourceType": "Patinet"}',
        "resourceType",
        "Unknown resource type 'Patinet'",
        "value",
    ),
    "abstract-resource-type": (
        '{"resourceType": "DomainResource"}',
        "resourceType",
        "Unknown resource type",
        "value",
    ),
    "missing-resource-type": ('{"id": "x"}', "resourceType", "Missing resourceType", "required"),
    "resource-type-not-string": (
        '{"resourceType": ["Patient"]}',
        "resourceType",
        "must be a string",
        "structure",
    ),
    "extension-without-url": (
        f'{{{PATIENT}, "extension": [{{"valueString": "x"}}]}}',
        "Patient.extension[0].url",
        "Missing required element 'url'",
        "required",
    ),
    "extension-value-and-extensions": (
        f'{{{PATIENT}, "extension": [{{"url": "http://e.org/a", "valueString": "x",'
        f' "extension": [{EXT}]}}]}}',
        "Patient.extension[0]",
        "ext-1",
        "structure",
    ),
    "extension-with-nothing": (
        f'{{{PATIENT}, "modifierExtension": [{{"url": "http://e.org/a"}}]}}',
        "Patient.modifierExtension[0]",
        "ext-1",
        "structure",
    ),
    "extension-two-values": (
        f'{{{PATIENT}, "extension": [{{"url": "http://e.org/a", "valueString": "x",'
        ' "valueBoolean": true}]}',
        "Patient.extension[0].value",
        "only one",
        "structure",
    ),
    "bundle-entry-resource-error": (
        '{"resourceType": "Bundle", "type": "collection", "entry": [{"resource": '
        f'{{{PATIENT}}}}}, {{"resource": {{{OBSERVATION}}}}}, {{"resource": {{{PATIENT},'
        ' "birthDate": "1970-02-31"}}]}',
        "Bundle.entry[2].resource.birthDate",
        "Invalid date '1970-02-31'",
        "value",
    ),
    "bundle-entry-resource-not-object": (
        '{"resourceType": "Bundle", "type": "collection", "entry": [{"resource": "Patient/1"}]}',
        "Bundle.entry[0].resource",
        "must be a JSON object",
        "structure",
    ),
    "parameters-resource-error": (
        '{"resourceType": "Parameters", "parameter": [{"name": "p", "resource":'
        f' {{{PATIENT}, "foo": 1}}}}]}}',
        "Parameters.parameter[0].resource.foo",
        "Unknown element",
        "structure",
    ),
    "deeply-nested-questionnaire-item": (
        '{"resourceType": "Questionnaire", "status": "draft", "item": [{"linkId": "1",'
        ' "type": "group", "item": [{"linkId": "2", "type": "group",'
        ' "item": [{"linkId": "3", "type": "string", "readOnly": 1}]}]}]}',
        "Questionnaire.item[0].item[0].item[0].readOnly",
        "true or false",
        "structure",
    ),
    "simple-quantity-comparator": (
        '{"resourceType": "MedicationRequest", "status": "active", "intent": "order",'
        ' "subject": {"reference": "Patient/1"}, "medicationCodeableConcept": {"text": "x"},'
        ' "dosageInstruction": [{"doseAndRate": [{"doseQuantity": {"value": 1,'
        ' "comparator": "<"}}]}]}',
        "MedicationRequest.dosageInstruction[0].doseAndRate[0].doseQuantity.comparator",
        "not allowed",
        "structure",
    ),
    "narrative-div-extension": (
        f'{{{PATIENT}, "text": {{"status": "generated", "div": "<div>x</div>",'
        ' "_div": {"id": "d"}}}',
        "Patient.text.div",
        "cannot have extensions",
        "structure",
    ),
    "reference-wrong-type": (
        f'{{{OBSERVATION}, "subject": {{"reference": 5}}}}',
        "Observation.subject.reference",
        "Expected a string",
        "structure",
    ),
}


@pytest.mark.parametrize(("text", "location", "word", "code"), BROKEN.values(), ids=BROKEN.keys())
def test_broken_resource_has_one_issue_at_the_right_place(
    text: str, location: str, word: str, code: str
) -> None:
    issues = validate_resource(loads(text))
    assert [(i.expression, i.code) for i in issues] == [((location,), code)], issues
    assert word.lower() in issues[0].diagnostics.lower()
    assert issues[0].severity == "error"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([], "A resource must be a JSON object, not an array"),
        ("Patient", "A resource must be a JSON object, not a string"),
        (None, "A resource must be a JSON object, not null"),
        (42, "A resource must be a JSON object, not a number"),
    ],
    ids=["array", "string", "null", "number"],
)
def test_non_object_body(value: object, message: str) -> None:
    assert validate_resource(value) == [Issue(message, "structure")]


def test_messages_name_the_value_and_the_place() -> None:
    issues = validate_resource(loads(f'{{{PATIENT}, "birthDate": "2020-13-45", "foo": 1}}'))
    assert sorted(i.diagnostics for i in issues) == [
        "Invalid date '2020-13-45' at Patient.birthDate",
        "Unknown element 'foo' at Patient.foo",
    ]


def test_every_issue_is_reported_not_just_the_first() -> None:
    text = (
        '{"resourceType": "Observation", "foo": 1, "valueBoolean": "yes",'
        ' "subject": [{"reference": "Patient/1"}], "issued": "yesterday"}'
    )
    locations = {i.expression[0] for i in validate_resource(loads(text))}
    assert locations == {
        "Observation.foo",
        "Observation.valueBoolean",
        "Observation.subject",
        "Observation.issued",
        "Observation.status",
        "Observation.code",
    }


def test_path_locates_a_resource_inside_another() -> None:
    resource = loads(f'{{{PATIENT}, "birthDate": "never"}}')
    issues = validate_resource(resource, path="Bundle.entry[3].resource")
    assert [i.expression for i in issues] == [("Bundle.entry[3].resource.birthDate",)]
    issues = validate_resource(loads('{"resourceType": "Nope"}'), path="Bundle.entry[0].resource")
    assert [i.expression for i in issues] == [("Bundle.entry[0].resource.resourceType",)]


def test_disallowed_choice_type_lists_the_allowed_ones() -> None:
    [issue] = validate_resource(loads(f'{{{PATIENT}, "deceasedString": "yes"}}'))
    assert "deceasedBoolean, deceasedDateTime" in issue.diagnostics


# --- properties ----------------------------------------------------------------------

_VOCABULARY = sorted(
    {key for table in definitions.structure().types.values() for key in table.properties}
)
_KNOWN = frozenset(_VOCABULARY) | {"resourceType"}


def _objects(node: Any, path: str) -> Iterator[tuple[dict[str, Any], str]]:
    """Every JSON object of a valid resource with its FHIRPath location."""
    yield node, path
    for key, value in node.items():
        child = f"{path}.{key.lstrip('_')}"
        items = value if isinstance(value, list) else [value]
        for index, item in enumerate(items):
            if isinstance(item, dict):
                yield from _objects(item, f"{child}[{index}]" if isinstance(value, list) else child)


@pytest.fixture(scope="module")
def samples(bundles: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One resource of each type from carebundle, and a whole bundle."""
    by_type: dict[str, dict[str, Any]] = {}
    for entry in bundles[0]["entry"]:
        by_type.setdefault(entry["resource"]["resourceType"], entry["resource"])
    return [*by_type.values(), bundles[1]]


unknown_keys = st.text(string.ascii_letters + string.digits + "_-", min_size=1, max_size=12).filter(
    lambda key: key.lstrip("_") not in _KNOWN
)


@settings(max_examples=150, deadline=None)
@given(data=st.data(), key=unknown_keys)
def test_an_unknown_key_anywhere_is_reported_exactly_there(
    samples: list[dict[str, Any]], data: st.DataObject, key: str
) -> None:
    resource = data.draw(st.sampled_from(samples))
    assert validate_resource(resource) == []
    objects = list(_objects(resource, resource["resourceType"]))
    target, location = data.draw(st.sampled_from(objects))
    target[key] = "x"
    try:
        issues = validate_resource(resource)
    finally:
        del target[key]
    assert [(i.expression, i.code) for i in issues] == [((f"{location}.{key}",), "structure")]


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=8)
    | st.sampled_from(["2020-01-01", "true", "urn:x", "", "a_b"])
    | st.builds(JsonDecimal, st.decimals(allow_nan=False, allow_infinity=False).map(str))
    | st.floats(),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(_VOCABULARY) | st.sampled_from(["_" + k for k in _VOCABULARY[:200]]),
            children,
            max_size=5,
        )
    ),
    max_leaves=30,
)
resource_like = st.one_of(
    json_values,
    st.builds(
        lambda resource_type, body: {**body, "resourceType": resource_type},
        st.sampled_from(sorted(definitions.resource_types())) | json_values,
        st.dictionaries(st.sampled_from(_VOCABULARY), json_values, max_size=8),
    ),
)


@settings(max_examples=300, deadline=None)
@given(resource_like)
def test_validation_never_raises_and_locates_every_issue(resource: object) -> None:
    issues = validate_resource(resource)
    assert all(isinstance(issue, Issue) for issue in issues)
    assert all(issue.code in {"structure", "value", "required"} for issue in issues)
    if isinstance(resource, dict) and definitions.is_resource_type(
        str(resource.get("resourceType"))
    ):
        root = resource["resourceType"]
        assert all(
            issue.expression and issue.expression[0].startswith(root + ".") for issue in issues
        )
