"""Fallback load generator for machines without wrk: asyncio, raw HTTP/1.1 keep-alive.

Same scenarios and output as ``benchmarks/wrk/bench.lua``:

    python pyload.py URL CONNECTIONS SECONDS MODE IDS BODY ORIGIN

It competes with the server for the same cores and costs far more CPU per
request than wrk, so figures from it are lower; it is used identically for
baseline and subject, so ratios stay meaningful. Bounded by time and by a
request cap.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from urllib.parse import urlsplit

MAX_REQUESTS = 5_000_000


def build_requests(host: str, mode: str, ids_path: str, body_path: str, origin: str) -> list[bytes]:
    extra = f"Origin: {origin}\r\n" if origin not in ("", "-") else ""

    def ids() -> list[str]:
        with open(ids_path) as handle:
            return [line.strip() for line in handle if line.strip()]

    def req(method: str, path: str, headers: str = "", body: bytes = b"") -> bytes:
        # "__N__" (update) is replaced by 8 digits per request: count them in.
        size = len(body) + (3 if b"__N__" in body else 0)
        length = f"Content-Length: {size}\r\n" if body or method in ("POST", "PUT") else ""
        head = f"{method} {path} HTTP/1.1\r\nHost: {host}\r\n{extra}{headers}{length}\r\n"
        return head.encode("latin-1") + body

    json_type = "Content-Type: application/fhir+json\r\n"
    if mode in ("read", "history"):
        suffix = "/_history" if mode == "history" else ""
        return [req("GET", f"/Patient/{i}{suffix}") for i in ids()]
    if mode == "create":
        with open(body_path, "rb") as handle:
            return [req("POST", "/Patient", json_type, handle.read())]
    if mode == "update":
        with open(body_path, "rb") as handle:
            template = handle.read()
        return [
            req("PUT", f"/Patient/{i}", json_type, template.replace(b"__ID__", i.encode()))
            for i in ids()
        ]
    if mode == "preflight":
        acr = (
            "Access-Control-Request-Method: PUT\r\n"
            "Access-Control-Request-Headers: authorization,content-type\r\n"
        )
        return [req("OPTIONS", "/Patient", acr)]
    raise SystemExit(f"unknown mode {mode}")


async def connection(
    host: str,
    port: int,
    requests: list[bytes],
    start: int,
    deadline: float,
    latencies: list[float],
    counters: dict[str, int],
) -> None:
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError:
        counters["errors_connect"] += 1
        return
    i = start
    try:
        while time.monotonic() < deadline and len(latencies) < MAX_REQUESTS:
            data = requests[i % len(requests)]
            i += 1
            if b"__N__" in data:  # update: every body differs (same length: 8 digits)
                data = data.replace(b"__N__", b"%08d" % (i % 100_000_000))
            t0 = time.perf_counter()
            writer.write(data)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n")[1:]:
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if length:
                await reader.readexactly(length)
            latencies.append(time.perf_counter() - t0)
            counters["bytes"] += len(head) + length
            if status > 399:
                counters["errors_status"] += 1
    except (OSError, asyncio.IncompleteReadError, ValueError):
        counters["errors_read"] += 1
    finally:
        writer.close()


async def main(argv: list[str]) -> None:
    url, connections, seconds, mode, ids_path, body_path, origin = argv
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    requests = build_requests(f"{host}:{port}", mode, ids_path, body_path, origin)
    latencies: list[float] = []
    counters = dict.fromkeys(
        (
            "bytes",
            "errors_connect",
            "errors_read",
            "errors_write",
            "errors_status",
            "errors_timeout",
        ),
        0,
    )
    t0 = time.monotonic()
    deadline = t0 + float(seconds)
    await asyncio.gather(
        *(
            connection(host, port, requests, k * 7919, deadline, latencies, counters)
            for k in range(int(connections))
        )
    )
    elapsed = time.monotonic() - t0
    lat = sorted(latencies) or [0.0]

    def pct(p: float) -> int:
        return int(lat[min(len(lat) - 1, int(p / 100 * len(lat)))] * 1e6)

    result = {
        "requests": len(latencies),
        "duration_us": int(elapsed * 1e6),
        **counters,
        "lat_mean_us": sum(lat) / len(lat) * 1e6,
        "lat_p50_us": pct(50),
        "lat_p90_us": pct(90),
        "lat_p99_us": pct(99),
        "lat_max_us": int(lat[-1] * 1e6),
    }
    print("BENCH_JSON " + json.dumps(result), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
