"""``create_app(settings)``: wires the parts together; no logic of its own.

Layers, outermost first (shared/design/architecture.md): CORS -> error
envelope -> routes -> interactions -> fhir rules -> storage. The admin plane
(``/admin``) sits inside the CORS layer, which leaves it alone: same-origin only.
The CORS policy is the stored one, refreshed in every process
(:mod:`firehouse.cors.live`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from firehouse.admin import admin_routes
from firehouse.auth.guard import compartment_write_check
from firehouse.auth.setup import build_gate
from firehouse.cors.live import LivePolicy, PolicySource
from firehouse.cors.middleware import CorsMiddleware
from firehouse.cors.store import apply_startup_settings
from firehouse.errors import Category, FhirError, Issue
from firehouse.fhir.service import ResourceService
from firehouse.logs import configure_logging
from firehouse.rest.context import Context
from firehouse.rest.envelope import FhirEnvelope
from firehouse.rest.errors import error_response
from firehouse.rest.router import SegmentRouter
from firehouse.rest.routes import fhir_routes
from firehouse.search.engine import SearchEngine
from firehouse.search.folder import load as load_search_parameters
from firehouse.search.wiring import install as install_search
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


def create_app(
    settings: Settings,
    *,
    storage: Storage | None = None,
    startup_cors: bool = True,
    cors: PolicySource | None = None,
) -> ASGIApp:
    """The whole server as one ASGI app.

    ``startup_cors``: write the CORS settings given in ``settings`` to the
    stored policy first (``firehouse serve`` does that once, before its
    workers start, and passes False). ``cors``: where the policy comes from;
    by default the stored policy, kept fresh by a :class:`LivePolicy`.
    """
    storage = storage or open_storage(settings.database)
    storage.migrate()
    if startup_cors:
        apply_startup_settings(storage, settings)
    live = cors or LivePolicy(storage)
    # A bad file in search_parameters_dir stops the start-up (search/folder.py).
    search_registry = install_search(
        storage, load_search_parameters(settings.search_parameters_dir)
    )
    # Every write passes the SMART patient-compartment check (firehouse.auth.guard).
    storage.write_check = compartment_write_check(storage.indexer)
    ctx = Context(
        settings=settings,
        storage=storage,
        service=ResourceService(storage),
        cors_enabled=lambda: live.get().enabled,
        search=SearchEngine(storage, search_registry.current),
        gate=build_gate(settings, storage),
    )

    @asynccontextmanager
    async def lifespan(_: Any) -> AsyncIterator[None]:
        live.start()
        try:
            yield
        finally:
            live.stop()
            storage.close()

    admin = admin_routes(settings, storage, live if isinstance(live, LivePolicy) else None)
    router = SegmentRouter([*admin, *fhir_routes(ctx)], default=_no_route, lifespan=lifespan)
    return CorsMiddleware(FhirEnvelope(router), live.get)


def app_from_environment() -> ASGIApp:
    """Factory for server worker processes: settings arrive as JSON in the environment."""
    import json

    raw = os.environ.get(SETTINGS_ENV)
    settings = Settings.from_json(json.loads(raw)) if raw else Settings()
    configure_logging(settings.log_level)
    # firehouse serve wrote the start-up CORS settings once, before the
    # workers started: a worker restarted later must not undo an admin's change.
    return create_app(settings, startup_cors=False)
