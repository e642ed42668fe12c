"""token parameters: https://hl7.org/fhir/R4/search.html#token.

``[system]|[code]``, ``|[code]`` (no system), ``[system]|`` (any code of the
system) and ``[code]`` (any system). ``:text`` matches the start of a
Coding's display or a CodeableConcept's / Identifier type's text, the way a
string parameter would; ``:not`` is handled by the planner (no matching row).
Codes are compared exactly (case-sensitive), as the spec asks by default.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from firehouse.search.fhirpath import Typed
from firehouse.search.types.base import BadValue, QueryContext, split_escaped, unescape
from firehouse.search.types.string import normalise
from firehouse.storage.criteria import IndexKind, IndexRow, TokenCond, TokenRow

KIND = IndexKind.TOKEN
MODIFIERS = frozenset({"text", "not"})
_CONTACT_SYSTEMS = frozenset({"phone", "fax", "email", "pager", "url", "sms", "other"})
_MAX = 512


def _text(value: Any) -> str | None:
    return normalise(value)[:_MAX] if isinstance(value, str) and value else None


def _str(value: Any) -> str | None:
    return value[:_MAX] if isinstance(value, str) and value else None


def _coding(value: dict[str, Any]) -> Iterator[tuple[str | None, str | None, str | None]]:
    if value.get("code") is not None or value.get("system") is not None:
        yield _str(value.get("system")), _str(value.get("code")), _text(value.get("display"))


def _tokens(
    type_name: str | None, value: Any
) -> Iterator[tuple[str | None, str | None, str | None]]:
    if isinstance(value, bool):
        yield None, "true" if value else "false", None
    elif isinstance(value, str):
        yield None, _str(value), None
    elif isinstance(value, int):
        yield None, str(value), None
    elif not isinstance(value, dict):
        return
    elif type_name == "CodeableConcept" or (type_name is None and ("coding" in value)):
        for coding in value.get("coding") or ():
            if isinstance(coding, dict):
                yield from _coding(coding)
        if _text(value.get("text")):
            yield None, None, _text(value.get("text"))
    elif type_name == "Coding":
        yield from _coding(value)
    elif type_name == "ContactPoint" or (
        type_name is None and value.get("system") in _CONTACT_SYSTEMS
    ):
        if _str(value.get("value")):
            yield None, _str(value.get("value")), None
    elif type_name == "Identifier" or (type_name is None and "value" in value):
        kind = value.get("type")
        text = _text(kind.get("text")) if isinstance(kind, dict) else None
        yield _str(value.get("system")), _str(value.get("value")), text
    elif type_name is None:
        yield from _coding(value)


def rows(param: str, values: Sequence[Typed], group: int | None = None) -> list[IndexRow]:
    made: list[IndexRow] = []
    seen: set[tuple[str | None, str | None, str | None]] = set()
    for type_name, value in values:
        for token in _tokens(type_name, value):
            if token not in seen and token != (None, None, None):
                seen.add(token)
                made.append(TokenRow(param, *token, group=group))
    return made


def condition(text: str, modifier: str | None, ctx: QueryContext) -> TokenCond:
    if modifier == "text":
        folded = normalise(unescape(text))
        if not folded:
            raise BadValue("an empty :text value")
        return TokenCond(text=folded)
    parts = split_escaped(text, "|")
    if len(parts) == 1:
        code = unescape(parts[0])
        if not code:
            raise BadValue("an empty token")
        return TokenCond(code=code)
    if len(parts) != 2:
        raise BadValue(f"a token is [system]|[code], got {text[:80]!r}")
    system, code = unescape(parts[0]), unescape(parts[1])
    if not system and not code:
        raise BadValue("a token needs a system or a code")
    return TokenCond(code=code or None, system=system or None, match_system=True)
