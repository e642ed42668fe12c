"""Running one bounded load measurement against a server with wrk (or the Python fallback).

Both generators take the same scenario (``benchmarks/wrk/bench.lua`` modes),
run for a fixed time with a fixed number of keep-alive connections, and
print one ``BENCH_JSON`` line. Around each run the server's process-tree CPU,
the generator's CPU and the machine's CPU are read, so the report can say how
many cores the server really used and how much other load the machine had.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from benchlib.procs import MachineCpu, Server

HERE = Path(__file__).resolve().parent.parent
LUA = HERE / "wrk" / "bench.lua"
PYLOAD = Path(__file__).resolve().parent / "pyload.py"


@dataclass(frozen=True)
class Scenario:
    mode: str  # read | history | create | update | preflight
    ids_file: Path | None = None
    body_file: Path | None = None
    origin: str | None = None

    def args(self) -> list[str]:
        return [
            self.mode,
            str(self.ids_file or "-"),
            str(self.body_file or "-"),
            self.origin or "-",
        ]


@dataclass(frozen=True)
class LoadSettings:
    generator: str  # "wrk" or "python"
    connections: int
    duration: float  # seconds


@dataclass
class Measurement:
    label: str  # the row of the report, e.g. "firehouse read"
    server: str
    workers: int
    round: int
    rps: float
    requests: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    errors: int
    server_cores: float  # CPU-seconds of the server tree per wall second
    generator_cores: float
    process_cores: list[float]  # the server's processes, busiest first (worker balance)
    cpu_us_per_request: float  # server CPU time per request
    other_cores: float  # machine busy time not explained by server + generator
    iowait_cores: float
    steal_cores: float
    repeats: int = 0  # how often this measurement was repeated on a busy machine

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def ensure_wrk(install: bool) -> str | None:
    """Path of wrk; installs Debian's ``wrk`` with apt-get when allowed and root."""
    found = shutil.which("wrk")
    if found or not install:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return None
    print("wrk not found: installing Debian's wrk with apt-get ...", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "wrk"]):
        try:
            subprocess.run(cmd, env=env, check=True, timeout=300, capture_output=True)
        except (subprocess.SubprocessError, OSError) as exc:
            print(f"  {' '.join(cmd)} failed: {exc}", flush=True)
            return None
    return shutil.which("wrk")


def _command(settings: LoadSettings, url: str, scenario: Scenario, threads: int) -> list[str]:
    if settings.generator == "wrk":
        return [
            "wrk",
            f"-t{threads}",
            f"-c{max(settings.connections, threads)}",
            f"-d{max(1, round(settings.duration))}s",
            "--timeout",
            "5s",
            "-s",
            str(LUA),
            url,
            "--",
            *scenario.args(),
        ]
    return [
        sys.executable,
        str(PYLOAD),
        url,
        str(settings.connections),
        str(settings.duration),
        *scenario.args(),
    ]


def run_load(
    server: Server,
    scenario: Scenario,
    settings: LoadSettings,
    *,
    label: str,
    round_: int,
    threads: int,
    cpus: str | None,
) -> Measurement:
    argv = _command(settings, f"http://127.0.0.1:{server.port}", scenario, threads)
    if cpus is not None:
        argv = ["taskset", "-c", cpus, *argv]
    machine0, server0, t0 = MachineCpu.now(), server.cpu_by_pid(), time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    limit = time.monotonic() + settings.duration + 60  # hard bound on one run
    # wait4 (not poll) so that the generator's own CPU time comes with its exit.
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            break
        if time.monotonic() > limit:
            proc.kill()
        time.sleep(0.05)
    wall = time.monotonic() - t0
    server1 = server.cpu_by_pid()
    per_process = sorted((server1[pid] - server0.get(pid, 0.0) for pid in server1), reverse=True)
    server_cpu = sum(per_process)
    machine1 = MachineCpu.now()
    assert proc.stdout is not None and proc.stderr is not None
    out, err = proc.stdout.read().decode(), proc.stderr.read().decode()
    lines = [line for line in out.splitlines() if line.startswith("BENCH_JSON ")]
    if not lines:
        raise RuntimeError(f"load generator gave no result for {label}: {out[-500:]} {err[-500:]}")
    r = json.loads(lines[-1][len("BENCH_JSON ") :])
    seconds = r["duration_us"] / 1e6
    errors = sum(r[k] for k in r if k.startswith("errors_"))
    gen_cpu = usage.ru_utime + usage.ru_stime
    busy = (machine1.busy - machine0.busy) / wall
    return Measurement(
        label=label,
        server=server.name,
        workers=server.workers,
        round=round_,
        rps=r["requests"] / seconds if seconds else 0.0,
        requests=r["requests"],
        seconds=seconds,
        p50_ms=r["lat_p50_us"] / 1000,
        p90_ms=r["lat_p90_us"] / 1000,
        p99_ms=r["lat_p99_us"] / 1000,
        mean_ms=r["lat_mean_us"] / 1000,
        errors=errors,
        server_cores=server_cpu / wall,
        process_cores=[round(c / wall, 2) for c in per_process if c / wall >= 0.02],
        cpu_us_per_request=server_cpu / r["requests"] * 1e6 if r["requests"] else 0.0,
        generator_cores=gen_cpu / wall,
        other_cores=max(0.0, busy - server_cpu / wall - gen_cpu / wall),
        iowait_cores=(machine1.iowait - machine0.iowait) / wall,
        steal_cores=(machine1.steal - machine0.steal) / wall,
    )
