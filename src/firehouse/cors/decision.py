"""The per-request CORS decision, compiled once per policy.

The server side of the CORS protocol (https://fetch.spec.whatwg.org/#http-cors-protocol)
as ``shared/spec/cors.md`` ("How a request is handled") pins it down. A
:class:`Plan` turns a policy into ready-made decisions when the policy is
built, because the middleware asks on every request: deciding costs one
dictionary look-up, plus token checks when a preflight echoes the request.

Nothing taken from a request is ever put in a response header as it came:
an allowed origin is answered with the policy's own spelling of it, and an
echoed method or header list is rebuilt from validated tokens.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from firehouse.cors.grammar import is_token, normalise_origin, parse_token_list

if TYPE_CHECKING:
    from firehouse.cors.policy import CorsPolicy

ANY = "*"
ALLOW_ORIGIN = "Access-Control-Allow-Origin"
ALLOW_CREDENTIALS = "Access-Control-Allow-Credentials"
ALLOW_METHODS = "Access-Control-Allow-Methods"
ALLOW_HEADERS = "Access-Control-Allow-Headers"
MAX_AGE = "Access-Control-Max-Age"
EXPOSE_HEADERS = "Access-Control-Expose-Headers"
VARY_ORIGIN = "Origin"
VARY_METHOD = "Access-Control-Request-Method"
VARY_HEADERS = "Access-Control-Request-Headers"

Header = tuple[str, str]

_ECHO_CACHE_SIZE = 512
_ECHO_KEY_LIMIT = 1024  # longer request values are answered but not remembered


class Reason(enum.StrEnum):
    """Why a request got the CORS headers it got: machine-readable, for logs and tests."""

    ALLOWED = "allowed"
    CORS_OFF = "cors-off"
    NO_ORIGIN = "no-origin"
    ORIGIN_NULL = "origin-null"
    ORIGIN_MALFORMED = "origin-malformed"
    ORIGIN_NOT_ALLOWED = "origin-not-allowed"
    NOT_PREFLIGHT = "not-preflight"
    REQUEST_METHOD_INVALID = "request-method-invalid"
    REQUEST_HEADERS_INVALID = "request-headers-invalid"


@dataclass(frozen=True, slots=True)
class CorsDecision:
    """What to add to one response: CORS headers, and ``Vary`` tokens to merge.

    ``allowed`` says the origin was granted access (and the headers are
    present). Whether a browser then accepts a preflight's method and headers
    is the browser's call; :mod:`firehouse.cors.explain` plays it out.
    ``raw_headers`` / ``raw_vary`` are the same, encoded once for ASGI.
    """

    allowed: bool
    reason: Reason
    headers: tuple[Header, ...] = ()
    vary: tuple[str, ...] = ()
    raw_headers: tuple[tuple[bytes, bytes], ...] = field(init=False, repr=False, compare=False)
    raw_vary: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Values are policy constants or validated tokens, hence ASCII: a
        # failure here is a bug, never a client's doing.
        raw = tuple((n.lower().encode("ascii"), v.encode("ascii")) for n, v in self.headers)
        object.__setattr__(self, "raw_headers", raw)
        object.__setattr__(self, "raw_vary", ", ".join(self.vary).encode("ascii"))

    def header(self, name: str) -> str | None:
        """The value of header ``name`` (any case), or None."""
        wanted = name.lower()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value
        return None


@dataclass(frozen=True, slots=True)
class _Grant:
    """Everything precomputed for one allowed origin (or for any origin under ``*``)."""

    allow_origin: str
    actual: CorsDecision
    preflight: CorsDecision | None  # None when the preflight echoes the request
    preflight_prefix: tuple[Header, ...]


class Plan:
    """A policy compiled to ready-made decisions, plus a bounded memo of echoed ones.

    The memo only remembers answers (a pure function of its key), so the
    policy stays a value: two equal policies decide every request alike.
    """

    __slots__ = (
        "_any_grant",
        "_bad_headers",
        "_bad_method",
        "_echo_headers",
        "_echo_method",
        "_echoes",
        "_enabled",
        "_grants",
        "_headers_header",
        "_max_age_header",
        "_methods_header",
        "_no_origin",
        "_not_preflight",
        "_off",
        "_preflight_vary",
        "_refusals",
    )

    def __init__(self, policy: CorsPolicy) -> None:
        self._enabled = policy.enabled
        vary: tuple[str, ...] = (VARY_ORIGIN,) if policy.varies_by_origin else ()
        self._echo_method = policy.any_method
        self._echo_headers = policy.any_header
        echoed = [VARY_METHOD] if self._echo_method else []
        if self._echo_headers:
            echoed.append(VARY_HEADERS)
        self._preflight_vary = (*vary, *echoed)
        self._off = CorsDecision(False, Reason.CORS_OFF)
        self._no_origin = CorsDecision(False, Reason.NO_ORIGIN, (), vary)
        self._refusals = {
            reason: CorsDecision(False, reason, (), vary)
            for reason in (Reason.ORIGIN_NULL, Reason.ORIGIN_MALFORMED, Reason.ORIGIN_NOT_ALLOWED)
        }
        self._not_preflight = CorsDecision(False, Reason.NOT_PREFLIGHT, (), vary)
        # When the answer echoes the request, a bad request value changes the
        # answer too: vary on it.
        pv = self._preflight_vary
        self._bad_method = CorsDecision(False, Reason.REQUEST_METHOD_INVALID, (), pv)
        self._bad_headers = CorsDecision(False, Reason.REQUEST_HEADERS_INVALID, (), pv)
        self._methods_header = _joined(ALLOW_METHODS, policy.methods, self._echo_method)
        self._headers_header = _joined(ALLOW_HEADERS, policy.headers, self._echo_headers)
        self._max_age_header = None if policy.max_age is None else (MAX_AGE, str(policy.max_age))
        self._echoes: dict[tuple[str, str, str | None], CorsDecision] = {}
        self._grants: dict[str, _Grant] = {}
        self._any_grant: _Grant | None = None
        if policy.any_origin:
            self._any_grant = self._grant(policy, ANY, vary)
        elif self._enabled:
            self._grants = {o: self._grant(policy, o, vary) for o in policy.origins}

    def _grant(self, policy: CorsPolicy, allow_origin: str, vary: tuple[str, ...]) -> _Grant:
        prefix: list[Header] = [(ALLOW_ORIGIN, allow_origin)]
        if policy.allow_credentials:
            prefix.append((ALLOW_CREDENTIALS, "true"))
        actual = list(prefix)
        if policy.exposed_headers:
            actual.append((EXPOSE_HEADERS, ",".join(policy.exposed_headers)))
        preflight = None
        if not (self._echo_method or self._echo_headers):
            fixed = [*prefix, self._methods_header, self._headers_header, self._max_age_header]
            headers = tuple(h for h in fixed if h is not None)
            preflight = CorsDecision(True, Reason.ALLOWED, headers, self._preflight_vary)
        return _Grant(
            allow_origin=allow_origin,
            actual=CorsDecision(True, Reason.ALLOWED, tuple(actual), vary),
            preflight=preflight,
            preflight_prefix=tuple(prefix),
        )

    def _grant_for(self, origin: str | None) -> _Grant | CorsDecision:
        """The grant for a request's ``Origin``, or the refusal to answer with."""
        if not self._enabled:
            return self._off
        if origin is None:
            return self._no_origin
        # Browsers send origins already normalised: allowed ones hit here.
        grant = self._grants.get(origin)
        if grant is not None:
            return grant
        if origin == "null":
            # Sandboxed frames, file: pages and some redirects all say "null":
            # only "*" admits it.
            return self._any_grant or self._refusals[Reason.ORIGIN_NULL]
        normalised = normalise_origin(origin)
        if normalised is None:
            return self._refusals[Reason.ORIGIN_MALFORMED]
        if self._any_grant is not None:
            return self._any_grant
        return self._grants.get(normalised) or self._refusals[Reason.ORIGIN_NOT_ALLOWED]

    def actual(self, origin: str | None) -> CorsDecision:
        grant = self._grant_for(origin)
        return grant if isinstance(grant, CorsDecision) else grant.actual

    def preflight(
        self, origin: str | None, request_method: str | None, request_headers: str | None
    ) -> CorsDecision:
        grant = self._grant_for(origin)
        if isinstance(grant, CorsDecision):
            return grant
        if request_method is None:
            return self._not_preflight
        if grant.preflight is not None:
            return grant.preflight
        # Pages send the same few method/header combinations over and over:
        # building and checking an echo once per combination, not per request,
        # makes an echoing preflight cost what a fixed one does.
        key = (grant.allow_origin, request_method, request_headers)
        decision = self._echoes.get(key)
        if decision is None:
            decision = self._echo(grant, request_method, request_headers)
            if len(self._echoes) >= _ECHO_CACHE_SIZE:
                self._echoes.clear()  # crude, but bounded whatever clients send
            if len(request_method) + len(request_headers or "") <= _ECHO_KEY_LIMIT:
                self._echoes[key] = decision
        return decision

    def _echo(
        self, grant: _Grant, request_method: str, request_headers: str | None
    ) -> CorsDecision:
        headers = list(grant.preflight_prefix)
        if self._echo_method:
            # Echoing "*" would grant every method, not the one asked for.
            if request_method == ANY or not is_token(request_method):
                return self._bad_method
            headers.append((ALLOW_METHODS, request_method))
        elif self._methods_header is not None:
            headers.append(self._methods_header)
        if self._echo_headers:
            if request_headers is not None:
                names = parse_token_list(request_headers)
                if names is None:
                    return self._bad_headers
                if names:  # nothing requested: no Allow-Headers at all (cors.md case 5)
                    headers.append((ALLOW_HEADERS, ",".join(names)))
        elif self._headers_header is not None:
            headers.append(self._headers_header)
        if self._max_age_header is not None:
            headers.append(self._max_age_header)
        return CorsDecision(True, Reason.ALLOWED, tuple(headers), self._preflight_vary)


def _joined(name: str, values: tuple[str, ...], echoed: bool) -> Header | None:
    return None if echoed or not values else (name, ",".join(values))
