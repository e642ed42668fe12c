"""A search's parameters, parsed: criteria clauses and result parameters.

https://hl7.org/fhir/R4/search.html#table (result parameters), #include,
#sort, #count, #total, #summary, #elements. Criteria clauses are only split
off here; ``plan.py`` interprets them against the registry. A malformed
result parameter is a 400 naming it (search.html#errors).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from firehouse.errors import invalid
from firehouse.fhir import definitions

CURSOR = "_cursor"
# Parameters that shape the response rather than select resources.
RESULT_PARAMS = frozenset(
    {
        "_sort",
        "_count",
        "_include",
        "_revinclude",
        "_total",
        "_summary",
        "_elements",
        "_format",
        "_pretty",
        "_contained",
        "_containedType",
        "_type",
        CURSOR,
    }
)
_IGNORED = frozenset({"_format", "_pretty", "_contained", "_containedType"})
Summary = Literal["true", "text", "data", "count", "false"]
Total = Literal["none", "estimate", "accurate"]


@dataclass(frozen=True, slots=True)
class Clause:
    name: str  # as given: ``subject:Patient.name:exact``, ``_has:Observation:patient:code``
    value: str


@dataclass(frozen=True, slots=True)
class Include:
    """``_include=Source:param[:Target]`` (``param`` ``*``: every reference param)."""

    source_type: str
    param: str
    target_type: str | None
    iterate: bool
    reverse: bool

    def text(self) -> str:
        return ":".join(p for p in (self.source_type, self.param, self.target_type) if p)

    def name(self) -> str:
        base = "_revinclude" if self.reverse else "_include"
        return f"{base}:iterate" if self.iterate else base


@dataclass(frozen=True, slots=True)
class ParsedSearch:
    clauses: tuple[Clause, ...]
    count: int
    sort: tuple[tuple[str, bool], ...] = ()  # (code, descending)
    includes: tuple[Include, ...] = ()
    total: Total = "none"
    summary: Summary | None = None
    elements: tuple[str, ...] = ()
    cursor: str | None = None
    types: tuple[str, ...] | None = None  # ``_type`` (system search)
    result_params: tuple[tuple[str, str], ...] = field(default=())  # as applied, for links


def _count(value: str, maximum: int) -> int:
    if not value.isdigit() or len(value) > 9:
        raise invalid(f"_count must be a whole number, got {value[:40]!r}", "_count")
    return min(int(value), maximum)


def _include(name: str, value: str) -> Include:
    base, _, modifier = name.partition(":")
    if modifier not in ("", "iterate", "recurse"):
        raise invalid(f"{name} is not a known include modifier (use :iterate)", name)
    parts = value.split(":")
    if len(parts) not in (2, 3) or not definitions.is_resource_type(parts[0]):
        raise invalid(f"{base} takes Type:param[:TargetType] or Type:*, got {value[:80]!r}", name)
    target = parts[2] if len(parts) == 3 else None
    if target is not None and not definitions.is_resource_type(target):
        raise invalid(f"{base}: unknown target type {target[:64]!r}", name)
    return Include(parts[0], parts[1], target, bool(modifier), base == "_revinclude")


def parse(pairs: Sequence[tuple[str, str]], default_count: int, max_count: int) -> ParsedSearch:
    """Split ``pairs`` (a query string's or form body's items) into clauses and options."""
    clauses: list[Clause] = []
    applied: list[tuple[str, str]] = []
    count = default_count
    sort: list[tuple[str, bool]] = []
    includes: list[Include] = []
    total: Total = "none"
    summary: Summary | None = None
    elements: list[str] = []
    cursor: str | None = None
    types: list[str] | None = None
    for name, value in pairs:
        base = name.split(":", 1)[0]
        if base not in RESULT_PARAMS:
            clauses.append(Clause(name, value))
            continue
        if base in _IGNORED:
            continue
        if base == "_count":
            count = _count(value, max_count)
            continue  # the links always carry the page size used
        if base == CURSOR:
            cursor = value
            continue
        applied.append((name, value))
        if base == "_sort":
            for key in value.split(","):
                key = key.strip()
                if not key or key == "-":
                    raise invalid(f"_sort has an empty key: {value[:80]!r}", "_sort")
                sort.append((key[1:], True) if key.startswith("-") else (key, False))
        elif base in ("_include", "_revinclude"):
            includes.append(_include(name, value))
        elif base == "_total":
            if value not in ("none", "estimate", "accurate"):
                raise invalid("_total is none, estimate or accurate", "_total")
            total = value  # type: ignore[assignment]
        elif base == "_summary":
            if value not in ("true", "text", "data", "count", "false"):
                raise invalid("_summary is true, text, data, count or false", "_summary")
            summary = value  # type: ignore[assignment]
        elif base == "_elements":
            elements.extend(e.strip() for e in value.split(",") if e.strip())
        elif base == "_type":
            names = [t.strip() for t in value.split(",") if t.strip()]
            unknown = [t for t in names if not definitions.is_resource_type(t)]
            if unknown:
                raise invalid(f"_type names unknown resource types: {', '.join(unknown)}", "_type")
            types = (types or []) + names
    return ParsedSearch(
        clauses=tuple(clauses),
        count=count,
        sort=tuple(sort),
        includes=tuple(includes),
        total=total,
        summary=summary,
        elements=tuple(elements),
        cursor=cursor,
        types=tuple(types) if types is not None else None,
        result_params=tuple(applied),
    )
