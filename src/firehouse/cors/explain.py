"""What a browser will do with a cross-origin call, in plain words.

For ``firehouse cors check`` and ``POST /admin/cors/check``: given the policy,
a page's origin, a method and the headers the page's script sets, play out
what the server answers (:mod:`firehouse.cors.policy`) and what the browser
then decides, following the Fetch standard:

- which requests need a preflight: https://fetch.spec.whatwg.org/#cors-safelisted-method
  and https://fetch.spec.whatwg.org/#cors-safelisted-request-header
- the check of the preflight answer: https://fetch.spec.whatwg.org/#cors-preflight-fetch
  (``Authorization`` is never covered by a literal ``*``; with credentials,
  ``*`` is no wildcard at all)
- the check of the response: https://fetch.spec.whatwg.org/#cors-check
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from firehouse.cors.decision import (
    ALLOW_CREDENTIALS,
    ALLOW_HEADERS,
    ALLOW_METHODS,
    ALLOW_ORIGIN,
    EXPOSE_HEADERS,
    MAX_AGE,
    CorsDecision,
)
from firehouse.cors.grammar import is_token, normalise_origin, show
from firehouse.cors.policy import CorsPolicy, decide_actual, decide_preflight, warnings

SAFELISTED_METHODS = frozenset({"GET", "HEAD", "POST"})
# Fetch "normalize a method": only these six are upper-cased by the browser.
_NORMALISED_METHODS = frozenset({"DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"})
_FORBIDDEN_METHODS = frozenset({"CONNECT", "TRACE", "TRACK"})
# Safelisted for any value a FHIR app plausibly sends. Content-Type is only
# safelisted for form and text/plain bodies, never for application/fhir+json,
# so it is treated as needing permission.
_SAFELISTED_HEADERS = frozenset({"accept", "accept-language", "content-language"})
# https://fetch.spec.whatwg.org/#forbidden-request-header: script cannot set these.
_FORBIDDEN_HEADERS = frozenset(
    {
        "accept-charset",
        "accept-encoding",
        "access-control-request-headers",
        "access-control-request-method",
        "connection",
        "content-length",
        "cookie",
        "cookie2",
        "date",
        "dnt",
        "expect",
        "host",
        "keep-alive",
        "origin",
        "referer",
        "set-cookie",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "via",
    }
)


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The browser's verdict on one call, and why.

    ``allowed`` is whether the page's script gets the response. ``preflight``
    is the server's answer to a preflight for this call (computed even when
    the browser would not send one, ``preflight_needed`` says if it does);
    ``actual`` is what the server adds to the response itself.
    """

    allowed: bool
    reason: str
    preflight_needed: bool
    preflight: CorsDecision
    actual: CorsDecision
    warnings: tuple[str, ...] = ()

    def to_json(self) -> dict[str, object]:
        return {
            "allowed": self.allowed,
            "reason": self.reason,
            "preflightNeeded": self.preflight_needed,
            "preflight": _decision_json(self.preflight),
            "actual": _decision_json(self.actual),
            "warnings": list(self.warnings),
        }


def explain(
    policy: CorsPolicy,
    origin: str,
    method: str,
    headers: Sequence[str] = (),
    *,
    credentials: bool | None = None,
) -> CheckResult:
    """Will a page on ``origin`` calling ``method`` with ``headers`` get the response?

    ``headers`` are the names the page's script sets. ``credentials`` is
    whether the call sends cookies or HTTP auth; by default, exactly when the
    policy allows credentials.
    """
    include = policy.allow_credentials if credentials is None else credentials
    method = method.strip()
    if method.upper() in _NORMALISED_METHODS:
        method = method.upper()
    names = [h.strip() for h in headers if h.strip()]
    unsafe = sorted({h.lower() for h in names if _needs_permission(h)})
    preflight_needed = method not in SAFELISTED_METHODS or bool(unsafe)
    preflight = decide_preflight(policy, origin, method, ",".join(unsafe) if unsafe else None)
    actual = decide_actual(policy, origin)

    def result(allowed: bool, reason: str) -> CheckResult:
        notes = _ignored_headers(names)
        text = f"{reason}{notes}"
        return CheckResult(
            allowed, text, preflight_needed, preflight, actual, tuple(warnings(policy))
        )

    refusal = _refuse_inputs(policy, origin, method, names)
    if refusal is None:
        refusal = _refuse_origin(policy, origin, preflight_needed)
    if refusal is not None:
        return result(False, refusal)
    if preflight_needed:
        refusal = _browser_checks_preflight(preflight, method, unsafe, include)
        if refusal is not None:
            return result(False, refusal)
    refusal = _cors_check(actual, include)
    if refusal is not None:
        return result(False, refusal)
    return result(True, _allowed_text(policy, origin, method, unsafe, include, preflight, actual))


def _needs_permission(name: str) -> bool:
    lower = name.lower()
    if lower in _SAFELISTED_HEADERS or lower in _FORBIDDEN_HEADERS:
        return False
    return not lower.startswith(("proxy-", "sec-"))


def _ignored_headers(names: Sequence[str]) -> str:
    ignored = [
        n
        for n in names
        if n.lower() in _FORBIDDEN_HEADERS or n.lower().startswith(("proxy-", "sec-"))
    ]
    if not ignored:
        return ""
    return (
        f" (note: script cannot set {', '.join(ignored)}; the browser manages "
        f"{'it' if len(ignored) == 1 else 'them'} itself, so "
        f"{'it was' if len(ignored) == 1 else 'they were'} left out)"
    )


