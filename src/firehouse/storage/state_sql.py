"""Server state in portable SQL: the ``server_state`` value and its history.

Used by :class:`firehouse.storage.sql.SqlStorage`; every function takes a
connection, so a write runs inside the caller's one transaction.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, and_, insert, select, update
from sqlalchemy.exc import IntegrityError

from firehouse.storage.base import StaleStateVersion, StateChange, StateRecord
from firehouse.storage.schema import server_state, server_state_history

_UNKNOWN_ACTOR = "unknown"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def from_micros(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


def now_micros() -> int:
    return time.time_ns() // 1000


def read(conn: Connection, name: str) -> StateRecord | None:
    history = server_state_history
    query = (
        select(
            server_state.c.value,
            server_state.c.version,
            history.c.changed_at,
            history.c.actor,
        )
        .select_from(
            server_state.outerjoin(
                history,
                and_(
                    history.c.name == server_state.c.name,
                    history.c.version == server_state.c.version,
                ),
            )
        )
        .where(server_state.c.name == name)
    )
    row = conn.execute(query).first()
    if row is None:
        return None
    return StateRecord(
        name=name,
        value=row.value,
        version=row.version,
        updated_at=from_micros(row.changed_at or 0),
        actor=row.actor or _UNKNOWN_ACTOR,
    )


def version(conn: Connection, name: str) -> int | None:
    found = conn.execute(
        select(server_state.c.version).where(server_state.c.name == name)
    ).scalar_one_or_none()
    return None if found is None else int(found)


def write(
    conn: Connection, name: str, value: str, *, expected_version: int | None, actor: str
) -> StateRecord:
    """The caller holds a write transaction; raising rolls all of it back."""
    row = conn.execute(
        select(server_state.c.value, server_state.c.version)
        .where(server_state.c.name == name)
        .with_for_update()
    ).first()
    current = None if row is None else int(row.version)
    if current != expected_version:
        raise StaleStateVersion(name, expected_version, current)
    new_version = (current or 0) + 1
    micros = now_micros()
    if row is None:
        try:
            conn.execute(insert(server_state).values(name=name, value=value, version=new_version))
        except IntegrityError as exc:
            # Another process inserted the first version after our read
            # (possible where the read above locks nothing, as in PostgreSQL).
            raise StaleStateVersion(name, expected_version, None) from exc
    else:
        result = conn.execute(
            update(server_state)
            .where(server_state.c.name == name, server_state.c.version == current)
            .values(value=value, version=new_version)
        )
        if result.rowcount != 1:
            raise StaleStateVersion(name, expected_version, None)
    conn.execute(
        insert(server_state_history).values(
            name=name,
            version=new_version,
            changed_at=micros,
            actor=actor,
            old_value=None if row is None else row.value,
            new_value=value,
        )
    )
    return StateRecord(name, value, new_version, from_micros(micros), actor)


def history(conn: Connection, name: str, limit: int) -> list[StateChange]:
    h = server_state_history
    rows = conn.execute(
        select(h.c.version, h.c.changed_at, h.c.actor, h.c.old_value, h.c.new_value)
        .where(h.c.name == name)
        .order_by(h.c.version.desc())
        .limit(max(0, limit))
    ).all()
    return [
        StateChange(
            name=name,
            version=row.version,
            changed_at=from_micros(row.changed_at),
            actor=row.actor,
            old_value=row.old_value,
            new_value=row.new_value,
        )
        for row in rows
    ]
