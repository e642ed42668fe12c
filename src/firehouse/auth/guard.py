"""Compartment checks below the REST layer: every write, every Bundle entry.

A ``patient/`` token may only write resources in its patient's compartment.
The check is the storage's write check, run inside every write's
transaction on both the replaced and the new version
(:func:`compartment_write_check`), so create, update, patch, delete,
conditional writes and batch/transaction entries are all covered by one
check, and a refused write rolls back whole. Bundle entries are also checked one by one
before they run (:func:`entry_guard`): their scope, and for entries that name
an existing resource, that it is in the compartment.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from firehouse.auth.compartment import in_compartment
from firehouse.auth.policy import CURRENT, Access, forbidden
from firehouse.fhir import json as fhir_json
from firehouse.storage.base import Indexer, Storage, StoredVersion, Transaction, WriteCheck

# Bundle entry actions (fhir/transaction/plan.py) -> the permission they need.
ACTION_LETTER = {
    "create": "c",
    "match": "c",  # a conditional create that found its match
    "update": "u",
    "patch": "u",
    "delete": "d",
    "none": "d",  # a conditional delete that matched nothing
    "read": "r",
    "vread": "r",
    "search": "s",
}


def compartment_write_check(indexer: Indexer | None) -> WriteCheck:
    """The storage's write check for ``patient/`` tokens (``Storage.write_check``).

    Both the version being replaced and the new resource must be in the
    token's patient compartment: checked inside the write transaction, so a
    resource moved to another patient meanwhile cannot be overwritten.
    """

    def check(
        resource_type: str,
        id: str,
        previous: StoredVersion | None,
        resource: Mapping[str, Any] | None,
    ) -> None:
        access = CURRENT.get()
        if access is None:
            return
        patient = access.write_confinement(resource_type)
        if patient is None:
            return
        require_in_compartment(indexer, previous, patient, access.local_base)
        if resource is not None and not in_compartment(
            indexer, resource_type, resource, patient, access.local_base
        ):
            raise forbidden(
                f"a {resource_type} written with this token must be in the compartment "
                f"of Patient/{patient}"
            )

    return check


def stored_in_compartment(
    indexer: Indexer | None, stored: StoredVersion | None, patient: str, local_base: str | None
) -> bool:
    """True for nothing stored or a deletion; otherwise the compartment check."""
    if stored is None or stored.body is None:
        return True
    body = fhir_json.loads(stored.body)
    return in_compartment(indexer, stored.resource_type, body, patient, local_base)


def require_in_compartment(
    indexer: Indexer | None, stored: StoredVersion | None, patient: str, local_base: str | None
) -> None:
    if not stored_in_compartment(indexer, stored, patient, local_base):
        assert stored is not None
        raise forbidden(
            f"{stored.resource_type}/{stored.id} is not in the compartment of Patient/{patient}"
        )


EntryGuard = Callable[[Transaction, str, str, str | None, str | None], None]


def entry_guard(access: Access, storage: Storage) -> EntryGuard:
    """The check each batch/transaction entry passes before it runs.

    Called with the entry's action, resource type, id and version (vread).
    """

    def guard(
        tx: Transaction, action: str, resource_type: str, id: str | None, version: str | None
    ) -> None:
        patient = access.confinement(resource_type, ACTION_LETTER.get(action, "r"))
        if patient is None or id is None or action in ("create", "search"):
            return  # creates are checked by the write check, searches are restricted
        indexer = storage.indexer
        current = tx.current(resource_type, id)
        require_in_compartment(indexer, current, patient, access.local_base)
        if action == "vread" and version is not None and version.isdigit() and len(version) < 10:
            found = storage.vread(resource_type, id, int(version))
            require_in_compartment(indexer, found, patient, access.local_base)

    return guard


def confine_search(
    access: Access,
) -> Callable[[str, Sequence[tuple[str, str]]], tuple[str, ...] | None]:
    """For a search entry of one type: the patients its matches must belong to, or
    None; refuses chains and ``_has`` into types the token cannot search."""

    def confine(resource_type: str, params: Sequence[tuple[str, str]]) -> tuple[str, ...] | None:
        check_search_reach(access, [name for name, _ in params])
        patient = access.confinement(resource_type, "s")
        return None if patient is None else (patient,)

    return confine


def visible(access: Access, indexer: Indexer | None, resource_type: str, body: bytes) -> bool:
    """Whether a resource found by search (an ``_include``) may be shown."""
    if not access.may(resource_type, "r"):
        return False
    patient = access.confinement(resource_type, "r")
    if patient is None:
        return True
    return in_compartment(indexer, resource_type, fhir_json.loads(body), patient, access.local_base)


def reveal_to(
    access: Access | None, indexer: Indexer | None
) -> Callable[[str, bytes], bool] | None:
    """The include filter of a search made with ``access`` (None: everything shows)."""
    if access is None:
        return None
    return lambda resource_type, body: visible(access, indexer, resource_type, body)


__all__: Sequence[str] = (
    "ACTION_LETTER",
    "check_search_reach",
    "compartment_write_check",
    "confine_search",
    "entry_guard",
    "require_in_compartment",
    "reveal_to",
    "search_patients",
    "visible",
)


def search_patients(access: Access | None, types: Sequence[str] | None) -> tuple[str, ...] | None:
    """``SearchRequest.restrict_to_patients`` for a search of ``types`` (None: all)."""
    if access is None:
        return None
    if types is None:
        patient = access.confinement("*", "s")
        return None if patient is None else (patient,)
    patients = {access.confinement(t, "s") for t in types}
    if patients == {None}:
        return None
    # Mixed: confine all (a narrower answer, never a wider one).
    return tuple(sorted(p for p in patients if p is not None))


def _reach(name: str) -> list[str | None]:
    """Resource types a search parameter name looks into beyond its own type
    (None: a chain whose target type is not named)."""
    if name.startswith("_has:"):
        parts = name.split(":")
        if len(parts) < 4:
            return []
        return [parts[1], *_reach(":".join(parts[3:]))]
    head, dot, tail = name.partition(".")
    if not dot:
        return []
    _, colon, modifier = head.partition(":")
    target = modifier if colon and modifier[:1].isupper() else None
    return [target, *_reach(tail)]


def check_search_reach(access: Access | None, names: Sequence[str]) -> None:
    """Chains and ``_has`` filter by other resources' content; the token must be
    allowed to search those types too, or the filter itself would leak them.

    A chain without a target type (``subject.name``) may reach any type, so it
    needs a scope covering every type; ``subject:Patient.name`` needs Patient.
    """
    if access is None:
        return
    for name in names:
        for target in _reach(name):
            if not access.may(target or "*", "s"):
                what = target or "any resource type (name the target: subject:Patient.name)"
                raise forbidden(f"the search parameter {name[:80]} looks into {what}")
