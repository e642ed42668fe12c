"""reference parameters: https://hl7.org/fhir/R4/search.html#reference.

Indexed: a relative reference as (type, id); an absolute URL as written plus
the type and id at its end (so a URL on this server's base matches
``Type/id``); a canonical as URL and version; a logical reference's
identifier (for ``:identifier``). Contained references (``#id``) are not
indexed. Searched: ``Type/id``, ``id`` (any target type, or
``:Type``), an absolute URL (of this server: as ``Type/id``), a canonical
``url|version``, and ``:identifier`` ``system|value``. Chaining is planned
in ``search.plan``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

from firehouse.fhir import definitions
from firehouse.search.fhirpath import Typed
from firehouse.search.types.base import BadValue, QueryContext, split_escaped, unescape
from firehouse.storage.criteria import IndexKind, IndexRow, ReferenceCond, ReferenceRow

KIND = IndexKind.REFERENCE
MODIFIERS = frozenset({"identifier"})  # and :[type], checked by the planner
_TAIL = re.compile(r"(?:^|/)([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?$")
_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")


def parse_literal(text: str) -> tuple[str | None, str | None]:
    """(type, id) at the end of a reference or URL, or (None, None)."""
    found = _TAIL.search(text)
    if found is None or not definitions.is_resource_type(found.group(1)):
        return None, None
    return found.group(1), found.group(2)


def _is_absolute(text: str) -> bool:
    return "://" in text or text.startswith(("urn:", "http:", "https:"))


def _rows(value: Any) -> Iterator[ReferenceRow]:
    if isinstance(value, str):  # canonical / uri
        url, _, version = value.partition("|")
        yield ReferenceRow("", url=url, version=version or None)
        return
    if not isinstance(value, dict):
        return
    reference = value.get("reference")
    identifier = value.get("identifier")
    system = identifier.get("system") if isinstance(identifier, dict) else None
    ident = identifier.get("value") if isinstance(identifier, dict) else None
    row = ReferenceRow("", identifier_system=system, identifier_value=ident)
    if isinstance(reference, str) and reference and not reference.startswith("#"):
        target_type, target_id = parse_literal(reference)
        absolute = reference if _is_absolute(reference) else None
        if target_type is None and absolute is None:
            return
        row = ReferenceRow("", target_type, target_id, absolute, None, system, ident)
    elif ident is None:
        return
    yield row


def rows(param: str, values: Sequence[Typed], group: int | None = None) -> list[IndexRow]:
    made: list[IndexRow] = []
    for _, value in values:
        for row in _rows(value):
            made.append(
                ReferenceRow(
                    param,
                    row.target_type,
                    row.target_id,
                    row.url,
                    row.version,
                    row.identifier_system,
                    row.identifier_value,
                    group,
                )
            )
    return made


def condition(text: str, modifier: str | None, ctx: QueryContext) -> ReferenceCond:
    """One value; ``modifier`` is ``identifier``, a resource type or None."""
    if modifier == "identifier":
        parts = split_escaped(text, "|")
        if len(parts) == 1:
            return ReferenceCond(identifier_value=unescape(parts[0]))
        if len(parts) != 2 or not parts[1]:
            raise BadValue(f":identifier takes [system]|value, got {text[:80]!r}")
        return ReferenceCond(
            identifier_system=unescape(parts[0]) or None,
            identifier_value=unescape(parts[1]),
            match_identifier_system=True,
        )
    value = unescape(text)
    if not value:
        raise BadValue("an empty reference")
    type_hint = modifier
    if _is_absolute(value):
        base = (ctx.local_base or "").rstrip("/")
        if base and value.startswith(base + "/"):
            value = value[len(base) + 1 :]
        else:
            url, _, version = value.partition("|")
            return ReferenceCond(url=url, version=version or None)
    if "/" in value:
        target_type, target_id = parse_literal(value)
        if target_type is None or target_id is None:
            raise BadValue(f"not a reference of the form Type/id: {value[:80]!r}")
        if type_hint is not None and type_hint != target_type:
            raise BadValue(f":{type_hint} does not agree with {value[:80]!r}")
    else:
        if not _ID.fullmatch(value):
            raise BadValue(f"not a resource id: {value[:80]!r}")
        target_type, target_id = type_hint, value
        if target_type is None and len(ctx.param.targets) == 1:
            target_type = ctx.param.targets[0]
    urls: tuple[str, ...] = ()
    if ctx.local_base and target_type is not None:
        urls = (f"{ctx.local_base.rstrip('/')}/{target_type}/{target_id}",)
    return ReferenceCond(target_type=target_type, target_id=target_id, urls=urls)
