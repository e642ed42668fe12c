"""How fast a CORS change reaches every process, and what keeping the policy fresh costs.

    .venv/bin/python benchmarks/cors_propagation.py            # 50 changes, 5 rounds
    .venv/bin/python benchmarks/cors_propagation.py --quick

Two measurements (issue 4, "Benchmarks"; shared/spec/cors.md, "Changing the
policy at run time"), for ``benchmarks/run.py`` to call
(:func:`measure_propagation`, :func:`measure_freshness_cost`) or to run alone:

- **Propagation**: ``firehouse serve --workers 2``; each change is a PUT to the
  admin API, and the time runs from the moment the PUT's answer arrives (the
  change is saved) to the moment the *last* worker applies it. Each worker
  logs ``CORS policy version N applied`` with its pid and a millisecond time
  stamp, which is when it swapped its snapshot; same machine, same clock.
  Changes are spaced by a random pause so they land at every phase of the
  250 ms poll.
- **Freshness cost**: requests/s of the same app with the live policy (the
  refresher thread polling the store) and with a fixed policy
  (:class:`firehouse.cors.live.FixedPolicy`), in the same run, interleaved
  rounds, order reversed every other round; one worker pinned to CPU 0, wrk on
  CPU 1 (``benchmarks/wrk/bench.lua``: a preflight, and a read with ``Origin``).
  The ratio is live / fixed (target >= 0.98).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
LUA = HERE / "wrk" / "bench.lua"
TOKEN = "benchmark-admin-token"
ORIGIN = "https://app.example"
DB_ENV = "FIREHOUSE_BENCH_DATABASE"
_APPLIED = re.compile(
    r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) INFO \[(\d+)\] firehouse\.cors: "
    r"CORS policy version (\d+) applied",
    re.M,
)


# -- the two apps of the freshness comparison (uvicorn factories) ----------------


def live_app() -> Any:
    """The app exactly as ``firehouse serve`` builds it: the live policy."""
    from firehouse.app import create_app
    from firehouse.settings import Settings

    return create_app(Settings(database=os.environ[DB_ENV]), startup_cors=False)


def fixed_app() -> Any:
    """The same app with the stored policy read once and never refreshed."""
    from firehouse.app import create_app
    from firehouse.cors.live import FixedPolicy
    from firehouse.cors.store import load
    from firehouse.settings import Settings
    from firehouse.storage import open_storage

    settings = Settings(database=os.environ[DB_ENV])
    storage = open_storage(settings.database)
    policy = load(storage).policy
    return create_app(settings, storage=storage, startup_cors=False, cors=FixedPolicy(policy))


# -- processes -------------------------------------------------------------------


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_health(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/health/check", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server did not start:\n{log.read_text()}")


@contextmanager
def _process(args: list[str], log: Path, url: str, env: dict[str, str]) -> Iterator[int]:
    with log.open("wb") as out:
        process = subprocess.Popen(
            args, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    try:
        _wait_health(url, process, log)
        yield process.pid
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)


def _admin(url: str, method: str, body: Any, if_match: str) -> dict[str, Any]:
    request = urllib.request.Request(
        f"{url}/admin/cors",
        data=json.dumps(body).encode(),
        method=method,
        headers={
            "Authorization": f"Bearer {TOKEN}",
            "Content-Type": "application/json",
            "If-Match": if_match,
        },
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        result: dict[str, Any] = json.loads(answer.read())
        return result


# -- propagation -----------------------------------------------------------------


def _applied_times(log: str) -> dict[int, dict[str, float]]:
    """version -> {pid: epoch seconds it was applied}."""
    found: dict[int, dict[str, float]] = {}
    for stamp, pid, version in _APPLIED.findall(log):
        moment = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").timestamp()
        found.setdefault(int(version), {}).setdefault(pid, moment)
    return found


def measure_propagation(changes: int = 50, workers: int = 2) -> dict[str, Any]:
    """Seconds from a saved change to the last worker applying it: p50, p99, max."""
    with tempfile.TemporaryDirectory(prefix="fh-prop-") as folder:
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        log = Path(folder) / "server.log"
        args = [
            sys.executable, "-m", "firehouse", "serve", "--port", str(port),
            "--database", f"sqlite:///{folder}/prop.db", "--workers", str(workers),
            "--admin-token", TOKEN, "--log-level", "info",
        ]  # fmt: skip
        env = {k: v for k, v in os.environ.items() if not k.startswith("FIREHOUSE_")}
        with _process(args, log, url, env):
            _wait_for(lambda: log.read_text().count("Application startup complete.") >= workers)
            pids = set(re.findall(r"Started server process \[(\d+)\]", log.read_text()))
            saved_at: dict[int, float] = {}
            rng = random.Random(4)
            for version in range(1, changes + 1):
                time.sleep(rng.uniform(0.0, 0.3))
                body = {"origins": [f"https://app{version}.example"], "methods": ["GET"]}
                _admin(url, "PUT", body, f'"{version - 1}"')
                saved_at[version] = time.time()
                _wait_for(
                    lambda v=version: len(_applied_times(log.read_text()).get(v, {})) >= workers
                )
            applied = _applied_times(log.read_text())
    delays = []
    for version, saved in saved_at.items():
        by_pid = applied[version]
        assert set(by_pid) == pids, (version, by_pid, pids)
        # The worker that answered the PUT applied it before answering: it counts as 0.
        delays.append(max(0.0, max(by_pid.values()) - saved))
    delays.sort()
    return {
        "changes": changes,
        "workers": workers,
        "p50_ms": round(statistics.median(delays) * 1000, 1),
        "p99_ms": round(_percentile(delays, 99) * 1000, 1),
        "max_ms": round(delays[-1] * 1000, 1),
        "within_1s": sum(d < 1.0 for d in delays),
    }


def _percentile(values: list[float], pct: float) -> float:
    index = min(len(values) - 1, max(0, round(pct / 100 * len(values) + 0.5) - 1))
    return values[index]


def _wait_for(condition: Any, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.01)
    raise RuntimeError("timed out")


# -- freshness cost ------------------------------------------------------------------


def _wrk(url: str, mode: str, duration: float, ids: Path | None) -> float:
    seconds = f"-d{max(1, round(duration))}s"  # wrk takes whole seconds
    args = [
        "taskset", "-c", "1", "wrk", "-t1", "-c16", seconds, "-s", str(LUA), url,
        "--", mode, str(ids or "-"), "-", ORIGIN,
    ]  # fmt: skip
    if not shutil.which("taskset"):
        args = args[3:]
    ran = subprocess.run(args, capture_output=True, text=True, timeout=duration + 60)
    lines = [x for x in ran.stdout.splitlines() if x.startswith("BENCH_JSON ")]
    if not lines:
        raise RuntimeError(f"wrk failed: {ran.stdout}{ran.stderr}")
    line = lines[0]
    result = json.loads(line[len("BENCH_JSON ") :])
    errors = sum(v for k, v in result.items() if k.startswith("errors_"))
    if errors:
        raise RuntimeError(f"{errors} errors in {mode}: {result}")
    return float(result["requests"]) / (result["duration_us"] / 1e6)


def measure_freshness_cost(rounds: int = 5, duration: float = 4.0) -> dict[str, Any]:
    """Requests/s with the live policy over a fixed one, same run; ratios of medians."""
    if not shutil.which("wrk"):
        raise RuntimeError("wrk is not installed (apt-get install wrk)")
    with tempfile.TemporaryDirectory(prefix="fh-fresh-") as folder:
        database = f"sqlite:///{folder}/fresh.db"
        ids = Path(folder) / "ids.txt"
        _prepare(database, ids)
        env = {k: v for k, v in os.environ.items() if not k.startswith("FIREHOUSE_")}
        env[DB_ENV] = database
        env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
        rps: dict[tuple[str, str], list[float]] = {}
        for round_ in range(rounds):
            order = ["live", "fixed"] if round_ % 2 == 0 else ["fixed", "live"]
            for variant in order:
                port = _free_port()
                url = f"http://127.0.0.1:{port}"
                args = [
                    "taskset", "-c", "0", sys.executable, "-m", "uvicorn", "--factory",
                    f"benchmarks.cors_propagation:{variant}_app", "--port", str(port),
                    "--no-access-log", "--no-server-header", "--log-level", "warning",
                ]  # fmt: skip
                if not shutil.which("taskset"):
                    args = args[3:]
                with _process(args, Path(folder) / f"{variant}.log", url, env):
                    _wrk(url, "preflight", 1.0, None)  # warm-up
                    for mode in ("preflight", "read"):
                        rate = _wrk(url, mode, duration, ids if mode == "read" else None)
                        rps.setdefault((variant, mode), []).append(rate)
    result: dict[str, Any] = {"rounds": rounds, "duration_s": duration}
    for mode in ("preflight", "read"):
        live = statistics.median(rps[("live", mode)])
        fixed = statistics.median(rps[("fixed", mode)])
        result[mode] = {
            "live_rps": round(live),
            "fixed_rps": round(fixed),
            "ratio": round(live / fixed, 3),
            "live_rounds": [round(r) for r in rps[("live", mode)]],
            "fixed_rounds": [round(r) for r in rps[("fixed", mode)]],
        }
    return result


def _prepare(database: str, ids: Path) -> None:
    """A stored policy that allows ORIGIN, and 200 patients to read."""
    from firehouse.cors.store import replace
    from firehouse.fhir.service import ResourceService
    from firehouse.storage import open_storage

    storage = open_storage(database)
    storage.migrate()
    replace(
        storage,
        {"origins": [ORIGIN], "headers": ["*"], "methods": ["*"], "maxAge": 600},
        expected_version=0,
        actor="benchmark",
    )
    service = ResourceService(storage)
    names = []
    for i in range(200):
        names.append(f"p{i}")
        _put_patient(service, f"p{i}")
    storage.close()
    ids.write_text("\n".join(names) + "\n")


def _put_patient(service: Any, id: str) -> None:
    service.update("Patient", id, {"resourceType": "Patient", "id": id, "name": [{"family": "B"}]})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10 changes, 2 short rounds")
    parser.add_argument("--changes", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=float, default=4.0)
    args = parser.parse_args(argv)
    if args.quick:
        args.changes, args.rounds, args.duration = 10, 2, 2.0
    report = {
        "propagation": measure_propagation(args.changes),
        "freshness_cost": measure_freshness_cost(args.rounds, args.duration),
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
