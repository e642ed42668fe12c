"""Running batch and transaction Bundles: https://hl7.org/fhir/R4/http.html#transaction.

A ``transaction`` is one storage transaction: its entries run in the spec's
order (DELETE, POST, PUT/PATCH, GET/HEAD), and the first entry that fails rolls
everything back; the caller gets :class:`BundleRejected`, one error naming
the entry (``Bundle.entry[3]``) and why. Entries that fail before any storage
is touched (bad requests, invalid resources) are all named at once.

A ``batch`` runs each entry in its own storage transaction, in entry order,
and reports each entry's result; a failed entry changes nothing and stops
nothing. References between batch entries are rewritten where the target's
id is known without a search (a POST's new id, a PUT's id): the spec forbids
batch entries from depending on each other, so nothing more is attempted.

Reads and vreads inside a transaction see its own writes. A search entry is
run by the :data:`Searcher` given; the REST layer's runs against the data as
committed before the transaction (see :mod:`firehouse.rest.batch`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from firehouse.errors import Category, FhirError, Issue, invalid
from firehouse.fhir.patch import patch_in
from firehouse.fhir.resource import new_id
from firehouse.fhir.service import create_in, delete_in, update_in
from firehouse.fhir.transaction.entries import Entry, Method, Params, entry_type, parse_entry
from firehouse.fhir.transaction.plan import (
    ORDER,
    Resolver,
    Step,
    check_entry,
    conditional_references,
    decide,
    finish,
    identities,
    plain_step,
)
from firehouse.storage.base import Storage, StoredVersion, Transaction, VersionConflict

Outcome = Literal["created", "updated", "deleted", "matched", "read", "searched"]

# A GET [type]?params entry: the searchset Bundle's JSON bytes.
Searcher = Callable[[Transaction, str, Params], bytes]
# Called before each entry runs, inside its transaction, with the entry's
# action, resource type, id and version; raises to refuse it (SMART scopes
# and patient compartments, firehouse.auth.guard.entry_guard).
Guard = Callable[[Transaction, str, str, str | None, str | None], None]


@dataclass(frozen=True, slots=True)
class Hooks:
    """What running a Bundle needs beyond storage; without them, such entries fail."""

    resolve: Resolver | None = None  # conditional entries and references
    search: Searcher | None = None  # GET [type]?... entries
    make_id: Callable[[], str] = new_id
    guard: Guard | None = None


NO_HOOKS = Hooks()


@dataclass(frozen=True, slots=True)
class EntryResult:
    """How one entry went: an outcome with the version concerned, or an error."""

    index: int
    method: Method | None  # None for an entry whose request could not be read
    outcome: Outcome | None
    stored: StoredVersion | None = None  # None for a delete of nothing, a search, a failure
    body: bytes | None = None  # a search's searchset Bundle
    error: FhirError | None = None


@dataclass(frozen=True, slots=True)
class Failure:
    index: int
    label: str  # "POST Observation"
    resource_type: str | None
    error: FhirError


def _rebase(expression: str, where: str, resource_type: str | None) -> str | None:
    """A resource-relative FHIRPath as a path into the Bundle; None if it is not one."""
    if expression.startswith("Bundle.entry["):
        return expression
    if resource_type and (
        expression == resource_type or expression.startswith(resource_type + ".")
    ):
        return f"{where}.resource{expression[len(resource_type) :]}"
    return None


def entry_issue(failure: Failure, issue: Issue) -> Issue:
    """``issue`` as a problem of entry ``failure.index`` of the Bundle."""
    where = f"Bundle.entry[{failure.index}]"
    rebased = [_rebase(e, where, failure.resource_type) for e in issue.expression]
    expression = [where] + [e for e in rebased if e is not None and e != where]
    diagnostics = f"{where} ({failure.label}): {issue.diagnostics}"
    return Issue(diagnostics, issue.code, issue.severity, tuple(expression))


class BundleRejected(FhirError):
    """A transaction that changed nothing, with every entry that made it fail."""

    def __init__(self, failures: Sequence[Failure]) -> None:
        issues = [entry_issue(f, issue) for f in failures for issue in f.error.issues]
        super().__init__(failures[0].error.category, issues)
        self.failures = tuple(failures)


def _as_error(exc: Exception) -> FhirError:
    if isinstance(exc, FhirError):
        return exc
    return FhirError(Category.CONFLICT, Issue(str(exc), code="conflict"))


def _parse_all(raw: Sequence[Any]) -> tuple[list[Entry], list[Failure]]:
    parsed: list[Entry] = []
    failures: list[Failure] = []
    full_urls: set[str] = set()
    for index, item in enumerate(raw):
        try:
            entry = parse_entry(index, item)
            check_entry(entry)
            if entry.full_url is not None:
                if entry.full_url in full_urls:
                    raise invalid(
                        f"fullUrl '{entry.full_url[:120]}' names two entries",
                        f"{entry.where}.fullUrl",
                    )
                full_urls.add(entry.full_url)
            parsed.append(entry)
        except FhirError as exc:
            label = "entry"
            request = item.get("request") if isinstance(item, dict) else None
            if isinstance(request, dict):
                label = f"{request.get('method')} {str(request.get('url'))[:100]}"
            failures.append(Failure(index, label, entry_type(item), exc))
    return parsed, failures


def _failure(entry: Entry, exc: Exception) -> Failure:
    return Failure(entry.index, entry.label, entry.resource_type, _as_error(exc))


# -- one step ----------------------------------------------------------------------------


def _current(tx: Transaction, resource_type: str, id: str) -> StoredVersion:
    current = tx.current(resource_type, id)
    if current is None:
        raise FhirError(Category.NOT_FOUND, f"{resource_type}/{id} is not known")
    if current.deleted:
        raise FhirError(Category.GONE, f"{resource_type}/{id} was deleted")
    return current


def _vread(tx: Transaction, storage: Storage, entry: Entry) -> StoredVersion:
    assert entry.id is not None and entry.version is not None
    current = tx.current(entry.resource_type, entry.id)
    found = None
    if entry.version.isdigit() and len(entry.version) < 10:
        wanted = int(entry.version)
        found = current if current is not None and current.version == wanted else None
        # Older versions were committed before this transaction began.
        found = found or storage.vread(entry.resource_type, entry.id, wanted)
    if found is None:
        raise FhirError(
            Category.NOT_FOUND, f"{entry.resource_type}/{entry.id} has no version {entry.version}"
        )
    if found.deleted:
        raise FhirError(Category.GONE, f"{entry.resource_type}/{entry.id} was deleted")
    return found


def _execute(tx: Transaction, storage: Storage, step: Step, hooks: Hooks) -> EntryResult:
    entry, action, kind, id = step.entry, step.action, step.entry.resource_type, step.id

    def done(outcome: Outcome, stored: StoredVersion | None = None) -> EntryResult:
        return EntryResult(entry.index, entry.method, outcome, stored)

    if hooks.guard is not None:
        hooks.guard(tx, action, kind, id if id is not None else entry.id, entry.version)

    if action == "create":
        assert id is not None and step.resource is not None
        # Under the id planned for it, which references were rewritten to.
        return done("created", create_in(tx, kind, step.resource, id=id))
    if action == "update":
        assert id is not None and step.resource is not None
        stored, created = update_in(tx, kind, id, step.resource, if_match=entry.if_match)
        return done("created" if created else "updated", stored)
    if action == "patch":
        assert id is not None and step.patch is not None
        stored = patch_in(tx, kind, id, step.patch, if_match=entry.if_match)
        return done("updated", stored)
    if action == "delete":
        assert id is not None
        deleted = delete_in(tx, kind, id, if_match=entry.if_match)
        return done("deleted", deleted)
    if action == "none":
        return done("deleted")
    if action == "match":
        assert id is not None
        return done("matched", _current(tx, kind, id))
    if action == "read":
        assert id is not None
        return done("read", _current(tx, kind, id))
    if action == "vread":
        return done("read", _vread(tx, storage, entry))
    if hooks.search is None:
        raise FhirError(
            Category.UNSUPPORTED, Issue("Search entries are not supported here", "not-supported")
        )
    body = hooks.search(tx, kind, entry.query or ())
    return EntryResult(entry.index, entry.method, "searched", body=body)


def _new_ids(parsed: Sequence[Entry], hooks: Hooks) -> dict[int, str]:
    return {e.index: hooks.make_id() for e in parsed if e.method in ("POST", "PUT")}


# -- whole Bundles -----------------------------------------------------------------------


def run_transaction(
    storage: Storage, raw_entries: Sequence[Any], hooks: Hooks = NO_HOOKS
) -> list[EntryResult]:
    """Every entry in one storage transaction; raises :class:`BundleRejected`.

    Returns the results in entry order (the order of the response Bundle).
    """
    parsed, failures = _parse_all(raw_entries)
    if failures:
        raise BundleRejected(failures)
    ids = _new_ids(parsed, hooks)
    results: dict[int, EntryResult] = {}
    current: Entry | None = None
    try:
        with storage.transaction() as tx:
            steps: list[Step] = []
            written: dict[str, int] = {}
            for current in parsed:
                step = decide(tx, current, hooks.resolve, ids.get(current.index))
                if step.action in ("create", "update", "patch", "delete") and step.identity:
                    if step.identity in written:
                        raise invalid(
                            f"{step.identity} is also written by Bundle.entry"
                            f"[{written[step.identity]}]; a transaction writes a resource once",
                            f"{current.where}.request",
                        )
                    written[step.identity] = current.index
                steps.append(step)
            mapping = identities(steps)
            for step in steps:
                current = step.entry
                mapping.update(conditional_references(tx, step, hooks.resolve, mapping))
            for step in sorted(steps, key=lambda s: (ORDER[s.entry.method], s.entry.index)):
                current = step.entry
                results[current.index] = _execute(tx, storage, finish(step, mapping), hooks)
    except (FhirError, VersionConflict) as exc:
        if current is None:
            raise
        raise BundleRejected([_failure(current, exc)]) from exc
    return [results[entry.index] for entry in parsed]


def run_batch(
    storage: Storage, raw_entries: Sequence[Any], hooks: Hooks = NO_HOOKS
) -> list[EntryResult]:
    """Each entry in its own storage transaction; every entry gets a result."""
    parsed, failures = _parse_all(raw_entries)
    failed = {f.index: f for f in failures}
    by_index = {entry.index: entry for entry in parsed}
    ids = _new_ids(parsed, hooks)
    plain = [plain_step(e, ids.get(e.index)) for e in parsed]
    mapping: Mapping[str, str] = identities([s for s in plain if s is not None])
    results: list[EntryResult] = []
    for index in range(len(raw_entries)):
        if index in failed:
            results.append(EntryResult(index, None, None, error=failed[index].error))
            continue
        entry = by_index[index]
        try:
            with storage.transaction() as tx:
                step = decide(tx, entry, hooks.resolve, ids.get(index))
                found = conditional_references(tx, step, hooks.resolve, mapping)
                results.append(_execute(tx, storage, finish(step, {**mapping, **found}), hooks))
        except (FhirError, VersionConflict) as exc:
            results.append(EntryResult(index, entry.method, None, error=_as_error(exc)))
    return results
