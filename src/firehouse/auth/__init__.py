"""SMART on FHIR security: Firehouse as an OAuth 2.0 resource server.

https://hl7.org/fhir/smart-app-launch/ (SMART App Launch 2.x) and
https://hl7.org/fhir/R4/security.html. :mod:`.jwks` fetches the issuer's keys,
:mod:`.tokens` validates bearer tokens, :mod:`.scopes` reads SMART scopes (v1
and v2), :mod:`.policy` decides what a token may do, :mod:`.compartment`
checks that a resource is in the patient's compartment, :mod:`.gate` applies
all of it to one request, :mod:`.audit` records the outcome, :mod:`.discovery`
serves ``/.well-known/smart-configuration`` and :mod:`.devkeys` mints tokens
for local use (``firehouse auth dev-token``).
"""
