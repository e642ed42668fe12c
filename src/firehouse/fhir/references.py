"""References between Bundle entries rewritten, and stored-as-is Bundles planned.

Pure functions, no storage. :func:`rewrite_references` serves every Bundle
with new ids: batch and transaction Bundles (run by
:mod:`firehouse.fhir.transaction`, for ``POST /`` and ``firehouse import``
alike) and the Bundles ``firehouse import`` stores entry by entry
(collection, searchset, history, document), planned by :func:`plan_bundle`.

- https://hl7.org/fhir/R4/bundle.html#references: an entry's ``fullUrl`` is its
  identity inside the Bundle; a reference equal to it (or, for a RESTful
  ``fullUrl``, a relative reference resolved against the same base) points at
  that entry.
- https://hl7.org/fhir/R4/http.html#transaction: a POST entry gets a new id
  from the server and every reference to its ``fullUrl`` is rewritten to the
  new identity.
- https://hl7.org/fhir/R4/http.html#trans-ids: links in narrative
  (``<a href>``, ``<img src>``) are rewritten too.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from firehouse.errors import FhirError, invalid
from firehouse.fhir.resource import new_id

Action = Literal["create", "update"]

# Bundle types whose entries carry a request (https://hl7.org/fhir/R4/bundle.html#bundle-types):
# run by firehouse.fhir.transaction, never planned here.
REQUEST_TYPES = frozenset({"transaction", "batch"})

_RESTFUL_URL = re.compile(
    r"(?P<base>.+)/(?P<type>[A-Z][A-Za-z]+)/(?P<id>[A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?"
)
_RELATIVE = re.compile(r"[A-Z][A-Za-z]+/[A-Za-z0-9\-.]{1,64}")
_NARRATIVE_LINK = re.compile(r'(\b(?:href|src)=")([^"]+)(")')


@dataclass(frozen=True, slots=True)
class EntryPlan:
    """One entry turned into one write, with its references already rewritten."""

    index: int  # position in Bundle.entry, as in the FHIRPath Bundle.entry[index]
    action: Action
    resource_type: str
    id: str  # the new server id for a create; the given id otherwise
    resource: dict[str, Any]
    full_url: str | None


@dataclass(frozen=True, slots=True)
class EntryProblem:
    """An entry that cannot be planned (the rest of the Bundle still can)."""

    index: int
    resource_type: str | None
    error: FhirError


@dataclass(frozen=True, slots=True)
class _Target:
    index: int
    action: Action
    resource_type: str
    id: str
    resource: Any
    full_url: str | None


def bundle_type(bundle: Mapping[str, Any]) -> str:
    kind = bundle.get("type")
    return kind if isinstance(kind, str) else ""


def entries(bundle: Mapping[str, Any]) -> list[Any]:
    raw = bundle.get("entry")
    return raw if isinstance(raw, list) else []


def _resource_type_of(entry: Any) -> str | None:
    """The entry's resource type, for reports."""
    resource = entry.get("resource") if isinstance(entry, dict) else None
    kind = resource.get("resourceType") if isinstance(resource, dict) else None
    return kind if isinstance(kind, str) else None


def _target(index: int, entry: Any, make_id: Callable[[], str]) -> _Target | None:
    """What the entry writes; None for an entry with nothing to store."""
    if not isinstance(entry, dict):
        raise invalid("The entry is not a JSON object", f"Bundle.entry[{index}]")
    resource = entry.get("resource")
    full_url = entry.get("fullUrl") if isinstance(entry.get("fullUrl"), str) else None
    # Each resource is stored as it is, except a searchset's OperationOutcome
    # about the search itself.
    search = entry.get("search")
    if isinstance(search, dict) and search.get("mode") == "outcome":
        return None
    if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
        raise invalid("The entry has no resource", f"Bundle.entry[{index}].resource")
    given = resource.get("id")
    if isinstance(given, str):
        return _Target(index, "update", resource["resourceType"], given, resource, full_url)
    return _Target(index, "create", resource["resourceType"], make_id(), resource, full_url)


