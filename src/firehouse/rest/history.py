"""history: https://hl7.org/fhir/R4/http.html#history, for instance, type and system.

Newest first, ``_count`` per page, ``_since`` as a lower bound on lastUpdated,
and ``next`` links that continue below the last entry shown (keyset paging: a
later page never rescans earlier ones and never repeats an entry).
"""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response

from firehouse.errors import invalid
from firehouse.fhir.bundle import Link, history_bundle
from firehouse.fhir.service import require_type
from firehouse.rest.context import Context
from firehouse.rest.media import FHIR_JSON, response_format
from firehouse.rest.paging import cursor, page_size, page_url
from firehouse.search.query import CURSOR
from firehouse.storage.base import HistoryQuery


def _since(request: Request) -> datetime | None:
    raw = request.query_params.get("_since")
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as exc:
        raise invalid(
            f"_since must be an instant like 2024-01-31T12:00:00Z, got {raw[:60]!r}", "_since"
        ) from exc
    if moment.tzinfo is None:
        raise invalid(f"_since needs a time zone (Z or +hh:mm), got {raw[:60]!r}", "_since")
    return moment.astimezone(UTC)


async def _history(
    ctx: Context, request: Request, resource_type: str | None, id: str | None
) -> Response:
    if resource_type is not None:
        require_type(resource_type)
    fmt = response_format(request)
    count = page_size(ctx, request)
    since = _since(request)
    page_cursor = cursor(request)
    page = ctx.storage.history(
        HistoryQuery(resource_type, id, since=since, before_seq=page_cursor, count=count)
    )
    if id is not None and not page.entries and page_cursor is None:
        ctx.service.read(resource_type or "", id)  # 404 for an unknown resource
    base = ctx.base_url(request)
    path = "/".join(p for p in ("", resource_type, id, "_history") if p is not None)
    params = [("_count", str(count))]
    if since is not None:
        params.append(("_since", request.query_params["_since"]))
    self_params = params if page_cursor is None else [*params, (CURSOR, str(page_cursor))]
    links = [Link("self", page_url(base, path, self_params))]
    if page.next_cursor is not None:
        next_params = [*params, (CURSOR, str(page.next_cursor))]
        links.append(Link("next", page_url(base, path, next_params)))
    body = history_bundle(base, page.entries, links, pretty=fmt.pretty)
    return Response(body, media_type=FHIR_JSON)


async def instance_history(ctx: Context, request: Request, resource_type: str, id: str) -> Response:
    return await _history(ctx, request, resource_type, id)


async def type_history(ctx: Context, request: Request, resource_type: str) -> Response:
    return await _history(ctx, request, resource_type, None)


async def system_history(ctx: Context, request: Request) -> Response:
    return await _history(ctx, request, None, None)
