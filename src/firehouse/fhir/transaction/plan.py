"""What each entry will do: conditionals resolved, ids assigned, references rewritten.

https://hl7.org/fhir/R4/http.html#transaction:

- a POST gets a new id, and every reference to its ``fullUrl`` (``urn:uuid:``,
  ``urn:oid:`` or RESTful) is rewritten to it, at any depth: extensions,
  contained resources, narrative links (:mod:`firehouse.fhir.references`);
- ``ifNoneExist`` (#ccreate), ``PUT``/``PATCH``/``DELETE [type]?criteria``
  (#cond-update, #cdelete) and conditional references (``Patient?identifier=x``,
  #trules) are searches, answered by the :data:`Resolver` inside the write
  transaction so that the check and the write it decides cannot be separated;
  one match is used, several are a 412 (a conditional reference matching
  none is a 412 as well);
- resources are checked (:func:`~firehouse.fhir.service.check_resource`)
  before the transaction starts, so a bad entry costs no lock.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from firehouse.errors import Category, FhirError, Issue, invalid
from firehouse.fhir.patch import Patch, from_entry_resource
from firehouse.fhir.references import rewrite_references, service_base
from firehouse.fhir.resource import is_valid_id
from firehouse.fhir.service import check_resource
from firehouse.fhir.transaction.entries import Entry, Params, criteria
from firehouse.storage.base import Transaction

Action = Literal["create", "update", "patch", "delete", "none", "match", "read", "vread", "search"]

# Matching ids for a search of one type, e.g. ("Patient", (("identifier", "x"),)):
# run inside ``tx`` (SearchEngine.matching(..., searcher=tx.search)). Two ids are
# enough to tell "one" from "several".
Resolver = Callable[[Transaction, str, Params], list[str]]

# Spec processing order (http.html#transaction): DELETE, POST, PUT/PATCH, GET/HEAD.
ORDER = {"DELETE": 0, "POST": 1, "PUT": 2, "PATCH": 2, "GET": 3, "HEAD": 3}

_CONDITIONAL_REFERENCE = re.compile(r"(?P<type>[A-Z][A-Za-z]+)\?(?P<query>.+)")


@dataclass(frozen=True, slots=True)
class Step:
    """What one entry does, once its conditions are resolved."""

    entry: Entry
    action: Action
    id: str | None
    resource: dict[str, Any] | None = None  # create and update
    patch: Patch | None = None

    @property
    def identity(self) -> str | None:
        return f"{self.entry.resource_type}/{self.id}" if self.id else None


def check_entry(entry: Entry) -> None:
    """Everything about an entry that needs no storage; raises FhirError."""
    if entry.method == "POST":
        check_resource(entry.resource, entry.resource_type, url_id=None)
    elif entry.method == "PUT":
        check_resource(entry.resource, entry.resource_type, url_id=entry.id)
    elif entry.method == "PATCH":
        from_entry_resource(entry.resource)


def _unresolved(what: str) -> FhirError:
    return FhirError(
        Category.UNSUPPORTED,
        Issue(f"{what} needs search, which is not available here", "not-supported"),
    )


def _several(entry: Entry, what: str) -> FhirError:
    return FhirError(
        Category.PRECONDITION_FAILED,
        Issue(
            f"The {what} criteria match more than one {entry.resource_type}; be more specific",
            code="multiple-matches",
        ),
    )


def _matches(
    tx: Transaction, resolve: Resolver | None, entry: Entry, params: Params, what: str
) -> list[str]:
    if resolve is None:
        raise _unresolved(f"A conditional {entry.method} ({what})")
    found = resolve(tx, entry.resource_type, params)
    if len(found) > 1:
        raise _several(entry, what)
    return found


def plain_step(entry: Entry, new_id: str | None) -> Step | None:
    """The step of an entry with no search in it; None for a conditional one."""
    method = entry.method
    if method in ("GET", "HEAD"):
        if entry.id is None:
            return Step(entry, "search", None)
        return Step(entry, "vread" if entry.version else "read", entry.id)
    if entry.query is not None or entry.if_none_exist is not None:
        return None
    if method == "POST":
        return Step(entry, "create", new_id, entry.resource)
    if method == "PUT":
        return Step(entry, "update", entry.id, entry.resource)
    if method == "PATCH":
        return Step(entry, "patch", entry.id, entry.resource)
    return Step(entry, "delete", entry.id)


def decide(tx: Transaction, entry: Entry, resolve: Resolver | None, new_id: str | None) -> Step:
    """The step ``entry`` takes; ``new_id`` is the id a create would get."""
    plain = plain_step(entry, new_id)
    if plain is not None:
        return plain
    method = entry.method
    if method == "POST":
        assert entry.if_none_exist is not None
        found = _matches(tx, resolve, entry, entry.if_none_exist, "ifNoneExist")
        if found:
            return Step(entry, "match", found[0])
        return Step(entry, "create", new_id, entry.resource)
    assert entry.query is not None
    found = _matches(tx, resolve, entry, entry.query, "url")
    if method == "DELETE":
        return Step(entry, "delete", found[0]) if found else Step(entry, "none", None)
    if method == "PATCH":
        if not found:
            raise FhirError(Category.NOT_FOUND, f"No {entry.resource_type} matches {entry.url}")
        return Step(entry, "patch", found[0], entry.resource)
    # A conditional update: the match, else the body's id (update as create), else a new id.
    body_id = entry.resource.get("id")
    if found:
        if body_id is not None and body_id != found[0]:
            raise invalid(
                f"The body's id {body_id!r} is not the id of the match ('{found[0]}')",
                f"{entry.where}.resource.id",
            )
        return Step(entry, "update", found[0], entry.resource)
    if isinstance(body_id, str) and is_valid_id(body_id):
        return Step(entry, "update", body_id, entry.resource)
    return Step(entry, "create", new_id, entry.resource)


def identities(steps: list[Step]) -> dict[str, str]:
    """fullUrl -> ``Type/id`` for every entry that names a resource by another URL."""
    mapping: dict[str, str] = {}
    for step in steps:
        url, identity = step.entry.full_url, step.identity
        writes = step.action in ("create", "update", "patch", "match")
        if url and identity and writes and url != identity:
            mapping.setdefault(url, identity)
    return mapping


def _references(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "reference" and isinstance(item, str):
                yield item
            elif isinstance(item, dict | list):
                yield from _references(item)
    elif isinstance(value, list):
        for item in value:
            yield from _references(item)


def conditional_references(
    tx: Transaction, step: Step, resolve: Resolver | None, known: Mapping[str, str]
) -> dict[str, str]:
    """``Patient?identifier=x`` -> ``Patient/123`` for the step's resource (#trules)."""
    found: dict[str, str] = {}
    source = step.resource if step.resource is not None else step.entry.resource
    if step.action not in ("create", "update", "patch") or not isinstance(source, dict):
        return found
    for reference in _references(source):
        match = _CONDITIONAL_REFERENCE.fullmatch(reference)
        if match is None or reference in known or reference in found:
            continue
        if resolve is None:
            raise _unresolved(f"The conditional reference '{reference[:100]}'")
        params = criteria(match["query"], f"{step.entry.where}.resource")
        ids = resolve(tx, match["type"], params)
        if len(ids) != 1:
            raise FhirError(
                Category.PRECONDITION_FAILED,
                Issue(
                    f"The conditional reference '{reference[:100]}' matches "
                    f"{'no' if not ids else 'more than one'} {match['type']}",
                    code="not-found" if not ids else "multiple-matches",
                ),
            )
        found[reference] = f"{match['type']}/{ids[0]}"
    return found


def finish(step: Step, mapping: Mapping[str, str]) -> Step:
    """The step with every reference in its resource or patch rewritten."""
    base = service_base(step.entry.full_url)
    if step.action in ("create", "update") and step.resource is not None:
        return replace(step, resource=rewrite_references(step.resource, mapping, base=base))
    if step.action == "patch":
        # A FHIRPath Patch's values may point at other entries; a Binary's base64
        # JSON Patch is opaque and stays as sent.
        source = rewrite_references(step.entry.resource, mapping, base=base)
        return replace(step, patch=from_entry_resource(source))
    return step
