"""Content negotiation (https://hl7.org/fhir/R4/http.html#mime-type): JSON only.

``application/fhir+json`` and ``application/json`` are served and accepted;
``_format`` overrides ``Accept``; ``_pretty=true`` indents. XML and Turtle are
not served: 406 for a response format, 415 for a request body.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from firehouse.errors import Category, FhirError, Issue

FHIR_JSON = "application/fhir+json; fhirVersion=4.0"

_JSON_TYPES = frozenset(
    {"application/fhir+json", "application/json", "application/json+fhir", "text/json"}
)
_WILDCARDS = frozenset({"*/*", "application/*"})
_FORMAT_ALIASES = frozenset({"json", *_JSON_TYPES})


@dataclass(frozen=True, slots=True)
class ResponseFormat:
    pretty: bool = False


COMPACT = ResponseFormat(pretty=False)
PRETTY = ResponseFormat(pretty=True)


def _media_type(part: str) -> tuple[str, float]:
    pieces = [p.strip() for p in part.split(";")]
    quality = 1.0
    for param in pieces[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            try:
                quality = float(value)
            except ValueError:
                quality = 0.0
    return pieces[0].lower(), quality


def _accepts_json(accept: str) -> bool:
    for part in accept.split(","):
        media, quality = _media_type(part)
        if quality > 0 and (media in _JSON_TYPES or media in _WILDCARDS):
            return True
    return False


def response_format(request: Request) -> ResponseFormat:
    params = request.query_params
    requested = params.get("_format")
    if requested is not None:
        if requested.split(";")[0].strip().lower() not in _FORMAT_ALIASES:
            raise FhirError(
                Category.NOT_ACCEPTABLE,
                Issue(f"_format {requested[:60]!r} is not served; use json", code="not-supported"),
            )
    else:
        accept = request.headers.get("accept")
        if accept and not _accepts_json(accept):
            raise FhirError(
                Category.NOT_ACCEPTABLE,
                Issue(
                    f"Cannot answer Accept: {accept[:100]}; this server serves "
                    "application/fhir+json and application/json",
                    code="not-supported",
                ),
            )
    return PRETTY if params.get("_pretty") == "true" else COMPACT


def require_json_body(request: Request) -> None:
    content_type = request.headers.get("content-type")
    if content_type is None:
        return  # curl and some clients send none; the body must still parse as JSON
    media = content_type.split(";")[0].strip().lower()
    if media not in _JSON_TYPES:
        raise FhirError(
            Category.UNSUPPORTED_MEDIA_TYPE,
            Issue(
                f"Content-Type {content_type[:100]!r} is not supported; send application/fhir+json",
                code="not-supported",
            ),
        )
