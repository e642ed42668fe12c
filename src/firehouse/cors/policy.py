"""The CORS policy: one frozen value, and the decision for each request.

Pure: no I/O and no web framework, so every rule of ``shared/spec/cors.md``
is tested as a table without a server. The browser's half of the protocol is
the Fetch standard (https://fetch.spec.whatwg.org/#http-cors-protocol); this
package is the server's half.

A policy is checked and normalised when it is built, from JSON
(:func:`parse_policy`) or directly, so a :class:`CorsPolicy` that exists is
valid. Building it also compiles the decisions (:mod:`firehouse.cors.decision`)
so that deciding a request costs a dictionary look-up.

This module is the package's public surface; validation lives in
:mod:`firehouse.cors.validation` and the origin/token grammar in
:mod:`firehouse.cors.grammar`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from firehouse.cors.decision import CorsDecision, Plan, Reason
from firehouse.cors.validation import (
    ANY,
    DEFAULT_EXPOSED_HEADERS,
    MAX_AGE_LIMIT,
    SETTINGS,
    InvalidPolicy,
    PolicyProblem,
    check,
    read_json,
    split_list_setting,
)

__all__ = [
    "ANY",
    "CORS_OFF",
    "DEFAULT_EXPOSED_HEADERS",
    "MAX_AGE_LIMIT",
    "SETTINGS",
    "CorsDecision",
    "CorsPolicy",
    "InvalidPolicy",
    "PolicyProblem",
    "Reason",
    "decide_actual",
    "decide_preflight",
    "parse_policy",
    "policy_to_json",
    "split_list_setting",
    "warnings",
]


@dataclass(frozen=True, slots=True)
class CorsPolicy:
    """The one CORS policy of a server (``shared/spec/cors.md``, "The settings").

    ``origins`` empty means CORS is off. ``("*",)`` as ``origins``, ``headers``
    or ``methods`` means "any". Values are normalised on construction (origins
    lower-cased without default port, methods upper-case, duplicates dropped);
    an invalid value or combination raises :class:`InvalidPolicy`.
    """

    origins: tuple[str, ...] = ()
    headers: tuple[str, ...] = ()
    methods: tuple[str, ...] = ()
    max_age: int | None = None
    allow_credentials: bool = False
    exposed_headers: tuple[str, ...] = DEFAULT_EXPOSED_HEADERS
    _plan: Plan = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        values, problems = check(
            self.origins,
            self.headers,
            self.methods,
            self.max_age,
            self.allow_credentials,
            self.exposed_headers,
        )
        if problems:
            raise InvalidPolicy(problems)
        for name, value in values._asdict().items():
            object.__setattr__(self, name, value)
        object.__setattr__(self, "_plan", Plan(self))

    @property
    def enabled(self) -> bool:
        """False when no origin is listed: CORS is off."""
        return bool(self.origins)

    @property
    def any_origin(self) -> bool:
        return self.origins == (ANY,)

    @property
    def any_header(self) -> bool:
        return self.headers == (ANY,)

    @property
    def any_method(self) -> bool:
        return self.methods == (ANY,)

    @property
    def varies_by_origin(self) -> bool:
        """True when Access-Control-Allow-Origin depends on the request: Vary: Origin."""
        return self.enabled and not self.any_origin


def parse_policy(data: Mapping[str, object]) -> CorsPolicy:
    """A policy from the JSON setting names; a missing setting takes its default.

    Raises :class:`InvalidPolicy` listing every problem at once: unknown
    settings, values of the wrong JSON type, and each broken rule.
    """
    return CorsPolicy(*read_json(data))


def policy_to_json(policy: CorsPolicy) -> dict[str, object]:
    """The policy with the JSON setting names; :func:`parse_policy` reads it back equal."""
    return {
        "origins": list(policy.origins),
        "headers": list(policy.headers),
        "methods": list(policy.methods),
        "maxAge": policy.max_age,
        "allowCredentials": policy.allow_credentials,
        "exposedHeaders": list(policy.exposed_headers),
    }


def warnings(policy: CorsPolicy) -> list[str]:
    """What every surface (CLI, API, settings page, log) must warn about a valid policy."""
    found = []
    if policy.any_origin:
        found.append(
            "security risk: origins is *, so any website a user visits can call this "
            "FHIR API from their browser; list the origins you trust instead"
        )
    return found


def decide_preflight(
    policy: CorsPolicy,
    origin: str | None,
    request_method: str | None,
    request_headers: str | None,
) -> CorsDecision:
    """The headers of the 204 answer to a preflight.

    ``origin``, ``request_method`` and ``request_headers`` are the raw values
    of ``Origin`` and ``Access-Control-Request-Method`` / ``-Headers`` (None
    when absent). With ``methods``/``headers`` ``*`` the requested method and
    header names are echoed, after checking they are tokens; a value that is
    not refuses the preflight (https://fetch.spec.whatwg.org/#cors-preflight-fetch).
    """
    return policy._plan.preflight(origin, request_method, request_headers)


def decide_actual(policy: CorsPolicy, origin: str | None) -> CorsDecision:
    """The headers for any response that is not a preflight, whatever its status.

    Allow-Origin, Allow-Credentials when enabled and Expose-Headers when not
    empty (https://fetch.spec.whatwg.org/#http-responses); never a
    preflight-only header.
    """
    return policy._plan.actual(origin)


# Built last: a policy needs the validation imported above.
CORS_OFF = CorsPolicy()
