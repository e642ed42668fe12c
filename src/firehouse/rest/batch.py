"""batch/transaction: ``POST [base]`` with a Bundle, https://hl7.org/fhir/R4/http.html#transaction.

The Bundle runs in :mod:`firehouse.fhir.transaction`; this module reads the
request and writes the answer (http.html#transaction-response): a
``batch-response`` or ``transaction-response`` Bundle with one entry per
request entry, in the request's order, each with ``response.status``
(``201 Created``...), ``location`` (with the version), ``etag`` and
``lastModified``; a batch entry that failed carries its OperationOutcome in
``response.outcome``. ``Prefer: return=`` shapes each write's entry as it
shapes a single create or update. A transaction that fails is one
OperationOutcome with the failing entry's status. Bundles with more than
``max_bundle_entries`` entries are refused with 413 before any work.

Conditional entries, conditional references and search entries are answered
by the search engine (:mod:`firehouse.fhir.transaction.searching`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from firehouse.auth import audit
from firehouse.auth.guard import confine_search, entry_guard, reveal_to
from firehouse.auth.policy import Access
from firehouse.fhir import json as fhir_json
from firehouse.fhir.outcome import information, operation_outcome
from firehouse.fhir.resource import format_instant, new_id
from firehouse.fhir.transaction import NO_HOOKS, EntryResult, run_bundle
from firehouse.fhir.transaction.searching import engine_hooks
from firehouse.rest.context import Context
from firehouse.rest.errors import STATUS
from firehouse.rest.http import etag, prefer_return, read_json_body, version_url
from firehouse.rest.media import FHIR_JSON, response_format
from firehouse.rest.search import strict

_STATUS_LINE = {
    "created": "201 Created",
    "updated": "200 OK",
    "deleted": "204 No Content",
    "matched": "200 OK",
    "read": "200 OK",
    "searched": "200 OK",
}


def _status_line(code: int) -> str:
    return f"{code} {HTTPStatus(code).phrase}"


def _embed(body: bytes, pretty: bool) -> Any:
    # Compact output embeds the stored bytes as they are; pretty output re-indents.
    return fhir_json.loads(body) if pretty else orjson.Fragment(body)


def _entry(result: EntryResult, base: str, preference: str, pretty: bool) -> dict[str, Any]:
    if result.error is not None or result.outcome is None:
        assert result.error is not None
        code = STATUS[result.error.category]
        outcome = operation_outcome(result.error.issues)
        return {"response": {"status": _status_line(code), "outcome": outcome}}
    entry: dict[str, Any] = {}
    response: dict[str, Any] = {"status": _STATUS_LINE[result.outcome]}
    stored, head = result.stored, result.method == "HEAD"
    if stored is not None:
        if not stored.deleted:
            entry["fullUrl"] = f"{base}/{stored.resource_type}/{stored.id}"
        if result.outcome in ("created", "updated", "matched"):
            response["location"] = version_url(base, stored)
        response["etag"] = etag(stored.version)
        response["lastModified"] = format_instant(stored.last_updated)
        write = result.outcome in ("created", "updated", "matched")
        if stored.body is not None and not head and (not write or preference == "representation"):
            entry["resource"] = _embed(stored.body, pretty)
        elif write and preference == "OperationOutcome":
            message = f"{stored.resource_type}/{stored.id}: {response['status']}"
            response["outcome"] = information(message)
    if result.body is not None and not head:
        entry["resource"] = _embed(result.body, pretty)
    entry["response"] = response
    return entry


def _entry_status(result: EntryResult) -> int:
    if result.error is not None:
        return STATUS[result.error.category]
    return int(_STATUS_LINE[result.outcome or "read"].split()[0])


def response_bundle(
    kind: str, results: Sequence[EntryResult], base: str, preference: str, pretty: bool
) -> bytes:
    bundle = {
        "resourceType": "Bundle",
        "id": new_id(),
        "meta": {"lastUpdated": format_instant(datetime.now(UTC))},
        "type": f"{kind}-response",
        "entry": [_entry(result, base, preference, pretty) for result in results],
    }
    return fhir_json.dumps(bundle, pretty=pretty)


async def batch(ctx: Context, request: Request) -> Response:
    fmt = response_format(request)
    bundle = await read_json_body(request, ctx.settings.max_body_size)
    base = ctx.base_url(request)
    hooks = NO_HOOKS
    access: Access | None = getattr(request.state, "access", None)
    if ctx.search is not None:
        hooks = engine_hooks(
            ctx.search,
            base,
            default_count=ctx.settings.default_page_size,
            max_count=ctx.settings.max_page_size,
            strict=strict(request),
            confine=confine_search(access) if access is not None else None,
            reveal=reveal_to(access, ctx.storage.indexer),
        )
    if access is not None:
        # Each entry is authorised as the interaction it stands for (issue 7).
        hooks = replace(hooks, guard=entry_guard(access, ctx.storage))
    limit = ctx.settings.max_bundle_entries
    kind, results = await run_in_threadpool(
        lambda: run_bundle(ctx.storage, bundle, hooks, max_entries=limit)
    )
    audit.bundle_entries(
        access,
        kind,
        bundle.get("entry", []),
        [
            (
                r.index,
                r.method,
                r.stored.id if r.stored is not None else None,
                _entry_status(r),
            )
            for r in results
        ],
    )
    body = response_bundle(kind, results, base, prefer_return(request), fmt.pretty)
    return Response(body, media_type=FHIR_JSON)
