"""delete: https://hl7.org/fhir/R4/http.html#delete.

Deleting keeps the history; a later read answers 410 Gone. Deleting what does
not exist (or is already deleted) succeeds with 204 and changes nothing.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from firehouse.rest.context import Context
from firehouse.rest.http import etag, if_match


async def delete(ctx: Context, request: Request, resource_type: str, id: str) -> Response:
    expected = if_match(request)
    deleted = await run_in_threadpool(
        lambda: ctx.service.delete(resource_type, id, if_match=expected)
    )
    headers = {"ETag": etag(deleted.version)} if deleted is not None else None
    return Response(status_code=204, headers=headers)
