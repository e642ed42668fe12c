"""Building the :class:`~firehouse.auth.gate.Gate` from the settings, once per process."""

from __future__ import annotations

import logging
from typing import Any

from firehouse.auth import devkeys
from firehouse.auth.gate import Gate
from firehouse.auth.jwks import JwksCache
from firehouse.auth.tokens import SAFE_ALGORITHMS, TokenValidator
from firehouse.settings import Settings
from firehouse.storage.base import Storage

log = logging.getLogger("firehouse.auth")


class AuthSettingsError(ValueError):
    """``--auth smart`` is missing something it needs."""


def prepare(settings: Settings) -> None:
    """Check the auth settings once, before any worker starts, and create the
    local development key then (so worker processes never race to create it)."""
    if settings.auth != "smart":
        return
    unsafe = sorted(set(settings.auth_algorithms) - SAFE_ALGORITHMS)
    if unsafe:
        raise AuthSettingsError(
            f"auth_algorithms: {', '.join(unsafe)} refused (asymmetric algorithms only)"
        )
    if settings.auth_jwks:
        if not settings.auth_issuer or not settings.auth_audience:
            raise AuthSettingsError(
                "--auth smart with --auth-jwks needs --auth-issuer and --auth-audience"
            )
    else:
        devkeys.load_or_create_key(devkeys.key_dir(settings))


def build_gate(settings: Settings, storage: Storage) -> Gate:
    if settings.auth != "smart":
        log.warning(
            "AUTHENTICATION IS OFF (--auth none): anyone who can reach this server can read "
            "and change every resource. Use --auth smart for anything but local development."
        )
        return Gate(None, storage)
    if settings.auth_jwks:
        if not settings.auth_issuer or not settings.auth_audience:
            raise AuthSettingsError(
                "--auth smart with --auth-jwks needs --auth-issuer and --auth-audience"
            )
        keys = JwksCache(settings.auth_jwks)
        issuer, audience = settings.auth_issuer, settings.auth_audience
    else:
        folder = devkeys.key_dir(settings)
        key = devkeys.load_or_create_key(folder)
        public = devkeys.public_jwks(key)

        def local(_: str) -> dict[str, Any]:
            return public

        keys = JwksCache(str(folder / devkeys.KEY_FILE), loader=local)
        issuer, audience = devkeys.issuer_and_audience(settings)
        log.warning(
            "--auth smart without --auth-jwks: verifying tokens with the LOCAL development key "
            "in %s (mint tokens with `firehouse auth dev-token`); not for production",
            folder,
        )
    algorithms = settings.auth_algorithms
    validator = TokenValidator(
        keys,
        issuer=issuer,
        audience=audience,
        algorithms=algorithms if settings.auth_jwks else (devkeys.ALGORITHM,),
        leeway=settings.auth_leeway,
    )
    return Gate(validator, storage)
