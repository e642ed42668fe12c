"""JSON Patch (RFC 6902) on FHIR resources: https://hl7.org/fhir/R4/http.html#patch.

Applied by the ``jsonpatch`` library to the resource as parsed by
:mod:`firehouse.fhir.json`, so a decimal the patch does not touch keeps its
exact text (``120.00``) and one it adds keeps the text the client wrote. The
one change to the library: ``test`` compares numbers by value (RFC 6902 4.6:
``1.0`` equals ``1.00``), which our text-keeping decimals would not.
"""

from __future__ import annotations

import decimal
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import jsonpatch
import jsonpointer

from firehouse.errors import invalid
from firehouse.fhir.json import JsonDecimal
from firehouse.fhir.patch.locate import unprocessable


def _number(value: Any) -> decimal.Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, JsonDecimal):
        return decimal.Decimal(value.text)
    if isinstance(value, int | float):
        return decimal.Decimal(value)
    return None


def same(first: Any, second: Any) -> bool:
    """JSON equality as RFC 6902 4.6 defines it (numbers by value, true is not 1)."""
    a, b = _number(first), _number(second)
    if a is not None or b is not None:
        return a is not None and b is not None and a == b
    if isinstance(first, Mapping) and isinstance(second, Mapping):
        return first.keys() == second.keys() and all(same(first[k], second[k]) for k in first)
    if isinstance(first, list) and isinstance(second, list):
        return len(first) == len(second) and all(map(same, first, second))
    return type(first) is type(second) and bool(first == second)


class _TestByValue(jsonpatch.TestOperation):
    def apply(self, obj: Any) -> Any:
        try:
            found = self.pointer.resolve(obj)
        except jsonpointer.JsonPointerException as exc:
            raise jsonpatch.JsonPatchTestFailed(str(exc), op=self) from exc
        if "value" not in self.operation:
            raise jsonpatch.InvalidJsonPatch("The test operation has no 'value'", op=self)
        if not same(found, self.operation["value"]):
            raise jsonpatch.JsonPatchTestFailed(
                f"the value at {self.location} is not the tested value", op=self
            )
        return obj


class _FhirJsonPatch(jsonpatch.JsonPatch):
    operations = MappingProxyType({**jsonpatch.JsonPatch.operations, "test": _TestByValue})


@dataclass(frozen=True, slots=True)
class JsonPatch:
    """A parsed JSON Patch document."""

    patch: _FhirJsonPatch


def parse(document: Any) -> JsonPatch:
    """Check the document's shape (a list of operations); raises ``invalid``."""
    try:
        return JsonPatch(_FhirJsonPatch(document))
    except (jsonpatch.InvalidJsonPatch, jsonpointer.JsonPointerException) as exc:
        raise invalid(f"Not a valid JSON Patch document: {exc}") from exc


def apply(resource: dict[str, Any], patch: JsonPatch) -> Any:
    """The patched copy of ``resource``: a failed ``test`` or a missing path is a 422."""
    try:
        return patch.patch.apply(resource)
    except jsonpatch.JsonPatchTestFailed as exc:
        raise unprocessable(f"JSON Patch test failed: {exc}") from exc
    except jsonpatch.InvalidJsonPatch as exc:
        raise invalid(f"Not a valid JSON Patch document: {exc}") from exc
    except (jsonpatch.JsonPatchConflict, jsonpointer.JsonPointerException) as exc:
        raise unprocessable(f"The JSON Patch cannot be applied: {exc}") from exc
