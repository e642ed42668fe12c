"""The SearchParameter registry: R4, CARIN Blue Button and user-defined parameters."""

from __future__ import annotations

import pytest

from firehouse.search.registry import builtin, expression_for, params_from_resource, split_union

CARIN = "http://hl7.org/fhir/us/carin-bb/SearchParameter/"


def test_every_type_has_the_common_parameters() -> None:
    registry = builtin()
    for resource_type in ("Patient", "Observation", "Binary", "Bundle"):
        params = registry.for_type(resource_type)
        assert {"_id", "_lastUpdated", "_tag", "_profile", "_security", "_source"} <= set(params)
    assert registry.get("Patient", "_tag").type == "token"  # type: ignore[union-attr]
    assert registry.get("Patient", "_profile").type == "uri"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("resource_type", "code", "type_", "expression"),
    [
        ("Patient", "name", "string", "Patient.name"),
        ("Patient", "birthdate", "date", "Patient.birthDate"),
        ("Observation", "code", "token", "Observation.code"),
        ("Observation", "patient", "reference", "Observation.subject.where(resolve() is Patient)"),
        (
            "Observation",
            "value-date",
            "date",
            "(Observation.value as dateTime) | (Observation.value as Period)",
        ),
        ("Condition", "patient", "reference", "Condition.subject.where(resolve() is Patient)"),
        ("ExplanationOfBenefit", "patient", "reference", "ExplanationOfBenefit.patient"),
    ],
)
def test_shared_definitions_keep_only_each_types_own_path(
    resource_type: str, code: str, type_: str, expression: str
) -> None:
    param = builtin().get(resource_type, code)
    assert param is not None
    assert (param.type, param.expression) == (type_, expression)


def test_carin_blue_button_parameters_with_their_canonical_urls() -> None:
    registry = builtin()
    expected = {
        "type": ("token", "ExplanationOfBenefit.type"),
        "service-date": (
            "date",
            "ExplanationOfBenefit.billablePeriod | ExplanationOfBenefit.item.serviced",
        ),
        "service-start-date": ("date", None),
        "billable-period-start": ("date", "ExplanationOfBenefit.billablePeriod.start"),
        "insurer": ("reference", "ExplanationOfBenefit.insurer"),
    }
    for code, (type_, expression) in expected.items():
        param = registry.get("ExplanationOfBenefit", code)
        assert param is not None and param.source == "carin-bb"
        assert param.url == CARIN + f"explanationofbenefit-{code}"
        assert param.type == type_
        if expression is not None:
            assert param.expression == expression
    assert registry.get("ExplanationOfBenefit", "insurer").targets == ("Organization",)  # type: ignore[union-attr]


def test_user_defined_parameters_make_a_new_registry() -> None:
    base = builtin()
    made = params_from_resource(
        {
            "resourceType": "SearchParameter",
            "url": "http://example.org/sp/eye-colour",
            "code": "eye-colour",
            "base": ["Patient", "Person"],
            "type": "token",
            "expression": "Patient.extension('http://example.org/eye').value | Person.gender",
            "status": "active",
        },
        "custom",
    )
    registry = base.with_params(made)
    assert base.get("Patient", "eye-colour") is None
    patient = registry.get("Patient", "eye-colour")
    person = registry.get("Person", "eye-colour")
    assert patient is not None and person is not None
    assert patient.expression == "Patient.extension('http://example.org/eye').value"
    assert person.expression == "Person.gender"
    with pytest.raises(ValueError):
        params_from_resource({"code": "x", "type": "colour", "base": ["Patient"]}, "custom")


def test_union_splitting_respects_parentheses_and_quotes() -> None:
    assert split_union("(A.b as C) | A.d.where(e='x|y') | A.f") == [
        "(A.b as C)",
        "A.d.where(e='x|y')",
        "A.f",
    ]
    assert expression_for("A.x | B.y | (A.z as T)", "A") == "A.x | (A.z as T)"
    assert expression_for("B.y", "A") is None