def _refuse_inputs(
    policy: CorsPolicy, origin: str, method: str, names: Sequence[str]
) -> str | None:
    if not policy.enabled:
        return (
            "refused: CORS is off (no origins are configured), so browsers block "
            "every cross-origin call to this server"
        )
    if not is_token(method) or method == "*":
        return f"refused: {show(method)} is not an HTTP method"
    if method.upper() in _FORBIDDEN_METHODS:
        return f"refused: browsers never let a page send a {method.upper()} request"
    bad = [n for n in names if not is_token(n)]
    if bad:
        return f"refused: {', '.join(show(n) for n in bad)} is not a valid header name"
    return None


def _refuse_origin(policy: CorsPolicy, origin: str, preflight_needed: bool) -> str | None:
    # A simple request is sent without asking: the server acts on it, and the
    # browser merely hides the answer. Worth saying for a POST.
    hidden = (
        ""
        if preflight_needed
        else "; the server still receives this simple request, the browser only "
        "hides the response from the page"
    )
    if origin == "null":
        if policy.any_origin:
            return None
        return (
            'refused: origin "null" (sent by sandboxed frames, file: pages and some '
            f"redirects) is only allowed when origins is *{hidden}"
        )
    normalised = normalise_origin(origin)
    if normalised is None:
        return (
            f"refused: {show(origin)} is not an origin; browsers send "
            f"scheme://host[:port], such as https://app.example.com{hidden}"
        )
    if policy.any_origin or normalised in policy.origins:
        return None
    return (
        f"refused: origin {normalised} is not allowed; allowed origins are "
        f"{', '.join(policy.origins)}{hidden}"
    )


def _browser_checks_preflight(
    answer: CorsDecision, method: str, unsafe: Sequence[str], include: bool
) -> str | None:
    """The browser's checks of a preflight answer, in the order Fetch runs them."""
    refusal = _cors_check(answer, include)
    if refusal is not None:
        return refusal
    methods = _split(answer.header(ALLOW_METHODS))
    if (
        method not in methods
        and method not in SAFELISTED_METHODS
        and (include or "*" not in methods)
    ):
        listed = ", ".join(methods) or "none"
        text = (
            f"origin allowed, but method {method} is not in the allowed methods "
            f"({listed}), so the browser will block the request"
        )
        if method.upper() in methods:
            text += (
                f"; browsers send {method} exactly as the page spells it, so write "
                f"{method.upper()} in the page's fetch() call"
            )
        return text
    allowed = {h.lower() for h in _split(answer.header(ALLOW_HEADERS))}
    wildcard = "*" in allowed and not include
    missing = [h for h in unsafe if h not in allowed and (h == "authorization" or not wildcard)]
    if missing:
        listed = ", ".join(_split(answer.header(ALLOW_HEADERS))) or "none"
        names = ", ".join(_display(h) for h in missing)
        verb = "is" if len(missing) == 1 else "are"
        text = (
            f"origin allowed, but header{'s' * (len(missing) > 1)} {names} {verb} not in "
            f"the allowed headers ({listed}), so the browser will block the request"
        )
        if "authorization" in missing and "*" in allowed:
            text += "; a * never covers Authorization, list it by name"
        return text
    return None


def _cors_check(answer: CorsDecision, include: bool) -> str | None:
    """https://fetch.spec.whatwg.org/#cors-check, on the headers the server sends."""
    allow_origin = answer.header(ALLOW_ORIGIN)
    if allow_origin is None:
        return "refused: the server sends no Access-Control-Allow-Origin for this origin"
    if allow_origin == "*" and include:
        return (
            "refused: the call sends credentials (cookies or HTTP auth), and browsers "
            "never accept Access-Control-Allow-Origin: * for that; list the origins and "
            "turn allowCredentials on, or call without credentials"
        )
    if include and answer.header(ALLOW_CREDENTIALS) != "true":
        return (
            "refused: the call sends credentials (cookies or HTTP auth) but "
            "allowCredentials is off, so the browser will block the response"
        )
    return None


def _allowed_text(
    policy: CorsPolicy,
    origin: str,
    method: str,
    unsafe: Sequence[str],
    include: bool,
    preflight: CorsDecision,
    actual: CorsDecision,
) -> str:
    shown = origin if origin == "null" else normalise_origin(origin)
    with_credentials = " with credentials" if include else ""
    asked = method
    if unsafe:
        asked += f" with headers {', '.join(_display(h) for h in unsafe)}"
    if method in SAFELISTED_METHODS and not unsafe:
        text = (
            f"allowed: {method}{with_credentials} from {shown} is a simple request that "
            "needs no preflight; the response carries Access-Control-Allow-Origin: "
            f"{actual.header(ALLOW_ORIGIN)}"
        )
    else:
        text = f"allowed: the preflight for {asked}{with_credentials} from {shown} succeeds"
        max_age = preflight.header(MAX_AGE)
        if max_age is not None:
            text += f" and the browser may reuse it for {max_age} seconds"
    exposed = actual.header(EXPOSE_HEADERS)
    if exposed:
        text += f"; script can read {exposed.replace(',', ', ')}"
    return text


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()] if value else []


def _display(name: str) -> str:
    # Browsers send header names lower-cased; show them the way people write them.
    return "-".join(part[:1].upper() + part[1:] for part in name.split("-"))


def _decision_json(decision: CorsDecision) -> dict[str, object]:
    return {
        "allowed": decision.allowed,
        "reason": decision.reason.value,
        "headers": dict(decision.headers),
        "vary": list(decision.vary),
    }
