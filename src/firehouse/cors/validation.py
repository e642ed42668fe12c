"""Validation of CORS settings: every rule of ``shared/spec/cors.md`` ("Validation").

Each problem has a stable id (in the style of django-cors-headers' system
checks) so the CLI, the admin API and the settings page can all point at the
same rule, and a sentence naming the offending value. Checking never stops at
the first problem: a rejected policy lists all of them at once.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

from firehouse.cors.grammar import is_token, parse_origin, show

ANY = "*"
DEFAULT_EXPOSED_HEADERS = ("Location", "Content-Location", "ETag", "Last-Modified", "X-Request-Id")
MAX_AGE_LIMIT = 99999

UNKNOWN_SETTING = "cors.E001"
WRONG_TYPE = "cors.E002"
ANY_WITH_CREDENTIALS = "cors.E003"
ANY_MIXED = "cors.E004"
# cors.E005 .. cors.E011 are the origin grammar's, see grammar.py.
BAD_HEADER = "cors.E012"
BAD_METHOD = "cors.E013"
BAD_MAX_AGE = "cors.E014"
EXPOSED_ANY = "cors.E015"

# JSON setting name -> CorsPolicy attribute (also the TOML key), in report order.
SETTINGS = {
    "origins": "origins",
    "headers": "headers",
    "methods": "methods",
    "maxAge": "max_age",
    "allowCredentials": "allow_credentials",
    "exposedHeaders": "exposed_headers",
}
_BY_ATTRIBUTE = {attr: name for name, attr in SETTINGS.items()}


@dataclass(frozen=True, slots=True)
class PolicyProblem:
    """One reason a policy is rejected: a stable id, the JSON setting, a sentence."""

    id: str
    field: str
    message: str

    def to_json(self) -> dict[str, str]:
        return {"id": self.id, "field": self.field, "message": self.message}


class InvalidPolicy(ValueError):
    """A policy was rejected; ``problems`` lists every problem found, not just the first."""

    def __init__(self, problems: Iterable[PolicyProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(f"{p.id} {p.field}: {p.message}" for p in self.problems))


class Values(NamedTuple):
    """A policy's settings in ``CorsPolicy`` field order, normalised."""

    origins: tuple[str, ...]
    headers: tuple[str, ...]
    methods: tuple[str, ...]
    max_age: int | None
    allow_credentials: bool
    exposed_headers: tuple[str, ...]


def split_list_setting(text: str) -> list[str]:
    """Entries of a list setting given as one string (a CLI flag, an env variable).

    Commas and whitespace both separate, so ``"a, b c"`` is three entries; an
    empty string is the empty list.
    """
    return [item for item in re.split(r"[\s,]+", text) if item]


def read_json(data: Mapping[str, object]) -> Values:
    """Check and normalise a policy given with the JSON setting names.

    A missing setting takes its default. Raises :class:`InvalidPolicy` listing
    unknown settings, values of the wrong JSON type (``"10"`` is not an
    integer, ``true`` is not a number) and every rule the values break.
    """
    if not isinstance(data, Mapping):
        raise InvalidPolicy([PolicyProblem(WRONG_TYPE, "", "a CORS policy must be a JSON object")])
    problems = [_unknown_setting(key) for key in data if key not in SETTINGS]
    origins = _string_list(data, "origins", (), problems)
    headers = _string_list(data, "headers", (), problems)
    methods = _string_list(data, "methods", (), problems)
    max_age = data.get("maxAge")
    # bool is an int in Python, but `true` is no number of seconds.
    if max_age is not None and (not isinstance(max_age, int) or isinstance(max_age, bool)):
        problems.append(
            PolicyProblem(
                WRONG_TYPE,
                "maxAge",
                f"maxAge must be a whole number of seconds (0 to {MAX_AGE_LIMIT}) or null, "
                f"not {_json_kind(max_age)}",
            )
        )
        max_age = None
    credentials = data.get("allowCredentials", False)
    if not isinstance(credentials, bool):
        problems.append(
            PolicyProblem(
                WRONG_TYPE,
                "allowCredentials",
                f"allowCredentials must be true or false, not {_json_kind(credentials)}",
            )
        )
        credentials = False
    exposed = _string_list(data, "exposedHeaders", DEFAULT_EXPOSED_HEADERS, problems)
    values, more = check(origins, headers, methods, max_age, credentials, exposed)
    problems.extend(more)
    if problems:
        raise InvalidPolicy(problems)
    return values


