"""Conditional create, update and delete: https://hl7.org/fhir/R4/http.html#ccreate,
#cond-update and #cdelete.

The search that decides and the write it decides on run in one write
transaction (``tx.search``), so two concurrent conditional creates cannot
both see "no match" and both create. Several matches are a 412. A
conditional delete that matches several is a 412 too unless the
``conditional_delete_multiple`` setting is on, when every match is deleted
in one transaction (http.html#cdelete lets a server do either; asking the
client to be precise is the safer default).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from firehouse.errors import Category, FhirError, Issue, invalid
from firehouse.fhir.resource import is_valid_id
from firehouse.fhir.service import (
    check_resource,
    create_in,
    delete_in,
    require_type,
    update_in,
)
from firehouse.rest.context import Context
from firehouse.rest.http import etag, if_match, read_json_body, write_response
from firehouse.rest.media import response_format
from firehouse.rest.search import engine
from firehouse.search.engine import SearchEngine
from firehouse.storage.base import StoredVersion, Transaction, VersionConflict
from firehouse.storage.criteria import SearchHit


def _criteria(query: str) -> list[tuple[str, str]]:
    params = parse_qsl(query.lstrip("?"), keep_blank_values=True)
    if not params:
        raise invalid("A conditional request needs search parameters")
    return params


def _several(resource_type: str, what: str) -> FhirError:
    return FhirError(
        Category.PRECONDITION_FAILED,
        Issue(
            f"The {what} criteria match more than one {resource_type}; be more specific",
            code="multiple-matches",
        ),
    )


def _matches(
    search: SearchEngine, tx: Transaction, resource_type: str, query: str, base: str
) -> list[SearchHit]:
    return search.matching(resource_type, _criteria(query), base, limit=2, searcher=tx.search)


async def create(
    ctx: Context, request: Request, resource_type: str, resource: Any, condition: str
) -> Response:
    """``POST [type]`` with ``If-None-Exist``: 200 with the match if exactly one exists."""
    search = engine(ctx)
    base = ctx.base_url(request)
    checked = check_resource(resource, resource_type, url_id=None)

    def run() -> tuple[StoredVersion, bool]:
        with ctx.storage.transaction() as tx:
            found = _matches(search, tx, resource_type, condition, base)
            if len(found) > 1:
                raise _several(resource_type, "If-None-Exist")
            if found:
                existing = tx.current(resource_type, found[0].id)
                assert existing is not None
                return existing, False
            return create_in(tx, resource_type, checked), True

    stored, created = await run_in_threadpool(run)
    return write_response(
        request,
        stored,
        response_format(request),
        status=201 if created else 200,
        location_header="Location",
        base=base,
    )


async def update(ctx: Context, request: Request, resource_type: str) -> Response:
    """``PUT [type]?criteria``: update the one match, create when there is none."""
    require_type(resource_type)
    search = engine(ctx)
    base = ctx.base_url(request)
    expected = if_match(request)
    resource = await read_json_body(request, ctx.settings.max_body_size)
    body_id = resource.get("id") if isinstance(resource, dict) else None
    query = request.url.query

    def run() -> tuple[StoredVersion, bool]:
        with ctx.storage.transaction() as tx:
            found = _matches(search, tx, resource_type, query, base)
            if len(found) > 1:
                raise _several(resource_type, "update")
            if found:
                id = found[0].id
                if body_id is not None and body_id != id:
                    raise invalid(
                        f"The body's id {body_id!r} is not the id of the match ('{id}')",
                        f"{resource_type}.id",
                    )
            elif isinstance(body_id, str) and is_valid_id(body_id):
                id = body_id
            else:
                checked = check_resource(resource, resource_type, url_id=None)
                return create_in(tx, resource_type, checked), True
            checked = check_resource({**resource, "id": id}, resource_type, url_id=id)
            return update_in(tx, resource_type, id, checked, if_match=expected)

    try:
        stored, created = await run_in_threadpool(run)
    except VersionConflict as exc:
        raise FhirError(Category.CONFLICT, Issue(str(exc), code="conflict")) from exc
    return write_response(
        request,
        stored,
        response_format(request),
        status=201 if created else 200,
        location_header="Location" if created else "Content-Location",
        base=base,
    )


# Matches deleted per round when all are deleted: the round's search sees the
# previous round's deletes, so it needs no cursor and ends when nothing matches.
_DELETE_ROUND = 500


def _delete(tx: Transaction, resource_type: str, hits: list[SearchHit]) -> list[StoredVersion]:
    done = (delete_in(tx, resource_type, hit.id) for hit in hits)
    return [version for version in done if version is not None]


def _delete_all(
    search: SearchEngine, tx: Transaction, resource_type: str, query: str, base: str
) -> list[StoredVersion]:
    deleted: list[StoredVersion] = []
    while True:
        found = search.matching(
            resource_type, _criteria(query), base, limit=_DELETE_ROUND, searcher=tx.search
        )
        done = _delete(tx, resource_type, found)
        if not done:  # no match left (or none deletable): never loop on the same hits
            return deleted
        deleted += done


async def delete(ctx: Context, request: Request, resource_type: str) -> Response:
    """``DELETE [type]?criteria``: delete the one match (or, if so configured, every
    match); none is a 204 that changes nothing."""
    require_type(resource_type)
    search = engine(ctx)
    base = ctx.base_url(request)
    query = request.url.query
    every = ctx.settings.conditional_delete_multiple

    def run() -> list[StoredVersion]:
        with ctx.storage.transaction() as tx:
            if every:
                return _delete_all(search, tx, resource_type, query, base)
            found = _matches(search, tx, resource_type, query, base)
            if len(found) > 1:
                raise _several(resource_type, "delete")
            return _delete(tx, resource_type, found)

    deleted = await run_in_threadpool(run)
    # An ETag names one version: only a single delete has one to give.
    headers = {"ETag": etag(deleted[0].version)} if len(deleted) == 1 else None
    return Response(status_code=204, headers=headers)
