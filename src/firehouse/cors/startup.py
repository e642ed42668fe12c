"""The CORS policy given at start-up by flags, environment or TOML (shared/spec/interface.md)."""

from __future__ import annotations

from typing import Any

from firehouse.settings import Settings

# Setting name in firehouse.settings -> JSON setting name of shared/spec/cors.md.
JSON_NAMES = {
    "cors_origins": "origins",
    "cors_headers": "headers",
    "cors_methods": "methods",
    "cors_max_age": "maxAge",
    "cors_allow_credentials": "allowCredentials",
    "cors_exposed_headers": "exposedHeaders",
}


def given_cors_settings(settings: Settings) -> dict[str, Any]:
    """The CORS settings given explicitly, with their JSON names (values as lists)."""
    given: dict[str, Any] = {}
    for name, json_name in JSON_NAMES.items():
        if name in settings.explicit:
            value = getattr(settings, name)
            given[json_name] = list(value) if isinstance(value, tuple) else value
    return given
