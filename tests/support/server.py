"""A real ``firehouse serve`` process for tests that need one (or a browser)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx2 as httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServerProcess:
    process: subprocess.Popen[str]
    url: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        return self.process.returncode


def start_server(
    database: Path | str,
    *args: str,
    env: dict[str, str] | None = None,
    port: int | None = None,
    cwd: Path | None = None,
    wait_for: float = 60,
) -> ServerProcess:
    port = port or free_port()
    database_url = database if isinstance(database, str) else f"sqlite:///{database}"
    log_path = Path(cwd or Path(str(database)).parent) / f"server-{port}.log"
    log_file = log_path.open("w")
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "firehouse",
            "serve",
            "--port",
            str(port),
            "--database",
            database_url,
            "--log-level",
            "warning",
            *args,
        ],
        stdout=log_file,
        stderr=subprocess.STDOUT,
        env=full_env,
        cwd=cwd,
        text=True,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + wait_for
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited {process.returncode}:\n{log_path.read_text()}")
        try:
            if httpx.get(f"{url}/health/check", timeout=2).status_code == 200:
                return ServerProcess(process, url, log_path)
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"server did not answer in {wait_for}s:\n{log_path.read_text()}")


@contextmanager
def running_server(database: Path | str, *args: str, **kwargs: object) -> Iterator[ServerProcess]:
    server = start_server(database, *args, **kwargs)  # type: ignore[arg-type]
    try:
        yield server
    finally:
        server.stop()


def command(*args: str) -> Sequence[str]:
    return [sys.executable, "-m", "firehouse", *args]
