"""Connecting search to a storage: one call, made by whoever opens the storage."""

from __future__ import annotations

from collections.abc import Sequence

from firehouse.search.custom import RegistryHolder
from firehouse.search.extract import Extractor
from firehouse.search.registry import SearchParam
from firehouse.storage.base import Storage


def install(storage: Storage, extra: Sequence[SearchParam] = ()) -> RegistryHolder:
    """Index every write to ``storage`` from now on; returns its parameter registry.

    ``extra``: parameters beyond the built-in ones (``search_parameters_dir``).
    """
    holder = RegistryHolder(storage, extra)
    storage.indexer = Extractor(holder.current, holder.invalidate)
    return holder
