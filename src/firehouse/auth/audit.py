"""One structured audit record per request that reads or changes data.

https://hl7.org/fhir/R4/security.html#audit: who (client, subject, patient
context), what (interaction, resource type and id), and the outcome. One JSON
line on the ``firehouse.audit`` logger, so an operator can ship it to a
separate sink. Never the resource content, nor the token, nor query values
(a search value can itself be health data).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from firehouse.auth.policy import Access

log = logging.getLogger("firehouse.audit")


def record(
    access: Access | None,
    interaction: str,
    resource_type: str | None,
    resource_id: str | None,
    status: int,
    *,
    request_id: str | None = None,
) -> None:
    if not log.isEnabledFor(logging.INFO):
        return  # the operator switched the audit logger off: build nothing
    claims = access.claims if access is not None else None
    line = {
        "time": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "client_id": claims.client_id if claims else None,
        "subject": claims.subject if claims else None,
        "patient": claims.patient if claims else None,
        "interaction": interaction,
        "resource_type": resource_type,
        "id": resource_id,
        "status": status,
        "outcome": "success" if status < 400 else "failure",
    }
    if request_id:
        line["request_id"] = request_id
    log.info(orjson.dumps(line).decode())


def bundle_entries(
    access: Access | None,
    kind: str,
    raw_entries: Sequence[Any],
    results: Sequence[tuple[int, str | None, str | None, int]],
) -> None:
    """One record per batch/transaction entry: ``results`` are (index, method, id, status).

    The type comes from the entry's request URL path only: its query can hold
    search values, which are data too.
    """
    for index, method, resource_id, status in results:
        entry = raw_entries[index] if index < len(raw_entries) else None
        request = entry.get("request") if isinstance(entry, dict) else None
        url = request.get("url") if isinstance(request, dict) else None
        resource_type = None
        if isinstance(url, str):
            first = url.lstrip("/").split("?", 1)[0].split("/", 1)[0]
            resource_type = first[:64] if first.isalpha() else None
        record(access, f"{kind}-entry:{method or '?'}", resource_type, resource_id, status)
