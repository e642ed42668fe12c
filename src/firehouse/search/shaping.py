"""``_summary`` and ``_elements``: returning part of each resource.

https://hl7.org/fhir/R4/search.html#summary and #elements. A shaped resource
carries the ``SUBSETTED`` tag (https://hl7.org/fhir/R4/v3/ObservationValue)
so that nobody mistakes it for the whole resource. Mandatory elements are
always kept, as the spec asks.

``_summary=true`` needs the elements' ``isSummary`` flags, which the package
data does not carry yet: until it does, ``true`` keeps everything but the
narrative, contained resources and extensions (a superset of the summary).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any

from firehouse.fhir import definitions
from firehouse.fhir import json as fhir_json

SUBSETTED = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
    "code": "SUBSETTED",
    "display": "subsetted",
}
_ALWAYS = frozenset({"resourceType", "id", "meta"})
_NOT_IN_TRUE = frozenset({"text", "contained", "extension", "modifierExtension"})


@cache
def _mandatory(resource_type: str) -> frozenset[str]:
    try:
        table = definitions.type_definition(resource_type)
    except KeyError:
        return frozenset()
    return frozenset(e.name for e in table.required)


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
        kept = {k: v for k, v in resource.items() if k not in _NOT_IN_TRUE}
    else:
        kept = {
            k: v
            for k, v in resource.items()
            if k in _ALWAYS or k in mandatory or _keeps(k, elements)
        }
    return fhir_json.dumps(_mark(kept))
