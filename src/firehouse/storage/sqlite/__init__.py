"""The embedded SQLite backend: one file, WAL journal, durable commits.

https://www.sqlite.org/wal.html: readers never block the writer and the
writer never blocks readers; ``synchronous=FULL`` makes each commit durable
across power loss. Write transactions start with ``BEGIN IMMEDIATE`` so two
writers queue on the lock (``busy_timeout``) instead of failing when a read
lock would have to be upgraded.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, NullPool, create_engine, event, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from firehouse.errors import Category, FhirError, Issue
from firehouse.storage.base import StoredVersion
from firehouse.storage.schema import schema_version
from firehouse.storage.sql import SqlStorage, from_micros

_WRITE_OPTION = "firehouse_write"
BUSY_TIMEOUT_MS = 30_000


def _pragmas(busy_timeout_ms: int) -> Callable[[sqlite3.Connection, Any], None]:
    def on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        # Take transaction control away from the driver: we say BEGIN ourselves.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return on_connect


def _is_busy(error: OperationalError) -> bool:
    message = str(error.orig).lower()
    return "database is locked" in message or "database is busy" in message


def _on_begin(conn: Connection) -> None:
    # Reads run statement by statement in autocommit (no BEGIN/ROLLBACK round
    # trips on the hot path); writes take the write lock at once.
    if conn.get_execution_options().get(_WRITE_OPTION):
        conn.exec_driver_sql("BEGIN IMMEDIATE")


_READ_CURRENT = (
    "SELECT version, last_updated, deleted, body FROM resources WHERE resource_type = ? AND id = ?"
)
_READ_VERSION = (
    "SELECT last_updated, deleted, body, method FROM resource_history"
    " WHERE resource_type = ? AND id = ? AND version = ?"
)


class SqliteStorage(SqlStorage):
    """SQLite behind the portable SQL, plus two things only SQLite needs.

    Reads by id, the hottest path of a FHIR server, skip SQLAlchemy: one
    prepared statement on a connection kept per thread costs ~4 us against
    ~125 us for a Core ``select()`` with a pool checkout (BENCHMARKS.md).
    Writers of this process queue on a lock before ``BEGIN IMMEDIATE``:
    SQLite's busy handler polls with growing sleeps, so sixteen threads
    waiting there left the lock idle and some waited for seconds.
    """

    def __init__(self, url: str, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> None:
        parsed = make_url(url)
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, pool_size=8, max_overflow=32, pool_pre_ping=False)
        event.listen(engine, "connect", _pragmas(busy_timeout_ms))
        event.listen(engine, "begin", _on_begin)
        super().__init__(url, engine)
        # Pooled connections keep answering from their page cache even when the
        # file underneath is gone or damaged, so the health probe opens afresh.
        self._probe = create_engine(url, poolclass=NullPool)
        self._path = parsed.database or ":memory:"
        self._busy_timeout_ms = busy_timeout_ms
        self._readers = threading.local()
        self._reader_connections: list[sqlite3.Connection] = []
        self._writer = threading.Lock()

    def _reader(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._readers, "connection", None)
        if connection is None:
            connection = sqlite3.connect(self._path, check_same_thread=False)
            _pragmas(self._busy_timeout_ms)(connection, None)
            self._readers.connection = connection
            self._reader_connections.append(connection)
        return connection

    def read(self, resource_type: str, id: str) -> StoredVersion | None:
        row = self._reader().execute(_READ_CURRENT, (resource_type, id)).fetchone()
        if row is None:
            return None
        version, micros, deleted, body = row
        method = "DELETE" if deleted else "PUT"
        return StoredVersion(
            resource_type, id, version, from_micros(micros), bool(deleted), body, method
        )

    def vread(self, resource_type: str, id: str, version: int) -> StoredVersion | None:
        row = self._reader().execute(_READ_VERSION, (resource_type, id, version)).fetchone()
        if row is None:
            return None
        micros, deleted, body, method = row
        return StoredVersion(
            resource_type, id, version, from_micros(micros), bool(deleted), body, method
        )

    def ping(self) -> None:
        with self._probe.connect() as conn:
            conn.execute(select(func.max(schema_version.c.version))).scalar_one()

    def close(self) -> None:
        super().close()
        self._probe.dispose()
        for connection in self._reader_connections:
            connection.close()
        self._reader_connections.clear()

    @contextmanager
    def _write_connection(self) -> Iterator[Connection]:
        if not self._writer.acquire(timeout=self._busy_timeout_ms / 1000):
            raise _busy()
        try:
            connection = self.engine.connect().execution_options(**{_WRITE_OPTION: True})
            with connection as conn, conn.begin():
                yield conn
        except OperationalError as exc:
            if not _is_busy(exc):
                raise
            # Another process held the lock past busy_timeout (a very large
            # transaction): a retryable 503, not a crash.
            raise _busy() from exc
        finally:
            self._writer.release()


def _busy() -> FhirError:
    return FhirError(
        Category.UNAVAILABLE,
        Issue(
            "The database is busy with another write; nothing was changed. Try again shortly.",
            code="transient",
        ),
        headers={"Retry-After": "1"},
    )
