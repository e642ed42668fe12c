"""Is a resource in a patient's compartment? Checked on the resource itself.

https://hl7.org/fhir/R4/compartmentdefinition-patient.html: a resource is in
Patient/123's compartment when one of the reference search parameters the
CompartmentDefinition lists for its type points at Patient/123 (and the
Patient is in its own). The values come from the same index extraction every
write runs (:class:`~firehouse.search.extract.Extractor`), so this check and
``SearchRequest.restrict_to_patients`` agree on what "in" means.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from firehouse.fhir import definitions
from firehouse.storage.base import Indexer
from firehouse.storage.criteria import ReferenceRow


@cache
def compartment_params(resource_type: str) -> frozenset[str]:
    """The reference parameters that put a ``resource_type`` in a Patient compartment."""
    for entry in definitions.patient_compartment().get("resource", ()):
        if entry.get("code") == resource_type:
            return frozenset(entry.get("param") or ())
    return frozenset()


def _points_at(row: ReferenceRow, patient: str, local_base: str | None) -> bool:
    if row.target_type != "Patient" or row.target_id != patient:
        return False
    # An absolute reference counts only when it is to this server (as in search).
    return row.url is None or (
        local_base is not None and row.url == f"{local_base.rstrip('/')}/Patient/{patient}"
    )


def in_compartment(
    indexer: Indexer | None,
    resource_type: str,
    resource: Mapping[str, Any],
    patient: str,
    local_base: str | None = None,
) -> bool:
    if resource_type == "Patient" and resource.get("id") == patient:
        return True
    params = compartment_params(resource_type)
    if not params or indexer is None:
        return False
    for row in indexer.rows(resource_type, resource):
        if (
            isinstance(row, ReferenceRow)
            and row.param in params
            and _points_at(row, patient, local_base)
        ):
            return True
    return False
