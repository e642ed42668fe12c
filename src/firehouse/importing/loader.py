"""``firehouse import``: FHIR JSON, Bundles and NDJSON files loaded into storage.

- A ``.json`` file holds one resource or a Bundle. ``transaction`` and
  ``batch`` Bundles run exactly as ``POST /`` runs them, through
  :mod:`firehouse.fhir.transaction` (a transaction is one database
  transaction, all or nothing: https://hl7.org/fhir/R4/http.html#transaction).
  The entries of any other Bundle (collection, searchset...) take the fast
  path below; their ``urn:uuid:``/``urn:oid:`` fullUrls get server ids and
  references to them are rewritten (https://hl7.org/fhir/R4/bundle.html#references).
- A ``.ndjson``/``.jsonl`` file holds one resource per line, as FHIR Bulk Data
  writes them (https://hl7.org/fhir/uv/bulkdata/).
- A resource with an id is an update-as-create, so importing the same files
  again adds versions instead of duplicates; one without an id is a create.

Every resource goes through the same validation as a REST write
(:func:`firehouse.fhir.service.check_resource`). A bad record is reported with
its file and line (or Bundle entry) and the rest still load.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from json import JSONDecodeError  # the type loads() reports, not a parser
from pathlib import Path
from typing import Any

from firehouse.errors import FhirError
from firehouse.fhir import json as fhir_json
from firehouse.fhir.references import (
    REQUEST_TYPES,
    EntryPlan,
    EntryProblem,
    bundle_type,
    entries,
    plan_bundle,
)
from firehouse.fhir.resource import new_id
from firehouse.fhir.service import check_resource, update_in
from firehouse.fhir.transaction import (
    NO_HOOKS,
    BundleRejected,
    EntryResult,
    Hooks,
    run_batch,
    run_transaction,
)
from firehouse.fhir.transaction.entries import entry_type
from firehouse.storage.base import Storage, Transaction, VersionConflict

SUFFIXES = frozenset({".json", ".ndjson", ".jsonl"})
NDJSON_SUFFIXES = frozenset({".ndjson", ".jsonl"})
DEFAULT_BATCH_SIZE = 500
_MAX_ISSUES = 5  # a resource with hundreds of issues should not flood the report
_BOM = b"\xef\xbb\xbf"


@dataclass
class ImportStats:
    """What an import did; ``failures`` counts the records reported as problems."""

    files: int = 0
    skipped_files: int = 0
    bundles: int = 0
    created: int = 0
    updated: int = 0
    deleted: int = 0
    failures: int = 0
    elapsed: float = 0.0

    @property
    def resources(self) -> int:
        return self.created + self.updated

    @property
    def rate(self) -> float:
        """Resources written per second."""
        return self.resources / self.elapsed if self.elapsed > 0 else 0.0

    def summary(self) -> str:
        return (
            f"files read: {self.files}, skipped: {self.skipped_files}, bundles: {self.bundles}\n"
            f"resources created: {self.created}, updated: {self.updated}"
            + (f", deleted: {self.deleted}" if self.deleted else "")
            + f"\nfailures: {self.failures}\n"
            f"elapsed: {self.elapsed:.2f} s ({self.rate:.0f} resources/s)"
        )


@dataclass(frozen=True, slots=True)
class Problem:
    """A record that was not stored, or a note about one (``failure=False``)."""

    where: str  # "data/p1.json entry 3 (Observation)", "data/obs.ndjson line 7"
    message: str
    failure: bool = True

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass(frozen=True, slots=True)
class _Write:
    where: str
    action: str  # "create" or "update"
    resource_type: str
    id: str
    resource: dict[str, Any] | None


def describe(error: FhirError) -> str:
    """Every issue of an error on one line."""
    issues = [issue.diagnostics for issue in error.issues[:_MAX_ISSUES]]
    more = len(error.issues) - _MAX_ISSUES
    return "; ".join(issues) + (f"; and {more} more" if more > 0 else "")


def _json_problem(error: FhirError, where: str, *, ndjson: bool) -> Problem:
    """Where the parser stopped, in file terms (an NDJSON line is line 1 of its text)."""
    cause = error.__cause__
    if isinstance(cause, JSONDecodeError):
        line = "" if ndjson else f" line {cause.lineno}"
        return Problem(f"{where}{line} column {cause.colno}", f"invalid JSON: {cause.msg}")
    if isinstance(cause, UnicodeDecodeError):
        return Problem(where, f"not UTF-8 ({cause.reason} at byte {cause.start})")
    if isinstance(cause, RecursionError):
        return Problem(where, "invalid JSON: nested too deeply")
    if isinstance(cause, ValueError):  # duplicate keys, NaN, trailing data
        return Problem(where, f"invalid JSON: {cause}")
    return Problem(where, describe(error))


def find_files(paths: Iterable[Path]) -> tuple[list[Path], list[Path]]:
    """(files to read, files skipped): folders walked recursively, in sorted order."""
    found: list[Path] = []
    skipped: list[Path] = []
    seen: set[Path] = set()
    for path in paths:
        candidates = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for candidate in candidates:
            key = candidate.resolve()
            if key in seen:
                continue
            seen.add(key)
            (found if candidate.suffix.lower() in SUFFIXES else skipped).append(candidate)
    return found, skipped


class Importer:
    """Loads files into ``storage``; reports problems and progress through callbacks.

    Independent writes (NDJSON lines, single-resource files, batch and
    collection entries) are committed ``batch_size`` at a time, because one
    durable commit per resource would make the disk, not the work, the limit.
    Each is validated before it joins a batch, and if a batch still fails to
    write, its writes are retried one by one so only the bad one is lost.
    """

    def __init__(
        self,
        storage: Storage,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        on_problem: Callable[[Problem], None] | None = None,
        on_progress: Callable[[int], None] | None = None,
        hooks: Hooks = NO_HOOKS,
    ) -> None:
        self.storage = storage
        self.hooks = hooks  # conditional entries and search entries of Bundles
        self.batch_size = max(1, batch_size)
        self.problems: list[Problem] = []
        self._on_problem = on_problem or self.problems.append
        self._on_progress = on_progress or (lambda _n: None)
        self.stats = ImportStats()
        self._pending: list[_Write] = []

    # -- driving -------------------------------------------------------------------

    def run(
        self, files: Iterable[Path], *, on_file_done: Callable[[], None] | None = None
    ) -> ImportStats:
        """Import every file in order; returns the totals (also when a write raises)."""
        started = time.perf_counter()
        try:
            for path in files:
                self.import_file(path)
                if on_file_done is not None:
                    on_file_done()
            self.flush()
        finally:
            self.stats.elapsed += time.perf_counter() - started
        return self.stats

    def import_file(self, path: Path) -> None:
        self.stats.files += 1
        if path.suffix.lower() in NDJSON_SUFFIXES:
            self._import_ndjson(path)
        else:
            self._import_json(path)

    def flush(self) -> None:
        """Write what is waiting for a batch to fill."""
        pending, self._pending = self._pending, []
        if pending:
            self._write_independent(pending)

    # -- reading -------------------------------------------------------------------

    def _report(self, problem: Problem) -> None:
        if problem.failure:
            self.stats.failures += 1
        self._on_problem(problem)

    def _import_ndjson(self, path: Path) -> None:
        with path.open("rb") as handle:
            for number, raw in enumerate(handle, start=1):
                self._on_progress(len(raw))
                line = raw.removeprefix(_BOM) if number == 1 else raw
                if not line.strip():
                    continue
                where = f"{path} line {number}"
                try:
                    # Trailing newline off, so a parser position stays on this line.
                    resource = fhir_json.loads(line.rstrip())
                except FhirError as exc:
                    self._report(_json_problem(exc, where, ndjson=True))
                    continue
                self._queue_resource(resource, where)

    def _import_json(self, path: Path) -> None:
        data = path.read_bytes()
        self._on_progress(len(data))
        try:
            document = fhir_json.loads(data.removeprefix(_BOM))
        except FhirError as exc:
            self._report(_json_problem(exc, str(path), ndjson=False))
            return
        if isinstance(document, dict) and document.get("resourceType") == "Bundle":
            self.stats.bundles += 1
            self._import_bundle(path, document)
        else:
            self._queue_resource(document, str(path))

    # -- planning and validating ---------------------------------------------------

    def _queue_resource(self, resource: Any, where: str) -> None:
        kind = resource.get("resourceType") if isinstance(resource, dict) else None
        if not isinstance(kind, str):
            self._report(Problem(where, "not a FHIR resource (no resourceType)"))
            return
        where = f"{where} ({kind})"
        given = resource.get("id")
        if isinstance(given, str):
            write = _Write(where, "update", kind, given, resource)
        else:
            write = _Write(where, "create", kind, new_id(), resource)
        if self._check(write):
            self._queue(write)

    def _check(self, write: _Write) -> bool:
        url_id = write.id if write.action == "update" else None
        try:
            check_resource(write.resource, write.resource_type, url_id=url_id)
        except FhirError as exc:
            self._report(Problem(write.where, describe(exc)))
            return False
        return True

    def _queue(self, write: _Write) -> None:
        self._pending.append(write)
        if len(self._pending) >= self.batch_size:
            self.flush()

    def _import_bundle(self, path: Path, bundle: dict[str, Any]) -> None:
        if bundle_type(bundle) in REQUEST_TYPES:
            # Keep file order: what was queued before this Bundle is written first.
            self.flush()
            self._run_requests(path, bundle)
            return
        for planned in plan_bundle(bundle):
            where = f"{path} entry {planned.index} ({planned.resource_type or 'no resource'})"
            if isinstance(planned, EntryProblem):
                self._report(Problem(where, describe(planned.error)))
                continue
            write = _entry_write(planned, where)
            if self._check(write):
                self._queue(write)

    def _run_requests(self, path: Path, bundle: dict[str, Any]) -> None:
        """A batch or transaction, run by the same code as ``POST /``."""
        raw = entries(bundle)
        try:
            if bundle_type(bundle) == "transaction":
                results = run_transaction(self.storage, raw, self.hooks)
            else:
                results = run_batch(self.storage, raw, self.hooks)
        except BundleRejected as rejected:
            for failure in rejected.failures:
                where = f"{path} entry {failure.index} ({failure.resource_type or 'no resource'})"
                self._report(Problem(where, describe(failure.error)))
            failed = len(rejected.failures)
            self._report(
                Problem(
                    str(path),
                    f"transaction rejected: {failed} of its {len(raw)} entries failed, none stored",
                    failure=False,
                )
            )
            return
        for result in results:
            self._count_result(path, raw, result)

    def _count_result(self, path: Path, raw: list[Any], result: EntryResult) -> None:
        if result.error is not None:
            kind = entry_type(raw[result.index])
            where = f"{path} entry {result.index} ({kind or 'no resource'})"
            self._report(Problem(where, describe(result.error)))
        elif result.outcome in ("created", "updated"):
            self._count([result.outcome])
        elif result.outcome == "deleted" and result.stored is not None:
            self._count(["deleted"])

    # -- writing -------------------------------------------------------------------

    def _apply(self, tx: Transaction, write: _Write) -> str:
        """Does one write; returns the stats field it counts towards."""
        assert write.resource is not None
        # A create is an update of the id planned for it, so references rewritten
        # to that id before the write are right after it.
        _, created = update_in(tx, write.resource_type, write.id, write.resource)
        return "created" if created else "updated"

    def _count(self, outcomes: Iterable[str | None]) -> None:
        for outcome in outcomes:
            if outcome is not None:
                setattr(self.stats, outcome, getattr(self.stats, outcome) + 1)

    def _write_independent(self, writes: list[_Write]) -> None:
        for start in range(0, len(writes), self.batch_size):
            chunk = writes[start : start + self.batch_size]
            try:
                with self.storage.transaction() as tx:
                    outcomes = [self._apply(tx, write) for write in chunk]
            except (FhirError, VersionConflict) as exc:
                if len(chunk) == 1:
                    self._report(Problem(chunk[0].where, _write_error(exc)))
                else:
                    # Rolled back whole: find the culprit by writing one at a time.
                    for write in chunk:
                        self._write_independent([write])
                continue
            self._count(outcomes)


def _entry_write(planned: EntryPlan, where: str) -> _Write:
    return _Write(where, planned.action, planned.resource_type, planned.id, planned.resource)


def _write_error(exc: Exception) -> str:
    return describe(exc) if isinstance(exc, FhirError) else str(exc)
