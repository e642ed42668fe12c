"""Quantity search in UCUM canonical units: https://hl7.org/fhir/R4/search.html#quantity.

A search naming the UCUM system compares in canonical units where both
units are known (search/ucum.py); otherwise, and without a system, units
match as written, case included.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from starlette.testclient import TestClient

from firehouse.search.ucum import canonical
from tests.search.conftest import ids, put

UCUM = "http://unitsofmeasure.org"


@pytest.mark.parametrize(
    ("code", "factor", "unit"),
    [
        ("mg", "0.001", "g"),
        ("kg", "1000", "g"),
        ("Mg", "1000000", "g"),  # a megagram: case matters in UCUM
        ("mg/dL", "10", "g.m-3"),
        ("mg/dl", "10", "g.m-3"),  # l and L are both the litre in UCUM
        ("mg.dL-1", "10", "g.m-3"),
        ("g/L", "1000", "g.m-3"),
        ("mm[Hg]", "133322", "g.m-1.s-2"),
        ("kPa", "1000000", "g.m-1.s-2"),
        ("cm", "0.01", "m"),
        ("[in_i]", "0.0254", "m"),
        ("10*9/L", "1e12", "m-3"),
        ("10*3/uL", "1e12", "m-3"),
        ("mmol/L", "1", "m-3.mol"),
        ("meq/L", "1", "m-3.mol"),
        ("%", "0.01", "1"),
        ("kg/m2", "1000", "g.m-2"),
        ("(m.s)/s", "1", "m"),
    ],
)
def test_canonical_units(code: str, factor: str, unit: str) -> None:
    assert canonical(code) == (Decimal(factor).normalize(), unit)


def test_per_minute_forms_agree() -> None:
    forms = {canonical(c) for c in ("/min", "1/min", "min-1", "{beats}/min")}
    assert len(forms) == 1 and next(iter(forms)) == canonical("/min")


@pytest.mark.parametrize("code", ["MG/DL", "MG", "Cel", "[degF]", "", "m g", "foo", "mg/(dL", "ha"])
def test_no_canonical_form(code: str) -> None:
    # MG/DL and MG are no units here (no gauss, no D); Cel and [degF] need an
    # offset, not a factor.
    assert canonical(code) is None


def _obs(id: str, value: str, code: str, system: str | None = UCUM) -> dict[str, Any]:
    quantity: dict[str, Any] = {"value": float(value) if "." in value else int(value)}
    quantity.update({"unit": code, "code": code})
    if system:
        quantity["system"] = system
    return {
        "resourceType": "Observation",
        "id": id,
        "status": "final",
        "code": {"text": "ucum test"},
        "valueQuantity": quantity,
    }


OBSERVATIONS = [
    _obs("w-kg", "70", "kg"),
    _obs("w-g", "70000", "g"),
    _obs("w-lb", "154.32358", "[lb_av]"),
    _obs("glu-mgdl", "100", "mg/dL"),
    _obs("glu-gl", "1", "g/L"),
    _obs("glu-mgdl-lower", "100", "mg/dl"),
    _obs("glu-shouting", "100", "MG/DL"),
    _obs("mass-mg", "5", "mg"),
    _obs("mass-megagram", "5", "Mg"),
    _obs("bp", "120", "mm[Hg]"),
    _obs("temp", "37", "Cel"),
    _obs("hr", "72", "/min"),
    _obs("hr-annotated", "72", "{beats}/min"),
    _obs("hr-other-system", "72", "/min", "http://example.org/units"),
]


@pytest.fixture(scope="module")
def loaded(api: TestClient) -> TestClient:
    for resource in OBSERVATIONS:
        put(api, resource)
    return api


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (f"70|{UCUM}|kg", {"w-kg", "w-g", "w-lb"}),
        (f"70000|{UCUM}|g", {"w-kg", "w-g", "w-lb"}),
        (f"gt69|{UCUM}|kg", {"w-kg", "w-g", "w-lb", "mass-megagram"}),  # 5 Mg is 5000 kg
        (f"lt69|{UCUM}|kg", {"mass-mg"}),
        (f"ge5|{UCUM}|Mg", {"mass-megagram"}),
        (f"100|{UCUM}|mg/dL", {"glu-mgdl", "glu-gl", "glu-mgdl-lower"}),
        (f"1|{UCUM}|g/L", {"glu-mgdl", "glu-gl", "glu-mgdl-lower"}),
        (f"5|{UCUM}|mg", {"mass-mg"}),  # not the megagram
        (f"16|{UCUM}|kPa", {"bp"}),  # 120 mm[Hg] is 15.998 kPa
        (f"ap120|{UCUM}|mm[Hg]", {"bp"}),
        (f"1.2|{UCUM}|Hz", {"hr", "hr-annotated"}),
        (f"72|{UCUM}|/min", {"hr", "hr-annotated"}),
        # Without a canonical form: the unit as written.
        (f"37|{UCUM}|Cel", {"temp"}),
        (f"100|{UCUM}|MG/DL", {"glu-shouting"}),
        # Without the UCUM system: as written, case included.
        ("100||mg/dL", {"glu-mgdl"}),
        ("100||MG/DL", {"glu-shouting"}),
        ("72|http://example.org/units|/min", {"hr-other-system"}),
        # Without a unit: the values as written, never their canonical copies
        # (120 mm[Hg] is 15998640 in canonical units).
        ("gt1000", {"w-g"}),
    ],
)
def test_quantity_search_in_canonical_units(
    loaded: TestClient, value: str, expected: set[str]
) -> None:
    assert ids(loaded, f"/Observation?code:text=ucum&value-quantity={value}") == expected


def test_sorting_uses_the_values_as_written(loaded: TestClient) -> None:
    # In canonical units 120 mm[Hg] (15998640) would come first.
    bundle = loaded.get("/Observation?code:text=ucum&_sort=-value-quantity&_count=3").json()
    assert [e["resource"]["id"] for e in bundle["entry"]] == ["w-g", "w-lb", "bp"]


def test_composite_component_quantities_compare_in_canonical_units(loaded: TestClient) -> None:
    pressure = {
        "resourceType": "Observation",
        "id": "bp-panel",
        "status": "final",
        "code": {"text": "ucum panel"},
        "component": [
            {
                "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
                "valueQuantity": {"value": 120, "system": UCUM, "code": "mm[Hg]"},
            },
            {
                "code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]},
                "valueQuantity": {"value": 80, "system": UCUM, "code": "mm[Hg]"},
            },
        ],
    }
    put(loaded, pressure)
    systolic = "component-code-value-quantity=http://loinc.org|8480-6$"
    assert ids(loaded, f"/Observation?{systolic}16|{UCUM}|kPa") == {"bp-panel"}
    # 80 mm[Hg] (10.7 kPa) belongs to the diastolic component, not the systolic one.
    assert ids(loaded, f"/Observation?{systolic}lt11|{UCUM}|kPa") == set()
