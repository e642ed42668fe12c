"""Bundles the server builds (https://hl7.org/fhir/R4/bundle.html): history and searchset.

Stored resource bytes are embedded as they are (``orjson.Fragment``), so a page
of fifty resources costs no parsing at all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from firehouse.fhir import json as fhir_json
from firehouse.fhir.resource import format_instant, new_id
from firehouse.search.engine import SearchResult
from firehouse.search.shaping import shape
from firehouse.storage.base import StoredVersion


@dataclass(frozen=True, slots=True)
class Link:
    relation: str
    url: str


def _bundle(
    kind: str, links: Sequence[Link], entries: list[dict[str, Any]], total: int | None = None
) -> dict[str, Any]:
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "id": new_id(),
        "meta": {"lastUpdated": format_instant(datetime.now(UTC))},
        "type": kind,
    }
    if total is not None:
        bundle["total"] = total
    if links:
        bundle["link"] = [{"relation": link.relation, "url": link.url} for link in links]
    if entries:
        bundle["entry"] = entries
    return bundle


def _resource(stored: StoredVersion, pretty: bool) -> Any:
    assert stored.body is not None
    # Pretty output must re-indent the stored bytes; compact output embeds them.
    return fhir_json.loads(stored.body) if pretty else orjson.Fragment(stored.body)


def history_bundle(
    base: str, versions: Sequence[StoredVersion], links: Sequence[Link], *, pretty: bool
) -> bytes:
    """A ``history`` Bundle: each entry says what request made the version and how it went."""
    entries: list[dict[str, Any]] = []
    for stored in versions:
        url = f"{base}/{stored.resource_type}/{stored.id}"
        entry: dict[str, Any] = {"fullUrl": url}
        if not stored.deleted:
            entry["resource"] = _resource(stored, pretty)
        request_url = (
            stored.resource_type
            if stored.method == "POST"
            else f"{stored.resource_type}/{stored.id}"
        )
        entry["request"] = {"method": stored.method, "url": request_url}
        entry["response"] = {
            "status": {"POST": "201 Created", "PUT": "200 OK", "DELETE": "204 No Content"}[
                stored.method
            ],
            "etag": f'W/"{stored.version}"',
            "lastModified": format_instant(stored.last_updated),
        }
        entries.append(entry)
    return fhir_json.dumps(_bundle("history", links, entries), pretty=pretty)


@dataclass(frozen=True, slots=True)
class SearchEntry:
    """One searchset entry: the resource's stored (or shaped) JSON and why it is there."""

    resource_type: str
    id: str
    body: bytes
    mode: str  # match | include (https://hl7.org/fhir/R4/bundle-definitions.html#Bundle.entry.search.mode)


def search_entries(
    result: SearchResult, reveal: Callable[[str, bytes], bool] | None = None
) -> list[SearchEntry]:
    """A search's matches and includes as entries, shaped by ``_summary``/``_elements``.

    ``reveal`` drops includes the caller may not see (SMART scopes): an
    ``_include`` can reach types or patients the search itself could not.
    """
    parsed = result.parsed
    included = result.included
    if reveal is not None:
        included = tuple(hit for hit in included if reveal(hit.resource_type, hit.body))
    return [
        SearchEntry(
            hit.resource_type,
            hit.id,
            shape(hit.body, hit.resource_type, parsed.summary, parsed.elements),
            mode,
        )
        for mode, hits in (("match", result.matches), ("include", included))
        for hit in hits
    ]


def search_bundle(
    base: str,
    entries: Sequence[SearchEntry],
    links: Sequence[Link],
    *,
    pretty: bool,
    total: int | None = None,
) -> bytes:
    """A ``searchset`` Bundle (https://hl7.org/fhir/R4/search.html#return) with includes."""
    rendered = [
        {
            "fullUrl": f"{base}/{entry.resource_type}/{entry.id}",
            "resource": fhir_json.loads(entry.body) if pretty else orjson.Fragment(entry.body),
            "search": {"mode": entry.mode},
        }
        for entry in entries
    ]
    return fhir_json.dumps(_bundle("searchset", links, rendered, total), pretty=pretty)
