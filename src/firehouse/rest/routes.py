"""The FHIR API's URL map (https://hl7.org/fhir/R4/http.html#summary).

Each path maps HTTP methods to one interaction handler; a method the path does
not serve is a 405 OperationOutcome with ``Allow``, and HEAD is served wherever
GET is.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from firehouse.auth import discovery
from firehouse.auth.gate import Interaction, interaction_of
from firehouse.errors import Category, FhirError, Issue
from firehouse.rest import (
    batch,
    capabilities,
    conditional,
    create,
    delete,
    health,
    history,
    patch,
    read,
    search,
    update,
)
from firehouse.rest.context import Context
from firehouse.rest.errors import error_response

Handler = Callable[..., Awaitable[Any]]


class Dispatch:
    """An ASGI endpoint choosing the interaction by HTTP method."""

    def __init__(self, ctx: Context, handlers: Mapping[str, Handler]) -> None:
        self.ctx = ctx
        self.handlers = dict(handlers)
        if "GET" in self.handlers:
            self.handlers.setdefault("HEAD", self.handlers["GET"])
        self.allow = ", ".join(sorted(self.handlers))
        # Which interaction each method is decides what a caller needs (auth.gate).
        self.interactions = {
            method: interaction_of(handler.__module__, handler.__name__)
            for method, handler in self.handlers.items()
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        handler = self.handlers.get(request.method)
        gate = self.ctx.gate
        # The interaction decides what the caller needs (firehouse.auth.gate): the
        # one place a FHIR request is authorised, before its handler runs.
        interaction: Interaction | None = None
        admitted = None
        try:
            if handler is not None and gate is not None:
                interaction = self.interactions[request.method]
                admitted = gate.admit(
                    request, interaction, request.path_params, self.ctx.base_url(request)
                )
            if handler is None:
                raise FhirError(
                    Category.METHOD_NOT_ALLOWED,
                    Issue(
                        f"{request.method[:20]} is not allowed on {request.url.path[:200]}; "
                        f"allowed: {self.allow}",
                        code="not-supported",
                    ),
                    headers={"Allow": self.allow},
                )
            response = await handler(self.ctx, request, **request.path_params)
        except FhirError as error:
            response = error_response(error, head=request.method == "HEAD")
        finally:
            if gate is not None:
                gate.release(admitted)
        if gate is not None and interaction is not None:
            gate.audit(request, interaction, response.status_code)
        await response(scope, receive, send)


def fhir_routes(ctx: Context) -> list[BaseRoute]:
    def route(path: str, **handlers: Handler) -> Route:
        return Route(path, Dispatch(ctx, handlers))

    smart = [route("/.well-known/smart-configuration", GET=discovery.smart_configuration)]
    return [
        *(smart if ctx.settings.auth == "smart" else []),
        route("/metadata", GET=capabilities.capabilities),
        route("/health/check", GET=health.health_check),
        route("/_history", GET=history.system_history),
        route("/", GET=search.search_system, POST=batch.batch),
        route("/_search", POST=search.search_system),
        route("/{resource_type}/_history", GET=history.type_history),
        route("/{resource_type}/_search", POST=search.search_type),
        route(
            "/{resource_type}",
            GET=search.search_type,
            POST=create.create,
            PUT=conditional.update,
            DELETE=conditional.delete,
        ),
        route("/{resource_type}/{id}/_history/{version}", GET=read.vread),
        route("/{resource_type}/{id}/_history", GET=history.instance_history),
        route("/{compartment}/{id}/{resource_type}", GET=search.search_compartment),
        route(
            "/{resource_type}/{id}",
            GET=read.read,
            PUT=update.update,
            PATCH=patch.patch,
            DELETE=delete.delete,
        ),
    ]
