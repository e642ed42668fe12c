"""string parameters: https://hl7.org/fhir/R4/search.html#string.

Matching is case- and accent-insensitive and by default a prefix match;
``:exact`` compares the whole value as written, ``:contains`` matches anywhere.
HumanName and Address match on any of their parts.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator, Sequence
from functools import lru_cache
from typing import Any

from firehouse.search.fhirpath import Typed
from firehouse.search.types.base import BadValue, QueryContext, unescape
from firehouse.storage.criteria import IndexKind, IndexRow, StringCond, StringRow

KIND = IndexKind.STRING
MODIFIERS = frozenset({"exact", "contains"})
_MAX = 512  # longer values are indexed by their first 512 characters
_NAME_PARTS = ("text", "family", "given", "prefix", "suffix")
_ADDRESS_PARTS = ("text", "line", "city", "district", "state", "postalCode", "country")


@lru_cache(maxsize=65536)  # displays and names repeat across resources
def normalise(text: str) -> str:
    """Lower-case, accents folded, whitespace collapsed: what a prefix search compares."""
    if text.isascii():
        return " ".join(text.lower().split())
    decomposed = unicodedata.normalize("NFKD", text)
    folded = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return " ".join(folded.split())


def _strings(type_name: str | None, value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        parts = _ADDRESS_PARTS if type_name == "Address" or "city" in value else _NAME_PARTS
        for part in parts:
            item = value.get(part)
            items = item if isinstance(item, list) else [item]
            yield from (i for i in items if isinstance(i, str))


def rows(param: str, values: Sequence[Typed], group: int | None = None) -> list[IndexRow]:
    made: list[IndexRow] = []
    seen: set[str] = set()
    for type_name, value in values:
        for text in _strings(type_name, value):
            if text in seen:
                continue
            seen.add(text)
            made.append(StringRow(param, normalise(text)[:_MAX], text[:_MAX], group))
    return made


def condition(text: str, modifier: str | None, ctx: QueryContext) -> StringCond:
    text = unescape(text)
    if modifier == "exact":
        return StringCond("exact", text)
    if not text:
        raise BadValue("an empty string matches nothing useful")
    return StringCond("contains" if modifier == "contains" else "prefix", normalise(text))
