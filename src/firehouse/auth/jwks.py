"""The issuer's signing keys (JWKS), from a file or a URL, cached.

https://www.rfc-editor.org/rfc/rfc7517 (JWK Set) and SMART App Launch
"Token introspection / Access token" (https://hl7.org/fhir/smart-app-launch/app-launch.html#access-token):
the resource server verifies the signature with the authorization server's
published keys. Keys rotate: a token naming a ``kid`` the cache does not hold
triggers a refetch, at most once per ``min_refresh`` seconds so that a flood
of tokens with made-up ``kid`` values cannot turn the server into a
hammer against the identity provider.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from joserfc.jwk import KeySet

log = logging.getLogger("firehouse.auth")

# Only public material is ever loaded from a JWKS: a private member ("d", the
# RSA primes...) in a published key set is a leak we refuse to use.
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "k"})


class JwksError(Exception):
    """The key set could not be loaded."""


def _public_only(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise JwksError("a JWKS is a JSON object with a 'keys' list")
    keys = []
    for key in data["keys"]:
        if not isinstance(key, dict):
            raise JwksError("each JWKS key is a JSON object")
        # Symmetric keys ("oct") are never accepted: HMAC needs a shared secret,
        # and a resource server must not trust one (issue 7).
        if key.get("kty") == "oct":
            continue
        keys.append({k: v for k, v in key.items() if k not in _PRIVATE_MEMBERS})
    return {"keys": keys}


def read_jwks(location: str, timeout: float = 5.0) -> dict[str, Any]:
    """The JWKS at ``location`` (``http(s)://`` URL or file path), public keys only."""
    try:
        if location.startswith(("http://", "https://")):
            request = urllib.request.Request(location, headers={"Accept": "application/json"})
            with urllib.request.urlopen(request, timeout=timeout) as response:
                raw = response.read(1_000_000)
        else:
            raw = Path(location).read_bytes()
        return _public_only(json.loads(raw))
    except JwksError:
        raise
    except (OSError, ValueError) as exc:
        raise JwksError(f"cannot load the JWKS from {location}: {exc}") from exc


class JwksCache:
    """A :class:`KeySet` loaded on first use, refetched on an unknown ``kid``."""

    def __init__(
        self,
        location: str,
        *,
        min_refresh: float = 30.0,
        loader: Callable[[str], dict[str, Any]] = read_jwks,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.location = location
        self.min_refresh = min_refresh
        self._loader = loader
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: KeySet | None = None
        self._kids: frozenset[str] = frozenset()
        self._loaded_at: float | None = None

    def _load(self) -> None:
        data = self._loader(self.location)
        self._keys = KeySet.import_key_set(data)  # type: ignore[arg-type]
        self._kids = frozenset(str(k["kid"]) for k in data["keys"] if "kid" in k)
        self._loaded_at = self._clock()
        log.info("loaded %d signing key(s) from %s", len(data["keys"]), self.location)

    def keys_for(self, kid: str | None) -> KeySet:
        """The key set, refreshed first when ``kid`` is not in it (rate-limited)."""
        with self._lock:
            if self._keys is None:
                self._load()
            elif kid is not None and kid not in self._kids:
                assert self._loaded_at is not None
                if self._clock() - self._loaded_at >= self.min_refresh:
                    try:
                        self._load()
                    except JwksError as exc:
                        # Keep the old keys: an IdP hiccup must not lock everyone out.
                        log.warning("%s", exc)
            assert self._keys is not None
            return self._keys
