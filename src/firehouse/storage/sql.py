"""The SQLAlchemy Core implementation of :mod:`firehouse.storage.base`.

Portable SQL only: everything dialect-specific (connection pragmas, how a
write transaction takes its lock) lives in the backend packages.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, Row, and_, bindparam, insert, select, update

from firehouse.storage import index_sql, migrations, search_pages, state_sql
from firehouse.storage.base import (
    HistoryPage,
    HistoryQuery,
    Indexer,
    ListPage,
    ListQuery,
    RenderBody,
    StateChange,
    StateRecord,
    Storage,
    StoredVersion,
    Transaction,
    VersionConflict,
    WriteCheck,
)
from firehouse.storage.criteria import (
    IncludeQuery,
    IndexRow,
    RevIncludeQuery,
    SearchHit,
    SearchPage,
    SearchQuery,
)
from firehouse.storage.schema import resource_history, resources

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
AnyRow = Row[*tuple[Any, ...]]


def to_micros(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)


def from_micros(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


def _now_micros() -> int:
    return to_micros(datetime.now(UTC))


_CURRENT_COLUMNS = (
    resources.c.resource_type,
    resources.c.id,
    resources.c.version,
    resources.c.last_updated,
    resources.c.deleted,
    resources.c.body,
)
_HISTORY_COLUMNS = (
    resource_history.c.resource_type,
    resource_history.c.id,
    resource_history.c.version,
    resource_history.c.last_updated,
    resource_history.c.deleted,
    resource_history.c.body,
    resource_history.c.method,
)


def _version_from_row(row: AnyRow) -> StoredVersion:
    # The current-version table keeps no method; a deletion is the one it can tell.
    method = row.method if "method" in row._fields else ("DELETE" if row.deleted else "PUT")
    return StoredVersion(
        resource_type=row.resource_type,
        id=row.id,
        version=row.version,
        last_updated=from_micros(row.last_updated),
        deleted=bool(row.deleted),
        body=row.body,
        method=method,
    )


# The write path's statements are built once: building a Core statement per
# call cost ~27 us of its ~36 us (BENCHMARKS.md), and a write runs about ten.
_SELECT_CURRENT = select(*_CURRENT_COLUMNS).where(
    resources.c.resource_type == bindparam("rtype"), resources.c.id == bindparam("rid")
)
_SELECT_CURRENT_FOR_UPDATE = _SELECT_CURRENT.with_for_update()
_INSERT_CURRENT = insert(resources)
_UPDATE_CURRENT = (
    update(resources)
    .where(
        and_(
            resources.c.resource_type == bindparam("rtype"),
            resources.c.id == bindparam("rid"),
            resources.c.version == bindparam("previous_version"),
        )
    )
    .values(
        version=bindparam("version"),
        last_updated=bindparam("last_updated"),
        deleted=bindparam("deleted"),
        body=bindparam("body"),
    )
    .returning(resources.c.key)
)
_INSERT_HISTORY = insert(resource_history)


def _select_current(
    conn: Connection, resource_type: str, id: str, lock: bool
) -> StoredVersion | None:
    query = _SELECT_CURRENT_FOR_UPDATE if lock else _SELECT_CURRENT
    row = conn.execute(query, {"rtype": resource_type, "rid": id}).first()
    return _version_from_row(row) if row is not None else None


class SqlTransaction(Transaction):
    def __init__(
        self,
        conn: Connection,
        indexer: Indexer | None = None,
        write_check: WriteCheck | None = None,
    ) -> None:
        self._conn = conn
        self._indexer = indexer
        self._write_check = write_check

    @property
    def connection(self) -> Connection:
        return self._conn

    def current(self, resource_type: str, id: str) -> StoredVersion | None:
        return _select_current(self._conn, resource_type, id, lock=True)

    def _next(self, previous: StoredVersion | None) -> tuple[int, int]:
        now = _now_micros()
        if previous is None:
            return 1, now
        # lastUpdated never goes backwards for one resource, even if the clock does.
        return previous.version + 1, max(now, to_micros(previous.last_updated) + 1)

    def _store(
        self,
        resource_type: str,
        id: str,
        previous: StoredVersion | None,
        version: int,
        micros: int,
        body: bytes | None,
        method: str,
        index: Sequence[IndexRow],
    ) -> StoredVersion:
        deleted = body is None
        values = {"version": version, "last_updated": micros, "deleted": deleted, "body": body}
        if previous is None:
            result = self._conn.execute(
                _INSERT_CURRENT, {"resource_type": resource_type, "id": id, **values}
            )
            key = int(result.inserted_primary_key[0])  # type: ignore[index]
        else:
            found = self._conn.execute(
                _UPDATE_CURRENT,
                {
                    "rtype": resource_type,
                    "rid": id,
                    "previous_version": previous.version,
                    **values,
                },
            ).all()
            if len(found) != 1:
                raise VersionConflict(f"{resource_type}/{id} changed during the write")
            key = int(found[0].key)
        index_sql.replace(self._conn, key, resource_type, index, fresh=previous is None)
        self._conn.execute(
            _INSERT_HISTORY, {"resource_type": resource_type, "id": id, "method": method, **values}
        )
        return StoredVersion(resource_type, id, version, from_micros(micros), deleted, body, method)

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
        if self._write_check is not None:
            self._write_check(resource_type, id, previous, resource)
        version, micros = self._next(previous)
        body = render(version, from_micros(micros))
        rows: Sequence[IndexRow] = ()
        if resource is not None and self._indexer is not None:
            rows = self._indexer.rows(resource_type, resource)
        return self._store(resource_type, id, previous, version, micros, body, method, rows)

    def delete(self, resource_type: str, id: str, *, previous: StoredVersion) -> StoredVersion:
        if self._write_check is not None:
            self._write_check(resource_type, id, previous, None)
        version, micros = self._next(previous)
        return self._store(resource_type, id, previous, version, micros, None, "DELETE", ())

    def search(self, query: SearchQuery) -> SearchPage:
        return search_pages.search(self._conn, query)

    def reindex(self, resource_type: str, id: str, rows: Sequence[IndexRow]) -> bool:
        key = self._conn.execute(
            select(resources.c.key).where(
                resources.c.resource_type == resource_type,
                resources.c.id == id,
                resources.c.deleted.is_(False),
            )
        ).scalar()
        if key is None:
            return False
        index_sql.replace(self._conn, int(key), resource_type, rows, fresh=False)
        return True


class SqlStorage(Storage):
    """Storage on any SQLAlchemy engine; backends supply the engine and the write lock."""

    def __init__(self, url: str, engine: Engine) -> None:
        self.url = url
        self.engine = engine

    # Backends override this to take the database's write lock up front.
    @contextmanager
    def _write_connection(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    def migrate(self) -> int:
        with self._write_connection() as conn:
            return migrations.migrate(conn)

    def schema_version(self) -> int:
        with self.engine.connect() as conn:
            return migrations.current_version(conn)

    @contextmanager
    def transaction(self) -> Iterator[SqlTransaction]:
        with self._write_connection() as conn:
            yield SqlTransaction(conn, self.indexer, self.write_check)

    def read(self, resource_type: str, id: str) -> StoredVersion | None:
        with self.engine.connect() as conn:
            return _select_current(conn, resource_type, id, lock=False)

    def vread(self, resource_type: str, id: str, version: int) -> StoredVersion | None:
        query = select(*_HISTORY_COLUMNS).where(
            resource_history.c.resource_type == resource_type,
            resource_history.c.id == id,
            resource_history.c.version == version,
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return _version_from_row(row) if row is not None else None

    def history(self, query: HistoryQuery) -> HistoryPage:
        stmt = select(resource_history.c.seq, *_HISTORY_COLUMNS)
        if query.resource_type is not None:
            stmt = stmt.where(resource_history.c.resource_type == query.resource_type)
            if query.id is not None:
                stmt = stmt.where(resource_history.c.id == query.id)
        if query.since is not None:
            stmt = stmt.where(resource_history.c.last_updated >= to_micros(query.since))
        if query.before_seq is not None:
            stmt = stmt.where(resource_history.c.seq < query.before_seq)
        stmt = stmt.order_by(resource_history.c.seq.desc()).limit(query.count + 1)
        with self.engine.connect() as conn:
            rows = conn.execute(stmt).all()
        more = len(rows) > query.count
        rows = rows[: query.count]
        return HistoryPage(
            entries=tuple(_version_from_row(r) for r in rows),
            next_cursor=rows[-1].seq if more and rows else None,
        )

    def list_current(self, query: ListQuery) -> ListPage:
        stmt = select(resources.c.key, *_CURRENT_COLUMNS).where(
            resources.c.resource_type == query.resource_type,
            resources.c.deleted.is_(False),
        )
        if query.ids is not None:
            stmt = stmt.where(resources.c.id.in_(query.ids))
        if query.after_key is not None:
            stmt = stmt.where(resources.c.key > query.after_key)
        stmt = stmt.order_by(resources.c.key).limit(query.count + 1)
        with self.engine.connect() as conn:
            rows = conn.execute(stmt).all()
        more = len(rows) > query.count
        rows = rows[: query.count]
        return ListPage(
            entries=tuple(_version_from_row(r) for r in rows),
            next_cursor=rows[-1].key if more and rows else None,
        )

    def read_state(self, name: str) -> StateRecord | None:
        with self.engine.connect() as conn:
            return state_sql.read(conn, name)

    def state_version(self, name: str) -> int | None:
        with self.engine.connect() as conn:
            return state_sql.version(conn, name)

    def write_state(
        self, name: str, value: str, *, expected_version: int | None, actor: str
    ) -> StateRecord:
        with self._write_connection() as conn:
            return state_sql.write(
                conn, name, value, expected_version=expected_version, actor=actor
            )

    def state_history(self, name: str, limit: int = 50) -> list[StateChange]:
        with self.engine.connect() as conn:
            return state_sql.history(conn, name, limit)

    def search(self, query: SearchQuery) -> SearchPage:
        with self.engine.connect() as conn:
            return search_pages.search(conn, query)

    def include(self, query: IncludeQuery) -> list[tuple[str, str]]:
        with self.engine.connect() as conn:
            return search_pages.include(conn, query)

    def revinclude(self, query: RevIncludeQuery, limit: int) -> list[SearchHit]:
        with self.engine.connect() as conn:
            return search_pages.revinclude(conn, query, limit)

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(select(1)).scalar_one()

    def close(self) -> None:
        self.engine.dispose()
