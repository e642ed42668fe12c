"""The storage interface: the only storage import callers need.

Resources are kept as the exact JSON bytes the server will send back (the
client's JSON plus server-managed ``id``/``meta``), so a read is one lookup and
no model class ever rewrites a client's decimals or element order. Every write
happens inside one :class:`Transaction`: it succeeds whole or changes nothing.
The backend is chosen by the database URL (see :func:`firehouse.storage.open_storage`).
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from firehouse.storage.criteria import (
    IncludeQuery,
    IndexRow,
    RevIncludeQuery,
    SearchHit,
    SearchPage,
    SearchQuery,
)


@dataclass(frozen=True, slots=True)
class StoredVersion:
    """One version of a resource as stored."""

    resource_type: str
    id: str
    version: int
    last_updated: datetime  # timezone-aware UTC
    deleted: bool
    body: bytes | None  # None for a deletion
    method: str  # the interaction that made it: POST, PUT or DELETE


# Builds the stored JSON bytes once the version and time are known, inside the
# transaction, so ``meta.versionId`` and ``meta.lastUpdated`` always agree with
# the row.
RenderBody = Callable[[int, datetime], bytes]


@dataclass(frozen=True, slots=True)
class HistoryQuery:
    resource_type: str | None = None  # None: the whole system
    id: str | None = None  # with resource_type: one instance
    since: datetime | None = None
    before_seq: int | None = None  # keyset cursor: only entries older than this
    count: int = 20


@dataclass(frozen=True, slots=True)
class HistoryPage:
    entries: tuple[StoredVersion, ...]
    next_cursor: int | None  # pass as before_seq for the next page


@dataclass(frozen=True, slots=True)
class ListQuery:
    """The current, non-deleted resources of one type, newest-written last."""

    resource_type: str
    ids: tuple[str, ...] | None = None
    after_key: int | None = None  # keyset cursor
    count: int = 20


@dataclass(frozen=True, slots=True)
class ListPage:
    entries: tuple[StoredVersion, ...]
    next_cursor: int | None


class Indexer(Protocol):
    """Turns a resource into its search index rows (``firehouse.search.extract``).

    Wired into the storage once (``Storage.indexer``) so that every write path,
    REST, batch and import alike, indexes the same way inside its transaction.
    """

    def rows(self, resource_type: str, resource: Mapping[str, Any]) -> Sequence[IndexRow]: ...


class WriteCheck(Protocol):
    """Vets a write inside its transaction, before anything is stored; raises to refuse.

    Sees the version being replaced (None for a create) and the new resource
    (None for a delete). Because it runs under the transaction's write lock,
    nothing can change the resource between the check and the write.
    """

    def __call__(
        self,
        resource_type: str,
        id: str,
        previous: StoredVersion | None,
        resource: Mapping[str, Any] | None,
    ) -> None: ...


class VersionConflict(Exception):
    """A write lost a race it could not see coming (retry is safe)."""


@dataclass(frozen=True, slots=True)
class StateRecord:
    """The current value of one piece of server state (for example the CORS policy).

    ``value`` is JSON text the caller owns; ``version`` counts writes from 1.
    """

    name: str
    value: str
    version: int
    updated_at: datetime  # timezone-aware UTC
    actor: str


@dataclass(frozen=True, slots=True)
class StateChange:
    """One write of a piece of server state, as kept in its history."""

    name: str
    version: int
    changed_at: datetime  # timezone-aware UTC
    actor: str
    old_value: str | None  # None for the first version
    new_value: str


class StaleStateVersion(Exception):
    """A state write named a version that is no longer the current one.

    ``current`` is the version stored now (None: never written), so the
    caller can tell the user what they raced against.
    """

    def __init__(self, name: str, expected: int | None, current: int | None) -> None:
        self.name = name
        self.expected = expected
        self.current = current
        super().__init__(
            f"{name}: expected version {expected}, but the stored version is {current}"
        )


class Transaction(abc.ABC):
    """Reads and writes that commit together."""

    @abc.abstractmethod
    def current(self, resource_type: str, id: str) -> StoredVersion | None:
        """The latest version (possibly a deletion), or None if never written."""

    @abc.abstractmethod
    def write(
        self,
        resource_type: str,
        id: str,
        render: RenderBody,
        *,
        method: str,
        previous: StoredVersion | None,
        resource: Mapping[str, Any] | None = None,
    ) -> StoredVersion:
        """Store the next version after ``previous`` (None: the first version).

        ``resource`` is the parsed resource, for the search index: with an
        :class:`Indexer` wired in, its rows replace the resource's old ones in
        this transaction. Without it the resource has no index rows.
        """

    @abc.abstractmethod
    def delete(self, resource_type: str, id: str, *, previous: StoredVersion) -> StoredVersion:
        """Record a deletion as the next version after ``previous`` (its index rows go)."""

    @abc.abstractmethod
    def reindex(self, resource_type: str, id: str, rows: Sequence[IndexRow]) -> bool:
        """Replace the index rows of the current version; False if there is none."""

    @abc.abstractmethod
    def search(self, query: SearchQuery) -> SearchPage:
        """:meth:`Storage.search` inside this transaction: it sees this transaction's
        writes, and under the write lock nobody else's can slip in between a
        conditional interaction's check and its write."""


