"""What a CapabilityStatement says about search, derived from the live registry.

https://hl7.org/fhir/R4/capabilitystatement-definitions.html#CapabilityStatement.rest.resource.searchParam,
#...searchInclude and #...searchRevInclude: every parameter this server really
searches (the ones with an expression, plus ``_id`` and ``_lastUpdated``), with
type, canonical definition and documentation; ``_include`` values for each
reference parameter (and ``*``); ``_revinclude`` values for every reference
parameter of any type that can point at this type.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from firehouse.fhir import definitions
from firehouse.search.extract import COLUMN_PARAMS
from firehouse.search.registry import Registry, SearchParam

_SEARCHABLE = frozenset({"number", "date", "string", "token", "reference", "quantity", "uri"})


def searchable(param: SearchParam) -> bool:
    if param.code in COLUMN_PARAMS:
        return True
    if param.type == "composite":
        return bool(param.components and param.expression)
    return param.type in _SEARCHABLE and bool(param.expression)


def _param(param: SearchParam) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": param.code, "definition": param.url, "type": param.type}
    if param.description:
        entry["documentation"] = param.description
    return entry


@lru_cache(maxsize=4)
def search_sections(registry: Registry) -> dict[str, dict[str, Any]]:
    """Per resource type: ``searchParam``, ``searchInclude`` and ``searchRevInclude``."""
    types = sorted(definitions.resource_types())
    pointing: dict[str, list[str]] = {t: [] for t in types}
    sections: dict[str, dict[str, Any]] = {}
    for resource_type in types:
        params = [p for p in registry.for_type(resource_type).values() if searchable(p)]
        references = [p for p in params if p.type == "reference"]
        for ref in references:
            for target in ref.targets or types:
                if target in pointing:
                    pointing[target].append(f"{resource_type}:{ref.code}")
        includes = [f"{resource_type}:{p.code}" for p in references]
        sections[resource_type] = {
            "searchParam": [_param(p) for p in sorted(params, key=lambda p: p.code)]
        }
        if includes:  # FHIR JSON has no empty arrays
            sections[resource_type]["searchInclude"] = [f"{resource_type}:*", *sorted(includes)]
    for resource_type in types:
        if pointing[resource_type]:
            sections[resource_type]["searchRevInclude"] = sorted(set(pointing[resource_type]))
    return sections
