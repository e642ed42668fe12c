"""patch: https://hl7.org/fhir/R4/http.html#patch, without HTTP.

Two patch formats: JSON Patch (RFC 6902, :mod:`.json_patch`) and FHIRPath
Patch (a ``Parameters`` resource, https://hl7.org/fhir/R4/fhirpatch.html,
:mod:`.fhirpath_patch`). Inside a Bundle a JSON Patch travels as a
``Binary`` (http.html#transaction: "the resource is a Binary ... with the
patch document base64 encoded"). The patched resource is validated like any
write and stored as a new version, or changes nothing when it equals the
current one.

Errors: a malformed patch document is ``invalid`` (400); a patch that does not
apply (a failed ``test``, a path that matches nothing) or that yields an
invalid resource is ``unprocessable`` (422, RFC 5789 2.2: the server understood
the patch but cannot apply it to this resource); an unknown resource is
``not-found`` (404) and a deleted one ``gone`` (410).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from firehouse.errors import Category, FhirError, Issue, invalid
from firehouse.fhir import json as fhir_json
from firehouse.fhir.patch import fhirpath_patch, json_patch
from firehouse.fhir.patch.fhirpath_patch import Operation
from firehouse.fhir.patch.json_patch import JsonPatch
from firehouse.fhir.service import check_resource, update_in
from firehouse.storage.base import Storage, StoredVersion, Transaction, VersionConflict

JSON_PATCH = "application/json-patch+json"

Patch = JsonPatch | list[Operation]

__all__ = [
    "JSON_PATCH",
    "Patch",
    "apply_patch",
    "from_entry_resource",
    "parse_fhirpath_patch",
    "parse_json_patch",
    "patch_in",
    "patch_resource",
]


def parse_json_patch(document: Any) -> Patch:
    return json_patch.parse(document)


def parse_fhirpath_patch(parameters: Any) -> Patch:
    return fhirpath_patch.parse(parameters)


def from_entry_resource(resource: Any) -> Patch:
    """The patch a PATCH entry of a Bundle carries: a Binary JSON Patch or Parameters."""
    kind = resource.get("resourceType") if isinstance(resource, dict) else None
    if kind == "Parameters":
        return fhirpath_patch.parse(resource)
    if kind != "Binary":
        raise invalid("A PATCH entry's resource is a Binary (JSON Patch) or a Parameters")
    assert isinstance(resource, dict)
    content_type = str(resource.get("contentType", "")).split(";")[0].strip().lower()
    if content_type != JSON_PATCH:
        raise invalid(f"A PATCH entry's Binary must have contentType {JSON_PATCH}")
    try:
        text = base64.b64decode(str(resource.get("data", "")), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise invalid("The PATCH entry's Binary.data is not base64") from exc
    return json_patch.parse(fhir_json.loads(text))


def apply_patch(resource: dict[str, Any], patch: Patch) -> Any:
    """The patched copy of ``resource`` (not yet validated)."""
    if isinstance(patch, JsonPatch):
        return json_patch.apply(resource, patch)
    return fhirpath_patch.apply(resource, patch)


def _current(tx: Transaction, resource_type: str, id: str, if_match: int | None) -> StoredVersion:
    current = tx.current(resource_type, id)
    if current is None:
        raise FhirError(Category.NOT_FOUND, f"{resource_type}/{id[:80]} is not known")
    if current.deleted:
        raise FhirError(
            Category.GONE,
            f"{resource_type}/{id} was deleted (version {current.version})",
            headers={"ETag": f'W/"{current.version}"'},
        )
    if if_match is not None and if_match != current.version:
        raise FhirError(
            Category.PRECONDITION_FAILED,
            Issue(
                f"If-Match asked for version {if_match}, but the current version is "
                f"{current.version}",
                code="conflict",
            ),
        )
    return current


def patch_in(
    tx: Transaction, resource_type: str, id: str, patch: Patch, *, if_match: int | None = None
) -> StoredVersion:
    """Patch the current version inside ``tx``; returns the stored result.

    A patch that changes nothing returns the current version unchanged.
    """
    current = _current(tx, resource_type, id, if_match)
    assert current.body is not None
    patched = apply_patch(fhir_json.loads(current.body), patch)
    try:
        checked = check_resource(patched, resource_type, url_id=id)
    except FhirError as exc:
        note = Issue("The patched resource would not be valid", "processing")
        raise FhirError(Category.UNPROCESSABLE, [note, *exc.issues]) from exc
    stored, _ = update_in(tx, resource_type, id, checked, if_match=if_match)
    return stored


def patch_resource(
    storage: Storage, resource_type: str, id: str, patch: Patch, *, if_match: int | None = None
) -> StoredVersion:
    """One PATCH interaction in its own transaction."""
    try:
        with storage.transaction() as tx:
            return patch_in(tx, resource_type, id, patch, if_match=if_match)
    except VersionConflict as exc:
        raise FhirError(Category.CONFLICT, Issue(str(exc), code="conflict")) from exc
