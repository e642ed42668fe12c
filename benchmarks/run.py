"""Firehouse benchmarks, run by one command; results into BENCHMARKS.md.

    .venv/bin/python benchmarks/run.py                 # the real run (~6-8 min)
    .venv/bin/python benchmarks/run.py --quick         # smoke run (~1.5 min), prints only
    .venv/bin/python benchmarks/run.py --only crud,cors --duration 8 --rounds 5
    .venv/bin/python benchmarks/run.py --ref worktree   # the work tree as it is, not HEAD

Groups: ``crud`` (issue 2: create/read/update/history with 1 and 2 workers,
read against the bare-ASGI SQLite baseline, the disk's fsync rate), ``cors``
(issue 3: preflight against a fixed 204 and Starlette's CORSMiddleware; a read
with CORS on against CORS off), ``profile`` (py-spy on the read path,
preflight and create).

Method (BENCHMARKS.md says why): every server is a real process on
127.0.0.1, started as users start it; each comparison is measured in the same
run, in interleaved rounds (the order reversed every other round), and
reported as medians and ratios. With one worker the server is pinned to CPU 0
and the load generator (wrk) to CPU 1; with two workers both share both CPUs.
Every load run is bounded in time; the whole run has a deadline.
Speed is only ever reported here, never asserted in tests.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from baseline_app import DB_ENV, fill  # noqa: E402
from benchlib import profile as prof  # noqa: E402
from benchlib import sqlite_probe  # noqa: E402
from benchlib.data import Client, Seeded, seed, write_bodies  # noqa: E402
from benchlib.load import LoadSettings, Measurement, Scenario, ensure_wrk, run_load  # noqa: E402
from benchlib.procs import Server, free_port  # noqa: E402
from benchlib.report import (  # noqa: E402
    Summary,
    Target,
    find,
    machine_info,
    md_machine,
    md_table,
    md_targets,
    ratio_target,
    summarise,
    target_line,
    text_table,
    text_targets,
    update_markdown,
)

ORIGIN = "https://app.example"
CORS_FLAGS = [
    "--cors-origins",
    ORIGIN,
    "--cors-headers",
    "*",
    "--cors-methods",
    "*",
    "--cors-max-age",
    "600",
]
READ_TARGET = 0.60
PER_CORE_TARGET = 650.0
PREFLIGHT_LIMIT_TARGET = 0.90
PREFLIGHT_STARLETTE_TARGET = 1.00
CORS_GET_TARGET = 0.97
RUN_SEED_VERSIONS = 3  # versions of each resource that history reads
HISTORY = "firehouse history (3 versions)"
HISTORY_AFTER = "firehouse history, after the write runs"
TWIN = "A/A control: firehouse GET with Origin, CORS off, twin server"
MD_PATH = REPO / "BENCHMARKS.md"
MD_HEADER = "# Benchmarks\n\nRun `.venv/bin/python benchmarks/run.py`.\n"


@dataclass
class Run:
    args: argparse.Namespace
    workdir: Path
    python: str
    load: LoadSettings
    deadline: float
    cpus: list[int]
    snapshot: Path | None = None  # src/ of the benchmarked commit (None: the work tree)
    repeat_budget: int = 0  # repeats of noisy measurements left to the current group
    servers: list[Server] = field(default_factory=list)
    measurements: list[Measurement] = field(default_factory=list)

    # ---- processes

    def pinning(self, workers: int) -> tuple[str | None, str | None, int]:
        """(server CPUs, generator CPUs, generator threads)."""
        if self.args.no_pin or len(self.cpus) < 2 or not shutil.which("taskset"):
            return None, None, max(1, min(workers, 2))
        if workers == 1:
            return str(self.cpus[0]), str(self.cpus[1]), 1
        return None, None, 2

    def firehouse(self, name: str, db: str, workers: int, extra: list[str]) -> Server:
        port = free_port()
        server_cpus, _, _ = self.pinning(workers)
        argv = [
            self.python,
            "-m",
            "firehouse",
            "serve",
            "--port",
            str(port),
            "--database",
            f"sqlite:///{self.workdir / db}",
            "--workers",
            str(workers),
            "--log-level",
            "warning",
            *extra,
        ]
        env, cwd = {}, str(REPO)
        if self.snapshot is not None:
            env, cwd = {"PYTHONPATH": str(self.snapshot / "src")}, str(self.snapshot)
        return self._start(Server(name, argv, port, workers, server_cpus, env=env, cwd=cwd))

    def asgi(
        self, name: str, script: str, workers: int, env: dict[str, str] | None = None
    ) -> Server:
        port = free_port()
        server_cpus, _, _ = self.pinning(workers)
        argv = [self.python, str(HERE / script), "--port", str(port), "--workers", str(workers)]
        return self._start(
            Server(name, argv, port, workers, server_cpus, env=env or {}, cwd=str(HERE))
        )

    def _start(self, server: Server) -> Server:
        server.log_path = self.workdir / f"{server.name.replace(' ', '_')}-{server.port}.log"
        self.servers.append(server)
        server.start()
        return server

    def stop_all(self) -> None:
        for server in self.servers:
            server.stop()
        self.servers.clear()

    # ---- measuring

    def measure_one(
        self,
        label: str,
        server: Server,
        scenario: Scenario,
        r: int,
        threads: int,
        load_cpus: str | None,
    ) -> Measurement:
        """One measurement; repeated (at most twice) while other processes load the machine."""
        repeats = 0
        while True:
            self.check_time()
            m = run_load(
                server, scenario, self.load, label=label, round_=r, threads=threads, cpus=load_cpus
            )
            m.repeats = repeats
            quiet = m.other_cores <= self.args.max_other_load
            spare = self.repeat_budget > 0 and self.deadline - time.monotonic() > 120
            if not quiet and spare:
                self.repeat_budget -= 1
            if quiet or repeats >= 2 or not spare:
                return m
            repeats += 1
            print(
                f"  (machine busy: {m.other_cores:.2f} cores of other load during {label};"
                " repeating)",
                flush=True,
            )
            time.sleep(2.0)

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise TimeoutError(f"the run passed its deadline of {self.args.max_minutes} minutes")

    def measure(
        self,
        cases: list[tuple[str, Server, Scenario]],
        workers: int,
    ) -> None:
        """Warm every case up, then run interleaved rounds, reversing the order each round."""
        _, load_cpus, threads = self.pinning(workers)
        warm = LoadSettings(self.load.generator, self.load.connections, self.args.warmup)
        for label, server, scenario in cases:
            self.check_time()
            run_load(
                server, scenario, warm, label=label, round_=-1, threads=threads, cpus=load_cpus
            )
        for r in range(self.args.rounds):
            order = cases if r % 2 == 0 else list(reversed(cases))
            for label, server, scenario in order:
                m = self.measure_one(label, server, scenario, r, threads, load_cpus)
                self.measurements.append(m)
                print(
                    f"  round {r + 1}/{self.args.rounds} {label:44} w={workers}"
                    f" {m.rps:8.0f} req/s  p50 {m.p50_ms:6.2f} ms  p99 {m.p99_ms:6.2f} ms"
                    f"  server {m.server_cores:.2f} cores, {m.cpu_us_per_request:.0f} us/req"
                    f"  other {m.other_cores:.2f}  errors {m.errors}",
                    flush=True,
                )


def _expect(what: str, ok: bool, detail: str) -> None:
    if not ok:
        raise RuntimeError(f"sanity check failed: {what}: {detail}")


# ------------------------------------------------------------------ issue 2


def sqlite_probes(run: Run) -> dict[str, object]:
    """The disk's commit rate and the cost of SQLite's busy handler, pinned like the server."""
    server_cpus, _, _ = run.pinning(1)
    before = os.sched_getaffinity(0)
    if server_cpus is not None:
        os.sched_setaffinity(0, {int(server_cpus)})
    try:
        rates = sqlite_probe.commit_rate(run.workdir, run.args.fsync_seconds)
        lock = sqlite_probe.contention(
            run.workdir, run.args.connections, run.args.fsync_seconds * 2
        )
    finally:
        os.sched_setaffinity(0, before)
    return {"commit_rate": rates, "contention": lock}


def group_crud(run: Run) -> tuple[str, list[Target]]:
    create_body = run.workdir / "patient-create.json"
    update_body = run.workdir / "patient-update.json"
    start = len(run.measurements)
    history_rows: dict[int, tuple[int, int]] = {}
    for workers in run.args.workers:
        print(f"\n[crud] {workers} worker(s): starting Firehouse and the baseline ...", flush=True)
        # Reads and history go to a database nobody writes during the run; creates
        # and updates to a copy of it, so the read side stays the same in every round.
        fh = run.firehouse(f"firehouse-w{workers}", f"crud-w{workers}.db", workers, [])
        seeded = seed(fh.port, run.workdir, f"crud-w{workers}", **run.args.seed_sizes)
        copy_db(run.workdir / f"crud-w{workers}.db", run.workdir / f"crud-w{workers}-writes.db")
        fhw = run.firehouse(
            f"firehouse-w{workers}-writes", f"crud-w{workers}-writes.db", workers, []
        )
        base_db = run.workdir / f"baseline-w{workers}.db"
        fill(str(base_db), [("Patient", id, body) for id, body in seeded.read_bodies.items()])
        base = run.asgi(f"baseline-w{workers}", "baseline_app.py", workers, {DB_ENV: str(base_db)})
        _check_reads(fh, base, seeded)
        _check_writes(fhw, seeded, update_body)
        read = Scenario("read", seeded.read_ids)
        history = Scenario("history", seeded.history_ids)
        cases = [
            ("baseline read (bare ASGI + SQLite)", base, read),
            ("firehouse read", fh, read),
            (HISTORY, fh, history),
            ("firehouse create", fhw, Scenario("create", body_file=create_body)),
            ("firehouse update", fhw, Scenario("update", seeded.update_ids, update_body)),
        ]
        run.measure(cases, workers)
        # The same history requests on the database the writes have grown.
        _, load_cpus, threads = run.pinning(workers)
        m = run.measure_one(HISTORY_AFTER, fhw, history, 0, threads, load_cpus)
        run.measurements.append(m)
        history_rows[workers] = (
            _count_rows(run.workdir / f"crud-w{workers}.db"),
            _count_rows(run.workdir / f"crud-w{workers}-writes.db"),
        )
        print(
            f"  {HISTORY_AFTER} w={workers}: {m.rps:.0f} req/s, p50 {m.p50_ms:.2f} ms"
            f" ({history_rows[workers][1]} history rows against {history_rows[workers][0]})",
            flush=True,
        )
        run.stop_all()
    print("\n[crud] SQLite probes (commit rate, busy-handler contention) ...", flush=True)
    probes = sqlite_probes(run)
    run.args.sqlite_probes = probes
    fsync = probes["commit_rate"]
    lock = probes["contention"]
    assert isinstance(fsync, dict) and isinstance(lock, dict)
    ms = run.measurements[start:]
    summaries = summarise(ms)
    targets: list[Target] = []
    for workers in run.args.workers:
        t = ratio_target(
            ms,
            summaries,
            f"read / baseline read, {workers} worker(s)",
            "firehouse read",
            "baseline read (bare ASGI + SQLite)",
            workers,
            READ_TARGET,
        )
        if t:
            targets.append(t)
    for workers in run.args.workers:
        for op in ("create", "read", "update", HISTORY[len("firehouse ") :]):
            s = find(summaries, f"firehouse {op}", workers)
            if s:
                targets.append(
                    Target(
                        f"{op.split()[0]} req/s per core, {workers} worker(s)",
                        s.rps / workers,
                        PER_CORE_TARGET,
                        "req/s/core",
                        f"server busy {s.server_cores:.2f} cores ->"
                        f" {s.rps / max(s.server_cores, 0.01):.0f} per busy core",
                    )
                )
    print("\n" + text_table(summaries))
    print(
        "\nSQLite commits/s on this disk (1 connection, WAL):"
        f" synchronous=FULL {fsync['FULL']:.0f}/s,"
        f" NORMAL {fsync['NORMAL']:.0f}/s"
    )
    for mode, r in lock.items():
        print(
            f"{run.args.connections} writer threads, {mode}: {r['commits_per_s']:.0f} commits/s,"
            f" p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, max {r['max_ms']:.0f} ms"
        )
    print(text_targets(targets))
    block = (
        "### Issue 2: CRUD throughput, and read against the bare-ASGI baseline\n\n"
        + md_machine(run.args.info, run.args.settings_text)
        + "\n"
        + md_table(summaries, per_core=True)
        + "\nPer core = req/s divided by the worker count (one worker is pinned to one core). "
        "'server cores busy' is the server's measured CPU time per second of wall time (with 2"
        " workers, per process in brackets: one process alone means the other got no"
        " connections). "
        + _repeats_note(summaries)
        + "\n\n"
        + md_targets(targets)
        + "\n"
        + "".join(
            f"'{HISTORY_AFTER}' ({w} worker(s)): the same instance-history requests against the"
            f" write server's database, {after} `resource_history` rows instead of {before}.\n"
            for w, (before, after) in history_rows.items()
        )
        + f"\nThe disk's commit rate, one SQLite connection in WAL mode with a 1.1 KB insert per"
        f" transaction, best of 3 tries: **{fsync['FULL']:.0f} commits/s with synchronous=FULL**"
        f" (what Firehouse uses: one fsync per commit; worst try {fsync['FULL_min']:.0f}/s),"
        f" {fsync['NORMAL']:.0f}/s with synchronous=NORMAL (worst {fsync['NORMAL_min']:.0f}/s)."
        " A worst try far below the best means other I/O on the machine meanwhile.\n\n"
        f"{run.args.connections} threads of one process, each doing"
        f" ~{next(iter(lock.values()))['work_ms']:.1f} ms of Python work and then one"
        " such transaction (as the server's thread pool does under concurrent writes), pinned to"
        " the server's CPU:\n\n"
        "| writers wait for the write lock in | commits/s | p50 ms | p99 ms | max ms |\n"
        "|---|---:|---:|---:|---:|\n"
        + "".join(
            f"| {mode} | {r['commits_per_s']:.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} |"
            f" {r['max_ms']:.0f} |\n"
            for mode, r in lock.items()
        )
    )
    return block, targets


def _repeats_note(summaries: list[Summary]) -> str:
    repeats = sum(s.repeats for s in summaries)
    return (
        f"{repeats} measurement(s) were repeated because other processes used more than"
        " 0.3 cores meanwhile; the last attempt is the one shown."
        if repeats
        else "No measurement needed repeating for other load."
    )


def _check_reads(fh: Server, base: Server, seeded: Seeded) -> None:
    id, body = next(iter(seeded.read_bodies.items()))
    for server in (fh, base):
        client = Client(server.port)
        try:
            status, _, data = client.request("GET", f"/Patient/{id}")
        finally:
            client.close()
        _expect(f"{server.name} GET /Patient/{id}", status == 200 and data == body, f"{status}")


def copy_db(source: Path, target: Path) -> None:
    """An online copy of a SQLite database (the backup API; safe while a server has it open)."""
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)


def _count_rows(db: Path) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return int(conn.execute("SELECT count(*) FROM resource_history").fetchone()[0])


def _check_writes(fh: Server, seeded: Seeded, template_path: Path) -> None:
    """Every benchmarked update must make a new version; history shows the seeded versions."""
    template = template_path.read_bytes()
    id = seeded.update_ids.read_text().split()[0]
    client = Client(fh.port)
    try:
        tags = []
        for n in ("check-1", "check-2"):
            body = template.replace(b"__ID__", id.encode()).replace(b"__N__", n.encode())
            status, headers, _ = client.request(
                "PUT", f"/Patient/{id}", body, {"Content-Type": "application/fhir+json"}
            )
            _expect(f"PUT /Patient/{id}", status == 200, str(status))
            tags.append(headers.get("etag"))
        _expect("an update makes a new version", tags[0] != tags[1], str(tags))
        hid = seeded.history_ids.read_text().split()[0]
        status, _, data = client.request("GET", f"/Patient/{hid}/_history")
        entries = len(json.loads(data).get("entry", []))
        _expect(
            f"GET /Patient/{hid}/_history",
            status == 200 and entries == RUN_SEED_VERSIONS,
            f"{status}, {entries} entries, wanted {RUN_SEED_VERSIONS}",
        )
    finally:
        client.close()


# ------------------------------------------------------------------ issue 3


PREFLIGHT_HEADERS = {
    "Origin": ORIGIN,
    "Access-Control-Request-Method": "PUT",
    "Access-Control-Request-Headers": "authorization,content-type",
}
CORS_HEADER_NAMES = (
    "access-control-allow-origin",
    "access-control-allow-methods",
    "access-control-allow-headers",
    "access-control-max-age",
    "vary",
)


def _cors_headers(
    server: Server, method: str, path: str, headers: dict[str, str]
) -> tuple[int, dict[str, str]]:
    client = Client(server.port)
    try:
        status, got, _ = client.request(method, path, headers=headers)
    finally:
        client.close()
    return status, {k: v for k, v in got.items() if k.startswith("access-control-") or k == "vary"}


def group_cors(run: Run) -> tuple[str, list[Target]]:
    import fixed_204_app

    print(
        "\n[cors] starting Firehouse (CORS off and on), the fixed 204 and Starlette ...", flush=True
    )
    off = run.firehouse("firehouse-cors-off", "cors-off.db", 1, [])
    sizes = dict(run.args.seed_sizes, updates=0, histories=0)
    seeded = seed(off.port, run.workdir, "cors", **sizes)
    # The CORS policy lives in the database (flags given at start-up are stored
    # and reach every server on it), so CORS on needs a database of its own: an
    # online copy of the seeded one, so both serve the same resources.
    copy_db(run.workdir / "cors-off.db", run.workdir / "cors-on.db")
    on = run.firehouse("firehouse-cors-on", "cors-on.db", 1, CORS_FLAGS)
    # A/A control: a second, identical CORS-off server. Its ratio to the first
    # shows how far two servers that should be equal differ on this machine, i.e.
    # the resolution against which "CORS on / CORS off >= 0.97" is judged.
    copy_db(run.workdir / "cors-off.db", run.workdir / "cors-twin.db")
    twin = run.firehouse("firehouse-cors-off-twin", "cors-twin.db", 1, [])
    fixed = run.asgi("fixed-204", "fixed_204_app.py", 1)
    star = run.asgi("starlette-cors", "starlette_cors_app.py", 1)

    status, fh_pre = _cors_headers(on, "OPTIONS", "/Patient", PREFLIGHT_HEADERS)
    _expect(
        "Firehouse preflight",
        status == 204 and fh_pre.get("access-control-allow-origin") == ORIGIN,
        f"{status} {fh_pre}",
    )
    limit = {k.decode(): v.decode() for k, v in fixed_204_app.HEADERS}
    mismatch = {
        k: (fh_pre.get(k), limit.get(k)) for k in CORS_HEADER_NAMES if fh_pre.get(k) != limit.get(k)
    }
    if mismatch:
        print(
            f"  NOTE: the fixed 204 no longer sends Firehouse's preflight headers: {mismatch}",
            flush=True,
        )
    status, st_pre = _cors_headers(star, "OPTIONS", "/Patient", PREFLIGHT_HEADERS)
    _expect(
        "Starlette preflight",
        status == 200 and st_pre.get("access-control-allow-origin") == ORIGIN,
        f"{status} {st_pre}",
    )
    id = next(iter(seeded.read_bodies))
    status, got = _cors_headers(on, "GET", f"/Patient/{id}", {"Origin": ORIGIN})
    _expect(
        "Firehouse CORS-on GET",
        status == 200 and got.get("access-control-allow-origin") == ORIGIN,
        f"{status} {got}",
    )
    for server in (off, twin):
        status, got = _cors_headers(server, "GET", f"/Patient/{id}", {"Origin": ORIGIN})
        _expect(
            f"{server.name} GET",
            status == 200 and "access-control-allow-origin" not in got,
            f"{status} {got}",
        )

    preflight = Scenario("preflight", origin=ORIGIN)
    get = Scenario("read", seeded.read_ids, origin=ORIGIN)
    cases = [
        ("limit: bare ASGI fixed 204", fixed, preflight),
        ("firehouse preflight", on, preflight),
        ("Starlette CORSMiddleware preflight", star, preflight),
        ("firehouse GET with Origin, CORS off", off, get),
        ("firehouse GET with Origin, CORS on", on, get),
        (TWIN, twin, get),
    ]
    start = len(run.measurements)
    run.measure(cases, 1)
    run.stop_all()
    ms = run.measurements[start:]
    summaries = summarise(ms)
    targets = [
        t
        for t in (
            ratio_target(
                ms,
                summaries,
                "preflight: Firehouse / fixed 204 (the limit)",
                "firehouse preflight",
                "limit: bare ASGI fixed 204",
                1,
                PREFLIGHT_LIMIT_TARGET,
            ),
            ratio_target(
                ms,
                summaries,
                "preflight: Firehouse / Starlette CORSMiddleware",
                "firehouse preflight",
                "Starlette CORSMiddleware preflight",
                1,
                PREFLIGHT_STARLETTE_TARGET,
            ),
            ratio_target(
                ms,
                summaries,
                "GET /Patient/{id}: CORS on / CORS off",
                "firehouse GET with Origin, CORS on",
                "firehouse GET with Origin, CORS off",
                1,
                CORS_GET_TARGET,
            ),
        )
        if t
    ]
    control = ratio_target(
        ms, summaries, "A/A control", TWIN, "firehouse GET with Origin, CORS off", 1, 1.0
    )
    if control is not None and targets:
        last = targets[-1]
        targets[-1] = Target(
            last.what,
            last.measured,
            last.target,
            last.unit,
            f"{last.detail}; A/A control, a second identical CORS-off server / the first:"
            f" {control.measured:.2f} ({control.detail})",
        )
    print("\n" + text_table(summaries))
    print(text_targets(targets))
    headers = "; ".join(f"`{k}: {v}`" for k, v in fh_pre.items())
    block = (
        "### Issue 3: CORS preflight and actual-request overhead (1 worker each)\n\n"
        + md_machine(run.args.info, run.args.settings_text)
        + f"- **Policy:** `{' '.join(CORS_FLAGS)}`; preflight `OPTIONS /Patient` with Origin,"
        " request method PUT, request headers `authorization,content-type`\n"
        f"- **Firehouse's preflight answer:** 204; {headers}\n"
        + "\n"
        + md_table(summaries, per_core=False)
        + "\n"
        + _repeats_note(summaries)
        + "\n\n"
        + md_targets(targets)
    )
    return block, targets


# ------------------------------------------------------------------ profile


def group_profile(run: Run) -> tuple[str, list[Target]]:
    pyspy = prof.find_pyspy(install=not run.args.no_install)
    if pyspy is None:
        msg = "py-spy is not available; the profile group was skipped."
        print(f"\n[profile] {msg}")
        return f"### Profile\n\n{msg}\n", []
    create_body = run.workdir / "patient-create.json"
    print("\n[profile] starting Firehouse (1 worker, CORS on) ...", flush=True)
    fh = run.firehouse("firehouse-profile", "profile.db", 1, CORS_FLAGS)
    sizes = dict(run.args.seed_sizes, updates=0, histories=0)
    seeded = seed(fh.port, run.workdir, "profile", **sizes)
    _, load_cpus, threads = run.pinning(1)
    seconds = run.args.profile_seconds
    rate = 250
    sections = []
    results: dict[str, dict[str, object]] = {}
    for name, scenario, idle in (
        ("read: GET /Patient/{id} (no Origin)", Scenario("read", seeded.read_ids), False),
        ("preflight: OPTIONS /Patient", Scenario("preflight", origin=ORIGIN), False),
        ("create: POST /Patient", Scenario("create", body_file=create_body), True),
    ):
        run.check_time()
        out = run.workdir / f"profile-{name.split(':')[0]}.txt"
        settings = LoadSettings(run.load.generator, run.load.connections, seconds + 2)
        with ThreadPoolExecutor(max_workers=1) as pool:
            loading = pool.submit(
                run_load,
                fh,
                scenario,
                settings,
                label=name,
                round_=0,
                threads=threads,
                cpus=load_cpus,
            )
            time.sleep(1.0)  # sample the steady state, not the connection set-up
            prof.record(pyspy, fh.pid, seconds, out, load_cpus, rate=rate, idle=idle)
            m = loading.result()
        summary = prof.summarise(out, seconds, rate)
        if idle:
            summary.update(prof.summarise_writes(out))
        summary["rps_under_profiler"] = round(m.rps)
        results[name] = summary
        keep = run.args.results_dir / f"{run.args.stamp}-profile-{name.split(':')[0]}.txt"
        shutil.copy(out, keep)
        sections.append(_profile_md(name, summary))
        _print_profile(name, summary)
    run.stop_all()
    run.args.profile_results = results
    block = (
        "### Profile: where the time goes (py-spy, 1 worker, CORS on, wrk load)\n\n"
        + md_machine(run.args.info, run.args.settings_text)
        + f"- **Sampling:** py-spy {rate} Hz for {seconds:.0f} s, non-blocking, function-level;"
        " py-spy counts a thread while it is runnable (state R), so percentages are shares of"
        " runnable-thread samples: for the single-threaded read and preflight paths that is the"
        " server's CPU time. Create is sampled with idle threads included (`--idle`), and its"
        " table gives shares of the wall time of threads inside `ResourceService.create`. Time"
        " in SQLite's C code shows as SQLAlchemy's `do_execute` / `do_commit` / fetch"
        " frames.\n\n" + "\n".join(sections)
    )
    return block, []


def _profile_md(name: str, s: dict[str, object]) -> str:
    if "write_milestones" in s:
        writes = s["write_milestones"]
        top = s["self_top"]
        assert isinstance(writes, list) and isinstance(top, list)
        return (
            "\n".join(
                [
                    f"#### {name}\n",
                    f"{s['samples_in_create']} samples of threads inside `ResourceService.create`"
                    f" (idle included); {s['rps_under_profiler']} req/s while sampled.\n",
                    "| share of a create's time in the service spent in | % |",
                    "|---|---:|",
                    *[f"| {n} | {p} |" for n, p in writes],
                    "",
                ]
            )
            + "\n"
        )
    layers = s["layers"]
    top = s["self_top"]
    miles = s["milestones"]
    assert isinstance(layers, list) and isinstance(top, list) and isinstance(miles, list)
    lines = [
        f"#### {name}\n",
        f"{s['samples']} samples; server busy {s['busy_cores']} cores; "
        f"{s['rps_under_profiler']} req/s while sampled.\n",
        "| self time by layer | % |",
        "|---|---:|",
        *[f"| {n} | {p} |" for n, p in layers if p >= 0.5],
        "",
        "| inclusive time of read-path milestones | % |",
        "|---|---:|",
        *[f"| {n} | {p} |" for n, p in miles if p > 0],
        "",
        "| top self-time functions | % |",
        "|---|---:|",
        *[f"| `{n}` | {p} |" for n, p in top[:12]],
        "",
    ]
    return "\n".join(lines) + "\n"


def _print_profile(name: str, s: dict[str, object]) -> None:
    print(
        f"\n  profile {name}: {s['samples']} samples, busy {s['busy_cores']} cores, "
        f"{s['rps_under_profiler']} req/s"
    )
    keys = [("self by layer", "layers"), ("milestones (inclusive)", "milestones")]
    if "write_milestones" in s:
        keys = [("inside ResourceService.create (wall time)", "write_milestones")]
    for title, key in [*keys, ("top self", "self_top")]:
        print(f"    {title}:")
        rows = s[key]
        assert isinstance(rows, list)
        for n, p in rows[:14]:
            if p > 0:
                print(f"      {p:5.1f}%  {n}")


# ------------------------------------------------------------------ main

GROUPS: dict[str, Callable[[Run], tuple[str, list[Target]]]] = {
    "crud": group_crud,
    "cors": group_cors,
    "profile": group_profile,
}


def snapshot(ref: str, workdir: Path) -> tuple[Path, str]:
    """Extract ``src/`` of ``ref`` (git archive: read-only) so edits in the work tree
    made during the run cannot change what is measured. Returns (dir, short commit)."""
    commit = subprocess.run(
        ["git", "rev-parse", "--short", f"{ref}^{{commit}}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout.strip()
    tar = subprocess.run(
        ["git", "archive", "--format=tar", commit, "src"],
        cwd=REPO,
        capture_output=True,
        check=True,
        timeout=120,
    ).stdout
    target = workdir / "snapshot"
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        archive.extractall(target, filter="data")
    return target, commit


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--quick", action="store_true", help="short smoke run; does not write BENCHMARKS.md"
    )
    p.add_argument(
        "--only", default=",".join(GROUPS), help="groups, comma separated: crud,cors,profile"
    )
    p.add_argument(
        "--duration", type=float, default=None, help="seconds per measurement (default 5)"
    )
    p.add_argument("--rounds", type=int, default=None, help="interleaved rounds (default 3)")
    p.add_argument(
        "--warmup", type=float, default=None, help="warm-up seconds per case (default 2)"
    )
    p.add_argument(
        "--connections", type=int, default=16, help="keep-alive connections (default 16)"
    )
    p.add_argument(
        "--workers", default="1,2", help="worker counts for the crud group (default 1,2)"
    )
    p.add_argument("--generator", choices=("auto", "wrk", "python"), default="auto")
    p.add_argument(
        "--no-pin", action="store_true", help="do not pin server and generator with taskset"
    )
    p.add_argument(
        "--no-install", action="store_true", help="never apt-get wrk or pip-install py-spy"
    )
    p.add_argument("--write", action="store_true", help="write BENCHMARKS.md even with --quick")
    p.add_argument("--no-write", action="store_true", help="print only, leave BENCHMARKS.md alone")
    p.add_argument(
        "--max-minutes", type=float, default=12.0, help="hard deadline for the whole run"
    )
    p.add_argument(
        "--max-other-load",
        type=float,
        default=0.3,
        help="repeat a measurement (at most twice) when other processes used more cores than this",
    )
    p.add_argument(
        "--max-repeats",
        type=int,
        default=10,
        help="repeats of noisy measurements allowed per group (default 10; bounds the run time)",
    )
    p.add_argument(
        "--ref",
        default="HEAD",
        help="git ref whose src/ is benchmarked (default HEAD); 'worktree' = the files as they are",
    )
    p.add_argument(
        "--python", default=None, help="interpreter that runs the servers (default: this one)"
    )
    p.add_argument(
        "--keep", action="store_true", help="keep the temporary directory (databases, logs)"
    )
    args = p.parse_args(argv)
    args.groups = [g.strip() for g in args.only.split(",") if g.strip()]
    unknown = set(args.groups) - set(GROUPS)
    if unknown:
        p.error(f"unknown group(s): {', '.join(sorted(unknown))}; choose from {', '.join(GROUPS)}")
    args.workers = [int(w) for w in args.workers.split(",")]
    args.duration = args.duration or (1.0 if args.quick else 5.0)
    args.rounds = args.rounds or (1 if args.quick else 3)
    args.warmup = args.warmup or (1.0 if args.quick else 2.0)
    args.profile_seconds = 2.0 if args.quick else 6.0
    args.fsync_seconds = 0.5 if args.quick else 2.0
    args.seed_sizes = (
        {"reads": 50, "updates": 30, "histories": 10, "versions": RUN_SEED_VERSIONS}
        if args.quick
        else {"reads": 200, "updates": 100, "histories": 50, "versions": RUN_SEED_VERSIONS}
    )
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    python = args.python or sys.executable
    generator = args.generator
    if generator in ("auto", "wrk"):
        found = ensure_wrk(install=not args.no_install)
        if found is None and generator == "wrk":
            print("wrk is not available", file=sys.stderr)
            return 2
        generator = "wrk" if found else "python"
    load = LoadSettings(generator, args.connections, args.duration)
    workdir = Path(tempfile.mkdtemp(prefix="firehouse-bench-"))
    src_dir: Path | None = None
    args.info = machine_info(REPO, python)
    if args.ref != "worktree":
        try:
            src_dir, commit = snapshot(args.ref, workdir)
        except (subprocess.SubprocessError, OSError, tarfile.TarError) as exc:
            print(f"cannot take src/ of {args.ref}: {exc}", file=sys.stderr)
            return 2
        args.info["commit"] = f"{commit} (src/ of {args.ref}, extracted with git archive)"
    args.settings_text = (
        f"`benchmarks/run.py{' --quick' if args.quick else ''}`; {generator}, {args.connections}"
        f" connections, {args.rounds} interleaved round(s) of {args.duration:g} s after"
        f" {args.warmup:g} s warm-up per case; 1 worker: server on CPU 0, generator on CPU 1;"
        " 2 workers: both unpinned"
    )
    args.stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    args.results_dir = HERE / "results"
    args.results_dir.mkdir(exist_ok=True)
    print(
        "Firehouse benchmarks: " + ", ".join(f"{k} {v}" for k, v in args.info.items()), flush=True
    )
    print(f"Settings: {args.settings_text}", flush=True)

    write_bodies(workdir)
    run = Run(
        args,
        workdir,
        python,
        load,
        time.monotonic() + args.max_minutes * 60,
        sorted(os.sched_getaffinity(0)),
        snapshot=src_dir,
    )
    blocks: dict[str, str] = {}
    all_targets: list[Target] = []
    failed = False
    try:
        for group in args.groups:
            run.repeat_budget = args.max_repeats
            block, targets = GROUPS[group](run)
            blocks[group] = block
            all_targets.extend(targets)
    except (RuntimeError, TimeoutError, OSError) as exc:
        failed = True
        print(f"\nbenchmark run failed: {exc}\n(logs in {workdir})", file=sys.stderr)
        args.keep = True
    finally:
        run.stop_all()
    raw = {
        "machine": args.info,
        "settings": args.settings_text,
        "measurements": [m.to_json() for m in run.measurements],
        "targets": [t.__dict__ | {"met": t.met} for t in all_targets],
        "profile": getattr(args, "profile_results", None),
        "sqlite_probes": getattr(args, "sqlite_probes", None),
    }
    raw_path = args.results_dir / f"{args.stamp}.json"
    raw_path.write_text(json.dumps(raw, indent=1, default=str))
    if all_targets:
        print("\nTargets:\n" + "\n".join(target_line(t) for t in all_targets))
    print(f"\nRaw results: {raw_path}")
    write = blocks and not args.no_write and (not args.quick or args.write)
    if write:
        update_markdown(MD_PATH, blocks, MD_HEADER)
        print(f"Updated the results section of {MD_PATH}")
    elif blocks:
        print("BENCHMARKS.md left unchanged (--quick or --no-write).")
    if args.keep:
        print(f"Kept {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
