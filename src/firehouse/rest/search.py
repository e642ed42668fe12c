"""search: https://hl7.org/fhir/R4/http.html#search and search.html.

Type search (``GET [type]?...``, ``POST [type]/_search`` with a form body),
system search (``GET /?_type=...``, ``POST /_search``) and compartment search
(``GET Patient/123/Observation``, http.html#vsearch). Unknown parameters are
ignored in the default lenient mode, with the ``self`` link showing what was
applied, and refused with ``Prefer: handling=strict`` (search.html#errors).
Pages continue with opaque keyset cursors (``next``).
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from firehouse.auth.guard import check_search_reach, reveal_to, search_patients
from firehouse.auth.policy import Access
from firehouse.errors import Category, FhirError, Issue, invalid
from firehouse.fhir.bundle import Link, search_bundle, search_entries
from firehouse.fhir.service import require_id, require_type
from firehouse.rest.context import Context
from firehouse.rest.media import FHIR_JSON, response_format
from firehouse.rest.paging import page_url
from firehouse.search.compartment import compartment_types
from firehouse.search.engine import SearchEngine, SearchRequest, SearchResult
from firehouse.search.query import CURSOR

_FORM = "application/x-www-form-urlencoded"
_MAX_FORM = 64 * 1024


def strict(request: Request) -> bool:
    """``Prefer: handling=strict`` (https://hl7.org/fhir/R4/http.html#ops)."""
    return any(
        part.strip().replace(" ", "") == "handling=strict"
        for part in request.headers.get("prefer", "").split(",")
    )


def engine(ctx: Context) -> SearchEngine:
    found = ctx.search
    if found is None:
        raise FhirError(Category.UNSUPPORTED, Issue("search is not configured", "not-supported"))
    return found


async def _params(request: Request) -> list[tuple[str, str]]:
    params = list(request.query_params.multi_items())
    if request.method == "POST":
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != _FORM:
            raise FhirError(
                Category.UNSUPPORTED_MEDIA_TYPE,
                Issue(f"POST _search takes a form body ({_FORM})", "not-supported"),
            )
        body = await request.body()
        if len(body) > _MAX_FORM:
            raise FhirError(Category.TOO_LARGE, Issue("the search form is too large", "too-costly"))
        params.extend(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    return params


def _links(base: str, path: str, result: SearchResult, cursor: str | None) -> list[Link]:
    params = [*result.applied, ("_count", str(result.parsed.count))]
    self_params = params if cursor is None else [*params, (CURSOR, cursor)]
    links = [Link("self", page_url(base, path, self_params))]
    if result.next_cursor is not None:
        links.append(Link("next", page_url(base, path, [*params, (CURSOR, result.next_cursor)])))
    return links


def _respond(ctx: Context, request: Request, path: str, result: SearchResult) -> Response:
    fmt = response_format(request)
    base = ctx.base_url(request)
    access: Access | None = getattr(request.state, "access", None)
    body = search_bundle(
        base,
        search_entries(result, reveal_to(access, ctx.storage.indexer)),
        _links(base, path, result, result.parsed.cursor),
        pretty=fmt.pretty,
        total=result.total,
    )
    return Response(body, media_type=FHIR_JSON)


async def _run(
    ctx: Context,
    request: Request,
    path: str,
    types: tuple[str, ...] | None,
    compartment_patient: str | None = None,
) -> Response:
    search = engine(ctx)
    params = await _params(request)
    access: Access | None = getattr(request.state, "access", None)
    check_search_reach(access, [name for name, _ in params])
    search_request = SearchRequest(
        resource_types=types,
        params=tuple(params),
        local_base=ctx.base_url(request),
        default_count=ctx.settings.default_page_size,
        max_count=ctx.settings.max_page_size,
        strict=strict(request),
        compartment_patient=compartment_patient,
        # A patient/ scope confines matches and includes to the launch patient.
        restrict_to_patients=search_patients(access, types),
    )
    result = await run_in_threadpool(search.search, search_request)
    return _respond(ctx, request, path, result)


async def search_type(ctx: Context, request: Request, resource_type: str) -> Response:
    require_type(resource_type)
    return await _run(ctx, request, f"/{resource_type}", (resource_type,))


async def search_system(ctx: Context, request: Request) -> Response:
    return await _run(ctx, request, "/", None)


async def search_compartment(
    ctx: Context, request: Request, compartment: str, id: str, resource_type: str
) -> Response:
    """``GET Patient/123/Observation``: the Patient compartment only (R4 package data)."""
    require_type(compartment)
    require_type(resource_type)
    require_id(id)
    if compartment != "Patient":
        raise FhirError(
            Category.UNSUPPORTED,
            Issue(f"Only the Patient compartment is supported, not {compartment}", "not-supported"),
        )
    if resource_type not in compartment_types():
        raise invalid(f"{resource_type} resources are never in a Patient compartment")
    path = f"/Patient/{id}/{resource_type}"
    return await _run(ctx, request, path, (resource_type,), id)
