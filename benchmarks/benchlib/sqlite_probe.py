"""What this disk and SQLite allow for writes, measured without any server.

``commit_rate``: one connection, WAL, one ~1 KB insert per transaction, with
``synchronous=FULL`` (one fsync of the WAL per commit, what Firehouse uses)
and ``NORMAL`` (no fsync per commit): the ceiling for durable writes.

``contention``: many threads of one process writing at once, as the server's
thread pool does under concurrent POST/PUT. Either every thread goes straight
to ``BEGIN IMMEDIATE`` and waits in SQLite's busy handler (which sleeps and
retries with growing back-off), or the threads first queue on one in-process
lock so that SQLite's lock is free whenever a thread asks for it. The
difference in throughput and p99 is what an in-process writer lock would buy.
"""

from __future__ import annotations

import os
import sqlite3
import statistics
import threading
import time
from pathlib import Path


def _connect(path: Path, synchronous: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("PRAGMA busy_timeout=30000")
    conn.execute("CREATE TABLE IF NOT EXISTS t (k INTEGER PRIMARY KEY, body BLOB)")
    return conn


def commit_rate(workdir: Path, seconds: float, tries: int = 3) -> dict[str, float]:
    """Best of ``tries`` (the disk's capability: other I/O on the machine only lowers it);
    ``<MODE>_min`` is the worst try, a sign of how much other I/O there was."""
    out: dict[str, float] = {}
    body = os.urandom(1100)
    for mode in ("FULL", "NORMAL"):
        conn = _connect(workdir / f"commit-{mode}.db", mode)
        rates = []
        for _ in range(tries):
            n, t0 = 0, time.perf_counter()
            while time.perf_counter() - t0 < seconds / tries and n < 50_000:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("INSERT INTO t (body) VALUES (?)", (body,))
                conn.execute("COMMIT")
                n += 1
            rates.append(n / (time.perf_counter() - t0))
        out[mode] = max(rates)
        out[f"{mode}_min"] = min(rates)
        conn.close()
    return out


def _python_work(iterations: int) -> int:
    """Stands for the request's Python work outside the transaction (parse, validate, respond)."""
    total = 0
    for i in range(iterations):
        total += i * i
    return total


def _writer(
    path: Path,
    deadline: float,
    work: int,
    body: bytes,
    gate: threading.Lock | None,
    sink: list[float],
    sink_lock: threading.Lock,
) -> None:
    conn = _connect(path, "FULL")
    mine: list[float] = []
    try:
        while time.perf_counter() < deadline and len(mine) < 20_000:
            t0 = time.perf_counter()
            _python_work(work)
            if gate is not None:
                gate.acquire()
            try:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("INSERT INTO t (body) VALUES (?)", (body,))
                conn.execute("COMMIT")
            finally:
                if gate is not None:
                    gate.release()
            mine.append(time.perf_counter() - t0)
    finally:
        conn.close()
        with sink_lock:
            sink.extend(mine)


def contention(
    workdir: Path, threads: int, seconds: float, work: int = 20_000
) -> dict[str, dict[str, float]]:
    body = os.urandom(1100)
    out: dict[str, dict[str, float]] = {}
    for n, mode in enumerate(("busy handler only", "in-process lock first")):
        path = workdir / f"contention-{n}.db"
        _connect(path, "FULL").close()
        gate = threading.Lock() if n else None
        latencies: list[float] = []
        sink_lock = threading.Lock()
        started = time.perf_counter()
        args = (path, started + seconds, work, body, gate, latencies, sink_lock)
        workers = [threading.Thread(target=_writer, args=args) for _ in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(timeout=seconds + 60)
        elapsed = time.perf_counter() - started
        lat = sorted(latencies) or [0.0]
        out[mode] = {
            "commits_per_s": len(latencies) / elapsed,
            "p50_ms": statistics.median(lat) * 1000,
            "p99_ms": lat[min(len(lat) - 1, int(0.99 * len(lat)))] * 1000,
            "max_ms": lat[-1] * 1000,
            "work_ms": _work_ms(work),
        }
    return out


def _work_ms(work: int) -> float:
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        _python_work(work)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000
