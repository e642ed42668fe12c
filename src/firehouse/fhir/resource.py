"""Resource rules the server manages itself: ids, ``meta``, versions.

https://hl7.org/fhir/R4/resource.html#id and #meta: the server assigns ``id``
on create, and sets ``meta.versionId`` and ``meta.lastUpdated`` on every write;
the rest of the client's JSON is kept exactly, in the client's order.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

from firehouse.fhir import json as fhir_json

ID_PATTERN = re.compile(r"[A-Za-z0-9\-.]{1,64}")


def is_valid_id(value: str) -> bool:
    return ID_PATTERN.fullmatch(value) is not None


def new_id() -> str:
    return str(uuid.uuid4())


def format_instant(moment: datetime) -> str:
    """A FHIR instant in UTC with microseconds: ``2026-12-04T20:25:47.123456Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def stamp(resource: dict[str, Any], id: str, version: int, last_updated: datetime) -> bytes:
    """The stored bytes: the client's JSON with the server's id and meta.

    ``id`` and ``meta`` keep their place when the client sent them; otherwise
    they follow ``resourceType``, where FHIR's JSON examples put them.
    """
    meta = dict(resource.get("meta") or {})
    meta["versionId"] = str(version)
    meta["lastUpdated"] = format_instant(last_updated)
    stamped: dict[str, Any] = {}
    for key, value in resource.items():
        if key == "id":
            stamped["id"] = id
        elif key == "meta":
            stamped["meta"] = meta
        else:
            stamped[key] = value
        if key == "resourceType":
            if "id" not in resource:
                stamped["id"] = id
            if "meta" not in resource:
                stamped["meta"] = meta
    stamped.setdefault("id", id)
    stamped.setdefault("meta", meta)
    return fhir_json.dumps(stamped)
