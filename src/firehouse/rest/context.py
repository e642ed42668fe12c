"""What every interaction handler needs, wired once by ``create_app``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from firehouse.auth.gate import Gate
from firehouse.fhir.service import ResourceService
from firehouse.search.engine import SearchEngine
from firehouse.settings import Settings
from firehouse.storage.base import Storage


@dataclass(frozen=True)
class Context:
    settings: Settings
    storage: Storage
    service: ResourceService
    # Whether cross-origin access is configured right now (CapabilityStatement).
    cors_enabled: Callable[[], bool]
    search: SearchEngine | None = None
    # Authentication and authorisation of every FHIR request (firehouse.auth.gate).
    gate: Gate | None = None

    def base_url(self, request: Request) -> str:
        """The public base of the FHIR API, without a trailing slash."""
        if self.settings.base_url:
            return self.settings.base_url.rstrip("/")
        scope = request.scope
        key = (scope.get("scheme"), request.headers.get("host"), scope.get("root_path", ""))
        # Building a URL object per request cost ~2% of a read; there are few hosts.
        cached = _BASES.get(key)
        if cached is None:
            cached = str(request.base_url).rstrip("/")
            if len(_BASES) < 256:
                _BASES[key] = cached
        return cached


_BASES: dict[tuple[Any, str | None, Any], str] = {}
