"""Bearer token validation: https://hl7.org/fhir/smart-app-launch/app-launch.html#access-token.

Firehouse is an OAuth 2.0 resource server (RFC 6750): every FHIR request
carries ``Authorization: Bearer <JWT>``. The JWT is checked with ``joserfc``
(no hand-written crypto): signature against the issuer's JWKS, an algorithm
from an allow-list of asymmetric ones only (``none`` and HMAC are refused, so a
token "signed" with the public key as an HMAC secret never passes),
``iss``, ``aud``, ``exp`` and ``nbf`` with a small leeway.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError

from firehouse.auth.jwks import JwksCache, JwksError
from firehouse.errors import Category, FhirError, Issue

# Asymmetric only (RFC 7518 3.1): HS* would let anyone holding the public
# key sign, and "none" signs nothing.
SAFE_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "EdDSA"}
)
DEFAULT_ALGORITHMS = ("RS256", "RS384", "ES256", "ES384", "PS256")
REALM = "firehouse"


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """What the rest of Firehouse needs from a validated access token."""

    subject: str | None
    client_id: str | None
    scopes: tuple[str, ...]
    patient: (
        str | None
    )  # SMART launch context (app-launch.html#launch-context-arrives-with-your-access_token)
    fhir_user: str | None


def _clean(text: str) -> str:
    # error_description is a quoted-string of a restricted charset (RFC 6750 3).
    return "".join(c for c in text if c.isprintable() and c not in '"\\')[:200]


def unauthorized(description: str, *, error: str | None = "invalid_token") -> FhirError:
    """401 with ``WWW-Authenticate`` (RFC 6750 3) and an OperationOutcome."""
    challenge = f'Bearer realm="{REALM}"'
    if error is not None:
        challenge += f', error="{error}", error_description="{_clean(description)}"'
    return FhirError(
        Category.UNAUTHORIZED,
        Issue(description, "login"),
        headers={"WWW-Authenticate": challenge},
    )


def _header(token: str) -> Mapping[str, Any]:
    parts = token.split(".")
    if len(parts) != 3:
        raise unauthorized("the bearer token is not a signed JWT (JWS compact form)")
    try:
        raw = base64.urlsafe_b64decode(parts[0] + "=" * (-len(parts[0]) % 4))
        header = json.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise unauthorized("the bearer token's header is not base64url JSON") from exc
    if not isinstance(header, dict):
        raise unauthorized("the bearer token's header is not a JSON object")
    return header


def _scopes(claims: Mapping[str, Any]) -> tuple[str, ...]:
    # RFC 8693 / RFC 9068 "scope" is a space-separated string; some IdPs send "scp" lists.
    raw = claims.get("scope", claims.get("scp", ""))
    if isinstance(raw, list):
        return tuple(str(s) for s in raw)
    return tuple(str(raw).split())


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


class TokenValidator:
    """Validates bearer tokens against one issuer, audience and key set."""

    def __init__(
        self,
        keys: JwksCache,
        *,
        issuer: str,
        audience: str,
        algorithms: tuple[str, ...] = DEFAULT_ALGORITHMS,
        leeway: int = 30,
        clock: Callable[[], float] = time.time,
    ) -> None:
        unsafe = sorted(set(algorithms) - SAFE_ALGORITHMS)
        if unsafe:
            raise ValueError(f"refusing unsafe token algorithm(s): {', '.join(unsafe)}")
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.algorithms = tuple(algorithms)
        self.leeway = leeway
        self.clock = clock

    def validate(self, token: str) -> TokenClaims:
        """The token's claims; raises a 401 :class:`FhirError` naming what is wrong."""
        header = _header(token)
        alg = header.get("alg")
        if alg not in self.algorithms:
            raise unauthorized(f"token algorithm {str(alg)[:20]!r} is not accepted")
        kid = header.get("kid")
        try:
            keys = self.keys.keys_for(kid if isinstance(kid, str) else None)
            decoded = jwt.decode(token, keys, algorithms=list(self.algorithms))
        except JwksError as exc:
            raise FhirError(
                Category.UNAVAILABLE, Issue("the token signing keys cannot be loaded", "transient")
            ) from exc
        except JoseError as exc:
            raise unauthorized(f"the token signature is not valid ({exc.error})") from exc
        except ValueError as exc:  # malformed payload or key material
            raise unauthorized("the token cannot be decoded") from exc
        claims = decoded.claims
        registry = jwt.JWTClaimsRegistry(
            now=lambda: int(self.clock()),
            leeway=self.leeway,
            iss={"essential": True, "value": self.issuer},
            aud={"essential": True, "value": self.audience},
            exp={"essential": True},
        )
        try:
            registry.validate(claims)
        except JoseError as exc:
            raise unauthorized(
                f"the token is not valid here: {exc.description or exc.error}"
            ) from exc
        return TokenClaims(
            subject=_text(claims.get("sub")),
            client_id=_text(claims.get("client_id")) or _text(claims.get("azp")),
            scopes=_scopes(claims),
            patient=_text(claims.get("patient")),
            fhir_user=_text(claims.get("fhirUser")),
        )
