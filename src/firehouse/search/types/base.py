"""What the parameter-type modules share: the error for a bad value, the query context,
and the escaping rules of https://hl7.org/fhir/R4/search.html#escaping."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from firehouse.search.registry import SearchParam


class BadValue(ValueError):
    """A search value that does not parse; becomes a 400 naming the parameter."""


@dataclass(frozen=True, slots=True)
class QueryContext:
    param: SearchParam
    local_base: str | None = None  # this server's base URL, for absolute references
    now: datetime = datetime(1970, 1, 1, tzinfo=UTC)  # for ``ap`` on dates


def split_escaped(text: str, separator: str) -> list[str]:
    """Split on ``separator`` unless escaped with a backslash; the escapes stay."""
    parts: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            current.append(text[i : i + 2])
            i += 2
            continue
        if ch == separator:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    parts.append("".join(current))
    return parts


def unescape(text: str) -> str:
    r"""``\,`` ``\$`` ``\|`` ``\\`` -> the character itself."""
    if "\\" not in text:
        return text
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text) and text[i + 1] in ",$|\\":
            out.append(text[i + 1])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")


def split_prefix(text: str) -> tuple[str, str]:
    """``ge2020`` -> (``ge``, ``2020``); no prefix means ``eq``."""
    if len(text) > 2 and text[:2] in PREFIXES and not text[2:3].isalpha():
        return text[:2], text[2:]
    return "eq", text
