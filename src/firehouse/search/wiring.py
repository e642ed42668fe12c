"""Connecting search to a storage: one call, made by whoever opens the storage."""

from __future__ import annotations

from firehouse.search.custom import RegistryHolder
from firehouse.search.extract import Extractor
from firehouse.storage.base import Storage


def install(storage: Storage) -> RegistryHolder:
    """Index every write to ``storage`` from now on; returns its parameter registry."""
    holder = RegistryHolder(storage)
    storage.indexer = Extractor(holder.current, holder.invalidate)
    return holder
