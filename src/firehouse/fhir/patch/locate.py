"""Where a FHIRPath result lives in the resource JSON, so FHIRPath Patch can change it.

fhirpathpy answers with values, each carrying the path it was reached by
(``Patient.name[0].given[1]``, ``Observation.value`` for ``valueQuantity``).
That path is walked here over the JSON with the R4 definitions, which turn an
element name into its JSON property (the ``[x]`` of a choice,
https://hl7.org/fhir/R4/formats.html#choice) and say which elements repeat.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from firehouse.errors import Category, FhirError, Issue
from firehouse.fhir import definitions
from firehouse.fhir.definitions import ElementDefinition, Property, TypeDefinition

_STEP = re.compile(r"(?P<name>[A-Za-z][A-Za-z0-9]*)(?:\[(?P<index>\d+)\])?")


def unprocessable(message: str, *expression: str) -> FhirError:
    return FhirError(Category.UNPROCESSABLE, Issue(message, "processing", expression=expression))


@dataclass(frozen=True, slots=True)
class Slot:
    """One element: ``container[key]``, or item ``index`` of the list there."""

    container: dict[str, Any]
    key: str  # the JSON property: ``valueQuantity`` for ``value[x]``
    index: int | None
    owner: TypeDefinition | None  # the container's type, when known
    element: ElementDefinition | None

    @property
    def value(self) -> Any:
        value = self.container[self.key]
        return value if self.index is None else value[self.index]


def resource_definition(resource: dict[str, Any]) -> TypeDefinition | None:
    kind = resource.get("resourceType")
    if isinstance(kind, str) and definitions.is_resource_type(kind):
        return definitions.type_definition(kind)
    return None


def value_type(prop: Property | None, value: Any) -> TypeDefinition | None:
    """The element table of ``value``, held by ``prop``; None for primitives and unknowns."""
    if prop is None:
        return None
    if prop.complex is not None:
        return prop.complex
    if isinstance(value, dict) and "resourceType" in value:  # contained, Bundle.entry.resource
        return resource_definition(value)
    return None


def json_key(
    container: dict[str, Any], owner: TypeDefinition | None, name: str
) -> tuple[str, Property | None] | None:
    """The property of ``container`` holding element ``name``; None when absent."""
    if name in container:
        return name, owner.properties.get(name) if owner is not None else None
    element = owner.elements.get(name) if owner is not None else None
    if owner is None or element is None or not element.choice:
        return None
    for key in container:
        prop = owner.properties.get(key)
        if prop is not None and prop.element is element:
            return key, prop
    return None


def locate(root: dict[str, Any], path: str) -> Slot:
    """The slot of the element fhirpathpy reached by ``path`` (its ``propName``)."""
    steps = path.split(".")[1:]  # the first step names the resource type
    container: Any = root
    owner = resource_definition(root)
    for position, step in enumerate(steps):
        match = _STEP.fullmatch(step)
        if match is None or not isinstance(container, dict):
            raise unprocessable(f"Cannot locate '{path}' in the resource")
        found = json_key(container, owner, match["name"])
        if found is None:
            raise unprocessable(f"Cannot locate '{path}' in the resource")
        key, prop = found
        index = int(match["index"]) if match["index"] is not None else None
        if index is not None and not (
            isinstance(container[key], list) and index < len(container[key])
        ):
            raise unprocessable(f"Cannot locate '{path}' in the resource")
        slot = Slot(container, key, index, owner, prop.element if prop else None)
        if position == len(steps) - 1:
            return slot
        container = slot.value
        owner = value_type(prop, container)
    raise unprocessable(f"'{path}' is the resource itself, not an element of it")
