"""Checks of one primitive value (https://hl7.org/fhir/R4/datatypes.html#primitive).

A value arrives as :func:`firehouse.fhir.json.loads` gives it: ``str``,
``bool``, ``int``, or :class:`JsonDecimal` for a number with a fraction or
exponent. How each type is written in JSON (number, boolean or string) is
https://hl7.org/fhir/R4/json.html#primitive; the lexical rules are the
regexes of the StructureDefinitions, compiled once with the definitions.
"""

from __future__ import annotations

import calendar
import math
import re
from typing import Final

from firehouse.fhir.definitions import PrimitiveType
from firehouse.fhir.json import JsonDecimal

# (issue code, message before the location, message after it): "Invalid date
# '2020-13-45'" + " at Patient.birthDate" + ": no such day".
Problem = tuple[str, str, str]

# https://hl7.org/fhir/R4/datatypes.html#integer: 32-bit signed.
_INT_MIN: Final = -2_147_483_648
_INT_MAX: Final = 2_147_483_647
_INT_RANGES: Final = {
    "integer": (_INT_MIN, _INT_MAX),
    "positiveInt": (1, _INT_MAX),
    "unsignedInt": (0, _INT_MAX),
}
_WHOLE_NUMBER = re.compile(r"-?[0-9]+")

# Strings SHOULD NOT hold characters below U+0020 other than tab, LF and CR
# (https://hl7.org/fhir/R4/datatypes.html#string); such a character is never
# what a client meant, so it is refused in every string-based type.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")

# The spec's base64Binary regex, (\s*([0-9a-zA-Z\+/=]){4}\s*)+, backtracks
# exponentially on runs of whitespace and Attachment.data can be megabytes, so
# it is checked as RFC 4648 base64 with the whitespace removed instead; that
# also keeps '=' to the end, where it belongs.
_BASE64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")
_WHITESPACE = str.maketrans("", "", " \t\n\r")

# Types whose value begins with a calendar date the regexes cannot fully check
# (they accept 2021-02-30).
_DATED: Final = frozenset({"date", "dateTime", "instant"})


def describe(value: object) -> str:
    """The JSON type of a value, as a user would name it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float | JsonDecimal):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return f"a {type(value).__name__}"


def shown(text: str) -> str:
    """A value quoted for a message, cut short if long."""
    return repr(text if len(text) <= 60 else text[:57] + "...")


def check_primitive(value: object, primitive: PrimitiveType) -> Problem | None:
    """What is wrong with a (non-null) primitive value, or None."""
    kind = primitive.json
    if kind == "string":
        return _check_string(value, primitive)
    if kind == "boolean":
        if isinstance(value, bool):
            return None
        return "structure", "Expected true or false (boolean)", f", got {describe(value)}"
    if kind == "integer":
        return _check_integer(value, primitive.name)
    return _check_decimal(value, primitive)


def _check_string(value: object, primitive: PrimitiveType) -> Problem | None:
    name = primitive.name
    if not isinstance(value, str):
        return "structure", f"Expected a string ({name})", f", got {describe(value)}"
    if not value:
        # https://hl7.org/fhir/R4/json.html: empty values are not allowed.
        return "value", "Empty string", "; leave the element out instead"
    control = _CONTROL.search(value)
    if control is not None:
        code = f"U+{ord(control.group()):04X}"
        return "value", f"Invalid {name} {shown(value)}", f": contains the control character {code}"
    if name == "base64Binary":
        if _BASE64.fullmatch(value.translate(_WHITESPACE)) is None:
            return "value", f"Invalid base64Binary {shown(value)}", ""
        return None
    if primitive.pattern is not None and primitive.pattern.fullmatch(value) is None:
        return "value", f"Invalid {name} {shown(value)}", ""
    if name in _DATED and len(value) >= 10 and not _is_calendar_date(value):
        return "value", f"Invalid {name} {shown(value)}", ": no such day"
    return None


def _is_calendar_date(value: str) -> bool:
    # The pattern has already checked the digits: YYYY-MM-DD...
    year, month, day = int(value[0:4]), int(value[5:7]), int(value[8:10])
    return day <= calendar.monthrange(year, month)[1]


def _check_integer(value: object, name: str) -> Problem | None:
    if isinstance(value, bool):
        return "structure", f"Expected a number ({name})", ", got a boolean"
    if isinstance(value, int):
        low, high = _INT_RANGES[name]
        if low <= value <= high:
            return None
        return "value", f"Invalid {name} {value}", f": must be between {low} and {high}"
    if isinstance(value, JsonDecimal | float):
        text = value.text if isinstance(value, JsonDecimal) else repr(value)
        if _WHOLE_NUMBER.fullmatch(text):  # too long for 64 bits, so kept as text
            low, high = _INT_RANGES[name]
            return "value", f"Invalid {name} {text}", f": must be between {low} and {high}"
        return "value", f"Invalid {name} {shown(text)}", ": must be a whole number"
    return "structure", f"Expected a number ({name})", f", got {describe(value)}"


def _check_decimal(value: object, primitive: PrimitiveType) -> Problem | None:
    if isinstance(value, bool):
        return "structure", "Expected a number (decimal)", ", got a boolean"
    if isinstance(value, int):
        return None
    if isinstance(value, JsonDecimal):
        # Always true for what the JSON parser made; a JsonDecimal built by
        # hand could hold anything.
        if primitive.pattern is None or primitive.pattern.fullmatch(value.text):
            return None
        return "value", f"Invalid decimal {shown(value.text)}", ""
    if isinstance(value, float):
        return None if math.isfinite(value) else ("value", f"Invalid decimal {value!r}", "")
    return "structure", "Expected a number (decimal)", f", got {describe(value)}"
