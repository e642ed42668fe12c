"""SMART clinical scopes, v1 and v2 syntax.

https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html:
``<context>/<resource type or *>.<permissions>`` where context is ``patient``,
``user`` or ``system``, and permissions are v1 ``read``/``write``/``*`` or a v2
string of the letters ``c r u d s`` in that order (``rs``, ``cruds``).
v1 ``read`` means v2 ``rs``; v1 ``write`` means ``cud``; ``*`` means all.

v2 scopes with search-parameter restrictions (``patient/Observation.rs?category=...``,
#finer-grained-resource-constraints-using-search-parameters) are not honoured:
applying only part of a restriction would grant more than intended, so such
a scope grants nothing here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ALL_LETTERS = "cruds"
_V1 = {"read": "rs", "write": "cud", "*": ALL_LETTERS}
_CLINICAL = re.compile(r"^(patient|user|system)/([A-Z][A-Za-z]*|\*)\.([a-z*]+)$")
_V2_ORDER = re.compile(r"^c?r?u?d?s?$")


@dataclass(frozen=True, slots=True)
class Grant:
    """One clinical scope: a context, a resource type (``*``: any), permission letters."""

    context: str  # patient | user | system
    resource_type: str
    letters: frozenset[str]

    def covers(self, resource_type: str, letter: str) -> bool:
        return letter in self.letters and self.resource_type in ("*", resource_type)


def parse_scope(scope: str) -> Grant | None:
    """The grant a scope string makes, or None (not a clinical scope, or not honoured)."""
    found = _CLINICAL.match(scope)
    if found is None:
        return None
    context, resource_type, permissions = found.groups()
    letters = _V1.get(permissions)
    if letters is None:
        if not permissions or not _V2_ORDER.match(permissions):
            return None
        letters = permissions
    return Grant(context, resource_type, frozenset(letters))


def parse_scopes(scopes: tuple[str, ...]) -> tuple[Grant, ...]:
    return tuple(g for g in (parse_scope(s) for s in scopes) if g is not None)