def _targets(bundle: Mapping[str, Any], make_id: Callable[[], str]) -> list[_Target | EntryProblem]:
    if bundle_type(bundle) in REQUEST_TYPES:
        raise ValueError("batch and transaction Bundles are run by firehouse.fhir.transaction")
    planned: list[_Target | EntryProblem] = []
    for index, entry in enumerate(entries(bundle)):
        try:
            # A fullUrl may repeat here legitimately (a history: one per version).
            target = _target(index, entry, make_id)
            if target is None:
                continue
            planned.append(target)
        except FhirError as exc:
            planned.append(EntryProblem(index, _resource_type_of(entry), exc))
    return planned


def _mapping(targets: list[_Target | EntryProblem]) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for target in targets:
        if isinstance(target, _Target) and target.full_url:
            identity = f"{target.resource_type}/{target.id}"
            if target.full_url != identity:
                mapping.setdefault(target.full_url, identity)
    return mapping


def assign_ids(bundle: Mapping[str, Any], *, make_id: Callable[[], str] = new_id) -> dict[str, str]:
    """fullUrl -> ``Type/id`` the entry will be stored as (new ids for creates).

    Covers ``urn:uuid:``/``urn:oid:`` and RESTful fullUrls alike; entries that
    cannot be planned are left out, so references to them stay as written.
    """
    return _mapping(_targets(bundle, make_id))


def _rewrite_string(value: str, mapping: Mapping[str, str], base: str | None) -> str:
    found = mapping.get(value)
    if found is not None:
        return found
    if base is not None and _RELATIVE.fullmatch(value):
        return mapping.get(f"{base}/{value}", value)
    return value


def _rewrite_narrative(div: str, mapping: Mapping[str, str]) -> str:
    if 'href="' not in div and 'src="' not in div:
        return div
    rewritten = _NARRATIVE_LINK.sub(lambda m: m[1] + mapping.get(m[2], m[2]) + m[3], div)
    # The same object back when nothing changed, so the caller does not copy.
    return div if rewritten == div else rewritten


def rewrite_references(obj: Any, mapping: Mapping[str, str], *, base: str | None = None) -> Any:
    """A copy of ``obj`` with every ``reference`` naming a key of ``mapping`` replaced.

    Works at any depth (extensions, contained and nested resources) and also
    rewrites ``<a href>``/``<img src>`` in narrative ``div``. ``base`` is the
    service base of the containing entry's RESTful fullUrl, against which
    relative references (``Patient/1``) resolve. Unchanged subtrees are shared,
    not copied, and ``obj`` itself is never modified.
    """
    if not mapping:
        return obj
    if isinstance(obj, dict):
        changed: dict[str, Any] | None = None
        for key, value in obj.items():
            if key == "reference" and isinstance(value, str):
                new = _rewrite_string(value, mapping, base)
            elif key == "div" and isinstance(value, str):
                new = _rewrite_narrative(value, mapping)
            elif isinstance(value, dict | list):
                new = rewrite_references(value, mapping, base=base)
            else:
                continue
            if new is not value:
                if changed is None:
                    changed = dict(obj)
                changed[key] = new
        return obj if changed is None else changed
    if isinstance(obj, list):
        items = [rewrite_references(item, mapping, base=base) for item in obj]
        return obj if all(a is b for a, b in zip(items, obj, strict=True)) else items
    return obj


def service_base(full_url: str | None) -> str | None:
    """``http://ex.org/fhir`` of ``http://ex.org/fhir/Patient/1``; None for urn: ids."""
    if not full_url or "://" not in full_url:
        return None
    match = _RESTFUL_URL.fullmatch(full_url)
    return match["base"] if match else None


def plan_bundle(
    bundle: Mapping[str, Any], *, make_id: Callable[[], str] = new_id
) -> list[EntryPlan | EntryProblem]:
    """Every entry of a stored-as-is Bundle as a write (or the reason it cannot
    be one), references rewritten, in entry order.

    Planning checks the Bundle's shape only: validating each resource is the
    caller's next step. Batch and transaction Bundles raise ValueError.
    """
    targets = _targets(bundle, make_id)
    mapping = _mapping(targets)
    planned: list[EntryPlan | EntryProblem] = []
    for target in targets:
        if isinstance(target, EntryProblem):
            planned.append(target)
            continue
        resource = rewrite_references(target.resource, mapping, base=service_base(target.full_url))
        planned.append(
            EntryPlan(
                target.index,
                target.action,
                target.resource_type,
                target.id,
                resource,
                target.full_url,
            )
        )
    return planned
