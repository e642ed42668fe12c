"""Rebuilding the search index of every stored resource (``firehouse db reindex``).

Needed after upgrading from a schema without the index (migration 3), and
after adding SearchParameters for resources stored before them
(https://hl7.org/fhir/R4/searchparameter.html: a server decides when new
parameters apply to existing resources). Walks the current resources in key
order, a batch per transaction, so it can run while the server serves.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from firehouse.fhir import json as fhir_json
from firehouse.search.registry import SearchParam
from firehouse.search.wiring import install
from firehouse.storage.base import Storage
from firehouse.storage.criteria import SearchQuery


def count(storage: Storage) -> int:
    return storage.search(SearchQuery(None, count=0, total=True)).total or 0


def reindex(
    storage: Storage,
    *,
    batch: int = 500,
    progress: Callable[[int], None] | None = None,
    extra: Sequence[SearchParam] = (),
) -> int:
    """Re-extract and replace the index rows of every current resource; returns how many.

    ``extra``: the ``search_parameters_dir`` parameters, indexed like the built-in ones.
    """
    if storage.indexer is None:
        install(storage, extra)
    indexer = storage.indexer
    assert indexer is not None
    done = 0
    after = None
    while True:
        page = storage.search(SearchQuery(None, after=after, count=batch))
        with storage.transaction() as tx:
            for hit in page.hits:
                rows = indexer.rows(hit.resource_type, fhir_json.loads(hit.body))
                tx.reindex(hit.resource_type, hit.id, rows)
        done += len(page.hits)
        if progress is not None:
            progress(len(page.hits))
        if page.next_cursor is None:
            return done
        after = page.next_cursor
