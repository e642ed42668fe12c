"""HTTP details of the FHIR API shared by the interactions.

https://hl7.org/fhir/R4/http.html#versioning (ETag, If-Match),
#cread (If-None-Match, If-Modified-Since), #ops (Prefer), #general (body size).
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from firehouse.errors import Category, FhirError, Issue, invalid
from firehouse.fhir import json as fhir_json
from firehouse.fhir.outcome import information
from firehouse.rest.media import FHIR_JSON, ResponseFormat, require_json_body
from firehouse.storage.base import StoredVersion


def etag(version: int) -> str:
    return f'W/"{version}"'


def http_date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def parse_etag(value: str, header: str) -> int:
    """``W/"3"`` or ``"3"`` -> 3."""
    text = value.strip()
    if text.startswith("W/"):
        text = text[2:]
    text = text.strip('"')
    if not text.isdigit() or len(text) > 9:
        raise invalid(f'{header} must be a version ETag like W/"3", got {value[:60]!r}')
    return int(text)


def if_match(request: Request) -> int | None:
    value = request.headers.get("if-match")
    return None if value is None else parse_etag(value, "If-Match")


def not_modified(request: Request, stored: StoredVersion) -> bool:
    """Conditional read: If-None-Match wins over If-Modified-Since (RFC 9110 13.2.2)."""
    none_match = request.headers.get("if-none-match")
    if none_match is not None:
        for tag in none_match.split(","):
            tag = tag.strip()
            if tag == "*":
                return True
            try:
                if parse_etag(tag, "If-None-Match") == stored.version:
                    return True
            except FhirError:
                continue
        return False
    since = request.headers.get("if-modified-since")
    if since is not None:
        try:
            threshold = parsedate_to_datetime(since)
        except (TypeError, ValueError, IndexError):
            return False
        if threshold.tzinfo is None:
            threshold = threshold.replace(tzinfo=UTC)
        return stored.last_updated.replace(microsecond=0) <= threshold
    return False


def prefer_return(request: Request) -> str:
    """``Prefer: return=minimal|representation|OperationOutcome`` (default representation)."""
    for part in request.headers.get("prefer", "").split(","):
        name, _, value = part.strip().partition("=")
        if name.strip().lower() == "return":
            value = value.strip().strip('"')
            if value in ("minimal", "representation", "OperationOutcome"):
                return value
    return "representation"


async def read_json_body(request: Request, limit: int) -> Any:
    """The request body parsed as FHIR JSON; 413 before reading more than ``limit`` bytes."""
    require_json_body(request)
    return await read_body_json(request, limit)


async def read_body_json(request: Request, limit: int) -> Any:
    """The body as JSON whatever its Content-Type (the caller checked it), within ``limit``."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    body = b"".join(chunks)
    if not body.strip():
        raise invalid("The request has no body; send a FHIR resource as JSON")
    return fhir_json.loads(body)


def _too_large(limit: int) -> FhirError:
    return FhirError(
        Category.TOO_LARGE,
        Issue(f"The request body is larger than the limit of {limit} bytes", code="too-costly"),
    )


def json_response(
    data: Any, fmt: ResponseFormat, *, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        fhir_json.dumps(data, pretty=fmt.pretty),
        status_code=status,
        media_type=FHIR_JSON,
        headers=headers,
    )


def body_bytes(stored: StoredVersion, fmt: ResponseFormat) -> bytes:
    assert stored.body is not None
    if fmt.pretty:
        return fhir_json.dumps(fhir_json.loads(stored.body), pretty=True)
    return stored.body


def version_headers(stored: StoredVersion) -> dict[str, str]:
    return {"ETag": etag(stored.version), "Last-Modified": http_date(stored.last_updated)}


def version_url(base: str, stored: StoredVersion) -> str:
    return f"{base}/{stored.resource_type}/{stored.id}/_history/{stored.version}"


def write_response(
    request: Request,
    stored: StoredVersion,
    fmt: ResponseFormat,
    *,
    status: int,
    location_header: str,
    base: str,
) -> Response:
    """The answer to create/update, shaped by ``Prefer: return=``."""
    headers = version_headers(stored)
    headers[location_header] = version_url(base, stored)
    preference = prefer_return(request)
    if preference == "minimal":
        return Response(status_code=status, headers=headers)
    if preference == "OperationOutcome":
        verb = "created" if status == 201 else "updated"
        message = f"{stored.resource_type}/{stored.id} {verb}, version {stored.version}"
        return json_response(information(message), fmt, status=status, headers=headers)
    return Response(
        body_bytes(stored, fmt), status_code=status, media_type=FHIR_JSON, headers=headers
    )
