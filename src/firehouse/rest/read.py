"""read and vread: https://hl7.org/fhir/R4/http.html#read and #vread.

Conditional read (#cread): ``If-None-Match`` / ``If-Modified-Since`` give 304.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from firehouse.rest.context import Context
from firehouse.rest.http import body_bytes, not_modified, version_headers, version_url
from firehouse.rest.media import FHIR_JSON, response_format
from firehouse.storage.base import StoredVersion


def _answer(ctx: Context, request: Request, stored: StoredVersion) -> Response:
    fmt = response_format(request)
    headers = version_headers(stored)
    headers["Content-Location"] = version_url(ctx.base_url(request), stored)
    if not_modified(request, stored):
        return Response(status_code=304, headers=headers)
    return Response(body_bytes(stored, fmt), media_type=FHIR_JSON, headers=headers)


async def read(ctx: Context, request: Request, resource_type: str, id: str) -> Response:
    return _answer(ctx, request, ctx.service.read(resource_type, id))


async def vread(
    ctx: Context, request: Request, resource_type: str, id: str, version: str
) -> Response:
    return _answer(ctx, request, ctx.service.vread(resource_type, id, version))
