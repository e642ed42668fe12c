"""batch and transaction Bundles: https://hl7.org/fhir/R4/http.html#transaction.

The one place Bundles with requests are run, whichever door they came in by:
``POST /`` (:mod:`firehouse.rest.batch`) and ``firehouse import``
(:mod:`firehouse.importing`). :mod:`.entries` reads each entry's request,
:mod:`.plan` decides what it does (conditionals, ids, references), and
:mod:`.execute` runs it against storage. Nothing here knows HTTP: results are
outcomes and :class:`~firehouse.errors.FhirError` categories.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from firehouse.errors import Category, FhirError, Issue, invalid
from firehouse.fhir.transaction.entries import Entry, Params
from firehouse.fhir.transaction.execute import (
    NO_HOOKS,
    BundleRejected,
    EntryResult,
    Failure,
    Hooks,
    Outcome,
    Searcher,
    run_batch,
    run_transaction,
)
from firehouse.fhir.transaction.plan import Resolver
from firehouse.storage.base import Storage

KINDS = ("batch", "transaction")

__all__ = [
    "KINDS",
    "NO_HOOKS",
    "BundleRejected",
    "Entry",
    "EntryResult",
    "Failure",
    "Hooks",
    "Outcome",
    "Params",
    "Resolver",
    "Searcher",
    "bundle_kind",
    "run_batch",
    "run_bundle",
    "run_transaction",
]


def bundle_kind(bundle: Any) -> str:
    """``batch`` or ``transaction``; raises ``invalid`` for anything else."""
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise invalid("POST to the base takes a Bundle of type batch or transaction")
    kind = bundle.get("type")
    if kind not in KINDS:
        raise invalid(
            f"Bundle.type must be batch or transaction, not {str(kind)[:40]!r}", "Bundle.type"
        )
    entries = bundle.get("entry", [])
    if not isinstance(entries, list):
        raise invalid("Bundle.entry must be a list", "Bundle.entry")
    return str(kind)


def run_bundle(
    storage: Storage,
    bundle: Mapping[str, Any],
    hooks: Hooks = NO_HOOKS,
    *,
    max_entries: int | None = None,
) -> tuple[str, list[EntryResult]]:
    """(kind, results in entry order) of a batch or transaction Bundle.

    ``max_entries`` refuses larger Bundles up front (too-large), before any work.
    """
    kind = bundle_kind(bundle)
    entries: list[Any] = bundle.get("entry", [])
    if max_entries is not None and len(entries) > max_entries:
        raise FhirError(
            Category.TOO_LARGE,
            Issue(
                f"The Bundle has {len(entries)} entries; this server takes at most "
                f"{max_entries} per Bundle (setting max_bundle_entries)",
                code="too-costly",
                expression=("Bundle.entry",),
            ),
        )
    run = run_transaction if kind == "transaction" else run_batch
    return kind, run(storage, entries, hooks)
