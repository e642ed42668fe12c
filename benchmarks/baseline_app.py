"""The read baseline: the practical limit for ``GET /Patient/{id}`` on this stack.

A bare ASGI app (no framework, no middleware) that does one SQLite
primary-key lookup on a table of pre-stored resource bytes and returns those
bytes. It runs under the same uvicorn configuration as Firehouse
(``benchmarks/_uvicorn.py``), so Firehouse's read divided by this one is the
share of the practical limit that Firehouse reaches.

The database file is named by ``FIREHOUSE_BENCH_BASELINE_DB`` (inherited by
worker processes); ``benchmarks/run.py`` fills it with the exact bytes
Firehouse serves for the same ids. ``GET /health/check`` answers 200.

    FIREHOUSE_BENCH_BASELINE_DB=/tmp/b.db python benchmarks/baseline_app.py --port 8081
"""

from __future__ import annotations

import os
import sqlite3
import sys
from typing import Any

DB_ENV = "FIREHOUSE_BENCH_BASELINE_DB"
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS stored ("
    " resource_type TEXT NOT NULL, id TEXT NOT NULL, body BLOB NOT NULL,"
    " PRIMARY KEY (resource_type, id)) WITHOUT ROWID"
)
_QUERY = "SELECT body FROM stored WHERE resource_type = ? AND id = ?"
_JSON = b"application/fhir+json; fhirVersion=4.0"
_NOT_FOUND = (
    b'{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"not-found"}]}'
)

_conn: sqlite3.Connection | None = None


def _connection() -> sqlite3.Connection:
    global _conn
    if _conn is None:
        _conn = sqlite3.connect(os.environ[DB_ENV], isolation_level=None, check_same_thread=False)
        _conn.execute("PRAGMA query_only=ON")
    return _conn


async def _send(send: Any, status: int, body: bytes, content_type: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode("ascii")),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                _connection()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    path: str = scope["path"]
    if path == "/health/check":
        await _send(send, 200, b'{"status":"ok"}', b"application/json")
        return
    parts = path.split("/")
    if len(parts) == 3 and parts[0] == "":
        row = _connection().execute(_QUERY, (parts[1], parts[2])).fetchone()
        if row is not None:
            await _send(send, 200, row[0], _JSON)
            return
    await _send(send, 404, _NOT_FOUND, _JSON)


def fill(db_path: str, rows: list[tuple[str, str, bytes]]) -> None:
    """Create the table (WAL, like Firehouse's database) and store ``rows``."""
    conn = sqlite3.connect(db_path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(SCHEMA)
        conn.execute("BEGIN")
        conn.executemany("INSERT OR REPLACE INTO stored VALUES (?, ?, ?)", rows)
        conn.execute("COMMIT")
    finally:
        conn.close()


if __name__ == "__main__":
    from _uvicorn import serve

    sys.exit(serve("baseline_app:app", sys.argv[1:]))
