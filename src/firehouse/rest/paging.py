"""Query parameters shared by the paged interactions: ``_count`` and the page cursor."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request

from firehouse.errors import invalid
from firehouse.rest.context import Context
from firehouse.search.query import CURSOR


def page_size(ctx: Context, request: Request) -> int:
    raw = request.query_params.get("_count")
    if raw is None:
        return ctx.settings.default_page_size
    if not raw.isdigit() or len(raw) > 9:
        raise invalid(f"_count must be a whole number, got {raw[:40]!r}", "_count")
    return min(int(raw), ctx.settings.max_page_size)


def cursor(request: Request) -> int | None:
    raw = request.query_params.get(CURSOR)
    if raw is None:
        return None
    if not raw.isdigit() or len(raw) > 18:
        raise invalid(f"{CURSOR} is not a page this server handed out: {raw[:40]!r}", CURSOR)
    return int(raw)


def page_url(base: str, path: str, params: list[tuple[str, str]]) -> str:
    query = urlencode(params)
    return f"{base}{path}?{query}" if query else f"{base}{path}"
