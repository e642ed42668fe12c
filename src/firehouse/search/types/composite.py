"""composite parameters: https://hl7.org/fhir/R4/search.html#composite.

``component-code-value-quantity=http://loinc.org|8480-6$lt60``: each ``$``
part is searched as its component's own type, and all parts must match
values of one element (one ``Observation.component``). Indexing writes each
component's rows under ``code$i`` with one group number per element; the
storage joins the parts on it.
"""

from __future__ import annotations

from firehouse.search.types.base import BadValue, split_escaped

KIND = None
MODIFIERS: frozenset[str] = frozenset()


def split(text: str, arity: int) -> list[str]:
    parts = split_escaped(text, "$")
    if len(parts) != arity:
        raise BadValue(f"this composite takes {arity} values joined by '$', got {text[:80]!r}")
    return parts
