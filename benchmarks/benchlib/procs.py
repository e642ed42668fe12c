"""Server processes for the benchmarks: start, wait for health, CPU accounting, stop.

Every server is a real process (tree) on 127.0.0.1, started in its own session
so that it and its worker processes can be stopped by process-group id.
CPU time is read from /proc for the whole tree, so "cores used" is measured,
not assumed.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # comm may contain spaces and parentheses: split after the last ")".
    return raw[raw.rindex(")") + 2 :].split()


def tree_pids(root: int) -> list[int]:
    """``root`` and all its descendants."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fields = _stat_fields(int(entry))
        if fields is not None:
            children.setdefault(int(fields[1]), []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, ()))
    return out


def tree_cpu_by_pid(root: int) -> dict[int, float]:
    """User + system CPU seconds of each live process of a tree."""
    out = {}
    for pid in tree_pids(root):
        fields = _stat_fields(pid)
        if fields is not None:
            out[pid] = (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime
    return out


@dataclass(frozen=True)
class MachineCpu:
    """Aggregate CPU ticks from /proc/stat, for other load, iowait and steal."""

    busy: float
    iowait: float
    steal: float

    @staticmethod
    def now() -> MachineCpu:
        with open("/proc/stat") as handle:
            parts = handle.readline().split()[1:]
        ticks = [int(x) for x in parts]
        user, nice, system, _idle, iowait, irq, softirq = ticks[:7]
        steal = ticks[7] if len(ticks) > 7 else 0
        busy = user + nice + system + irq + softirq
        return MachineCpu(busy / CLK_TCK, iowait / CLK_TCK, steal / CLK_TCK)


def http_get(port: int, path: str, timeout: float = 2.0) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


@dataclass
class Server:
    """One server under test: a name, its command line and the CPUs it may use."""

    name: str
    argv: list[str]
    port: int
    workers: int
    cpus: str | None = None  # taskset list, e.g. "0"; None = unpinned
    env: dict[str, str] = field(default_factory=dict)
    cwd: str | None = None
    log_path: Path | None = None
    proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> None:
        argv = list(self.argv)
        if self.cpus is not None:
            argv = ["taskset", "-c", self.cpus, *argv]
        log = open(self.log_path, "wb") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.proc = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **self.env},
            cwd=self.cwd,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.proc.returncode}; see {self.log_path}"
                )
            try:
                if http_get(self.port, "/health/check")[0] == 200:
                    if self.workers > 1:
                        self._wait_workers(deadline)
                    return
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer /health/check within {timeout:.0f} s")

    def _wait_workers(self, deadline: float) -> None:
        # uvicorn's Multiprocess: the supervisor plus one process per worker.
        assert self.proc is not None
        while time.monotonic() < deadline:
            workers = [p for p in tree_pids(self.proc.pid) if p != self.proc.pid]
            if len(workers) >= self.workers:
                # Let every worker finish importing before load arrives.
                for _ in range(20 * self.workers):
                    http_get(self.port, "/health/check")
                return
            time.sleep(0.1)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def cpu_by_pid(self) -> dict[int, float]:
        return tree_cpu_by_pid(self.pid)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)
