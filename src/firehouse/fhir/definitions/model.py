"""Element tables compiled from the R4 StructureDefinitions, ready for validation.

The package data (built by ``scripts/build_definitions.py``) keeps, per type,
the tree of a StructureDefinition's snapshot
(https://hl7.org/fhir/R4/elementdefinition.html): names, cardinality, type
codes, backbone children and ``contentReference`` targets. Here that tree
becomes linked objects, once, so that validation is a walk of dictionary
lookups: every JSON property name a type allows (choice elements expanded,
https://hl7.org/fhir/R4/formats.html#choice) maps straight to what it holds.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

JsonKind = Literal["string", "boolean", "integer", "decimal"]
TypeKind = Literal["resource", "complex-type", "backbone"]


@dataclass(frozen=True, slots=True)
class PrimitiveType:
    """A primitive datatype (https://hl7.org/fhir/R4/datatypes.html#primitive)."""

    name: str
    json: JsonKind  # how the value is written in JSON (https://hl7.org/fhir/R4/json.html#primitive)
    pattern: re.Pattern[str] | None  # the spec's regex for the value, matched whole


@dataclass(frozen=True, slots=True)
class ElementDefinition:
    """One element of a type: ``Patient.deceased[x]``, ``Patient.contact``..."""

    name: str  # the element name, without the ``[x]`` of a choice
    path: str  # as in the StructureDefinition: ``Patient.deceased[x]``
    min: int
    max: int | None  # None: unbounded (``*``)
    types: tuple[str, ...]  # allowed type codes; ``BackboneElement`` for a backbone
    choice: bool
    # The table of a backbone element's children, or of the element it reuses
    # through contentReference (Questionnaire.item.item -> Questionnaire.item).
    backbone: TypeDefinition | None = field(default=None, repr=False)
    # ``isSummary``: part of what ``_summary=true`` returns (search.html#summary).
    summary: bool = False

    @property
    def repeats(self) -> bool:
        """Whether JSON writes the element as an array (max > 1)."""
        return self.max is None or self.max > 1


@dataclass(frozen=True, slots=True)
class Property:
    """What one JSON property name of an object holds.

    ``valueQuantity`` holds the element ``value[x]`` as a ``Quantity``.
    Exactly one of ``primitive`` and ``complex`` is set, except for a nested
    resource (type ``Resource``: ``contained``, ``Bundle.entry.resource``),
    which is validated by its own ``resourceType``.
    """

    element: ElementDefinition
    type: str
    primitive: PrimitiveType | None = field(default=None, repr=False)
    complex: TypeDefinition | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True, eq=False)
class TypeDefinition:
    """The element table of a resource, a complex datatype or a backbone element.

    Read-only once loaded; the containers are filled while compiling because
    contentReference makes the graph cyclic (Questionnaire.item.item).
    """

    name: str  # ``Patient``, ``HumanName``, or a backbone's path ``Patient.contact``
    kind: TypeKind
    code: str  # the type code, e.g. ``Quantity`` for SimpleQuantity; the choice suffix
    elements: Mapping[str, ElementDefinition] = field(default_factory=dict, repr=False)
    properties: Mapping[str, Property] = field(default_factory=dict, repr=False)
    required: Sequence[ElementDefinition] = field(default_factory=list, repr=False)


@dataclass(frozen=True, slots=True)
class Structure:
    resource_types: frozenset[str]
    types: Mapping[str, TypeDefinition]
    primitives: Mapping[str, PrimitiveType]


def compile_structure(data: Mapping[str, Any]) -> Structure:
    """Link the package's element trees into :class:`TypeDefinition` objects."""
    # re.ASCII: the spec's regexes are XML Schema ones, where \s is ASCII
    # whitespace; with Python's Unicode \s a no-break space in a string would fail.
    primitives = {
        name: PrimitiveType(
            name,
            entry["json"],
            re.compile(entry["regex"], re.ASCII) if "regex" in entry else None,
        )
        for name, entry in data["primitives"].items()
    }
    types: dict[str, TypeDefinition] = {}
    # Every table exists before any is filled, so references in any order
    # (a type used before its definition, a contentReference) resolve.
    for name, entry in data["types"].items():
        types[name] = TypeDefinition(name, entry["kind"], entry.get("type", name))
        _add_backbone_shells(types, name, entry["elements"])
    for name, entry in data["types"].items():
        _fill(types[name], name, entry["elements"], types, primitives)
    return Structure(frozenset(data["resourceTypes"]), types, primitives)


def _add_backbone_shells(
    types: dict[str, TypeDefinition], prefix: str, elements: Mapping[str, Any]
) -> None:
    for name, node in elements.items():
        if "children" in node:
            path = f"{prefix}.{name}"
            types[path] = TypeDefinition(path, "backbone", "BackboneElement")
            _add_backbone_shells(types, path, node["children"])


def _fill(
    table: TypeDefinition,
    prefix: str,
    elements: Mapping[str, Any],
    types: Mapping[str, TypeDefinition],
    primitives: Mapping[str, PrimitiveType],
) -> None:
    assert isinstance(table.elements, dict) and isinstance(table.properties, dict)
    assert isinstance(table.required, list)
    for raw_name, node in elements.items():
        choice = raw_name.endswith("[x]")
        name = raw_name.removesuffix("[x]")
        path = f"{prefix}.{raw_name}"
        backbone = None
        if "children" in node:
            backbone = types[path]
            _fill(backbone, path, node["children"], types, primitives)
        elif "ref" in node:
            backbone = types[node["ref"]]
        element = ElementDefinition(
            name=name,
            path=path,
            min=node.get("min", 0),
            max=None if node["max"] == "*" else int(node["max"]),
            types=tuple(node.get("types", ("BackboneElement",))),
            choice=choice,
            backbone=backbone,
            summary=node.get("summary", False),
        )
        table.elements[name] = element
        if element.min:
            table.required.append(element)
        for code in element.types:
            if backbone is not None:
                prop = Property(element, code, complex=backbone)
            elif code in primitives:
                prop = Property(element, code, primitive=primitives[code])
            elif code == "Resource":
                prop = Property(element, code)
            else:
                prop = Property(element, code, complex=types[code])
            suffix = prop.complex.code if prop.complex is not None else code
            key = name + suffix[0].upper() + suffix[1:] if choice else name
            table.properties[key] = prop
