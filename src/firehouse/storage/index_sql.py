"""Writing search index rows: replaced on every write, removed on delete.

Called inside the resource's own write transaction (``sql.SqlTransaction``),
so a resource and its index rows commit or roll back together
(architecture.md: "Every write is one database transaction ... index rows
included").
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Table, bindparam, delete, insert

from firehouse.storage import schema
from firehouse.storage.criteria import ROW_KIND, IndexKind, IndexRow

TABLES: dict[IndexKind, Table] = {
    IndexKind.STRING: schema.search_string,
    IndexKind.TOKEN: schema.search_token,
    IndexKind.DATE: schema.search_date,
    IndexKind.NUMBER: schema.search_number,
    IndexKind.QUANTITY: schema.search_quantity,
    IndexKind.REFERENCE: schema.search_reference,
    IndexKind.URI: schema.search_uri,
}

# Built once: a Core statement built per call costs ~4x its execution overhead.
_DELETES = {
    kind: delete(table).where(table.c.resource_key == bindparam("key"))
    for kind, table in TABLES.items()
}
_INSERTS = {kind: insert(table) for kind, table in TABLES.items()}

# Row dataclass field -> column name where they differ.
_RENAMED = {"group": "grp"}


# (attribute, column) pairs per index row class: dataclasses.fields() per row was slow.
_COLUMNS: dict[type, tuple[tuple[str, str], ...]] = {
    row_type: tuple((f.name, _RENAMED.get(f.name, f.name)) for f in dataclasses.fields(row_type))
    for row_type in ROW_KIND
}


def _values(row: IndexRow, key: int, resource_type: str) -> dict[str, Any]:
    values: dict[str, Any] = {"resource_key": key, "resource_type": resource_type}
    for attribute, column in _COLUMNS[type(row)]:
        values[column] = getattr(row, attribute)
    return values


def clear(conn: Connection, key: int) -> None:
    for statement in _DELETES.values():
        conn.execute(statement, {"key": key})


def insert_rows(conn: Connection, key: int, resource_type: str, rows: Sequence[IndexRow]) -> None:
    by_kind: dict[IndexKind, list[dict[str, Any]]] = {}
    for row in rows:
        by_kind.setdefault(ROW_KIND[type(row)], []).append(_values(row, key, resource_type))
    for kind, values in by_kind.items():
        conn.execute(_INSERTS[kind], values)


def replace(
    conn: Connection, key: int, resource_type: str, rows: Sequence[IndexRow], *, fresh: bool
) -> None:
    """Make ``rows`` the index of resource ``key``; ``fresh``: it has none yet."""
    if not fresh:
        clear(conn, key)
    if rows:
        insert_rows(conn, key, resource_type, rows)
