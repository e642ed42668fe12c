"""The ``firehouse import`` command's console side: progress, problems, summary, exit status."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import click

from firehouse.fhir.transaction import NO_HOOKS, Hooks
from firehouse.importing.loader import DEFAULT_BATCH_SIZE, Importer, find_files
from firehouse.storage.base import Storage


class Progress:
    """Bytes read so far, to stderr: a bar on a terminal, a line per file otherwise.

    click's bar prints only its label when stderr is not a terminal, which says
    nothing in a CI log, hence the plain lines when ``--progress`` asks for it there.
    """

    def __init__(self, total_bytes: int, total_files: int, *, enabled: bool | None) -> None:
        self._tty = sys.stderr.isatty()
        self.enabled = self._tty if enabled is None else enabled
        self._total_files = total_files
        self._files = 0
        self._stack = ExitStack()
        self._bar: Any = None
        if self.enabled and self._tty:
            bar = click.progressbar(length=max(total_bytes, 1), label="Importing", file=sys.stderr)
            self._bar = self._stack.enter_context(bar)
        self._total = max(total_bytes, 1)
        self._step = max(total_bytes // 200, 1)
        self._done = 0
        self._unshown = 0

    def advance(self, n_bytes: int) -> None:
        self._done += n_bytes
        self._unshown += n_bytes
        # Redrawing per NDJSON line would cost more than parsing it; 0.5% steps suffice.
        if self._bar is not None and self._unshown >= self._step:
            self._bar.update(self._unshown)
            self._unshown = 0

    def file_done(self) -> None:
        self._files += 1
        if self._bar is not None and self._unshown:
            self._bar.update(self._unshown)
            self._unshown = 0
        if self.enabled and self._bar is None:
            percent = 100 * self._done // self._total
            click.echo(f"Importing: {self._files}/{self._total_files} files, {percent}%", err=True)

    def echo(self, message: str) -> None:
        # Start from a clean line so a message never lands in the middle of the bar.
        prefix = "\r\x1b[K" if self._bar is not None else ""
        click.echo(prefix + message, err=True)

    def close(self) -> None:
        self._stack.close()
        self._bar = None


def run_import(
    storage: Storage,
    paths: Iterable[Path],
    *,
    progress: bool | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    hooks: Hooks = NO_HOOKS,
) -> int:
    """``firehouse import``: problems to stderr, summary to stdout; the exit status.

    0 when everything loaded, 1 when anything failed (the rest still loaded).
    """
    paths = list(paths)
    files, skipped = find_files(paths)
    explicit = set(paths)
    for path in skipped:
        if path in explicit:
            click.echo(f"{path}: skipped, not a .json, .ndjson or .jsonl file", err=True)
    display = Progress(sum(p.stat().st_size for p in files), len(files), enabled=progress)
    importer = Importer(
        storage,
        batch_size=batch_size,
        on_problem=lambda problem: display.echo(str(problem)),
        on_progress=display.advance,
        hooks=hooks,
    )
    importer.stats.skipped_files = len(skipped)
    status = 0
    try:
        importer.run(files, on_file_done=display.file_done)
    except KeyboardInterrupt:
        display.echo("Import interrupted: what was committed stays, the rest was not read")
        status = 130
    except Exception as exc:  # the database itself failing: stop, but still say what was done
        display.echo(f"Import stopped: {type(exc).__name__}: {exc}")
        status = 1
    finally:
        display.close()
    click.echo(importer.stats.summary())
    return status or (1 if importer.stats.failures else 0)