def check(
    origins: Iterable[str],
    headers: Iterable[str],
    methods: Iterable[str],
    max_age: int | None,
    allow_credentials: bool,
    exposed_headers: Iterable[str],
) -> tuple[Values, list[PolicyProblem]]:
    """Normalise typed values and list every rule they break."""
    problems: list[PolicyProblem] = []
    origins = tuple(origins)
    values = Values(
        _check_origins(origins, problems),
        _check_tokens("headers", tuple(headers), str, problems),
        _check_tokens("methods", tuple(methods), str.upper, problems),
        max_age,
        allow_credentials,
        _check_tokens("exposedHeaders", tuple(exposed_headers), str, problems),
    )
    if max_age is not None and (
        not isinstance(max_age, int)
        or isinstance(max_age, bool)
        or not 0 <= max_age <= MAX_AGE_LIMIT
    ):
        problems.append(
            PolicyProblem(
                BAD_MAX_AGE,
                "maxAge",
                f"maxAge {max_age!r} is out of range; use 0 to {MAX_AGE_LIMIT} seconds, "
                "or leave it unset",
            )
        )
    if not isinstance(allow_credentials, bool):
        problems.append(
            PolicyProblem(WRONG_TYPE, "allowCredentials", "allowCredentials must be true or false")
        )
    elif allow_credentials and ANY in origins:
        problems.append(
            PolicyProblem(
                ANY_WITH_CREDENTIALS,
                "allowCredentials",
                "allowCredentials cannot be true while origins is *: any website could "
                "then make calls with your users' cookies and logins; list the allowed "
                "origins instead",
            )
        )
    return values, problems


def _check_origins(origins: tuple[str, ...], problems: list[PolicyProblem]) -> tuple[str, ...]:
    if _any_alone("origins", origins, problems):
        return (ANY,)
    seen: dict[str, None] = {}
    for origin in origins:
        if origin == ANY:
            continue  # mixed with other entries: reported once already
        parsed = parse_origin(origin)
        if isinstance(parsed, str):
            seen[parsed] = None
        else:
            problems.append(PolicyProblem(parsed.id, "origins", parsed.message))
    return tuple(seen)


def _check_tokens(
    setting: str,
    values: tuple[str, ...],
    normalise: Callable[[str], str],
    problems: list[PolicyProblem],
) -> tuple[str, ...]:
    if setting == "exposedHeaders":
        # A token, but as Expose-Headers it would mean "all" only without
        # credentials; the contract asks for names.
        if ANY in values:
            problems.append(
                PolicyProblem(
                    EXPOSED_ANY,
                    setting,
                    "exposedHeaders cannot be *; list the response headers script may read",
                )
            )
    elif _any_alone(setting, values, problems):
        return (ANY,)
    problem_id, what = (BAD_METHOD, "method") if setting == "methods" else (BAD_HEADER, "header")
    seen: dict[str, str] = {}  # lower-cased -> first spelling given: names are case-insensitive
    for value in values:
        if value == ANY:
            continue
        if not is_token(value):
            problems.append(
                PolicyProblem(
                    problem_id,
                    setting,
                    f"{setting}: {show(value)} is not a valid {what} name; use letters, "
                    "digits and !#$%&'*+-.^_`|~ only, one name per entry",
                )
            )
            continue
        seen.setdefault(value.lower(), normalise(value))
    return tuple(seen.values())


def _any_alone(setting: str, values: tuple[str, ...], problems: list[PolicyProblem]) -> bool:
    """True when ``values`` is ``*`` alone; records a problem when ``*`` is mixed in."""
    if ANY not in values:
        return False
    if any(v != ANY for v in values):
        problems.append(
            PolicyProblem(
                ANY_MIXED,
                setting,
                f"{setting}: * means any and cannot be combined with other entries; "
                "use * alone or list the entries",
            )
        )
        return False
    return True


def _string_list(
    data: Mapping[str, object],
    name: str,
    default: tuple[str, ...],
    problems: list[PolicyProblem],
) -> tuple[str, ...]:
    """The JSON list of strings ``data[name]``; on a type problem, recorded, ()."""
    if name not in data:
        return default
    value = data[name]
    if not isinstance(value, list | tuple):
        problems.append(
            PolicyProblem(
                WRONG_TYPE, name, f"{name} must be a list of strings, not {_json_kind(value)}"
            )
        )
        return ()
    items: list[str] = []
    for i, item in enumerate(value):
        if isinstance(item, str):
            items.append(item)
        else:
            problems.append(
                PolicyProblem(
                    WRONG_TYPE, name, f"{name}[{i}] must be a string, not {_json_kind(item)}"
                )
            )
    return tuple(items)


def _unknown_setting(key: object) -> PolicyProblem:
    text = str(key)
    # TOML and env spell the settings in snake_case; point from there to JSON.
    hint = _BY_ATTRIBUTE.get(text) or next(iter(difflib.get_close_matches(text, SETTINGS, 1)), None)
    suggestion = f"did you mean {hint}? " if hint else ""
    return PolicyProblem(
        UNKNOWN_SETTING,
        text,
        f"unknown setting {show(text)}; {suggestion}the settings are {', '.join(SETTINGS)}",
    )


def _json_kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, str):
        return f"the string {show(value)}"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__
