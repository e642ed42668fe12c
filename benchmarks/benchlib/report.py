"""Medians, ratios, the printed table and the results section of BENCHMARKS.md."""

from __future__ import annotations

import contextlib
import os
import platform
import re
import statistics
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from benchlib.load import Measurement

BEGIN = "<!-- results:begin (written by benchmarks/run.py; edit above this line) -->"
END = "<!-- results:end -->"
GROUP_ORDER = ("crud", "cors", "profile")
_GROUP_RE = re.compile(r"<!-- group:(\w+) -->\n(.*?)<!-- /group:\1 -->\n", re.S)


def machine_info(repo: Path, python: str) -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        py = subprocess.run(
            [python, "-c", "import sys; print(sys.version.split()[0])"],
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        py = platform.python_version()

    def git(*args: str) -> str:
        try:
            return subprocess.run(
                ["git", *args], cwd=repo, capture_output=True, text=True, timeout=30
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    dirty = git("status", "--porcelain", "--", "src")
    versions = []
    for dist in ("uvicorn", "h11", "starlette", "SQLAlchemy", "orjson"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions.append(f"{dist} {metadata.version(dist)}")
    wrk = ""
    try:
        wrk = subprocess.run(
            ["wrk", "--version"], capture_output=True, text=True, timeout=10
        ).stdout
        wrk = wrk.splitlines()[0].split("Copyright")[0].strip() if wrk else ""
    except (OSError, subprocess.SubprocessError, IndexError):
        pass
    load1, load5, _ = os.getloadavg()
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu,
        "cores": f"{os.cpu_count()} ({len(os.sched_getaffinity(0))} usable)",
        "python": py,
        "kernel": platform.release(),
        "commit": git("rev-parse", "--short", "HEAD")
        + (" + uncommitted changes in src/" if dirty else ""),
        "packages": ", ".join(versions),
        "wrk": wrk,
        "loadavg": f"{load1:.2f} / {load5:.2f} (1 / 5 min, at start)",
    }


@dataclass(frozen=True)
class Summary:
    label: str
    workers: int
    rounds: int
    rps: float
    rps_min: float
    rps_max: float
    p50_ms: float
    p99_ms: float
    server_cores: float
    process_cores: tuple[float, ...]  # median per process, busiest first
    cpu_us: float  # server CPU microseconds per request (median)
    other_cores: float
    iowait_cores: float
    errors: int
    repeats: int  # measurements repeated because the machine was busy


def summarise(measurements: Iterable[Measurement]) -> list[Summary]:
    by: dict[tuple[str, int], list[Measurement]] = {}
    for m in measurements:
        by.setdefault((m.label, m.workers), []).append(m)
    out = []
    for (label, workers), ms in by.items():
        med = statistics.median
        out.append(
            Summary(
                label=label,
                workers=workers,
                rounds=len(ms),
                rps=med(m.rps for m in ms),
                rps_min=min(m.rps for m in ms),
                rps_max=max(m.rps for m in ms),
                p50_ms=med(m.p50_ms for m in ms),
                p99_ms=med(m.p99_ms for m in ms),
                server_cores=med(m.server_cores for m in ms),
                process_cores=_median_split([m.process_cores for m in ms]),
                cpu_us=med(m.cpu_us_per_request for m in ms),
                other_cores=med(m.other_cores for m in ms),
                iowait_cores=med(m.iowait_cores for m in ms),
                errors=sum(m.errors for m in ms),
                repeats=sum(m.repeats for m in ms),
            )
        )
    return out


def _median_split(splits: list[list[float]]) -> tuple[float, ...]:
    width = max((len(s) for s in splits), default=0)
    return tuple(
        statistics.median(s[i] if i < len(s) else 0.0 for s in splits) for i in range(width)
    )


def find(summaries: Sequence[Summary], label: str, workers: int) -> Summary | None:
    return next((s for s in summaries if s.label == label and s.workers == workers), None)


def paired_ratios(
    measurements: Sequence[Measurement], subject: str, base: str, workers: int
) -> list[float]:
    """subject/base per round (the two were measured back to back in each round)."""
    subj = {m.round: m.rps for m in measurements if m.label == subject and m.workers == workers}
    ref = {m.round: m.rps for m in measurements if m.label == base and m.workers == workers}
    return [subj[r] / ref[r] for r in sorted(subj) if r in ref and ref[r] > 0]


@dataclass(frozen=True)
class Target:
    what: str
    measured: float
    target: float
    unit: str = "ratio"  # "ratio" or "req/s/core"
    detail: str = ""

    @property
    def met(self) -> bool:
        return self.measured >= self.target

    def measured_text(self) -> str:
        return f"{self.measured:.2f}" if self.unit == "ratio" else f"{self.measured:.0f}"

    def target_text(self) -> str:
        return f">= {self.target:.2f}" if self.unit == "ratio" else f">= {self.target:.0f}"


def ratio_target(
    measurements: Sequence[Measurement],
    summaries: Sequence[Summary],
    what: str,
    subject: str,
    base: str,
    workers: int,
    target: float,
) -> Target | None:
    s, b = find(summaries, subject, workers), find(summaries, base, workers)
    if s is None or b is None or b.rps == 0:
        return None
    pairs = paired_ratios(measurements, subject, base, workers)
    detail = "per round: " + ", ".join(f"{p:.2f}" for p in pairs) if pairs else ""
    if s.cpu_us > 0:
        detail += (
            f"; server CPU per request {s.cpu_us:.0f} vs {b.cpu_us:.0f} us"
            f" -> CPU-normalised ratio {b.cpu_us / s.cpu_us:.2f}"
        )
    return Target(what, s.rps / b.rps, target, "ratio", detail)


# ---------------------------------------------------------------- text output


def text_table(summaries: Sequence[Summary]) -> str:
    head = (
        f"{'scenario':44} {'w':>2} {'req/s':>8} {'min-max':>15} {'p50 ms':>7} {'p99 ms':>7}"
        f" {'srv cores':>9} {'us/req':>7} {'other':>6} {'errors':>6}"
    )
    lines = [head, "-" * len(head)]
    for s in summaries:
        lines.append(
            f"{s.label:44} {s.workers:>2} {s.rps:>8.0f} {s.rps_min:>7.0f}-{s.rps_max:<7.0f}"
            f" {s.p50_ms:>7.2f} {s.p99_ms:>7.2f} {s.server_cores:>9.2f} {s.cpu_us:>7.0f}"
            f" {s.other_cores:>6.2f}"
            f" {s.errors:>6}"
        )
    return "\n".join(lines)


def target_line(t: Target) -> str:
    verdict = "met   " if t.met else "MISSED"
    return f"  {verdict} {t.what}: {t.measured_text()} (target {t.target_text()})"


def text_targets(targets: Sequence[Target]) -> str:
    return "\n".join(target_line(t) + (f"  [{t.detail}]" if t.detail else "") for t in targets)


# ------------------------------------------------------------ markdown output


def md_machine(info: dict[str, str], settings: str) -> str:
    return (
        f"- **Date:** {info['date']}; **commit:** {info['commit']}\n"
        f"- **Machine:** {info['cpu']}, {info['cores']} cores; Linux {info['kernel']};"
        f" Python {info['python']}; load average {info['loadavg']}\n"
        f"- **Stack:** {info['packages']}; load generator {info['wrk'] or 'see settings'}\n"
        f"- **Settings:** {settings}\n"
    )


def md_table(summaries: Sequence[Summary], per_core: bool) -> str:
    head = (
        "| scenario | workers | req/s (median) | min - max | p50 ms | p99 ms | server cores busy"
        " | server CPU us/req | other load (cores) |"
    )
    sep = "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    if per_core:
        head += " req/s per core |"
        sep += "---:|"
    head += " errors |"
    sep += "---:|"
    rows = [head, sep]
    for s in summaries:
        row = (
            f"| {s.label} | {s.workers} | **{s.rps:.0f}** | {s.rps_min:.0f} - {s.rps_max:.0f} |"
            f" {s.p50_ms:.2f} | {s.p99_ms:.2f} | {_cores(s)} | {s.cpu_us:.0f} |"
            f" {s.other_cores:.2f} |"
        )
        if per_core:
            row += f" {s.rps / s.workers:.0f} |"
        row += f" {s.errors} |"
        rows.append(row)
    return "\n".join(rows) + "\n"


def _cores(s: Summary) -> str:
    text = f"{s.server_cores:.2f}"
    if len(s.process_cores) > 1:
        text += " (" + " + ".join(f"{c:.2f}" for c in s.process_cores) + ")"
    return text


def md_targets(targets: Sequence[Target]) -> str:
    rows = ["| target | measured | wanted | verdict | detail |", "|---|---:|---:|---|---|"]
    for t in targets:
        rows.append(
            f"| {t.what} | **{t.measured_text()}** | {t.target_text()} |"
            f" {'met' if t.met else '**missed**'} | {t.detail} |"
        )
    return "\n".join(rows) + "\n"


def update_markdown(path: Path, blocks: dict[str, str], header: str) -> None:
    """Replace the given groups' blocks in the results section; keep the rest of the file."""
    text = path.read_text(encoding="utf-8") if path.exists() else header
    if BEGIN not in text or END not in text:
        text = text.rstrip("\n") + f"\n\n{BEGIN}\n{END}\n"
    before, rest = text.split(BEGIN, 1)
    section, after = rest.split(END, 1)
    existing = {m.group(1): m.group(2) for m in _GROUP_RE.finditer(section)}
    existing.update(blocks)
    order = [g for g in GROUP_ORDER if g in existing] + sorted(set(existing) - set(GROUP_ORDER))
    body = "".join(f"<!-- group:{g} -->\n{existing[g]}<!-- /group:{g} -->\n" for g in order)
    path.write_text(f"{before}{BEGIN}\n\n{body}\n{END}{after}", encoding="utf-8")
