"""SMART discovery: ``GET /.well-known/smart-configuration`` and the CapabilityStatement's security.

https://hl7.org/fhir/smart-app-launch/conformance.html: the JSON document
clients read to find the authorization and token endpoints and what the server
supports; and, for older clients, the ``oauth-uris`` extension on
``CapabilityStatement.rest.security`` (conformance.html#declaring-support-for-oauth2-endpoints).
Public: an app reads it before it has a token.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from firehouse.settings import Settings

# CARIN Blue Button (Authorization, Authentication and Registration) requires
# these SMART capabilities of a Health Plan API; the rest describe what this
# resource server enforces (patient/user/system scopes, v1 and v2 syntax).
CARIN_BB_CAPABILITIES = (
    "launch-standalone",
    "authorize-post",
    "client-public",
    "client-confidential-symmetric",
    "context-standalone-patient",
    "sso-openid-connect",
    "permission-offline",
    "permission-patient",
)
CAPABILITIES = (
    *CARIN_BB_CAPABILITIES,
    "launch-ehr",
    "context-ehr-patient",
    "permission-user",
    "permission-v1",
    "permission-v2",
)
SCOPES_SUPPORTED = (
    "openid",
    "fhirUser",
    "launch",
    "launch/patient",
    "offline_access",
    "online_access",
    "patient/*.read",
    "patient/*.write",
    "patient/*.rs",
    "patient/*.cruds",
    "user/*.read",
    "user/*.write",
    "user/*.rs",
    "user/*.cruds",
    "system/*.read",
    "system/*.write",
    "system/*.rs",
    "system/*.cruds",
)
OAUTH_URIS = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"


def smart_configuration_document(settings: Settings) -> dict[str, Any]:
    document: dict[str, Any] = {
        "issuer": settings.auth_issuer,
        "authorization_endpoint": settings.auth_authorize_url,
        "token_endpoint": settings.auth_token_url,
        "grant_types_supported": ["authorization_code", "client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "private_key_jwt"],
        "scopes_supported": list(SCOPES_SUPPORTED),
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["S256"],
        "capabilities": list(CAPABILITIES),
    }
    if settings.auth_jwks.startswith(("http://", "https://")):
        document["jwks_uri"] = settings.auth_jwks
    return document


def security_section(settings: Settings, cors: bool) -> dict[str, Any]:
    """``CapabilityStatement.rest[0].security`` (R4 capabilitystatement.html, SMART conformance)."""
    security: dict[str, Any] = {"cors": cors}
    if settings.auth != "smart":
        return security
    uris = [
        {"url": "authorize", "valueUri": settings.auth_authorize_url},
        {"url": "token", "valueUri": settings.auth_token_url},
    ]
    security["extension"] = [{"url": OAUTH_URIS, "extension": [u for u in uris if u["valueUri"]]}]
    security["service"] = [
        {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                    "code": "SMART-on-FHIR",
                    "display": "SMART-on-FHIR",
                }
            ],
            "text": "OAuth2 using SMART-on-FHIR profile (see http://docs.smarthealthit.org)",
        }
    ]
    security["description"] = "SMART on FHIR bearer tokens; see /.well-known/smart-configuration"
    return security


async def smart_configuration(ctx: Any, request: Request) -> Response:
    """The route handler (``ctx`` is the REST layer's Context; only its settings are read)."""
    return JSONResponse(smart_configuration_document(ctx.settings))
