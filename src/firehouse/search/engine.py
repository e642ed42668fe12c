"""Running a search: plan, one page of matches, includes, the next page's cursor.

https://hl7.org/fhir/R4/search.html. Nothing here knows HTTP: the REST layer
(``rest/search.py``) turns a :class:`SearchResult` into a searchset Bundle.
Pages continue from an opaque cursor holding the last entry's sort values
and key (keyset paging: no OFFSET, no rescanning, stable while resources are
written). ``_include``/``_revinclude`` (with ``:iterate``, at most
:data:`MAX_ITERATIONS` rounds and :data:`MAX_INCLUDES` resources) never
reach outside the ``restrict`` compartment when one is given.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

from firehouse.errors import Category, FhirError, Issue, invalid
from firehouse.search.compartment import patient_compartment
from firehouse.search.plan import PlanContext, plan, sort_keys
from firehouse.search.query import CURSOR, Include, ParsedSearch, parse
from firehouse.search.registry import Registry
from firehouse.storage.base import Storage
from firehouse.storage.criteria import (
    And,
    Criteria,
    Cursor,
    IdIn,
    IncludeQuery,
    Or,
    RevIncludeQuery,
    SearchHit,
    SearchPage,
    SearchQuery,
    TypeIn,
)

MAX_ITERATIONS = 4
MAX_INCLUDES = 1000


@dataclass(frozen=True, slots=True)
class SearchRequest:
    resource_types: tuple[str, ...] | None  # None: system-level search
    params: tuple[tuple[str, str], ...]
    local_base: str
    default_count: int = 20
    max_count: int = 1000
    strict: bool = False
    # Confine matches and includes to these patients' compartments (SMART
    # patient context, compartment search). None: no confinement.
    restrict_to_patients: tuple[str, ...] | None = None
    # Compartment search (``Patient/123/Observation``): only the matches must be
    # in this patient's compartment; includes may point outside it.
    compartment_patient: str | None = None


@dataclass(frozen=True, slots=True)
class SearchResult:
    matches: tuple[SearchHit, ...]
    included: tuple[SearchHit, ...]
    total: int | None
    parsed: ParsedSearch
    applied: tuple[tuple[str, str], ...]  # criteria and result params, as they were applied
    next_cursor: str | None
    ignored: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Prepared:
    query: SearchQuery
    parsed: ParsedSearch
    applied: tuple[tuple[str, str], ...]
    ignored: tuple[str, ...]


def encode_cursor(cursor: Cursor) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(list(cursor))).decode().rstrip("=")


def decode_cursor(token: str, arity: int) -> Cursor:
    try:
        values = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError):
        values = None
    if (
        not isinstance(values, list)
        or len(values) != arity
        or not all(isinstance(v, int | str) and not isinstance(v, bool) for v in values)
    ):
        raise invalid(f"{CURSOR} is not a page this server handed out for this search", CURSOR)
    return tuple(values)


class SearchEngine:
    def __init__(self, storage: Storage, registry: Callable[[], Registry]) -> None:
        self.storage = storage
        self.registry = registry

    def _restriction(self, request: SearchRequest, resource_type: str) -> Criteria | None:
        if request.restrict_to_patients is None:
            return None
        return patient_compartment(resource_type, request.restrict_to_patients, request.local_base)

    def _restrict_all(self, request: SearchRequest, types: Sequence[str] | None) -> Criteria | None:
        if request.restrict_to_patients is None:
            return None
        if types is None:
            raise FhirError(
                Category.FORBIDDEN,
                Issue("A patient-confined search must name its resource types", "forbidden"),
            )
        parts: list[Criteria] = []
        for resource_type in types:
            restriction = patient_compartment(
                resource_type, request.restrict_to_patients, request.local_base
            )
            parts.append(And((TypeIn((resource_type,)), restriction)))
        return parts[0] if len(parts) == 1 else Or(tuple(parts))

    def prepare(self, request: SearchRequest) -> Prepared:
        """Parse and plan ``request`` into the storage query for its page."""
        parsed = parse(request.params, request.default_count, request.max_count)
        registry = self.registry()
        types = request.resource_types
        if types is None and parsed.types is not None:
            types = parsed.types
        ctx = PlanContext(registry, request.local_base, datetime.now(UTC))
        restrict = self._restrict_all(request, types)
        if request.compartment_patient is not None and types is not None:
            # Compartment search names exactly one type (rest/search.py).
            inside = patient_compartment(
                types[0], (request.compartment_patient,), request.local_base
            )
            restrict = inside if restrict is None else And((restrict, inside))
        planned = plan(parsed.clauses, types, ctx, restrict)
        sort, unknown_sort = sort_keys(parsed.sort, types, registry)
        if request.strict and (planned.unknown or unknown_sort):
            raise FhirError(
                Category.INVALID,
                [Issue(u.reason, "not-supported", expression=(u.name,)) for u in planned.unknown]
                + [
                    Issue(f"cannot sort by '{c}'", "not-supported", expression=("_sort",))
                    for c in unknown_sort
                ],
            )
        after = None
        if parsed.cursor is not None:
            after = decode_cursor(parsed.cursor, len(sort) + 1)
        count = 0 if parsed.summary == "count" else parsed.count
        want_total = parsed.total != "none" or parsed.summary == "count"
        query = SearchQuery(
            types, planned.criteria, sort, after, count, want_total, parsed.total == "estimate"
        )
        applied = tuple((c.name, c.value) for c in planned.applied) + tuple(
            (n, v) for n, v in parsed.result_params if not (n == "_sort" and unknown_sort)
        )
        ignored = tuple(u.name for u in planned.unknown) + tuple(f"_sort={c}" for c in unknown_sort)
        return Prepared(query, parsed, applied, ignored)

    def search(self, request: SearchRequest) -> SearchResult:
        prepared = self.prepare(request)
        page = self.storage.search(prepared.query)
        parsed = prepared.parsed
        included = (
            self._includes(request, parsed.includes, page.hits) if prepared.query.count else ()
        )
        return SearchResult(
            matches=page.hits,
            included=included,
            total=page.total,
            parsed=parsed,
            applied=prepared.applied,
            next_cursor=encode_cursor(page.next_cursor) if page.next_cursor else None,
            ignored=prepared.ignored,
        )

    # ------------------------------------------------------------ includes

    def _fetch(
        self, request: SearchRequest, targets: Sequence[tuple[str, str]], seen: set[tuple[str, str]]
    ) -> list[SearchHit]:
        by_type: dict[str, list[str]] = {}
        for target in targets:
            if target not in seen:
                by_type.setdefault(target[0], []).append(target[1])
        found: list[SearchHit] = []
        for resource_type, ids in sorted(by_type.items()):
            criteria: Criteria = IdIn(tuple(ids))
            restriction = self._restriction(request, resource_type)
            if restriction is not None:
                criteria = And((criteria, restriction))
            page = self.storage.search(SearchQuery((resource_type,), criteria, count=len(ids)))
            found.extend(page.hits)
        return found

    def _includes(
        self, request: SearchRequest, includes: Sequence[Include], matches: Sequence[SearchHit]
    ) -> tuple[SearchHit, ...]:
        if not includes or not matches:
            return ()
        seen = {(h.resource_type, h.id) for h in matches}
        included: list[SearchHit] = []
        frontier = list(matches)
        for round_number in range(MAX_ITERATIONS):
            added: list[SearchHit] = []
            for include in includes:
                if round_number > 0 and not include.iterate:
                    continue
                for hit in self._include_one(request, include, frontier, seen):
                    key = (hit.resource_type, hit.id)
                    if key not in seen and len(included) + len(added) < MAX_INCLUDES:
                        seen.add(key)
                        added.append(hit)
            if not added:
                break
            included.extend(added)
            frontier = added
        return tuple(included)

    def _include_one(
        self,
        request: SearchRequest,
        include: Include,
        sources: Sequence[SearchHit],
        seen: set[tuple[str, str]],
    ) -> list[SearchHit]:
        params: tuple[str, ...] = () if include.param == "*" else (include.param,)
        if not include.reverse:
            keys = tuple(h.key for h in sources if h.resource_type == include.source_type)
            if not keys:
                return []
            targets = self.storage.include(
                IncludeQuery(
                    keys, include.source_type, params, include.target_type, request.local_base
                )
            )
            return self._fetch(request, targets, seen)
        wanted = tuple(
            (h.resource_type, h.id)
            for h in sources
            if include.target_type is None or h.resource_type == include.target_type
        )
        if not wanted:
            return []
        query = RevIncludeQuery(
            wanted,
            include.source_type,
            params,
            request.local_base,
            self._restriction(request, include.source_type),
        )
        return self.storage.revinclude(query, MAX_INCLUDES)

    # ------------------------------------------------------------ conditional interactions

    def matching(
        self,
        resource_type: str,
        params: Sequence[tuple[str, str]],
        local_base: str,
        limit: int = 2,
        searcher: Callable[[SearchQuery], SearchPage] | None = None,
    ) -> list[SearchHit]:
        """Up to ``limit`` current resources meeting ``params``, for conditional
        create/update/delete and conditional references (http.html#ccreate).

        Pass ``searcher=tx.search`` to look inside a write transaction, so that
        the check and the write it decides are one atomic step. Unknown
        parameters are an error here: ignoring one would widen the match.
        """
        parsed = parse(params, limit, limit)
        if not parsed.clauses:
            raise invalid(f"A conditional {resource_type} request needs search criteria")
        ctx = PlanContext(self.registry(), local_base, datetime.now(UTC))
        planned = plan(parsed.clauses, (resource_type,), ctx)
        if planned.unknown:
            raise FhirError(
                Category.INVALID,
                [Issue(u.reason, "not-supported", expression=(u.name,)) for u in planned.unknown],
            )
        run = searcher or self.storage.search
        return list(run(SearchQuery((resource_type,), planned.criteria, count=limit)).hits)
