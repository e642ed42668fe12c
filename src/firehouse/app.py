"""``create_app(settings)``: wires the parts together; no logic of its own.

Layers, outermost first (shared/design/architecture.md): CORS -> error
envelope -> routes -> interactions -> fhir rules -> storage.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.routing import Router
from starlette.types import ASGIApp, Receive, Scope, Send

from firehouse.cors.middleware import CorsMiddleware
from firehouse.cors.policy import CorsPolicy
from firehouse.cors.startup import policy_from_settings
from firehouse.errors import Category, FhirError, Issue
from firehouse.fhir.service import ResourceService
from firehouse.rest.context import Context
from firehouse.rest.envelope import FhirEnvelope
from firehouse.rest.errors import error_response
from firehouse.rest.routes import fhir_routes
from firehouse.settings import Settings
from firehouse.storage import open_storage
from firehouse.storage.base import Storage

log = logging.getLogger("firehouse")

SETTINGS_ENV = "FIREHOUSE_SETTINGS_JSON"


async def _no_route(scope: Scope, receive: Receive, send: Send) -> None:
    error = FhirError(
        Category.NOT_FOUND,
        Issue(f"No FHIR endpoint at {scope['path'][:200]}", code="not-found"),
    )
    await error_response(error, head=scope["method"] == "HEAD")(scope, receive, send)


class FixedPolicy:
    """The CORS policy as given at start-up."""

    def __init__(self, policy: CorsPolicy) -> None:
        self.policy = policy

    def get(self) -> CorsPolicy:
        return self.policy


def create_app(settings: Settings, *, storage: Storage | None = None) -> ASGIApp:
    storage = storage or open_storage(settings.database)
    storage.migrate()
    cors = FixedPolicy(policy_from_settings(settings))
    ctx = Context(
        settings=settings,
        storage=storage,
        service=ResourceService(storage),
        cors_enabled=lambda: cors.get().enabled,
        extra={},
    )

    @asynccontextmanager
    async def lifespan(_: Any) -> AsyncIterator[None]:
        yield
        storage.close()

    router = Router(fhir_routes(ctx), default=_no_route, lifespan=lifespan)
    return CorsMiddleware(FhirEnvelope(router), cors.get)


def app_from_environment() -> ASGIApp:
    """Factory for server worker processes: settings arrive as JSON in the environment."""
    import json

    raw = os.environ.get(SETTINGS_ENV)
    settings = Settings.from_json(json.loads(raw)) if raw else Settings()
    return create_app(settings)
