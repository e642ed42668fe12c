"""``_summary`` and ``_elements``: returning part of each resource.

https://hl7.org/fhir/R4/search.html#summary and #elements. A shaped resource
carries the ``SUBSETTED`` tag (https://hl7.org/fhir/R4/v3/ObservationValue)
so that nobody mistakes it for the whole resource. Mandatory elements are
always kept, as the spec asks.

``_summary=true`` keeps the elements the base definition marks ``isSummary``
(the package data records the flag), walking into backbone elements so that
their own flags apply (``Observation.component`` keeps ``code`` and
``value[x]``, drops ``referenceRange``); a datatype value is kept whole.
Mandatory elements stay at every level so the summary is still a valid
resource, and so do modifier extensions: they change the meaning of what is
kept and may not be ignored (https://hl7.org/fhir/R4/extensibility.html#modifierExtension).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any

from firehouse.fhir import definitions
from firehouse.fhir import json as fhir_json
from firehouse.fhir.definitions.model import TypeDefinition

SUBSETTED = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
    "code": "SUBSETTED",
    "display": "subsetted",
}
_ALWAYS = frozenset({"resourceType", "id", "meta"})


@cache
def _mandatory(resource_type: str) -> frozenset[str]:
    try:
        table = definitions.type_definition(resource_type)
    except KeyError:
        return frozenset()
    return frozenset(e.name for e in table.required)


def _table(resource_type: str) -> TypeDefinition | None:
    try:
        return definitions.type_definition(resource_type)
    except KeyError:
        return None


def _summary(value: dict[str, Any], table: TypeDefinition) -> dict[str, Any]:
    """The ``isSummary`` and mandatory elements of one object, backbones walked into."""
    kept: dict[str, Any] = {}
    for key, item in value.items():
        # ``_birthDate`` carries the id and extensions of ``birthDate``'s value.
        prop = table.properties.get(key.removeprefix("_"))
        if key == "resourceType" or key == "modifierExtension":
            kept[key] = item
        elif prop is None or not (prop.element.summary or prop.element.min):
            continue
        elif prop.complex is not None and prop.complex.kind == "backbone":
            backbone = prop.complex
            if isinstance(item, list):
                kept[key] = [_summary(i, backbone) if isinstance(i, dict) else i for i in item]
            else:
                kept[key] = _summary(item, backbone) if isinstance(item, dict) else item
        else:
            kept[key] = item
    return kept


def _keeps(key: str, names: Iterable[str]) -> bool:
    # ``value`` asks for the choice element whatever its type (valueQuantity...).
    return any(
        key == n or (key.startswith(n) and key[len(n) : len(n) + 1].isupper()) for n in names
    )


def _mark(resource: dict[str, Any]) -> dict[str, Any]:
    meta = dict(resource.get("meta") or {})
    meta["tag"] = [*(meta.get("tag") or []), SUBSETTED]
    resource["meta"] = meta
    return resource


def shape(body: bytes, resource_type: str, summary: str | None, elements: tuple[str, ...]) -> bytes:
    """``body`` with only what ``_summary``/``_elements`` asked for (unchanged if nothing)."""
    if summary in (None, "false", "count") and not elements:
        return body
    resource = fhir_json.loads(body)
    mandatory = _mandatory(resource_type)
    if summary == "text":
        kept = {k: v for k, v in resource.items() if k in _ALWAYS or k == "text" or k in mandatory}
    elif summary == "data":
        kept = {k: v for k, v in resource.items() if k != "text"}
    elif summary == "true":
        table = _table(resource_type)
        kept = _summary(resource, table) if table is not None else resource
    else:
        kept = {
            k: v
            for k, v in resource.items()
            if k in _ALWAYS or k in mandatory or _keeps(k, elements)
        }
    return fhir_json.dumps(_mark(kept))