class Storage(abc.ABC):
    """A FHIR resource store."""

    url: str
    indexer: Indexer | None = None
    # Wired once like the indexer; SMART's patient compartment uses it (firehouse.auth.guard).
    write_check: WriteCheck | None = None

    @abc.abstractmethod
    def migrate(self) -> int:
        """Bring the schema up to date; returns the schema version."""

    @abc.abstractmethod
    def transaction(self) -> AbstractContextManager[Transaction]:
        """A write transaction; leaving the block by an exception rolls it back."""

    @abc.abstractmethod
    def read(self, resource_type: str, id: str) -> StoredVersion | None:
        """The latest version (possibly a deletion), or None."""

    @abc.abstractmethod
    def vread(self, resource_type: str, id: str, version: int) -> StoredVersion | None: ...

    @abc.abstractmethod
    def history(self, query: HistoryQuery) -> HistoryPage: ...

    @abc.abstractmethod
    def list_current(self, query: ListQuery) -> ListPage: ...

    # Server state: small named JSON values, versioned, with a history
    # (shared/spec/cors.md, "Changing the policy at run time").

    @abc.abstractmethod
    def read_state(self, name: str) -> StateRecord | None:
        """The current value of ``name``, or None if it was never written."""

    @abc.abstractmethod
    def state_version(self, name: str) -> int | None:
        """Just the current version of ``name`` (None: never written).

        Cheap enough to poll several times a second from every process.
        """

    @abc.abstractmethod
    def write_state(
        self, name: str, value: str, *, expected_version: int | None, actor: str
    ) -> StateRecord:
        """Store ``value`` as the next version of ``name`` and record it in the history.

        ``expected_version`` is the version the caller based its change on
        (None: "not written yet"); if another write came first, nothing is
        stored and :class:`StaleStateVersion` is raised. One transaction: the
        value and its history row are written together or not at all.
        """

    @abc.abstractmethod
    def state_history(self, name: str, limit: int = 50) -> list[StateChange]:
        """The last ``limit`` writes of ``name``, newest first."""

    # Search (https://hl7.org/fhir/R4/search.html) over the index tables; the
    # criteria tree comes from firehouse.search.plan (see storage/criteria.py).

    @abc.abstractmethod
    def search(self, query: SearchQuery) -> SearchPage:
        """One page of current resources meeting ``query.criteria``, in sort order."""

    @abc.abstractmethod
    def include(self, query: IncludeQuery) -> list[tuple[str, str]]:
        """The (type, id) targets of the given resources' references, local ones only."""

    @abc.abstractmethod
    def revinclude(self, query: RevIncludeQuery, limit: int) -> list[SearchHit]:
        """Current resources whose references point at ``query.targets``."""

    @abc.abstractmethod
    def ping(self) -> None:
        """Raise if the database does not answer."""

    @abc.abstractmethod
    def close(self) -> None: ...
