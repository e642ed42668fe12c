"""Structural validation of FHIR R4 resources (https://hl7.org/fhir/R4/validation.html).

Checks what the JSON format and the StructureDefinitions say about shape:
known resource type, known elements, JSON types, arrays where max > 1 and
nowhere else, no null or empty values, primitive formats, cardinality, choice
types, primitive extensions, extensions, contained and nested resources.
Not checked (yet): terminology bindings, FHIRPath invariants other than the
few structural ones named in :mod:`.walk`, profiles in ``meta.profile``, and
whether references resolve.

Issue codes (https://hl7.org/fhir/R4/valueset-issue-type.html):
``structure`` for the wrong shape (unknown element, wrong JSON type, array or
not, null or empty, two types for one choice), ``value`` for a primitive that
breaks its format, and ``required`` for a missing element.
"""

from __future__ import annotations

from firehouse.errors import Issue
from firehouse.fhir.validation.walk import STRUCTURE, check_resource

__all__ = ["validate_resource"]


def validate_resource(resource: object, *, path: str | None = None) -> list[Issue]:
    """Every structural issue of a resource parsed by :func:`firehouse.fhir.json.loads`.

    An empty list means the resource is valid. ``path`` locates a resource
    inside another (``Bundle.entry[3].resource``); by default locations start
    from the resource's type (``Patient.name[0].given[1]``). Never raises for
    any input: what cannot be checked is an issue too.
    """
    issues: list[Issue] = []
    try:
        check_resource(resource, path, issues, contained=False)
    except RecursionError:
        message = "The resource is nested too deeply to validate"
        issues.append(Issue(message, STRUCTURE, expression=(path,) if path else ()))
    return issues
