"""Index extraction: typed walkers for the common expression shapes, fhirpathpy for the rest."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

import pytest

from firehouse.fhir.json import JsonDecimal
from firehouse.search.decimals import decimal_key
from firehouse.search.extract import Extractor
from firehouse.search.fhirpath import compile_expression
from firehouse.search.registry import builtin
from firehouse.search.types.date import parse_range
from firehouse.storage.criteria import (
    DateRow,
    QuantityRow,
    ReferenceRow,
    StringRow,
    TokenRow,
    UriRow,
)


def _rows(resource: dict[str, Any], param: str) -> list[Any]:
    registry = builtin()
    rows = Extractor(lambda: registry).rows(resource["resourceType"], resource)
    return [r for r in rows if r.param == param]


PATIENT = {
    "resourceType": "Patient",
    "meta": {"tag": [{"system": "http://t", "code": "x"}], "profile": ["http://p"]},
    "identifier": [{"system": "urn:mrn", "value": "12345", "type": {"text": "MRN"}}],
    "name": [{"family": "Müller", "given": ["Eve", "Anne"]}],
    "telecom": [
        {"system": "email", "value": "eve@example.org"},
        {"system": "phone", "value": "555"},
    ],
    "gender": "female",
    "birthDate": "1970-03",
    "deceasedBoolean": False,
    "generalPractitioner": [
        {"reference": "Practitioner/p1"},
        {"reference": "http://other.example/fhir/Organization/o1"},
        {"identifier": {"system": "urn:npi", "value": "999"}},
        {"reference": "#contained"},
    ],
}


def test_string_rows_fold_case_and_accents() -> None:
    assert _rows(PATIENT, "family") == [StringRow("family", "muller", "Müller")]
    assert {r.norm for r in _rows(PATIENT, "name")} == {"muller", "eve", "anne"}


def test_token_rows() -> None:
    assert _rows(PATIENT, "identifier") == [TokenRow("identifier", "urn:mrn", "12345", "mrn")]
    assert _rows(PATIENT, "gender") == [TokenRow("gender", None, "female")]
    assert _rows(PATIENT, "email") == [TokenRow("email", None, "eve@example.org")]
    assert _rows(PATIENT, "phone") == [TokenRow("phone", None, "555")]
    assert _rows(PATIENT, "_tag") == [TokenRow("_tag", "http://t", "x")]
    # Patient.deceased.exists() and ... is outside the walkers: fhirpathpy runs it.
    assert _rows(PATIENT, "deceased") == [TokenRow("deceased", None, "false")]


def test_uri_and_date_rows() -> None:
    assert _rows(PATIENT, "_profile") == [UriRow("_profile", "http://p")]
    low, high = parse_range("1970-03")
    assert _rows(PATIENT, "birthdate") == [DateRow("birthdate", low, high)]


def test_reference_rows() -> None:
    rows = _rows(PATIENT, "general-practitioner")
    assert rows == [
        ReferenceRow("general-practitioner", "Practitioner", "p1"),
        ReferenceRow(
            "general-practitioner",
            "Organization",
            "o1",
            url="http://other.example/fhir/Organization/o1",
        ),
        ReferenceRow("general-practitioner", identifier_system="urn:npi", identifier_value="999"),
    ]


OBSERVATION = {
    "resourceType": "Observation",
    "status": "final",
    "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}], "text": "BP"},
    "subject": {"reference": "Patient/p1"},
    "effectivePeriod": {"start": "2020-01-01T10:00:00Z"},
    "component": [
        {
            "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
            "valueQuantity": {"value": JsonDecimal("120.50"), "unit": "mmHg", "code": "mm[Hg]"},
        },
        {
            "code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]},
            "valueQuantity": {
                "value": 80,
                "system": "http://unitsofmeasure.org",
                "code": "mm[Hg]",
            },
        },
    ],
}


def test_choice_elements_and_resolve_filters() -> None:
    assert _rows(OBSERVATION, "patient") == [ReferenceRow("patient", "Patient", "p1")]
    (date,) = _rows(OBSERVATION, "date")
    assert date.low == parse_range("2020-01-01T10:00:00Z")[0]
    assert date.high == 253402300799999999  # an open end reaches the end of time
    quantities = _rows(OBSERVATION, "component-value-quantity")
    key = decimal_key(Decimal("120.5"))
    assert QuantityRow("component-value-quantity", key, key, None, "mm[Hg]") in quantities
    assert QuantityRow("component-value-quantity", key, key, None, "mmHg") in quantities


def test_composite_rows_share_a_group_per_element() -> None:
    rows = _rows(OBSERVATION, "component-code-value-quantity$0") + _rows(
        OBSERVATION, "component-code-value-quantity$1"
    )
    groups = {(type(r).__name__, r.group) for r in rows}
    assert groups == {("TokenRow", 0), ("TokenRow", 1), ("QuantityRow", 0), ("QuantityRow", 1)}
    systolic = next(r for r in rows if isinstance(r, TokenRow) and r.code == "8480-6")
    assert {
        r.group
        for r in rows
        if isinstance(r, QuantityRow) and r.low == decimal_key(Decimal("120.5"))
    } == {systolic.group}


def test_an_unindexable_value_warns_and_the_rest_is_indexed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bad = {**PATIENT, "birthDate": "1970-13-45"}
    with caplog.at_level(logging.WARNING, "firehouse.search"):
        rows = Extractor(builtin).rows("Patient", bad)
    assert not [r for r in rows if r.param == "birthdate"]
    assert [r for r in rows if r.param == "family"]
    assert "birthdate" in caplog.text


@pytest.mark.parametrize(
    "expression",
    [
        "Observation.code",
        "(Observation.value as Quantity)",
        "Observation.component.code | Observation.code",
        "Observation.subject.where(resolve() is Patient)",
        "Observation.effective.as(Period)",
        "Observation.component[0].code",
    ],
)
def test_walkers_agree_with_fhirpathpy(expression: str) -> None:
    import fhirpathpy
    from fhirpathpy.models import models

    fp = expression.replace(".where(resolve() is Patient)", "").replace(
        "(Observation.value as Quantity)", "Observation.value.ofType(Quantity)"
    )
    expected = fhirpathpy.evaluate(OBSERVATION, fp, model=models["r4"])
    got = [value for _, value in compile_expression(expression, "Observation")(OBSERVATION)]
    assert got == expected
