"""The search engine as a Bundle's :class:`~firehouse.fhir.transaction.Hooks`.

- Conditional entries and references (https://hl7.org/fhir/R4/http.html#trules)
  are resolved by ``SearchEngine.matching`` inside the Bundle's write
  transaction (``searcher=tx.search``), so they see the transaction's own
  writes and nobody else's can slip in between the check and the write.
- ``GET [type]?...`` entries become a searchset Bundle
  (https://hl7.org/fhir/R4/search.html#return). ``SearchEngine.search`` reads
  the data as committed, so inside a transaction such a search does not see
  the transaction's own writes (reads and vreads do).

Shared by ``POST /`` and ``firehouse import``, so both resolve the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from firehouse.fhir.bundle import Link, search_bundle, search_entries
from firehouse.fhir.transaction.entries import Params
from firehouse.fhir.transaction.execute import Hooks
from firehouse.search.engine import SearchEngine, SearchRequest
from firehouse.search.query import CURSOR
from firehouse.storage.base import Transaction


def engine_hooks(
    engine: SearchEngine,
    base: str,
    *,
    default_count: int = 20,
    max_count: int = 1000,
    strict: bool = False,
    confine: Callable[[str, Params], tuple[str, ...] | None] | None = None,
    reveal: Callable[[str, bytes], bool] | None = None,
) -> Hooks:
    """Hooks answering from ``engine``; ``base`` is the server's public base URL."""

    def resolve(tx: Transaction, resource_type: str, params: Params) -> list[str]:
        hits = engine.matching(resource_type, params, base, limit=2, searcher=tx.search)
        return [hit.id for hit in hits]

    def search(tx: Transaction, resource_type: str, params: Params) -> bytes:
        request = SearchRequest(
            resource_types=(resource_type,),
            params=params,
            local_base=base,
            default_count=default_count,
            max_count=max_count,
            strict=strict,
            # SMART patient context: search entries see only that compartment.
            restrict_to_patients=confine(resource_type, params) if confine is not None else None,
        )
        result = engine.search(request)
        entries = search_entries(result, reveal)
        applied = [*result.applied, ("_count", str(result.parsed.count))]
        links = [Link("self", f"{base}/{resource_type}?{urlencode(applied)}")]
        if result.next_cursor is not None:
            following = urlencode([*applied, (CURSOR, result.next_cursor)])
            links.append(Link("next", f"{base}/{resource_type}?{following}"))
        return search_bundle(base, entries, links, pretty=False, total=result.total)

    return Hooks(resolve=resolve, search=search)
