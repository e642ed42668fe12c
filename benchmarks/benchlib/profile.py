"""Where a server's time goes under load: py-spy samples, summarised by layer.

py-spy samples the running server from outside (no code change, little
overhead) while wrk drives it. Stacks are folded by function; the summary
gives (1) self time by layer (which library the CPU was in), (2) the
functions with the most self time, and (3) inclusive time of the read path's
milestones (uvicorn -> CORS -> envelope -> routing -> handler -> storage ->
SQLAlchemy -> SQLite). Without native frames, time inside SQLite's C code is
self time of the Python frame that called it (SQLAlchemy's ``do_execute`` /
the cursor fetch).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

CACHE = (
    Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "firehouse-bench" / "py-spy"
)

# Self time by layer: first matching prefix of the leaf frame's file.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("SQLite C via SQLAlchemy (execute/commit/fetch)", ("<sqlite>",)),
    ("SQLAlchemy (Python)", ("sqlalchemy/",)),
    ("uvicorn protocol", ("uvicorn/",)),
    ("h11 (HTTP parse/serialise)", ("h11/",)),
    ("asyncio loop + sockets", ("asyncio/", "selectors.py", "socket.py")),
    ("Starlette routing", ("starlette/routing.py",)),
    ("Starlette request/response/datastructures", ("starlette/",)),
    ("firehouse.cors", ("firehouse/cors/",)),
    ("firehouse.rest", ("firehouse/rest/",)),
    ("firehouse.fhir", ("firehouse/fhir/",)),
    ("firehouse.storage", ("firehouse/storage/",)),
    ("firehouse (other)", ("firehouse/",)),
    ("anyio / threads", ("anyio/", "threading.py", "queue.py", "concurrent/")),
    ("stdlib: uuid", ("uuid.py",)),
    ("stdlib: dates (email.utils, datetime)", ("email/", "datetime.py", "_strptime.py")),
    ("stdlib: urllib / re / enum", ("urllib/", "re/", "enum.py")),
    ("json", ("json/", "orjson")),
    ("logging", ("logging/",)),
)

# Leaf functions that are waits: sampled only while the thread was runnable
# (py-spy counts a thread as active in state R), e.g. just woken for a result.
WAIT_FUNCS = ("EpollSelector.select", "Condition.wait", "Queue.get", "Event.wait", "select")
WAIT_LAYER = "waiting: epoll_wait / thread-pool waits (runnable samples)"

# Functions whose own frame is mostly a call into SQLite's C library.
SQLITE_C_CALLS = (
    "do_execute",
    "do_commit",
    "do_rollback",
    "_fetchone_impl",
    "_fetchall_impl",
    "fetchone",
    "fetchall",
)

# Inclusive milestones of a request: (label, file substring, function name).
MILESTONES: tuple[tuple[str, str, str], ...] = (
    ("uvicorn: parse request (data_received/handle_events)", "uvicorn/", "handle_events"),
    ("uvicorn: whole ASGI app call (run_asgi)", "uvicorn/", "run_asgi"),
    ("uvicorn+h11: send response (RequestResponseCycle.send)", "uvicorn/", "send"),
    ("firehouse CorsMiddleware.__call__", "firehouse/cors/middleware.py", "__call__"),
    ("firehouse FhirEnvelope.__call__", "firehouse/rest/envelope.py", "__call__"),
    ("uuid4 (X-Request-Id)", "uuid.py", "uuid4"),
    ("Starlette Router.__call__/app", "starlette/routing.py", "app"),
    ("Starlette Route.matches (path regexes)", "starlette/routing.py", "matches"),
    ("firehouse Dispatch.__call__", "firehouse/rest/routes.py", "__call__"),
    ("firehouse rest.read.read (handler)", "firehouse/rest/read.py", "read"),
    ("firehouse media.response_format", "firehouse/rest/media.py", "response_format"),
    (
        "firehouse http.version_headers (ETag, Last-Modified)",
        "firehouse/rest/http.py",
        "version_headers",
    ),
    ("firehouse Context.base_url (request.base_url)", "firehouse/rest/context.py", "base_url"),
    ("firehouse http.not_modified", "firehouse/rest/http.py", "not_modified"),
    ("firehouse ResourceService.read", "firehouse/fhir/service.py", "read"),
    ("firehouse SqlStorage.read", "firehouse/storage/sql.py", "read"),
    ("SQLAlchemy Engine.connect (pool checkout)", "sqlalchemy/engine/base.py", "connect"),
    ("SQLAlchemy Connection.execute (compile+run)", "sqlalchemy/engine/base.py", "execute"),
    ("SQLAlchemy statement compile / cache key", "sqlalchemy/sql/", "_compile_w_cache"),
    ("SQLite C execute (do_execute self+below)", "sqlalchemy/engine/default.py", "do_execute"),
    ("SQLAlchemy Connection.close (pool return, rollback)", "sqlalchemy/engine/base.py", "close"),
    ("Starlette Response.__call__", "starlette/responses.py", "__call__"),
    ("Starlette Response.__init__ (init_headers)", "starlette/responses.py", "__init__"),
)

# Where a write spends its wall time inside the service (create profile, idle threads
# included): shares of the samples of threads inside ``ResourceService.create``.
WRITE_SCOPE = ("firehouse/fhir/service.py", "create")
WRITE_MILESTONES: tuple[tuple[str, str, str], ...] = (
    ("FHIR validation (validate_resource)", "firehouse/fhir/validation", "validate_resource"),
    ("waiting for SQLite's write lock (BEGIN IMMEDIATE)", "firehouse/storage/sqlite", "_on_begin"),
    ("search index rows (extract)", "firehouse/search/extract.py", "rows"),
    (
        "SQL statements (insert resource, history, index rows)",
        "sqlalchemy/engine/base.py",
        "execute",
    ),
    ("COMMIT (WAL write + fsync)", "sqlalchemy/engine/default.py", "do_commit"),
)

_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


@dataclass(frozen=True)
class Frame:
    func: str
    file: str

    @property
    def short(self) -> str:
        return f"{self.func} ({self.file})"


def find_pyspy(install: bool) -> str | None:
    for candidate in (
        shutil.which("py-spy"),
        str(Path(sys.executable).parent / "py-spy"),
        str(CACHE / "bin" / "py-spy"),
    ):
        if candidate and Path(candidate).exists():
            return candidate
    if not install:
        return None
    print(f"py-spy not found: pip install --target {CACHE} py-spy ...", flush=True)
    try:
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "--target", str(CACHE), "py-spy"],
            check=True,
            timeout=300,
            capture_output=True,
        )
    except (subprocess.SubprocessError, OSError) as exc:
        print(f"  could not install py-spy: {exc}", flush=True)
        return None
    found = CACHE / "bin" / "py-spy"
    return str(found) if found.exists() else None


def record(
    pyspy: str,
    pid: int,
    seconds: float,
    out: Path,
    cpus: str | None,
    rate: int = 250,
    idle: bool = False,
) -> None:
    argv = [
        pyspy,
        "record",
        "--pid",
        str(pid),
        "--duration",
        str(max(1, round(seconds))),
        "--rate",
        str(rate),
        "--format",
        "raw",
        "--function",
        "--nonblocking",
        "--output",
        str(out),
    ]
    if idle:
        argv.append("--idle")
    if cpus is not None:
        argv = ["taskset", "-c", cpus, *argv]
    subprocess.run(argv, check=True, timeout=seconds + 60, capture_output=True)


def _parse_frame(text: str) -> Frame:
    m = _FRAME.match(text.strip())
    if not m:
        return Frame(text.strip(), "")
    file = m.group("file")
    # Keep the part after site-packages / lib/python3.x / src, as a module path.
    for marker in ("site-packages/", "/src/", "/lib/python3."):
        if marker in file:
            file = file.split(marker, 1)[1]
            if marker == "/lib/python3.":
                file = file.split("/", 1)[1] if "/" in file else file
    return Frame(m.group("func"), file)


def load_stacks(path: Path) -> list[tuple[list[Frame], int]]:
    stacks = []
    for line in path.read_text(errors="replace").splitlines():
        body, _, count = line.rpartition(" ")
        if not body or not count.isdigit():
            continue
        frames = [_parse_frame(f) for f in body.split(";")]
        # Drop py-spy's process/thread header frames, keep Python frames.
        frames = [f for f in frames if f.file]
        stacks.append((frames, int(count)))
    return stacks


def _layer(frame: Frame) -> str:
    if frame.func in WAIT_FUNCS:
        return WAIT_LAYER
    if frame.file.startswith("sqlalchemy/") and frame.func.split(".")[-1] in SQLITE_C_CALLS:
        return LAYERS[0][0]
    for name, prefixes in LAYERS[1:]:
        if any(frame.file.startswith(p) or f"/{p}" in frame.file for p in prefixes):
            return name
    return "other"


def _matches(frame: Frame, file_part: str, func: str) -> bool:
    return file_part in frame.file and (frame.func == func or frame.func.endswith("." + func))


def summarise_writes(path: Path) -> dict[str, object]:
    """Wall-time shares inside ``ResourceService.create`` (needs a profile taken with idle)."""
    scoped = 0
    inclusive: Counter[str] = Counter()
    for frames, count in load_stacks(path):
        if not any(_matches(f, *WRITE_SCOPE) for f in frames):
            continue
        scoped += count
        for label, file_part, func in WRITE_MILESTONES:
            if any(_matches(f, file_part, func) for f in frames):
                inclusive[label] += count
    total = scoped or 1
    return {
        "samples_in_create": scoped,
        "write_milestones": [
            (label, round(100.0 * inclusive[label] / total, 1)) for label, _, _ in WRITE_MILESTONES
        ],
    }


def summarise(path: Path, seconds: float, rate: int, top: int = 15) -> dict[str, object]:
    stacks = load_stacks(path)
    total = sum(c for _, c in stacks) or 1
    layers: Counter[str] = Counter()
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for frames, count in stacks:
        if not frames:
            continue
        leaf = frames[-1]
        layers[_layer(leaf)] += count
        self_time[leaf.short] += count
        for label, file_part, func in MILESTONES:
            if any(_matches(f, file_part, func) for f in frames):
                inclusive[label] += count

    def pct(n: int) -> float:
        return round(100.0 * n / total, 1)

    return {
        "samples": total,
        "busy_cores": round(total / (seconds * rate), 2),
        "layers": [(name, pct(n)) for name, n in layers.most_common()],
        "self_top": [(name, pct(n)) for name, n in self_time.most_common(top)],
        "milestones": [(label, pct(inclusive[label])) for label, _, _ in MILESTONES],
    }
