"""User-defined search parameters: SearchParameter resources stored on this server.

https://hl7.org/fhir/R4/searchparameter.html#defining. A SearchParameter with
``status`` active (or draft) and a FHIRPath ``expression`` joins the registry
of its base types. The registry is rebuilt when the stored SearchParameters
change: this process notices its own writes at once; writes by other server
processes are noticed within :data:`CHECK_SECONDS` (one cheap history query).

New parameters index resources written from then on; ``firehouse.search.reindex``
(``firehouse db reindex``) indexes what was stored before.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

import orjson

from firehouse.search.registry import Registry, SearchParam, builtin, params_from_resource
from firehouse.storage.base import HistoryQuery, Storage
from firehouse.storage.criteria import SearchQuery

log = logging.getLogger("firehouse.search")

CHECK_SECONDS = 1.0
_USABLE = frozenset({"active", "draft"})
_PAGE = 500


def _stored(storage: Storage) -> Iterator[dict[str, Any]]:
    after = None
    while True:
        page = storage.search(SearchQuery(("SearchParameter",), after=after, count=_PAGE))
        for hit in page.hits:
            yield orjson.loads(hit.body)
        if page.next_cursor is None:
            return
        after = page.next_cursor


def custom_params(storage: Storage) -> list[SearchParam]:
    made: list[SearchParam] = []
    for resource in _stored(storage):
        if resource.get("status") not in _USABLE or not resource.get("expression"):
            continue
        try:
            made.extend(params_from_resource(resource, "custom"))
        except ValueError as exc:
            log.warning("SearchParameter/%s is not used: %s", resource.get("id"), exc)
    return made


class RegistryHolder:
    """The current registry for one storage: built-in parameters, then ``extra`` (the
    ``search_parameters_dir`` ones), then the stored ones, each replacing the one before."""

    def __init__(self, storage: Storage, extra: Sequence[SearchParam] = ()) -> None:
        self._storage = storage
        self._base = builtin().with_params(extra) if extra else builtin()
        self._registry = self._base
        self._fingerprint: object = None
        self._checked = float("-inf")
        self._stale = True
        self._lock = threading.Lock()

    def invalidate(self) -> None:
        """A SearchParameter is being written here: look again on the next use."""
        self._stale = True

    def _latest_change(self) -> object:
        page = self._storage.history(HistoryQuery("SearchParameter", count=1))
        if not page.entries:
            return None
        entry = page.entries[0]
        return (entry.id, entry.version)

    def current(self) -> Registry:
        now = time.monotonic()
        if not self._stale and now - self._checked < CHECK_SECONDS:
            return self._registry
        with self._lock:
            if self._stale or now - self._checked >= CHECK_SECONDS:
                self._stale = False
                self._checked = now
                fingerprint = self._latest_change()
                if fingerprint != self._fingerprint:
                    self._fingerprint = fingerprint
                    self._registry = self._base.with_params(custom_params(self._storage))
        return self._registry
