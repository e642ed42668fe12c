"""A real ``firehouse serve`` process: start-up, signals, durability, concurrency."""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
import time
from pathlib import Path

import httpx2 as httpx
import pytest

from tests.support.server import running_server, start_server

pytestmark = pytest.mark.slow
FHIR = {"Content-Type": "application/fhir+json"}
# uvicorn finishes in-flight requests, then re-raises SIGTERM so that the exit
# status tells a supervisor which signal stopped it.
CLEAN_EXIT = (0, -signal.SIGTERM)


def test_serve_creates_the_database_prints_where_it_listens_and_stops_cleanly(
    tmp_path: Path,
) -> None:
    database = tmp_path / "new" / "fh.db"
    server = start_server(database, cwd=tmp_path)
    try:
        assert database.exists()
        assert f"listening on {server.url}" in server.log()
        mode = sqlite3.connect(database).execute("PRAGMA journal_mode").fetchone()[0]
        assert mode == "wal"
        created = httpx.post(
            f"{server.url}/Patient", json={"resourceType": "Patient"}, headers=FHIR
        )
        assert created.status_code == 201
    finally:
        code = server.stop(signal.SIGTERM)
    assert code in CLEAN_EXIT


def test_sigterm_lets_an_in_flight_write_finish(tmp_path: Path) -> None:
    server = start_server(tmp_path / "fh.db")
    results: list[int] = []

    def write_many() -> None:
        with httpx.Client(timeout=30) as client:
            for i in range(200):
                try:
                    response = client.put(
                        f"{server.url}/Patient/p{i}",
                        json={"resourceType": "Patient", "id": f"p{i}"},
                        headers=FHIR,
                    )
                except httpx.HTTPError:
                    return
                results.append(response.status_code)

    thread = threading.Thread(target=write_many)
    thread.start()
    time.sleep(0.5)
    assert server.stop(signal.SIGTERM) in CLEAN_EXIT
    thread.join()
    acknowledged = len([s for s in results if s == 201])
    with running_server(tmp_path / "fh.db") as again:
        for i in range(acknowledged):
            assert httpx.get(f"{again.url}/Patient/p{i}").status_code == 200


def test_kill_9_loses_no_acknowledged_write(tmp_path: Path) -> None:
    database = tmp_path / "fh.db"
    server = start_server(database)
    acknowledged: list[str] = []
    stop = threading.Event()

    def writer() -> None:
        with httpx.Client(timeout=10) as client:
            i = 0
            while not stop.is_set():
                id = f"w{threading.get_ident() % 1000}-{i}"
                try:
                    response = client.put(
                        f"{server.url}/Patient/{id}",
                        json={"resourceType": "Patient", "id": id},
                        headers=FHIR,
                    )
                except httpx.HTTPError:
                    return
                if response.status_code == 201:
                    acknowledged.append(id)
                i += 1

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(1.5)
    os.killpg(server.process.pid, signal.SIGKILL)
    server.process.wait(10)
    stop.set()
    for thread in threads:
        thread.join()
    assert len(acknowledged) > 10
    with running_server(database) as again, httpx.Client() as client:
        missing = [
            id for id in acknowledged if client.get(f"{again.url}/Patient/{id}").status_code != 200
        ]
    assert missing == []
    check = sqlite3.connect(database).execute("PRAGMA integrity_check").fetchone()[0]
    assert check == "ok"


def test_parallel_if_match_updates_lose_nothing_across_two_workers(tmp_path: Path) -> None:
    with running_server(tmp_path / "fh.db", "--workers", "2") as server:
        url = f"{server.url}/Patient/shared"
        httpx.put(url, json={"resourceType": "Patient", "id": "shared"}, headers=FHIR)
        wins: list[int] = []
        conflicts: list[int] = []

        def contend(worker: int) -> None:
            with httpx.Client(timeout=30) as client:
                for attempt in range(15):
                    current = client.get(url)
                    version = current.headers["etag"]
                    response = client.put(
                        url,
                        json={
                            "resourceType": "Patient",
                            "id": "shared",
                            "name": [{"text": f"{worker}-{attempt}"}],
                        },
                        headers={**FHIR, "If-Match": version},
                    )
                    if response.status_code == 200:
                        wins.append(int(response.headers["etag"][3:-1]))
                    else:
                        assert response.status_code == 412, response.text
                        conflicts.append(worker)

        threads = [threading.Thread(target=contend, args=(n,)) for n in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        final = httpx.get(url).json()
        history = httpx.get(f"{url}/_history?_count=500").json()["entry"]
    # Every successful update made exactly one new version; none was overwritten.
    assert sorted(wins) == list(range(2, 2 + len(wins)))
    assert int(final["meta"]["versionId"]) == 1 + len(wins)
    assert len(history) == 1 + len(wins)
    assert len(wins) + len(conflicts) == 90
