"""The grammar of the values a CORS policy and a CORS request carry.

Two kinds of text reach this module: what an operator configures (where a bad
value deserves a precise message) and what a client sends (where a bad value is
refused silently and never echoed). Both go through :func:`parse_origin`, so
"normalised the same way" in ``shared/spec/cors.md`` holds by construction.

- Origins: ``http(s)://host[:port]`` as ``shared/spec/cors.md`` restricts them, a
  subset of the serialisation browsers send
  (https://html.spec.whatwg.org/multipage/browsers.html#ascii-serialisation-of-an-origin).
- Header names and methods: RFC 9110 tokens
  (https://www.rfc-editor.org/rfc/rfc9110#name-tokens).
- Header lists: RFC 9110 comma lists, as in ``Access-Control-Request-Headers``
  (https://fetch.spec.whatwg.org/#http-requests).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

# tchar, spelled out: \w and \d would also match non-ASCII letters and digits.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_HOST = re.compile(r"[a-z0-9-]+(?:\.[a-z0-9-]+)*")
_PORT = re.compile(r"[0-9]{1,5}")
_DEFAULT_PORTS = {"http": "80", "https": "443"}

# "https://" + a 253-character DNS name + ":65535" is 268 characters; anything
# longer cannot be an origin, and refusing it early keeps the cache small.
MAX_ORIGIN_LENGTH = 300

# Stable problem ids for origins, shared with policy validation.
ORIGIN_MALFORMED = "cors.E005"
ORIGIN_SCHEME = "cors.E006"
ORIGIN_PATH = "cors.E007"
ORIGIN_WILDCARD = "cors.E008"
ORIGIN_NULL = "cors.E009"
ORIGIN_USERINFO = "cors.E010"
ORIGIN_PORT = "cors.E011"


@dataclass(frozen=True, slots=True)
class OriginError:
    """Why a text is not an origin: a problem id and a sentence naming the value."""

    id: str
    message: str


def show(value: str, limit: int = 80) -> str:
    """Quote ``value`` for a message; control characters escaped, long values cut."""
    shown = value if len(value) <= limit else value[:limit] + "..."
    if shown.isprintable():
        return f'"{shown}"'
    return repr(shown)


def is_token(text: str) -> bool:
    """True when ``text`` is an RFC 9110 token (a header name or a method)."""
    return _TOKEN.fullmatch(text) is not None


def parse_origin(text: str) -> str | OriginError:
    """Normalise ``text`` to ``scheme://host[:port]`` or say why it is not one.

    Scheme and host are lower-cased and the scheme's default port dropped, so
    ``HTTPS://App.Example.com:443`` becomes ``https://app.example.com``.
    """
    err = _reject_early(text)
    if err is not None:
        return err
    scheme, sep, rest = text.partition("://")
    if not sep:
        return OriginError(
            ORIGIN_MALFORMED,
            f"origin {show(text)} has no scheme; write it as https://host or http://host",
        )
    scheme = scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        return OriginError(ORIGIN_SCHEME, f"origin {show(text)} must use the http or https scheme")
    authority, end = _split_authority(rest)
    if end:
        what = "a trailing slash" if end == "/" else "a path, query or fragment"
        return OriginError(
            ORIGIN_PATH,
            f"origin {show(text)} has {what}; an origin is only scheme://host[:port]",
        )
    if "@" in authority:
        return OriginError(ORIGIN_USERINFO, f"origin {show(text)} contains a user name or password")
    if "*" in authority:
        return OriginError(
            ORIGIN_WILDCARD,
            f"origin {show(text)} uses a wildcard; list every origin exactly "
            "(or use * alone to allow any origin)",
        )
    if "[" in authority:
        return OriginError(
            ORIGIN_MALFORMED,
            f"origin {show(text)} uses an IP v6 literal; use a host name instead",
        )
    host, colon, port = authority.partition(":")
    host = host.lower()
    if _HOST.fullmatch(host) is None:
        return OriginError(
            ORIGIN_MALFORMED,
            f"origin {show(text)} has an invalid host; a host is letters, digits, hyphens and dots",
        )
    if colon:
        if _PORT.fullmatch(port) is None or not 1 <= int(port) <= 65535:
            return OriginError(
                ORIGIN_PORT, f"origin {show(text)} has an invalid port; use 1 to 65535"
            )
        port = str(int(port))  # browsers never send leading zeros
        if port != _DEFAULT_PORTS[scheme]:
            return f"{scheme}://{host}:{port}"
    return f"{scheme}://{host}"


def _reject_early(text: str) -> OriginError | None:
    if not text:
        return OriginError(ORIGIN_MALFORMED, "an origin is empty")
    if len(text) > MAX_ORIGIN_LENGTH:
        return OriginError(ORIGIN_MALFORMED, f"origin {show(text)} is too long to be an origin")
    # Checked before any lower-casing: "\u212a".lower() is an ASCII "k", which
    # would let a look-alike host through.
    if not text.isascii():
        return OriginError(
            ORIGIN_MALFORMED,
            f"origin {show(text)} contains non-ASCII characters; write an "
            "international host in its punycode (xn--) form",
        )
    if not text.isprintable() or " " in text:
        return OriginError(
            ORIGIN_MALFORMED, f"origin {show(text)} contains spaces or control characters"
        )
    if text == "null":
        return OriginError(
            ORIGIN_NULL,
            'origin "null" cannot be listed: sandboxed frames, file pages and '
            "redirects all send it, so it would open the API to all of them",
        )
    return None


def _split_authority(rest: str) -> tuple[str, str]:
    """Split ``host:port/rest`` into the authority and whatever follows it."""
    for i, char in enumerate(rest):
        if char in "/?#":
            return rest[:i], rest[i:]
    return rest, ""


@lru_cache(maxsize=1024)
def _normalise_cached(text: str) -> str | None:
    parsed = parse_origin(text)
    return parsed if isinstance(parsed, str) else None


def normalise_origin(text: str) -> str | None:
    """A request's ``Origin`` normalised for matching, or None when it is not one.

    Cached because the same few origins arrive on every request; too-long input
    is refused before the cache so hostile values cannot bloat it.
    """
    if len(text) > MAX_ORIGIN_LENGTH:
        return None
    return _normalise_cached(text)


def parse_token_list(text: str) -> tuple[str, ...] | None:
    """Lower-cased, de-duplicated tokens of a comma list; None if any is not a token.

    Empty elements and optional whitespace are allowed, as RFC 9110 section 5.6.1
    says a recipient must accept them.
    """
    seen: dict[str, None] = {}
    for item in text.split(","):
        name = item.strip(" \t")
        if not name:
            continue
        if _TOKEN.fullmatch(name) is None:
            return None
        seen[name.lower()] = None
    return tuple(seen)
