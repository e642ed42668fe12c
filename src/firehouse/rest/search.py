"""search (type level): https://hl7.org/fhir/R4/http.html#search and search.html.

This first version answers searches on ``_id`` plus the result parameters
``_count``; any other parameter is ignored in the default lenient mode (the
``self`` link shows what was applied, search.html#errors) and refused with
``Prefer: handling=strict``. Pages continue with keyset cursors.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from firehouse.errors import Category, FhirError, Issue
from firehouse.fhir.bundle import Link, searchset_bundle
from firehouse.fhir.service import require_type
from firehouse.rest.context import Context
from firehouse.rest.media import FHIR_JSON, response_format
from firehouse.rest.paging import CURSOR, cursor, page_size, page_url
from firehouse.storage.base import ListQuery

# Parameters that shape the response rather than select resources.
_CONTROL = frozenset({"_count", "_format", "_pretty", CURSOR})


def _strict(request: Request) -> bool:
    return any(
        part.strip().replace(" ", "") == "handling=strict"
        for part in request.headers.get("prefer", "").split(",")
    )


async def search_type(ctx: Context, request: Request, resource_type: str) -> Response:
    require_type(resource_type)
    fmt = response_format(request)
    count = page_size(ctx, request)
    ids: tuple[str, ...] | None = None
    applied: list[tuple[str, str]] = []
    ignored: list[str] = []
    for name, value in request.query_params.multi_items():
        if name == "_id":
            values = tuple(v for v in value.split(",") if v)
            ids = values if ids is None else tuple(v for v in ids if v in values)
            applied.append((name, value))
        elif name not in _CONTROL:
            ignored.append(name)
    if ignored and _strict(request):
        raise FhirError(
            Category.INVALID,
            [
                Issue(
                    f"Search parameter '{name}' is not supported for {resource_type}",
                    code="not-supported",
                    expression=(name,),
                )
                for name in ignored
            ],
        )
    page_cursor = cursor(request)
    page = ctx.storage.list_current(
        ListQuery(resource_type, ids=ids, after_key=page_cursor, count=count)
    )
    base = ctx.base_url(request)
    path = f"/{resource_type}"
    params = [*applied, ("_count", str(count))]
    self_params = params if page_cursor is None else [*params, (CURSOR, str(page_cursor))]
    links = [Link("self", page_url(base, path, self_params))]
    if page.next_cursor is not None:
        links.append(Link("next", page_url(base, path, [*params, (CURSOR, str(page.next_cursor))])))
    body = searchset_bundle(base, page.entries, links, pretty=fmt.pretty)
    return Response(body, media_type=FHIR_JSON)
