"""The FHIR R4 (4.0.1) definitions the server runs on, shipped as package data.

Built from the HL7 publication (https://hl7.org/fhir/R4/downloads.html) by
``scripts/build_definitions.py``; ``data/SOURCE.json`` says from exactly what.
Nothing is read at import time: each accessor loads its file on first use and
keeps the result (``functools.cache``).

Accessors that hand out plain JSON (search parameters, the compartment,
the source note) return a fresh copy each call, so a caller may change what it
gets without changing what the next caller sees.
"""

from __future__ import annotations

import copy
import gzip
from functools import cache
from importlib import resources
from typing import Any

import orjson

from firehouse.fhir.definitions.model import (
    ElementDefinition,
    PrimitiveType,
    Property,
    Structure,
    TypeDefinition,
    compile_structure,
)

__all__ = [
    "ElementDefinition",
    "PrimitiveType",
    "Property",
    "TypeDefinition",
    "is_resource_type",
    "patient_compartment",
    "primitive_type",
    "resource_types",
    "search_parameters",
    "source",
    "structure",
    "type_definition",
]


def _read(name: str) -> Any:
    raw = resources.files(__package__).joinpath("data", name).read_bytes()
    return orjson.loads(gzip.decompress(raw) if name.endswith(".gz") else raw)


@cache
def structure() -> Structure:
    """Every type's compiled element table and every primitive's pattern."""
    return compile_structure(_read("structure.json.gz"))


def resource_types() -> frozenset[str]:
    """The concrete R4 resource types (https://hl7.org/fhir/R4/resourcelist.html).

    Abstract ``Resource`` and ``DomainResource`` are not among them.
    """
    return structure().resource_types


def is_resource_type(name: str) -> bool:
    return name in structure().resource_types


def type_definition(name: str) -> TypeDefinition:
    """The element table of a resource type, a complex datatype or a backbone element.

    ``name`` is a type (``Patient``, ``HumanName``, ``SimpleQuantity``) or a
    backbone element's path (``Patient.contact``). Raises KeyError for others,
    primitives included (see :func:`primitive_type`).
    """
    try:
        return structure().types[name]
    except KeyError:
        raise KeyError(f"no FHIR R4 resource, complex type or backbone named {name!r}") from None


def primitive_type(name: str) -> PrimitiveType:
    """A primitive datatype (``date``, ``code``...); raises KeyError for others."""
    try:
        return structure().primitives[name]
    except KeyError:
        raise KeyError(f"no FHIR R4 primitive type named {name!r}") from None


@cache
def _search_parameters() -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = _read("search-parameters.json.gz")
    return result


def search_parameters() -> list[dict[str, Any]]:
    """The R4 SearchParameter resources (https://hl7.org/fhir/R4/searchparameter-registry.html).

    Trimmed to url, code, name, base, type, expression, target, modifier,
    comparator, multipleOr, multipleAnd, component, description and
    xpathUsage; sorted by url. Bases include ``Resource`` and
    ``DomainResource`` for the parameters every type has (``_id``...).
    """
    return copy.deepcopy(_search_parameters())


@cache
def _patient_compartment() -> dict[str, Any]:
    result: dict[str, Any] = _read("compartment-patient.json.gz")
    return result


def patient_compartment() -> dict[str, Any]:
    """The Patient CompartmentDefinition (https://hl7.org/fhir/R4/compartmentdefinition-patient.html)."""
    return copy.deepcopy(_patient_compartment())


@cache
def _source() -> dict[str, Any]:
    result: dict[str, Any] = _read("SOURCE.json")
    return result


def source() -> dict[str, Any]:
    """Where the definitions came from: package, integrity, exclusions, licence."""
    return copy.deepcopy(_source())
