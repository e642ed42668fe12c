"""The FHIR resource rules applied to storage: what create, update and delete mean.

https://hl7.org/fhir/R4/http.html#create, #update, #delete, #read, #vread.
Both the REST layer and ``firehouse import`` go through here, so a resource is
validated and versioned the same way whichever door it came in by. Nothing here
knows HTTP: failures are :class:`~firehouse.errors.FhirError` categories.
"""

from __future__ import annotations

from typing import Any

from firehouse.errors import Category, FhirError, Issue, invalid
from firehouse.fhir import definitions
from firehouse.fhir.resource import is_valid_id, new_id, stamp
from firehouse.fhir.validation import validate_resource
from firehouse.storage.base import Storage, StoredVersion, Transaction, VersionConflict


def require_type(resource_type: str) -> None:
    if not definitions.is_resource_type(resource_type):
        raise FhirError(
            Category.NOT_FOUND,
            Issue(f"Unknown resource type '{resource_type}'", code="not-supported"),
        )


def require_id(id: str) -> None:
    if not is_valid_id(id):
        raise invalid(f"Invalid resource id '{id[:80]}': ids match [A-Za-z0-9-.]{{1,64}}")


def check_resource(resource: Any, resource_type: str, *, url_id: str | None) -> dict[str, Any]:
    """Everything a body must satisfy before it is stored; raises with every issue."""
    if not isinstance(resource, dict):
        raise invalid("The body must be a JSON object (a FHIR resource)")
    body_type = resource.get("resourceType")
    if body_type != resource_type:
        raise invalid(
            f"The body's resourceType {body_type!r} does not match the URL's type "
            f"'{resource_type}'",
            f"{resource_type}.resourceType" if body_type is None else "resourceType",
        )
    if url_id is not None:
        body_id = resource.get("id")
        if body_id is None:
            raise invalid(
                f"The body has no id; an update must carry the id of the URL ('{url_id}')",
                f"{resource_type}.id",
            )
        if body_id != url_id:
            raise invalid(
                f"The body's id {body_id!r} does not match the URL's id '{url_id}'",
                f"{resource_type}.id",
            )
    issues = validate_resource(resource)
    errors = [i for i in issues if i.severity in ("error", "fatal")]
    if errors:
        raise FhirError(Category.INVALID, errors)
    return resource


def _gone(current: StoredVersion) -> FhirError:
    return FhirError(
        Category.GONE,
        f"{current.resource_type}/{current.id} was deleted (version {current.version})",
        headers={"ETag": f'W/"{current.version}"'},
    )


def _check_if_match(current: StoredVersion | None, if_match: int | None) -> None:
    if if_match is None:
        return
    if current is None or current.deleted or current.version != if_match:
        have = (
            "it does not exist"
            if current is None or current.deleted
            else (f"the current version is {current.version}")
        )
        raise FhirError(
            Category.PRECONDITION_FAILED,
            Issue(f"If-Match asked for version {if_match}, but {have}", code="conflict"),
        )


def create_in(
    tx: Transaction, resource_type: str, resource: dict[str, Any], *, id: str | None = None
) -> StoredVersion:
    """Store a new resource under ``id`` (default: a new one) as its version 1.

    ``id`` must be one the server just made (a Bundle plans its creates' ids
    ahead, to rewrite references to them): nothing is looked up first.
    """
    # https://hl7.org/fhir/R4/http.html#create: an id in the body is ignored.
    id = id or new_id()
    return tx.write(
        resource_type,
        id,
        lambda version, moment: stamp(resource, id, version, moment),
        method="POST",
        previous=None,
        resource=resource,
    )


def update_in(
    tx: Transaction,
    resource_type: str,
    id: str,
    resource: dict[str, Any],
    *,
    if_match: int | None = None,
) -> tuple[StoredVersion, bool]:
    """Returns the new version and whether it created the resource (update as create).

    An update that changes nothing but ``meta.versionId``/``lastUpdated`` makes
    no new version (as HAPI and Azure's FHIR service do): re-sending or
    re-importing the same resource must not grow its history.
    """
    current = tx.current(resource_type, id)
    _check_if_match(current, if_match)
    if (
        current is not None
        and not current.deleted
        and current.body == stamp(resource, id, current.version, current.last_updated)
    ):
        return current, False
    created = current is None or current.deleted
    stored = tx.write(
        resource_type,
        id,
        lambda version, moment: stamp(resource, id, version, moment),
        method="POST" if current is None else "PUT",
        previous=current,
        resource=resource,
    )
    return stored, created


def delete_in(
    tx: Transaction, resource_type: str, id: str, *, if_match: int | None = None
) -> StoredVersion | None:
    """Returns the deletion's version, or None when there was nothing to delete."""
    current = tx.current(resource_type, id)
    _check_if_match(current, if_match)
    if current is None or current.deleted:
        return None
    return tx.delete(resource_type, id, previous=current)


class ResourceService:
    """Single-interaction entry points, each in its own transaction."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    def read(self, resource_type: str, id: str) -> StoredVersion:
        require_type(resource_type)
        current = self.storage.read(resource_type, id) if is_valid_id(id) else None
        if current is None:
            raise FhirError(Category.NOT_FOUND, f"{resource_type}/{id[:80]} is not known")
        if current.deleted:
            raise _gone(current)
        return current

    def vread(self, resource_type: str, id: str, version_text: str) -> StoredVersion:
        require_type(resource_type)
        stored = None
        if is_valid_id(id) and version_text.isdigit() and len(version_text) < 10:
            stored = self.storage.vread(resource_type, id, int(version_text))
        if stored is None:
            raise FhirError(
                Category.NOT_FOUND,
                f"{resource_type}/{id[:80]} has no version '{version_text[:20]}'",
            )
        if stored.deleted:
            raise _gone(stored)
        return stored

    def create(self, resource_type: str, resource: Any) -> StoredVersion:
        require_type(resource_type)
        checked = check_resource(resource, resource_type, url_id=None)
        with self.storage.transaction() as tx:
            return create_in(tx, resource_type, checked)

    def update(
        self, resource_type: str, id: str, resource: Any, *, if_match: int | None = None
    ) -> tuple[StoredVersion, bool]:
        require_type(resource_type)
        require_id(id)
        checked = check_resource(resource, resource_type, url_id=id)
        try:
            with self.storage.transaction() as tx:
                return update_in(tx, resource_type, id, checked, if_match=if_match)
        except VersionConflict as exc:
            raise FhirError(Category.CONFLICT, Issue(str(exc), code="conflict")) from exc

    def delete(
        self, resource_type: str, id: str, *, if_match: int | None = None
    ) -> StoredVersion | None:
        require_type(resource_type)
        if not is_valid_id(id):
            return None
        with self.storage.transaction() as tx:
            return delete_in(tx, resource_type, id, if_match=if_match)
