"""capabilities: https://hl7.org/fhir/R4/http.html#capabilities.

The CapabilityStatement is generated from what the server really implements
(the interaction lists below are the ones the router serves), so it cannot
drift from the code. ``rest[0].security.cors`` follows the live CORS policy.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from firehouse import FHIR_VERSION, __version__
from firehouse.auth.discovery import security_section
from firehouse.fhir import definitions
from firehouse.fhir.resource import format_instant
from firehouse.rest.context import Context
from firehouse.rest.http import json_response
from firehouse.rest.media import response_format
from firehouse.search.capability import search_sections

TYPE_INTERACTIONS = (
    "read",
    "vread",
    "update",
    "patch",
    "delete",
    "history-instance",
    "history-type",
    "create",
    "search-type",
)
SYSTEM_INTERACTIONS = ("transaction", "batch", "history-system", "search-system")


def capability_statement(ctx: Context, request: Request) -> dict[str, Any]:
    base = ctx.base_url(request)
    search = search_sections(ctx.search.registry()) if ctx.search is not None else {}
    resources = [
        {
            "type": resource_type,
            "profile": f"http://hl7.org/fhir/StructureDefinition/{resource_type}",
            "interaction": [{"code": code} for code in TYPE_INTERACTIONS],
            "versioning": "versioned-update",
            "readHistory": True,
            "updateCreate": True,
            "conditionalCreate": True,
            "conditionalRead": "modified-since",
            "conditionalUpdate": True,
            "conditionalDelete": (
                "multiple" if ctx.settings.conditional_delete_multiple else "single"
            ),
            **search.get(resource_type, {}),
        }
        for resource_type in sorted(definitions.resource_types())
    ]
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": format_instant(datetime.now(UTC)),
        "publisher": "Firehouse",
        "kind": "instance",
        "software": {"name": "Firehouse", "version": __version__},
        "implementation": {"description": "Firehouse FHIR R4 server", "url": base},
        "fhirVersion": FHIR_VERSION,
        "format": ["application/fhir+json", "application/json"],
        # JSON Patch, and FHIRPath Patch (a Parameters body): rest/patch.py.
        "patchFormat": ["application/json-patch+json", "application/fhir+json"],
        "rest": [
            {
                "mode": "server",
                "security": security_section(ctx.settings, ctx.cors_enabled()),
                "resource": resources,
                "interaction": [{"code": code} for code in SYSTEM_INTERACTIONS],
            }
        ],
    }


async def capabilities(ctx: Context, request: Request) -> Response:
    return json_response(capability_statement(ctx, request), response_format(request))
