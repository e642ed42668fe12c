"""Search benchmark (issue 5): indexing throughput and the latency of the issue's searches.

    python benchmarks/search_bench.py --patients 1000 [--scale 10] [--seconds 5]

Builds a carebundle dataset (``--patients`` patients, seed 11, profile mixed)
plus two ExplanationOfBenefits per patient (carebundle makes none), loads it
through the service with the search indexer wired in (500 resources per
transaction) and reports resources/s. Then, for each search of the issue,
sequential requests through the ASGI app in-process (the full REST path:
routing, parsing, planning, SQL, Bundle JSON) for ``--seconds``: requests/s,
p50 and p99; next to it, the same page's SQL (from the same planner) run
directly on a raw sqlite3 connection: the floor set by the database.
``--scale 10`` repeats everything with 10x the patients.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import orjson
from sqlalchemy.dialects.sqlite import dialect as sqlite_dialect

from firehouse.app import create_app
from firehouse.fhir import json as fhir_json
from firehouse.fhir.service import update_in
from firehouse.search.engine import SearchEngine, SearchRequest
from firehouse.search.wiring import install
from firehouse.settings import Settings
from firehouse.storage import open_storage
from firehouse.storage.search_pages import page_statement

BASE = "http://bench.test"


def generate(patients: int, out: Path) -> dict[str, list[dict[str, Any]]]:
    carebundle = Path(sys.executable).parent / "carebundle"
    subprocess.run(
        [
            str(carebundle),
            "generate",
            "--seed",
            "11",
            "--count",
            str(patients),
            "--profile",
            "mixed",
            "--format",
            "ndjson",
            "--out",
            str(out),
        ],
        check=True,
        capture_output=True,
    )
    data = {
        p.stem: [orjson.loads(line) for line in p.read_bytes().splitlines() if line]
        for p in sorted(out.glob("*.ndjson"))
    }
    data["Organization"] = [{"resourceType": "Organization", "id": "payer1", "name": "Payer"}]
    practitioners = [p["id"] for p in data.get("Practitioner", [])]
    eobs = []
    for i, patient in enumerate(data["Patient"]):
        for n in range(2):
            day = f"2025-{1 + (i + n) % 12:02d}-{1 + i % 28:02d}"
            eobs.append(
                {
                    "resourceType": "ExplanationOfBenefit",
                    "id": f"eob-{i}-{n}",
                    "status": "active",
                    "type": {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/claim-type",
                                "code": "professional" if n else "pharmacy",
                            }
                        ]
                    },
                    "use": "claim",
                    "patient": {"reference": f"Patient/{patient['id']}"},
                    "billablePeriod": {"start": day, "end": day},
                    "created": f"{day}T12:00:00Z",
                    "insurer": {"reference": "Organization/payer1"},
                    "provider": {
                        "reference": f"Practitioner/{practitioners[i % len(practitioners)]}"
                    },
                    "outcome": "complete",
                    "insurance": [{"focal": True, "coverage": {"display": "Plan"}}],
                    "item": [
                        {"sequence": 1, "servicedDate": day, "productOrService": {"text": "Visit"}}
                    ],
                }
            )
    data["ExplanationOfBenefit"] = eobs
    return data


def load(url: str, data: dict[str, list[dict[str, Any]]], batch: int = 500) -> tuple[int, float]:
    storage = open_storage(url)
    storage.migrate()
    install(storage)
    items = [(t, r) for t, resources in data.items() for r in resources]
    started = time.perf_counter()
    for i in range(0, len(items), batch):
        with storage.transaction() as tx:
            for resource_type, resource in items[i : i + batch]:
                parsed = fhir_json.loads(orjson.dumps(resource))
                update_in(tx, resource_type, resource["id"], parsed)
    elapsed = time.perf_counter() - started
    storage.close()
    return len(items), elapsed


class AsgiDriver:
    """Calls the ASGI app directly: the server's whole request path, no sockets."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()

    async def _get(self, path: str, query: str) -> tuple[int, bytes]:
        scope = {
            "type": "http",
            "method": "GET",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "headers": [(b"host", b"bench.test")],
            "scheme": "http",
            "server": ("bench.test", 80),
            "client": ("127.0.0.1", 1),
            "root_path": "",
            "http_version": "1.1",
        }
        status = 0
        body: list[bytes] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                body.append(message.get("body", b""))

        await self.app(scope, receive, send)
        return status, b"".join(body)

    def get(self, path: str, query: str) -> tuple[int, bytes]:
        return self.loop.run_until_complete(self._get(path, query))


