"""cors.md case 19: a change through the admin API is applied by every process within one second.

A real ``firehouse serve --workers 2`` on a real SQLite file. After each change
the test keeps probing with a fresh connection per request (so the kernel
hands the requests to both workers) and checks that every answer later than
one second after the change reflects it; the workers' log lines, which carry
their process ids, show that each of the two processes applied each version.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import httpx2 as httpx
import pytest

from tests.support.server import running_server

pytestmark = pytest.mark.slow
TOKEN = "propagation-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CHANGES = 5
DEADLINE = 1.0
PROBE_FOR = 1.4


def preflight_origin(url: str, origin: str) -> str | None:
    # A new client per request: a fresh connection, so either worker may answer.
    response = httpx.options(
        f"{url}/Patient",
        headers={"Origin": origin, "Access-Control-Request-Method": "GET", "Connection": "close"},
        timeout=5,
    )
    assert response.status_code == 204
    return response.headers.get("access-control-allow-origin")


def wait_for_workers(log: Callable[[], str], count: int, timeout: float = 60) -> set[str]:
    """The worker pids, once each has finished starting (the first alone answers sooner)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log()
        if text.count("Application startup complete.") >= count:
            return set(re.findall(r"Started server process \[(\d+)\]", text))
        time.sleep(0.05)
    raise AssertionError(f"the workers did not start:\n{log()}")


def test_every_worker_applies_an_admin_api_change_within_one_second(tmp_path: Path) -> None:
    with running_server(
        tmp_path / "two.db", "--workers", "2", "--admin-token", TOKEN, "--log-level", "info"
    ) as server:
        workers = wait_for_workers(server.log, 2)
        with httpx.Client(base_url=server.url, headers=AUTH, timeout=10) as admin:
            for version in range(1, CHANGES + 1):
                origin = f"https://app{version}.example"
                changed = admin.put(
                    "/admin/cors",
                    json={"origins": [origin], "methods": ["GET"]},
                    headers={"If-Match": f'"{version - 1}"'},
                )
                assert changed.status_code == 200, changed.text
                saved_at = time.monotonic()
                late_old_answers = []
                probes = 0
                while (elapsed := time.monotonic() - saved_at) < PROBE_FOR:
                    granted = preflight_origin(server.url, origin)
                    probes += 1
                    if granted != origin and elapsed >= DEADLINE:
                        late_old_answers.append(round(elapsed, 3))
                assert probes > 20
                assert late_old_answers == [], f"version {version}: stale after 1 s"
                # The old origin is refused by every process by now.
                if version > 1:
                    old = f"https://app{version - 1}.example"
                    assert all(preflight_origin(server.url, old) is None for _ in range(20))
        log = server.log()
    for version in range(1, CHANGES + 1):
        applied = set(re.findall(rf"\[(\d+)\] firehouse.cors: CORS policy version {version} ", log))
        # One process may apply its own write at once; the log must show both.
        assert len(applied) == 2, (version, applied, log[-3000:])
        assert applied == workers
