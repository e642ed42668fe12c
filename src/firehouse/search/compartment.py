"""The Patient compartment as search criteria.

https://hl7.org/fhir/R4/compartmentdefinition-patient.html: a resource is in
Patient/123's compartment when one of its type's listed reference parameters
points at Patient/123 (and Patient/123 is in its own). Used by compartment
search (``GET Patient/123/Observation``, https://hl7.org/fhir/R4/http.html#vsearch)
and, through ``SearchRequest.restrict_to_patients``, by SMART patient-context
confinement (issue 7).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache

from firehouse.fhir import definitions
from firehouse.storage.criteria import (
    Criteria,
    IdIn,
    IndexKind,
    Match,
    Nothing,
    Or,
    ReferenceCond,
)


@cache
def _params() -> Mapping[str, tuple[str, ...]]:
    compartment = definitions.patient_compartment()
    return {
        entry["code"]: tuple(entry.get("param") or ()) for entry in compartment.get("resource", ())
    }


def compartment_types() -> frozenset[str]:
    """Types that can be in a Patient compartment."""
    return frozenset(t for t, params in _params().items() if params or t == "Patient")


def patient_compartment(
    resource_type: str, patient_ids: Sequence[str], local_base: str | None
) -> Criteria:
    """Resources of ``resource_type`` in the compartment of any of ``patient_ids``."""
    alternatives: list[Criteria] = []
    if resource_type == "Patient":
        alternatives.append(IdIn(tuple(patient_ids)))
    for param in _params().get(resource_type, ()):
        for patient_id in patient_ids:
            urls = (f"{local_base.rstrip('/')}/Patient/{patient_id}",) if local_base else ()
            cond = ReferenceCond(target_type="Patient", target_id=patient_id, urls=urls)
            alternatives.append(Match(IndexKind.REFERENCE, resource_type, param, cond))
    if not alternatives:
        return Nothing()
    return alternatives[0] if len(alternatives) == 1 else Or(tuple(alternatives))
