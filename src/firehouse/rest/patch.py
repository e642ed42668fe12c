"""patch: ``PATCH [type]/[id]``, https://hl7.org/fhir/R4/http.html#patch.

The body's Content-Type says which patch it is: ``application/json-patch+json``
is a JSON Patch (RFC 6902); ``application/fhir+json`` is a FHIRPath Patch
``Parameters`` (https://hl7.org/fhir/R4/fhirpatch.html). Plain
``application/json`` is taken by its shape: an array is a JSON Patch, an
object a Parameters. ``If-Match`` makes it version-aware (412 when stale).
The answer is that of an update: 200 with the new version (or the unchanged
current one when the patch changed nothing), ``Prefer: return=`` honoured.
Status codes of failures: see :mod:`firehouse.fhir.patch`.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from firehouse.errors import Category, FhirError, Issue
from firehouse.fhir.patch import (
    JSON_PATCH,
    Patch,
    parse_fhirpath_patch,
    parse_json_patch,
    patch_resource,
)
from firehouse.fhir.service import require_id, require_type
from firehouse.rest.context import Context
from firehouse.rest.http import if_match, read_body_json, write_response
from firehouse.rest.media import response_format

_FHIR_JSON = frozenset({"application/fhir+json", "application/json+fhir"})
_PLAIN_JSON = frozenset({"application/json", "text/json"})


async def _patch_document(ctx: Context, request: Request) -> Patch:
    content_type = request.headers.get("content-type", "")
    media = content_type.split(";")[0].strip().lower()
    if media not in (JSON_PATCH, *_FHIR_JSON, *_PLAIN_JSON):
        raise FhirError(
            Category.UNSUPPORTED_MEDIA_TYPE,
            Issue(
                f"PATCH takes {JSON_PATCH} (JSON Patch) or application/fhir+json (FHIRPath "
                f"Patch Parameters), not {content_type[:100]!r}",
                code="not-supported",
            ),
        )
    document = await read_body_json(request, ctx.settings.max_body_size)
    if media == JSON_PATCH or (media in _PLAIN_JSON and isinstance(document, list)):
        return parse_json_patch(document)
    return parse_fhirpath_patch(document)


async def patch(ctx: Context, request: Request, resource_type: str, id: str) -> Response:
    require_type(resource_type)
    require_id(id)
    fmt = response_format(request)
    expected = if_match(request)
    document = await _patch_document(ctx, request)
    stored = await run_in_threadpool(
        lambda: patch_resource(ctx.storage, resource_type, id, document, if_match=expected)
    )
    return write_response(
        request,
        stored,
        fmt,
        status=200,
        location_header="Content-Location",
        base=ctx.base_url(request),
    )
