"""update: https://hl7.org/fhir/R4/http.html#update, including update-as-create.

``If-Match`` makes it a version-aware update (#concurrency): 412 when stale.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from firehouse.fhir.service import require_id, require_type
from firehouse.rest.context import Context
from firehouse.rest.http import if_match, read_json_body, write_response
from firehouse.rest.media import response_format


async def update(ctx: Context, request: Request, resource_type: str, id: str) -> Response:
    require_type(resource_type)
    require_id(id)
    fmt = response_format(request)
    expected = if_match(request)
    resource = await read_json_body(request, ctx.settings.max_body_size)
    stored, created = await run_in_threadpool(
        lambda: ctx.service.update(resource_type, id, resource, if_match=expected)
    )
    return write_response(
        request,
        stored,
        fmt,
        status=201 if created else 200,
        location_header="Location" if created else "Content-Location",
        base=ctx.base_url(request),
    )
