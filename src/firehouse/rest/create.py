"""create: https://hl7.org/fhir/R4/http.html#create (201, Location, ETag)."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from firehouse.fhir.service import require_type
from firehouse.rest import conditional
from firehouse.rest.context import Context
from firehouse.rest.http import read_json_body, write_response
from firehouse.rest.media import response_format


async def create(ctx: Context, request: Request, resource_type: str) -> Response:
    require_type(resource_type)
    fmt = response_format(request)
    resource = await read_json_body(request, ctx.settings.max_body_size)
    condition = request.headers.get("if-none-exist")
    if condition is not None:  # conditional create (http.html#ccreate)
        return await conditional.create(ctx, request, resource_type, resource, condition)
    stored = await run_in_threadpool(ctx.service.create, resource_type, resource)
    return write_response(
        request, stored, fmt, status=201, location_header="Location", base=ctx.base_url(request)
    )