def measure(call: Callable[[int], object], seconds: float) -> dict[str, float]:
    latencies: list[float] = []
    started = time.perf_counter()
    i = 0
    while time.perf_counter() - started < seconds:
        t = time.perf_counter()
        call(i)
        latencies.append(time.perf_counter() - t)
        i += 1
    latencies.sort()
    return {
        "requests": len(latencies),
        "per_second": len(latencies) / sum(latencies),
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
    }


def scenarios(
    data: dict[str, list[dict[str, Any]]],
) -> list[tuple[str, str, Callable[[int], list[tuple[str, str]]]]]:
    rng = random.Random(5)
    patients = [p["id"] for p in data["Patient"]]
    rng.shuffle(patients)
    families = sorted({p["name"][0]["family"][:3] for p in data["Patient"] if p.get("name")})

    def pick(i: int) -> str:
        return str(patients[i % len(patients)])

    return [
        ("Patient?name=", "Patient", lambda i: [("name", families[i % len(families)])]),
        (
            "Observation?patient=&code=",
            "Observation",
            lambda i: [("patient", pick(i)), ("code", "http://loinc.org|2951-2")],
        ),
        (
            "Observation?patient=&category=&date=ge",
            "Observation",
            lambda i: [("patient", pick(i)), ("category", "laboratory"), ("date", "ge2025-06-01")],
        ),
        (
            "ExplanationOfBenefit?patient=&_include=ExplanationOfBenefit:*",
            "ExplanationOfBenefit",
            lambda i: [("patient", pick(i)), ("_include", "ExplanationOfBenefit:*")],
        ),
    ]


def run(patients: int, seconds: float, workdir: Path) -> dict[str, Any]:
    data = generate(patients, workdir / f"data-{patients}")
    db = workdir / f"search-{patients}.db"
    url = f"sqlite:///{db}"
    count, elapsed = load(url, data)
    result: dict[str, Any] = {
        "patients": patients,
        "resources": count,
        "index_load_resources_per_s": count / elapsed,
        "searches": {},
    }
    print(f"{patients} patients: {count} resources loaded and indexed at {count / elapsed:.0f}/s")
    app = create_app(Settings(database=url, base_url=BASE))
    driver = AsgiDriver(app)
    storage = open_storage(url)
    holder = install(storage)
    engine = SearchEngine(storage, holder.current)
    raw = sqlite3.connect(db)
    for name, resource_type, params in scenarios(data):

        def http(
            i: int, rt: str = resource_type, p: Callable[[int], list[tuple[str, str]]] = params
        ) -> None:
            status, _ = driver.get(f"/{rt}", urlencode(p(i)))
            assert status == 200, status

        # The SQL texts are made first, so that only the database's work is timed.
        texts = []
        for i in range(200):
            prepared = engine.prepare(SearchRequest((resource_type,), tuple(params(i)), BASE))
            stmt, _ = page_statement(prepared.query)
            compiled = stmt.compile(
                dialect=sqlite_dialect(), compile_kwargs={"literal_binds": True}
            )
            texts.append(str(compiled))

        def sql(i: int, texts: list[str] = texts) -> None:
            raw.execute(texts[i % len(texts)]).fetchall()

        _, sample = driver.get(f"/{resource_type}", urlencode(params(0)))
        entries = len(orjson.loads(sample).get("entry", []))
        http_stats = measure(http, seconds)
        sql_stats = measure(sql, seconds)
        result["searches"][name] = {"entries_first": entries, "http": http_stats, "sql": sql_stats}
        rate, p50 = http_stats["per_second"], http_stats["p50_ms"]
        print(
            f"  {name:62s} {rate:7.0f} req/s  p50 {p50:6.2f} ms"
            f"  p99 {http_stats['p99_ms']:6.2f} ms | SQL p50 {sql_stats['p50_ms']:6.2f} ms"
            f"  p99 {sql_stats['p99_ms']:6.2f} ms  ({entries} entries)"
        )
    storage.close()
    raw.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=1000)
    parser.add_argument(
        "--scale", type=int, default=1, help="also run with this many times the patients"
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="per search and per mode")
    parser.add_argument("--out", type=Path, default=None, help="write the figures as JSON here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="search-bench-") as tmp:
        runs = [run(args.patients, args.seconds, Path(tmp))]
        if args.scale > 1:
            runs.append(run(args.patients * args.scale, args.seconds, Path(tmp)))
    if args.out is not None:
        args.out.write_text(json.dumps(runs, indent=2))


if __name__ == "__main__":
    main()
