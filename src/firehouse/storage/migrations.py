"""Versioned schema migrations, applied in order and recorded in ``schema_version``.

A migration is a function of a SQLAlchemy connection inside the migration's
transaction. Add new ones at the end; never edit one that has shipped.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import Connection, func, insert, inspect, select

from firehouse.storage import schema

Migration = Callable[[Connection], None]


def _v1_core_tables(conn: Connection) -> None:
    for table in (schema.resources, schema.resource_history, schema.server_state):
        table.create(conn, checkfirst=True)


def _v2_server_state_history(conn: Connection) -> None:
    schema.server_state_history.create(conn, checkfirst=True)
    # A value written before the history existed gets one entry, so every
    # stored version can be shown with a time and an author.
    now = time.time_ns() // 1000
    for row in conn.execute(
        select(
            schema.server_state.c.name, schema.server_state.c.value, schema.server_state.c.version
        )
    ):
        conn.execute(
            insert(schema.server_state_history).values(
                name=row.name,
                version=row.version,
                changed_at=now,
                actor="before history was kept (schema migration 2)",
                old_value=None,
                new_value=row.value,
            )
        )


def _v3_search_index(conn: Connection) -> None:
    # Resources stored before this version have no index rows until
    # ``firehouse db reindex`` (firehouse.search.reindex) rebuilds them.
    for table in schema.SEARCH_TABLES:
        table.create(conn, checkfirst=True)


def _v4_instance_history_index(conn: Connection) -> None:
    # Instance history (newest first) used ix_history_type_seq and walked
    # every version of the type: 30 ms per page after 50,000 Patient versions.
    for index in schema.resource_history.indexes:
        if index.name == "ix_history_type_id_seq":
            index.create(conn, checkfirst=True)


MIGRATIONS: tuple[Migration, ...] = (
    _v1_core_tables,
    _v2_server_state_history,
    _v3_search_index,
    _v4_instance_history_index,
)
LATEST = len(MIGRATIONS)


def current_version(conn: Connection) -> int:
    if not inspect(conn).has_table(schema.schema_version.name):
        return 0
    return int(
        conn.execute(
            select(func.coalesce(func.max(schema.schema_version.c.version), 0))
        ).scalar_one()
    )


def migrate(conn: Connection) -> int:
    """Apply what is missing; the caller holds a write transaction."""
    schema.schema_version.create(conn, checkfirst=True)
    done = current_version(conn)
    for number, migration in enumerate(MIGRATIONS[done:], start=done + 1):
        migration(conn)
        conn.execute(
            insert(schema.schema_version).values(version=number, applied_at=int(time.time()))
        )
    return LATEST
