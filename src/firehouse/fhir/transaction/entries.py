"""The request of each batch/transaction entry, parsed.

https://hl7.org/fhir/R4/bundle-definitions.html#Bundle.entry.request:
``method`` and ``url`` (relative to the server's base) say what the entry does;
``ifMatch`` and ``ifNoneExist`` make it conditional
(https://hl7.org/fhir/R4/http.html#transaction). Pure: nothing here reads
storage.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qsl

from firehouse.errors import Category, FhirError, Issue, invalid
from firehouse.fhir import definitions
from firehouse.fhir.resource import is_valid_id

Method = Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
Params = tuple[tuple[str, str], ...]
METHODS: tuple[Method, ...] = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


@dataclass(frozen=True, slots=True)
class Entry:
    """One ``Bundle.entry`` of a batch or transaction."""

    index: int  # position in Bundle.entry, as in the FHIRPath Bundle.entry[index]
    method: Method
    url: str
    resource_type: str
    id: str | None  # Patient/123
    version: str | None  # Patient/123/_history/2 (a vread)
    query: Params | None  # Patient?identifier=x: conditional write, or a search
    if_match: int | None
    if_none_exist: Params | None
    resource: Any
    full_url: str | None

    @property
    def where(self) -> str:
        return f"Bundle.entry[{self.index}]"

    @property
    def label(self) -> str:
        return f"{self.method} {self.url[:100]}"


def _unsupported(message: str, *expression: str) -> FhirError:
    return FhirError(Category.UNSUPPORTED, Issue(message, "not-supported", expression=expression))


def version_etag(value: str, where: str) -> int:
    """``W/"3"`` (or ``"3"``, or ``3``) -> 3: the version an ``ifMatch`` names."""
    text = value.strip()
    text = text[2:] if text.startswith("W/") else text
    text = text.strip('"')
    if not text.isdigit() or len(text) > 9:
        raise invalid(f'ifMatch must be a version ETag like W/"3", got {value[:60]!r}', where)
    return int(text)


def criteria(text: str, where: str) -> Params:
    params = tuple(parse_qsl(text, keep_blank_values=True))
    if not params:
        raise invalid("A conditional request needs search parameters", where)
    return params


def _split_url(url: str, where: str) -> tuple[str, list[str], str | None]:
    """(type, the path after it, query) of ``Patient/1/_history/2`` or ``Patient?x=y``."""
    path, mark, query = url.lstrip("/").partition("?")
    parts = path.split("/") if path else [""]
    if not definitions.is_resource_type(parts[0]):
        if "://" in url:
            raise invalid("request.url is relative to the server's base", where)
        raise invalid(f"Unknown resource type '{parts[0][:80]}' in request url", where)
    if any(not is_valid_id(p) and not p.startswith("_") for p in parts[1:]):
        raise invalid(f"Invalid resource id in request url '{url[:100]}'", where)
    return parts[0], parts[1:], query if mark else None


def _target(
    method: Method, url: str, where: str
) -> tuple[str, str | None, str | None, Params | None]:
    """(type, id, version, query) of a request url, as ``method`` allows it."""
    kind, rest, query = _split_url(url, where)
    if method == "POST":
        if rest or query is not None:
            raise invalid(f"A POST entry's url is the resource type, not '{url[:100]}'", where)
        return kind, None, None, None
    if method in ("PUT", "PATCH", "DELETE"):
        if len(rest) == 1 and query is None and is_valid_id(rest[0]):
            return kind, rest[0], None, None
        if not rest and query is not None:
            return kind, None, None, criteria(query, where)
        raise invalid(
            f"{method} takes '{kind}/[id]' or '{kind}?[criteria]', not '{url[:100]}'", where
        )
    # GET and HEAD: read, vread and type-level search.
    if not rest:
        return kind, None, None, tuple(parse_qsl(query or "", keep_blank_values=True))
    if len(rest) == 1 and query is None and is_valid_id(rest[0]):
        return kind, rest[0], None, None
    if len(rest) == 3 and rest[1] == "_history" and query is None and is_valid_id(rest[0]):
        return kind, rest[0], rest[2], None
    raise _unsupported(f"'{method} {url[:100]}' is not supported inside a Bundle", where)


def _resource(method: Method, resource: Any, kind: str, where: str) -> None:
    if method in ("POST", "PUT"):
        if not isinstance(resource, dict):
            raise invalid("The entry has no resource", f"{where}.resource")
        if resource.get("resourceType") != kind:
            raise invalid(
                f"The resource's type {resource.get('resourceType')!r} is not the url's '{kind}'",
                f"{where}.resource.resourceType",
            )
    elif method == "PATCH" and not isinstance(resource, dict):
        raise invalid("A PATCH entry's resource holds the patch", f"{where}.resource")


def entry_type(raw: Any) -> str | None:
    """The resource type an entry is about, for reports: its resource's, or its url's."""
    if not isinstance(raw, dict):
        return None
    resource, request = raw.get("resource"), raw.get("request")
    kind = resource.get("resourceType") if isinstance(resource, dict) else None
    if kind is None and isinstance(request, dict) and isinstance(request.get("url"), str):
        kind = request["url"].lstrip("/").split("/")[0].split("?")[0]
        kind = kind if definitions.is_resource_type(kind) else None
    return kind if isinstance(kind, str) else None


def parse_entry(index: int, raw: Any) -> Entry:
    """The entry at ``index``; raises FhirError with the entry's FHIRPath as expression."""
    where = f"Bundle.entry[{index}]"
    if not isinstance(raw, dict):
        raise invalid("The entry is not a JSON object", where)
    request = raw.get("request")
    if not isinstance(request, dict):
        raise invalid("The entry has no request (method and url)", f"{where}.request")
    method, url = request.get("method"), request.get("url")
    if method not in METHODS or not isinstance(url, str):
        raise invalid(
            f"request.method must be one of {', '.join(METHODS)} and request.url a string",
            f"{where}.request",
        )
    kind, id, version, query = _target(method, url, f"{where}.request.url")
    resource = raw.get("resource")
    _resource(method, resource, kind, where)
    if_match = request.get("ifMatch")
    if_none_exist = request.get("ifNoneExist")
    if if_none_exist is not None and (method != "POST" or not isinstance(if_none_exist, str)):
        raise invalid("ifNoneExist belongs to a POST entry", f"{where}.request.ifNoneExist")
    if if_match is not None and (method not in ("PUT", "PATCH", "DELETE") or id is None):
        raise invalid(
            "ifMatch belongs to a PUT, PATCH or DELETE of one resource",
            f"{where}.request.ifMatch",
        )
    full_url = raw.get("fullUrl")
    return Entry(
        index=index,
        method=method,
        url=url,
        resource_type=kind,
        id=id,
        version=version,
        query=query,
        if_match=version_etag(str(if_match), f"{where}.request.ifMatch") if if_match else None,
        if_none_exist=(
            # Sent as "identifier=x", "?identifier=x" or "Patient?identifier=x".
            criteria(if_none_exist.split("?", 1)[-1], f"{where}.request.ifNoneExist")
            if if_none_exist
            else None
        ),
        resource=resource,
        full_url=full_url if isinstance(full_url, str) else None,
    )
