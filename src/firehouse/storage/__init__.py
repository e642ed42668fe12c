"""Storage: one interface (``base``), backends chosen by the database URL."""

from __future__ import annotations

from firehouse.errors import Category, FhirError
from firehouse.storage.base import Storage


def open_storage(url: str) -> Storage:
    """``sqlite:///path`` or ``postgresql://user@host:port/db``."""
    scheme = url.split(":", 1)[0].lower()
    if scheme.startswith("sqlite"):
        from firehouse.storage.sqlite import SqliteStorage

        return SqliteStorage(url)
    if scheme.startswith("postgres"):
        raise FhirError(
            Category.UNSUPPORTED, "The PostgreSQL backend is not available in this version yet"
        )
    raise FhirError(Category.INVALID, f"Unsupported database URL {url!r}: use sqlite:///path")
