"""uri parameters: https://hl7.org/fhir/R4/search.html#uri.

Exact match by default; ``:below`` matches URIs that start with the value,
``:above`` URIs the value starts with (at ``/`` boundaries, for versioned
canonical trees such as ``http://acme.org/fhir/ValueSet/123/_history/5``).
"""

from __future__ import annotations

from collections.abc import Sequence

from firehouse.search.fhirpath import Typed
from firehouse.search.types.base import BadValue, QueryContext, unescape
from firehouse.storage.criteria import IndexKind, IndexRow, UriCond, UriRow

KIND = IndexKind.URI
MODIFIERS = frozenset({"above", "below"})
_MAX = 2048


def rows(param: str, values: Sequence[Typed], group: int | None = None) -> list[IndexRow]:
    return [
        UriRow(param, value[:_MAX], group)
        for _, value in values
        if isinstance(value, str) and value
    ]


def _prefixes(value: str) -> tuple[str, ...]:
    found = {value}
    cut = value.rstrip("/")
    scheme_end = cut.find("://")
    floor = scheme_end + 3 if scheme_end >= 0 else 0
    while (slash := cut.rfind("/")) >= floor and slash > 0:
        cut = cut[:slash]
        found.add(cut)
    return tuple(sorted(found))


def condition(text: str, modifier: str | None, ctx: QueryContext) -> UriCond:
    value = unescape(text)
    if not value:
        raise BadValue("an empty uri")
    if modifier == "below":
        return UriCond("below", (value,))
    if modifier == "above":
        return UriCond("above", _prefixes(value))
    return UriCond("eq", (value,))
